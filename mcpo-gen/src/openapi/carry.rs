//! Carrying one tool schema into `components/schemas`.
//!
//! OpenAPI 3.1 schemas are JSON Schema 2020-12, so a tool schema is copied
//! keyword by keyword, with four kinds of change and no others:
//!
//! - root `$defs` / `definitions` become components of their own and every
//!   internal `$ref` (`#`, `#/$defs/X/...`, `#/definitions/X`, `#/properties/..`,
//!   `#anchor`, or the root's own `$id`) is rewritten to point at them;
//! - draft-04/07 spellings with a 2020-12 equivalent are translated (tuple
//!   `items` -> `prefixItems`, boolean `exclusiveMinimum`, `dependencies`);
//! - everything a 2020-12 meta-schema (or a validator's regex engine) would
//!   reject, plus `$schema`/`$id`/`$anchor` which would change how refs resolve
//!   in the merged document, moves under [`ORIGINAL_KEYWORDS`] verbatim, so a
//!   reviewer still sees it and the document stays valid; the proxy keeps
//!   enforcing the original schema from `mcp.lock.json`;
//! - a root input schema without `type` gets `"type": "object"`: MCP
//!   arguments are always an object (`{"$schema": draft-07}` alone means "any
//!   object").

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::defaults::default_conflicts;
use super::quarantine::{ORIGINAL_KEYWORDS, quarantine, quarantine_unusable_refs};
use super::regex::is_portable_pattern;
use crate::naming::{UniqueNames, camel_ident};
use crate::schema::document::keywords::{Holds, subschema_keyword};
use crate::schema::document::pointer::child;
use crate::schema::document::{Pointer, SchemaDocument};

/// Extension keyword replacing a "schema" that was not an object or boolean.
pub const INVALID_SCHEMA: &str = "x-invalid-schema";

const SIMPLE_TYPES: &[&str] = &[
    "array", "boolean", "integer", "null", "number", "object", "string",
];

const NON_NEGATIVE_INTEGER_KEYWORDS: &[&str] = &[
    "maxContains",
    "maxItems",
    "maxLength",
    "maxProperties",
    "minContains",
    "minItems",
    "minLength",
    "minProperties",
];

const STRING_KEYWORDS: &[&str] = &[
    "$comment",
    "contentEncoding",
    "contentMediaType",
    "description",
    "format",
    "title",
];

const BOOLEAN_KEYWORDS: &[&str] = &["deprecated", "readOnly", "uniqueItems", "writeOnly"];

/// Which part of a tool a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Input,
    Output,
}

impl Role {
    fn suffix(self) -> &'static str {
        match self {
            Role::Input => "Input",
            Role::Output => "Output",
        }
    }
}

/// A carried schema: its root component name and every component it made.
#[derive(Debug)]
pub struct Carried {
    pub root_component: String,
    pub components: Vec<(String, Value)>,
}

