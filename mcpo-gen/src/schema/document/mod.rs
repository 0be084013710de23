//! One JSON Schema document: where its subschemas are ([`keywords`]), JSON
//! Pointers and fragments ([`pointer`]), and `$ref` resolution shared by
//! lowering, the OpenAPI document and the diff.
//!
//! A `$ref` resolves the way the proxy's validator (`jsonschema`, through
//! `referencing`) resolves it, so the types, the OpenAPI document and the
//! review all read a reference as the validator enforces it:
//!
//! - `#` and `#/json/pointer` (percent-decoded, `~0`/`~1` unescaped) inside
//!   the document;
//! - `#name` anchors (`$anchor`, or draft-04..07 `$id: "#name"`), refs to the
//!   root's `$id` and to subschemas carrying an `$id` of their own, through
//!   `referencing`'s registry of the document;
//! - anything else (other documents, dangling pointers) is a [`RefError`].
//!
//! References are resolved from the root's base URI (a relative `$ref` under
//! a nested `$id` is read as if written at the root).

pub mod keywords;
pub mod pointer;

use std::cell::OnceCell;
use std::collections::HashMap;

use referencing::{Draft, Registry, Retrieve, Uri};
use serde_json::Value;

pub use pointer::{Pointer, decode_fragment, escape_token};

/// The URI a document without a usable `$id` is known by.
const DOCUMENT_URI: &str = "json-schema:///tool-schema.json";

/// Why a `$ref` does not resolve inside its document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("`$ref` {reference:?}: {source}")]
    NotUtf8 {
        reference: String,
        source: pointer::FragmentNotUtf8,
    },
    #[error("`$ref` {0:?} points at nothing in this document")]
    Dangling(String),
    #[error("`$ref` {0:?} points outside this document")]
    External(String),
    #[error("`$ref` {reference:?} cannot be resolved: {reason}")]
    Unresolvable { reference: String, reason: String },
}

/// What a `$ref` resolved to: the target's location from the root (the one
/// name every spelling of the same reference shares) and the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'a> {
    pub pointer: Pointer,
    pub value: &'a Value,
}

/// A JSON Schema document (a tool's input or output schema) that resolves
/// the `$ref`s written inside it. Never panics on any JSON.
pub struct SchemaDocument<'a> {
    root: &'a Value,
    /// Built on the first reference that is not a plain pointer.
    indexes: OnceCell<Vec<Index<'a>>>,
}

/// `referencing`'s view of the document, and where each value sits in it
/// (the registry answers with a value; its pointer is the canonical name).
struct Index<'a> {
    registry: Registry<'a>,
    base: Uri<String>,
    locations: HashMap<usize, Pointer>,
}

/// Other documents are never fetched: each stands in as `true`, which is
/// not part of this document and so resolves as [`RefError::External`].
struct NothingOutside;

impl Retrieve for NothingOutside {
    fn retrieve(&self, _: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Value::Bool(true))
    }
}

impl<'a> SchemaDocument<'a> {
    pub fn new(root: &'a Value) -> Self {
        SchemaDocument {
            root,
            indexes: OnceCell::new(),
        }
    }

    pub fn root(&self) -> &'a Value {
        self.root
    }

    /// The draft the document declares with `$schema` (2020-12 without one,
    /// as for the validator).
    pub fn draft(&self) -> Draft {
        Draft::default().detect(self.root)
    }

    /// Resolves a `$ref` written in this document.
    pub fn resolve(&self, reference: &str) -> Result<Resolved<'a>, RefError> {
        if let Some(fragment) = reference.strip_prefix('#')
            && (fragment.is_empty() || fragment.starts_with('/'))
        {
            return resolve_fragment_pointer(self.root, reference);
        }
        let indexes = self.indexes.get_or_init(|| Index::build_all(self.root));
        let mut outcome = Err(RefError::Unresolvable {
            reference: reference.to_string(),
            reason: "the document's `$id`s or `$ref`s are not valid URIs".to_string(),
        });
        // The validator compiles a schema that fails under its `$schema`
        // again without it: a reference that only resolves that way counts.
        for index in indexes {
            outcome = index.resolve(reference).and_then(|pointer| {
                let value = pointer
                    .lookup(self.root)
                    .ok_or_else(|| RefError::Dangling(reference.to_string()))?;
                Ok(Resolved { pointer, value })
            });
            if outcome.is_ok() {
                break;
            }
        }
        outcome
    }
}

