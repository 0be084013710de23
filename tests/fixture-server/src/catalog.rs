//! The tools this server offers: loaded from a tool file or generated.
//!
//! Tool file format:
//! ```json
//! { "tools": [ <MCP tool objects, served as written> ],
//!   "behaviors": { "<tool name>": {"kind": "..."} } }
//! ```
//! Both keys are optional; other top-level keys (e.g. `"$comment"`) are ignored.

use std::{collections::HashMap, path::Path};

use anyhow::{Context, bail};
use rmcp::model::Tool;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{behavior::Behavior, long_calls::LongCallTool, resources, verbatim::VerbatimTools};

#[derive(Debug, Deserialize)]
struct ToolFile {
    #[serde(default)]
    tools: Vec<Value>,
    #[serde(default)]
    behaviors: HashMap<String, Behavior>,
}

/// How one tool answers a call.
#[derive(Debug, Clone)]
pub struct ToolEntry {
    pub behavior: Behavior,
    /// An echo also returns `structuredContent` when the tool promises one.
    pub has_output_schema: bool,
}

/// The tool list in serving order plus each tool's behaviour, looked up by name.
#[derive(Debug, Default)]
pub struct Catalog {
    tools: Vec<Tool>,
    entries: HashMap<String, ToolEntry>,
    /// File definitions of the tools rmcp's `Tool` would alter, to be restored on the
    /// wire (see `verbatim`).
    altered_by_rmcp: HashMap<String, Value>,
}

/// A field of a tool file that rmcp's typed `Tool` model cannot carry, so the server
/// restores it on the wire (see `verbatim`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossyField {
    pub tool: String,
    pub field: String,
}

impl Catalog {
    /// Read and check a tool file. Returns the catalog, the fields rmcp would drop
    /// and the file's text (what a reload compares with).
    pub fn from_file(path: &Path) -> anyhow::Result<(Self, Vec<LossyField>, String)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read tool file {}", path.display()))?;
        let (catalog, lossy) = Self::from_json(&text)
            .with_context(|| format!("invalid tool file {}", path.display()))?;
        Ok((catalog, lossy, text))
    }

    /// Parse a tool file's text. Fails on anything that would make the fixture lie:
    /// a tool rmcp cannot represent, or a behaviour for a tool that does not exist.
    pub fn from_json(text: &str) -> anyhow::Result<(Self, Vec<LossyField>)> {
        let file: ToolFile = serde_json::from_str(text)?;
        let mut catalog = Catalog::default();
        let mut lossy = Vec::new();
        for (index, definition) in file.tools.into_iter().enumerate() {
            let tool: Tool = serde_json::from_value(definition.clone()).with_context(|| {
                let name = definition
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                format!("tools[{index}] (name {name:?}) is not a valid MCP tool")
            })?;
            let lost = fields_lost_by_rmcp(&definition, &tool);
            let name = tool.name.to_string();
            catalog.push(tool, Behavior::Echo)?;
            if !lost.is_empty() {
                catalog.altered_by_rmcp.insert(name, definition);
                lossy.extend(lost);
            }
        }
        for (name, behavior) in file.behaviors {
            match catalog.entries.get_mut(&name) {
                Some(entry) => entry.behavior = behavior,
                None => bail!("behaviors has an entry for {name:?}, which is not in tools"),
            }
        }
        Ok((catalog, lossy))
    }

    /// `count` echo tools named `tool_0000`, `tool_0001`, ... (paging tests).
    pub fn generated(count: usize) -> anyhow::Result<Self> {
        let mut catalog = Catalog::default();
        for index in 0..count {
            let definition = json!({
                "name": format!("tool_{index:04}"),
                "description": format!("Generated tool number {index}: echoes its arguments."),
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "string", "description": "Any text; echoed back."}
                    }
                }
            });
            let tool: Tool = serde_json::from_value(definition)?;
            catalog.push(tool, Behavior::Echo)?;
        }
        Ok(catalog)
    }

    /// `--resources`: the `touch_resource` tool, after the others. Fails when the
    /// tools already have one.
    pub fn add_touch_resource(&mut self) -> anyhow::Result<()> {
        self.push(resources::touch_tool(), Behavior::TouchResource)
    }

    /// `--tasks-extension`: `ext_slow`, `ext_ask`, `ext_fail` and `mrtr_ask`,
    /// after the others. Fails when the tools already have one of these names.
    pub fn add_long_call_tools(&mut self) -> anyhow::Result<()> {
        for tool in LongCallTool::ALL {
            self.push(tool.definition(), Behavior::LongCall(tool))?;
        }
        Ok(())
    }

    fn push(&mut self, tool: Tool, behavior: Behavior) -> anyhow::Result<()> {
        let name = tool.name.to_string();
        if self.entries.contains_key(&name) {
            // Calls could not tell the two apart, so refuse rather than guess.
            bail!("tool name {name:?} appears more than once");
        }
        let entry = ToolEntry {
            behavior,
            has_output_schema: tool.output_schema.is_some(),
        };
        self.entries.insert(name, entry);
        self.tools.push(tool);
        Ok(())
    }

    /// All tools in the order of the file.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    pub fn entry(&self, name: &str) -> Option<&ToolEntry> {
        self.entries.get(name)
    }

    /// What the transports need to serve the altered tools as the file wrote them.
    pub fn verbatim_tools(&self) -> VerbatimTools {
        VerbatimTools::new(self.altered_by_rmcp.clone())
    }
}

