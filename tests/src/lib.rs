//! Test harness for directive's workspace-level integration tests.
//!
//! The control plane caches a JSON value from an etcd key in many processes
//! through etcd's watch API. Its interesting failure modes (member loss,
//! compaction, partitions, auth and TLS) only show up against a real etcd, so
//! this crate provides:
//!
//! - [`EtcdCluster`]: Debian's real `etcd` (1 or 3 members) on free loopback
//!   ports with temporary data dirs, member kill/restart, compaction, and
//!   optional TLS ([`TlsMaterial`], generated in-process) and auth.
//! - [`FaultProxy`]: an in-process TCP proxy that can pass, blackhole
//!   (silent partition) or cut connections at runtime.
//! - [`ports`]: free loopback port probing.
//!
//! The crate re-exports [`etcd_client`] so tests use the same client version.

pub mod etcd;
pub mod fault_proxy;
pub mod grpc_proxy;
pub mod metrics;
pub mod ports;
pub mod tls;

pub use etcd::{find_etcd_binary, EtcdCluster, EtcdOptions, EtcdServer};
pub use etcd_client;
pub use fault_proxy::{FaultProxy, ProxyMode};
pub use grpc_proxy::GrpcProxy;
pub use metrics::metric_sum;
pub use ports::{free_port, free_ports};
pub use tls::{TlsMaterial, TlsPaths, CLIENT_CERT_CN};
