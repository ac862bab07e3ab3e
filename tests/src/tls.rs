//! In-process TLS material for TLS-enabled etcd test servers.
//!
//! Tests must not depend on `openssl` binaries or checked-in keys that expire,
//! so a fresh CA, a server certificate (for `127.0.0.1` and `localhost`) and a
//! client certificate are generated with `rcgen` for each run. The PEM text
//! lives in [`TlsMaterial`]; [`TlsMaterial::write_to`] puts it on disk because
//! etcd reads certificates from files.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use etcd_client::{Certificate, Identity, TlsOptions};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Common name of the generated client certificate.
///
/// With `--client-cert-auth` and auth enabled, etcd treats a certificate's CN
/// as a user name when a request carries no token. This CN is deliberately not
/// an etcd user, so a certificate alone grants no access.
pub const CLIENT_CERT_CN: &str = "directive-test-client";

/// A CA plus server and client certificates, all as PEM text.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// The CA certificate that signed both leaf certificates.
    pub ca_cert_pem: String,
    /// Server certificate (SANs `127.0.0.1`, `localhost`; server+client auth EKUs).
    pub server_cert_pem: String,
    /// Private key of the server certificate.
    pub server_key_pem: String,
    /// Client certificate (CN [`CLIENT_CERT_CN`], client auth EKU).
    pub client_cert_pem: String,
    /// Private key of the client certificate.
    pub client_key_pem: String,
    /// Whether etcd should require client certificates (`--client-cert-auth`).
    pub client_cert_auth: bool,
}

/// Where [`TlsMaterial::write_to`] put the PEM files.
#[derive(Clone, Debug)]
pub struct TlsPaths {
    /// CA certificate (etcd `--trusted-ca-file`; clients trust it).
    pub ca_cert: PathBuf,
    /// Server certificate (etcd `--cert-file`).
    pub server_cert: PathBuf,
    /// Server key (etcd `--key-file`).
    pub server_key: PathBuf,
    /// Client certificate.
    pub client_cert: PathBuf,
    /// Client key.
    pub client_key: PathBuf,
}

impl TlsMaterial {
    /// Generates a fresh CA, server and client certificate; client certificate
    /// authentication is required by default.
    pub fn generate() -> anyhow::Result<Self> {
        let ca_key = KeyPair::generate().context("generate CA key")?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA params")?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "directive test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).context("self-sign CA")?;
        let issuer = Issuer::new(ca_params, &ca_key);

        let server_key = KeyPair::generate().context("generate server key")?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .context("server params")?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server_params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        // etcd's grpc-gateway dials the server with its own certificate, so
        // the server certificate must also be usable for client auth.
        server_params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .context("sign server certificate")?;

        let client_key = KeyPair::generate().context("generate client key")?;
        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).context("client params")?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, CLIENT_CERT_CN);
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params
            .signed_by(&client_key, &issuer)
            .context("sign client certificate")?;

        Ok(Self {
            ca_cert_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
            client_cert_auth: true,
        })
    }

    /// Writes the five PEM files into `dir` (which must exist).
    pub fn write_to(&self, dir: &Path) -> anyhow::Result<TlsPaths> {
        let paths = TlsPaths {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
        };
        for (path, pem) in [
            (&paths.ca_cert, &self.ca_cert_pem),
            (&paths.server_cert, &self.server_cert_pem),
            (&paths.server_key, &self.server_key_pem),
            (&paths.client_cert, &self.client_cert_pem),
            (&paths.client_key, &self.client_key_pem),
        ] {
            fs::write(path, pem).with_context(|| format!("write {}", path.display()))?;
        }
        Ok(paths)
    }

    /// etcd-client TLS options trusting the CA and presenting the client
    /// certificate.
    pub fn client_tls_options(&self) -> TlsOptions {
        self.ca_only_tls_options().identity(Identity::from_pem(
            &self.client_cert_pem,
            &self.client_key_pem,
        ))
    }

    /// etcd-client TLS options trusting the CA but presenting no client
    /// certificate (rejected when [`Self::client_cert_auth`] is set).
    pub fn ca_only_tls_options(&self) -> TlsOptions {
        TlsOptions::new().ca_certificate(Certificate::from_pem(&self.ca_cert_pem))
    }
}
