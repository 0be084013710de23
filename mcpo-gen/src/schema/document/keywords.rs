//! The one table of keywords whose values hold subschemas, across drafts.
//!
//! Tool schemas arrive in every draft from 04 to 2020-12, often without
//! `$schema`, so the table is the union of their spellings: reading a schema
//! through it finds every subschema whichever draft it was written in. The
//! shape of a value decides between a draft's readings where they differ
//! (`items` is a list of schemas before 2020-12, one schema after).

use serde_json::{Map, Value};

use super::pointer::Pointer;

/// How a keyword's value holds subschemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holds {
    /// One subschema.
    Schema,
    /// A non-empty list of subschemas.
    SchemaList,
    /// Names (properties, patterns, definition names) to subschemas.
    SchemaMap,
    /// `items`: one subschema, or before 2020-12 a list (a tuple).
    SchemaOrList,
    /// Draft-04..07 `dependencies`: names to a subschema or to a list of
    /// property names.
    SchemaOrNamesMap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubschemaKeyword {
    pub name: &'static str,
    pub holds: Holds,
    /// A place for `$ref` targets only (`$defs`, `definitions`): its
    /// subschemas apply to nothing by themselves.
    pub definitions: bool,
    /// For a spelling older than 2020-12: the 2020-12 keyword it became.
    pub since_2020_12: Option<&'static str>,
}

const fn keyword(name: &'static str, holds: Holds) -> SubschemaKeyword {
    SubschemaKeyword {
        name,
        holds,
        definitions: false,
        since_2020_12: None,
    }
}

/// Every keyword whose value holds subschemas, in any draft.
pub const SUBSCHEMA_KEYWORDS: &[SubschemaKeyword] = &[
    keyword("additionalProperties", Holds::Schema),
    keyword("contains", Holds::Schema),
    keyword("contentSchema", Holds::Schema),
    keyword("else", Holds::Schema),
    keyword("if", Holds::Schema),
    keyword("not", Holds::Schema),
    keyword("propertyNames", Holds::Schema),
    keyword("then", Holds::Schema),
    keyword("unevaluatedItems", Holds::Schema),
    keyword("unevaluatedProperties", Holds::Schema),
    keyword("items", Holds::SchemaOrList),
    SubschemaKeyword {
        // The schema for items after an `items` tuple.
        since_2020_12: Some("items"),
        ..keyword("additionalItems", Holds::Schema)
    },
    keyword("allOf", Holds::SchemaList),
    keyword("anyOf", Holds::SchemaList),
    keyword("oneOf", Holds::SchemaList),
    keyword("prefixItems", Holds::SchemaList),
    keyword("dependentSchemas", Holds::SchemaMap),
    keyword("patternProperties", Holds::SchemaMap),
    keyword("properties", Holds::SchemaMap),
    SubschemaKeyword {
        // Split into `dependentSchemas` and `dependentRequired`.
        since_2020_12: Some("dependentSchemas"),
        ..keyword("dependencies", Holds::SchemaOrNamesMap)
    },
    SubschemaKeyword {
        definitions: true,
        ..keyword("$defs", Holds::SchemaMap)
    },
    SubschemaKeyword {
        definitions: true,
        since_2020_12: Some("$defs"),
        ..keyword("definitions", Holds::SchemaMap)
    },
];

/// The table entry of `name`, if its value holds subschemas.
pub fn subschema_keyword(name: &str) -> Option<&'static SubschemaKeyword> {
    SUBSCHEMA_KEYWORDS
        .iter()
        .find(|keyword| keyword.name == name)
}

/// `$defs` or `definitions`.
pub fn is_definitions(name: &str) -> bool {
    subschema_keyword(name).is_some_and(|keyword| keyword.definitions)
}

