//! The flags every etcd-talking verb shares: where etcd is, which key, and
//! how to authenticate. Secrets come from files or the environment, never
//! from flag values (which show in `ps`).

use std::path::PathBuf;
use std::time::Duration;

use directive_core::WireFormat;
use directive_etcd::{StoreOptions, TlsConfig};

/// Where etcd is when no endpoint is given (etcdctl's default).
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:2379";

/// Connection flags.
#[derive(clap::Args, Clone, Debug)]
pub struct EtcdArgs {
    /// etcd endpoints, comma-separated [default: http://127.0.0.1:2379, as
    /// etcdctl's].
    #[arg(long, env = "DIRECTIVE_ETCD_ENDPOINTS", value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// The key holding the directive document.
    #[arg(long, env = "DIRECTIVE_ETCD_KEY", default_value = directive_etcd::store::DEFAULT_KEY)]
    pub key: String,
    /// CA certificate (PEM) to verify etcd's TLS certificate.
    #[arg(long, env = "DIRECTIVE_ETCD_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for etcd's client-cert auth.
    #[arg(long, env = "DIRECTIVE_ETCD_CERT_FILE", requires = "key_file")]
    pub cert_file: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long, env = "DIRECTIVE_ETCD_KEY_FILE", requires = "cert_file")]
    pub key_file: Option<PathBuf>,
    /// etcd user name (the password comes from --password-file or DIRECTIVE_ETCD_PASSWORD).
    #[arg(long, env = "DIRECTIVE_ETCD_USER")]
    pub user: Option<String>,
    /// File holding the etcd password.
    #[arg(long, env = "DIRECTIVE_ETCD_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// Give up connecting after this many milliseconds.
    #[arg(long, default_value_t = 5_000)]
    pub connect_timeout_ms: u64,
    /// How publishes and rollbacks write the key: `stamped` (with
    /// `published_at`, fleet-wide expiry) or `upstream` (without it, while
    /// osproxy instances still read the key; see docs/migrating-from-osproxy.md).
    #[arg(long, env = "DIRECTIVE_FORMAT", default_value = "stamped")]
    pub format: WireFormat,
}

impl EtcdArgs {
    /// Builds the store/publisher options; errors name the file or setting.
    pub fn options(&self) -> Result<StoreOptions, String> {
        let endpoints: Vec<String> = self
            .endpoints
            .iter()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        // Absent: etcdctl's default. Given but empty (a variable that was
        // not set, `--endpoints ""`): an error, never a silent localhost.
        let endpoints = match (self.endpoints.is_empty(), endpoints.is_empty()) {
            (true, _) => vec![DEFAULT_ENDPOINT.to_owned()],
            (false, true) => return Err("--endpoints is empty".into()),
            (false, false) => endpoints,
        };
        let mut options = StoreOptions::new(endpoints)
            .with_key(self.key.clone())
            .with_connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .with_format(self.format);
        let read = |p: &PathBuf| {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        if self.ca_file.is_some() || self.cert_file.is_some() {
            let identity = match (&self.cert_file, &self.key_file) {
                (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
                _ => None,
            };
            options = options.with_tls(TlsConfig {
                ca_pem: self.ca_file.as_ref().map(read).transpose()?,
                identity,
                domain: None,
            });
        }
        if let Some(user) = &self.user {
            let password = match (
                &self.password_file,
                std::env::var("DIRECTIVE_ETCD_PASSWORD"),
            ) {
                (Some(p), _) => read(p)?.trim_end_matches(['\r', '\n']).to_owned(),
                (None, Ok(pw)) => pw,
                (None, Err(_)) => {
                    return Err("--user needs --password-file or DIRECTIVE_ETCD_PASSWORD".into())
                }
            };
            options = options.with_auth(user.clone(), password);
        }
        Ok(options)
    }
}