/// Carries `schema` (a tool's input or output schema) into components named
/// `{tool_camel}{Input|Output}` and `{tool_camel}{DefCamel}`, claiming the
/// names from `names` so they are unique in the whole document.
pub fn carry_tool_schema(
    schema: &Value,
    tool_camel: &str,
    role: Role,
    names: &mut UniqueNames,
) -> Carried {
    let root_component = names.claim(&format!("{tool_camel}{}", role.suffix()));
    let mut root = match schema {
        Value::Object(map) => map.clone(),
        Value::Bool(true) if role == Role::Input => Map::new(),
        Value::Bool(_) => {
            return Carried {
                components: vec![(root_component.clone(), schema.clone())],
                root_component,
            };
        }
        other => {
            let mut map = Map::new();
            map.insert(INVALID_SCHEMA.to_string(), other.clone());
            map
        }
    };

    let original_root = Value::Object(root.clone());
    let context = RefContext::new(&original_root, tool_camel, &root_component, names);
    let mut components = Vec::new();

    // Definitions leave the root; what remains is the root component.
    let mut definitions = Vec::new();
    for keyword in [DefsKeyword::Defs, DefsKeyword::Definitions] {
        if root.get(keyword.as_str()).is_some_and(Value::is_object)
            && let Some(Value::Object(defs)) = root.remove(keyword.as_str())
        {
            for (name, definition) in defs {
                definitions.push((keyword, name, definition));
            }
        }
    }
    let mut root_schema = context.carry(Value::Object(root));
    if role == Role::Input
        && let Some(root_object) = root_schema.as_object_mut()
        && !root_object.contains_key("type")
    {
        // MCP arguments are always an object, whatever else the schema says.
        root_object.insert("type".to_string(), json!("object"));
        quarantine_conflicting_default(root_object);
    }
    components.push((root_component.clone(), root_schema));
    for (keyword, name, definition) in definitions {
        if let Some(component) = context.def_components.get(&(keyword, name)) {
            components.push((component.clone(), context.carry(definition)));
        }
    }
    context.quarantine_dangling_refs(&mut components);
    Carried {
        root_component,
        components,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DefsKeyword {
    Defs,
    Definitions,
}

impl DefsKeyword {
    fn as_str(self) -> &'static str {
        match self {
            DefsKeyword::Defs => "$defs",
            DefsKeyword::Definitions => "definitions",
        }
    }

    fn parse(token: &str) -> Option<Self> {
        match token {
            "$defs" => Some(DefsKeyword::Defs),
            "definitions" => Some(DefsKeyword::Definitions),
            _ => None,
        }
    }
}

/// What rewriting `$ref`s inside one tool schema needs to know.
struct RefContext<'a> {
    /// The original schema: refs resolve in it, and pointers that pass
    /// through translated keywords (tuple `items`) are re-mapped along it.
    document: SchemaDocument<'a>,
    root_component: String,
    def_components: BTreeMap<(DefsKeyword, String), String>,
    /// Rewritten ref -> the tool's own spelling, to quarantine it as written.
    originals: RefCell<BTreeMap<String, String>>,
}

impl<'a> RefContext<'a> {
    fn new(
        original_root: &'a Value,
        tool_camel: &str,
        root_component: &str,
        names: &mut UniqueNames,
    ) -> Self {
        let empty = Map::new();
        let root = original_root.as_object().unwrap_or(&empty);
        let mut def_components = BTreeMap::new();
        for keyword in [DefsKeyword::Defs, DefsKeyword::Definitions] {
            if let Some(defs) = root.get(keyword.as_str()).and_then(Value::as_object) {
                // Sorted whatever the map's order, so claims are deterministic.
                let mut def_names: Vec<&String> = defs.keys().collect();
                def_names.sort();
                for name in def_names {
                    let wanted = format!("{tool_camel}{}", camel_ident(name));
                    let component = names.claim(wanted.trim_start_matches("r#"));
                    def_components.insert((keyword, name.clone()), component);
                }
            }
        }
        RefContext {
            document: SchemaDocument::new(original_root),
            root_component: root_component.to_string(),
            def_components,
            originals: RefCell::new(BTreeMap::new()),
        }
    }

    /// Refs that point at nothing once the schema is laid out (a pointer
    /// into a keyword that was quarantined or never existed) or only at
    /// themselves: quarantined in the tool's own spelling. Every rewritten
    /// ref targets this tool's components, so they are all that's needed.
    fn quarantine_dangling_refs(&self, components: &mut [(String, Value)]) {
        let schemas: Map<String, Value> = components.iter().cloned().collect();
        let mut layout = json!({"components": {"schemas": schemas}});
        let originals = self.originals.borrow();
        let original_of = |reference: &str| {
            originals
                .get(reference)
                .cloned()
                .unwrap_or_else(|| reference.to_string())
        };
        quarantine_unusable_refs(&mut layout, &original_of);
        for (name, schema) in components.iter_mut() {
            if let Some(fixed) = layout
                .get_mut("components")
                .and_then(|c| c.get_mut("schemas"))
                .and_then(|schemas| schemas.get_mut(name.as_str()))
            {
                *schema = fixed.take();
            }
        }
    }

    /// The document-level `$ref` for a ref written inside the tool schema, or
    /// `None` when it points outside the schema (it is then quarantined).
    fn rewrite_ref(&self, reference: &str) -> Option<String> {
        let rewritten = self.rewrite_ref_uncached(reference)?;
        self.originals
            .borrow_mut()
            .entry(rewritten.clone())
            .or_insert_with(|| reference.to_string());
        Some(rewritten)
    }

    fn rewrite_ref_uncached(&self, reference: &str) -> Option<String> {
        let resolved = self.document.resolve(reference).ok()?;
        let tokens = self.translate_tokens(resolved.pointer.tokens());
        if let [first, name, rest @ ..] = tokens.as_slice()
            && let Some(keyword) = DefsKeyword::parse(first)
            && let Some(component) = self.def_components.get(&(keyword, name.clone()))
        {
            return Some(component_ref(component, rest));
        }
        Some(component_ref(&self.root_component, &tokens))
    }

