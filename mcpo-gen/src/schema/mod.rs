//! JSON Schema -> type model ([`ir`]) -> Rust tokens ([`rust`]).
//!
//! [`lower_tools`] turns every tool's `inputSchema` (and `outputSchema`) into
//! serde types for the generated `tools.rs`. The types document the API and
//! check requests; they are never stricter than the schema (a request the
//! schema accepts always deserializes), and the runtime's jsonschema
//! validation enforces what Rust types can't say (patterns, ranges, formats,
//! `const`, numeric `enum`s, ...). What can't be typed faithfully becomes
//! `serde_json::Value`, so lowering never fails.
//!
//! Naming: `{Tool}Input`, `{Tool}Output`, nested objects `{Parent}{Field}`,
//! array elements `{Parent}{Field}Item`, map values `{Parent}{Field}Value`,
//! `$defs` entries `{Tool}{Def}`. Names are unique across all tools and never
//! shadow the prelude or the names `tools.rs` imports.

pub mod document;
pub mod ir;
pub mod lower;
pub mod rust;

use std::collections::BTreeMap;

use proc_macro2::TokenStream;

use crate::lock::LockedTool;
use crate::naming::{UniqueNames, camel_ident};

/// The Rust types of one tool.
#[derive(Debug, Clone)]
pub struct ToolTypes {
    /// Type expression of the request body, e.g. `GetCurrentTimeInput` or `serde_json::Value`.
    pub input: TokenStream,
    /// Type expression for the result when the tool declares `outputSchema`.
    pub output: Option<TokenStream>,
}

/// The types of all tools of one server.
#[derive(Debug, Clone)]
pub struct LoweredTypes {
    /// Every struct/enum/type alias definition, to be placed at the top of tools.rs.
    pub items: TokenStream,
    /// Keyed by tool name.
    pub tools: BTreeMap<String, ToolTypes>,
}

impl LoweredTypes {
    /// The items as formatted Rust source (what the snapshot tests compare).
    pub fn items_source(&self) -> String {
        match syn::parse2::<syn::File>(self.items.clone()) {
            Ok(file) => prettyplease::unparse(&file),
            // Unreachable for tokens built by `rust`; kept total anyway.
            Err(_) => self.items.to_string(),
        }
    }
}

/// Never panics, never fails: whatever can't be typed faithfully becomes serde_json::Value.
pub fn lower_tools(tools: &[LockedTool]) -> LoweredTypes {
    let mut ordered: Vec<&LockedTool> = tools.iter().collect();
    // Names are handed out in order: sorting makes them independent of the
    // order tools arrive in.
    ordered.sort_by(|a, b| a.name.cmp(&b.name));

    let mut lowerer = lower::Lowerer::new();
    let mut tool_names = UniqueNames::new();
    let mut lowered = Vec::with_capacity(ordered.len());
    for tool in ordered {
        let tool_camel = tool_names.claim(&lower::type_name(&[&camel_ident(&tool.name)]));
        let input = lowerer.lower_root(
            tool.input_schema(),
            &tool_camel,
            "Input",
            &format!("Arguments of the MCP tool `{}`.", tool.name),
        );
        let output = tool.output_schema().map(|schema| {
            lowerer.lower_root(
                schema,
                &tool_camel,
                "Output",
                &format!(
                    "Structured result (`structuredContent`) of the MCP tool `{}`.",
                    tool.name
                ),
            )
        });
        lowered.push((tool.name.clone(), input, output));
    }
    ir::box_cycles(&mut lowerer.items);

    let items = &lowerer.items;
    let tools = lowered
        .into_iter()
        .map(|(name, input, output)| {
            let types = ToolTypes {
                input: rust::type_tokens(&input, items),
                output: output.map(|output| rust::type_tokens(&output, items)),
            };
            (name, types)
        })
        .collect();
    LoweredTypes {
        items: rust::items_tokens(items),
        tools,
    }
}

#[cfg(test)]
mod tests;
