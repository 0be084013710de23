//! The rest of a server's MCP surface: resources, resource templates and
//! prompts, pinned in the lock as the server listed them (raw objects,
//! sorted, hashed) like tools. Their contents and messages are data and
//! stay live; their names, URIs, templates and arguments are the contract.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::uri_template::{UriTemplate, UriTemplateError};
use super::{ServerFacts, canonical_compact, sha256_hex, sorted_keys};

impl ServerFacts {
    /// Whether the server declared the capability `name` (`resources`,
    /// `prompts`, `completions`, ...) in its `initialize` result.
    pub fn declares(&self, name: &str) -> bool {
        self.capabilities
            .get(name)
            .is_some_and(|capability| !capability.is_null())
    }
}

/// One listed item exactly as the server sent it, plus its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct LockedItem {
    /// What identifies it: a resource's `uri`, a template's or prompt's `name`.
    pub key: String,
    /// sha256 (hex) of the canonical JSON of `definition`.
    pub sha256: String,
    /// The verbatim object.
    pub definition: Value,
}

impl LockedItem {
    /// An item from its listed object, identified by its `key_field`; `None`
    /// when that is not a string.
    fn new(definition: Value, key_field: &str) -> Option<Self> {
        let definition = sorted_keys(&definition);
        let key = definition.get(key_field)?.as_str()?.to_string();
        let sha256 = sha256_hex(&canonical_compact(&definition));
        Some(LockedItem {
            key,
            sha256,
            definition,
        })
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.definition.get(field).and_then(Value::as_str)
    }

    /// `name` (a resource's display name; a template's or prompt's key).
    pub fn name(&self) -> Option<&str> {
        self.text("name")
    }

    /// `title`.
    pub fn title(&self) -> Option<&str> {
        self.text("title")
    }

    /// `description`.
    pub fn description(&self) -> Option<&str> {
        self.text("description")
    }

    /// `mimeType`.
    pub fn mime_type(&self) -> Option<&str> {
        self.text("mimeType")
    }

    /// A template's `uriTemplate`.
    pub fn uri_template_text(&self) -> Option<&str> {
        self.text("uriTemplate")
    }

    /// A template's `uriTemplate`, parsed.
    pub fn uri_template(&self) -> Result<UriTemplate, UriTemplateError> {
        UriTemplate::parse(self.uri_template_text().unwrap_or_default())
    }

    /// A prompt's `arguments`, in the listed order; entries without a
    /// string `name` are skipped.
    pub fn prompt_arguments(&self) -> Vec<PromptArgument> {
        self.definition
            .get("arguments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|argument| {
                Some(PromptArgument {
                    name: argument.get("name")?.as_str()?.to_string(),
                    description: argument
                        .get("description")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    required: argument
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
            })
            .collect()
    }
}

/// A prompt argument: always a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgument {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Whether `prompts/get` needs it.
    pub required: bool,
}

/// Whether the server's resource list is part of the contract.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceList {
    /// The listed resources are pinned: only they can be read (besides
    /// template matches), and a change is a diff to review.
    #[default]
    Pinned,
    /// The list is data (it changes by itself): only templates are pinned;
    /// the list is forwarded live, and a URI it holds can be read.
    Live,
}

impl ResourceList {
    fn is_pinned(&self) -> bool {
        *self == ResourceList::Pinned
    }
}

/// A server's resources, resource templates and prompts as locked; each
/// list sorted by key, empty when the server does not offer the kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockedSurface {
    /// `resources/list`, by `uri` (empty when `resource_list` is live).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "by_uri")]
    pub resources: Vec<LockedItem>,
    /// `resources/templates/list`, by `name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "by_name")]
    pub resource_templates: Vec<LockedItem>,
    /// `prompts/list`, by `name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "by_name")]
    pub prompts: Vec<LockedItem>,
    /// Whether `resources` is the contract or live data.
    #[serde(default, skip_serializing_if = "ResourceList::is_pinned")]
    pub resource_list: ResourceList,
}

/// Why listed items could not be locked.
#[derive(Debug, thiserror::Error)]
#[allow(
    missing_docs,
    reason = "the variants' fields are named by their messages"
)]
pub enum SurfaceError {
    #[error("{kind} #{index} has no string {field:?}")]
    Unkeyed {
        kind: &'static str,
        index: usize,
        field: &'static str,
    },
    #[error("{kind} {key:?} appears twice")]
    Duplicate { kind: &'static str, key: String },
}

/// The three kinds, with what identifies an item of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SurfaceKind {
    /// `resources/list`.
    Resource,
    /// `resources/templates/list`.
    ResourceTemplate,
    /// `prompts/list`.
    Prompt,
}

