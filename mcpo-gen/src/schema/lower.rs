//! JSON Schema -> [`ir`](super::ir).
//!
//! The guiding rule: a generated type must accept *at least* every value the
//! schema accepts (the proxy may check requests against the type, and the
//! jsonschema validation does the precise checking). So a type may be more
//! lenient than its schema (a `String` for a string with a `pattern`), never
//! stricter. Whenever a part of a schema can't be typed that way it becomes
//! `serde_json::Value`. Every function here is total: no panics on any input.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::document::{Pointer, SchemaDocument};
use super::ir::{Field, Item, ItemId, ItemKind, StringVariant, TypeRef, Variant};
use crate::naming::{UniqueNames, camel_ident, snake_ident};

mod docs;
mod objects;
mod unions;

use docs::{documented, schema_docs};

/// Nesting deeper than this becomes `Value` (keeps recursion bounded on
/// pathological input; real schemas are a handful of levels deep).
const MAX_DEPTH: usize = 40;
/// Longest closed `prefixItems` still rendered as a tuple (serde's limit is 16).
const MAX_TUPLE_LEN: usize = 12;
/// Most `allOf` parts merged into one struct.
const MAX_ALL_OF_PARTS: usize = 64;
/// Longest JSON value quoted in a doc comment.
const MAX_DOC_VALUE_LEN: usize = 160;

/// Names the emitted `tools.rs` already uses, plus the std prelude: a
/// generated type must never shadow them.
const RESERVED_TYPE_NAMES: &[&str] = &[
    "App",
    "ToolFuture",
    "Request",
    "State",
    "Response",
    "Router",
    "Json",
    "Value",
    "Map",
    "Serialize",
    "Deserialize",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Vec",
    "String",
    "Box",
    "Default",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "Sized",
    "Unpin",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "AsyncFn",
    "AsyncFnMut",
    "AsyncFnOnce",
    "ToOwned",
    "ToString",
    "PartialEq",
    "PartialOrd",
    "Eq",
    "Ord",
    "AsRef",
    "AsMut",
    "Into",
    "From",
    "TryFrom",
    "TryInto",
    "Iterator",
    "IntoIterator",
    "Extend",
    "DoubleEndedIterator",
    "ExactSizeIterator",
    "FromIterator",
    "Future",
    "IntoFuture",
    "Debug",
    "Hash",
    "BTreeMap",
    "HashMap",
];

/// A JSON Schema primitive type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

type Kinds = BTreeSet<Kind>;

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "string" => Kind::String,
            "array" => Kind::Array,
            "object" => Kind::Object,
            _ => return None,
        })
    }

    fn of_value(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Integer,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    /// The variant name used in untagged enums.
    fn variant_name(self) -> &'static str {
        match self {
            Kind::Null => "Null",
            Kind::Boolean => "Boolean",
            Kind::Integer => "Integer",
            Kind::Number => "Number",
            Kind::String => "String",
            Kind::Array => "Array",
            Kind::Object => "Object",
        }
    }

    /// [`Kind::primitive`], narrowed by `schema`'s own bounds: an integer
    /// that cannot be negative is a `u64`, so it takes all of that range.
    fn primitive_in(self, schema: &Map<String, Value>) -> Option<TypeRef> {
        let not_negative = |keyword| {
            schema
                .get(keyword)
                .and_then(Value::as_f64)
                .is_some_and(|bound| bound >= 0.0)
        };
        match self {
            Kind::Integer if not_negative("minimum") || not_negative("exclusiveMinimum") => {
                Some(TypeRef::Unsigned)
            }
            other => other.primitive(),
        }
    }

    fn primitive(self) -> Option<TypeRef> {
        match self {
            Kind::Boolean => Some(TypeRef::Boolean),
            Kind::Integer => Some(TypeRef::Integer),
            Kind::Number => Some(TypeRef::Number),
            Kind::String => Some(TypeRef::String),
            Kind::Null | Kind::Array | Kind::Object => None,
        }
    }
}

/// What a schema's `type` keyword says.
enum Declared {
    Absent,
    /// Unknown type names or a non-string/array `type`: can't be trusted.
    Invalid,
    Kinds(Kinds),
}

