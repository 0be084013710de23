//! `--resources` over stdio: the capabilities, every list with paging, reads
//! (listed, template echo, not found), prompts, completions, subscriptions and
//! `touch_resource`, `--prompts-v2`, and that nothing changes without the flag.
//! (The same surface over HTTP, with two sessions, is in `http.rs`.)

mod common;

use std::time::Duration;

use common::RawSession;
use serde_json::{Value, json};

/// Every item of a paged list, following `nextCursor`; also returns the number
/// of pages.
fn list_all(session: &mut RawSession, method: &str, key: &str) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(cursor) => json!({"cursor": cursor}),
            None => json!({}),
        };
        let response = session.request(method, params);
        let result = &response["result"];
        items.extend(
            result[key]
                .as_array()
                .unwrap_or_else(|| panic!("{method}: {response}"))
                .iter()
                .cloned(),
        );
        pages += 1;
        match result.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (items, pages),
        }
    }
}

fn strings(items: &[Value], key: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| item[key].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Calls `touch_resource` for `uri`; returns whether this session was told.
fn touch(session: &mut RawSession, uri: &str) -> bool {
    let (response, notifications) = session.request_with_notifications(
        "tools/call",
        json!({"name": "touch_resource", "arguments": {"uri": uri}}),
    );
    assert_eq!(
        response["result"]["content"][0]["text"], "touched",
        "{response}"
    );
    let told = |notification: &Value| {
        notification["method"] == "notifications/resources/updated"
            && notification["params"]["uri"] == uri
    };
    notifications.iter().any(told)
        || session.wait_for_notification(
            "notifications/resources/updated",
            Duration::from_millis(300),
        )
}

#[test]
fn the_resources_surface_over_stdio() {
    let mut session = RawSession::start(&["--resources", "--page-size", "2"]);
    let capabilities = &session.initialized["result"]["capabilities"];
    assert_eq!(
        capabilities["resources"],
        json!({"subscribe": true}),
        "{capabilities}"
    );
    assert_eq!(capabilities["prompts"], json!({}));
    assert_eq!(capabilities["completions"], json!({}));
    assert!(capabilities["tools"].is_object());

    let (resources, pages) = list_all(&mut session, "resources/list", "resources");
    assert_eq!(pages, 3);
    assert_eq!(
        strings(&resources, "uri"),
        [
            "text://hello",
            "text://notes/1",
            "text://notes/2",
            "text://notes/3",
            "blob://pixel.png",
            "blob://big"
        ]
    );
    assert_eq!(
        resources[0],
        json!({"uri": "text://hello", "name": "hello", "mimeType": "text/plain",
               "description": "A greeting, the smallest text resource."})
    );
    assert!(
        resources
            .iter()
            .all(|resource| resource["description"].is_string())
    );
    let bad = session.request("resources/list", json!({"cursor": "nope"}));
    assert_eq!(bad["error"]["code"], json!(-32602), "{bad}");

    let (templates, pages) = list_all(
        &mut session,
        "resources/templates/list",
        "resourceTemplates",
    );
    assert_eq!(pages, 1);
    assert_eq!(
        strings(&templates, "uriTemplate"),
        [
            "repo://{owner}/{repo}/blob/{+path}{?ref}",
            "text://notes/{id}"
        ]
    );
    let (prompts, pages) = list_all(&mut session, "prompts/list", "prompts");
    assert_eq!(pages, 2);
    assert_eq!(
        strings(&prompts, "name"),
        ["greet", "no_args", "code_review"]
    );

    // The tool comes after the others (none here).
    let tools = session.request("tools/list", json!({}));
    assert_eq!(
        tools["result"]["tools"][0]["name"], "touch_resource",
        "{tools}"
    );

    let hello = session.request("resources/read", json!({"uri": "text://hello"}));
    assert_eq!(
        hello["result"]["contents"],
        json!([{"uri": "text://hello", "mimeType": "text/plain", "text": "Hello, resources!"}])
    );
    let big = session.request("resources/read", json!({"uri": "blob://big"}));
    let blob = big["result"]["contents"][0]["blob"]
        .as_str()
        .expect("a blob");
    assert_eq!(blob.len(), (10 * 1024 * 1024_usize).div_ceil(3) * 4);
    assert!(blob.starts_with("AAECAwQF"), "byte i is i % 251");
    assert_eq!(
        big["result"]["contents"][0]["mimeType"],
        "application/octet-stream"
    );
    let echo = session.request(
        "resources/read",
        json!({"uri": "repo://a/b/blob/src/x.rs?ref=main"}),
    );
    assert_eq!(
        echo["result"]["contents"][0]["text"], "owner=a repo=b path=src/x.rs ref=main",
        "{echo}"
    );
    let missing = session.request("resources/read", json!({"uri": "text://nope"}));
    assert_eq!(
        missing["error"],
        json!({"code": -32002, "message": "Resource not found", "data": {"uri": "text://nope"}})
    );

    let greet = session.request(
        "prompts/get",
        json!({"name": "greet", "arguments": {"name": "Ada", "style": "funny"}}),
    );
    assert_eq!(
        greet["result"]["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "Hello Ada in funny style"}}]),
        "{greet}"
    );
    let missing_argument = session.request("prompts/get", json!({"name": "greet"}));
    assert_eq!(missing_argument["error"]["code"], json!(-32602));
    let unknown = session.request("prompts/get", json!({"name": "nope", "arguments": {}}));
    assert_eq!(unknown["error"]["code"], json!(-32602));

    let completion = session.request(
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "greet"},
               "argument": {"name": "style", "value": "f"}}),
    );
    assert_eq!(
        completion["result"]["completion"]["values"],
        json!(["formal", "friendly", "funny"]),
        "{completion}"
    );
    let owners = session.request(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "repo://{owner}/{repo}/blob/{+path}{?ref}"},
               "argument": {"name": "owner", "value": "moz"}}),
    );
    assert_eq!(owners["result"]["completion"]["values"], json!(["mozilla"]));

    // Subscriptions: told while subscribed, not before nor after.
    assert!(!touch(&mut session, "text://hello"));
    let subscribed = session.request("resources/subscribe", json!({"uri": "text://hello"}));
    assert_eq!(subscribed["result"], json!({}), "{subscribed}");
    assert!(touch(&mut session, "text://hello"));
    assert!(!touch(&mut session, "text://notes/1"));
    session.request("resources/unsubscribe", json!({"uri": "text://hello"}));
    assert!(!touch(&mut session, "text://hello"));
    let unreadable = session.request("resources/subscribe", json!({"uri": "text://nope"}));
    assert_eq!(unreadable["error"]["code"], json!(-32002), "{unreadable}");
}

