//! The committed proxies of real MCP servers, started against those servers
//! and called over HTTP with real arguments: `memory-proxy`
//! (@modelcontextprotocol/server-memory), `filesystem-proxy`
//! (@modelcontextprotocol/server-filesystem), `git-proxy` (mcp-server-git)
//! and `fetch-proxy` (mcp-server-fetch, against a web page served by the
//! test itself on 127.0.0.1, since CI has no other network).
//!
//! The Node servers run from `tests/upstreams/node_modules` (an upstream
//! override, so no npm download happens in a test); the Python servers run
//! from the lock's own `uvx` command with the pinned version.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

/// Pinned Python servers, as the examples' locks record them.
const MCP_SERVER_GIT: &str = "mcp-server-git==2026.10.19";
const MCP_SERVER_FETCH: &str = "mcp-server-fetch==2026.10.24";

/// Builds the crate and starts it quietly with `args` (upstream overrides
/// after `--`), then waits until its upstream is connected.
fn start(crate_name: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
    let binary = build(&[crate_name]).join(crate_name);
    let mut all_args = vec!["--quiet"];
    all_args.extend_from_slice(args);
    let proxy = Launch::proxy(&binary).args(&all_args).env(env).start();
    wait_ready(&proxy);
    proxy
}

fn call(proxy: &Running, tool: &str, body: Value) -> Reply {
    proxy.post(&format!("/{tool}"), &body)
}

/// The body of a 200 reply, or a panic that shows the whole reply.
fn ok(reply: Reply, what: &str) -> Value {
    assert_eq!(reply.status, 200, "{what}: {reply:?}");
    reply.body
}

/// The `detail` text of a tool error (`isError`), mapped to 500.
fn tool_error(reply: Reply, what: &str) -> String {
    assert_eq!(reply.status, 500, "{what}: {reply:?}");
    reply.body["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: detail is the tool's text: {reply:?}"))
        .to_string()
}

/// `(loc, type)` of a 422's single entry.
fn rejection(reply: Reply, what: &str) -> (Value, Value) {
    assert_eq!(reply.status, 422, "{what}: {reply:?}");
    let detail = reply.body["detail"].as_array().expect("a detail list");
    assert_eq!(detail.len(), 1, "{what}: {reply:?}");
    (detail[0]["loc"].clone(), detail[0]["type"].clone())
}

fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a text result, got {value}"))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

#[test]
fn locks_record_the_pinned_commands_and_nothing_of_this_machine() {
    let expected = [
        (
            "memory-proxy",
            json!({"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory@2026.8.31"]}),
        ),
        (
            "filesystem-proxy",
            json!({"type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem@2026.8.31", "."]}),
        ),
        (
            "git-proxy",
            json!({"type": "stdio", "command": "uvx", "args": [MCP_SERVER_GIT]}),
        ),
        (
            "fetch-proxy",
            json!({"type": "stdio", "command": "uvx", "args": [MCP_SERVER_FETCH]}),
        ),
    ];
    let root = workspace_root();
    let root_text = root.to_str().expect("a UTF-8 workspace path");
    for (crate_name, upstream) in expected {
        let lock_path = root
            .join("generated-examples")
            .join(crate_name)
            .join("mcp.lock.json");
        let lock_text = std::fs::read_to_string(&lock_path).expect("a committed lock");
        let lock: Value = serde_json::from_str(&lock_text).expect("the lock is JSON");
        assert_eq!(lock["upstream"], upstream, "{crate_name}");
        assert!(
            !lock_text.contains(root_text),
            "{crate_name}: the lock holds a path of this machine"
        );
        assert!(
            lock["tools"]
                .as_array()
                .is_some_and(|tools| !tools.is_empty()),
            "{crate_name}: tools were snapshotted"
        );
    }
}

