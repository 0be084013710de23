//! MCP tasks at their edges (README "Long-running tools: progress, tasks
//! and forms"): `mcpo-gen serve` snapshots `tests/upstreams/task_server.py`,
//! a 2025-11-25 server whose tools must run as tasks (one may), and that
//! fail, outlive their ttl, answer megabytes, come by the dozen or take the
//! whole upstream down mid-task. Each is called plainly (the proxy runs the
//! task and waits for it) and with `Prefer: respond-async` (202, then `GET
//! /tasks/{taskId}` until it ended).
//!
//! The server logs what reaches it on stderr (`task_server: task <id>
//! cancelled`, `task_server: exiting mid-task ...`), which the proxy echoes
//! into its own log. Every request is bounded by [`REQUEST_LIMIT`] and
//! every wait polls with a deadline.

use std::collections::HashSet;
use std::ops::Deref;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use super::*;

/// The upstream under test, from the workspace root.
const SERVER: &str = "tests/upstreams/task_server.py";

/// Any one request to the proxy: a proxy that hangs fails the test, it does
/// not stall it.
const REQUEST_LIMIT: Duration = Duration::from_secs(20);

/// `mcpo-gen serve` of a snapshot of an upstream, with its scratch folder
/// (where the snapshot's lock is written).
pub(super) struct SnapshotProxy {
    proxy: Running,
    _scratch: tempfile::TempDir,
}

impl Deref for SnapshotProxy {
    type Target = Running;

    fn deref(&self) -> &Running {
        &self.proxy
    }
}

/// `mcpo-gen serve --api-key KEY FLAGS -- UPSTREAM...`, once its upstream
/// is connected.
pub(super) fn serve_snapshot(flags: &[&str], upstream: &[String]) -> SnapshotProxy {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let lock = scratch.path().join("mcp.lock.json");
    let mut args: Vec<String> = vec!["--api-key".into(), KEY.into(), "--lock-out".into()];
    args.push(lock.display().to_string());
    args.extend(flags.iter().map(|flag| flag.to_string()));
    args.push("--".into());
    args.extend_from_slice(upstream);
    let proxy = Launch::serve().args(&args).start_ready();
    SnapshotProxy {
        proxy,
        _scratch: scratch,
    }
}

/// [`serve_snapshot`] of `python3 task_server.py`. The Python is the
/// tests' venv's (the setup's `target/test-tools/venv`, first on the
/// proxies' PATH); the server needs only its standard library.
fn task_proxy(flags: &[&str]) -> SnapshotProxy {
    let upstream = [
        test_tool("venv/bin/python3").display().to_string(),
        workspace_root().join(SERVER).display().to_string(),
    ];
    serve_snapshot(flags, &upstream)
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| http_client(REQUEST_LIMIT))
}

/// `POST /{tool}` with [`KEY`] and `arguments`; with `Prefer:
/// respond-async` when `respond_async`.
pub(super) fn post_tool(
    proxy: &Running,
    tool: &str,
    arguments: &Value,
    respond_async: bool,
) -> Reply {
    let mut request = client()
        .post(proxy.url(&format!("/{tool}")))
        .bearer_auth(KEY)
        .json(arguments);
    if respond_async {
        request = request.header("prefer", "respond-async");
    }
    let response = request
        .send()
        .unwrap_or_else(|error| panic!("POST /{tool} got no answer: {error}"));
    Reply::from(response)
}

/// `GET` the task at `location` (a path) with [`KEY`].
pub(super) fn get_task(proxy: &Running, location: &str) -> Reply {
    let response = client()
        .get(proxy.url(location))
        .bearer_auth(KEY)
        .send()
        .unwrap_or_else(|error| panic!("GET {location} got no answer: {error}"));
    Reply::from(response)
}

/// Starts `tool` with `Prefer: respond-async`, which must answer `202`
/// with the task's `Location`, `Retry-After`, `Preference-Applied` and a
/// body saying it is working. Returns the location and the taskId.
#[track_caller]
pub(super) fn start_async(proxy: &Running, tool: &str, arguments: &Value) -> (String, String) {
    let accepted = post_tool(proxy, tool, arguments, true);
    assert_accepted(&accepted, tool)
}

