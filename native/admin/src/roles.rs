//! Who may do what through the admin API (ADR 0013): principals, each a
//! name, a role and the SHA-256 digest of its token.
//!
//! Two roles. A `viewer` reads: the set, history, fleet, events, validate,
//! metrics. An `operator` also writes: publish and rollback. The required
//! role of a request is decided in one place ([`required_role`]) from its
//! method and route, before any handler runs.
//!
//! The tokens file holds digests only, never tokens (like an htpasswd
//! file): whoever reads it cannot call the API. It is refused when other
//! users may read or write it. A presented token is hashed once and its
//! digest compared with every principal's in constant time, with no early
//! exit, so the time taken says nothing about which principal, if any,
//! matched.

use std::path::Path;

use axum::http::Method;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::auth::AdminToken;

/// What a principal may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read the set, history, fleet, events; validate; metrics.
    Viewer,
    /// Everything a viewer may, and publish and roll back.
    Operator,
}

impl Role {
    /// `viewer` or `operator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            other => Err(format!(
                "unknown role {other:?}: expected viewer or operator"
            )),
        }
    }
}

/// The role a request needs: operator for writes, viewer for the rest.
pub fn required_role(method: &Method, path: &str) -> Role {
    let writes = matches!(
        (method, path),
        (&Method::PUT | &Method::DELETE, "/api/directives") | (&Method::POST, "/api/rollback")
    );
    if writes {
        Role::Operator
    } else {
        Role::Viewer
    }
}

/// A name and a role, as the API knows a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The principal's name (what history will record as the author).
    pub name: String,
    /// Its role.
    pub role: Role,
}

#[derive(Clone)]
struct Principal {
    caller: Caller,
    digest: [u8; 32],
}

/// Every principal the server accepts.
#[derive(Clone, Default)]
pub struct Principals {
    entries: Vec<Principal>,
}

impl std::fmt::Debug for Principals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .entries
            .iter()
            .map(|p| p.caller.name.as_str())
            .collect();
        f.debug_struct("Principals")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

/// One entry of the tokens file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// The principal's name: 1 to 64 bytes of visible ASCII.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The SHA-256 digest of its token, 64 lowercase hex digits.
    pub sha256: String,
}

/// The tokens file: `{"principals":[{"name","role","sha256"}]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokensFile {
    /// Every principal.
    pub principals: Vec<TokenEntry>,
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "principal name {name:?}: 1 to 64 visible ASCII characters"
        ));
    }
    Ok(())
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl TokensFile {
    /// Reads a tokens file (absent: empty), refusing one that users other
    /// than its owner may read or write, and checking every entry.
    pub fn read(path: &Path) -> Result<Self, String> {
        let shown = path.display();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(format!("cannot read the tokens file {shown}: {e}")),
        };
        check_private(path)?;
        let file: TokensFile =
            serde_json::from_str(&text).map_err(|e| format!("{shown}: not a tokens file ({e})"))?;
        for (i, entry) in file.principals.iter().enumerate() {
            check_name(&entry.name).map_err(|e| format!("{shown}: principals[{i}]: {e}"))?;
            if parse_digest(&entry.sha256).is_none() {
                return Err(format!(
                    "{shown}: principals[{i}] ({}): sha256 must be 64 hex digits",
                    entry.name
                ));
            }
            if file.principals[..i].iter().any(|e| e.name == entry.name) {
                return Err(format!(
                    "{shown}: principal {:?} is listed twice",
                    entry.name
                ));
            }
        }
        Ok(file)
    }

    /// Writes the file atomically (a temporary file renamed over it),
    /// readable and writable by its owner only.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let shown = path.display();
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())? + "\n";
        let tmp = path.with_extension("tmp");
        // A fresh file, never an existing one (or a link) left behind:
        // `mode` applies only to a file this call creates.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {}: {e}", tmp.display())),
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {shown}: {e}"))
    }

    /// Adds `name` with `role` and a fresh random token, which it returns
    /// (to be shown once: only its digest is kept).
    pub fn add(&mut self, name: &str, role: Role) -> Result<String, String> {
        check_name(name)?;
        if self.principals.iter().any(|e| e.name == name) {
            return Err(format!(
                "principal {name:?} exists already (remove it first)"
            ));
        }
        let (_, token) = AdminToken::generate()?;
        self.principals.push(TokenEntry {
            name: name.to_owned(),
            role,
            sha256: hex(&Sha256::digest(token.as_bytes())),
        });
        Ok(token)
    }

    /// Removes `name`; false when it was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.principals.len();
        self.principals.retain(|e| e.name != name);
        self.principals.len() != before
    }
}

