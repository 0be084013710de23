//! Under load (issue 16), end to end against the committed
//! `generated-examples/errors-proxy` and our fixture server over stdio:
//! `--max-concurrency` with a full queue (503 + `Retry-After`) and a
//! per-tool timeout (504), the SIGTERM drain (calls in flight finish, then
//! the upstream stops), `--upstream-pool` (calls spread, a killed member is
//! replaced), and the upstream killed twice under a load of calls. Every
//! check reads `/metrics` too. Loopback only, bounded in calls and time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use crate::{KEY, call, launch};

/// errors.json with the `sleeps` tool sleeping `ms` instead of 10 s (its
/// definition, and so the lock, unchanged: behaviours are not tools).
fn tools_with_sleep(ms: u64) -> (tempfile::TempDir, String) {
    let source = workspace_root().join("tests/fixture-server/tools/errors.json");
    let mut tools: Value =
        serde_json::from_str(&std::fs::read_to_string(source).expect("errors.json"))
            .expect("errors.json is JSON");
    tools["behaviors"]["sleeps"] = json!({"kind": "sleep", "ms": ms});
    let (dir, path) = scratch_file("tools.json", tools.to_string());
    let path = path.display().to_string();
    (dir, path)
}

/// The proxy with `flags`, its upstream the fixture serving `tools`, every
/// process marked with `marker`.
fn proxy(flags: &[&str], tools: &str, marker: &str) -> Running {
    launch(
        &[&["--api-key", KEY], flags].concat(),
        &fixture_upstream(tools),
    )
    .env(&[("MCPO_TEST_MARKER", marker)])
    .start_ready()
}

/// `/metrics` (it needs the key like the tools).
pub(super) fn metrics(proxy: &Running) -> String {
    let client = reqwest::blocking::Client::new();
    let response = client
        .get(proxy.url("/metrics"))
        .bearer_auth(KEY)
        .send()
        .expect("/metrics answers");
    assert_eq!(response.status().as_u16(), 200);
    response.text().expect("a text page")
}

/// The value of the series `name` (with its labels, as printed) or 0.
pub(super) fn metric(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The fixture processes (not the proxy) carrying `marker`.
fn fixtures(marker: &str) -> Vec<i32> {
    processes_with_marker(marker)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                raw.split(|byte| *byte == 0)
                    .next()
                    .is_some_and(|argv0| argv0.ends_with(b"mcp-fixture-server"))
            })
        })
        .collect()
}

