//! Structural comparison of two JSON Schemas (a tool's input or output
//! schema before and after).
//!
//! The comparison walks both schemas in parallel: `$ref`s into the same
//! document are resolved on each side (each pair of targets is compared once,
//! which also stops recursive schemas), and the common "nullable" spelling
//! `anyOf: [X, {"type": "null"}]` is read as X plus null so that it compares
//! equal to `type: [X, "null"]`. Every keyword that differs is classified;
//! one this module does not understand yields a `schema-changed` warning at
//! its pointer, never silence.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Map, Value};

use super::Change;
use super::rules::{self, Rule};
use super::values::{compact_or_absent, union_keys};
use crate::schema::document::keywords::{for_each_subschema, is_definitions};
use crate::schema::document::{SchemaDocument, escape_token};

mod findings;
mod structure;
mod values;

/// Which way data flows through the schema, which decides what "breaking" is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SchemaSide {
    /// Clients send it: accepting less is breaking.
    Input,
    /// Clients read it: producing something new is breaking.
    Output,
}

/// Bounds the walk on adversarial inputs (deep nesting, long `$ref` chains).
const MAX_DEPTH: usize = 64;
const MAX_REF_HOPS: usize = 32;

/// Compares `old` and `new`, the input or output schema of tool `tool`,
/// appending classified changes to `out`.
pub(crate) fn diff_schema(
    tool: &str,
    side: SchemaSide,
    old: &Value,
    new: &Value,
    out: &mut Vec<Change>,
) {
    let base = match side {
        SchemaSide::Input => "/inputSchema",
        SchemaSide::Output => "/outputSchema",
    };
    let mut differ = SchemaDiff {
        tool,
        side,
        base,
        old_document: SchemaDocument::new(old),
        new_document: SchemaDocument::new(new),
        compared_refs: HashSet::new(),
        out,
    };
    let root = Loc {
        old_ptr: base.to_string(),
        new_ptr: base.to_string(),
        path: String::new(),
        is_root: true,
        old_origins: BTreeMap::new(),
        new_origins: BTreeMap::new(),
    };
    differ.compare(old, new, &root, 0);
}

/// Where the walk is: a pointer on each side (they differ once `$ref`s
/// resolve to different places) and a dotted path for messages.
#[derive(Debug, Clone)]
struct Loc {
    old_ptr: String,
    new_ptr: String,
    /// `address.zip`, `tags[]`, `labels.*`; empty at the root.
    path: String,
    /// MCP tool schemas always describe an object, even without `type`.
    is_root: bool,
    /// Keywords that came from beside a `$ref` or a nullable `anyOf`, with
    /// the pointer of the object they really sit in.
    old_origins: BTreeMap<String, String>,
    new_origins: BTreeMap<String, String>,
}

impl Loc {
    fn child(&self, pointer_suffix: &str, path: String) -> Loc {
        Loc {
            old_ptr: format!("{}{pointer_suffix}", self.old_ptr),
            new_ptr: format!("{}{pointer_suffix}", self.new_ptr),
            path,
            is_root: false,
            old_origins: BTreeMap::new(),
            new_origins: BTreeMap::new(),
        }
    }

    fn property(&self, name: &str) -> Loc {
        let path = if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        };
        self.child(&format!("/properties/{}", escape_token(name)), path)
    }

    /// Pointer to `key` on the side where it exists (old when it was removed).
    fn pointer(&self, key: &str, exists_in_new: bool) -> String {
        let (base, origins) = if exists_in_new {
            (&self.new_ptr, &self.new_origins)
        } else {
            (&self.old_ptr, &self.old_origins)
        };
        let base = origins.get(key).unwrap_or(base);
        if key.is_empty() {
            base.clone()
        } else {
            format!("{base}/{}", escape_token(key))
        }
    }
}

/// A schema after following `$ref`s and unwrapping a nullable `anyOf`.
struct Node<'v> {
    value: Cow<'v, Value>,
    pointer: String,
    /// Set when the node came through a `$ref` (so it may be reached again):
    /// the targets and the keywords beside each `$ref`, the cycle-guard key.
    ref_key: Option<String>,
    /// Keywords overlaid from an enclosing object, and that object's pointer.
    origins: BTreeMap<String, String>,
    /// A `$ref` that could not be followed (external, or dangling).
    unresolved_ref: bool,
    /// Was `anyOf`/`oneOf` of this schema and `{"type": "null"}`.
    nullable: bool,
}

struct SchemaDiff<'a, 'o> {
    tool: &'a str,
    side: SchemaSide,
    base: &'static str,
    old_document: SchemaDocument<'a>,
    new_document: SchemaDocument<'a>,
    compared_refs: HashSet<(Option<String>, Option<String>)>,
    out: &'o mut Vec<Change>,
}

