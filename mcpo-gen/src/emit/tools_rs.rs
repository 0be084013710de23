//! `src/tools.rs` of the generated crate: the typed models from
//! [`crate::schema`], one axum handler per tool, and the router.
//!
//! The file has one `use` of the runtime's `codegen` module, the only part of
//! the runtime generated code names ([`crate::schema::rust::codegen_use`]).

use quote::quote;

use super::EmitError;
use crate::lock::{LOCK_FILE_NAME, Lock};
use crate::naming::{UniqueNames, snake_ident, tool_route};
use crate::schema::rust::{CODEGEN_VALUE_NAMES, codegen_use, doc_attrs, ident, json_value};
use crate::schema::{LoweredTypes, lower_tools};

pub fn render(lock: &Lock) -> Result<String, EmitError> {
    let LoweredTypes { items, tools } = lower_tools(&lock.tools);

    let mut handler_names = UniqueNames::new();
    handler_names.reserve("router");
    for name in CODEGEN_VALUE_NAMES {
        handler_names.reserve(name);
    }
    let mut handlers = Vec::with_capacity(lock.tools.len());
    let mut routes = Vec::with_capacity(lock.tools.len());
    for tool in &lock.tools {
        let handler = ident(&handler_names.claim(&snake_ident(&tool.name)));
        let (input, output) = match tools.get(&tool.name) {
            Some(types) => (
                types.input.clone(),
                types.output.clone().unwrap_or_else(json_value),
            ),
            None => (json_value(), json_value()),
        };
        let mut doc = format!(
            "`POST {}`: calls the MCP tool `{}`.",
            tool_route(&tool.name),
            tool.name
        );
        if let Some(description) = tool.description() {
            doc.push_str("\n\n");
            doc.push_str(description);
        }
        let doc = doc_attrs(&[doc]);
        let name = &tool.name;
        handlers.push(quote! {
            #doc
            pub fn #handler(app: App, request: Request) -> ToolFuture {
                app.call_tool::<#input, #output>(#name, request)
            }
        });
        let route = tool_route(&tool.name);
        routes.push(quote! { (#route, #handler) });
    }

    let module_doc = format!(
        "Typed models and handlers for the tools of the MCP server `{}` {}.\n\n\
         At run time a call's JSON body is first checked against the tool's frozen \
         input schema, then read into its `...Input` struct (either failing is a 422 \
         naming the field); a tool with an output schema has its `structuredContent` \
         read into its `...Output` struct too, and a mismatch is logged, the result \
         returned unchanged.\n\n\
         Generated from `{LOCK_FILE_NAME}`; regenerate instead of editing.",
        lock.server.name, lock.server.version
    );
    let codegen_use = codegen_use();
    let module_doc_lines = module_doc.lines().map(|line| format!(" {line}"));
    let module_doc = quote! { #(#![doc = #module_doc_lines])* };
    let file = quote! {
        #module_doc

        #codegen_use

        #items

        #(#handlers)*

        /// Every tool route (`POST path` -> handler), mounted by the runtime
        /// under `--root-path`.
        pub fn router() -> Router<App> {
            tool_router(&[#(#routes),*])
        }
    };
    let syntax = syn::parse2::<syn::File>(file).map_err(|error| EmitError::InvalidRust {
        reason: error.to_string(),
    })?;
    Ok(prettyplease::unparse(&syntax))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_handler_and_route_per_tool_with_unique_names() {
        let text = render(&super::super::tests::sample_lock()).unwrap();
        assert!(text.contains("pub fn get_current_time("));
        assert!(text.contains("pub fn get_time("));
        assert!(text.contains("pub fn get_time_2("));
        assert!(text.contains("(\"/get-time\", get_time"), "{text}");
        assert!(text.contains("\"get_current_time\", request"));
        assert!(text.contains("pub fn router()"));
    }
}