fn kill(pid: i32) {
    // SAFETY: a signal to a fixture process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[test]
fn a_full_queue_is_503_with_retry_after_and_a_tool_timeout_is_504() {
    let (_dir, tools) = tools_with_sleep(4_000);
    let marker = unique_marker("queue");
    let proxy = Arc::new(proxy(
        &[
            "--max-concurrency",
            "1",
            "--max-queue",
            "1",
            "--tool-timeout",
            "sleeps=1.5",
        ],
        &tools,
        &marker,
    ));
    // The only slot: a call that would sleep 4 s, cut at its own 1.5 s.
    let slow = {
        let proxy = Arc::clone(&proxy);
        std::thread::spawn(move || {
            let started = Instant::now();
            (call(&proxy, "sleeps", &json!({})), started.elapsed())
        })
    };
    wait_until(Duration::from_secs(10), || {
        metric(&metrics(&proxy), "mcpo_tool_calls_in_flight") == 1.0
    });
    // The queue's one place.
    let queued = {
        let proxy = Arc::clone(&proxy);
        std::thread::spawn(move || call(&proxy, "echo", &json!({"message": "queued"})))
    };
    wait_until(Duration::from_secs(10), || {
        metric(&metrics(&proxy), "mcpo_queue_depth") == 1.0
    });
    // Full: refused at once, while the slow call still holds the slot.
    let refused = call(&proxy, "echo", &json!({"message": "refused"}));
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert!(refused.detail_contains("--max-queue"), "{refused:?}");
    assert!(!slow.is_finished(), "the slot was still taken");

    let (slow, waited) = slow.join().expect("the slow call");
    assert_eq!(slow.status, 504, "{slow:?}");
    assert!(
        waited < Duration::from_millis(3_900),
        "--tool-timeout sleeps=1.5 cut the 4 s call: {waited:?}"
    );
    let queued = queued.join().expect("the queued call");
    assert_eq!(queued.status, 200, "{queued:?}");
    assert_eq!(queued.body["message"], json!("queued"));

    let page = metrics(&proxy);
    for (series, value) in [
        ("mcpo_tool_calls_total{tool=\"sleeps\",status=\"504\"}", 1.0),
        ("mcpo_tool_calls_total{tool=\"echo\",status=\"503\"}", 1.0),
        ("mcpo_tool_calls_total{tool=\"echo\",status=\"200\"}", 1.0),
        ("mcpo_queue_rejected_total", 1.0),
        ("mcpo_queue_depth", 0.0),
        ("mcpo_tool_calls_in_flight", 0.0),
        ("mcpo_upstream_up{member=\"0\"}", 1.0),
        ("mcpo_tool_call_duration_seconds_count{tool=\"echo\"}", 2.0),
    ] {
        assert_eq!(metric(&page, series), value, "{series} in\n{page}");
    }
    // Neither the key nor an argument is ever a label.
    assert!(!page.contains(KEY) && !page.contains("queued"), "{page}");
    // /metrics is no tool: not in the document, and refused without the key.
    let (_, document) = get(&proxy.url("/openapi.json")).expect("the document");
    assert!(!document.contains("/metrics"));
    let (status, _) = get(&proxy.url("/metrics")).expect("an answer");
    assert_eq!(status, 401);
}

#[test]
fn sigterm_lets_calls_in_flight_finish_then_stops_the_upstream() {
    let (_dir, tools) = tools_with_sleep(1_500);
    let marker = unique_marker("drain");
    let mut proxy = proxy(&[], &tools, &marker);
    let url = proxy.url("/sleeps");
    let calls: Vec<_> = (0..4)
        .map(|index| {
            let url = url.clone();
            std::thread::spawn(move || {
                post_json(&url, &json!({"message": format!("{index}")}), Some(KEY))
            })
        })
        .collect();
    wait_until(Duration::from_secs(10), || {
        metric(&metrics(&proxy), "mcpo_tool_calls_in_flight") == 4.0
    });
    assert_eq!(fixtures(&marker).len(), 1);
    // SAFETY: a signal to the proxy this test started.
    unsafe {
        libc::kill(proxy.pid(), libc::SIGTERM);
    }
    // No new connections while draining...
    let address = format!("127.0.0.1:{}", proxy.port);
    wait_until(Duration::from_secs(5), || {
        std::net::TcpStream::connect(&address).is_err()
    });
    // ...and every call in flight answered.
    for (index, answer) in calls.into_iter().enumerate() {
        let answer = answer.join().expect("a call");
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body["message"], json!(format!("{index}")));
    }
    let exited = wait_for(Duration::from_secs(10), || {
        matches!(proxy.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "the proxy exits after the drain");
    let status = proxy.child.wait().expect("an exit status");
    assert!(status.success(), "{status:?}");
    assert!(
        wait_for(Duration::from_secs(5), || processes_with_marker(&marker)
            .is_empty()),
        "left behind: {:?}",
        processes_with_marker(&marker)
    );
}

#[test]
fn a_pool_spreads_calls_and_replaces_a_killed_member() {
    let (_dir, tools) = tools_with_sleep(600);
    let marker = unique_marker("pool");
    let proxy = Arc::new(proxy(&["--upstream-pool", "3"], &tools, &marker));
    wait_until(Duration::from_secs(20), || {
        get(&proxy.url("/readyz"))
            .is_ok_and(|(_, body)| body.contains("3 of 3 pool members connected"))
    });
    assert_eq!(fixtures(&marker).len(), 3, "one process per member");

    let calls: Vec<_> = (0..6)
        .map(|_| {
            let proxy = Arc::clone(&proxy);
            std::thread::spawn(move || call(&proxy, "sleeps", &json!({})).status)
        })
        .collect();
    for status in calls {
        assert_eq!(status.join().expect("a call"), 200);
    }
    let page = metrics(&proxy);
    for member in 0..3 {
        let sent = metric(
            &page,
            &format!("mcpo_upstream_calls_total{{member=\"{member}\"}}"),
        );
        assert!(sent >= 1.0, "member {member} got no call:\n{page}");
    }

    let victim = fixtures(&marker)[0];
    kill(victim);
    // The others serve meanwhile (a call may meet the dead one first: 502).
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(call(&proxy, "echo", &json!({"message": "m"})).status);
    }
    assert!(
        statuses.iter().all(|status| [200, 502].contains(status)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    wait_until(Duration::from_secs(20), || {
        let page = metrics(&proxy);
        let restarts: f64 = (0..3)
            .map(|member| {
                metric(
                    &page,
                    &format!("mcpo_upstream_restarts_total{{member=\"{member}\"}}"),
                )
            })
            .sum();
        let up: f64 = (0..3)
            .map(|member| metric(&page, &format!("mcpo_upstream_up{{member=\"{member}\"}}")))
            .sum();
        restarts == 1.0 && up == 3.0
    });
    let members = fixtures(&marker);
    assert_eq!(members.len(), 3, "{members:?}");
    assert!(!members.contains(&victim));
}

#[test]
fn killing_the_upstream_twice_under_load_gives_only_documented_answers() {
    const CALL_TIMEOUT: Duration = Duration::from_secs(5);
    let tools = workspace_root()
        .join("tests/fixture-server/tools/errors.json")
        .display()
        .to_string();
    let marker = unique_marker("faults");
    let mut proxy = proxy(&["--call-timeout", "5"], &tools, &marker);
    let url = proxy.url("/echo");
    let stop = Arc::new(AtomicBool::new(false));
    // How many calls have been answered 200 so far, by all clients.
    let served = Arc::new(AtomicUsize::new(0));
    let test_start = Instant::now();
    // 8 clients calling in a loop: (start, end, status), as offsets from test_start.
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (url, stop, served) = (url.clone(), Arc::clone(&stop), Arc::clone(&served));
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let body = json!({"message": format!("worker {worker}")});
                while !stop.load(Ordering::SeqCst) && seen.len() < 20_000 {
                    let started = test_start.elapsed();
                    let status = post_json(&url, &body, Some(KEY)).status;
                    if status == 200 {
                        served.fetch_add(1, Ordering::SeqCst);
                    }
                    seen.push((started, test_start.elapsed(), status));
                }
                seen
            })
        })
        .collect();
    // Twice as many 200s as clients from now on: at most one call per client
    // was already in flight, so at least one call per client started (and
    // was served) after this point.
    let load_served = || {
        let from = served.load(Ordering::SeqCst);
        wait_until(Duration::from_secs(20), || {
            served.load(Ordering::SeqCst) >= from + 16
        });
    };

    let mut respawns = Vec::new();
    // Under load before the first kill.
    load_served();
    for round in 0..2 {
        let before = fixtures(&marker);
        assert_eq!(before.len(), 1, "round {round}: {before:?}");
        kill(before[0]);
        let mut respawned = None;
        wait_until(Duration::from_secs(10), || {
            let now = fixtures(&marker);
            if now.len() == 1 && now[0] != before[0] {
                respawned = Some(test_start.elapsed());
            }
            respawned.is_some()
        });
        respawns.push(respawned.expect("a respawn"));
        // Calls started after the respawn, and served, before the next kill.
        load_served();
    }
    stop.store(true, Ordering::SeqCst);
    let calls: Vec<(Duration, Duration, u16)> = workers
        .into_iter()
        .flat_map(|worker| worker.join().expect("a worker"))
        .collect();

    let documented = [200, 502, 503, 504];
    let odd: Vec<_> = calls
        .iter()
        .filter(|(_, _, status)| !documented.contains(status))
        .collect();
    assert!(odd.is_empty(), "undocumented answers: {odd:?}");
    let longest = calls
        .iter()
        .map(|(start, end, _)| *end - *start)
        .max()
        .unwrap_or_default();
    assert!(
        longest < CALL_TIMEOUT + Duration::from_secs(1),
        "a call outlived the call timeout: {longest:?}"
    );
    for respawn in &respawns {
        let first_success = calls
            .iter()
            .filter(|(start, _, status)| *status == 200 && start >= respawn)
            .map(|(_, end, _)| *end)
            .min()
            .expect("calls succeed after the respawn");
        assert!(
            first_success - *respawn < Duration::from_secs(1),
            "first 200 {:?} after the respawn",
            first_success - *respawn
        );
    }
    let mut by_status = std::collections::BTreeMap::new();
    for (_, _, status) in &calls {
        *by_status.entry(*status).or_insert(0) += 1;
    }
    eprintln!("calls by status {by_status:?}, the longest {longest:?}");
    let page = metrics(&proxy);
    assert_eq!(
        metric(&page, "mcpo_upstream_restarts_total{member=\"0\"}"),
        2.0,
        "{page}"
    );
    assert!(proxy.terminate(Duration::from_secs(10)), "the proxy stops");
    assert!(
        wait_for(Duration::from_secs(5), || processes_with_marker(&marker)
            .is_empty()),
        "left behind: {:?}",
        processes_with_marker(&marker)
    );
}

