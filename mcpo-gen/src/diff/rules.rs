//! The rule registry and the lock/tool level classifier.
//!
//! Every change carries a rule id from [`RULES`]; a rule has exactly one
//! level, so `--fail-on` and filters can rely on ids alone. Schema-level rules
//! are applied by the sibling `schema` module.
//!
//! Direction matters: an *input* schema is what clients send, so anything
//! that accepts less is breaking; an *output* schema is what clients read, so
//! anything that may produce values a client has not seen (a removed
//! property, a wider type, a new enum value) is breaking, and narrowing is
//! harmless. Output rules carry an `output-` prefix.

use serde_json::{Map, Value};

use super::schema::{SchemaSide, diff_schema};
use super::{Change, Level, Report};
use crate::lock::{Lock, LockedTool};

/// A classification rule: its stable id, fixed level and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub level: Level,
    pub summary: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $level:ident, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $name: Rule = Rule { id: $id, level: Level::$level, summary: $summary };
        )*
        /// Every rule, in documentation order.
        pub const RULES: &[Rule] = &[$($name),*];
    };
}

rules! {
    // Server and upstream.
    SERVER_VERSION_CHANGED = "server-version-changed", Warn,
        "The server reports a different version in serverInfo.";
    SERVER_INFO_CHANGED = "server-info-changed", Warn,
        "The server's name or title changed.";
    SERVER_INSTRUCTIONS_CHANGED = "server-instructions-changed", Warn,
        "The server's instructions (text shown to models) changed.";
    PROTOCOL_VERSION_CHANGED = "protocol-version-changed", Info,
        "The negotiated MCP protocol version changed.";
    CAPABILITIES_CHANGED = "capabilities-changed", Info,
        "The server's declared capabilities changed.";
    UPSTREAM_CHANGED = "upstream-changed", Warn,
        "The recorded launch spec (command, args, URL, env/header names) changed.";
    // Tools.
    TOOL_REMOVED = "tool-removed", Err,
        "A tool is gone (a rename shows as removed + added).";
    TOOL_ADDED = "tool-added", Info,
        "A new tool.";
    TOOL_DESCRIPTION_CHANGED = "tool-description-changed", Warn,
        "A tool's description changed: models read it, so this is the tool-poisoning vector.";
    TOOL_TITLE_CHANGED = "tool-title-changed", Warn,
        "A tool's display title changed.";
    TOOL_BECAME_DESTRUCTIVE = "tool-became-destructive", Err,
        "Per MCP annotation defaults the tool was read-only or non-destructive and now may destroy data.";
    ANNOTATIONS_CHANGED = "annotations-changed", Warn,
        "A tool annotation (readOnlyHint, idempotentHint, openWorldHint, ...) changed.";
    TOOL_FIELD_CHANGED = "tool-field-changed", Warn,
        "Another field of the tool definition (execution, icons, _meta, ...) changed.";
    // Input schema: what clients send.
    REQUIRED_PROPERTY_ADDED = "required-property-added", Err,
        "A new required input property, or an optional one became required.";
    PROPERTY_REMOVED = "property-removed", Err,
        "An input property is gone.";
    PROPERTY_TYPE_CHANGED = "property-type-changed", Err,
        "An input type was narrowed or changed (e.g. [string, null] -> string).";
    ENUM_VALUE_REMOVED = "enum-value-removed", Err,
        "An input enum (or const) no longer accepts a value.";
    CONSTRAINT_TIGHTENED = "constraint-tightened", Err,
        "An input constraint accepts less: minimum up, maximum down, pattern/format/enum added, additionalProperties closed, ...";
    OPTIONAL_PROPERTY_ADDED = "optional-property-added", Info,
        "A new optional input property.";
    PROPERTY_BECAME_OPTIONAL = "property-became-optional", Info,
        "A required input property is now optional.";
    PROPERTY_TYPE_WIDENED = "property-type-widened", Info,
        "An input type accepts more (e.g. integer -> number, string -> [string, null]).";
    ENUM_VALUE_ADDED = "enum-value-added", Info,
        "An input enum accepts a new value.";
    CONSTRAINT_RELAXED = "constraint-relaxed", Info,
        "An input constraint accepts more.";
    // Output schema: what clients read.
    OUTPUT_SCHEMA_REMOVED = "output-schema-removed", Err,
        "The tool no longer declares an outputSchema: typed responses are gone.";
    OUTPUT_SCHEMA_ADDED = "output-schema-added", Info,
        "The tool now declares an outputSchema.";
    OUTPUT_PROPERTY_REMOVED = "output-property-removed", Err,
        "An output property clients may read is gone.";
    OUTPUT_PROPERTY_BECAME_OPTIONAL = "output-property-became-optional", Err,
        "A required output property may now be missing.";
    OUTPUT_PROPERTY_TYPE_CHANGED = "output-property-type-changed", Err,
        "An output type was widened or changed: clients may get values they cannot parse.";
    OUTPUT_ENUM_VALUE_ADDED = "output-enum-value-added", Err,
        "An output enum gained a value (or lost its enum): clients may get a value they do not know.";
    OUTPUT_PROPERTY_ADDED = "output-property-added", Info,
        "A new output property.";
    OUTPUT_PROPERTY_BECAME_REQUIRED = "output-property-became-required", Info,
        "An optional output property is now always present.";
    OUTPUT_PROPERTY_TYPE_NARROWED = "output-property-type-narrowed", Info,
        "An output type was narrowed: every new value was valid before.";
    OUTPUT_ENUM_VALUE_REMOVED = "output-enum-value-removed", Info,
        "An output enum lost a value.";
    OUTPUT_CONSTRAINT_CHANGED = "output-constraint-changed", Info,
        "An output constraint (bounds, pattern, format, ...) changed; typed clients do not check these.";
    // Either schema.
    PROPERTY_DESCRIPTION_CHANGED = "property-description-changed", Warn,
        "A schema description changed: models read these too.";
    PROPERTY_METADATA_CHANGED = "property-metadata-changed", Info,
        "A schema title, deprecated, readOnly or writeOnly flag changed.";
    DEFAULT_CHANGED = "default-changed", Info,
        "A schema default value changed.";
    SCHEMA_CHANGED = "schema-changed", Warn,
        "A schema changed in a way this tool cannot classify precisely (anyOf branches, $ref targets outside the document, unknown keywords, ...).";
}

