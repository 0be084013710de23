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

    fn compare_enum(
        &mut self,
        old: &Map<String, Value>,
        old_nullable: bool,
        new: &Map<String, Value>,
        new_nullable: bool,
        loc: &Loc,
    ) {
        let subject = self.subject(loc);
        let key_of = |map: &Map<String, Value>| {
            if map.contains_key("enum") {
                "enum"
            } else {
                "const"
            }
        };
        match (
            enum_values(old, old_nullable),
            enum_values(new, new_nullable),
        ) {
            (None, None) => {}
            (Some(before), Some(after)) => {
                let pointer = loc.pointer(key_of(new), true);
                for value in before.iter().filter(|value| !after.contains(value)) {
                    let rule =
                        self.for_side(rules::ENUM_VALUE_REMOVED, rules::OUTPUT_ENUM_VALUE_REMOVED);
                    self.emit(
                        rule,
                        pointer.clone(),
                        format!("{subject} no longer allows {value}"),
                        Some(value.clone()),
                        None,
                    );
                }
                for value in after.iter().filter(|value| !before.contains(value)) {
                    let rule =
                        self.for_side(rules::ENUM_VALUE_ADDED, rules::OUTPUT_ENUM_VALUE_ADDED);
                    self.emit(
                        rule,
                        pointer.clone(),
                        format!("{subject} now allows {value}"),
                        None,
                        Some(value.clone()),
                    );
                }
            }
            (None, Some(after)) => {
                let key = key_of(new);
                let message = format!(
                    "{subject} is now restricted to {}",
                    Value::Array(after.clone())
                );
                self.tightened(
                    loc.pointer(key, true),
                    message,
                    None,
                    Some(Value::Array(after)),
                );
            }
            (Some(before), None) => {
                let key = key_of(old);
                let message = format!(
                    "{subject} is no longer restricted to {}",
                    Value::Array(before.clone())
                );
                let pointer = loc.pointer(key, false);
                match self.side {
                    SchemaSide::Input => self.emit(
                        rules::CONSTRAINT_RELAXED,
                        pointer,
                        message,
                        Some(Value::Array(before)),
                        None,
                    ),
                    SchemaSide::Output => self.emit(
                        rules::OUTPUT_ENUM_VALUE_ADDED,
                        pointer,
                        message,
                        Some(Value::Array(before)),
                        None,
                    ),
                }
            }
        }
    }

    fn compare_bounds(&mut self, old: &Map<String, Value>, new: &Map<String, Value>, loc: &Loc) {
        let subject = self.subject(loc);
        let keys = LOWER_BOUNDS
            .iter()
            .map(|key| (*key, true))
            .chain(UPPER_BOUNDS.iter().map(|key| (*key, false)));
        for (key, is_lower) in keys {
            let (before, after) = (old.get(key), new.get(key));
            if before == after {
                continue;
            }
            let tighter = match (bound(before), bound(after)) {
                (Bound::Absent, Bound::Absent) | (Bound::Flag, Bound::Flag) => continue,
                (Bound::Absent, Bound::Number(_) | Bound::Flag) => true,
                (Bound::Number(_) | Bound::Flag, Bound::Absent) => false,
                (Bound::Number(before), Bound::Number(after)) => {
                    if is_lower {
                        after > before
                    } else {
                        after < before
                    }
                }
                _ => {
                    self.unclassified(
                        loc,
                        key,
                        "a bound whose form changed",
                        before.unwrap_or(&Value::Null),
                        after.unwrap_or(&Value::Null),
                    );
                    continue;
                }
            };
            let message = format!(
                "{subject} `{key}` {}: {} -> {}",
                if tighter { "tightened" } else { "relaxed" },
                compact_or_absent(before),
                compact_or_absent(after)
            );
            self.tighter_or_relaxed(
                tighter,
                loc.pointer(key, after.is_some()),
                message,
                before,
                after,
            );
        }
    }

    /// `pattern`, `format`, `multipleOf`, `uniqueItems`.
    fn compare_string_constraints(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
    ) {
        let subject = self.subject(loc);
        for key in ["pattern", "format", "multipleOf", "uniqueItems"] {
            let (before, after) = (old.get(key), new.get(key));
            // `uniqueItems: false` means the same as leaving it out.
            let (before, after) = if key == "uniqueItems" {
                (unique_items_set(before), unique_items_set(after))
            } else {
                (before, after)
            };
            let tighter = match (before, after) {
                (None, None) => continue,
                (Some(before), Some(after)) if before == after => continue,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(before), Some(after)) => match (before.as_f64(), after.as_f64()) {
                    // A multipleOf that divides the old one accepts a
                    // superset (6 -> 3); anything else may reject values.
                    (Some(before), Some(after)) if key == "multipleOf" && after != 0.0 => {
                        let ratio = before / after;
                        !(ratio.is_finite() && ratio.fract() == 0.0)
                    }
                    // A different pattern or format may reject values that
                    // passed: conservatively a tightening.
                    _ => true,
                },
            };
            let message = format!(
                "{subject} `{key}` {}: {} -> {}",
                if tighter { "tightened" } else { "relaxed" },
                compact_or_absent(before),
                compact_or_absent(after)
            );
            self.tighter_or_relaxed(
                tighter,
                loc.pointer(key, after.is_some()),
                message,
                before,
                after,
            );
        }
    }

    fn compare_properties(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        let empty = Map::new();
        let old_properties = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new_properties = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let (old_required, new_required) = (required_names(old), required_names(new));
        let names: BTreeSet<&str> = old_properties
            .keys()
            .chain(new_properties.keys())
            .map(String::as_str)
            .chain(old_required.iter().copied())
            .chain(new_required.iter().copied())
            .collect();
        let input = self.side == SchemaSide::Input;
        for name in names {
            let child = loc.property(name);
            let subject = self.subject(&child);
            let (was_required, is_required) =
                (old_required.contains(name), new_required.contains(name));
            match (old_properties.get(name), new_properties.get(name)) {
                (Some(before), Some(after)) => self.compare(before, after, &child, depth + 1),
                (Some(before), None) => {
                    let rule = if input {
                        rules::PROPERTY_REMOVED
                    } else {
                        rules::OUTPUT_PROPERTY_REMOVED
                    };
                    self.emit(
                        rule,
                        child.old_ptr.clone(),
                        format!("{subject} removed"),
                        Some(before.clone()),
                        None,
                    );
                    continue;
                }
                (None, Some(after)) => {
                    let (rule, kind) = match (input, is_required) {
                        (true, true) => (rules::REQUIRED_PROPERTY_ADDED, "required "),
                        (true, false) => (rules::OPTIONAL_PROPERTY_ADDED, "optional "),
                        (false, _) => (rules::OUTPUT_PROPERTY_ADDED, ""),
                    };
                    self.emit(
                        rule,
                        child.new_ptr.clone(),
                        format!("{kind}{subject} added"),
                        None,
                        Some(after.clone()),
                    );
                    continue;
                }
                (None, None) => {}
            }
            let pointer = child.new_ptr.clone();
            match (was_required, is_required) {
                (false, true) => {
                    let rule = if input {
                        rules::REQUIRED_PROPERTY_ADDED
                    } else {
                        rules::OUTPUT_PROPERTY_BECAME_REQUIRED
                    };
                    self.emit(
                        rule,
                        pointer,
                        format!("{subject} became required"),
                        None,
                        None,
                    );
                }
                (true, false) => {
                    let rule = if input {
                        rules::PROPERTY_BECAME_OPTIONAL
                    } else {
                        rules::OUTPUT_PROPERTY_BECAME_OPTIONAL
                    };
                    self.emit(
                        rule,
                        pointer,
                        format!("{subject} became optional"),
                        None,
                        None,
                    );
                }
                _ => {}
            }
        }
    }

    fn compare_additional_properties(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        let (before, after) = (
            old.get("additionalProperties"),
            new.get("additionalProperties"),
        );
        if before == after && !before.is_some_and(contains_ref) {
            return;
        }
        let closed = |value: Option<&Value>| matches!(value, Some(Value::Bool(false)));
        let subject = self.subject(loc);
        let pointer = loc.pointer("additionalProperties", after.is_some());
        match (closed(before), closed(after)) {
            (true, true) => {}
            (false, true) => self.tightened(
                pointer,
                format!("{subject} no longer accepts additional properties"),
                before.cloned(),
                after.cloned(),
            ),
            (true, false) => self.relaxed(
                pointer,
                format!("{subject} now accepts additional properties"),
                before.cloned(),
                after.cloned(),
            ),
            (false, false) => {
                let path = if loc.path.is_empty() {
                    "*".to_string()
                } else {
                    format!("{}.*", loc.path)
                };
                let child = loc.child("/additionalProperties", path);
                self.compare(
                    before.unwrap_or(&ANY_SCHEMA),
                    after.unwrap_or(&ANY_SCHEMA),
                    &child,
                    depth + 1,
                );
            }
        }
    }

    fn compare_items(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        for key in ["items", "prefixItems"] {
            let (before, after) = (old.get(key), new.get(key));
            if before == after && !before.is_some_and(contains_ref) {
                continue;
            }
            match (before, after) {
                // Tuples (draft-07 `items: [...]`, 2020-12 `prefixItems`).
                (Some(Value::Array(before_items)), Some(Value::Array(after_items)))
                    if before_items.len() == after_items.len() =>
                {
                    for (index, (before_item, after_item)) in
                        before_items.iter().zip(after_items).enumerate()
                    {
                        let child =
                            loc.child(&format!("/{key}/{index}"), format!("{}[{index}]", loc.path));
                        self.compare(before_item, after_item, &child, depth + 1);
                    }
                }
                (Some(Value::Array(_)), _) | (_, Some(Value::Array(_))) => {
                    self.unclassified(
                        loc,
                        key,
                        "tuple items",
                        before.unwrap_or(&Value::Null),
                        after.unwrap_or(&Value::Null),
                    );
                }
                _ if key == "prefixItems" => {
                    self.unclassified(
                        loc,
                        key,
                        "prefixItems",
                        before.unwrap_or(&Value::Null),
                        after.unwrap_or(&Value::Null),
                    );
                }
                // A missing `items` accepts any item.
                _ => {
                    let child = loc.child("/items", format!("{}[]", loc.path));
                    self.compare(
                        before.unwrap_or(&ANY_SCHEMA),
                        after.unwrap_or(&ANY_SCHEMA),
                        &child,
                        depth + 1,
                    );
                }
            }
        }
    }

    /// `anyOf`/`oneOf`/`allOf` left after nullable unwrapping. Branch lists
    /// of equal length are compared pairwise; otherwise a pure superset or
    /// subset of branches is classified and anything else is unclassified.
    fn compare_composition(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        for key in ["anyOf", "oneOf", "allOf"] {
            let (before, after) = (old.get(key), new.get(key));
            if before == after && !before.is_some_and(contains_ref) {
                continue;
            }
            let (Some(Value::Array(before_branches)), Some(Value::Array(after_branches))) =
                (before, after)
            else {
                self.unclassified(
                    loc,
                    key,
                    "a composition keyword added or removed",
                    before.unwrap_or(&Value::Null),
                    after.unwrap_or(&Value::Null),
                );
                continue;
            };
            if before_branches.len() == after_branches.len() {
                for (index, (before_branch, after_branch)) in
                    before_branches.iter().zip(after_branches).enumerate()
                {
                    let child = loc.child(&format!("/{key}/{index}"), loc.path.clone());
                    self.compare(before_branch, after_branch, &child, depth + 1);
                }
                continue;
            }
            let gained = before_branches
                .iter()
                .all(|branch| after_branches.contains(branch));
            let lost = after_branches
                .iter()
                .all(|branch| before_branches.contains(branch));
            let subject = self.subject(loc);
            let (before_value, after_value) = (before.cloned(), after.cloned());
            let pointer = loc.pointer(key, true);
            // More `anyOf`/`oneOf` branches accept more; more `allOf`
            // branches accept less.
            match (key == "allOf", gained, lost) {
                (false, true, _) => self.type_widened_at(
                    pointer,
                    format!("{subject} `{key}` gained alternatives"),
                    before_value,
                    after_value,
                ),
                (false, _, true) => self.type_narrowed_at(
                    pointer,
                    format!("{subject} `{key}` lost alternatives"),
                    before_value,
                    after_value,
                ),
                (true, true, _) => self.tightened(
                    pointer,
                    format!("{subject} `allOf` gained conditions"),
                    before_value,
                    after_value,
                ),
                (true, _, true) => self.relaxed(
                    pointer,
                    format!("{subject} `allOf` lost conditions"),
                    before_value,
                    after_value,
                ),
                _ => self.unclassified(
                    loc,
                    key,
                    "composition branches",
                    before.unwrap_or(&Value::Null),
                    after.unwrap_or(&Value::Null),
                ),
            }
        }
    }

    /// "input `a.b`" / "output schema": how messages name a location.
    fn subject(&self, loc: &Loc) -> String {
        let side = match self.side {
            SchemaSide::Input => "input",
            SchemaSide::Output => "output",
        };
        if loc.path.is_empty() {
            format!("{side} schema")
        } else {
            format!("{side} property `{}`", loc.path)
        }
    }

    /// The rule for this side: input and output changes are classified apart.
    fn for_side(&self, input: Rule, output: Rule) -> Rule {
        match self.side {
            SchemaSide::Input => input,
            SchemaSide::Output => output,
        }
    }

    fn emit(
        &mut self,
        rule: Rule,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        self.out.push(Change::from_rule(
            rule,
            Some(self.tool),
            Some(pointer),
            message,
            old,
            new,
        ));
    }

    fn unclassified(&mut self, loc: &Loc, key: &str, what: &str, old: &Value, new: &Value) {
        let message = format!("{} changed ({what}): review by hand", self.subject(loc));
        self.emit(
            rules::SCHEMA_CHANGED,
            loc.pointer(key, true),
            message,
            Some(old.clone()),
            Some(new.clone()),
        );
    }

    fn type_widened(&mut self, loc: &Loc, message: String, old: &Value, new: &Value) {
        self.type_widened_at(
            loc.pointer("type", true),
            message,
            Some(old.clone()),
            Some(new.clone()),
        );
    }

    fn type_narrowed(&mut self, loc: &Loc, message: String, old: &Value, new: &Value) {
        self.type_narrowed_at(
            loc.pointer("type", true),
            message,
            Some(old.clone()),
            Some(new.clone()),
        );
    }

    fn type_widened_at(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(
            rules::PROPERTY_TYPE_WIDENED,
            rules::OUTPUT_PROPERTY_TYPE_CHANGED,
        );
        self.emit(rule, pointer, message, old, new);
    }

    fn type_narrowed_at(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(
            rules::PROPERTY_TYPE_CHANGED,
            rules::OUTPUT_PROPERTY_TYPE_NARROWED,
        );
        self.emit(rule, pointer, message, old, new);
    }

    fn tightened(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(
            rules::CONSTRAINT_TIGHTENED,
            rules::OUTPUT_CONSTRAINT_CHANGED,
        );
        self.emit(rule, pointer, message, old, new);
    }

    fn relaxed(
        &mut self,
        pointer: String,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) {
        let rule = self.for_side(rules::CONSTRAINT_RELAXED, rules::OUTPUT_CONSTRAINT_CHANGED);
        self.emit(rule, pointer, message, old, new);
    }

    fn tighter_or_relaxed(
        &mut self,
        tighter: bool,
        pointer: String,
        message: String,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        let (old, new) = (old.cloned(), new.cloned());
        if tighter {
            self.tightened(pointer, message, old, new);
        } else {
            self.relaxed(pointer, message, old, new);
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
