//! Small helpers shared by the lock, schema and surface classifiers: on JSON
//! values, and the rename hint of a removed or added item.

use serde_json::{Map, Value};

/// Keys of both maps, sorted, each once.
pub(crate) fn union_keys<'a>(
    old: &'a Map<String, Value>,
    new: &'a Map<String, Value>,
) -> Vec<&'a str> {
    let mut keys: Vec<&str> = old.keys().chain(new.keys()).map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

pub(crate) fn compact_or_absent(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_string(), Value::to_string)
}

/// ` (possible rename to `b`: same schemas)`, or nothing without names.
pub(crate) fn rename_hint(preposition: &str, names: &[String], same: &str) -> String {
    if names.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = names
        .iter()
        .take(3)
        .map(|name| format!("`{name}`"))
        .collect();
    let more = if names.len() > 3 { ", ..." } else { "" };
    format!(
        " (possible rename {preposition} {}{more}: {same})",
        listed.join(", ")
    )
}
