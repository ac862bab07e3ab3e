//! The admin bearer token: where it comes from and how a request proves it.
//!
//! The upstream compared tokens in constant time only when the lengths were
//! equal, so the time to fail told an attacker the token's length (spec §6,
//! weakness 20). Here both sides are hashed with SHA-256 first and the two
//! 32-byte digests are compared with `subtle`: the work done never depends
//! on the presented token's length or content. The token itself is kept only
//! as its digest, so it cannot end up in a `Debug` print or a log line.
//!
//! Tokens are read from a file or the environment, never from a flag value
//! (flags show in `ps`). A token in the query string is refused outright:
//! URLs end up in proxy logs, browser history and `Referer` headers.

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use std::sync::Arc;

use super::error::ApiError;
use super::roles::{required_role, Principals};

/// The environment variable holding the admin token when no file is given.
pub const TOKEN_ENV: &str = "DIRECTIVE_ADMIN_TOKEN";

/// The shortest token accepted: anything shorter is guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// Query parameter names that look like a credential; a request carrying
/// one is refused even if its header is right.
const QUERY_CREDENTIAL_NAMES: [&str; 5] =
    ["access_token", "token", "bearer", "auth", "authorization"];

/// The expected admin token, held only as its SHA-256 digest.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// A token from its text. Refuses tokens shorter than [`MIN_TOKEN_LEN`]
    /// bytes or containing whitespace or control characters (they would not
    /// survive an HTTP header intact).
    pub fn new(secret: &str) -> Result<Self, String> {
        if secret.len() < MIN_TOKEN_LEN {
            return Err(format!(
                "the admin token must be at least {MIN_TOKEN_LEN} bytes long"
            ));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the admin token must not contain whitespace or control characters".into());
        }
        Ok(AdminToken {
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// Reads the token from a file (one trailing newline is ignored).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
        Self::new(text.trim_end_matches(['\r', '\n']))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads the token from [`TOKEN_ENV`]; `None` when it is unset or empty.
    pub fn from_env() -> Option<Result<Self, String>> {
        let value = std::env::var(TOKEN_ENV).ok().filter(|v| !v.is_empty())?;
        Some(Self::new(&value).map_err(|e| format!("{TOKEN_ENV}: {e}")))
    }

    /// Generates a fresh random token (32 bytes from the OS, hex): the
    /// token and its text, which the caller shows to the operator once.
    pub fn generate() -> Result<(Self, String), String> {
        let mut bytes = [0u8; 32];
        getrandom::getrandom(&mut bytes)
            .map_err(|e| format!("cannot read random bytes for the token: {e}"))?;
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok((Self::new(&text)?, text))
    }

    /// The token's SHA-256 digest (what a tokens file stores).
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// True when `presented` is the token. Constant time in both the
    /// presented token's content and its length.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        bool::from(digest.ct_eq(&self.digest))
    }

    /// Checks a request's headers and query: exactly one `Authorization`
    /// header of the form `Bearer <token>` and no credential in the query.
    pub fn check(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        self.refusal(headers, query).is_none()
    }

    /// Why a request's credentials are refused (`None`: accepted), as a
    /// closed set of reasons for logs and metrics: `in_query`, `missing`,
    /// `duplicate`, `bad_scheme`, `wrong_token`. Never the token.
    pub fn refusal(&self, headers: &HeaderMap, query: Option<&str>) -> Option<&'static str> {
        match presented_token(headers, query, |t| self.matches(t)) {
            Err(reason) => Some(reason),
            Ok(token) if self.matches(token) => None,
            Ok(_) => Some("wrong_token"),
        }
    }
}

/// The bearer token a request presents, or why it presents none: exactly
/// one `Authorization: Bearer <token>` header and no credential-like query
/// parameter. `burn` is run on what a malformed header holds, so refusing
/// it costs about as much as checking a token.
pub(crate) fn presented_token<'h>(
    headers: &'h HeaderMap,
    query: Option<&str>,
    burn: impl Fn(&[u8]) -> bool,
) -> Result<&'h [u8], &'static str> {
    if query.is_some_and(query_has_credential) {
        return Err("in_query");
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err("missing"),
        // Ambiguous: two headers might be read differently by a proxy in
        // front of us.
        (Some(_), Some(_)) => return Err("duplicate"),
        (Some(value), None) => value,
    };
    match value.as_bytes().split_first_chunk::<7>() {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case(b"Bearer ") => Ok(token),
        _ => {
            let _ = burn(value.as_bytes());
            Err("bad_scheme")
        }
    }
}

