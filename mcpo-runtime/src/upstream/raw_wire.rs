//! Server answers exactly as the server sent them.
//!
//! rmcp parses `initialize` and list results into its typed models, which
//! silently drop every field they do not model (the `tasks` capability, a
//! tool's `execution`, unknown annotation hints, `x-...` extensions, fields
//! of newer specs). The lock must keep them verbatim, so the transports feed
//! every raw incoming JSON-RPC message to a [`RawWire`] recorder, which keeps
//! the `initialize` result and the item arrays of the [`LISTS`] (`tools`,
//! `resources`, `resourceTemplates`, `prompts`). After rmcp returns a typed
//! page, [`RawWire::take_list_page`] finds the raw page it came from and
//! [`merge_list_page`] prefers the raw object for each item, falling back to
//! the typed one when nothing was captured.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use rmcp::model::Tool;
use serde_json::{Map, Value};

/// Same cap as rmcp's stdio transport puts on one incoming line: a longer
/// line is dropped by rmcp too, so there is nothing to capture.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Raw results seen on the wire; a disabled recorder ignores everything (a
/// proxy has no use for them, and skips the cost).
#[derive(Debug, Clone)]
pub struct RawWire(Option<Arc<Mutex<Recorded>>>);

impl Default for RawWire {
    fn default() -> Self {
        RawWire::new(true)
    }
}

/// The list results whose items are recorded: the field of the result that
/// holds them, and the field that identifies an item.
pub const LISTS: [(&str, &str); 4] = [
    ("tools", "name"),
    ("resources", "uri"),
    ("resourceTemplates", "name"),
    ("prompts", "name"),
];

#[derive(Debug, Default)]
struct Recorded {
    /// Per list field (`tools`, `resources`, ...), the arrays seen, oldest first.
    pages: HashMap<&'static str, Vec<Vec<Value>>>,
    /// The first `initialize` result.
    initialize: Option<Map<String, Value>>,
}

impl RawWire {
    pub fn new(enabled: bool) -> Self {
        RawWire(enabled.then(Default::default))
    }

    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Records a serialized JSON-RPC message (or batch) if it is an
    /// `initialize` or `tools/list` result. Anything else, including invalid
    /// JSON, is ignored: rmcp reports protocol errors, this only watches.
    pub fn observe_bytes(&self, message: &[u8]) {
        if !self.is_enabled() {
            return;
        }
        // Cheap filter: most messages are none of these, skip parsing them.
        if !LISTS
            .iter()
            .any(|(field, _)| contains(message, format!("\"{field}\"").as_bytes()))
            && !contains(message, b"\"protocolVersion\"")
            && !contains(message, b"\"supportedVersions\"")
        {
            return;
        }
        if let Ok(value) = serde_json::from_slice::<Value>(message) {
            self.observe_message(value);
        }
    }

