//! The endpoint classes a directive can target.
//!
//! The twelve names are the upstream's `EndpointKind` wire names, exact and
//! case-sensitive. The discriminant doubles as the slot of the per-endpoint
//! index in [`crate::DirectiveSet`], so the list is closed and dense.

use serde::{Serialize, Serializer};

/// The class of a proxied request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointKind {
    /// Single-document ingest.
    IngestDoc,
    /// Bulk ingest.
    IngestBulk,
    /// Search.
    Search,
    /// Multi-search.
    MultiSearch,
    /// Count.
    Count,
    /// Get by id.
    GetById,
    /// Multi-get.
    MultiGet,
    /// Delete by id.
    DeleteById,
    /// Delete by query.
    DeleteByQuery,
    /// Scroll / point-in-time cursor.
    Cursor,
    /// Administrative endpoints.
    Admin,
    /// Anything the proxy could not classify.
    Unknown,
}

impl EndpointKind {
    /// Every kind, in discriminant order.
    pub const ALL: [EndpointKind; 12] = [
        EndpointKind::IngestDoc,
        EndpointKind::IngestBulk,
        EndpointKind::Search,
        EndpointKind::MultiSearch,
        EndpointKind::Count,
        EndpointKind::GetById,
        EndpointKind::MultiGet,
        EndpointKind::DeleteById,
        EndpointKind::DeleteByQuery,
        EndpointKind::Cursor,
        EndpointKind::Admin,
        EndpointKind::Unknown,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EndpointKind::IngestDoc => "IngestDoc",
            EndpointKind::IngestBulk => "IngestBulk",
            EndpointKind::Search => "Search",
            EndpointKind::MultiSearch => "MultiSearch",
            EndpointKind::Count => "Count",
            EndpointKind::GetById => "GetById",
            EndpointKind::MultiGet => "MultiGet",
            EndpointKind::DeleteById => "DeleteById",
            EndpointKind::DeleteByQuery => "DeleteByQuery",
            EndpointKind::Cursor => "Cursor",
            EndpointKind::Admin => "Admin",
            EndpointKind::Unknown => "Unknown",
        }
    }

    /// Parses a wire name; exact and case-sensitive, `None` for anything else.
    pub fn from_name(name: &str) -> Option<EndpointKind> {
        EndpointKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Dense slot number, `0..12`.
    pub(crate) const fn slot(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EndpointKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