// Type bits; `integer` is a subset of `number`.
const T_NULL: u8 = 1;
const T_BOOLEAN: u8 = 1 << 1;
const T_OBJECT: u8 = 1 << 2;
const T_ARRAY: u8 = 1 << 3;
const T_NUMBER: u8 = 1 << 4;
const T_STRING: u8 = 1 << 5;
const T_INTEGER: u8 = 1 << 6;
const T_ANY: u8 = T_NULL | T_BOOLEAN | T_OBJECT | T_ARRAY | T_NUMBER | T_STRING | T_INTEGER;
const TYPE_NAMES: &[(u8, &str)] = &[
    (T_STRING, "string"),
    (T_INTEGER, "integer"),
    (T_NUMBER, "number"),
    (T_BOOLEAN, "boolean"),
    (T_OBJECT, "object"),
    (T_ARRAY, "array"),
    (T_NULL, "null"),
];

/// Lower bounds (raising one accepts less) and upper bounds (lowering one
/// accepts less).
const LOWER_BOUNDS: &[&str] = &[
    "minimum",
    "exclusiveMinimum",
    "minLength",
    "minItems",
    "minProperties",
    "minContains",
];
const UPPER_BOUNDS: &[&str] = &[
    "maximum",
    "exclusiveMaximum",
    "maxLength",
    "maxItems",
    "maxProperties",
    "maxContains",
];

/// Keywords with a dedicated comparison below.
const CLASSIFIED_KEYWORDS: &[&str] = &[
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "items",
    "prefixItems",
    "additionalProperties",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
    "description",
    "title",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "pattern",
    "format",
    "multipleOf",
    "uniqueItems",
];

/// Keywords that never change what is valid and that nobody reviews.
/// `$schema` is here because servers add or drop the draft-07 marker between
/// releases without changing anything else; only local `$ref`s are followed,
/// so the dialect does not change how this module reads a schema.
const IGNORED_KEYWORDS: &[&str] = &["examples", "example", "$comment", "$schema"];

/// Metadata keywords reported as `property-metadata-changed`.
const METADATA_KEYWORDS: &[&str] = &["title", "deprecated", "readOnly", "writeOnly"];

static ANY_SCHEMA: Value = Value::Bool(true);