#[test]
fn memory_creates_entities_and_relations_then_finds_them() {
    let scratch = tempfile::tempdir().unwrap();
    let memory_file = scratch.path().join("memory.jsonl");
    let server = node_server("server-memory");
    let upstream = ["--", "node", path_str(&server)];
    // The server keeps its graph in MEMORY_FILE_PATH; the proxy passes its
    // environment on to the upstream.
    let env = [("MEMORY_FILE_PATH", path_str(&memory_file))];
    let mut proxy = start("memory-proxy", &upstream, &env);

    let entities = json!([
        {"name": "Ada Lovelace", "entityType": "person", "observations": ["wrote the first program"]},
        {"name": "Analytical Engine", "entityType": "machine", "observations": ["designed by Babbage"]},
    ]);
    let created = ok(
        call(&proxy, "create_entities", json!({"entities": entities})),
        "create_entities",
    );
    // The tool declares an outputSchema: the reply is its structuredContent.
    assert_eq!(created["entities"], entities, "{created}");

    let relation =
        json!({"from": "Ada Lovelace", "to": "Analytical Engine", "relationType": "programmed"});
    let related = ok(
        call(&proxy, "create_relations", json!({"relations": [relation]})),
        "create_relations",
    );
    assert_eq!(related["relations"], json!([relation]));

    let observed = ok(
        call(
            &proxy,
            "add_observations",
            json!({"observations": [{"entityName": "Ada Lovelace", "contents": ["born 1815"]}]}),
        ),
        "add_observations",
    );
    assert_eq!(
        observed["results"][0]["addedObservations"],
        json!(["born 1815"]),
        "{observed}"
    );

    let graph = ok(call(&proxy, "read_graph", json!({})), "read_graph");
    let names = strings_of(&graph["entities"], "name");
    assert_eq!(names, ["Ada Lovelace", "Analytical Engine"], "{graph}");
    assert_eq!(graph["relations"], json!([relation]), "{graph}");
    assert_eq!(
        graph["entities"][0]["observations"],
        json!(["wrote the first program", "born 1815"])
    );

    let found = ok(
        call(&proxy, "search_nodes", json!({"query": "Babbage"})),
        "search_nodes",
    );
    assert_eq!(
        found["entities"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    assert_eq!(found["entities"][0]["name"], "Analytical Engine", "{found}");
    let opened = ok(
        call(&proxy, "open_nodes", json!({"names": ["Ada Lovelace"]})),
        "open_nodes",
    );
    assert_eq!(opened["entities"][0]["entityType"], "person", "{opened}");

    // The server's own error and the proxy's validation.
    let unknown = tool_error(
        call(
            &proxy,
            "add_observations",
            json!({"observations": [{"entityName": "Nobody", "contents": ["x"]}]}),
        ),
        "observations on an unknown entity",
    );
    assert!(unknown.contains("Nobody"), "{unknown}");
    let (loc, kind) = rejection(
        call(
            &proxy,
            "delete_entities",
            json!({"entityNames": "Ada Lovelace"}),
        ),
        "a string where a list is required",
    );
    assert_eq!((loc, kind), (json!(["body", "entityNames"]), json!("type")));

    // The graph went to our file, and a new server process reads it back.
    let stored = std::fs::read_to_string(&memory_file).expect("the memory file was written");
    assert!(
        stored.contains("Ada Lovelace") && stored.contains("programmed"),
        "{stored}"
    );
    assert!(
        proxy.terminate(Duration::from_secs(10)),
        "the proxy stops on SIGTERM"
    );
    let proxy = start("memory-proxy", &upstream, &env);
    let graph = ok(
        call(&proxy, "read_graph", json!({})),
        "read_graph after a restart",
    );
    assert_eq!(graph["relations"], json!([relation]), "{graph}");
}

#[test]
fn filesystem_writes_reads_and_lists_inside_its_directory_only() {
    let scratch = tempfile::tempdir().unwrap();
    // Canonical, so the server's own (symlink-resolved) paths match ours.
    let root = scratch.path().canonicalize().unwrap();
    let allowed = root.join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    let server = node_server("server-filesystem");
    let proxy = start(
        "filesystem-proxy",
        &["--", "node", path_str(&server), path_str(&allowed)],
        &[],
    );
    let notes = allowed.join("notes.txt");
    let notes_path = path_str(&notes);

    let wrote = ok(
        call(
            &proxy,
            "write_file",
            json!({"path": notes_path, "content": "line one\nline two\n"}),
        ),
        "write_file",
    );
    assert!(
        text(&wrote["content"]).contains("Successfully wrote"),
        "{wrote}"
    );
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "line one\nline two\n"
    );

    let read = ok(
        call(&proxy, "read_text_file", json!({"path": notes_path})),
        "read_text_file",
    );
    assert_eq!(read["content"], "line one\nline two\n");
    let head = ok(
        call(
            &proxy,
            "read_text_file",
            json!({"path": notes_path, "head": 1}),
        ),
        "head",
    );
    assert_eq!(head["content"], "line one");

    ok(
        call(
            &proxy,
            "create_directory",
            json!({"path": path_str(&allowed.join("sub"))}),
        ),
        "create_directory",
    );
    let listing = ok(
        call(
            &proxy,
            "list_directory",
            json!({"path": path_str(&allowed)}),
        ),
        "list_directory",
    );
    let listing = text(&listing["content"]);
    assert!(
        listing.contains("[FILE] notes.txt") && listing.contains("[DIR] sub"),
        "{listing}"
    );

    let edited = ok(
        call(
            &proxy,
            "edit_file",
            json!({"path": notes_path, "edits": [{"oldText": "line two", "newText": "line 2"}]}),
        ),
        "edit_file",
    );
    assert!(text(&edited["content"]).contains("+line 2"), "{edited}");
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "line one\nline 2\n"
    );

    let allowed_dirs = ok(
        call(&proxy, "list_allowed_directories", json!({})),
        "list_allowed_directories",
    );
    assert!(
        text(&allowed_dirs["content"]).contains(path_str(&allowed)),
        "{allowed_dirs}"
    );

    // Outside the allowed directory: the server refuses, the proxy says so
    // with the tool-error status, and nothing is written.
    let outside = root.join("outside.txt");
    let refused = tool_error(
        call(
            &proxy,
            "write_file",
            json!({"path": path_str(&outside), "content": "x"}),
        ),
        "write outside the allowed directory",
    );
    assert!(refused.contains("Access denied"), "{refused}");
    assert!(!outside.exists(), "nothing was written outside");
    std::fs::write(&outside, "secret").unwrap();
    let traversal = format!("{}/../outside.txt", allowed.display());
    let refused = tool_error(
        call(&proxy, "read_text_file", json!({"path": traversal})),
        "read through ..",
    );
    assert!(
        refused.contains("Access denied") && !refused.contains("secret"),
        "{refused}"
    );
    let missing = tool_error(
        call(
            &proxy,
            "read_text_file",
            json!({"path": path_str(&allowed.join("missing.txt"))}),
        ),
        "a missing file",
    );
    assert!(missing.contains("ENOENT"), "{missing}");

    // The proxy's own validation, before the server is asked.
    let (loc, kind) = rejection(
        call(&proxy, "read_multiple_files", json!({"paths": []})),
        "an empty list of paths",
    );
    assert_eq!((loc, kind), (json!(["body", "paths"]), json!("minItems")));
    let (loc, kind) = rejection(
        call(&proxy, "write_file", json!({"path": notes_path})),
        "content missing",
    );
    assert_eq!((loc, kind), (json!(["body", "content"]), json!("missing")));
    assert_eq!(
        std::fs::read_to_string(&notes).unwrap(),
        "line one\nline 2\n"
    );
}

