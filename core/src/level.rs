//! Diagnostics levels, in increasing order of detail.
//!
//! The order is the contract: when several directives apply to one request,
//! the highest level wins, and "highest" is this enum's `Ord`. The wire names
//! are the variant names, matched exactly and case-sensitively, as upstream.

use serde::{Serialize, Serializer};

/// How much diagnostic detail a request gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DiagLevel {
    /// Nothing beyond the always-on minimum.
    #[default]
    Off,
    /// Shape-only spans: ids, names, sizes.
    Shape,
    /// Shapes plus per-stage timing.
    ShapeTiming,
    /// Shapes, timing, and the before/after shape diff of the rewrite (never values).
    ShapeRewriteDiff,
}

impl DiagLevel {
    /// Every level, lowest first.
    pub const ALL: [DiagLevel; 4] = [
        DiagLevel::Off,
        DiagLevel::Shape,
        DiagLevel::ShapeTiming,
        DiagLevel::ShapeRewriteDiff,
    ];

    /// The wire name, which is exactly the variant name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DiagLevel::Off => "Off",
            DiagLevel::Shape => "Shape",
            DiagLevel::ShapeTiming => "ShapeTiming",
            DiagLevel::ShapeRewriteDiff => "ShapeRewriteDiff",
        }
    }

    /// Parses a wire name; exact and case-sensitive, `None` for anything else.
    pub fn from_name(name: &str) -> Option<DiagLevel> {
        DiagLevel::ALL.into_iter().find(|l| l.as_str() == name)
    }
}

impl std::fmt::Display for DiagLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DiagLevel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