impl SchemaDiff<'_, '_> {
    fn compare(&mut self, old: &Value, new: &Value, loc: &Loc, depth: usize) {
        if depth > MAX_DEPTH {
            if old != new {
                self.unclassified(loc, "", "nesting too deep to compare", old, new);
            }
            return;
        }
        let old_node = normalize(&self.old_document, old, &loc.old_ptr, self.base);
        let new_node = normalize(&self.new_document, new, &loc.new_ptr, self.base);
        // Each pair of `$ref` targets (with the same keywords beside the
        // refs) is compared once: shared definitions are reported once and
        // recursive schemas terminate.
        if (old_node.ref_key.is_some() || new_node.ref_key.is_some())
            && !self
                .compared_refs
                .insert((old_node.ref_key.clone(), new_node.ref_key.clone()))
        {
            return;
        }
        let loc = Loc {
            old_ptr: old_node.pointer.clone(),
            new_ptr: new_node.pointer.clone(),
            path: loc.path.clone(),
            is_root: loc.is_root,
            old_origins: old_node.origins.clone(),
            new_origins: new_node.origins.clone(),
        };
        let (old_value, new_value) = (old_node.value.as_ref(), new_node.value.as_ref());
        if old_value == new_value
            && old_node.nullable == new_node.nullable
            && !contains_ref(old_value)
        {
            return;
        }
        if old_node.unresolved_ref || new_node.unresolved_ref {
            if old_value != new_value {
                self.unclassified(
                    &loc,
                    "",
                    "a $ref this tool cannot follow",
                    old_value,
                    new_value,
                );
            }
            return;
        }
        let (old_map, new_map) = match (schema_map(old_value), schema_map(new_value)) {
            (SchemaShape::Map(old_map), SchemaShape::Map(new_map)) => (old_map, new_map),
            (SchemaShape::Nothing, SchemaShape::Nothing) => return,
            (SchemaShape::Nothing, SchemaShape::Map(_)) => {
                let message = format!(
                    "{} accepted no value and now accepts some",
                    self.subject(&loc)
                );
                self.type_widened(&loc, message, old_value, new_value);
                return;
            }
            (SchemaShape::Map(_), SchemaShape::Nothing) => {
                let message = format!("{} now accepts no value at all", self.subject(&loc));
                self.type_narrowed(&loc, message, old_value, new_value);
                return;
            }
            _ => {
                self.unclassified(&loc, "", "not a valid schema", old_value, new_value);
                return;
            }
        };
        let (old_map, new_map) = (old_map.as_ref(), new_map.as_ref());

        self.compare_metadata(old_map, new_map, &loc);
        let old_types = type_set(old_map, old_node.nullable, loc.is_root);
        let new_types = type_set(new_map, new_node.nullable, loc.is_root);
        if old_types != new_types {
            let subject = self.subject(&loc);
            let change = |verb: &str| {
                format!(
                    "{subject} type {verb}: {} -> {}",
                    type_names(old_types),
                    type_names(new_types)
                )
            };
            let (old_type, new_type) = (
                Value::from(type_names(old_types)),
                Value::from(type_names(new_types)),
            );
            if covers(new_types, old_types) {
                self.type_widened(&loc, change("widened"), &old_type, &new_type);
            } else if covers(old_types, new_types) {
                self.type_narrowed(&loc, change("narrowed"), &old_type, &new_type);
            } else {
                // Disjoint types: the old type's constraints and properties
                // no longer mean anything, so stop here.
                let rule = self.for_side(
                    rules::PROPERTY_TYPE_CHANGED,
                    rules::OUTPUT_PROPERTY_TYPE_CHANGED,
                );
                self.emit(
                    rule,
                    loc.pointer("type", true),
                    change("changed"),
                    Some(old_type),
                    Some(new_type),
                );
                return;
            }
        }
        self.compare_enum(old_map, old_node.nullable, new_map, new_node.nullable, &loc);
        self.compare_bounds(old_map, new_map, &loc);
        self.compare_string_constraints(old_map, new_map, &loc);
        self.compare_properties(old_map, new_map, &loc, depth);
        self.compare_additional_properties(old_map, new_map, &loc, depth);
        self.compare_items(old_map, new_map, &loc, depth);
        self.compare_composition(old_map, new_map, &loc, depth);
        for key in union_keys(old_map, new_map) {
            // Definitions are compared where `$ref`s lead into them.
            if CLASSIFIED_KEYWORDS.contains(&key)
                || is_definitions(key)
                || IGNORED_KEYWORDS.contains(&key)
                || LOWER_BOUNDS.contains(&key)
                || UPPER_BOUNDS.contains(&key)
            {
                continue;
            }
            let (before, after) = (old_map.get(key), new_map.get(key));
            if before != after {
                let message = format!("{} keyword `{key}` changed", self.subject(&loc));
                self.emit(
                    rules::SCHEMA_CHANGED,
                    loc.pointer(key, after.is_some()),
                    message,
                    before.cloned(),
                    after.cloned(),
                );
            }
        }
    }

    fn compare_metadata(&mut self, old: &Map<String, Value>, new: &Map<String, Value>, loc: &Loc) {
        let subject = self.subject(loc);
        let (before, after) = (old.get("description"), new.get("description"));
        if before != after {
            self.emit(
                rules::PROPERTY_DESCRIPTION_CHANGED,
                loc.pointer("description", after.is_some()),
                format!("{subject} description changed"),
                before.cloned(),
                after.cloned(),
            );
        }
        for key in METADATA_KEYWORDS {
            let (before, after) = (old.get(*key), new.get(*key));
            if before != after {
                self.emit(
                    rules::PROPERTY_METADATA_CHANGED,
                    loc.pointer(key, after.is_some()),
                    format!(
                        "{subject} `{key}` changed: {} -> {}",
                        compact_or_absent(before),
                        compact_or_absent(after)
                    ),
                    before.cloned(),
                    after.cloned(),
                );
            }
        }
        let (before, after) = (old.get("default"), new.get("default"));
        if before != after {
            self.emit(
                rules::DEFAULT_CHANGED,
                loc.pointer("default", after.is_some()),
                format!(
                    "{subject} default changed: {} -> {}",
                    compact_or_absent(before),
                    compact_or_absent(after)
                ),
                before.cloned(),
                after.cloned(),
            );
        }
    }
}

