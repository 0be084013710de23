//! The document of a multi-server crate as a whole: every server's tools
//! under `/{server}`, for client generators that want one document. (Each
//! server's own document, the one Open WebUI is given, is [`super::document`]
//! of its lock, served at `/{server}/openapi.json`.)
//!
//! Servers' documents share the proxy's own schemas and responses, kept
//! once; every other component is prefixed with the server's name in
//! UpperCamelCase and its `$ref`s rewritten, and operationIds get the
//! server's name too, so two servers with a tool or type of the same name
//! stay apart.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::lock::MultiLock;
use crate::naming::camel_ident;

const SCHEMAS_PREFIX: &str = "#/components/schemas/";

/// The combined document of `lock`; `documents` are its servers' own, by name.
pub fn combined_document(lock: &MultiLock, documents: &BTreeMap<String, Value>) -> Value {
    let Some(first) = documents.values().next() else {
        return json!({});
    };
    let shared_schemas = super::shared_schemas();
    // The shared schemas as the documents carry them (finished like the rest).
    let mut schemas: Map<String, Value> = first["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(component, _)| shared_schemas.contains_key(*component))
        .map(|(component, schema)| (component.clone(), schema.clone()))
        .collect();
    let mut paths = Map::new();
    // Every server's tags and shared responses: a server's resources and
    // prompts add some of their own.
    let mut tags: Vec<Value> = Vec::new();
    let mut responses = Map::new();
    let mut with_surface = false;
    for (name, document) in documents {
        for tag in document["tags"].as_array().into_iter().flatten() {
            if !tags.iter().any(|known| known["name"] == tag["name"]) {
                tags.push(tag.clone());
            }
        }
        for (response, definition) in document["components"]["responses"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if !responses.contains_key(response) {
                responses.insert(response.clone(), definition.clone());
            }
        }
        // The resource, prompt and task schemas are the same in every
        // document that has them (their names are reserved there): kept once.
        let surface = lock.servers.get(name).is_some_and(super::surface::present);
        with_surface |= surface;
        let tasks = lock.servers.get(name).is_some_and(super::tasks::present);
        let is_shared = |component: &str| {
            shared_schemas.contains_key(component)
                || (surface && super::surface_components::SCHEMAS.contains(&component))
                || (tasks && super::tasks::SCHEMAS.contains(&component))
        };
        let prefix = camel_ident(name).trim_start_matches("r#").to_string();
        let renamed: BTreeMap<String, String> = document["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(component, _)| !is_shared(component))
            .map(|(component, _)| (component.clone(), format!("{prefix}{component}")))
            .collect();
        let mut document = document.clone();
        rewrite_refs(&mut document, &renamed);
        for (component, schema) in document["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if let Some(new_name) = renamed.get(component) {
                let mut schema = schema.clone();
                if let Some(object) = schema.as_object_mut() {
                    object.insert("title".into(), json!(new_name));
                }
                schemas.insert(new_name.clone(), schema);
            } else if !schemas.contains_key(component) {
                schemas.insert(component.clone(), schema.clone());
            }
        }
        for (path, item) in document["paths"].as_object().into_iter().flatten() {
            // Liveness is the process's, at the root; readiness is per server.
            if path == "/healthz" {
                continue;
            }
            let mut item = item.clone();
            for operation in item
                .as_object_mut()
                .into_iter()
                .flat_map(|item| item.values_mut())
            {
                if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                    let id = format!("{}_{id}", name.replace(['-', '.'], "_"));
                    operation["operationId"] = json!(id);
                }
            }
            paths.insert(format!("/{name}{path}"), item);
        }
    }
    for path in ["/healthz", "/readyz"] {
        if let Some(item) = first["paths"].get(path) {
            paths.insert(path.to_string(), item.clone());
        }
    }
    let servers: Vec<String> = documents.keys().map(|name| format!("`/{name}`")).collect();
    json!({
        "openapi": "3.1.0",
        "info": super::with_chosen_info(
            &lock.proxy_crate.info,
            lock.proxy_crate.name.clone(),
            lock.generator.version.clone(),
            format!(
                "REST proxy for {count} MCP servers, each under its own prefix: {list}. \
                 Each server's own document (with its instructions and the full contract) \
                 is at `/{{server}}/openapi.json` and its Swagger UI at `/{{server}}/docs`; \
                 this document lists every {what} of every server, for client generators. \
                 `GET /readyz` is ready when every server is; `GET /{{server}}/readyz` \
                 tells one server's state.",
                count = documents.len(),
                list = servers.join(", "),
                what = if with_surface {
                    "tool, resource route and prompt"
                } else {
                    "tool"
                },
            ),
        ),
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": responses,
            "securitySchemes": first["components"]["securitySchemes"],
        }
    })
}