fn declared_kinds(schema: &Map<String, Value>) -> Declared {
    match schema.get("type") {
        None => Declared::Absent,
        Some(Value::String(name)) => match Kind::parse(name) {
            Some(kind) => Declared::Kinds([kind].into()),
            None => Declared::Invalid,
        },
        Some(Value::Array(names)) => {
            let mut kinds = Kinds::new();
            for name in names {
                match name.as_str().and_then(Kind::parse) {
                    Some(kind) => kinds.insert(kind),
                    None => return Declared::Invalid,
                };
            }
            Declared::Kinds(kinds)
        }
        Some(_) => Declared::Invalid,
    }
}

/// A type name from camel-case parts. Underscores only come from keyword
/// escapes (`Self_`) and would trip `non_camel_case_types`, so they go.
pub fn type_name(parts: &[&str]) -> String {
    let mut name: String = parts
        .iter()
        .flat_map(|part| part.trim_start_matches("r#").chars())
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    if name.is_empty() {
        name.push_str("Value");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'V');
    }
    if name == "Self" {
        name.push_str("Value");
    }
    name
}

/// Where a schema being lowered came from, so that a `$ref` back to it
/// (recursion) can name the item before it is finished.
#[derive(Debug, Clone, Default)]
struct Site {
    /// JSON pointer of the schema inside its document, when reached by `$ref`.
    pointer: Option<String>,
    /// An enclosing `anyOf [.., null]` already made it nullable.
    nullable: bool,
}

impl Site {
    fn nullable(&self, nullable: bool) -> Site {
        Site {
            pointer: self.pointer.clone(),
            nullable: self.nullable || nullable,
        }
    }
}

enum RefState {
    /// Being lowered; `Some` once the target has claimed its item.
    InProgress(Option<TypeRef>),
    Done(TypeRef),
}

/// One schema document (a tool's input or output schema): the root `$ref`s
/// resolve against, and what has been lowered from it.
struct Document<'a> {
    schema: SchemaDocument<'a>,
    tool_camel: String,
    refs: HashMap<String, RefState>,
    kinds: HashMap<String, Option<Kinds>>,
}

impl<'a> Document<'a> {
    /// Resolves a reference inside the document (pointers, anchors, `$id`s)
    /// to its target's JSON pointer, the key every spelling of it shares.
    fn resolve(&self, reference: &str) -> Option<(String, &'a Value)> {
        let resolved = self.schema.resolve(reference).ok()?;
        Some((resolved.pointer.to_string(), resolved.value))
    }

    /// Follows `$ref` chains to a schema that is not itself a reference.
    fn deref(&self, mut schema: &'a Value) -> Option<(&'a Map<String, Value>, Option<String>)> {
        let mut pointer = None;
        for _ in 0..MAX_DEPTH {
            let object = schema.as_object()?;
            match object.get("$ref") {
                None => return Some((object, pointer)),
                Some(reference) => {
                    let (target_pointer, target) = self.resolve(reference.as_str()?)?;
                    pointer = Some(target_pointer);
                    schema = target;
                }
            }
        }
        None
    }

    /// The name hint of a referenced schema: `{Tool}{Def}`.
    fn ref_hint(&self, pointer: &str) -> String {
        let pointer = Pointer::parse(pointer).unwrap_or_default();
        let def = type_name(&[&camel_ident(pointer.last().unwrap_or_default())]);
        if def.starts_with(&self.tool_camel) {
            def
        } else {
            type_name(&[&self.tool_camel, &def])
        }
    }
}

/// Lowers many schemas into one shared item list with globally unique names.
pub struct Lowerer {
    pub items: Vec<Item>,
    names: UniqueNames,
}

impl Default for Lowerer {
    fn default() -> Self {
        Self::new()
    }
}

impl Lowerer {
    pub fn new() -> Self {
        let mut names = UniqueNames::new();
        for reserved in RESERVED_TYPE_NAMES {
            names.reserve(reserved);
        }
        Lowerer {
            items: Vec::new(),
            names,
        }
    }