/// Top-level fields (and `annotations.*` fields) of `definition` that do not survive a
/// round trip through rmcp's `Tool`: rmcp has no catch-all map for unknown fields.
fn fields_lost_by_rmcp(definition: &Value, tool: &Tool) -> Vec<LossyField> {
    let served = serde_json::to_value(tool).unwrap_or(Value::Null);
    let mut lost = Vec::new();
    let name = tool.name.to_string();
    let (Some(original), Some(served)) = (definition.as_object(), served.as_object()) else {
        return lost;
    };
    for (key, value) in original {
        match (key.as_str(), served.get(key)) {
            ("annotations", Some(served_annotations)) => {
                if let (Some(wanted), Some(got)) =
                    (value.as_object(), served_annotations.as_object())
                {
                    for (hint, hint_value) in wanted {
                        if got.get(hint) != Some(hint_value) {
                            lost.push(LossyField {
                                tool: name.clone(),
                                field: format!("annotations.{hint}"),
                            });
                        }
                    }
                }
            }
            (_, Some(served_value)) if served_value == value => {}
            _ => lost.push(LossyField {
                tool: name.clone(),
                field: key.clone(),
            }),
        }
    }
    lost
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_tools_in_order_with_behaviours() {
        let (catalog, lossy) = Catalog::from_json(
            r#"{"tools": [
                  {"name": "b", "inputSchema": {"type": "object"}},
                  {"name": "a", "inputSchema": {"type": "object"},
                   "outputSchema": {"type": "object"}}],
                "behaviors": {"b": {"kind": "crash"}}}"#,
        )
        .unwrap();
        assert!(lossy.is_empty(), "{lossy:?}");
        assert!(catalog.verbatim_tools().is_empty());
        let names: Vec<_> = catalog.tools().iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["b", "a"]);
        assert!(matches!(
            catalog.entry("b").unwrap().behavior,
            Behavior::Crash
        ));
        assert!(matches!(
            catalog.entry("a").unwrap().behavior,
            Behavior::Echo
        ));
        assert!(catalog.entry("a").unwrap().has_output_schema);
        assert!(!catalog.entry("b").unwrap().has_output_schema);
    }

    #[test]
    fn empty_file_means_no_tools() {
        let (catalog, _) = Catalog::from_json("{}").unwrap();
        assert!(catalog.tools().is_empty());
    }

    #[test]
    fn rejects_what_would_make_the_fixture_lie() {
        for bad in [
            r#"{"tools": [{"inputSchema": {}}]}"#,
            r#"{"tools": [{"name": "x"}]}"#,
            r#"{"tools": [{"name": "x", "inputSchema": {}}, {"name": "x", "inputSchema": {}}]}"#,
            r#"{"tools": [], "behaviors": {"ghost": {"kind": "echo"}}}"#,
            r#"{"tools": [{"name": "x", "inputSchema": {}}], "behaviors": {"x": {"kind": "nope"}}}"#,
            "not json",
        ] {
            assert!(
                Catalog::from_json(bad).is_err(),
                "should be rejected: {bad}"
            );
        }
    }

    #[test]
    fn reports_fields_rmcp_cannot_serve() {
        let (catalog, lossy) = Catalog::from_json(
            r#"{"tools": [{"name": "x", "inputSchema": {}, "execution": {"taskSupport": "optional"},
                "annotations": {"readOnlyHint": true, "futureHint": 1}}]}"#,
        )
        .unwrap();
        let fields: Vec<_> = lossy.iter().map(|l| l.field.as_str()).collect();
        assert!(!catalog.verbatim_tools().is_empty());
        assert_eq!(fields.len(), 2, "{lossy:?}");
        assert!(fields.contains(&"execution"));
        assert!(fields.contains(&"annotations.futureHint"));
    }

    #[test]
    fn touch_resource_comes_last_and_only_once() {
        let mut catalog = Catalog::generated(2).unwrap();
        catalog.add_touch_resource().unwrap();
        let names: Vec<_> = catalog.tools().iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(names, ["tool_0000", "tool_0001", "touch_resource"]);
        assert!(matches!(
            catalog.entry("touch_resource").unwrap().behavior,
            Behavior::TouchResource
        ));
        assert!(catalog.add_touch_resource().is_err());
    }

    #[test]
    fn long_call_tools_come_last_and_only_once() {
        let mut catalog = Catalog::generated(1).unwrap();
        catalog.add_touch_resource().unwrap();
        catalog.add_long_call_tools().unwrap();
        let names: Vec<_> = catalog.tools().iter().map(|t| t.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "tool_0000",
                "touch_resource",
                "ext_slow",
                "ext_ask",
                "ext_fail",
                "mrtr_ask"
            ]
        );
        for tool in &catalog.tools()[2..] {
            assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
        }
        assert!(matches!(
            catalog.entry("mrtr_ask").unwrap().behavior,
            Behavior::LongCall(LongCallTool::MrtrAsk)
        ));
        assert!(catalog.add_long_call_tools().is_err());
    }

    #[test]
    fn generates_numbered_tools() {
        let catalog = Catalog::generated(1000).unwrap();
        assert_eq!(catalog.tools().len(), 1000);
        assert_eq!(catalog.tools()[0].name, "tool_0000");
        assert_eq!(catalog.tools()[999].name, "tool_0999");
    }
}