/// Rules whose old/new values are prose shown in full by every renderer.
pub(crate) const TEXT_RULE_IDS: &[&str] = &[
    TOOL_DESCRIPTION_CHANGED.id,
    PROPERTY_DESCRIPTION_CHANGED.id,
    SERVER_INSTRUCTIONS_CHANGED.id,
];

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

impl Change {
    pub(crate) fn from_rule(
        rule: Rule,
        tool: Option<&str>,
        pointer: Option<String>,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) -> Self {
        Change {
            id: rule.id,
            level: rule.level,
            tool: tool.map(str::to_string),
            pointer,
            message,
            old,
            new,
        }
    }
}

/// Classifies every change from `old` to `new`. Tools are matched by name.
/// The generator version is not compared: it changes generated code, not the
/// API (`mcpo-gen check` covers that).
pub fn diff_locks(old: &Lock, new: &Lock) -> Report {
    let mut changes = Vec::new();
    diff_server(old, new, &mut changes);
    diff_tool_sets(old, new, &mut changes);
    Report::new(changes)
}

fn diff_server(old: &Lock, new: &Lock, out: &mut Vec<Change>) {
    let server = |rule: Rule, pointer: &str, message: String, old: Value, new: Value| {
        Change::from_rule(
            rule,
            None,
            Some(pointer.to_string()),
            message,
            Some(old),
            Some(new),
        )
    };
    let (old_server, new_server) = (&old.server, &new.server);
    if old_server.version != new_server.version {
        out.push(server(
            SERVER_VERSION_CHANGED,
            "/server/version",
            format!(
                "server version changed: {} -> {}",
                old_server.version, new_server.version
            ),
            Value::from(old_server.version.clone()),
            Value::from(new_server.version.clone()),
        ));
    }
    if old_server.name != new_server.name {
        out.push(server(
            SERVER_INFO_CHANGED,
            "/server/name",
            format!(
                "server name changed: {:?} -> {:?}",
                old_server.name, new_server.name
            ),
            Value::from(old_server.name.clone()),
            Value::from(new_server.name.clone()),
        ));
    }
    if old_server.title != new_server.title {
        out.push(server(
            SERVER_INFO_CHANGED,
            "/server/title",
            format!(
                "server title changed: {} -> {}",
                quoted_or_none(old_server.title.as_deref()),
                quoted_or_none(new_server.title.as_deref())
            ),
            Value::from(old_server.title.clone()),
            Value::from(new_server.title.clone()),
        ));
    }
    if old_server.instructions != new_server.instructions {
        out.push(server(
            SERVER_INSTRUCTIONS_CHANGED,
            "/server/instructions",
            "server instructions changed".to_string(),
            Value::from(old_server.instructions.clone()),
            Value::from(new_server.instructions.clone()),
        ));
    }
    if old_server.protocol_version != new_server.protocol_version {
        out.push(server(
            PROTOCOL_VERSION_CHANGED,
            "/server/protocolVersion",
            format!(
                "protocol version changed: {} -> {}",
                old_server.protocol_version, new_server.protocol_version
            ),
            Value::from(old_server.protocol_version.clone()),
            Value::from(new_server.protocol_version.clone()),
        ));
    }
    if old_server.capabilities != new_server.capabilities {
        out.push(server(
            CAPABILITIES_CHANGED,
            "/server/capabilities",
            "server capabilities changed".to_string(),
            old_server.capabilities.clone(),
            new_server.capabilities.clone(),
        ));
    }
    if old.upstream != new.upstream {
        // Serializing a plain enum of strings can't fail; Null is a safe
        // fallback that still shows up as a change.
        let as_json = |upstream| serde_json::to_value(upstream).unwrap_or(Value::Null);
        out.push(server(
            UPSTREAM_CHANGED,
            "/upstream",
            format!(
                "upstream launch spec changed: {} -> {}",
                old.upstream.describe(),
                new.upstream.describe()
            ),
            as_json(&old.upstream),
            as_json(&new.upstream),
        ));
    }
}

