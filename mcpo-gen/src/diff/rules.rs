//! The rule registry.
//!
//! Every change carries a rule id from [`RULES`]; a rule has exactly one
//! level, so `--fail-on` and filters can rely on ids alone. The sibling
//! `classify` module applies the lock and tool level rules, `surface` the
//! prompt, resource template and resource ones, `schema` the schema-level
//! ones.
//!
//! Direction matters: an *input* schema is what clients send, so anything
//! that accepts less is breaking; an *output* schema is what clients read, so
//! anything that may produce values a client has not seen (a removed
//! property, a wider type, a new enum value) is breaking, and narrowing is
//! harmless. Output rules carry an `output-` prefix.

use serde_json::Value;

use super::{Change, Level};

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
    // Servers of a multi-server crate.
    SERVER_REMOVED = "server-removed", Err,
        "A multi-server crate no longer serves a server: every route under its prefix is gone.";
    SERVER_ADDED = "server-added", Info,
        "A multi-server crate serves a new server under a new prefix.";
    MCP_NAME_CHANGED = "mcp-name-changed", Err,
        "A tool has another name at a multi-server crate's aggregated /mcp (a new name collision): MCP clients calling the old name break.";
    // Tools.
    TOOL_REMOVED = "tool-removed", Err,
        "A tool is gone (a rename shows as removed + added).";
    TOOL_ADDED = "tool-added", Info,
        "A new tool.";
    TOOL_DISABLED = "tool-disabled", Err,
        "The config switched a served tool off (disabledTools or enabledTools): its route is gone.";
    TOOL_ENABLED = "tool-enabled", Info,
        "The config switched a tool back on: it has a route again.";
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
    // Prompts: each is a `POST /prompts/{name}` route and a `prompts/get`
    // name; its arguments are the route's (string) body properties.
    PROMPT_REMOVED = "prompt-removed", Err,
        "A prompt is gone: its route and prompts/get by its name fail (a rename shows as removed + added).";
    PROMPT_ADDED = "prompt-added", Info,
        "A new prompt.";
    PROMPT_REQUIRED_ARGUMENT_ADDED = "prompt-required-argument-added", Err,
        "A prompt has a new required argument: requests without it fail.";
    PROMPT_ARGUMENT_REMOVED = "prompt-argument-removed", Err,
        "A prompt argument is gone: requests that pass it are refused.";
    PROMPT_ARGUMENT_BECAME_REQUIRED = "prompt-argument-became-required", Err,
        "An optional prompt argument is now required: requests without it fail.";
    PROMPT_OPTIONAL_ARGUMENT_ADDED = "prompt-optional-argument-added", Info,
        "A prompt has a new optional argument.";
    PROMPT_ARGUMENT_BECAME_OPTIONAL = "prompt-argument-became-optional", Info,
        "A required prompt argument is now optional.";
    PROMPT_DESCRIPTION_CHANGED = "prompt-description-changed", Warn,
        "A prompt's description or title, or one of its arguments' descriptions or titles, changed: users and models read them.";
    PROMPT_FIELD_CHANGED = "prompt-field-changed", Warn,
        "Another field of a prompt (icons, _meta, an argument's other fields, the arguments' order, ...) changed.";
    // Resource templates: each is a `GET /resources/templates/{name}` route
    // whose query parameters are the template's variables, and the URIs
    // `resources/read` accepts by its shape.
    RESOURCE_TEMPLATE_REMOVED = "resource-template-removed", Err,
        "A resource template is gone: its route is gone and URIs only it matched can no longer be read.";
    RESOURCE_TEMPLATE_ADDED = "resource-template-added", Info,
        "A new resource template.";
    RESOURCE_TEMPLATE_URI_CHANGED = "resource-template-uri-changed", Err,
        "A resource template's uriTemplate changed (its literal text, an operator or a named variable): URIs built from the old one may no longer be readable.";
    RESOURCE_TEMPLATE_VARIABLE_CHANGED = "resource-template-variable-changed", Err,
        "A resource template variable was added, removed or renamed, or became required: its route's query parameters changed.";
    RESOURCE_TEMPLATE_DESCRIPTION_CHANGED = "resource-template-description-changed", Warn,
        "A resource template's description or title changed: models read them.";
    RESOURCE_TEMPLATE_FIELD_CHANGED = "resource-template-field-changed", Warn,
        "Another field of a resource template (annotations, icons, _meta, ...) changed.";
    // Resources (a pinned list): the URIs `resources/read` accepts.
    RESOURCE_REMOVED = "resource-removed", Err,
        "A pinned resource is gone: reads of its URI are refused.";
    RESOURCE_ADDED = "resource-added", Info,
        "A new pinned resource.";
    RESOURCE_MIME_TYPE_CHANGED = "resource-mime-type-changed", Warn,
        "A resource's or resource template's mimeType changed: clients may get content they do not expect.";
    RESOURCE_DESCRIPTION_CHANGED = "resource-description-changed", Info,
        "A resource's description, name or title changed.";
    RESOURCE_FIELD_CHANGED = "resource-field-changed", Info,
        "Another field of a resource (size, annotations, icons, _meta, ...) changed.";
    RESOURCE_LIST_MODE_CHANGED = "resource-list-mode-changed", Warn,
        "The resource list switched between pinned and live (--live-resources): which URIs can be read is decided differently.";
    // The crate's access policy (`crate.policy`, from `mcp.policy.json`):
    // who may use which tools, resources and prompts.
    POLICY_GRANT_WIDENED = "policy-grant-widened", Err,
        "Someone may now use what they could not before: the access policy was removed, or a grant was added, reaches more callers or servers, or allows more tools, resources or prompts.";
    POLICY_GRANT_NARROWED = "policy-grant-narrowed", Warn,
        "Someone lost access: a grant was removed or allows less, or an access policy now applies where there was none; callers that worked get 403.";
    // Text audit (`mcpo-gen audit`, and `diff` for new or changed text):
    // what in a text models read hides something from its reviewer.
    HIDDEN_UNICODE = "hidden-unicode", Warn,
        "Text models read holds invisible or bidirectional Unicode (zero-width, tag, bidi control characters) a reviewer cannot see.";
    INSTRUCTION_PHRASE = "instruction-phrase", Warn,
        "Text speaks to the model instead of describing the tool: \"ignore previous instructions\", \"do not tell the user\", <IMPORTANT>-style tags, HTML comments.";
    SECRET_REFERENCE = "secret-reference", Warn,
        "Text names secrets or private files: ~/.ssh, id_rsa, .env, API keys, tokens, passwords, credentials.";
    OVERSIZED_TEXT = "oversized-text", Warn,
        "Text is unusually long (over 4,000 characters): room to bury instructions.";
    ENCODED_TEXT = "encoded-text", Warn,
        "Text holds an encoded blob (a long base64 or hex run, percent-escapes) a reviewer cannot read.";
    UNPINNED_UPSTREAM = "unpinned-upstream", Warn,
        "The lock's launch spec runs a package from an index (uvx, pipx, npx, bunx) or an image without pinning its version (or digest): the server behind the reviewed lock can change without review.";
    CROSS_SERVER_SHADOWING = "cross-server-shadowing", Warn,
        "Audit of several locks only: a text of one server names a tool of another, which can steer the model's use of that server.";
}