/// Threads of `pid` named like tokio's workers.
fn runtime_workers(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the proxy's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "tokio-rt-worker")
        .count()
}

#[test]
fn worker_threads_sets_the_runtimes_threads_and_calls_are_served() {
    let (_dir, tools) = tools_with_sleep(10);
    for (flags, expected) in [(&["--worker-threads", "3"][..], 3), (&[][..], 0)] {
        let proxy = proxy(flags, &tools, "worker-threads");
        let reply = call(&proxy, "echo", &json!({"message": "hi"}));
        assert_eq!(reply.status, 200, "{}", reply.body);
        let workers = runtime_workers(proxy.child.id());
        // Default: half the CPUs, at least one.
        let expected = if expected == 0 {
            (std::thread::available_parallelism().map_or(1, |cpus| cpus.get()) / 2).max(1)
        } else {
            expected
        };
        assert_eq!(workers, expected, "{flags:?}");
    }
}

/// One request on a fresh connection (`Connection: close`): the whole
/// answer, or `None` when the connection was refused or closed unanswered.
fn raw_request(port: u16, request: &str) -> Option<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (!answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
}

/// The first answer to `request` on `port`, which is tried again (on a
/// new connection) until one comes, for up to `limit`.
#[track_caller]
fn answered_within(port: u16, request: &str, limit: Duration) -> String {
    let mut answer = None;
    wait_until(limit, || {
        answer = raw_request(port, request);
        answer.is_some()
    });
    answer.unwrap_or_default()
}