fn diff_tool_sets(old: &Lock, new: &Lock, out: &mut Vec<Change>) {
    let removed: Vec<&LockedTool> = old
        .tools
        .iter()
        .filter(|tool| new.tool(&tool.name).is_none())
        .collect();
    let added: Vec<&LockedTool> = new
        .tools
        .iter()
        .filter(|tool| old.tool(&tool.name).is_none())
        .collect();
    for tool in &removed {
        let renamed_to = same_shape_names(tool, &added);
        let hint = rename_hint("to", &renamed_to);
        out.push(Change::from_rule(
            TOOL_REMOVED,
            Some(&tool.name),
            None,
            format!("tool removed{hint}"),
            Some(tool.definition.clone()),
            None,
        ));
    }
    for tool in &added {
        let renamed_from = same_shape_names(tool, &removed);
        let hint = rename_hint("of", &renamed_from);
        out.push(Change::from_rule(
            TOOL_ADDED,
            Some(&tool.name),
            None,
            format!("tool added{hint}"),
            None,
            Some(tool.definition.clone()),
        ));
    }
    for old_tool in &old.tools {
        if let Some(new_tool) = new.tool(&old_tool.name)
            && old_tool.sha256 != new_tool.sha256
        {
            diff_tool(old_tool, new_tool, out);
        }
    }
}

/// Names of `candidates` whose input and output schemas equal `tool`'s: the
/// likely other half of a rename.
fn same_shape_names(tool: &LockedTool, candidates: &[&LockedTool]) -> Vec<String> {
    candidates
        .iter()
        .filter(|other| {
            other.input_schema() == tool.input_schema()
                && other.output_schema() == tool.output_schema()
        })
        .map(|other| other.name.clone())
        .collect()
}

fn rename_hint(preposition: &str, names: &[String]) -> String {
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
        " (possible rename {preposition} {}{more}: same schemas)",
        listed.join(", ")
    )
}

/// Top-level tool fields with a dedicated rule; the rest fall back to
/// `tool-field-changed`.
const CLASSIFIED_TOOL_FIELDS: &[&str] = &[
    "name",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "annotations",
];

