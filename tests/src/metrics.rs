//! Reading an etcd member's (or proxy's) own `/metrics`, for tests and
//! benchmarks that check what etcd did: watchers registered, requests
//! handled, bytes sent. One plain HTTP/1.1 GET on the client URL.

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The sum of the samples whose line `keep` accepts (a Prometheus text
/// line is `name{labels} value`), read from `client_url`'s `/metrics`.
pub async fn metric_sum(client_url: &str, keep: impl Fn(&str) -> bool) -> anyhow::Result<f64> {
    let addr = client_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect to {addr} for /metrics"))?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut body = String::new();
    stream.read_to_string(&mut body).await?;
    let mut kept = body.lines().filter(|l| keep(l)).peekable();
    anyhow::ensure!(kept.peek().is_some(), "no such sample in {addr}/metrics");
    Ok(kept
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}