#[test]
fn prompts_v2_changes_the_surface() {
    let mut session = RawSession::start(&["--resources", "--prompts-v2", "--resource-count", "1"]);
    let (resources, _) = list_all(&mut session, "resources/list", "resources");
    assert_eq!(
        strings(&resources, "uri"),
        [
            "text://hello",
            "text://notes/1",
            "blob://pixel.png",
            "blob://big"
        ]
    );
    assert_eq!(resources[0]["mimeType"], "text/markdown");
    let (templates, _) = list_all(
        &mut session,
        "resources/templates/list",
        "resourceTemplates",
    );
    assert_eq!(templates[1]["uriTemplate"], "text://notes/{id}/{rev}");
    let (prompts, _) = list_all(&mut session, "prompts/list", "prompts");
    assert_eq!(
        strings(&prompts, "name"),
        ["greet", "no_args", "code_review", "summarize"]
    );
    assert_eq!(prompts[0]["arguments"][1]["required"], json!(true));
    assert_eq!(prompts[2]["arguments"].as_array().map(Vec::len), Some(1));
    let echo = session.request("resources/read", json!({"uri": "text://notes/9/2"}));
    assert_eq!(
        echo["result"]["contents"][0]["text"], "id=9 rev=2",
        "{echo}"
    );
}

#[test]
fn without_the_flag_nothing_changes() {
    let mut session = RawSession::start(&["--generate-tools", "1"]);
    let capabilities = &session.initialized["result"]["capabilities"];
    assert_eq!(capabilities, &json!({"tools": {}}), "{capabilities}");
    for method in ["resources/list", "resources/templates/list", "prompts/list"] {
        let response = session.request(method, json!({}));
        assert_eq!(
            response["error"]["code"],
            json!(-32601),
            "{method}: {response}"
        );
    }
    let read = session.request("resources/read", json!({"uri": "text://hello"}));
    assert_eq!(read["error"]["code"], json!(-32601), "{read}");
    let touch = session.request(
        "tools/call",
        json!({"name": "touch_resource", "arguments": {"uri": "text://hello"}}),
    );
    assert_eq!(touch["error"]["code"], json!(-32602), "{touch}");
}

#[test]
fn resource_flags_need_resources() {
    for flags in [&["--resource-count", "2"][..], &["--prompts-v2"][..]] {
        let output = std::process::Command::new(common::BIN)
            .args(flags)
            .output()
            .expect("fixture runs");
        assert!(!output.status.success(), "{flags:?}");
    }
}
