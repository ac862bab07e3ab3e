//! A private single-member etcd for `directivectl demo`.
//!
//! The demo must run with one command on a fresh machine and leave nothing
//! behind, so it starts Debian's `etcd` (package `etcd-server`) itself: free
//! loopback ports, a temporary data directory, output to a log file there,
//! and the process killed and reaped when the handle is stopped or dropped.
//! (The test harness in `tests/` does the same for tests; it is a
//! dev-dependency, so the demo has its own small launcher.)
//!
//! Auth is on (ADR 0010): any local process can reach a loopback port, and
//! one that could write the key unauthenticated would bypass the admin
//! token. The launcher creates etcd's `root` user with a random password,
//! writes the password to a file only the current user can read (inside
//! the private data directory), and enables auth; the demo's own clients
//! read it from there. It is never printed.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Where Debian's `etcd-server` package installs the server.
pub const DEFAULT_ETCD_BIN: &str = "/usr/bin/etcd";
/// Overrides the etcd binary's path.
pub const ETCD_BIN_ENV: &str = "DIRECTIVE_ETCD_BIN";

/// How long etcd gets to start serving.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Attempts when another process takes a probed port first.
const ATTEMPTS: usize = 3;

/// Why the embedded etcd did not start.
#[derive(Debug, thiserror::Error)]
pub enum EtcdLaunchError {
    /// No etcd binary.
    #[error(
        "etcd not found ({DEFAULT_ETCD_BIN}, ${ETCD_BIN_ENV} or `etcd` on PATH): install the \
         Debian package `etcd-server` (apt-get install -y etcd-server), or pass --endpoints"
    )]
    NotInstalled,
    /// Setting up its directory, ports or process failed.
    #[error("cannot start etcd: {0}")]
    Io(#[from] io::Error),
    /// It exited or did not serve in time.
    #[error("etcd did not start: {0}")]
    NotServing(String),
}

/// The etcd user the demo's clients authenticate as.
pub const USER: &str = "root";

/// A running private etcd; killed and reaped on [`EmbeddedEtcd::stop`] or drop.
#[derive(Debug)]
pub struct EmbeddedEtcd {
    child: Option<Child>,
    client_url: String,
    dir: TempDir,
}

impl EmbeddedEtcd {
    /// Starts etcd, waits until it answers a read, and turns auth on with
    /// `password` for [`USER`] (kept in [`Self::password_file`]).
    pub async fn start(password: &str) -> Result<Self, EtcdLaunchError> {
        let binary = find_binary().ok_or(EtcdLaunchError::NotInstalled)?;
        let mut last = String::new();
        for _ in 0..ATTEMPTS {
            let mut etcd = Self::spawn(&binary)?;
            match etcd.wait_serving().await {
                Ok(()) => {
                    etcd.enable_auth(password).await?;
                    return Ok(etcd);
                }
                Err(e) => last = e,
            }
            etcd.stop();
        }
        Err(EtcdLaunchError::NotServing(last))
    }

    /// Writes the password file (owner-only), creates [`USER`] with the
    /// root role, and enables auth.
    async fn enable_auth(&mut self, password: &str) -> Result<(), EtcdLaunchError> {
        write_private(&self.password_file(), password)?;
        let failed =
            |step: &str, e: etcd_client::Error| EtcdLaunchError::NotServing(format!("{step}: {e}"));
        let mut client = etcd_client::Client::connect([self.client_url.as_str()], None)
            .await
            .map_err(|e| failed("connect", e))?;
        client
            .user_add(USER, password, None)
            .await
            .map_err(|e| failed("add the root user", e))?;
        client
            .user_grant_role(USER, "root")
            .await
            .map_err(|e| failed("grant the root role", e))?;
        client
            .auth_enable()
            .await
            .map_err(|e| failed("enable auth", e))?;
        Ok(())
    }

    /// The file holding [`USER`]'s password (mode 0600, in the data directory).
    pub fn password_file(&self) -> PathBuf {
        self.dir.path().join("root-password")
    }

    fn spawn(binary: &Path) -> Result<Self, EtcdLaunchError> {
        let dir = tempfile::Builder::new()
            .prefix("directivectl-demo-etcd-")
            .tempdir()?;
        let (client_port, peer_port) = (free_port()?, free_port()?);
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let log = File::create(dir.path().join("etcd.log"))?;
        let mut command = Command::new(binary);
        // etcd reads ETCD_* variables as flags; the caller's must not leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(key);
            }
        }
        command
            .arg("--name")
            .arg("demo")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(format!("demo={peer_url}"))
            .arg("--initial-cluster-state")
            .arg("new")
            .arg("--logger")
            .arg("zap")
            .arg("--log-outputs")
            .arg("stderr")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = command.spawn()?;
        Ok(EmbeddedEtcd {
            child: Some(child),
            client_url,
            dir,
        })
    }

    async fn wait_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("exited with {status}; {}", self.log_tail()));
                }
            }
            let options = etcd_client::ConnectOptions::new()
                .with_connect_timeout(Duration::from_millis(500))
                .with_timeout(Duration::from_millis(500));
            if let Ok(mut client) =
                etcd_client::Client::connect([self.client_url.as_str()], Some(options)).await
            {
                if client
                    .get("__directivectl_demo_probe__", None)
                    .await
                    .is_ok()
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not serving after {START_TIMEOUT:?}; {}",
                    self.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn client_url(&self) -> &str {
        &self.client_url
    }

    /// The data and log directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        format!(
            "last log lines: {}",
            lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )
    }

    /// Kills etcd and waits for it to exit. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for EmbeddedEtcd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Creates `path` readable and writable by the current user only, holding
/// `text`.
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// `$DIRECTIVE_ETCD_BIN`, `/usr/bin/etcd`, then `etcd` on `PATH`.
pub fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(ETCD_BIN_ENV) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let default = PathBuf::from(DEFAULT_ETCD_BIN);
    if default.is_file() {
        return Some(default);
    }
    let path_var: OsString = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var)
        .map(|dir| dir.join("etcd"))
        .find(|candidate| candidate.is_file())
}

/// A port that was free a moment ago (a race with other processes is
/// handled by retrying the start).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
