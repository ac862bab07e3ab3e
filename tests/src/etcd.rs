//! Real etcd processes for integration tests.
//!
//! The control plane's behaviour depends on etcd details that a fake would get
//! wrong (watch revisions, compaction, leader loss, auth tokens, TLS), so the
//! integration tests run Debian's real `etcd` binary. This module starts one or
//! more members on free loopback ports with throw-away data directories,
//! waits (bounded, by polling with a real client) until they serve
//! linearizable reads, and can kill and restart members to inject failures.
//! Every process is killed and reaped on drop and the temporary directory is
//! removed with it.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, ensure, Context as _};
use etcd_client::{Client, CompactionOptions, ConnectOptions, Permission};
use tempfile::TempDir;

use crate::ports::free_ports;
use crate::tls::{TlsMaterial, TlsPaths};

/// Where Debian's `etcd-server` package installs the server binary.
pub const DEFAULT_ETCD_BIN: &str = "/usr/bin/etcd";

/// Environment variable that overrides the etcd binary path.
pub const ETCD_BIN_ENV: &str = "DIRECTIVE_ETCD_BIN";

/// How many times [`EtcdCluster::start_with`] retries when another process
/// took one of the probed ports before etcd could bind it.
const START_ATTEMPTS: usize = 4;

/// Name of the role that a non-root auth user is granted (read-write on all keys).
const RW_ROLE: &str = "directive-test-rw";

/// Key read by the readiness probe (it never needs to exist).
const PROBE_KEY: &str = "__directive_harness_ready_probe__";

static CLUSTER_COUNTER: AtomicU64 = AtomicU64::new(0);

/// How to start an etcd cluster.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    /// Serve clients over TLS with this material (`https://` client URLs).
    /// Peer traffic stays plain HTTP on loopback.
    pub tls: Option<TlsMaterial>,
    /// Enable etcd authentication with this `(user, password)` after start.
    ///
    /// A `root` user with the same password is always created (etcd requires
    /// it before `auth enable`); a non-root user gets read-write access to all
    /// keys through a dedicated role.
    pub auth: Option<(String, String)>,
    /// `--heartbeat-interval` in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// `--election-timeout` in milliseconds.
    pub election_timeout_ms: u64,
    /// Upper bound for a member to start serving (per member, per start).
    pub ready_timeout: Duration,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        Self {
            tls: None,
            auth: None,
            heartbeat_interval_ms: 50,
            election_timeout_ms: 400,
            ready_timeout: Duration::from_secs(15),
        }
    }
}

/// One etcd member: its ports, directories and (while running) its process.
///
/// The process is killed with SIGKILL and reaped when the value is dropped.
#[derive(Debug)]
pub struct EtcdServer {
    name: String,
    scheme: &'static str,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
}

impl EtcdServer {
    /// The member name (`--name`), e.g. `m0`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client URL, `http://127.0.0.1:PORT` (or `https://` with TLS).
    pub fn client_url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.client_port)
    }

    /// The peer URL, `http://127.0.0.1:PORT`.
    pub fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The member's data directory (`--data-dir`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The file etcd's stdout and stderr go to (appended across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The process id while the member runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is running (reaps it if it exited).
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut().map(Child::try_wait) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.child = None;
                false
            }
            None => false,
        }
    }

    /// The last `lines` lines of etcd's log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        match fs::read_to_string(&self.log_path) {
            Ok(text) => {
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(e) => format!("<cannot read {}: {e}>", self.log_path.display()),
        }
    }

    /// SIGKILLs the process and waits for it (no zombie). No-op when stopped.
    fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            // kill() fails with InvalidInput if the child already exited;
            // wait() reaps it either way.
            let _ = child.kill();
            child.wait()?;
        }
        Ok(())
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A cluster of 1..n etcd members on loopback, with its temporary directory.
///
/// ```no_run
/// # async fn demo() -> anyhow::Result<()> {
/// let cluster = directive_tests::EtcdCluster::start(1).await?;
/// let mut client = cluster.client().await?;
/// client.put("k", "v", None).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct EtcdCluster {
    // Field order matters: members are dropped (killed) before the directory.
    members: Vec<EtcdServer>,
    options: EtcdOptions,
    tls_paths: Option<TlsPaths>,
    auth_enabled: bool,
    binary: PathBuf,
    initial_cluster: String,
    token: String,
    dir: TempDir,
}