/// Connections that send their body slowly (issue 25): at the connection
/// cap, with more of them than the cap, `/healthz` and tool calls are still
/// answered long before the body timeout, as the slow bodies past their
/// grace are cut to make room (408); the others are cut by the body timeout
/// (408). Each 408 closes its connection.
#[test]
fn slow_bodies_at_the_connection_cap_do_not_lock_clients_out() {
    use std::io::{Read as _, Write as _};
    let (_dir, tools) = tools_with_sleep(10);
    let proxy = proxy(
        &["--max-connections", "10", "--body-timeout", "30"],
        &tools,
        &unique_marker("slow-bodies"),
    );
    let port = proxy.port;
    let slow_head = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"message\": \""
    );
    let slow: Vec<std::net::TcpStream> = (0..12)
        .filter_map(|_| {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            let _ = stream.write_all(slow_head.as_bytes());
            // Each one's headers reach the proxy before the next connects
            // (the order of arrival is what the cap's eviction is about, and
            // the proxy shows no sign of having read them): a fixed pause.
            std::thread::sleep(Duration::from_millis(50));
            Some(stream)
        })
        .collect();
    let held_since = Instant::now();

    let healthz =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let health = answered_within(port, &healthz, Duration::from_secs(20));
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = r#"{"message": "through"}"#;
    let call = format!(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let answer = answered_within(port, &call, Duration::from_secs(20));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("through"), "{answer}");
    // Served while the slow bodies were held, not freed by their timeout.
    assert!(
        held_since.elapsed() < Duration::from_secs(25),
        "{:?}",
        held_since.elapsed()
    );

    // Every slow body is answered 408 (cut to make room, or at the body
    // timeout) and its connection closed; a connection refused at the cap
    // is closed unanswered.
    let (mut made_room, mut timed_out) = (0, 0);
    for mut stream in slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("a read timeout");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        let answer = String::from_utf8_lossy(&answer);
        if answer.is_empty() {
            continue;
        }
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
        let detail = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        let detail: Value = serde_json::from_str(detail).unwrap_or_default();
        let detail = detail["detail"].as_str().unwrap_or_default();
        if detail.contains("--max-connections") {
            made_room += 1;
        } else {
            assert!(detail.contains("did not arrive within 30s"), "{answer}");
            timed_out += 1;
        }
    }
    assert!(made_room >= 1, "a slow body was cut to make room");
    assert!(
        made_room + timed_out >= 8,
        "408s: {made_room} cut, {timed_out} timed out"
    );
}