    /// Re-maps pointer tokens through draft-07 tuple `items` (now
    /// `prefixItems`) and its `additionalItems` (now `items`), walking the
    /// original schema alongside.
    fn translate_tokens(&self, tokens: &[String]) -> Vec<String> {
        let mut translated = Vec::with_capacity(tokens.len());
        let mut here = Some(self.document.root());
        for token in tokens {
            let tuple_items = here
                .and_then(|schema| schema.get("items"))
                .is_some_and(Value::is_array);
            let renamed = match token.as_str() {
                "items" if tuple_items => "prefixItems".to_string(),
                "additionalItems" if tuple_items => "items".to_string(),
                _ => token.clone(),
            };
            translated.push(renamed);
            here = here.and_then(|value| child(value, token));
        }
        translated
    }

    /// Carries one schema value (any JSON) to a valid 2020-12 schema.
    fn carry(&self, value: Value) -> Value {
        match value {
            Value::Bool(_) => value,
            Value::Object(map) => Value::Object(self.carry_object(map)),
            other => {
                let mut map = Map::new();
                map.insert(INVALID_SCHEMA.to_string(), other);
                Value::Object(map)
            }
        }
    }

    fn carry_list(&self, value: Value) -> Result<Value, Value> {
        match value {
            Value::Array(items) => Ok(Value::Array(
                items.into_iter().map(|item| self.carry(item)).collect(),
            )),
            other => Err(other),
        }
    }

    fn carry_map(&self, value: Value) -> Result<Value, Value> {
        let Value::Object(entries) = value else {
            return Err(value);
        };
        let mut carried = Map::new();
        for (name, schema) in entries {
            carried.insert(name, self.carry(schema));
        }
        Ok(Value::Object(carried))
    }

