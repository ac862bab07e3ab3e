//! Free loopback port allocation.
//!
//! etcd has to be told its ports on the command line, so the harness cannot
//! simply bind port 0 inside etcd. Instead it asks the kernel for free ports by
//! binding `127.0.0.1:0`, reads the port numbers and releases the sockets just
//! before etcd starts. Another process can grab a port in that window; the
//! etcd harness detects "address already in use" and retries with new ports.

use std::io;
use std::net::{Ipv4Addr, TcpListener};

/// Returns one currently free TCP port on 127.0.0.1.
///
/// The port is released before this returns, so it is only *probably* free
/// when the caller binds it.
pub fn free_port() -> io::Result<u16> {
    Ok(free_ports(1)?[0])
}

/// Returns `n` distinct currently free TCP ports on 127.0.0.1.
///
/// All listeners are held open until every port is chosen, so the ports are
/// pairwise distinct; they are released before this returns.
pub fn free_ports(n: usize) -> io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_nonzero() {
        let ports = free_ports(8).expect("bind loopback ports");
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 8);
        assert!(ports.iter().all(|&p| p != 0));
    }
}
