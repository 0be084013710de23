//! The canonical JSON of a lock: keys sorted, so that the same lock is the
//! same bytes, and its hashes.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// A copy with every object's keys in sorted order. Sorting is explicit
/// because serde_json keeps insertion order when its `preserve_order`
/// feature is on, as it is whenever this crate is built beside the
/// generated proxies (cargo unifies features across a workspace).
/// `value` with every object's keys sorted (whatever serde_json's map order).
pub fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut entries: Vec<(&String, &Value)> = fields.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(key, field)| (key.clone(), sorted_keys(field)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

/// Pretty JSON with sorted keys, two-space indent and a trailing newline.
/// Sorted keys, two-space indent, trailing newline: the form of every JSON
/// file mcpo-gen writes.
pub fn canonical_pretty(value: &Value) -> String {
    let mut text =
        serde_json::to_string_pretty(&sorted_keys(value)).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// Compact JSON with sorted keys: the input of per-tool hashes.
/// Sorted keys, no whitespace: what tool hashes are computed over.
pub fn canonical_compact(value: &Value) -> String {
    serde_json::to_string(&sorted_keys(value)).expect("a JSON value always serializes")
}

/// Lower-case hex SHA-256 of `text`.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}
