//! An in-process TCP proxy that injects network faults between a client and
//! etcd.
//!
//! Killing etcd only tests "connection refused". Real partitions look
//! different: the TCP connection stays open and simply goes silent (no FIN, no
//! RST), which is exactly the case where a watch client hangs forever unless it
//! has keepalives or timeouts. [`FaultProxy`] sits on a loopback port in front
//! of one target and can be switched at runtime between forwarding
//! ([`FaultProxy::pass`]), silently dropping all progress
//! ([`FaultProxy::blackhole`]), forwarding with a fixed delay per chunk
//! ([`FaultProxy::delay`]) and closing every current connection
//! ([`FaultProxy::cut`]).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward bytes both ways; new connections are connected upstream.
    Pass,
    /// Partition: existing connections stay open but no byte moves in either
    /// direction; new connections are accepted but not connected upstream.
    /// Nothing is closed, so peers see neither FIN nor RST. Switching back to
    /// [`ProxyMode::Pass`] resumes held connections (like a healed partition).
    Blackhole,
    /// Slow link: forward bytes both ways, but hold every chunk for this long
    /// before writing it (a slow or overloaded etcd, a congested path).
    Delay(Duration),
}

#[derive(Debug)]
struct Shared {
    accepted: AtomicUsize,
    active: AtomicUsize,
    /// Parent token of all current connections; replaced by [`FaultProxy::cut`].
    epoch: Mutex<CancellationToken>,
}

/// A TCP proxy on `127.0.0.1:<free port>` forwarding to one target address.
///
/// All tasks stop and all proxied sockets close when the proxy is dropped.
/// Must be created inside a tokio runtime.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    target: SocketAddr,
    scheme: &'static str,
    mode: watch::Sender<ProxyMode>,
    shared: Arc<Shared>,
    root: CancellationToken,
}

impl FaultProxy {
    /// Starts a proxy in [`ProxyMode::Pass`] forwarding to `target`.
    pub async fn start(target: SocketAddr) -> io::Result<Self> {
        Self::start_inner(target, "http").await
    }

    /// Starts a proxy for an etcd client URL such as `http://127.0.0.1:2379`
    /// (or `https://…`, in which case [`Self::endpoint`] is `https` too; TLS
    /// passes through untouched and the server certificate covers 127.0.0.1).
    pub async fn for_endpoint(url: &str) -> anyhow::Result<Self> {
        let (scheme, rest) = match url.split_once("://") {
            Some(("https", rest)) => ("https", rest),
            Some((_, rest)) => ("http", rest),
            None => ("http", url),
        };
        let host_port = rest.trim_end_matches('/');
        let target = tokio::net::lookup_host(host_port)
            .await
            .with_context(|| format!("resolve {host_port}"))?
            .next()
            .with_context(|| format!("{host_port} resolved to no address"))?;
        Self::start_inner(target, scheme)
            .await
            .context("start fault proxy")
    }

    async fn start_inner(target: SocketAddr, scheme: &'static str) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let root = CancellationToken::new();
        let shared = Arc::new(Shared {
            accepted: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            epoch: Mutex::new(root.child_token()),
        });
        let (mode, mode_rx) = watch::channel(ProxyMode::Pass);
        tokio::spawn(accept_loop(
            listener,
            target,
            mode_rx,
            shared.clone(),
            root.clone(),
        ));
        Ok(Self {
            addr,
            target,
            scheme,
            mode,
            shared,
            root,
        })
    }

    /// The proxy's listening address (127.0.0.1).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address traffic is forwarded to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// URL for an etcd client: `http://127.0.0.1:PORT` (`https` if the proxy
    /// was made with [`Self::for_endpoint`] from an `https` URL).
    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Forward traffic (resumes connections held by a blackhole).
    pub fn pass(&self) {
        self.mode.send_replace(ProxyMode::Pass);
    }

    /// Stop moving bytes on all connections, old and new, without closing any.
    pub fn blackhole(&self) {
        self.mode.send_replace(ProxyMode::Blackhole);
    }