/// [`start_async`]'s checks on an answer.
#[track_caller]
fn assert_accepted(accepted: &Reply, tool: &str) -> (String, String) {
    assert_eq!(accepted.status, 202, "{tool}: {accepted:?}");
    assert_eq!(
        accepted.header("preference-applied"),
        Some("respond-async"),
        "{accepted:?}"
    );
    assert!(retry_after(accepted) >= 1, "{accepted:?}");
    let task_id = accepted.body["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("a taskId: {accepted:?}"))
        .to_string();
    assert_eq!(accepted.body["tool"], tool, "{accepted:?}");
    assert_eq!(accepted.body["status"], "working", "{accepted:?}");
    let location = accepted
        .header("location")
        .unwrap_or_else(|| panic!("a Location: {accepted:?}"))
        .to_string();
    assert_eq!(location, format!("/tasks/{task_id}"), "{accepted:?}");
    (location, task_id)
}

/// Polls the task at `location` while it answers `200` `working`; returns
/// the first other answer (it ended, or it is gone), or fails after
/// `limit`.
#[track_caller]
pub(super) fn until_ended(proxy: &Running, location: &str, limit: Duration) -> Reply {
    let deadline = Instant::now() + limit;
    loop {
        let reply = get_task(proxy, location);
        if reply.status != 200 || reply.body["status"] != "working" {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{location} still working after {limit:?}: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asserts that the task at `location` ends `completed` within `limit`,
/// with `{"status": 200, "body": body}` as its result.
#[track_caller]
pub(super) fn assert_completes_with(
    proxy: &Running,
    location: &str,
    limit: Duration,
    body: &Value,
) {
    let ended = until_ended(proxy, location, limit);
    assert_eq!(ended.status, 200, "{ended:?}");
    assert_eq!(ended.body["status"], "completed", "{ended:?}");
    assert_eq!(
        ended.body["result"],
        json!({"status": 200, "body": body}),
        "{location}"
    );
}

/// A plain call of `tool` (a task done after `seconds`) with 0.5 s answers
/// the task's text, once the task ended.
#[track_caller]
pub(super) fn assert_waits_for_half_a_second_task(proxy: &Running, tool: &str) {
    let started = Instant::now();
    let reply = post_tool(proxy, tool, &json!({"seconds": 0.5}), false);
    assert_eq!(
        (reply.status, &reply.body),
        (200, &json!("done after 0.5 s")),
        "{reply:?}"
    );
    assert_took(
        started.elapsed(),
        Duration::from_millis(500)..,
        "the answer (not before the task's end)",
    );
}

/// The proxy's log so far (its own lines and the upstream's stderr).
pub(super) fn log_lines(proxy: &Running) -> Vec<String> {
    proxy
        .log
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// Whether the upstream logged that a task was cancelled
/// (`task_server: task <id> cancelled`).
fn upstream_cancelled_a_task(proxy: &Running) -> bool {
    log_lines(proxy)
        .iter()
        .any(|line| line.contains("task_server: task ") && line.ends_with(" cancelled"))
}

/// huge_result_task's text of `kilobytes` KiB, as the server builds it:
/// 128 numbers of 8 characters (`0000000|`) a KiB.
fn huge_text(kilobytes: usize) -> String {
    (0..kilobytes * 128).map(|i| format!("{i:07}|")).collect()
}

/// Asserts that `body` is exactly `expected` (a long text) without
/// printing megabytes when it is not.
#[track_caller]
fn assert_whole_text(body: &Value, expected: &str, what: &str) {
    let text = body
        .as_str()
        .unwrap_or_else(|| panic!("{what}: a text, not {:.200}", body.to_string()));
    assert!(
        text == expected,
        "{what}: {} characters, expected {}; it starts {:?} and ends {:?}",
        text.len(),
        expected.len(),
        &text[..text.len().min(40)],
        &text[text.len().saturating_sub(40)..]
    );
}

/// A plain call of a task-required tool answers as any call does: the
/// proxy created the task upstream, waited for its end and answered its
/// result (200 with the tool's text).
#[test]
fn a_plain_call_of_a_task_required_tool_waits_for_the_task() {
    let proxy = task_proxy(&[]);
    assert_waits_for_half_a_second_task(&proxy, "slow_task");
    assert!(
        proxy.logged("created for slow_task"),
        "the upstream ran it as a task"
    );
}

/// A task-required tool over its `--tool-timeout` is a 504 at the timeout,
/// not at the task's end, and the task is cancelled upstream
/// (`tasks/cancel`), which the server logs.
#[test]
fn a_task_over_its_tool_timeout_is_a_504_and_cancelled_upstream() {
    let proxy = task_proxy(&["--tool-timeout", "slow_task=1"]);
    let started = Instant::now();
    let late = post_tool(&proxy, "slow_task", &json!({"seconds": 5}), false);
    assert_timed_out(
        &late,
        started,
        Duration::from_millis(900)..Duration::from_secs(4),
        "expected about 1 s, not the 5 s task",
    );
    assert_eq!(
        detail_text(&late),
        "The upstream MCP server did not answer within 1s",
        "{late:?}"
    );
    assert!(
        wait_for(Duration::from_secs(3), || upstream_cancelled_a_task(&proxy)),
        "the upstream did not log the task's cancellation; log:\n{}",
        log_lines(&proxy).join("\n")
    );
    assert_took(
        started.elapsed(),
        ..Duration::from_secs(5),
        "the cancellation (not after the task would have ended)",
    );
    // The cancelled task never completes, and the tool still serves.
    let quick = post_tool(&proxy, "slow_task", &json!({"seconds": 0}), false);
    assert_eq!((quick.status, &quick.body), (200, &json!("done after 0 s")));
}

/// A task that fails upstream (its `tasks/result` is a JSON-RPC error) is
/// a 502 naming the upstream's error, as a failed plain call is. Started
/// with `Prefer: respond-async`, the task ends `failed` and its `result`
/// is that very answer.
#[test]
fn a_failed_task_is_a_502_plainly_and_a_failed_result_async() {
    let proxy = task_proxy(&[]);
    let plain = post_tool(&proxy, "failing_task", &json!({}), false);
    assert_eq!(plain.status, 502, "{plain:?}");
    assert_eq!(
        detail_text(&plain),
        "The upstream MCP server returned error -32603: the task failed on purpose",
        "{plain:?}"
    );

    let (location, _) = start_async(&proxy, "failing_task", &json!({}));
    let ended = until_ended(&proxy, &location, Duration::from_secs(10));
    assert_eq!(ended.status, 200, "{ended:?}");
    assert_eq!(ended.body["status"], "failed", "{ended:?}");
    assert_eq!(ended.body["result"]["status"], plain.status, "{ended:?}");
    assert!(
        ended.body["result"]["body"]["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains("the task failed on purpose")),
        "{ended:?}"
    );
    assert_eq!(
        ended.body["result"]["body"], plain.body,
        "the result is the plain call's answer"
    );
}

/// The proxy keeps an async task as long as the upstream does (its ttl,
/// 1 s for short_lived_task, which would complete after 3 s): once that
/// passed, `GET` answers 410 saying the ttl passed, not a result or a hang.
#[test]
fn a_task_past_the_upstreams_ttl_is_gone() {
    let proxy = task_proxy(&[]);
    let started = Instant::now();
    let (location, _) = start_async(&proxy, "short_lived_task", &json!({}));
    let gone = until_ended(&proxy, &location, Duration::from_secs(10));
    let took = started.elapsed();
    assert_eq!(gone.status, 410, "{gone:?}");
    assert!(gone.detail_contains("ttl"), "a clear detail: {gone:?}");
    assert_took(
        took,
        Duration::from_secs(1)..Duration::from_secs(3),
        "the 410 (expected just after the 1 s ttl, before the task's 3 s end)",
    );
}

/// Once a task's ttl passed, it stays gone: every later `GET` answers the
/// same 410, not a 404 that says the task never existed (or was lost to a
/// proxy restart).
#[test]
fn an_expired_task_stays_gone() {
    let proxy = task_proxy(&[]);
    let (location, _) = start_async(&proxy, "short_lived_task", &json!({}));
    let gone = until_ended(&proxy, &location, Duration::from_secs(10));
    assert_eq!(gone.status, 410, "{gone:?}");
    let again = get_task(&proxy, &location);
    assert_eq!(
        (again.status, &again.body),
        (gone.status, &gone.body),
        "{again:?}"
    );
}

/// The upstream's ttl runs from the task's creation there, not from when
/// the proxy heard of it: an upstream that answers the creation half a
/// second late forgets the task half a second before the proxy's own
/// expiry. In between, the task is gone all the same (410), not a task that
/// `failed` with a 422 about an `unknown task`.
#[test]
fn a_task_the_upstream_forgot_first_is_gone_not_failed() {
    let proxy = task_proxy(&[]);
    let (location, _) = start_async(&proxy, "short_lived_task", &json!({"answer_after": 0.5}));
    let gone = until_ended(&proxy, &location, Duration::from_secs(10));
    assert_eq!(gone.status, 410, "{gone:?}");
    assert!(gone.detail_contains("ttl"), "a clear detail: {gone:?}");
}

/// A 2 MiB result arrives whole, plainly and as an async task's result:
/// the proxy sets no limit of its own below the stdio transport's 16 MiB
/// line.
#[test]
fn a_huge_result_arrives_whole() {
    let proxy = task_proxy(&[]);
    let expected = huge_text(2048);
    let arguments = json!({"kilobytes": 2048});
    let plain = post_tool(&proxy, "huge_result_task", &arguments, false);
    assert_eq!(plain.status, 200, "{:.300}", format!("{plain:?}"));
    assert_whole_text(&plain.body, &expected, "the plain call");

    let (location, _) = start_async(&proxy, "huge_result_task", &arguments);
    let ended = until_ended(&proxy, &location, Duration::from_secs(10));
    assert_eq!(ended.status, 200, "{:.300}", format!("{ended:?}"));
    assert_eq!(ended.body["status"], "completed");
    assert_eq!(ended.body["result"]["status"], 200);
    assert_whole_text(
        &ended.body["result"]["body"],
        &expected,
        "the task's result",
    );
}

/// Fifty async tasks started at once are each accepted with a taskId of
/// their own, and each completes with its own result.
#[test]
fn many_concurrent_async_tasks_each_complete() {
    const TASKS: usize = 50;
    let proxy = task_proxy(&[]);
    let arguments = json!({"seconds": 1});
    let accepted: Vec<Reply> = std::thread::scope(|scope| {
        let starts: Vec<_> = (0..TASKS)
            .map(|_| scope.spawn(|| post_tool(&proxy, "slow_task", &arguments, true)))
            .collect();
        starts
            .into_iter()
            .map(|start| start.join().expect("a caller thread"))
            .collect()
    });
    let locations: Vec<String> = accepted
        .iter()
        .map(|reply| assert_accepted(reply, "slow_task").0)
        .collect();
    let distinct: HashSet<&String> = locations.iter().collect();
    assert_eq!(distinct.len(), TASKS, "distinct taskIds: {locations:?}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut working = locations;
    while !working.is_empty() {
        working.retain(|location| {
            let reply = get_task(&proxy, location);
            assert_eq!(reply.status, 200, "{location}: {reply:?}");
            match reply.body["status"].as_str() {
                Some("working") => true,
                Some("completed") => {
                    assert_eq!(
                        reply.body["result"],
                        json!({"status": 200, "body": "done after 1 s"}),
                        "{location}"
                    );
                    false
                }
                _ => panic!("{location}: {reply:?}"),
            }
        });
        assert!(
            Instant::now() < deadline,
            "{} of {TASKS} tasks still working: {working:?}",
            working.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A tool whose task support is optional answers a plain call plainly (no
/// task upstream) and runs as a task for `Prefer: respond-async`.
#[test]
fn an_optional_task_tool_runs_as_a_task_only_when_asked() {
    let proxy = task_proxy(&[]);
    let plain = post_tool(&proxy, "optional_task", &json!({}), false);
    assert_eq!(
        (plain.status, &plain.body),
        (200, &json!("plain")),
        "{plain:?}"
    );
    assert!(
        !proxy.logged("created for optional_task"),
        "a plain call made no task upstream"
    );

    let (location, _) = start_async(&proxy, "optional_task", &json!({}));
    assert_completes_with(
        &proxy,
        &location,
        Duration::from_secs(10),
        &json!("as a task"),
    );
    assert!(proxy.logged("created for optional_task"));
}

/// An upstream that exits mid-task is restarted; its tasks died with it,
/// and `GET` on one answers 410 saying the upstream restarted (at once,
/// not after a timeout).
#[test]
fn a_task_whose_upstream_restarted_is_gone() {
    let proxy = task_proxy(&[]);
    let (location, _) = start_async(&proxy, "exit_mid_task", &json!({}));
    // The server says when it exits, and says it started each time.
    let exited = |lines: &[String]| {
        lines
            .iter()
            .position(|line| line.contains("task_server: exiting mid-task"))
    };
    assert!(
        wait_for(Duration::from_secs(10), || exited(&log_lines(&proxy))
            .is_some()),
        "the upstream did not exit"
    );
    let restarted = || {
        let lines = log_lines(&proxy);
        exited(&lines).is_some_and(|at| {
            lines[at..]
                .iter()
                .any(|line| line.contains("task_server: started"))
        })
    };
    assert!(
        wait_for(Duration::from_secs(15), restarted),
        "the upstream was not restarted; log:\n{}",
        log_lines(&proxy).join("\n")
    );
    wait_ready(&proxy);
    let started = Instant::now();
    let gone = get_task(&proxy, &location);
    assert_eq!(gone.status, 410, "{gone:?}");
    assert!(gone.detail_contains("restarted"), "{gone:?}");
    assert_took(started.elapsed(), ..Duration::from_secs(5), "the 410");
    let response = client()
        .delete(proxy.url(&location))
        .bearer_auth(KEY)
        .send()
        .unwrap_or_else(|error| panic!("DELETE {location} got no answer: {error}"));
    let cancelled = Reply::from(response);
    assert_eq!(
        (cancelled.status, &cancelled.body),
        (gone.status, &gone.body),
        "DELETE: {cancelled:?}"
    );
    // The restarted upstream serves new tasks.
    let (location, _) = start_async(&proxy, "slow_task", &json!({"seconds": 0}));
    assert_completes_with(
        &proxy,
        &location,
        Duration::from_secs(10),
        &json!("done after 0 s"),
    );
}

/// A running async task is a call at the upstream: under
/// `--max-concurrency 1 --max-queue 0` it holds the one slot until it ends,
/// so a plain call and another async start meanwhile are refused (503, as
/// for any busy proxy), and once it is cancelled the slot is free again.
#[test]
fn an_async_task_holds_its_concurrency_slot_until_it_ends() {
    let scratch = tempfile::tempdir().unwrap();
    let audit_log = scratch.path().join("audit.log");
    let audit_flag = audit_log.display().to_string();
    let proxy = task_proxy(&[
        "--max-concurrency",
        "1",
        "--max-queue",
        "0",
        "--audit-log",
        &audit_flag,
    ]);
    let (location, _) = start_async(&proxy, "slow_task", &json!({"seconds": 60}));
    for respond_async in [false, true] {
        let busy = post_tool(&proxy, "optional_task", &json!({}), respond_async);
        assert_eq!(busy.status, 503, "async {respond_async}: {busy:?}");
        assert!(busy.detail_contains("--max-concurrency"), "{busy:?}");
    }
    let response = client()
        .delete(proxy.url(&location))
        .bearer_auth(KEY)
        .send()
        .unwrap_or_else(|error| panic!("DELETE {location} got no answer: {error}"));
    assert!(response.status().is_success(), "{response:?}");
    let freed = wait_for(Duration::from_secs(10), || {
        post_tool(&proxy, "optional_task", &json!({}), false).status == 200
    });
    assert!(freed, "the cancelled task's slot was not freed");

    // The cancel and the read of the ended task are in the audit log, named
    // by the task's tool; the polls of a working task are not.
    let ended = get_task(&proxy, &location);
    assert_eq!(ended.body["status"], "cancelled", "{ended:?}");
    let audited: Vec<(String, String)> = std::fs::read_to_string(&audit_log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|entry| {
            entry["kind"]
                .as_str()
                .is_some_and(|kind| kind.starts_with("task-"))
        })
        .map(|entry| {
            let kind = entry["kind"].as_str().unwrap_or_default().to_string();
            (kind, entry["name"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    assert_eq!(
        audited,
        [
            ("task-cancel".to_string(), "slow_task".to_string()),
            ("task-result".to_string(), "slow_task".to_string()),
        ],
        "{audited:?}"
    );
}