impl EtcdCluster {
    /// Starts an `n`-member cluster (typically 1 or 3) with default options
    /// and waits until every member serves.
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        Self::start_with(n, EtcdOptions::default()).await
    }

    /// Starts an `n`-member cluster with `options`, waits until every member
    /// serves, then enables auth if requested.
    ///
    /// Retries with fresh ports when etcd lost a port to another process.
    pub async fn start_with(n: usize, options: EtcdOptions) -> anyhow::Result<Self> {
        ensure!(n >= 1, "an etcd cluster needs at least one member");
        let binary = find_etcd_binary()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut cluster = Self::spawn_all(n, options.clone(), binary.clone())?;
            match cluster.wait_all_ready().await {
                Ok(()) => {
                    cluster.enable_auth().await?;
                    return Ok(cluster);
                }
                Err(e) if attempt < START_ATTEMPTS && cluster.lost_port_race() => {
                    drop(e);
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn spawn_all(n: usize, options: EtcdOptions, binary: PathBuf) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("directive-etcd-")
            .tempdir()
            .context("create etcd temp dir")?;
        let tls_paths = match &options.tls {
            Some(material) => Some(material.write_to(dir.path())?),
            None => None,
        };
        let scheme = if options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let ports = free_ports(2 * n).context("probe free ports")?;
        let members: Vec<EtcdServer> = (0..n)
            .map(|i| {
                let name = format!("m{i}");
                EtcdServer {
                    data_dir: dir.path().join(format!("{name}.etcd")),
                    log_path: dir.path().join(format!("{name}.log")),
                    name,
                    scheme,
                    client_port: ports[2 * i],
                    peer_port: ports[2 * i + 1],
                    child: None,
                }
            })
            .collect();
        let initial_cluster = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let token = format!(
            "directive-test-{}-{}-{nanos}",
            std::process::id(),
            CLUSTER_COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut cluster = Self {
            members,
            options,
            tls_paths,
            auth_enabled: false,
            binary,
            initial_cluster,
            token,
            dir,
        };
        for i in 0..n {
            cluster.spawn_member(i, "new")?;
        }
        Ok(cluster)
    }

    fn spawn_member(&mut self, i: usize, state: &str) -> anyhow::Result<()> {
        let m = &self.members[i];
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log_path)
            .with_context(|| format!("open etcd log {}", m.log_path.display()))?;
        let log_err = log.try_clone().context("clone etcd log handle")?;
        let mut cmd = Command::new(&self.binary);
        // etcd reads ETCD_* variables as flags; don't let the caller's leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                cmd.env_remove(key);
            }
        }
        let client_url = m.client_url();
        let peer_url = m.peer_url();
        cmd.arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&m.data_dir)
            .arg("--listen-client-urls")
            .arg(&client_url)
            .arg("--advertise-client-urls")
            .arg(&client_url)
            .arg("--listen-peer-urls")
            .arg(&peer_url)
            .arg("--initial-advertise-peer-urls")
            .arg(&peer_url)
            .arg("--initial-cluster")
            .arg(&self.initial_cluster)
            .arg("--initial-cluster-state")
            .arg(state)
            .arg("--initial-cluster-token")
            .arg(&self.token)
            .arg("--heartbeat-interval")
            .arg(self.options.heartbeat_interval_ms.to_string())
            .arg("--election-timeout")
            .arg(self.options.election_timeout_ms.to_string())
            .arg("--logger")
            .arg("zap")
            .arg("--log-outputs")
            .arg("stderr");
        if let Some(paths) = &self.tls_paths {
            cmd.arg("--cert-file")
                .arg(&paths.server_cert)
                .arg("--key-file")
                .arg(&paths.server_key)
                .arg("--trusted-ca-file")
                .arg(&paths.ca_cert);
            if self
                .options
                .tls
                .as_ref()
                .is_some_and(|t| t.client_cert_auth)
            {
                cmd.arg("--client-cert-auth");
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err));
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", self.binary.display()))?;
        self.members[i].child = Some(child);
        Ok(())
    }

    fn lost_port_race(&self) -> bool {
        self.members.iter().any(|m| {
            fs::read_to_string(&m.log_path).is_ok_and(|t| t.contains("address already in use"))
        })
    }

    async fn wait_all_ready(&mut self) -> anyhow::Result<()> {
        for i in 0..self.members.len() {
            self.wait_ready(i).await?;
        }
        Ok(())
    }

    /// Polls member `i` with a linearizable read until it answers, its
    /// process exits, or `ready_timeout` passes.
    async fn wait_ready(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.options.ready_timeout;
        let url = self.members[i].client_url();
        let mut last_err = anyhow!("no attempt made");
        loop {
            if !self.members[i].is_running() {
                bail!(
                    "etcd member {} ({url}) exited before it served; last lines of {}:\n{}",
                    self.members[i].name,
                    self.members[i].log_path.display(),
                    self.members[i].log_tail(30)
                );
            }
            let opts = self
                .connect_options()
                .with_connect_timeout(Duration::from_millis(500))
                .with_timeout(Duration::from_secs(2));
            match probe(&url, opts).await {
                Ok(()) => return Ok(()),
                Err(e) => last_err = e,
            }
            if Instant::now() >= deadline {
                bail!(
                    "etcd member {} ({url}) not serving after {:?} (last error: {last_err:#}); \
                     last lines of {}:\n{}",
                    self.members[i].name,
                    self.options.ready_timeout,
                    self.members[i].log_path.display(),
                    self.members[i].log_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn enable_auth(&mut self) -> anyhow::Result<()> {
        let Some((user, password)) = self.options.auth.clone() else {
            return Ok(());
        };
        let mut c = self.client().await.context("connect to enable auth")?;
        c.user_add("root", password.as_str(), None)
            .await
            .context("add root user")?;
        c.user_grant_role("root", "root")
            .await
            .context("grant root role")?;
        if user != "root" {
            c.user_add(user.as_str(), password.as_str(), None)
                .await
                .with_context(|| format!("add user {user}"))?;
            c.role_add(RW_ROLE).await.context("add read-write role")?;
            c.role_grant_permission(RW_ROLE, Permission::read_write("").with_all_keys())
                .await
                .context("grant read-write on all keys")?;
            c.user_grant_role(user.as_str(), RW_ROLE)
                .await
                .with_context(|| format!("grant role to {user}"))?;
        }
        c.auth_enable().await.context("auth enable")?;
        self.auth_enabled = true;
        Ok(())
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Always false: a cluster has at least one member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Client URLs of all members (running or not), e.g. `http://127.0.0.1:PORT`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(EtcdServer::client_url).collect()
    }

    /// Client URLs of the members whose process is running.
    pub fn running_endpoints(&mut self) -> Vec<String> {
        self.members
            .iter_mut()
            .filter_map(|m| m.is_running().then(|| m.client_url()))
            .collect()
    }

    /// Client URL of member `i`.
    ///
    /// # Panics
    /// If `i` is out of range.
    pub fn member_endpoint(&self, i: usize) -> String {
        self.members[i].client_url()
    }

    /// Member `i` (ports, paths, pid, log).
    ///
    /// # Panics
    /// If `i` is out of range.
    pub fn member(&self, i: usize) -> &EtcdServer {
        &self.members[i]
    }

    /// Kills member `i` with SIGKILL and waits for it to exit. Its ports and
    /// data dir are kept for [`Self::restart_member`]. No-op if stopped.
    pub fn stop_member(&mut self, i: usize) -> anyhow::Result<()> {
        ensure!(i < self.members.len(), "no etcd member {i}");
        self.members[i]
            .kill()
            .with_context(|| format!("kill etcd member {i}"))
    }

    /// Restarts member `i` on the same ports and data dir
    /// (`--initial-cluster-state existing`) and waits until it serves a
    /// linearizable read, i.e. it has caught up with the leader's commit index.
    /// A running member is killed first.
    pub async fn restart_member(&mut self, i: usize) -> anyhow::Result<()> {
        self.stop_member(i)?;
        self.spawn_member(i, "existing")?;
        self.wait_ready(i).await
    }

    /// Index of the current leader: a running member that every answering
    /// running member reports as leader. Polls (bounded by `ready_timeout`)
    /// through elections.
    pub async fn leader(&mut self) -> anyhow::Result<usize> {
        let deadline = Instant::now() + self.options.ready_timeout;
        loop {
            // (member index, its raft id, the leader id it reports)
            let mut views = Vec::new();
            for i in 0..self.members.len() {
                if !self.members[i].is_running() {
                    continue;
                }
                let opts = self
                    .connect_options()
                    .with_connect_timeout(Duration::from_millis(500))
                    .with_timeout(Duration::from_secs(1));
                if let Ok(view) = member_status(&self.members[i].client_url(), opts).await {
                    views.push((i, view.0, view.1));
                }
            }
            if let Some(&(_, _, leader_id)) = views.first() {
                let agreed = leader_id != 0 && views.iter().all(|v| v.2 == leader_id);
                if let Some(&(index, _, _)) = views.iter().find(|v| v.1 == leader_id) {
                    if agreed {
                        return Ok(index);
                    }
                }
            }
            if Instant::now() >= deadline {
                bail!(
                    "no agreed etcd leader after {:?}; (member, id, leader) views: {views:?}",
                    self.options.ready_timeout
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Compacts the key-value history up to `revision` (physically, so the
    /// compaction is complete when this returns).
    pub async fn compact(&self, revision: i64) -> anyhow::Result<()> {
        let mut c = self.client().await?;
        c.compact(revision, Some(CompactionOptions::new().with_physical()))
            .await
            .with_context(|| format!("compact to revision {revision}"))?;
        Ok(())
    }

    /// Connect options matching this cluster: TLS (CA + client certificate)
    /// when enabled, credentials once auth is enabled, a 2 s connect timeout
    /// and a 5 s per-request timeout.
    pub fn connect_options(&self) -> ConnectOptions {
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(5));
        if let Some(tls) = &self.options.tls {
            opts = opts.with_tls(tls.client_tls_options());
        }
        if let (true, Some((user, password))) = (self.auth_enabled, &self.options.auth) {
            opts = opts.with_user(user.as_str(), password.as_str());
        }
        opts
    }

    /// A client connected to all members' endpoints with
    /// [`Self::connect_options`].
    pub async fn client(&self) -> anyhow::Result<Client> {
        self.client_for(&self.endpoints()).await
    }

    /// A client for arbitrary `endpoints` (e.g. a subset of members or a
    /// [`crate::FaultProxy`]) with [`Self::connect_options`].
    pub async fn client_for<S: AsRef<str>>(&self, endpoints: &[S]) -> anyhow::Result<Client> {
        Client::connect(endpoints, Some(self.connect_options()))
            .await
            .context("connect etcd client")
    }

    /// Paths of the generated CA, server and client PEM files (TLS only).
    pub fn tls_paths(&self) -> Option<&TlsPaths> {
        self.tls_paths.as_ref()
    }

    /// The TLS material the cluster serves with (TLS only).
    pub fn tls(&self) -> Option<&TlsMaterial> {
        self.options.tls.as_ref()
    }

    /// The cluster's temporary directory (data dirs, logs, certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

async fn probe(url: &str, opts: ConnectOptions) -> anyhow::Result<()> {
    let mut client = Client::connect([url], Some(opts)).await?;
    client.get(PROBE_KEY, None).await?;
    Ok(())
}

/// Returns `(member id, leader id)` as member `url` sees it.
async fn member_status(url: &str, opts: ConnectOptions) -> anyhow::Result<(u64, u64)> {
    let mut client = Client::connect([url], Some(opts)).await?;
    let status = client.status().await?;
    let id = status
        .header()
        .context("status response without header")?
        .member_id();
    Ok((id, status.leader()))
}

/// Locates the etcd binary: `$DIRECTIVE_ETCD_BIN`, `/usr/bin/etcd`, then `etcd`
/// on `PATH`.
pub fn find_etcd_binary() -> anyhow::Result<PathBuf> {
    locate_etcd(
        std::env::var_os(ETCD_BIN_ENV),
        Path::new(DEFAULT_ETCD_BIN),
        std::env::var_os("PATH"),
    )
}

fn locate_etcd(
    override_path: Option<OsString>,
    default: &Path,
    path_var: Option<OsString>,
) -> anyhow::Result<PathBuf> {
    if let Some(path) = override_path {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "{ETCD_BIN_ENV}={} is not a file",
            path.display()
        );
        return Ok(path);
    }
    if default.is_file() {
        return Ok(default.to_path_buf());
    }
    if let Some(path_var) = path_var {
        for dir in std::env::split_paths(&path_var) {
            let candidate = dir.join("etcd");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "etcd binary not found ({} or `etcd` on PATH): install the Debian package \
         `etcd-server` (scripts/setup.sh does: apt-get install -y etcd-server etcd-client)",
        default.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_names_the_debian_package() {
        let err = locate_etcd(None, Path::new("/nonexistent/etcd"), Some(OsString::new()))
            .expect_err("no etcd should be found");
        let msg = err.to_string();
        assert!(msg.contains("etcd-server"), "{msg}");
        assert!(msg.contains("scripts/setup.sh"), "{msg}");
    }
}