    fn carry_object(&self, map: Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        let mut original = Map::new();
        let tuple_items = map.get("items").is_some_and(Value::is_array);
        let mut minimum_flags: Vec<(&str, bool)> = Vec::new();

        for (keyword, value) in map {
            let holds = subschema_keyword(&keyword).map(|entry| entry.holds);
            match keyword.as_str() {
                "$schema" | "$id" | "$anchor" | "$vocabulary" => {
                    original.insert(keyword, value);
                }
                "$ref" => match value.as_str().and_then(|r| self.rewrite_ref(r)) {
                    Some(rewritten) => {
                        out.insert(keyword, Value::String(rewritten));
                    }
                    None => {
                        original.insert(keyword, value);
                    }
                },
                "$dynamicRef" | "$dynamicAnchor" | "$recursiveRef" => {
                    if value.is_string() {
                        out.insert(keyword, value);
                    } else {
                        original.insert(keyword, value);
                    }
                }
                "$recursiveAnchor" => {
                    keep_if(&mut out, &mut original, keyword, value, Value::is_boolean)
                }
                "items" if tuple_items => match self.carry_list(value) {
                    Ok(list)
                        if !out.contains_key("prefixItems")
                            && list.as_array().is_some_and(|items| !items.is_empty()) =>
                    {
                        out.insert("prefixItems".to_string(), list);
                    }
                    Ok(list) | Err(list) => {
                        original.insert(keyword, list);
                    }
                },
                "additionalItems" if tuple_items => {
                    out.insert("items".to_string(), self.carry(value));
                }
                "prefixItems" if tuple_items => {
                    // Both spellings at once: the draft-07 one wins above.
                    original.insert(keyword, value);
                }
                "patternProperties" => match value {
                    // Keys are regexes: keep those a validator can compile.
                    Value::Object(entries) => {
                        let mut portable = Map::new();
                        let mut rejected = Map::new();
                        for (pattern, schema) in entries {
                            if is_portable_pattern(&pattern) {
                                portable.insert(pattern, self.carry(schema));
                            } else {
                                rejected.insert(pattern, schema);
                            }
                        }
                        out.insert(keyword.clone(), Value::Object(portable));
                        if !rejected.is_empty() {
                            original.insert(keyword, Value::Object(rejected));
                        }
                    }
                    other => {
                        original.insert(keyword, other);
                    }
                },
                "dependencies" => self.carry_dependencies(value, &mut out, &mut original),
                _ if matches!(holds, Some(Holds::Schema | Holds::SchemaOrList)) => {
                    out.insert(keyword, self.carry(value));
                }
                _ if holds == Some(Holds::SchemaList) => match self.carry_list(value) {
                    // 2020-12 requires these lists to be non-empty.
                    Ok(Value::Array(list)) if !list.is_empty() => {
                        out.insert(keyword, Value::Array(list));
                    }
                    Ok(rejected) | Err(rejected) => {
                        original.insert(keyword, rejected);
                    }
                },
                _ if holds == Some(Holds::SchemaMap) => match self.carry_map(value) {
                    Ok(carried) => {
                        out.insert(keyword, carried);
                    }
                    Err(rejected) => {
                        original.insert(keyword, rejected);
                    }
                },
                "type" => keep_if(&mut out, &mut original, keyword, value, is_valid_type),
                "enum" | "examples" => {
                    keep_if(&mut out, &mut original, keyword, value, Value::is_array)
                }
                "required" => match unique_strings(&value) {
                    Some(names) => {
                        out.insert(keyword, names);
                    }
                    None => {
                        original.insert(keyword, value);
                    }
                },
                "dependentRequired" => keep_if(&mut out, &mut original, keyword, value, |v| {
                    v.as_object().is_some_and(|m| {
                        m.values()
                            .all(|names| unique_strings(names).as_ref() == Some(names))
                    })
                }),
                "multipleOf" => keep_if(&mut out, &mut original, keyword, value, |v| {
                    v.as_f64().is_some_and(|n| n > 0.0)
                }),
                "minimum" | "maximum" => {
                    keep_if(&mut out, &mut original, keyword, value, Value::is_number)
                }
                "exclusiveMinimum" | "exclusiveMaximum" => match value {
                    Value::Number(_) => {
                        out.insert(keyword, value);
                    }
                    // Draft-04: a flag on minimum/maximum, translated below.
                    Value::Bool(flag) => minimum_flags.push((
                        if keyword == "exclusiveMinimum" {
                            "exclusiveMinimum"
                        } else {
                            "exclusiveMaximum"
                        },
                        flag,
                    )),
                    other => {
                        original.insert(keyword, other);
                    }
                },
                k if NON_NEGATIVE_INTEGER_KEYWORDS.contains(&k) => keep_if(
                    &mut out,
                    &mut original,
                    keyword,
                    value,
                    is_non_negative_integer,
                ),
                k if STRING_KEYWORDS.contains(&k) => {
                    keep_if(&mut out, &mut original, keyword, value, Value::is_string)
                }
                k if BOOLEAN_KEYWORDS.contains(&k) => {
                    keep_if(&mut out, &mut original, keyword, value, Value::is_boolean)
                }
                "pattern" => keep_if(&mut out, &mut original, keyword, value, |v| {
                    v.as_str().is_some_and(is_portable_pattern)
                }),
                "discriminator" => keep_if(
                    &mut out,
                    &mut original,
                    keyword,
                    value,
                    is_valid_discriminator,
                ),
                "externalDocs" => keep_if(&mut out, &mut original, keyword, value, |v| {
                    v.get("url").is_some_and(Value::is_string)
                }),
                "xml" => keep_if(&mut out, &mut original, keyword, value, is_valid_xml),
                ORIGINAL_KEYWORDS => {
                    // The source already used our extension name: keep it, nested.
                    original.insert(keyword, value);
                }
                // const, default, example and unknown keywords: verbatim.
                _ => {
                    out.insert(keyword, value);
                }
            }
        }

        for (keyword, flag) in minimum_flags {
            let bound = if keyword == "exclusiveMinimum" {
                "minimum"
            } else {
                "maximum"
            };
            if flag && !out.contains_key(keyword) {
                if let Some(limit) = out.remove(bound) {
                    out.insert(keyword.to_string(), limit);
                } else {
                    original.insert(keyword.to_string(), Value::Bool(flag));
                }
            }
            // `false` (or a flag beside a numeric twin) adds nothing.
        }

        if !original.is_empty() {
            out.insert(ORIGINAL_KEYWORDS.to_string(), Value::Object(original));
        }
        quarantine_conflicting_default(&mut out);
        out
    }