/// Rules whose old/new values are prose shown in full by every renderer.
pub(crate) const TEXT_RULE_IDS: &[&str] = &[
    TOOL_DESCRIPTION_CHANGED.id,
    PROPERTY_DESCRIPTION_CHANGED.id,
    SERVER_INSTRUCTIONS_CHANGED.id,
    PROMPT_DESCRIPTION_CHANGED.id,
    RESOURCE_TEMPLATE_DESCRIPTION_CHANGED.id,
    RESOURCE_DESCRIPTION_CHANGED.id,
];

/// Whether `id` is one of the text audit's rules (`mcpo-gen audit`, which
/// `diff` applies to new or changed text).
pub fn is_text_audit(id: &str) -> bool {
    [
        HIDDEN_UNICODE,
        INSTRUCTION_PHRASE,
        SECRET_REFERENCE,
        OVERSIZED_TEXT,
        ENCODED_TEXT,
        CROSS_SERVER_SHADOWING,
    ]
    .iter()
    .any(|rule| rule.id == id)
}

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
            server: None,
            tool: tool.map(str::to_string),
            item: None,
            pointer,
            message,
            old,
            new,
        }
    }

    /// A change of a resource, resource template or prompt.
    pub(crate) fn for_item(
        rule: Rule,
        item: &super::Item,
        pointer: Option<String>,
        message: String,
        old: Option<Value>,
        new: Option<Value>,
    ) -> Self {
        Change {
            item: Some(item.clone()),
            ..Change::from_rule(rule, None, pointer, message, old, new)
        }
    }
}