/// Classifies the changes inside one tool present on both sides.
pub(crate) fn diff_tool(old: &LockedTool, new: &LockedTool, out: &mut Vec<Change>) {
    let name = old.name.as_str();
    if old.description() != new.description() {
        out.push(Change::from_rule(
            TOOL_DESCRIPTION_CHANGED,
            Some(name),
            Some("/description".to_string()),
            "tool description changed".to_string(),
            Some(Value::from(old.description())),
            Some(Value::from(new.description())),
        ));
    }
    if old.title() != new.title() {
        out.push(Change::from_rule(
            TOOL_TITLE_CHANGED,
            Some(name),
            Some("/title".to_string()),
            format!(
                "tool title changed: {} -> {}",
                quoted_or_none(old.title()),
                quoted_or_none(new.title())
            ),
            Some(Value::from(old.title())),
            Some(Value::from(new.title())),
        ));
    }
    diff_annotations(name, old.annotations(), new.annotations(), out);

    diff_schema(
        name,
        SchemaSide::Input,
        old.input_schema(),
        new.input_schema(),
        out,
    );
    match (old.output_schema(), new.output_schema()) {
        (None, None) => {}
        (Some(old_schema), None) => out.push(Change::from_rule(
            OUTPUT_SCHEMA_REMOVED,
            Some(name),
            Some("/outputSchema".to_string()),
            "no longer declares an output schema".to_string(),
            Some(old_schema.clone()),
            None,
        )),
        (None, Some(new_schema)) => out.push(Change::from_rule(
            OUTPUT_SCHEMA_ADDED,
            Some(name),
            Some("/outputSchema".to_string()),
            "now declares an output schema".to_string(),
            None,
            Some(new_schema.clone()),
        )),
        (Some(old_schema), Some(new_schema)) => {
            diff_schema(name, SchemaSide::Output, old_schema, new_schema, out)
        }
    }

    let empty = Map::new();
    let old_fields = old.definition.as_object().unwrap_or(&empty);
    let new_fields = new.definition.as_object().unwrap_or(&empty);
    for key in union_keys(old_fields, new_fields) {
        if CLASSIFIED_TOOL_FIELDS.contains(&key) {
            continue;
        }
        let (before, after) = (old_fields.get(key), new_fields.get(key));
        if before != after {
            out.push(Change::from_rule(
                TOOL_FIELD_CHANGED,
                Some(name),
                Some(format!("/{}", escape_pointer_token(key))),
                format!("tool field `{key}` changed"),
                before.cloned(),
                after.cloned(),
            ));
        }
    }
}

/// Whether a tool may destroy data, per the MCP defaults: `readOnlyHint`
/// defaults to false and `destructiveHint` (meaningful only when not
/// read-only) defaults to true. So a tool with no annotations counts as
/// destructive, and dropping `readOnlyHint: true` makes a tool destructive.
fn may_destroy(annotations: Option<&Map<String, Value>>) -> bool {
    let flag = |key: &str| {
        annotations
            .and_then(|map| map.get(key))
            .and_then(Value::as_bool)
    };
    let read_only = flag("readOnlyHint").unwrap_or(false);
    let destructive = flag("destructiveHint").unwrap_or(true);
    !read_only && destructive
}

/// Annotation keys a `tool-became-destructive` change already explains.
const DESTRUCTIVE_KEYS: &[&str] = &["readOnlyHint", "destructiveHint"];

fn diff_annotations(
    name: &str,
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
    out: &mut Vec<Change>,
) {
    let became_destructive = !may_destroy(old) && may_destroy(new);
    if became_destructive {
        let hints = |map: Option<&Map<String, Value>>| {
            let mut picked = Map::new();
            for key in DESTRUCTIVE_KEYS {
                if let Some(value) = map.and_then(|map| map.get(*key)) {
                    picked.insert((*key).to_string(), value.clone());
                }
            }
            Value::Object(picked)
        };
        out.push(Change::from_rule(
            TOOL_BECAME_DESTRUCTIVE,
            Some(name),
            Some("/annotations".to_string()),
            format!(
                "tool may now be destructive (readOnlyHint/destructiveHint: {} -> {})",
                hints(old),
                hints(new)
            ),
            Some(hints(old)),
            Some(hints(new)),
        ));
    }
    let empty = Map::new();
    let (old, new) = (old.unwrap_or(&empty), new.unwrap_or(&empty));
    for key in union_keys(old, new) {
        // The title has its own rule (it is the tool's display title).
        if key == "title" || (became_destructive && DESTRUCTIVE_KEYS.contains(&key)) {
            continue;
        }
        let (before, after) = (old.get(key), new.get(key));
        if before != after {
            out.push(Change::from_rule(
                ANNOTATIONS_CHANGED,
                Some(name),
                Some(format!("/annotations/{}", escape_pointer_token(key))),
                format!(
                    "annotation `{key}` changed: {} -> {}",
                    compact_or_absent(before),
                    compact_or_absent(after)
                ),
                before.cloned(),
                after.cloned(),
            ));
        }
    }
}

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

/// RFC 6901 escaping of one pointer token.
pub(crate) fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

pub(crate) fn compact_or_absent(value: Option<&Value>) -> String {
    value.map_or_else(|| "(absent)".to_string(), Value::to_string)
}

fn quoted_or_none(text: Option<&str>) -> String {
    text.map_or_else(|| "(none)".to_string(), |text| format!("{text:?}"))
}