    /// Lowers a tool's input or output schema. The root is always a JSON
    /// object (MCP arguments and `structuredContent` are objects), so an
    /// untyped root is read as an object and an untypable one becomes
    /// `serde_json::Map`. `heading` becomes the first doc line of the root item.
    pub fn lower_root(
        &mut self,
        schema: &Value,
        tool_camel: &str,
        suffix: &str,
        heading: &str,
    ) -> TypeRef {
        let mut document = Document {
            schema: SchemaDocument::new(schema),
            tool_camel: tool_camel.to_string(),
            refs: HashMap::new(),
            kinds: HashMap::new(),
        };
        let first_new_item = self.items.len();
        let hint = type_name(&[tool_camel, suffix]);
        document
            .refs
            .insert(String::new(), RefState::InProgress(None));
        let site = Site {
            pointer: Some(String::new()),
            nullable: false,
        };
        let lowered = self.lower(&mut document, schema, &hint, site, Some(Kind::Object), 0);
        let lowered = match lowered {
            TypeRef::Optional(inner) => *inner,
            other => other,
        };
        // Arguments and structured results are JSON objects: a root typed as
        // something else (or as anything) can only be described as an object.
        let lowered = match lowered {
            TypeRef::Named(id)
                if self
                    .items
                    .get(id)
                    .is_some_and(|item| !matches!(item.kind, ItemKind::StringEnum { .. })) =>
            {
                lowered
            }
            TypeRef::Map(_) | TypeRef::AnyObject => lowered,
            _ => TypeRef::AnyObject,
        };
        if let TypeRef::Named(id) = lowered
            && id == first_new_item
            && let Some(item) = self.items.get_mut(id)
        {
            let mut docs = vec![heading.to_string()];
            if !item.docs.is_empty() {
                docs.push(String::new());
                docs.append(&mut item.docs);
            }
            item.docs = docs;
        }
        lowered
    }

    fn push_item(&mut self, hint: &str, docs: Vec<String>, kind: ItemKind) -> ItemId {
        let name = self.names.claim(&type_name(&[hint]));
        self.items.push(Item { name, docs, kind });
        self.items.len() - 1
    }

    /// Records that the schema at `site` became item `id`, for `$ref`s back to it.
    fn register(&self, document: &mut Document, site: &Site, id: ItemId) {
        if let Some(pointer) = &site.pointer {
            let ty = TypeRef::Named(id).optional_if(site.nullable);
            document
                .refs
                .insert(pointer.clone(), RefState::InProgress(Some(ty)));
        }
    }

    fn item_name(&self, id: ItemId) -> String {
        self.items
            .get(id)
            .map(|item| item.name.clone())
            .unwrap_or_default()
    }