impl SurfaceKind {
    /// The field that identifies an item.
    pub fn key_field(self) -> &'static str {
        match self {
            SurfaceKind::Resource => "uri",
            SurfaceKind::ResourceTemplate | SurfaceKind::Prompt => "name",
        }
    }

    /// The field of a list result that holds the items.
    pub fn list_field(self) -> &'static str {
        match self {
            SurfaceKind::Resource => "resources",
            SurfaceKind::ResourceTemplate => "resourceTemplates",
            SurfaceKind::Prompt => "prompts",
        }
    }

    /// The word for one item, in messages.
    pub fn noun(self) -> &'static str {
        match self {
            SurfaceKind::Resource => "resource",
            SurfaceKind::ResourceTemplate => "resource template",
            SurfaceKind::Prompt => "prompt",
        }
    }
}

/// Canonical items: keyed, sorted by key, hashed; duplicates refused.
pub fn lock_items(
    kind: SurfaceKind,
    definitions: Vec<Value>,
) -> Result<Vec<LockedItem>, SurfaceError> {
    let mut items = Vec::with_capacity(definitions.len());
    for (index, definition) in definitions.into_iter().enumerate() {
        items.push(
            LockedItem::new(definition, kind.key_field()).ok_or(SurfaceError::Unkeyed {
                kind: kind.noun(),
                index,
                field: kind.key_field(),
            })?,
        );
    }
    items.sort_by(|a, b| a.key.cmp(&b.key));
    if let Some(pair) = items.windows(2).find(|pair| pair[0].key == pair[1].key) {
        return Err(SurfaceError::Duplicate {
            kind: kind.noun(),
            key: pair[0].key.clone(),
        });
    }
    Ok(items)
}

impl LockedSurface {
    /// Whether nothing is locked besides tools.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty() && self.resource_templates.is_empty() && self.prompts.is_empty()
    }

    /// The items of `kind`.
    pub fn items(&self, kind: SurfaceKind) -> &[LockedItem] {
        match kind {
            SurfaceKind::Resource => &self.resources,
            SurfaceKind::ResourceTemplate => &self.resource_templates,
            SurfaceKind::Prompt => &self.prompts,
        }
    }

    /// The item of `kind` keyed `key`.
    pub fn item(&self, kind: SurfaceKind, key: &str) -> Option<&LockedItem> {
        let items = self.items(kind);
        items
            .binary_search_by(|item| item.key.as_str().cmp(key))
            .ok()
            .map(|index| &items[index])
    }

    /// Re-keys, re-sorts and re-hashes every item (a hand-edited lock is
    /// canonical again, and cannot keep a stale hash).
    pub(super) fn canonical(self) -> Result<Self, SurfaceError> {
        let definitions =
            |items: Vec<LockedItem>| items.into_iter().map(|i| i.definition).collect();
        Ok(LockedSurface {
            resources: lock_items(SurfaceKind::Resource, definitions(self.resources))?,
            resource_templates: lock_items(
                SurfaceKind::ResourceTemplate,
                definitions(self.resource_templates),
            )?,
            prompts: lock_items(SurfaceKind::Prompt, definitions(self.prompts))?,
            resource_list: self.resource_list,
        })
    }

    /// Whether `uri` may be read: a locked resource (or, with a live list,
    /// any URI `live_listed` accepts), or a match of a locked template.
    pub fn readable(&self, uri: &str, live_listed: impl FnOnce(&str) -> bool) -> bool {
        let listed = match self.resource_list {
            ResourceList::Pinned => self.item(SurfaceKind::Resource, uri).is_some(),
            ResourceList::Live => live_listed(uri),
        };
        listed || self.template_for(uri).is_some()
    }

    /// The first locked template (by name) whose shape `uri` has.
    pub fn template_for<'a>(&'a self, uri: &'a str) -> Option<&'a LockedItem> {
        self.templates_matching(uri).next()
    }

    /// Every locked template (by name) whose shape `uri` has.
    pub fn templates_matching<'a>(&'a self, uri: &'a str) -> impl Iterator<Item = &'a LockedItem> {
        self.resource_templates.iter().filter(move |template| {
            template
                .uri_template()
                .is_ok_and(|parsed| parsed.matches(uri))
        })
    }

    /// Whether a server with this surface answers resource routes: it has
    /// pinned resources, templates, or a live list.
    pub fn offers_resources(&self) -> bool {
        !self.resources.is_empty()
            || !self.resource_templates.is_empty()
            || self.resource_list == ResourceList::Live
    }
}

