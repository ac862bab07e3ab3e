//! The single streaming pass over a syntactically valid document.
//!
//! serde_json drives the parse; these visitors check every value as it goes
//! by and record each problem with its JSON Pointer and a [`Site`] (where the
//! locator will find its line and column, should the document be rejected).
//! Nothing here returns early on a semantic error: the walk always finishes,
//! so one pass reports everything. Only a syntax error, which serde_json
//! raises, stops it. Directives are built only while the document is still
//! clean; after the first error the walk validates without allocating them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::fields::{self, Field};
use super::scalar::{KeySeed, ScalarSeed, Skip};
use crate::error::DIRECTIVE;
use crate::{Directive, ErrorCode, Limits, Target};

/// Where an error's position is, for the locator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Site {
    /// The document's first value character.
    Root,
    /// The value of the `nth` occurrence (0-based) of a top-level key.
    TopKey { key: String, nth: usize },
    /// The `{` (or first character) of the directive at this index.
    Item(usize),
    /// The value of the `nth` occurrence of a key inside a directive.
    ItemKey {
        item: usize,
        key: String,
        nth: usize,
    },
}

/// An error found by the walk, before its position is known.
#[derive(Debug)]
pub(crate) struct Pending {
    pub code: ErrorCode,
    pub path: String,
    pub field: &'static str,
    pub site: Site,
}

/// The walk's state: what it found so far.
pub(crate) struct Walk<'de, 'l> {
    limits: &'l Limits,
    pub errors: Vec<Pending>,
    pub truncated: bool,
    pub directives: Vec<Directive>,
    pub published_at: Option<u64>,
    ids: HashSet<Cow<'de, str>>,
}

impl<'de, 'l> Walk<'de, 'l> {
    pub(crate) fn new(limits: &'l Limits) -> Self {
        Walk {
            limits,
            errors: Vec::new(),
            truncated: false,
            directives: Vec::new(),
            published_at: None,
            ids: HashSet::new(),
        }
    }

    fn clean(&self) -> bool {
        self.errors.is_empty() && !self.truncated
    }

    fn report(&mut self, code: ErrorCode, path: String, field: &'static str, site: Site) {
        if self.errors.len() < self.limits.max_errors {
            self.errors.push(Pending {
                code,
                path,
                field,
                site,
            });
        } else {
            self.truncated = true;
        }
    }
}

/// RFC 6901 escaping of one reference token.
pub(crate) fn escape_token(key: &str) -> Cow<'_, str> {
    if key.contains(['~', '/']) {
        Cow::Owned(key.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(key)
    }
}

/// The whole document.
pub(crate) struct Document<'w, 'de, 'l>(pub &'w mut Walk<'de, 'l>);

impl<'de> DeserializeSeed<'de> for Document<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Implements "anything but an object is `not_an_object`" for a visitor,
/// draining compound values so serde_json's structure checks still run.
macro_rules! reject_non_objects {
    ($report:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            $report(self);
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            $report(self);
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            $report(self);
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            $report(self);
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            $report(self);
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            $report(self);
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            $report(self);
            while seq.next_element::<Skip>()?.is_some() {}
            Ok(())
        }
    };
}