    /// `implied` is the kind an untyped schema must have because of its context
    /// (the root is an object; an `anyOf` variant under `type: object` too).
    fn lower<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Value,
        hint: &str,
        site: Site,
        implied: Option<Kind>,
        depth: usize,
    ) -> TypeRef {
        if depth > MAX_DEPTH {
            return TypeRef::Any;
        }
        let Some(object) = schema.as_object() else {
            // `true`, `false` and garbage.
            return TypeRef::Any;
        };
        if let Some(reference) = object.get("$ref") {
            // Sibling keywords only narrow the referenced schema: ignoring them
            // keeps the type lenient, validation enforces them.
            return match reference.as_str() {
                Some(reference) => self
                    .lower_ref(document, reference, depth + 1)
                    .optional_if(site.nullable),
                None => TypeRef::Any,
            };
        }
        if object.contains_key("$dynamicRef") || object.contains_key("$recursiveRef") {
            return TypeRef::Any;
        }
        if let Some(value) = object.get("const") {
            return const_type(value).optional_if(site.nullable);
        }
        if let Some(values) = object.get("enum") {
            return self.lower_enum(document, object, values, hint, &site);
        }
        match declared_kinds(object) {
            Declared::Invalid => TypeRef::Any,
            Declared::Kinds(mut kinds) => {
                let nullable = kinds.remove(&Kind::Null);
                let site = site.nullable(nullable);
                let kinds: Vec<Kind> = kinds.into_iter().collect();
                match kinds.as_slice() {
                    [] => TypeRef::Any,
                    [kind] => self.lower_kind(document, object, *kind, hint, site, depth),
                    [Kind::Integer, Kind::Number] => TypeRef::Number.optional_if(site.nullable),
                    _ => self.lower_kinds_union(document, object, &kinds, hint, site, depth),
                }
            }
            Declared::Absent => {
                if object.contains_key("allOf") {
                    self.lower_all_of(document, object, hint, site, implied, depth)
                } else if object.contains_key("anyOf") || object.contains_key("oneOf") {
                    self.lower_union(document, object, hint, site, implied, depth)
                } else if let Some(kind) = implied {
                    self.lower_kind(document, object, kind, hint, site, depth)
                } else {
                    TypeRef::Any
                }
            }
        }
    }

    fn lower_ref<'s>(
        &mut self,
        document: &mut Document<'s>,
        reference: &str,
        depth: usize,
    ) -> TypeRef {
        let Some((pointer, target)) = document.resolve(reference) else {
            return TypeRef::Any;
        };
        match document.refs.get(&pointer) {
            Some(RefState::Done(ty)) | Some(RefState::InProgress(Some(ty))) => return ty.clone(),
            // A cycle that never became a named item (e.g. an array of
            // itself): nothing to name, so it stays untyped.
            Some(RefState::InProgress(None)) => return TypeRef::Any,
            None => {}
        }
        document
            .refs
            .insert(pointer.clone(), RefState::InProgress(None));
        let hint = document.ref_hint(&pointer);
        let site = Site {
            pointer: Some(pointer.clone()),
            nullable: false,
        };
        let lowered = self.lower(document, target, &hint, site, None, depth + 1);
        document
            .refs
            .insert(pointer, RefState::Done(lowered.clone()));
        lowered
    }

    fn lower_enum<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Map<String, Value>,
        values: &'s Value,
        hint: &str,
        site: &Site,
    ) -> TypeRef {
        let Some(values) = values.as_array() else {
            return TypeRef::Any;
        };
        let nullable = site.nullable || values.iter().any(Value::is_null);
        let present: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
        if present.is_empty() {
            return TypeRef::Any;
        }
        let kinds: Kinds = present.iter().map(|v| Kind::of_value(v)).collect();
        let kinds: Vec<Kind> = kinds.into_iter().collect();
        let ty = match kinds.as_slice() {
            [Kind::String] => {
                let mut seen = BTreeSet::new();
                let values: Vec<&str> = present
                    .iter()
                    .filter_map(|v| v.as_str())
                    .filter(|value| seen.insert(*value))
                    .collect();
                // A value that is already its own variant name keeps it.
                let idents = UniqueNames::new()
                    .claim_all(&values, |value| type_name(&[&camel_ident(value)]));
                let variants = values
                    .iter()
                    .zip(idents)
                    .map(|(value, ident)| StringVariant {
                        ident,
                        value: value.to_string(),
                    })
                    .collect();
                let id =
                    self.push_item(hint, schema_docs(schema), ItemKind::StringEnum { variants });
                self.register(document, &site.nullable(nullable), id);
                TypeRef::Named(id)
            }
            // Allowed numbers are listed in the doc; validation enforces them.
            [Kind::Integer] if present.iter().all(|v| v.is_i64()) => TypeRef::Integer,
            [Kind::Integer] | [Kind::Number] | [Kind::Integer, Kind::Number] => TypeRef::Number,
            [Kind::Boolean] => TypeRef::Boolean,
            _ => TypeRef::Any,
        };
        ty.optional_if(nullable)
    }

    fn lower_kind<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Map<String, Value>,
        kind: Kind,
        hint: &str,
        site: Site,
        depth: usize,
    ) -> TypeRef {
        let ty = match kind {
            Kind::Object => return self.lower_object(document, schema, hint, site, depth),
            Kind::Array => self.lower_array(document, schema, hint, depth),
            Kind::Null => TypeRef::Any,
            primitive => primitive.primitive_in(schema).unwrap_or(TypeRef::Any),
        };
        ty.optional_if(site.nullable)
    }

    fn lower_array<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Map<String, Value>,
        hint: &str,
        depth: usize,
    ) -> TypeRef {
        // 2020-12 `prefixItems` + `items: false`, or draft-07 array-form
        // `items` + `additionalItems: false`.
        let (prefix, closed) = match (schema.get("prefixItems"), schema.get("items")) {
            (Some(Value::Array(prefix)), items) => {
                (Some(prefix), items == Some(&Value::Bool(false)))
            }
            (None, Some(Value::Array(prefix))) => (
                Some(prefix),
                schema.get("additionalItems") == Some(&Value::Bool(false)),
            ),
            _ => (None, false),
        };
        if let Some(prefix) = prefix {
            // A tuple only fits when the array has exactly `prefix.len()`
            // elements: open or shorter arrays are valid JSON Schema.
            let min_items = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let exact = closed && usize::try_from(min_items).is_ok_and(|min| min >= prefix.len());
            if exact && !prefix.is_empty() && prefix.len() <= MAX_TUPLE_LEN {
                let elements = prefix
                    .iter()
                    .enumerate()
                    .map(|(index, element)| {
                        let hint = type_name(&[hint, &(index + 1).to_string()]);
                        self.lower(document, element, &hint, Site::default(), None, depth + 1)
                    })
                    .collect();
                return TypeRef::Tuple(elements);
            }
            return TypeRef::Array(Box::new(TypeRef::Any));
        }
        let element = match schema.get("items") {
            Some(items) => {
                let hint = type_name(&[hint, "Item"]);
                self.lower(document, items, &hint, Site::default(), None, depth + 1)
            }
            None => TypeRef::Any,
        };
        TypeRef::Array(Box::new(element))
    }
}