/// Rewrites every `$ref` to a renamed component, anywhere in `value`.
fn rewrite_refs(value: &mut Value, renamed: &BTreeMap<String, String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref")
                && let Some(rest) = reference.strip_prefix(SCHEMAS_PREFIX)
            {
                // The component name is the first pointer token; anything
                // after it points inside the component.
                let (component, inside) = match rest.find('/') {
                    Some(slash) => rest.split_at(slash),
                    None => (rest, ""),
                };
                if let Some(new_name) = renamed.get(component) {
                    *reference = format!("{SCHEMAS_PREFIX}{new_name}{inside}");
                }
            }
            for field in object.values_mut() {
                rewrite_refs(field, renamed);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_refs(item, renamed)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{Lock, ProxyCrate, ServerFacts, Upstream};

    fn lock_of(server: &str, tools: Vec<Value>) -> Lock {
        let facts = ServerFacts {
            name: server.into(),
            version: "1.0.0".into(),
            title: None,
            protocol_version: "2025-11-25".into(),
            capabilities: json!({"tools": {}}),
            instructions: None,
        };
        let upstream = Upstream::Stdio {
            command: server.into(),
            args: vec![],
            env: mcpo_runtime::lock::ValueSources::default(),
        };
        Lock::new(facts, upstream, tools).unwrap()
    }

    #[test]
    fn same_tool_and_type_names_of_two_servers_stay_apart() {
        let tool = json!({"name": "get", "inputSchema": {"type": "object",
            "properties": {"q": {"$ref": "#/$defs/Query"}},
            "$defs": {"Query": {"type": "string"}}}});
        let servers: BTreeMap<String, Lock> = [
            ("alpha".to_string(), lock_of("a", vec![tool.clone()])),
            ("beta-2".to_string(), lock_of("b", vec![tool])),
        ]
        .into();
        let lock = MultiLock::new(ProxyCrate::from_name("multi"), servers);
        let documents: BTreeMap<String, Value> = lock
            .servers
            .iter()
            .map(|(name, lock)| (name.clone(), crate::openapi::document(lock)))
            .collect();
        let combined = combined_document(&lock, &documents);
        let paths = combined["paths"].as_object().unwrap();
        assert!(paths.contains_key("/alpha/get") && paths.contains_key("/beta-2/get"));
        assert!(paths.contains_key("/healthz") && paths.contains_key("/alpha/readyz"));
        assert!(!paths.contains_key("/alpha/healthz"));
        assert_eq!(
            combined["paths"]["/beta-2/get"]["post"]["operationId"],
            "beta_2_get"
        );
        let text = combined.to_string();
        // Every reference resolves to a component of the combined document.
        let schemas = combined["components"]["schemas"].as_object().unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = &reference[..reference.find('"').unwrap()];
            if let Some(name) = target.strip_prefix(SCHEMAS_PREFIX) {
                let name = name.split('/').next().unwrap();
                assert!(schemas.contains_key(name), "dangling {target}");
            }
        }
        assert!(schemas.keys().any(|name| name.starts_with("Alpha")));
        assert!(schemas.keys().any(|name| name.starts_with("Beta2")));
        assert!(schemas.contains_key("ErrorDetail"));
    }

    #[test]
    fn chosen_info_names_the_whole_document_not_each_server() {
        let mut proxy_crate = ProxyCrate::from_name("multi");
        proxy_crate.info.title = Some("Team tools".into());
        proxy_crate.info.version = Some("7".into());
        let servers: BTreeMap<String, Lock> = [("alpha".to_string(), lock_of("a", vec![]))].into();
        let lock = MultiLock::new(proxy_crate, servers);
        let documents: BTreeMap<String, Value> = lock
            .servers
            .iter()
            .map(|(name, lock)| (name.clone(), crate::openapi::document(lock)))
            .collect();
        let combined = combined_document(&lock, &documents);
        assert_eq!(combined["info"]["title"], "Team tools");
        assert_eq!(combined["info"]["version"], "7");
        assert!(
            combined["info"]["description"]
                .as_str()
                .unwrap()
                .contains("`/alpha`")
        );
        assert_eq!(documents["alpha"]["info"]["title"], "a");
        // A single server's document takes it.
        let mut single = lock_of("a", vec![]);
        single.proxy_crate.info.description = Some("Ours".into());
        assert_eq!(
            crate::openapi::document(&single)["info"]["description"],
            "Ours"
        );
        assert_eq!(
            crate::openapi::document(&single)["info"]["version"],
            "1.0.0"
        );
    }
}