impl<'de> Visitor<'de> for Document<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a directive set object")
    }

    reject_non_objects!(|s: Self| s.0.report(
        ErrorCode::NotAnObject,
        String::new(),
        "",
        Site::Root
    ));

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let walk = self.0;
        let mut directives_seen = 0usize;
        let mut published_seen = 0usize;
        let mut unknown: Vec<(String, usize)> = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key.as_ref() {
                "directives" => {
                    directives_seen += 1;
                    if directives_seen > 1 {
                        duplicate_top(walk, "directives", directives_seen - 1);
                        map.next_value::<Skip>()?;
                    } else {
                        map.next_value_seed(DirectiveList(&mut *walk))?;
                    }
                }
                "published_at" => {
                    published_seen += 1;
                    if published_seen > 1 {
                        duplicate_top(walk, "published_at", published_seen - 1);
                        map.next_value::<Skip>()?;
                    } else {
                        let v = map.next_value_seed(ScalarSeed)?;
                        match fields::published_at(&v) {
                            Ok(ms) => walk.published_at = Some(ms),
                            Err(code) => walk.report(
                                code,
                                "/published_at".into(),
                                "published_at",
                                Site::TopKey {
                                    key: "published_at".into(),
                                    nth: 0,
                                },
                            ),
                        }
                    }
                }
                other => {
                    let nth = bump(&mut unknown, other);
                    let code = if nth == 0 {
                        ErrorCode::UnknownField
                    } else {
                        ErrorCode::DuplicateKey
                    };
                    walk.report(
                        code,
                        format!("/{}", escape_token(other)),
                        "",
                        Site::TopKey {
                            key: other.to_owned(),
                            nth,
                        },
                    );
                    map.next_value::<Skip>()?;
                }
            }
        }
        if directives_seen == 0 {
            walk.report(
                ErrorCode::MissingDirectives,
                "/directives".into(),
                "directives",
                Site::Root,
            );
        }
        Ok(())
    }
}

fn duplicate_top(walk: &mut Walk<'_, '_>, key: &'static str, nth: usize) {
    walk.report(
        ErrorCode::DuplicateKey,
        format!("/{key}"),
        key,
        Site::TopKey {
            key: key.into(),
            nth,
        },
    );
}

/// Counts occurrences of an unknown key; returns how many came before.
fn bump(seen: &mut Vec<(String, usize)>, key: &str) -> usize {
    if let Some(entry) = seen.iter_mut().find(|(k, _)| k == key) {
        entry.1 += 1;
        entry.1 - 1
    } else {
        seen.push((key.to_owned(), 1));
        0
    }
}

/// The value of `directives`.
struct DirectiveList<'w, 'de, 'l>(&'w mut Walk<'de, 'l>);

impl<'de> DeserializeSeed<'de> for DirectiveList<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl DirectiveList<'_, '_, '_> {
    fn not_a_list(self) {
        self.0.report(
            ErrorCode::MissingDirectives,
            "/directives".into(),
            "directives",
            Site::TopKey {
                key: "directives".into(),
                nth: 0,
            },
        );
    }
}

impl<'de> Visitor<'de> for DirectiveList<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of directives")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.not_a_list();
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        self.not_a_list();
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        self.not_a_list();
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        self.not_a_list();
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        self.not_a_list();
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.not_a_list();
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.not_a_list();
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let walk = self.0;
        let max = walk.limits.max_directives;
        if let Some(hint) = seq.size_hint() {
            walk.directives.reserve(hint.min(max));
        }
        let mut item = 0usize;
        loop {
            if item == max {
                if seq.next_element::<Skip>()?.is_none() {
                    break;
                }
                walk.report(
                    ErrorCode::TooManyDirectives,
                    format!("/directives/{item}"),
                    "directives",
                    Site::Item(item),
                );
                while seq.next_element::<Skip>()?.is_some() {}
                break;
            }
            if seq
                .next_element_seed(Item {
                    walk: &mut *walk,
                    item,
                })?
                .is_none()
            {
                break;
            }
            item += 1;
        }
        Ok(())
    }
}

/// One element of `directives`.
struct Item<'w, 'de, 'l> {
    walk: &'w mut Walk<'de, 'l>,
    item: usize,
}

impl<'de> DeserializeSeed<'de> for Item<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Item<'_, '_, '_> {
    fn field_error(&mut self, code: ErrorCode, field: Field, nth: usize) {
        let item = self.item;
        self.walk.report(
            code,
            format!("/directives/{item}/{}", field.name()),
            field.name(),
            Site::ItemKey {
                item,
                key: field.name().into(),
                nth,
            },
        );
    }

    fn missing(&mut self, code: ErrorCode, field: Field) {
        let item = self.item;
        self.walk.report(
            code,
            format!("/directives/{item}/{}", field.name()),
            field.name(),
            Site::Item(item),
        );
    }
}

