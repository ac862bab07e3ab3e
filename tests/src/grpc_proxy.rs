//! A real `etcd grpc-proxy` in front of a test cluster.
//!
//! Large fleets put etcd's own gRPC proxy between the instances and the
//! cluster: it coalesces identical watches (one watch on etcd, fanned out
//! by the proxy) and caches serializable reads. It is not a transparent
//! pipe: etcd 3.4's proxy, for one, does not answer a watch stream's
//! progress requests. So the store is tested through the real one, which
//! Debian's etcd binary carries (`etcd grpc-proxy start`). The process is
//! killed and reaped on drop (and by [`GrpcProxy::stop`]); it can be started
//! again on the same port.

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use etcd_client::Client;
use tempfile::TempDir;

use crate::etcd::find_etcd_binary;
use crate::ports::free_ports;

/// One `etcd grpc-proxy start` process on a free loopback port.
#[derive(Debug)]
pub struct GrpcProxy {
    // Field order matters: the process is killed before the directory goes.
    child: Option<Child>,
    backends: Vec<String>,
    port: u16,
    metrics_port: u16,
    log_path: PathBuf,
    dir: TempDir,
}

impl GrpcProxy {
    /// Starts a proxy for the cluster at `endpoints` (client URLs) and waits,
    /// bounded, until it serves a read.
    pub async fn start(endpoints: &[String]) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("directive-grpc-proxy-")
            .tempdir()
            .context("create grpc-proxy temp dir")?;
        let ports = free_ports(2).context("probe free ports")?;
        let mut proxy = GrpcProxy {
            child: None,
            backends: endpoints
                .iter()
                .map(|e| e.trim_start_matches("http://").to_owned())
                .collect(),
            port: ports[0],
            metrics_port: ports[1],
            log_path: dir.path().join("grpc-proxy.log"),
            dir,
        };
        proxy.restart().await?;
        Ok(proxy)
    }

    /// The client URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The proxy's own `/metrics` URL (its RSS, its watchers).
    pub fn metrics_url(&self) -> String {
        format!("http://127.0.0.1:{}/metrics", self.metrics_port)
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILLs the proxy and reaps it: every connection through it breaks.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the proxy (again) on the same port and waits until it serves.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .with_context(|| format!("open {}", self.log_path.display()))?;
        let log_err = log.try_clone().context("clone the log handle")?;
        let mut cmd = Command::new(find_etcd_binary()?);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                cmd.env_remove(key);
            }
        }
        cmd.args(["grpc-proxy", "start"])
            .arg(format!("--endpoints={}", self.backends.join(",")))
            .arg(format!("--listen-addr=127.0.0.1:{}", self.port))
            .arg(format!("--advertise-client-url=127.0.0.1:{}", self.port))
            .arg(format!(
                "--metrics-addr=http://127.0.0.1:{}",
                self.metrics_port
            ))
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        self.child = Some(cmd.spawn().context("spawn etcd grpc-proxy")?);
        self.wait_ready(Duration::from_secs(15)).await
    }

    async fn wait_ready(&mut self, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                bail!("grpc-proxy exited ({status}): {}", self.log_tail(20));
            }
            let ready = async {
                let mut client = Client::connect([self.endpoint()], None).await?;
                client.get("__directive_harness_ready_probe__", None).await
            };
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), ready).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "grpc-proxy not serving after {within:?}: {}",
                    self.log_tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The last `lines` lines of the proxy's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        match std::fs::read_to_string(&self.log_path) {
            Ok(text) => {
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(e) => format!("<cannot read {}: {e}>", self.log_path.display()),
        }
    }
}

impl Drop for GrpcProxy {
    fn drop(&mut self) {
        self.stop();
    }
}
