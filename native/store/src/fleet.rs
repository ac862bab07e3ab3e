//! The fleet as its instances report it: every report under
//! `<key>/instances/`, decoded as untrusted input (ADR 0011).

use directive_core::instance::{reports_prefix, InstanceReport};
use etcd_client::{Client, GetOptions};
use serde::Serialize;

use crate::publisher::PublishError;

/// Most reports one listing reads (a bound on a prefix anyone with write
/// access to etcd can fill).
pub const MAX_INSTANCES: i64 = 10_000;

/// One instance's entry in a listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedInstance {
    /// The id, from the report's key.
    pub id: String,
    /// The report, or why it was refused (listed, never fatal).
    #[serde(flatten)]
    pub report: Listed,
}

/// A report as listed: decoded, or refused with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Listed {
    /// A valid report.
    Report(Box<InstanceReport>),
    /// A report that does not decode.
    Invalid {
        /// Why it was refused.
        invalid: String,
    },
}

/// The instances reporting on a key, and the key's own revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fleet {
    /// The directive key's mod revision (0 when absent).
    pub key_revision: i64,
    /// Every report, ordered by id.
    pub instances: Vec<ListedInstance>,
}

/// Reads the reports of `key` and the key's revision, at one etcd revision.
pub(crate) async fn list(client: &Client, key: &str) -> Result<Fleet, PublishError> {
    let mut kv = client.kv_client();
    let prefix = reports_prefix(key);
    let resp = kv
        .get(
            prefix.as_str(),
            Some(GetOptions::new().with_prefix().with_limit(MAX_INSTANCES)),
        )
        .await?;
    let at = resp.header().map_or(0, |h| h.revision());
    let current = kv
        .get(key, Some(GetOptions::new().with_revision(at)))
        .await?;
    let key_revision = current.kvs().first().map_or(0, |kv| kv.mod_revision());
    let instances = resp
        .kvs()
        .iter()
        .map(|kv| ListedInstance {
            id: String::from_utf8_lossy(&kv.key()[prefix.len()..]).into_owned(),
            report: match InstanceReport::decode(kv.value()) {
                Ok(report) => Listed::Report(Box::new(report)),
                Err(e) => Listed::Invalid {
                    invalid: e.to_string(),
                },
            },
        })
        .collect();
    Ok(Fleet {
        key_revision,
        instances,
    })
}