/// The subschemas directly inside `keyword: value`, each with the pointer
/// token that leads to it from the value (`None`: the value itself).
pub fn subschemas_of<'v>(keyword: &str, value: &'v Value) -> Vec<(Option<String>, &'v Value)> {
    let Some(entry) = subschema_keyword(keyword) else {
        return Vec::new();
    };
    let list = |value: &'v Value| -> Vec<(Option<String>, &'v Value)> {
        value
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(index, item)| (Some(index.to_string()), item))
            .collect()
    };
    let map = |value: &'v Value, names_too: bool| -> Vec<(Option<String>, &'v Value)> {
        value
            .as_object()
            .into_iter()
            .flatten()
            // `dependencies` mixes schemas with lists of names.
            .filter(|(_, item)| !(names_too && item.is_array()))
            .map(|(name, item)| (Some(name.clone()), item))
            .collect()
    };
    match entry.holds {
        Holds::Schema => vec![(None, value)],
        Holds::SchemaOrList if value.is_array() => list(value),
        Holds::SchemaOrList => vec![(None, value)],
        Holds::SchemaList => list(value),
        Holds::SchemaMap => map(value, false),
        Holds::SchemaOrNamesMap => map(value, true),
    }
}

/// Calls `visit` with the pointer (relative to `schema`) and value of every
/// schema position below `schema`, `schema` itself first. Values that are
/// not schemas (garbage where a schema belongs) are visited too.
pub fn for_each_subschema<'v>(schema: &'v Value, visit: &mut dyn FnMut(&Pointer, &'v Value)) {
    walk(schema, &mut Pointer::root(), visit);
}

fn walk<'v>(schema: &'v Value, at: &mut Pointer, visit: &mut dyn FnMut(&Pointer, &'v Value)) {
    visit(at, schema);
    let Some(object) = schema.as_object() else {
        return;
    };
    for (keyword, value) in object {
        for (token, subschema) in subschemas_of(keyword, value) {
            at.push(keyword.clone());
            if let Some(token) = &token {
                at.push(token.clone());
            }
            walk(subschema, at, visit);
            if token.is_some() {
                at.pop();
            }
            at.pop();
        }
    }
}

/// Calls `visit` on every schema object below (and including) `schema`,
/// parents before their children.
pub fn for_each_subschema_object_mut(
    schema: &mut Value,
    visit: &mut dyn FnMut(&mut Map<String, Value>),
) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    visit(object);
    for (keyword, value) in object.iter_mut() {
        let Some(entry) = subschema_keyword(keyword) else {
            continue;
        };
        match (entry.holds, value) {
            (Holds::SchemaList | Holds::SchemaOrList, Value::Array(items)) => {
                for item in items {
                    for_each_subschema_object_mut(item, visit);
                }
            }
            (Holds::SchemaMap | Holds::SchemaOrNamesMap, Value::Object(entries)) => {
                for item in entries.values_mut() {
                    for_each_subschema_object_mut(item, visit);
                }
            }
            (Holds::Schema | Holds::SchemaOrList, value) => {
                for_each_subschema_object_mut(value, visit)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_schema_position_is_visited() {
        let schema = json!({
            "properties": {"a": {"items": [{"$anchor": "t"}]}},
            "dependencies": {"x": ["y"], "z": {"not": true}},
            "anyOf": [{}],
            "enum": [{"type": "object"}]
        });
        let mut seen = Vec::new();
        for_each_subschema(&schema, &mut |at, _| seen.push(at.to_string()));
        seen.sort();
        assert_eq!(
            seen,
            [
                "",
                "/anyOf/0",
                "/dependencies/z",
                "/dependencies/z/not",
                "/properties/a",
                "/properties/a/items/0"
            ]
        );
    }

    #[test]
    fn mutable_walk_reaches_the_same_objects() {
        let mut schema = json!({
            "properties": {"a": {"items": [{"x": 1}], "additionalItems": {"x": 2}}},
            "dependencies": {"d": {"x": 3}, "n": ["a"]},
            "$defs": {"b": {"not": {"x": 4}}},
            "enum": [{"x": 5}]
        });
        let mut seen = Vec::new();
        for_each_subschema_object_mut(&mut schema, &mut |object| {
            if let Some(x) = object.get("x") {
                seen.push(x.clone());
            }
        });
        seen.sort_by_key(|x| x.as_i64());
        assert_eq!(seen, [json!(1), json!(2), json!(3), json!(4)]);
    }

    #[test]
    fn legacy_spellings_name_their_2020_12_keyword() {
        assert!(is_definitions("definitions") && is_definitions("$defs"));
        assert!(!is_definitions("properties"));
        let modern = |name| subschema_keyword(name).and_then(|k| k.since_2020_12);
        assert_eq!(modern("definitions"), Some("$defs"));
        assert_eq!(modern("dependencies"), Some("dependentSchemas"));
        assert_eq!(modern("prefixItems"), None);
    }
}