impl<'a> Index<'a> {
    /// The document as declared, then (when it declares a `$schema`) as the
    /// default draft reads it.
    fn build_all(root: &'a Value) -> Vec<Self> {
        let mut indexes: Vec<Self> = Self::build(root, Contents::Borrowed(root))
            .into_iter()
            .collect();
        if let Some(object) = root.as_object()
            && object.contains_key("$schema")
        {
            let mut without_dialect = object.clone();
            without_dialect.remove("$schema");
            indexes.extend(Self::build(root, Value::Object(without_dialect).into()));
        }
        indexes
    }

    /// `contents` is `root` itself or an edited copy with the same layout.
    fn build(root: &'a Value, contents: Contents<'a>) -> Option<Self> {
        let builder = Registry::new()
            .retriever(NothingOutside)
            .retrieve_known_draft_meta_schemas(false);
        let builder = match contents {
            Contents::Borrowed(contents) => builder.add(DOCUMENT_URI, contents),
            Contents::Owned(contents) => builder.add(DOCUMENT_URI, contents),
        };
        let registry = builder.ok()?.prepare().ok()?;
        let document_uri = referencing::uri::from_str(DOCUMENT_URI).ok()?;
        // Relative references resolve against the root's `$id`.
        let draft = Draft::default().detect(root);
        let base = root
            .get(draft.id_keyword())
            .and_then(Value::as_str)
            .filter(|id| !id.starts_with('#'))
            .and_then(|id| referencing::uri::resolve_against(&document_uri.borrow(), id).ok())
            .unwrap_or(document_uri);
        let mut locations = HashMap::new();
        let stored_root = registry.resolver(base.clone()).lookup("#").ok()?.contents();
        record_locations(stored_root, &mut Pointer::root(), &mut locations);
        Some(Index {
            registry,
            base,
            locations,
        })
    }

    fn resolve(&self, reference: &str) -> Result<Pointer, RefError> {
        let resolver = self.registry.resolver(self.base.clone());
        let resolved = resolver
            .lookup(reference)
            .map_err(|error| RefError::Unresolvable {
                reference: reference.to_string(),
                reason: error.to_string(),
            })?;
        self.locations
            .get(&address(resolved.contents()))
            .cloned()
            .ok_or_else(|| RefError::External(reference.to_string()))
    }
}

enum Contents<'a> {
    Borrowed(&'a Value),
    Owned(Value),
}

impl From<Value> for Contents<'_> {
    fn from(value: Value) -> Self {
        Contents::Owned(value)
    }
}

fn address(value: &Value) -> usize {
    std::ptr::from_ref(value) as usize
}

/// Every value of the document by address: a `$ref` may point anywhere.
fn record_locations(value: &Value, at: &mut Pointer, locations: &mut HashMap<usize, Pointer>) {
    locations.insert(address(value), at.clone());
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                at.push(key.clone());
                record_locations(item, at, locations);
                at.pop();
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                at.push(index.to_string());
                record_locations(item, at, locations);
                at.pop();
            }
        }
        _ => {}
    }
}

/// Resolves a fragment-only reference (`#` or `#/json/pointer`) inside any
/// JSON document, schema or not (the OpenAPI document's own `$ref`s).
pub fn resolve_fragment_pointer<'v>(
    document: &'v Value,
    reference: &str,
) -> Result<Resolved<'v>, RefError> {
    let fragment = reference
        .strip_prefix('#')
        .ok_or_else(|| RefError::External(reference.to_string()))?;
    let decoded = decode_fragment(fragment).map_err(|source| RefError::NotUtf8 {
        reference: reference.to_string(),
        source,
    })?;
    let pointer =
        Pointer::parse(&decoded).ok_or_else(|| RefError::Dangling(reference.to_string()))?;
    let value = pointer
        .lookup(document)
        .ok_or_else(|| RefError::Dangling(reference.to_string()))?;
    Ok(Resolved { pointer, value })
}

#[cfg(test)]
mod tests;
