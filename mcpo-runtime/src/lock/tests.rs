use super::*;
use serde_json::json;

fn facts() -> ServerFacts {
    ServerFacts {
        name: "demo".into(),
        version: "1.0.0".into(),
        title: None,
        protocol_version: "2025-06-18".into(),
        capabilities: json!({"tools": {}}),
        instructions: None,
    }
}

fn stdio() -> Upstream {
    Upstream::Stdio {
        command: "uvx".into(),
        args: vec!["mcp-server-time".into()],
        env: ValueSources::from_names(["TZ".to_string()]),
    }
}

#[test]
fn tools_are_sorted_hashed_and_keys_canonical() {
    let lock = Lock::new(
            facts(),
            stdio(),
            vec![
                json!({"name": "zeta", "inputSchema": {"type": "object", "properties": {"b": {}, "a": {}}}}),
                json!({"name": "alpha", "inputSchema": {"type": "object"}, "execution": {"taskSupport": "forbidden"}}),
            ],
        )
        .unwrap();
    assert_eq!(lock.tools[0].name, "alpha");
    assert_eq!(lock.tools[1].name, "zeta");
    let text = lock.to_canonical_json();
    assert!(text.ends_with("}\n"));
    // Unknown fields survive verbatim.
    assert!(text.contains("\"taskSupport\": \"forbidden\""));
    // Keys sorted inside schemas too.
    let a = text.find("\"a\": {}").unwrap();
    let b = text.find("\"b\": {}").unwrap();
    assert!(a < b);
    assert_eq!(lock.tools[0].sha256.len(), 64);
}

#[test]
fn round_trip_is_byte_identical() {
    let lock = Lock::new(facts(), stdio(), vec![json!({"name": "t"})]).unwrap();
    let text = lock.to_canonical_json();
    let again = Lock::from_json(&text, "test").unwrap();
    assert_eq!(again, lock);
    assert_eq!(again.to_canonical_json(), text);
}

#[test]
fn hand_edited_definition_gets_a_fresh_hash() {
    let lock = Lock::new(facts(), stdio(), vec![json!({"name": "t"})]).unwrap();
    let edited = lock.to_canonical_json().replace(
        "\"name\": \"t\"\n",
        "\"name\": \"t\",\n \"description\": \"x\"\n",
    );
    let again = Lock::from_json(&edited, "test").unwrap();
    assert_ne!(again.tools[0].sha256, lock.tools[0].sha256);
}

#[test]
fn rejects_duplicates_unnamed_and_other_versions() {
    assert!(matches!(
        Lock::new(
            facts(),
            stdio(),
            vec![json!({"name": "a"}), json!({"name": "a"})]
        ),
        Err(LockError::DuplicateTool { .. })
    ));
    assert!(matches!(
        Lock::new(facts(), stdio(), vec![json!({"description": "no name"})]),
        Err(LockError::UnnamedTool { index: 0 })
    ));
    let text = Lock::new(facts(), stdio(), vec![])
        .unwrap()
        .to_canonical_json()
        .replace("\"lockVersion\": 1", "\"lockVersion\": 99");
    assert!(matches!(
        Lock::from_json(&text, "x"),
        Err(LockError::Version { found: 99, .. })
    ));
}

#[test]
fn crate_names_are_valid_packages() {
    assert_eq!(ProxyCrate::for_server("mcp-time").name, "mcp-time-proxy");
    assert_eq!(
        ProxyCrate::for_server("Everything Server").name,
        "everything-server-proxy"
    );
    assert_eq!(ProxyCrate::from_name("9lives").name, "mcp-9lives");
    assert_eq!(ProxyCrate::from_name("").name, "mcp-proxy");
    assert_eq!(ProxyCrate::from_name("time-proxy").name, "time-proxy");
}

#[test]
fn a_crate_name_that_could_inject_toml_is_refused() {
    let text = Lock::new(facts(), stdio(), vec![])
        .unwrap()
        .to_canonical_json()
        .replace("\"demo-proxy\"", "\"x\\\"\\nbuild = \\\"evil.rs\"");
    assert!(text.contains("evil.rs"));
    assert!(
        matches!(
            Lock::from_json(&text, "x"),
            Err(LockError::InvalidCrateName { .. })
        ),
        "{text}"
    );
}

#[test]
fn runtime_sources_round_trip_and_machine_paths_are_refused() {
    for (runtime, ok) in [
        (RuntimeSource::Vendored, true),
        (
            RuntimeSource::Shared {
                folder: "../mcpo-runtime".into(),
            },
            true,
        ),
        (
            RuntimeSource::Published {
                version: "0.1.0".into(),
            },
            true,
        ),
        (
            RuntimeSource::Shared {
                folder: "/home/me/mcpo-runtime".into(),
            },
            false,
        ),
        (
            RuntimeSource::Shared {
                folder: "..\\mcpo-runtime".into(),
            },
            false,
        ),
        (
            RuntimeSource::Shared {
                folder: "C:/runtime".into(),
            },
            false,
        ),
        (
            RuntimeSource::Shared {
                folder: String::new(),
            },
            false,
        ),
    ] {
        let mut lock = Lock::new(facts(), stdio(), vec![]).unwrap();
        lock.proxy_crate.runtime = runtime.clone();
        let read = Lock::from_json(&lock.to_canonical_json(), "x");
        match read {
            Ok(read) => {
                assert!(ok, "{runtime:?} was accepted");
                assert_eq!(read.proxy_crate.runtime, runtime);
            }
            Err(error) => {
                assert!(!ok, "{runtime:?}: {error}");
                assert!(
                    matches!(error, LockError::InvalidRuntimeFolder { .. }),
                    "{error}"
                );
            }
        }
    }
}

#[test]
fn secrets_are_only_names() {
    let upstream = Upstream::StreamableHttp {
        url: "http://127.0.0.1:1/mcp".into(),
        headers: ValueSources::from_names(["Authorization".to_string()]),
        oauth: None,
    };
    let text = Lock::new(facts(), upstream, vec![])
        .unwrap()
        .to_canonical_json();
    assert!(text.contains("\"Authorization\""));
    assert!(text.contains("\"type\": \"streamable-http\""));
}

#[test]
fn template_parts_read_each_variable_and_keep_other_text_as_written() {
    use crate::lock::{TemplatePart::*, template_parts};
    assert_eq!(
        template_parts("Bearer ${TOKEN}-${not a name}${B}"),
        [
            Text("Bearer "),
            Variable("TOKEN"),
            Text("-${not a name}"),
            Variable("B")
        ]
    );
    assert_eq!(template_parts("${unclosed"), [Text("${unclosed")]);
    assert_eq!(template_parts(""), []);
}

#[test]
fn aggregated_names_say_the_server_and_never_collide() {
    let lock_with = |tools: &[&str]| {
        let tools = tools.iter().map(|name| json!({"name": name})).collect();
        Lock::new(facts(), stdio(), tools).unwrap()
    };
    let a = lock_with(&["b_c", "x"]);
    let a_b = lock_with(&["c"]);
    let names = aggregated_tool_names([("a_b", &a_b), ("a", &a)]);
    assert_eq!(names[&("a".to_string(), "b_c".to_string())], "a_b_c");
    assert_eq!(names[&("a_b".to_string(), "c".to_string())], "a_b_c_2");
    assert_eq!(names[&("a".to_string(), "x".to_string())], "a_x");
}
