//! The per-field rules: one pure function per key of the wire format.
//!
//! Each takes the value as a [`Scalar`] and either returns the typed value or
//! the code that rejects it. This file is the single place where "what is a
//! valid `ttl_secs`" is decided; `docs/vectors.md` states the same table.

use std::borrow::Cow;

use super::scalar::Scalar;
use crate::{DiagLevel, EndpointKind, ErrorCode, Limits};

/// The ten keys of a directive object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    Level,
    TtlSecs,
    Tenant,
    Index,
    Principal,
    Endpoint,
    SamplePerMille,
    RingBuffer,
    Capture,
}

impl Field {
    pub(crate) fn from_key(key: &str) -> Option<Field> {
        Some(match key {
            "id" => Field::Id,
            "level" => Field::Level,
            "ttl_secs" => Field::TtlSecs,
            "tenant" => Field::Tenant,
            "index" => Field::Index,
            "principal" => Field::Principal,
            "endpoint" => Field::Endpoint,
            "sample_per_mille" => Field::SamplePerMille,
            "ring_buffer" => Field::RingBuffer,
            "capture" => Field::Capture,
            _ => return None,
        })
    }

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Level => "level",
            Field::TtlSecs => "ttl_secs",
            Field::Tenant => "tenant",
            Field::Index => "index",
            Field::Principal => "principal",
            Field::Endpoint => "endpoint",
            Field::SamplePerMille => "sample_per_mille",
            Field::RingBuffer => "ring_buffer",
            Field::Capture => "capture",
        }
    }

    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

pub(crate) fn id<'de>(v: Scalar<'de>, limits: &Limits) -> Result<Cow<'de, str>, ErrorCode> {
    match v {
        Scalar::Str(s) if s.is_empty() => Err(ErrorCode::EmptyId),
        Scalar::Str(s) if s.len() > limits.max_id_len => Err(ErrorCode::IdTooLong),
        Scalar::Str(s) => Ok(s),
        _ => Err(ErrorCode::MissingId),
    }
}

pub(crate) fn level(v: &Scalar<'_>) -> Result<DiagLevel, ErrorCode> {
    match v {
        Scalar::Str(s) => DiagLevel::from_name(s).ok_or(ErrorCode::UnknownLevel),
        _ => Err(ErrorCode::MissingLevel),
    }
}

pub(crate) fn ttl_secs(v: &Scalar<'_>, limits: &Limits) -> Result<u64, ErrorCode> {
    match *v {
        Scalar::Uint(0) => Err(ErrorCode::ZeroTtl),
        Scalar::Uint(n) if n > limits.max_ttl_secs => Err(ErrorCode::TtlTooLong),
        Scalar::Uint(n) => Ok(n),
        _ => Err(ErrorCode::MissingTtlSecs),
    }
}

pub(crate) fn sample_per_mille(v: &Scalar<'_>) -> Result<u16, ErrorCode> {
    match *v {
        Scalar::Uint(n) if n <= 1000 => Ok(n as u16),
        _ => Err(ErrorCode::BadSampleRate),
    }
}

pub(crate) fn endpoint(v: &Scalar<'_>) -> Result<EndpointKind, ErrorCode> {
    match v {
        Scalar::Str(s) => EndpointKind::from_name(s).ok_or(ErrorCode::UnknownEndpoint),
        _ => Err(ErrorCode::BadEndpoint),
    }
}

/// `tenant`, `index` and `principal`: a non-empty string, never a silent wildcard.
pub(crate) fn target(v: Scalar<'_>, limits: &Limits) -> Result<String, ErrorCode> {
    match v {
        Scalar::Str(s) if s.is_empty() => Err(ErrorCode::EmptyTarget),
        Scalar::Str(s) if s.len() > limits.max_target_len => Err(ErrorCode::TargetTooLong),
        Scalar::Str(s) => Ok(s.into_owned()),
        _ => Err(ErrorCode::BadTarget),
    }
}

pub(crate) fn flag(v: &Scalar<'_>) -> Result<bool, ErrorCode> {
    match *v {
        Scalar::Bool(b) => Ok(b),
        _ => Err(ErrorCode::BadFlag),
    }
}

pub(crate) fn published_at(v: &Scalar<'_>) -> Result<u64, ErrorCode> {
    match *v {
        Scalar::Uint(n) => Ok(n),
        _ => Err(ErrorCode::BadPublishedAt),
    }
}
