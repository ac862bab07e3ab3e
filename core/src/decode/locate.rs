//! Finds where the walk's errors are in the text, only when there are errors.
//!
//! serde_json does not expose positions to visitors, so the hot path records
//! a structural [`Site`] instead and this second pass, which runs only for
//! rejected documents, re-reads the document as borrowed raw values: a
//! `&RawValue` is a slice of the input, so its distance from the input's start
//! is the element's byte offset. The cost is one more parse of a document
//! that is being rejected anyway.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::walk::Site;

/// Byte offset of each site in `text`, where it can be found.
pub(crate) fn locate(text: &str, sites: &[&Site]) -> Vec<Option<usize>> {
    let base = text.as_ptr() as usize;
    let offset = |raw: &RawValue| raw.get().as_ptr() as usize - base;
    let root: Option<&RawValue> = serde_json::from_str(text).ok();
    let top = root.and_then(|r| entries(r.get()));
    let directives = top
        .as_ref()
        .and_then(|t| nth_value(t, "directives", 0))
        .and_then(|d| serde_json::from_str::<Vec<&RawValue>>(d.get()).ok());
    let mut item_entries: Vec<(usize, Vec<(String, &RawValue)>)> = Vec::new();

    sites
        .iter()
        .map(|site| match site {
            Site::Root => root.map(offset),
            Site::TopKey { key, nth } => top
                .as_ref()
                .and_then(|t| nth_value(t, key, *nth))
                .map(offset),
            Site::Item(i) => directives
                .as_ref()
                .and_then(|d| d.get(*i))
                .map(|r| offset(r)),
            Site::ItemKey { item, key, nth } => {
                let raw = directives.as_ref().and_then(|d| d.get(*item))?;
                if !item_entries.iter().any(|(i, _)| i == item) {
                    item_entries.push((*item, entries(raw.get()).unwrap_or_default()));
                }
                item_entries
                    .iter()
                    .find(|(i, _)| i == item)
                    .and_then(|(_, e)| nth_value(e, key, *nth))
                    .map(offset)
            }
        })
        .collect()
}

fn nth_value<'a>(
    entries: &[(String, &'a RawValue)],
    key: &str,
    nth: usize,
) -> Option<&'a RawValue> {
    entries
        .iter()
        .filter(|(k, _)| k == key)
        .nth(nth)
        .map(|(_, v)| *v)
}

/// The key/value pairs of an object, duplicates kept, values unparsed.
fn entries(text: &str) -> Option<Vec<(String, &RawValue)>> {
    let mut de = serde_json::Deserializer::from_str(text);
    de.deserialize_map(Entries).ok()
}

struct Entries;

impl<'de> Visitor<'de> for Entries {
    type Value = Vec<(String, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            out.push((key, map.next_value::<&RawValue>()?));
        }
        Ok(out)
    }
}
