//! The lock and tool level classifier: server facts, the tool set, and
//! each tool's fields (its schemas go to the sibling `schema` module).

use serde_json::{Map, Value};

use super::rules::*;
use super::schema::{SchemaSide, diff_schema};
use super::values::{compact_or_absent, rename_hint, union_keys};
use super::{Change, Report};
use std::collections::BTreeMap;

use crate::lock::{CrateLock, Lock, LockedTool, MultiLock};
use crate::schema::document::escape_token;

/// Classifies every change from `old` to `new`. Tools are matched by name,
/// prompts, resource templates and resources by key (see `surface`).
/// The generator version is not compared: it changes generated code, not the
/// API (`mcpo-gen check` covers that).
/// The lock is the crate's, so its access policy is compared too.
pub fn diff_locks(old: &Lock, new: &Lock) -> Report {
    let mut changes = server_changes(old, new);
    changes.extend(super::policy::diff_policies(
        old.proxy_crate.policy.as_ref(),
        new.proxy_crate.policy.as_ref(),
        false,
    ));
    Report::new(changes)
}

/// The changes of one server: everything but the crate's settings, which
/// every server of a multi-server crate shares (compared once, by
/// [`diff_crate_locks`]).
fn server_changes(old: &Lock, new: &Lock) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_server(old, new, &mut changes);
    diff_tool_sets(old, new, &mut changes);
    super::surface::diff_surface(&old.surface, &new.surface, &mut changes);
    changes.extend(crate::audit::new_text_findings(old, new));
    changes
}

/// Classifies every change between two crate locks. Servers of a
/// multi-server crate are matched by name and their changes grouped by
/// server; a crate that changed between one server and several is compared
/// as servers too (the single one under the name `""`, at the root).
pub fn diff_crate_locks(old_crate: &CrateLock, new_crate: &CrateLock) -> Report {
    if let (CrateLock::Single(old), CrateLock::Single(new)) = (old_crate, new_crate) {
        return diff_locks(old, new);
    }
    let named = |lock: &CrateLock| -> BTreeMap<String, Lock> {
        lock.servers()
            .into_iter()
            .map(|(name, server)| (name.unwrap_or_default().to_string(), server.clone()))
            .collect()
    };
    let (old, new) = (named(old_crate), named(new_crate));
    let mut changes = Vec::new();
    for (name, old_server) in &old {
        let Some(new_server) = new.get(name) else {
            let mut change = Change::from_rule(
                SERVER_REMOVED,
                None,
                Some(format!("/servers/{}", escape_token(name))),
                format!("server {name:?} removed ({} tools)", old_server.tools.len()),
                Some(Value::from(old_server.upstream.describe())),
                None,
            );
            change.server = Some(name.clone());
            changes.push(change);
            continue;
        };
        changes.extend(
            server_changes(old_server, new_server)
                .into_iter()
                .map(|mut change| {
                    change.server = Some(name.clone());
                    change
                }),
        );
    }
    for (name, new_server) in new.iter().filter(|(name, _)| !old.contains_key(*name)) {
        let mut change = Change::from_rule(
            SERVER_ADDED,
            None,
            Some(format!("/servers/{}", escape_token(name))),
            format!("server {name:?} added ({} tools)", new_server.tools.len()),
            None,
            Some(Value::from(new_server.upstream.describe())),
        );
        change.server = Some(name.clone());
        changes.push(change);
    }
    if let (CrateLock::Multi(old_lock), CrateLock::Multi(new_lock)) = (old_crate, new_crate) {
        changes.extend(mcp_name_changes(old_lock, new_lock));
    }
    // The crate's policy, once: every server's lock carries the same one.
    changes.extend(super::policy::diff_policies(
        old_crate.proxy_crate().policy.as_ref(),
        new_crate.proxy_crate().policy.as_ref(),
        true,
    ));
    Report::new(changes)
}

/// Tools served before and after whose aggregated `/mcp` name changed.
fn mcp_name_changes(old: &MultiLock, new: &MultiLock) -> Vec<Change> {
    let new_names = new.mcp_tool_names();
    old.mcp_tool_names()
        .into_iter()
        .filter_map(|((server, tool), old_name)| {
            let new_name = new_names.get(&(server.clone(), tool.clone()))?;
            if *new_name == old_name {
                return None;
            }
            let mut change = Change::from_rule(
                MCP_NAME_CHANGED,
                Some(tool.as_str()),
                Some(format!("/mcpToolNames/{}", escape_token(new_name))),
                format!(
                    "at the aggregated /mcp, tool {tool:?} is now {new_name:?} (was {old_name:?})"
                ),
                Some(Value::from(old_name)),
                Some(Value::from(new_name.clone())),
            );
            change.server = Some(server);
            Some(change)
        })
        .collect()
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
        if new.disabled_tools.contains(&tool.name) {
            out.push(Change::from_rule(
                TOOL_DISABLED,
                Some(&tool.name),
                None,
                "tool disabled by the config (the server still offers it)".to_string(),
                Some(tool.definition.clone()),
                None,
            ));
            continue;
        }
        let renamed_to = same_shape_names(tool, &added);
        let hint = rename_hint("to", &renamed_to, "same schemas");
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
        if old.disabled_tools.contains(&tool.name) {
            out.push(Change::from_rule(
                TOOL_ENABLED,
                Some(&tool.name),
                None,
                "tool enabled by the config (it was disabled)".to_string(),
                None,
                Some(tool.definition.clone()),
            ));
            continue;
        }
        let renamed_from = same_shape_names(tool, &removed);
        let hint = rename_hint("of", &renamed_from, "same schemas");
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
                Some(format!("/{}", escape_token(key))),
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
                Some(format!("/annotations/{}", escape_token(key))),
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

fn quoted_or_none(text: Option<&str>) -> String {
    text.map_or_else(|| "(none)".to_string(), |text| format!("{text:?}"))
}