#[test]
fn git_reports_status_log_and_diffs_and_commits_in_a_temp_repo() {
    let scratch = tempfile::tempdir().unwrap();
    let repo = git_repo_with_one_commit(scratch.path());
    std::fs::write(repo.join("a.txt"), "hello\nchanged\n").unwrap();
    std::fs::write(repo.join("b.txt"), "new\n").unwrap();
    git(&repo, &["commit", "-q", "-a", "-m", "change a.txt"]);
    std::fs::write(repo.join("a.txt"), "hello\nchanged\nagain\n").unwrap();

    // The lock's own command: `uvx mcp-server-git==...` (uvx from the test tools).
    let proxy = start("git-proxy", &[], &GIT_ENV);
    let repo_path = path_str(&repo);

    let status = ok(
        call(&proxy, "git_status", json!({"repo_path": repo_path})),
        "git_status",
    );
    let status = text(&status);
    assert!(status.contains("On branch main"), "{status}");
    assert!(status.contains("modified:   a.txt"), "{status}");
    assert!(
        status.contains("Untracked files") && status.contains("b.txt"),
        "{status}"
    );

    let log = ok(
        call(&proxy, "git_log", json!({"repo_path": repo_path})),
        "git_log",
    );
    let log = text(&log);
    let newest = log
        .find("Message: change a.txt")
        .expect("the second commit is listed");
    let oldest = log
        .find("Message: add a.txt")
        .expect("the first commit is listed");
    assert!(newest < oldest, "newest first: {log}");
    assert!(log.contains(&git(&repo, &["rev-parse", "HEAD"])), "{log}");
    let last = ok(
        call(
            &proxy,
            "git_log",
            json!({"repo_path": repo_path, "max_count": 1}),
        ),
        "git_log 1",
    );
    assert!(!text(&last).contains("add a.txt"), "{last}");

    let unstaged = ok(
        call(&proxy, "git_diff_unstaged", json!({"repo_path": repo_path})),
        "diff",
    );
    assert!(text(&unstaged).contains("+again"), "{unstaged}");

    let added = ok(
        call(
            &proxy,
            "git_add",
            json!({"repo_path": repo_path, "files": ["b.txt"]}),
        ),
        "git_add",
    );
    assert!(text(&added).contains("staged"), "{added}");
    let staged = ok(
        call(&proxy, "git_diff_staged", json!({"repo_path": repo_path})),
        "diff staged",
    );
    assert!(text(&staged).contains("+new"), "{staged}");

    let committed = ok(
        call(
            &proxy,
            "git_commit",
            json!({"repo_path": repo_path, "message": "add b.txt via the proxy"}),
        ),
        "git_commit",
    );
    let head = git(&repo, &["rev-parse", "HEAD"]);
    assert!(
        text(&committed).contains(&head),
        "the reply names the new HEAD {head}: {committed}"
    );
    assert_eq!(
        git(&repo, &["log", "-1", "--format=%s|%an"]),
        "add b.txt via the proxy|Proxy Test"
    );
    let shown = ok(
        call(
            &proxy,
            "git_show",
            json!({"repo_path": repo_path, "revision": "HEAD"}),
        ),
        "git_show",
    );
    assert!(
        text(&shown).contains("+new") && text(&shown).contains("add b.txt via the proxy"),
        "{shown}"
    );

    // Not a repository: the server's error, as a tool error.
    let not_repo = scratch.path().join("plain");
    std::fs::create_dir(&not_repo).unwrap();
    let error = tool_error(
        call(
            &proxy,
            "git_status",
            json!({"repo_path": path_str(&not_repo)}),
        ),
        "git_status outside a repository",
    );
    assert!(error.contains("git_status"), "{error}");
    // And the proxy's own validation.
    let (loc, kind) = rejection(
        call(
            &proxy,
            "git_add",
            json!({"repo_path": repo_path, "files": []}),
        ),
        "no files",
    );
    assert_eq!((loc, kind), (json!(["body", "files"]), json!("minItems")));
}

