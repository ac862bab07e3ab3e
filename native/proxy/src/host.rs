//! The host a request is for, decided once, the way the HTTP RFCs say, and
//! forwarded as the upstream's `Host`.
//!
//! HTTP/1.1 (RFC 9112 §3.2): a request without `Host`, with more than one, or
//! with one that is not a valid authority is refused with 400; in an
//! absolute-form target (`GET http://h/p`) the target's authority wins over
//! `Host`. HTTP/2 (RFC 9113 §8.3.1): `:authority` is the host, and a `Host`
//! naming a different one makes the request malformed. HTTP/1.0 may omit it.
//! Userinfo (`user@host`) is refused everywhere: it is deprecated for `http`
//! and a classic way to make two parsers see two different hosts.

use http::header::{HeaderValue, HOST};
use http::uri::Authority;
use http::Version;

/// Why a request's host was refused (the text is the 400's error message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostError {
    /// An HTTP/1.1 request without `Host`.
    Missing,
    /// More than one `Host` field.
    Repeated,
    /// A `Host` (or target authority) that is not `host[:port]`.
    Invalid,
    /// HTTP/2: `Host` and `:authority` name different hosts.
    Conflicting,
}

impl HostError {
    /// The refusal's message.
    pub fn message(self) -> &'static str {
        match self {
            HostError::Missing => "missing Host header",
            HostError::Repeated => "more than one Host header",
            HostError::Invalid => "invalid Host header",
            HostError::Conflicting => "Host differs from :authority",
        }
    }
}

/// Parses `value` as `host[:port]` without userinfo.
fn authority(value: &[u8]) -> Result<Authority, HostError> {
    if value.is_empty() || value.contains(&b'@') {
        return Err(HostError::Invalid);
    }
    Authority::try_from(value).map_err(|_| HostError::Invalid)
}

/// The host `req` is for: `Ok(None)` only for an HTTP/1.0 request that
/// names none.
pub fn request_host<B>(req: &http::Request<B>) -> Result<Option<HeaderValue>, HostError> {
    let mut fields = req.headers().get_all(HOST).iter();
    let field = fields.next();
    if fields.next().is_some() {
        return Err(HostError::Repeated);
    }
    let header = field.map(|v| authority(v.as_bytes())).transpose()?;
    let target = req
        .uri()
        .authority()
        .map(|a| authority(a.as_str().as_bytes()))
        .transpose()?;
    let chosen = match (req.version(), target, header) {
        (Version::HTTP_2 | Version::HTTP_3, Some(target), Some(header))
            if !target.as_str().eq_ignore_ascii_case(header.as_str()) =>
        {
            return Err(HostError::Conflicting)
        }
        (Version::HTTP_11, _, None) => return Err(HostError::Missing),
        (_, Some(target), _) => Some(target),
        (_, None, header) => header,
    };
    Ok(chosen.and_then(|a| HeaderValue::from_str(a.as_str()).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(version: Version, target: &str, hosts: &[&str]) -> Result<Option<String>, HostError> {
        let mut req = http::Request::builder().version(version).uri(target);
        for h in hosts {
            req = req.header(HOST, *h);
        }
        let req = req.body(()).expect("request");
        request_host(&req).map(|h| h.map(|v| v.to_str().expect("ascii").to_owned()))
    }

    #[test]
    fn http11_needs_exactly_one_valid_host() {
        let v = Version::HTTP_11;
        assert_eq!(
            host(v, "/p", &["a.example:80"]),
            Ok(Some("a.example:80".into()))
        );
        assert_eq!(host(v, "/p", &[]), Err(HostError::Missing));
        assert_eq!(host(v, "/p", &["a", "b"]), Err(HostError::Repeated));
        assert_eq!(host(v, "/p", &["a b"]), Err(HostError::Invalid));
        assert_eq!(host(v, "/p", &["user@a"]), Err(HostError::Invalid));
        assert_eq!(host(v, "/p", &[""]), Err(HostError::Invalid));
    }

    #[test]
    fn an_absolute_target_wins_over_host() {
        let v = Version::HTTP_11;
        assert_eq!(
            host(v, "http://t.example/p", &["h"]),
            Ok(Some("t.example".into()))
        );
        assert_eq!(host(v, "http://t.example/p", &[]), Err(HostError::Missing));
        assert_eq!(
            host(v, "http://u@t.example/p", &["h"]),
            Err(HostError::Invalid)
        );
    }

    #[test]
    fn http2_authority_and_host_must_agree() {
        let v = Version::HTTP_2;
        assert_eq!(
            host(v, "http://t.example/p", &[]),
            Ok(Some("t.example".into()))
        );
        assert_eq!(
            host(v, "http://t.example/p", &["T.example"]),
            Ok(Some("t.example".into()))
        );
        assert_eq!(
            host(v, "http://t.example/p", &["other"]),
            Err(HostError::Conflicting)
        );
        assert_eq!(host(v, "/p", &["h"]), Ok(Some("h".into())));
    }

    #[test]
    fn http10_may_omit_host() {
        assert_eq!(host(Version::HTTP_10, "/p", &[]), Ok(None));
    }
}