    /// Records a parsed JSON-RPC message (or batch) if it is an `initialize`
    /// or `tools/list` result.
    pub fn observe_message(&self, message: Value) {
        match message {
            Value::Array(batch) => batch
                .into_iter()
                .for_each(|message| self.observe_message(message)),
            Value::Object(mut message) => match message.remove("result") {
                Some(Value::Object(result)) if is_initialize_result(&result) => {
                    if let Some(mut recorded) = self.lock() {
                        recorded.initialize.get_or_insert(result);
                    }
                }
                Some(Value::Object(result)) if is_discover_result(&result) => {
                    if let Some(mut recorded) = self.lock() {
                        recorded
                            .initialize
                            .get_or_insert_with(|| discover_as_initialize(result));
                    }
                }
                Some(Value::Object(mut result)) => {
                    for (field, _) in LISTS {
                        if let Some(Value::Array(items)) = result.remove(field)
                            && let Some(mut recorded) = self.lock()
                        {
                            recorded.pages.entry(field).or_default().push(items);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// The raw page rmcp parsed `typed` from: the most recent recorded page
    /// that holds every typed tool's name. Pages are requested one at a time
    /// and recorded before rmcp sees them, so everything recorded so far
    /// belongs to this page or an earlier one: all of it is dropped here.
    pub fn take_page_for(&self, typed: &[Tool]) -> Option<Vec<Value>> {
        let names: Vec<&str> = typed.iter().map(|tool| tool.name.as_ref()).collect();
        self.take_list_page("tools", &names)
    }

    /// As [`RawWire::take_page_for`], for any of the [`LISTS`]: the most
    /// recent recorded `list_field` array holding every one of `keys`.
    pub fn take_list_page(&self, list_field: &str, keys: &[&str]) -> Option<Vec<Value>> {
        let key_field = key_field(list_field);
        let pages = self.lock()?.pages.remove(list_field).unwrap_or_default();
        pages.into_iter().rev().find(|raw| {
            keys.iter().all(|key| {
                raw.iter()
                    .any(|candidate| item_key(candidate, key_field) == Some(*key))
            })
        })
    }

    /// The `initialize` result as the server sent it, when one was seen; for
    /// a stateless server, its `server/discover` result in the same shape
    /// (see [`discover_as_initialize`]).
    pub fn initialize_result(&self) -> Option<Map<String, Value>> {
        self.lock()?.initialize.clone()
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Recorded>> {
        let recorded = self.0.as_ref()?;
        Some(
            recorded
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// An `initialize` result: it alone carries `protocolVersion` and
/// `capabilities` (a `tools/list` result has neither).
fn is_initialize_result(result: &Map<String, Value>) -> bool {
    result.get("protocolVersion").is_some_and(Value::is_string)
        && result.get("capabilities").is_some_and(Value::is_object)
}

/// A `server/discover` result (revision 2026-07-28): `supportedVersions`
/// and `capabilities`.
fn is_discover_result(result: &Map<String, Value>) -> bool {
    result.get("supportedVersions").is_some_and(Value::is_array)
        && result.get("capabilities").is_some_and(Value::is_object)
}

/// Where a `server/discover` result carries the server's name and version.
const SERVER_INFO_META_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// A discover result read like an `initialize` result: every field kept
/// verbatim, plus `serverInfo` lifted out of `_meta` (where 2026-07-28 puts
/// it) unless the result has its own.
fn discover_as_initialize(mut result: Map<String, Value>) -> Map<String, Value> {
    let server_info = result
        .get("_meta")
        .and_then(|meta| meta.get(SERVER_INFO_META_KEY))
        .filter(|info| info.is_object())
        .cloned();
    if let Some(server_info) = server_info {
        result.entry("serverInfo").or_insert(server_info);
    }
    result
}

fn key_field(list_field: &str) -> &'static str {
    LISTS
        .iter()
        .find(|(field, _)| *field == list_field)
        .map_or("name", |(_, key)| key)
}

fn item_key<'a>(item: &'a Value, key_field: &str) -> Option<&'a str> {
    item.get(key_field).and_then(Value::as_str)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// [`merge_list_page`] for a page of typed tools.
#[cfg(test)]
fn merge_page(typed: &[Tool], raw: Option<Vec<Value>>) -> Vec<Value> {
    let typed = typed
        .iter()
        .map(|tool| {
            let value = serde_json::to_value(tool).unwrap_or(Value::Null);
            (tool.name.to_string(), value)
        })
        .collect();
    merge_list_page("tools", typed, raw)
}

/// The page's items for the lock, in rmcp's order: the raw object when one
/// with the same key was captured, else rmcp's typed one re-serialized
/// (`typed` is each item's key and that). rmcp decides which items exist
/// (it may drop invalid ones); the raw page only supplies their verbatim text.
pub fn merge_list_page(
    list_field: &str,
    typed: Vec<(String, Value)>,
    raw: Option<Vec<Value>>,
) -> Vec<Value> {
    let key_field = key_field(list_field);
    let mut raw_by_key: HashMap<String, VecDeque<Value>> = HashMap::new();
    for item in raw.into_iter().flatten() {
        if let Some(key) = item_key(&item, key_field).map(str::to_string) {
            raw_by_key.entry(key).or_default().push_back(item);
        }
    }
    typed
        .into_iter()
        .map(|(key, typed)| {
            raw_by_key
                .get_mut(&key)
                .and_then(VecDeque::pop_front)
                .unwrap_or(typed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(tools: &Value) -> Vec<Tool> {
        serde_json::from_value(tools.clone()).expect("test tools are valid rmcp tools")
    }

    fn future_tool() -> Value {
        json!({
            "name": "long_job",
            "inputSchema": {"type": "object"},
            "execution": {"taskSupport": "required"},
            "annotations": {"readOnlyHint": true, "x-costHint": "high"},
            "x-vendor": [1, 2]
        })
    }

    #[test]
    fn a_discover_result_is_read_like_an_initialize_result() {
        let wire = RawWire::default();
        let result = json!({
            "resultType": "complete",
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}, "x-future": {"a": 1}},
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "s", "version": "2"}}
        });
        wire.observe_bytes(
            json!({"jsonrpc": "2.0", "id": 1, "result": result})
                .to_string()
                .as_bytes(),
        );
        let recorded = wire
            .initialize_result()
            .expect("the discover result is kept");
        assert_eq!(recorded["serverInfo"], json!({"name": "s", "version": "2"}));
        assert_eq!(recorded["capabilities"], result["capabilities"]);
        assert_eq!(recorded["supportedVersions"], json!(["2026-07-28"]));
    }

    #[test]
    fn the_first_initialize_result_is_kept_verbatim() {
        let wire = RawWire::default();
        let result = json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {}, "tasks": {"requests": {"tools": {"call": {}}}}},
            "serverInfo": {"name": "s", "version": "1", "x-build": 7}
        });
        wire.observe_bytes(
            json!({"jsonrpc": "2.0", "id": 0, "result": result})
                .to_string()
                .as_bytes(),
        );
        // A later look-alike (a second session, a replay) does not replace it.
        wire.observe_message(json!({"jsonrpc": "2.0", "id": 9,
            "result": {"protocolVersion": "x", "capabilities": {}}}));
        assert_eq!(wire.initialize_result().map(Value::Object), Some(result));
        // An initialize result is not a tool page, and a tool page is not one.
        assert_eq!(wire.take_page_for(&[]), None);
        let pages = RawWire::default();
        pages.observe_message(tools_list_response(1, json!([future_tool()])));
        assert_eq!(pages.initialize_result(), None);
    }

    fn tools_list_response(id: u64, tools: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "result": {"tools": tools}})
    }

    #[test]
    fn typed_tools_lose_unknown_fields_which_is_why_this_module_exists() {
        let raw = json!([future_tool()]);
        let reserialized = serde_json::to_value(&typed(&raw)[0]).unwrap();
        assert!(reserialized.get("execution").is_none());
        assert_ne!(reserialized, raw[0]);
    }

    #[test]
    fn merge_prefers_the_raw_object() {
        let raw = json!([future_tool(), {"name": "plain", "inputSchema": {"type": "object"}}]);
        let merged = merge_page(&typed(&raw), raw.as_array().cloned());
        assert_eq!(Value::Array(merged), raw);
    }

    #[test]
    fn merge_falls_back_to_typed_per_tool_and_keeps_rmcps_order() {
        let raw = json!([future_tool()]);
        let typed_tools = typed(&json!([
            {"name": "only_typed", "inputSchema": {"type": "object"}},
            {"name": "long_job", "inputSchema": {"type": "object"}}
        ]));
        let merged = merge_page(&typed_tools, raw.as_array().cloned());
        assert_eq!(
            merged[0],
            json!({"name": "only_typed", "inputSchema": {"type": "object"}})
        );
        assert_eq!(merged[1], future_tool());
        assert_eq!(merge_page(&typed_tools, None).len(), 2);
    }

    #[test]
    fn merge_drops_raw_tools_rmcp_rejected() {
        let raw = json!([future_tool(), {"name": "rejected_by_rmcp"}]);
        let merged = merge_page(&typed(&json!([future_tool()])), raw.as_array().cloned());
        assert_eq!(merged, vec![future_tool()]);
    }

    #[test]
    fn only_tools_list_results_are_recorded() {
        let pages = RawWire::default();
        pages.observe_bytes(br#"{"jsonrpc":"2.0","id":0,"result":{"capabilities":{"tools":{}}}}"#);
        pages.observe_bytes(br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#);
        pages.observe_bytes(br#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"tools"}}"#);
        pages.observe_bytes(b"not json \"tools\"");
        pages.observe_bytes(br#"{"id":2,"result":{"tools":"not an array"}}"#);
        assert!(
            pages
                .lock()
                .unwrap()
                .pages
                .get("tools")
                .is_none_or(Vec::is_empty)
        );
        let response = tools_list_response(3, json!([future_tool()]));
        pages.observe_bytes(response.to_string().as_bytes());
        assert_eq!(pages.lock().unwrap().pages["tools"].len(), 1);
    }

    #[test]
    fn batches_are_searched() {
        let pages = RawWire::default();
        pages.observe_message(json!([{"id": 1, "result": {}}, tools_list_response(2, json!([]))]));
        assert_eq!(pages.lock().unwrap().pages["tools"].len(), 1);
    }

    #[test]
    fn take_page_for_picks_the_latest_matching_page_and_forgets_the_rest() {
        let pages = RawWire::default();
        let old = json!([{"name": "long_job", "inputSchema": {}, "old": true}]);
        let other = json!([{"name": "other", "inputSchema": {}}]);
        pages.observe_message(tools_list_response(1, old));
        pages.observe_message(tools_list_response(2, json!([future_tool()])));
        pages.observe_message(tools_list_response(3, other));
        let page = pages.take_page_for(&typed(&json!([future_tool()])));
        assert_eq!(page, Some(vec![future_tool()]));
        assert!(
            pages
                .lock()
                .unwrap()
                .pages
                .get("tools")
                .is_none_or(Vec::is_empty)
        );
        assert_eq!(pages.take_page_for(&typed(&json!([future_tool()]))), None);
    }

    #[test]
    fn an_empty_typed_page_matches_an_empty_raw_page() {
        let pages = RawWire::default();
        pages.observe_message(tools_list_response(1, json!([])));
        assert_eq!(pages.take_page_for(&[]), Some(vec![]));
    }
}