/// The file form of an item: its key under the field that names it.
macro_rules! keyed_items {
    ($module:ident, $field:ident) => {
        mod $module {
            use super::LockedItem;
            use serde::{Deserialize, Deserializer, Serialize, Serializer};
            use serde_json::Value;

            #[derive(Serialize, Deserialize)]
            struct Entry {
                $field: String,
                sha256: String,
                definition: Value,
            }

            pub(super) fn serialize<S: Serializer>(
                items: &[LockedItem],
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                let entries: Vec<Entry> = items
                    .iter()
                    .map(|item| Entry {
                        $field: item.key.clone(),
                        sha256: item.sha256.clone(),
                        definition: item.definition.clone(),
                    })
                    .collect();
                entries.serialize(serializer)
            }

            pub(super) fn deserialize<'de, D: Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Vec<LockedItem>, D::Error> {
                Ok(Vec::<Entry>::deserialize(deserializer)?
                    .into_iter()
                    .map(|entry| LockedItem {
                        key: entry.$field,
                        sha256: entry.sha256,
                        definition: entry.definition,
                    })
                    .collect())
            }
        }
    };
}

keyed_items!(by_uri, uri);
keyed_items!(by_name, name);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn surface() -> LockedSurface {
        LockedSurface {
            resources: lock_items(
                SurfaceKind::Resource,
                vec![
                    json!({"uri": "text://b", "name": "b"}),
                    json!({"uri": "text://a", "name": "a", "mimeType": "text/plain"}),
                ],
            )
            .unwrap(),
            resource_templates: lock_items(
                SurfaceKind::ResourceTemplate,
                vec![json!({"name": "note", "uriTemplate": "text://notes/{id}"})],
            )
            .unwrap(),
            prompts: lock_items(
                SurfaceKind::Prompt,
                vec![json!({"name": "greet", "arguments": [
                    {"name": "name", "required": true},
                    {"name": "style", "description": "how"}
                ]})],
            )
            .unwrap(),
            resource_list: ResourceList::Pinned,
        }
    }

    #[test]
    fn items_are_sorted_keyed_and_hashed() {
        let surface = surface();
        let keys: Vec<&str> = surface.resources.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["text://a", "text://b"]);
        assert_eq!(surface.resources[0].sha256.len(), 64);
        assert_eq!(
            surface
                .item(SurfaceKind::Resource, "text://a")
                .unwrap()
                .mime_type(),
            Some("text/plain")
        );
    }

    #[test]
    fn file_form_names_each_key_and_round_trips() {
        let surface = surface();
        let value = serde_json::to_value(&surface).unwrap();
        assert_eq!(value["resources"][0]["uri"], "text://a");
        assert_eq!(value["resourceTemplates"][0]["name"], "note");
        assert_eq!(value["prompts"][0]["name"], "greet");
        assert!(value.get("resourceList").is_none(), "pinned is the default");
        let back: LockedSurface = serde_json::from_value(value).unwrap();
        assert_eq!(back, surface);
        let empty = serde_json::to_value(LockedSurface::default()).unwrap();
        assert_eq!(empty, json!({}));
    }

    #[test]
    fn prompt_arguments_are_read_with_their_required_flags() {
        let surface = surface();
        let arguments = surface.prompts[0].prompt_arguments();
        assert_eq!(arguments.len(), 2);
        assert!(arguments[0].required);
        assert!(!arguments[1].required);
        assert_eq!(arguments[1].description.as_deref(), Some("how"));
    }

    #[test]
    fn readable_uris_are_locked_or_template_matches() {
        let surface = surface();
        assert!(surface.readable("text://a", |_| false));
        assert!(surface.readable("text://notes/7", |_| false));
        assert!(
            !surface.readable("text://c", |_| true),
            "pinned ignores the live list"
        );
        assert!(!surface.readable("file:///etc/passwd", |_| false));
        let live = LockedSurface {
            resource_list: ResourceList::Live,
            resources: Vec::new(),
            ..surface
        };
        assert!(live.readable("text://c", |uri| uri == "text://c"));
        assert!(!live.readable("text://d", |uri| uri == "text://c"));
    }

    #[test]
    fn duplicates_and_unkeyed_items_are_refused() {
        assert!(matches!(
            lock_items(
                SurfaceKind::Prompt,
                vec![json!({"name": "a"}), json!({"name": "a"})]
            ),
            Err(SurfaceError::Duplicate { .. })
        ));
        assert!(matches!(
            lock_items(SurfaceKind::Resource, vec![json!({"name": "no uri"})]),
            Err(SurfaceError::Unkeyed { .. })
        ));
    }
}