/// A tiny web server on 127.0.0.1: fixed pages, and the paths it was asked for.
struct LocalSite {
    port: u16,
    requested: Arc<Mutex<Vec<String>>>,
}

impl LocalSite {
    fn start(pages: &'static [(&'static str, &'static str, &'static str)]) -> LocalSite {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("an address").port();
        let requested = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requested);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve_one(stream, pages, &log);
            }
        });
        LocalSite { port, requested }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requested(&self) -> Vec<String> {
        self.requested
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Answers one HTTP/1.1 request and closes the connection.
fn serve_one(
    mut stream: std::net::TcpStream,
    pages: &[(&str, &str, &str)],
    log: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let page = pages.iter().find(|(page_path, _, _)| *page_path == path);
    log.lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(path);
    let (status, content_type, body) = match page {
        Some((_, content_type, body)) => ("200 OK", *content_type, *body),
        None => ("404 Not Found", "text/plain", "not found"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

const PAGES: &[(&str, &str, &str)] = &[(
    "/page.html",
    "text/html; charset=utf-8",
    "<html><head><title>Fixture</title></head><body><h1>Fixture page</h1>\
     <p>The quick brown fox jumps over the lazy dog.</p></body></html>",
)];

#[test]
fn fetch_reads_a_local_page_when_allowed_and_refuses_loopback_by_default() {
    let site = LocalSite::start(PAGES);

    // mcp-server-fetch refuses private and loopback addresses unless told
    // otherwise, and asks for robots.txt first: the test's site is both.
    let proxy = start(
        "fetch-proxy",
        &[
            "--",
            "uvx",
            MCP_SERVER_FETCH,
            "--ignore-robots-txt",
            "--allow-private-ips",
        ],
        &[],
    );
    let page = ok(
        call(&proxy, "fetch", json!({"url": site.url("/page.html")})),
        "fetch",
    );
    let markdown = text(&page);
    assert!(markdown.contains("Fixture page"), "{markdown}");
    assert!(markdown.contains("The quick brown fox"), "{markdown}");
    assert!(
        !markdown.contains("<h1>"),
        "simplified to markdown: {markdown}"
    );

    let raw = ok(
        call(
            &proxy,
            "fetch",
            json!({"url": site.url("/page.html"), "raw": true}),
        ),
        "raw",
    );
    assert!(text(&raw).contains("<h1>Fixture page</h1>"), "{raw}");

    let cut = ok(
        call(
            &proxy,
            "fetch",
            json!({"url": site.url("/page.html"), "max_length": 10}),
        ),
        "max_length",
    );
    assert!(text(&cut).contains("start_index of 10"), "{cut}");

    let missing = tool_error(
        call(&proxy, "fetch", json!({"url": site.url("/missing")})),
        "a 404 page",
    );
    assert!(missing.contains("404"), "{missing}");
    assert!(
        site.requested()
            .iter()
            .filter(|path| *path == "/page.html")
            .count()
            >= 3
    );

    // The proxy's validation: the schema's bounds and the uri format.
    let (loc, kind) = rejection(
        call(
            &proxy,
            "fetch",
            json!({"url": site.url("/page.html"), "max_length": 0}),
        ),
        "max_length 0",
    );
    assert_eq!(
        (loc, kind),
        (json!(["body", "max_length"]), json!("minimum"))
    );
    let (loc, kind) = rejection(
        call(&proxy, "fetch", json!({"url": "not a url"})),
        "not a url",
    );
    assert_eq!((loc, kind), (json!(["body", "url"]), json!("format")));
    drop(proxy);

    // The lock's own command keeps the server's safe default: a loopback
    // URL is refused with a clear message, and the site is never contacted.
    let before = site.requested().len();
    let locked = start("fetch-proxy", &[], &[]);
    let refused = tool_error(
        call(&locked, "fetch", json!({"url": site.url("/page.html")})),
        "loopback with the locked command",
    );
    assert!(refused.contains("--allow-private-ips"), "{refused}");
    assert_eq!(site.requested().len(), before, "{:?}", site.requested());
}
