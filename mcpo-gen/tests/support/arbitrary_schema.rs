//! Deterministic pseudo-random JSON for fuzzing the generator, shared by the
//! openapi unit tests (`#[path]`) and tests/openapi_validity.rs.

use serde_json::{Value, json};

fn next(seed: &mut u64, bound: u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) % bound
}

/// Deterministic pseudo-random JSON, biased towards schema keywords and
/// values that are valid in one draft and not in another.
pub fn arbitrary_schema(seed: &mut u64, depth: u32) -> Value {
    const KEYS: &[&str] = &[
        "type",
        "properties",
        "items",
        "$ref",
        "$defs",
        "definitions",
        "anyOf",
        "allOf",
        "oneOf",
        "not",
        "required",
        "enum",
        "const",
        "default",
        "pattern",
        "minimum",
        "exclusiveMinimum",
        "additionalProperties",
        "prefixItems",
        "dependencies",
        "patternProperties",
        "$schema",
        "$id",
        "$anchor",
        "discriminator",
        "format",
        "minLength",
        "a",
    ];
    const STRINGS: &[&str] = &[
        "object",
        "string",
        "integer",
        "#",
        "#/$defs/a",
        "#/definitions/a",
        "#/properties/a",
        "#/properties/a/items/0",
        "#a",
        "a",
        "((",
        "^\\p{L}$",
        "^[a-z]+$",
        "http://x/y#/z",
        "#/$defs/a/properties/a",
        "",
        "email",
        "date-time",
        "http://json-schema.org/draft-07/schema#",
    ];
    let kind = if depth == 0 {
        next(seed, 4)
    } else {
        next(seed, 8)
    };
    match kind {
        0 => Value::Null,
        1 => json!(next(seed, 2) == 0),
        2 => json!(next(seed, 20) as i64 - 5),
        3 => json!(STRINGS[next(seed, STRINGS.len() as u64) as usize]),
        4..=6 => {
            let mut map = serde_json::Map::new();
            for _ in 0..next(seed, 5) {
                let key = KEYS[next(seed, KEYS.len() as u64) as usize];
                map.insert(key.to_string(), arbitrary_schema(seed, depth - 1));
            }
            Value::Object(map)
        }
        _ => Value::Array(
            (0..next(seed, 4))
                .map(|_| arbitrary_schema(seed, depth - 1))
                .collect(),
        ),
    }
}