/// Refuses a file that users other than its owner may read or write.
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is accessible to other users (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

impl Principals {
    /// The single shared token of `--token-file` / `DIRECTIVE_ADMIN_TOKEN`,
    /// as one operator named `admin`.
    pub fn single(token: &AdminToken) -> Self {
        Principals {
            entries: vec![Principal {
                caller: Caller {
                    name: "admin".to_owned(),
                    role: Role::Operator,
                },
                digest: token.digest(),
            }],
        }
    }

    /// The principals of a tokens file ([`TokensFile::read`]); an empty or
    /// absent file is an error (nobody could call the API).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let file = TokensFile::read(path)?;
        if file.principals.is_empty() {
            return Err(format!(
                "{}: no principals (add one: directivectl token add NAME --role operator --file {})",
                path.display(),
                path.display()
            ));
        }
        let entries = file
            .principals
            .into_iter()
            .filter_map(|e| {
                Some(Principal {
                    digest: parse_digest(&e.sha256)?,
                    caller: Caller {
                        name: e.name,
                        role: e.role,
                    },
                })
            })
            .collect();
        Ok(Principals { entries })
    }

    /// Adds every principal of `other`; a name both hold is an error (one
    /// of the two tokens would silently stop working).
    pub fn extend(&mut self, other: Principals) -> Result<(), String> {
        for p in other.entries {
            if self.entries.iter().any(|e| e.caller.name == p.caller.name) {
                return Err(format!(
                    "principal {:?} is defined twice (the tokens file and the single token)",
                    p.caller.name
                ));
            }
            self.entries.push(p);
        }
        Ok(())
    }

    /// The caller whose token is `presented`: hashed once, compared with
    /// every digest in constant time, without stopping at a match.
    pub fn identify(&self, presented: &[u8]) -> Option<Caller> {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        let mut found = None;
        for p in &self.entries {
            if bool::from(digest.ct_eq(&p.digest)) {
                found = Some(p.caller.clone());
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::MIN_TOKEN_LEN;

    #[test]
    fn writes_need_an_operator_and_reads_a_viewer() {
        assert_eq!(
            required_role(&Method::PUT, "/api/directives"),
            Role::Operator
        );
        assert_eq!(
            required_role(&Method::POST, "/api/rollback"),
            Role::Operator
        );
        assert_eq!(required_role(&Method::GET, "/api/directives"), Role::Viewer);
        assert_eq!(required_role(&Method::POST, "/api/validate"), Role::Viewer);
        assert_eq!(required_role(&Method::GET, "/metrics"), Role::Viewer);
        assert!(Role::Viewer < Role::Operator);
    }

    #[test]
    fn a_tokens_file_keeps_digests_only_and_must_be_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens.json");
        let mut file = TokensFile::read(&path).expect("absent is empty");
        let alice = file.add("alice", Role::Operator).expect("add");
        let bob = file.add("bob", Role::Viewer).expect("add");
        assert!(file.add("bob", Role::Viewer).is_err(), "names are unique");
        file.write(&path).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            !text.contains(&alice) && !text.contains(&bob),
            "no token stored"
        );
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let principals = Principals::from_file(&path).expect("loads");
        let caller = principals.identify(alice.as_bytes()).expect("alice");
        assert_eq!(
            (caller.name.as_str(), caller.role),
            ("alice", Role::Operator)
        );
        let caller = principals.identify(bob.as_bytes()).expect("bob");
        assert_eq!((caller.name.as_str(), caller.role), ("bob", Role::Viewer));
        assert_eq!(principals.identify(b"0123456789abcdef-not-a-token"), None);
        assert!(!format!("{principals:?}").contains(&alice));

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let refused = Principals::from_file(&path).expect_err("world-readable");
        assert!(refused.contains("chmod 600"), "{refused}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");

        let mut file = TokensFile::read(&path).expect("read");
        assert!(file.remove("alice"));
        assert!(!file.remove("alice"));
        file.write(&path).expect("write");
        let principals = Principals::from_file(&path).expect("loads");
        assert_eq!(principals.identify(alice.as_bytes()), None, "removed");

        std::fs::write(
            &path,
            r#"{"principals":[{"name":"x","role":"root","sha256":"00"}]}"#,
        )
        .expect("write");
        let bad = Principals::from_file(&path).expect_err("bad role");
        assert!(bad.contains("tokens.json"), "{bad}");
        // Generated tokens are long enough for the single-token rule too.
        assert!(bob.len() >= MIN_TOKEN_LEN);
    }
}