/// True when a query string names a credential-like parameter, after
/// percent-decoding (`access%5Ftoken`) and with `;` counted as a separator
/// too (some frameworks split on it), so no spelling slips through.
fn query_has_credential(query: &str) -> bool {
    let is_credential = |name: &str| {
        QUERY_CREDENTIAL_NAMES
            .iter()
            .any(|c| name.trim().eq_ignore_ascii_case(c))
    };
    form_urlencoded::parse(query.as_bytes()).any(|(name, value)| {
        let hidden = value
            .split(';')
            .skip(1)
            .map(|part| part.split('=').next().unwrap_or_default());
        name.split(';').chain(hidden).any(is_credential)
    })
}

/// Middleware: every `/api` request (and `/metrics` behind the token) must
/// carry a principal's token, and that principal must hold the role the
/// request needs ([`required_role`]): 401 otherwise, or 403 naming the role.
/// Runs before the body is read, so a refused client cannot make the server
/// buffer anything. The caller is handed to the handlers as a
/// [`Caller`](crate::roles::Caller)
/// request extension.
pub(crate) async fn require_role(
    State(principals): State<Arc<Principals>>,
    mut request: Request,
    next: Next,
) -> Response {
    let identified = presented_token(request.headers(), request.uri().query(), |t| {
        principals.identify(t).is_some()
    })
    .and_then(|token| principals.identify(token).ok_or("wrong_token"));
    let caller = match identified {
        Ok(caller) => caller,
        Err(reason) => {
            tracing::info!(
                method = %request.method(),
                reason,
                "admin request refused: missing or wrong bearer token"
            );
            super::metrics::auth_failure(reason);
            return ApiError::Unauthorized.into_response();
        }
    };
    let needed = required_role(request.method(), request.uri().path());
    if caller.role < needed {
        tracing::info!(
            method = %request.method(),
            principal = %caller.name,
            role = caller.role.as_str(),
            required = needed.as_str(),
            "admin request refused: role too weak"
        );
        super::metrics::auth_failure("forbidden");
        return ApiError::Forbidden { required: needed }.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(auth: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for a in auth {
            h.append(
                header::AUTHORIZATION,
                HeaderValue::from_str(a).expect("valid header"),
            );
        }
        h
    }

    #[test]
    fn accepts_only_the_exact_bearer_token() {
        let token = AdminToken::new("0123456789abcdef").expect("valid");
        assert!(token.check(&headers(&["Bearer 0123456789abcdef"]), None));
        assert!(token.check(&headers(&["bearer 0123456789abcdef"]), None));
        assert!(!token.check(&headers(&[]), None));
        assert!(!token.check(&headers(&["Bearer 0123456789abcdeF"]), None));
        assert!(!token.check(&headers(&["Bearer 0123456789abcdef0"]), None));
        assert!(!token.check(&headers(&["Bearer  0123456789abcdef"]), None));
        assert!(!token.check(&headers(&["Basic 0123456789abcdef"]), None));
        assert!(!token.check(&headers(&["Bearer"]), None));
        let refusal = |h: &[&str]| token.refusal(&headers(h), None);
        assert_eq!(refusal(&[]), Some("missing"));
        assert_eq!(refusal(&["Basic 0123456789abcdef"]), Some("bad_scheme"));
        assert_eq!(refusal(&["Bearer"]), Some("bad_scheme"));
        assert_eq!(refusal(&["Bearer 0123456789abcdeF"]), Some("wrong_token"));
        assert_eq!(refusal(&["Bearer 0123456789abcdef"]), None);
        assert_eq!(
            token.refusal(&headers(&["Bearer 0123456789abcdef"]), Some("token=x")),
            Some("in_query")
        );
        assert!(!token.check(
            &headers(&["Bearer 0123456789abcdef", "Bearer 0123456789abcdef"]),
            None
        ));
        assert!(!token.check(
            &headers(&["Bearer 0123456789abcdef"]),
            Some("access_token=0123456789abcdef")
        ));
        assert!(token.check(&headers(&["Bearer 0123456789abcdef"]), Some("limit=3")));
        for spelled in [
            "access%5Ftoken=x",
            "%61ccess_token=x",
            "ACCESS_TOKEN=x",
            "limit=3;access_token=x",
            "limit=3&x;token=1",
            "limit=3;%74oken",
        ] {
            assert!(
                !token.check(&headers(&["Bearer 0123456789abcdef"]), Some(spelled)),
                "{spelled}"
            );
        }
    }

    #[test]
    fn refuses_weak_tokens_and_never_prints_one() {
        assert!(AdminToken::new("short").is_err());
        assert!(AdminToken::new("has a space in it!!").is_err());
        let (token, text) = AdminToken::generate().expect("random");
        assert_eq!(text.len(), 64);
        assert!(!format!("{token:?}").contains(&text));
    }
}