/// Follows local `$ref`s and unwraps `anyOf`/`oneOf: [X, {"type": "null"}]`
/// until neither applies. Keywords beside a `$ref` or beside the nullable
/// `anyOf` (description, default, ...) are kept on top of the target.
fn normalize<'v, 'd: 'v>(
    document: &SchemaDocument<'d>,
    value: &'v Value,
    pointer: &str,
    base: &str,
) -> Node<'v> {
    let mut node = Node {
        value: Cow::Borrowed(value),
        pointer: pointer.to_string(),
        ref_key: None,
        origins: BTreeMap::new(),
        unresolved_ref: false,
        nullable: false,
    };
    for _ in 0..MAX_REF_HOPS {
        let Some(map) = node.value.as_object() else {
            break;
        };
        if let Some(reference) = map.get("$ref") {
            let Some((target, target_pointer)) = reference
                .as_str()
                .and_then(|reference| document.resolve(reference).ok())
                .map(|resolved| {
                    let target: &'v Value = resolved.value;
                    (target, format!("{base}{}", resolved.pointer))
                })
            else {
                node.unresolved_ref = true;
                break;
            };
            let siblings: Map<String, Value> = map
                .iter()
                .filter(|(key, _)| key.as_str() != "$ref")
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            let key = node.ref_key.take().unwrap_or_default();
            node.ref_key = Some(format!(
                "{key}{target_pointer} {}\n",
                Value::Object(siblings.clone())
            ));
            record_origins(&mut node.origins, &siblings, &node.pointer);
            node.value = overlay(target, siblings);
            node.pointer = target_pointer;
            continue;
        }
        if let Some((keyword, index, branch)) = nullable_branch(map) {
            let siblings: Map<String, Value> = map
                .iter()
                .filter(|(key, _)| key.as_str() != keyword)
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect();
            let branch = branch.clone();
            record_origins(&mut node.origins, &siblings, &node.pointer);
            node.pointer = format!("{}/{keyword}/{index}", node.pointer);
            node.value = Cow::Owned(overlay(&branch, siblings).into_owned());
            node.nullable = true;
            continue;
        }
        break;
    }
    // Out of hops on a `$ref` chain (a cycle of refs): not comparable.
    if node.value.get("$ref").is_some() {
        node.unresolved_ref = true;
    }
    node
}

/// Notes that `siblings` sit in the object at `pointer`, unless an outer
/// layer already provided them (outer keywords win).
fn record_origins(
    origins: &mut BTreeMap<String, String>,
    siblings: &Map<String, Value>,
    pointer: &str,
) {
    for key in siblings.keys() {
        origins
            .entry(key.clone())
            .or_insert_with(|| pointer.to_string());
    }
}

/// `target` with `siblings` on top (siblings win).
fn overlay<'v>(target: &'v Value, siblings: Map<String, Value>) -> Cow<'v, Value> {
    if siblings.is_empty() {
        return Cow::Borrowed(target);
    }
    match target {
        Value::Object(map) => {
            let mut merged = map.clone();
            merged.extend(siblings);
            Cow::Owned(Value::Object(merged))
        }
        // `false` stays "nothing" whatever its annotations say.
        Value::Bool(false) => Cow::Borrowed(target),
        _ => Cow::Owned(Value::Object(siblings)),
    }
}

/// For `anyOf`/`oneOf` made of one schema plus `{"type": "null"}` branches
/// (and no `type` beside it), returns the keyword, the index and the schema.
fn nullable_branch(map: &Map<String, Value>) -> Option<(&'static str, usize, &Value)> {
    if map.contains_key("type") {
        return None;
    }
    for keyword in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = map.get(keyword) else {
            continue;
        };
        let is_null = |branch: &Value| {
            branch.as_object().is_some_and(|branch| {
                branch.get("type").and_then(Value::as_str) == Some("null")
                    && branch
                        .keys()
                        .all(|key| matches!(key.as_str(), "type" | "title" | "description"))
            })
        };
        let mut others = branches
            .iter()
            .enumerate()
            .filter(|(_, branch)| !is_null(branch));
        let has_null = branches.iter().any(is_null);
        if let (true, Some((index, branch)), None) = (has_null, others.next(), others.next()) {
            return Some((keyword, index, branch));
        }
    }
    None
}

/// Whether a schema (or a list of them) has a `$ref` in a schema position:
/// equal text may still mean different targets.
fn contains_ref(value: &Value) -> bool {
    if let Value::Array(items) = value {
        return items.iter().any(contains_ref);
    }
    let mut found = false;
    for_each_subschema(value, &mut |_, schema| {
        found |= schema.get("$ref").is_some();
    });
    found
}

enum SchemaShape<'v> {
    Map(Cow<'v, Map<String, Value>>),
    /// `false`: no value is valid.
    Nothing,
    Invalid,
}

fn schema_map(value: &Value) -> SchemaShape<'_> {
    match value {
        Value::Object(map) => SchemaShape::Map(Cow::Borrowed(map)),
        Value::Bool(true) => SchemaShape::Map(Cow::Owned(Map::new())),
        Value::Bool(false) => SchemaShape::Nothing,
        _ => SchemaShape::Invalid,
    }
}