impl<'de> Visitor<'de> for Item<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a directive object")
    }

    reject_non_objects!(|s: Self| {
        let item = s.item;
        s.walk.report(
            ErrorCode::NotAnObject,
            format!("/directives/{item}"),
            DIRECTIVE,
            Site::Item(item),
        )
    });

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let limits = *self.walk.limits;
        let mut seen = 0u16;
        let mut repeats = [0usize; 10];
        let mut unknown: Vec<(String, usize)> = Vec::new();
        let mut id: Option<Cow<'de, str>> = None;
        let mut level = None;
        let mut ttl_secs = None;
        let mut target = Target::default();
        let mut sample_per_mille = 1000u16;
        let mut ring_buffer = false;
        let mut capture = false;

        while let Some(key) = map.next_key_seed(KeySeed)? {
            let Some(field) = Field::from_key(&key) else {
                let nth = bump(&mut unknown, &key);
                let code = if nth == 0 {
                    ErrorCode::UnknownField
                } else {
                    ErrorCode::DuplicateKey
                };
                let item = self.item;
                self.walk.report(
                    code,
                    format!("/directives/{item}/{}", escape_token(&key)),
                    DIRECTIVE,
                    Site::ItemKey {
                        item,
                        key: key.into_owned(),
                        nth,
                    },
                );
                map.next_value::<Skip>()?;
                continue;
            };
            if seen & field.bit() != 0 {
                let slot = field as usize;
                repeats[slot] += 1;
                self.field_error(ErrorCode::DuplicateKey, field, repeats[slot]);
                map.next_value::<Skip>()?;
                continue;
            }
            seen |= field.bit();
            let value = map.next_value_seed(ScalarSeed)?;
            let outcome = match field {
                Field::Id => fields::id(value, &limits).and_then(|s| {
                    if self.walk.ids.contains(s.as_ref()) {
                        Err(ErrorCode::DuplicateId)
                    } else {
                        self.walk.ids.insert(s.clone());
                        id = Some(s);
                        Ok(())
                    }
                }),
                Field::Level => fields::level(&value).map(|l| level = Some(l)),
                Field::TtlSecs => fields::ttl_secs(&value, &limits).map(|t| ttl_secs = Some(t)),
                Field::Tenant => fields::target(value, &limits).map(|t| target.tenant = Some(t)),
                Field::Index => fields::target(value, &limits).map(|t| target.index = Some(t)),
                Field::Principal => {
                    fields::target(value, &limits).map(|t| target.principal = Some(t))
                }
                Field::Endpoint => fields::endpoint(&value).map(|e| target.endpoint = Some(e)),
                Field::SamplePerMille => {
                    fields::sample_per_mille(&value).map(|s| sample_per_mille = s)
                }
                Field::RingBuffer => fields::flag(&value).map(|b| ring_buffer = b),
                Field::Capture => fields::flag(&value).map(|b| capture = b),
            };
            if let Err(code) = outcome {
                self.field_error(code, field, 0);
            }
        }

        if seen & Field::Id.bit() == 0 {
            self.missing(ErrorCode::MissingId, Field::Id);
        }
        if seen & Field::Level.bit() == 0 {
            self.missing(ErrorCode::MissingLevel, Field::Level);
        }
        if seen & Field::TtlSecs.bit() == 0 {
            self.missing(ErrorCode::MissingTtlSecs, Field::TtlSecs);
        }

        if self.walk.clean() {
            if let (Some(id), Some(level), Some(ttl_secs)) = (id, level, ttl_secs) {
                self.walk.directives.push(Directive {
                    id: id.into_owned(),
                    level,
                    target,
                    sample_per_mille,
                    ring_buffer,
                    capture,
                    ttl_secs,
                    // Anchored once the whole document (and its `published_at`) is read.
                    expires_at_ms: 0,
                });
            }
        }
        Ok(())
    }
}
