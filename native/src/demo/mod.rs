//! `directivectl demo`: the whole system on one machine.
//!
//! A newcomer to the upstream needed Docker to see anything. The demo needs
//! only Debian's `etcd` binary: [`EmbeddedEtcd`] starts a private member,
//! [`Fleet`] runs several real stores against it, and the admin server shows
//! them live. Everything stops with the process.
//!
//! - `etcd`: the private etcd launcher;
//! - `fleet`: the simulated instances and their board rows.

mod etcd;
mod fleet;

pub use etcd::{find_binary, EmbeddedEtcd, EtcdLaunchError, DEFAULT_ETCD_BIN, ETCD_BIN_ENV};
pub use fleet::{Fleet, FleetError, FleetInstance};

/// The directive set the demo seeds (`examples/sample.json`, embedded).
pub const SAMPLE: &str = include_str!("../../../examples/sample.json");