    /// Forward with `delay` added to every chunk in both directions (old and
    /// new connections); [`Self::pass`] removes it.
    pub fn delay(&self, delay: Duration) {
        self.mode.send_replace(ProxyMode::Delay(delay));
    }

    /// Close every current connection (both sides). The mode is unchanged,
    /// so in [`ProxyMode::Pass`] clients can reconnect right away.
    pub fn cut(&self) {
        let mut epoch = self
            .shared
            .epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        epoch.cancel();
        *epoch = self.root.child_token();
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        *self.mode.borrow()
    }

    /// How many client connections the proxy has accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// How many accepted connections are still open.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.root.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    mode: watch::Receiver<ProxyMode>,
    shared: Arc<Shared>,
    root: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            _ = root.cancelled() => return,
            r = listener.accept() => r,
        };
        let socket = match accepted {
            Ok((socket, _)) => socket,
            Err(_) => {
                // e.g. EMFILE; back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        let conn = shared
            .epoch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .child_token();
        tokio::spawn(handle_connection(
            socket,
            target,
            mode.clone(),
            conn,
            shared.clone(),
        ));
    }
}

/// Decrements the active-connection count when a connection task ends.
struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle_connection(
    client: TcpStream,
    target: SocketAddr,
    mut mode: watch::Receiver<ProxyMode>,
    conn: CancellationToken,
    shared: Arc<Shared>,
) {
    shared.active.fetch_add(1, Ordering::SeqCst);
    let _guard = ActiveGuard(shared);
    // A blackholed connection is held without an upstream connection.
    if !wait_for_pass(&mut mode, &conn).await {
        return;
    }
    let upstream = tokio::select! {
        _ = conn.cancelled() => return,
        r = TcpStream::connect(target) => r,
    };
    let Ok(upstream) = upstream else {
        // Dropping the client socket closes it, like a refused connection.
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    tokio::join!(
        pump(client_read, upstream_write, mode.clone(), conn.clone()),
        pump(upstream_read, client_write, mode, conn.clone()),
    );
}

/// Waits until bytes may move ([`ProxyMode::Pass`] or [`ProxyMode::Delay`]);
/// false if cancelled.
async fn wait_for_pass(mode: &mut watch::Receiver<ProxyMode>, cancel: &CancellationToken) -> bool {
    loop {
        if *mode.borrow_and_update() != ProxyMode::Blackhole {
            return true;
        }
        tokio::select! {
            _ = cancel.cancelled() => return false,
            r = mode.changed() => if r.is_err() { return false },
        }
    }
}

/// Copies `src` to `dst` while the mode is `Pass`. EOF is forwarded as a
/// half-close; an I/O error tears down the whole connection.
async fn pump(
    mut src: OwnedReadHalf,
    mut dst: OwnedWriteHalf,
    mut mode: watch::Receiver<ProxyMode>,
    cancel: CancellationToken,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_for_pass(&mut mode, &cancel).await {
            return;
        }
        let n = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            // Re-check the mode; reading is cancel-safe.
            r = mode.changed() => {
                if r.is_err() {
                    return;
                }
                continue;
            }
            r = src.read(&mut buf) => match r {
                Ok(0) => {
                    let _ = dst.shutdown().await;
                    return;
                }
                Ok(n) => n,
                Err(_) => {
                    cancel.cancel();
                    return;
                }
            },
        };
        // A chunk read just before a blackhole is held until the next pass.
        if !wait_for_pass(&mut mode, &cancel).await {
            return;
        }
        let delay = match *mode.borrow() {
            ProxyMode::Delay(d) => Some(d),
            _ => None,
        };
        if let Some(d) = delay {
            tokio::select! {
                _ = cancel.cancelled() => return,
                () = tokio::time::sleep(d) => {}
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            r = dst.write_all(&buf[..n]) => if r.is_err() {
                cancel.cancel();
                return;
            },
        }
    }
}
