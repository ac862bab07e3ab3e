//! `-m/--message` and `--as` on `publish`, `rollback` and `clear`: who made
//! a change and why, recorded with it in the same etcd transaction
//! (ADR 0014). The author is `--as`, else the etcd user when auth is on,
//! else `$USER@host`.

use directive_core::attribution::{check_author, check_message, Attribution, Operation, Source};

use crate::etcd_args::EtcdArgs;

/// The attribution flags.
#[derive(clap::Args, Clone, Debug)]
pub struct AttributionArgs {
    /// Why: recorded with the change, shown by `history` and the UI.
    #[arg(short = 'm', long, value_name = "TEXT")]
    message: Option<String>,
    /// Record this author instead of the etcd user (or `$USER@host`).
    #[arg(long = "as", value_name = "NAME")]
    author: Option<String>,
}

impl AttributionArgs {
    /// The record of one change, checked (exit 2 material on error).
    pub fn record(
        &self,
        etcd: &EtcdArgs,
        op: Operation,
        restored_revision: Option<i64>,
    ) -> Result<Attribution, String> {
        let author = self
            .author
            .clone()
            .or_else(|| etcd.user.clone())
            .unwrap_or_else(local_user);
        check_author(&author).map_err(|e| format!("--as: {e}"))?;
        if let Some(message) = &self.message {
            check_message(message).map_err(|e| format!("--message: {e}"))?;
        }
        Ok(Attribution {
            author,
            source: Source::Cli,
            op,
            message: self.message.clone().filter(|m| !m.is_empty()),
            restored_revision,
            at_ms: directive_etcd::clock::now_ms(),
        })
    }
}

/// `$USER@host` (`unknown` for what cannot be read).
fn local_user() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{user}@{host}")
}