fn type_set(map: &Map<String, Value>, nullable: bool, is_root: bool) -> u8 {
    let bit = |name: &str| {
        TYPE_NAMES
            .iter()
            .find(|(_, known)| *known == name)
            .map_or(T_ANY, |(bit, _)| *bit)
    };
    let types = match map.get("type") {
        None if is_root => T_OBJECT,
        None => T_ANY,
        Some(Value::String(name)) => bit(name),
        Some(Value::Array(names)) => names
            .iter()
            .map(|name| name.as_str().map_or(T_ANY, bit))
            .fold(0, |set, bit| set | bit),
        Some(_) => T_ANY,
    };
    if nullable { types | T_NULL } else { types }
}

/// Whether every value of a type in `inner` is a value of a type in `outer`.
fn covers(outer: u8, inner: u8) -> bool {
    let inner = if outer & T_NUMBER != 0 {
        inner & !T_INTEGER
    } else {
        inner
    };
    inner & !outer == 0
}

fn type_names(types: u8) -> String {
    if types == T_ANY {
        return "any".to_string();
    }
    let names: Vec<&str> = TYPE_NAMES
        .iter()
        .filter(|(bit, _)| types & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    match names.as_slice() {
        [] => "nothing".to_string(),
        [one] => (*one).to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// The allowed values from `enum` (or `const`), with `null` added when the
/// schema came from a nullable `anyOf`.
fn enum_values(map: &Map<String, Value>, nullable: bool) -> Option<Vec<Value>> {
    let mut values = match (map.get("enum"), map.get("const")) {
        (Some(Value::Array(values)), _) => values.clone(),
        (_, Some(value)) => vec![value.clone()],
        _ => return None,
    };
    if nullable && !values.contains(&Value::Null) {
        values.push(Value::Null);
    }
    Some(values)
}

fn required_names(map: &Map<String, Value>) -> BTreeSet<&str> {
    map.get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A numeric bound, or a draft-04 boolean `exclusiveMinimum`/`Maximum`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    Absent,
    Number(f64),
    Flag,
    Other,
}

fn bound(value: Option<&Value>) -> Bound {
    match value {
        None | Some(Value::Bool(false)) => Bound::Absent,
        Some(Value::Bool(true)) => Bound::Flag,
        Some(value) => value.as_f64().map_or(Bound::Other, Bound::Number),
    }
}

fn unique_items_set(value: Option<&Value>) -> Option<&Value> {
    match value {
        None | Some(Value::Bool(false)) => None,
        Some(value) => Some(value),
    }
}

#[cfg(test)]
mod ref_tests {
    use serde_json::json;

    use super::*;

    fn changes(old: Value, new: Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        diff_schema("t", SchemaSide::Input, &old, &new, &mut out);
        out.into_iter()
            .map(|change| (change.id.to_string(), change.pointer.unwrap_or_default()))
            .collect()
    }

    fn with_item_type(reference: &str, type_name: &str) -> Value {
        json!({
            "type": "object",
            "properties": {"a": {"$ref": reference}},
            "$defs": {"Item": {"$anchor": "item", "type": type_name}, "a%ZZ": {"type": type_name}}
        })
    }

    #[test]
    fn anchors_are_followed_like_pointers() {
        for reference in ["#item", "#/$defs/Item"] {
            assert_eq!(
                changes(
                    with_item_type(reference, "string"),
                    with_item_type(reference, "integer")
                ),
                [(
                    "property-type-changed".to_string(),
                    "/inputSchema/$defs/Item/type".to_string()
                )],
                "{reference}"
            );
        }
    }

    #[test]
    fn bad_percent_escapes_read_as_the_validator_reads_them() {
        // `%ZZ` is no escape: the ref names `a%ZZ`.
        assert_eq!(
            changes(
                with_item_type("#/$defs/a%ZZ", "string"),
                with_item_type("#/$defs/a%ZZ", "integer")
            ),
            [(
                "property-type-changed".to_string(),
                "/inputSchema/$defs/a%ZZ/type".to_string()
            )]
        );
        // Not UTF-8 once decoded: no target (it used to name `$defs/%FF`).
        let old = json!({"properties": {"a": {"$ref": "#/$defs/%FF"}}, "$defs": {"%FF": {}}});
        let mut new = old.clone();
        new["properties"]["a"]["title"] = json!("A");
        assert_eq!(
            changes(old, new),
            [(
                "schema-changed".to_string(),
                "/inputSchema/properties/a".to_string()
            )]
        );
    }
}