/// The variant name for one `anyOf`/`oneOf` alternative: the referenced
/// definition's name, else its `title`, else its JSON type.
fn variant_ident(variant: Option<&Value>, kind: Kind) -> String {
    let object = variant.and_then(Value::as_object);
    let from_ref = object
        .and_then(|o| o.get("$ref"))
        .and_then(Value::as_str)
        .and_then(|reference| reference.rsplit('/').next())
        .filter(|last| !last.is_empty() && !last.starts_with('#'));
    let from_title = object
        .and_then(|o| o.get("title"))
        .and_then(Value::as_str)
        .filter(|title| title.chars().count() <= 40);
    match from_ref.or(from_title) {
        Some(name) => type_name(&[&camel_ident(name)]),
        None => kind.variant_name().to_string(),
    }
}

/// The type of a `const`: the constant's JSON type (validation checks the value).
fn const_type(value: &Value) -> TypeRef {
    match value {
        Value::Bool(_) => TypeRef::Boolean,
        Value::Number(n) if n.is_i64() => TypeRef::Integer,
        Value::Number(_) => TypeRef::Number,
        Value::String(_) => TypeRef::String,
        Value::Null | Value::Array(_) | Value::Object(_) => TypeRef::Any,
    }
}

#[cfg(test)]
mod ref_tests {
    use serde_json::json;

    use crate::lock::LockedTool;
    use crate::schema::lower_tools;

    fn lowered_source(input_schema: serde_json::Value) -> String {
        let tool = LockedTool::new(json!({"name": "t", "inputSchema": input_schema}));
        lower_tools(&[tool])
            .items_source()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn a_bad_percent_escape_names_the_definition_as_the_validator_reads_it() {
        // `%ZZ` is no escape: the ref names `a%ZZ` (it used to become `Value`).
        let source = lowered_source(json!({
            "type": "object",
            "$defs": {"a%ZZ": {"type": "string"}},
            "properties": {"x": {"$ref": "#/$defs/a%ZZ"}, "y": {"$ref": "#/$defs/%FF"}}
        }));
        assert!(source.contains("pub x: Option<String>"), "{source}");
        assert!(
            source.contains("pub y: Option<serde_json::Value>"),
            "{source}"
        );
    }

    #[test]
    fn anchors_and_ids_resolve_like_pointers() {
        let source = lowered_source(json!({
            "$id": "https://example.com/t.json",
            "type": "object",
            "$defs": {"Item": {"$anchor": "item", "type": "object",
                               "properties": {"n": {"type": "integer"}}}},
            "properties": {
                "by_anchor": {"$ref": "#item"},
                "by_id": {"$ref": "https://example.com/t.json#/$defs/Item"},
                "by_pointer": {"$ref": "#/$defs/Item"}
            }
        }));
        for field in ["by_anchor", "by_id", "by_pointer"] {
            assert!(
                source.contains(&format!("pub {field}: Option<TItem>")),
                "{source}"
            );
        }
    }
}