    /// Draft-07 `dependencies` split into 2020-12 `dependentRequired` (name
    /// lists) and `dependentSchemas` (schemas), unless those are present.
    fn carry_dependencies(
        &self,
        value: Value,
        out: &mut Map<String, Value>,
        original: &mut Map<String, Value>,
    ) {
        let Value::Object(entries) = value else {
            original.insert("dependencies".to_string(), value);
            return;
        };
        let mut required = Map::new();
        let mut schemas = Map::new();
        let mut rejected = Map::new();
        for (name, dependency) in entries {
            match dependency {
                Value::Array(_) => match unique_strings(&dependency) {
                    Some(names) => {
                        required.insert(name, names);
                    }
                    None => {
                        rejected.insert(name, dependency);
                    }
                },
                Value::Object(_) | Value::Bool(_) => {
                    schemas.insert(name, self.carry(dependency));
                }
                other => {
                    rejected.insert(name, other);
                }
            }
        }
        for (keyword, translated) in [
            ("dependentRequired", required),
            ("dependentSchemas", schemas),
        ] {
            if translated.is_empty() {
                continue;
            }
            match out.get_mut(keyword).and_then(Value::as_object_mut) {
                // Both spellings present: the 2020-12 one wins per name.
                Some(existing) => {
                    for (name, dependency) in translated {
                        existing.entry(name).or_insert(dependency);
                    }
                }
                None => {
                    out.insert(keyword.to_string(), Value::Object(translated));
                }
            }
        }
        if !rejected.is_empty() {
            original.insert("dependencies".to_string(), Value::Object(rejected));
        }
    }
}

/// Moves a `default` that certainly violates its own schema under
/// [`ORIGINAL_KEYWORDS`] (validators and Swagger UI trip over it).
fn quarantine_conflicting_default(schema: &mut Map<String, Value>) {
    let conflicts = schema
        .get("default")
        .is_some_and(|default| default_conflicts(default, schema));
    if !conflicts {
        return;
    }
    if let Some(default) = schema.remove("default") {
        quarantine(schema, "default", default);
    }
}

/// `#/components/schemas/{component}/{tokens...}`, every token escaped for a
/// JSON Pointer and then for a URI fragment.
fn component_ref(component: &str, tokens: &[String]) -> String {
    let below = Pointer::from_tokens(tokens.to_vec()).to_fragment();
    format!(
        "#/components/schemas/{component}{}",
        below.trim_start_matches('#')
    )
}

fn keep_if(
    out: &mut Map<String, Value>,
    original: &mut Map<String, Value>,
    keyword: String,
    value: Value,
    is_valid: impl Fn(&Value) -> bool,
) {
    if is_valid(&value) {
        out.insert(keyword, value);
    } else {
        original.insert(keyword, value);
    }
}

fn is_valid_type(value: &Value) -> bool {
    let is_simple = |v: &Value| v.as_str().is_some_and(|t| SIMPLE_TYPES.contains(&t));
    match value {
        Value::String(_) => is_simple(value),
        Value::Array(types) => {
            !types.is_empty()
                && types.iter().all(is_simple)
                && types
                    .iter()
                    .enumerate()
                    .all(|(index, t)| !types[..index].contains(t))
        }
        _ => false,
    }
}

fn is_non_negative_integer(value: &Value) -> bool {
    value.as_u64().is_some()
        || value
            .as_f64()
            .is_some_and(|n| n >= 0.0 && n.fract() == 0.0 && n.is_finite())
}

/// A list of strings with duplicates removed (same meaning for `required`),
/// or `None` when it is not a list of strings.
fn unique_strings(value: &Value) -> Option<Value> {
    let items = value.as_array()?;
    let mut unique: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        if !item.is_string() {
            return None;
        }
        if !unique.contains(item) {
            unique.push(item.clone());
        }
    }
    Some(Value::Array(unique))
}

/// The OAS 3.1 base dialect's Discriminator Object.
fn is_valid_discriminator(value: &Value) -> bool {
    value.get("propertyName").is_some_and(Value::is_string)
        && value.get("mapping").is_none_or(|mapping| {
            mapping
                .as_object()
                .is_some_and(|m| m.values().all(Value::is_string))
        })
}

/// The OAS 3.1 XML Object.
fn is_valid_xml(value: &Value) -> bool {
    let Some(xml) = value.as_object() else {
        return false;
    };
    xml.iter().all(|(key, field)| match key.as_str() {
        "name" | "namespace" | "prefix" => field.is_string(),
        "attribute" | "wrapped" => field.is_boolean(),
        _ => true,
    })
}

#[cfg(test)]
mod tests;
