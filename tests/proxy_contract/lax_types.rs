//! Lax argument types, as mcpo accepts them: numbers and booleans written as
//! strings (what language models often send) are converted to the schema's
//! type, validated, and forwarded converted; `--strict-types` refuses them.
//! Every case goes through an echo tool of our fixture server, so the test
//! sees exactly what the upstream received.

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use crate::start_ready;

/// errors-proxy without a key, on the fixture serving errors.json.
fn errors_proxy(flags: &[&str]) -> Running {
    start_ready(flags, "errors.json")
}

/// corpus-proxy on the fixture serving the corpus's tools.
fn corpus_proxy() -> Running {
    let binary = build(&["corpus-proxy", "mcp-fixture-server"]).join("corpus-proxy");
    let tools = workspace_root().join("tests/corpus/tools.json");
    Launch::proxy(&binary)
        .args(&fixture_upstream(&tools.display().to_string()))
        .start_ready()
}

fn locs(reply: &Reply) -> Vec<Value> {
    reply.body["detail"]
        .as_array()
        .map(|issues| issues.iter().map(|issue| issue["loc"].clone()).collect())
        .unwrap_or_default()
}

#[test]
fn numbers_written_as_strings_reach_the_upstream_as_numbers() {
    let proxy = errors_proxy(&[]);
    let echo = proxy.url("/echo");
    for (sent, received) in [
        (
            json!({"message": "hi", "count": "2"}),
            json!({"message": "hi", "count": 2}),
        ),
        (
            json!({"message": "hi", "count": " 3 "}),
            json!({"message": "hi", "count": 3}),
        ),
        (
            json!({"message": "hi", "count": "4.0"}),
            json!({"message": "hi", "count": 4}),
        ),
        (
            json!({"message": "hi", "count": 5.0}),
            json!({"message": "hi", "count": 5}),
        ),
        (
            json!({"message": "hi", "count": 6}),
            json!({"message": "hi", "count": 6}),
        ),
    ] {
        let reply = post_json(&echo, &sent, None);
        assert_eq!(reply.status, 200, "{sent}: {reply:?}");
        assert_eq!(reply.body, received, "{sent}");
    }
}

#[test]
fn what_cannot_be_converted_is_still_a_422_naming_the_field() {
    let proxy = errors_proxy(&[]);
    let echo = proxy.url("/echo");
    for sent in [
        json!({"message": "hi", "count": "abc"}),
        json!({"message": "hi", "count": "2.5"}),
        json!({"message": "hi", "count": "NaN"}),
        // Converted to 0, then refused by the schema's minimum of 1.
        json!({"message": "hi", "count": "0"}),
    ] {
        let reply = post_json(&echo, &sent, None);
        assert_eq!(reply.status, 422, "{sent}: {reply:?}");
        assert!(
            locs(&reply).contains(&json!(["body", "count"])),
            "{sent}: {reply:?}"
        );
    }
    // A number is not made a string (pydantic v2 does not either).
    let reply = post_json(&echo, &json!({"message": 5}), None);
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        locs(&reply).contains(&json!(["body", "message"])),
        "{reply:?}"
    );
}

#[test]
fn strict_types_refuse_instead_of_converting() {
    let proxy = errors_proxy(&["--strict-types"]);
    let reply = proxy.post("/echo", &json!({"message": "hi", "count": "2"}));
    assert_eq!(reply.status, 422, "{reply:?}");
    assert!(
        locs(&reply).contains(&json!(["body", "count"])),
        "{reply:?}"
    );
    let reply = proxy.post("/echo", &json!({"message": "hi", "count": 2}));
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// Nested objects, arrays, `$ref`s to definitions, draft-07 tuples,
/// nullable and union types, on the schema corpus.
#[test]
fn conversion_follows_nested_objects_arrays_refs_and_unions() {
    let proxy = corpus_proxy();
    for (tool, sent, received) in [
        (
            "draft07_definitions",
            json!({"points": [{"x": "1.5", "y": "-2"}], "pair": ["a", "7"]}),
            json!({"points": [{"x": 1.5, "y": -2}], "pair": ["a", 7]}),
        ),
        (
            "structured",
            json!({"status": "ok", "items": [{"id": "1", "score": "0.5"}, {"id": 2, "score": null}]}),
            json!({"status": "ok", "items": [{"id": 1, "score": 0.5}, {"id": 2, "score": null}]}),
        ),
        (
            // `id` is a string or an integer: a string stays a string.
            "unions",
            json!({"id": "42"}),
            json!({"id": "42"}),
        ),
        (
            "nullable",
            json!({"note": null, "count": "3"}),
            json!({"note": null, "count": 3}),
        ),
    ] {
        let reply = proxy.post(&format!("/{tool}"), &sent);
        assert_eq!(reply.status, 200, "{tool} {sent}: {reply:?}");
        assert_eq!(reply.body, received, "{tool} {sent}");
    }
}

/// A JSON integer beyond 64 bits where the schema allows only a `number`
/// goes up as the nearest double, as mcpo's Python float sends it
/// (`18446744073709552000` is how JavaScript writes 2^64); for an `integer`
/// it is still refused, where it is, rather than rounded.
#[test]
fn an_integer_beyond_64_bits_is_a_double_for_a_number_and_refused_for_an_integer() {
    let proxy = corpus_proxy();
    let url = proxy.url("/constraints");
    for (sent, step) in [
        (
            r#"{"age": 1, "step": 18446744073709552000}"#,
            1.8446744073709552e19,
        ),
        (
            r#"{"age": 1, "step": -123456789012345678901234567890}"#,
            -1.2345678901234568e29,
        ),
    ] {
        let reply = post_raw(&url, sent, None);
        assert_eq!(reply.status, 200, "{sent}: {reply:?}");
        assert_eq!(reply.body["step"].as_f64(), Some(step), "{sent}: {reply:?}");
        assert_eq!(reply.body["age"], json!(1), "{sent}: {reply:?}");
    }
    let reply = post_raw(&url, r#"{"age": 18446744073709552000, "step": 1}"#, None);
    assert_eq!(reply.status, 422, "{reply:?}");
    assert_eq!(
        reply.body["detail"][0]["type"], "int_parsing_size",
        "{reply:?}"
    );
    assert_eq!(locs(&reply), vec![json!(["body", "age"])], "{reply:?}");
}
