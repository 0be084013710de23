//! The generator end to end: live snapshots of real servers, byte-identical
//! regeneration, the `check` verb's exit codes, clear errors for broken
//! servers, no processes left behind, an independent OpenAPI validator, and a
//! generated crate that builds outside this workspace.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mcpo_gen_e2e::*;

type Tree = std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>;

/// Paths present in only one tree or with different contents.
fn differing_files(a: &Tree, b: &Tree) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .filter(|path| a.get(*path) != b.get(*path))
        .map(|path| path.display().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn example(name: &str) -> std::path::PathBuf {
    workspace_root().join("generated-examples").join(name)
}

fn examples() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(workspace_root().join("generated-examples"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("mcp.lock.json").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 2, "generated examples exist: {dirs:?}");
    dirs
}

#[test]
fn live_snapshots_are_byte_identical_and_leave_no_process_behind() {
    let marker = unique_marker("snapshot");
    let out = tempfile::tempdir().unwrap();
    let mut locks = Vec::new();
    for run in ["a", "b"] {
        let dir = out.path().join(run).join("time-proxy");
        let output = Command::new(mcpo_gen_bin())
            .args([
                "--quiet",
                "--runtime",
                "published",
                "--out",
                dir.to_str().unwrap(),
                "--",
                "uvx",
                MCP_SERVER_TIME,
            ])
            .args(["--local-timezone=America/New_York"])
            .env("PATH", path_with_tools())
            .env("MCPO_TEST_MARKER", &marker)
            .output()
            .unwrap();
        assert_exit_code(&output, 0);
        assert!(
            output.stderr.is_empty(),
            "--quiet prints nothing: {}",
            output_text(&output)
        );
        // The snapshot is over: no server (uvx or its python grandchild)
        // survives. A killed process leaves /proc a moment after mcpo-gen
        // exits, so allow that moment.
        let mut left = Vec::new();
        let gone = wait_for(Duration::from_secs(5), || {
            left = processes_with_marker(&marker);
            left.is_empty()
        });
        assert!(gone, "processes left behind: {left:?}");
        locks.push(std::fs::read(dir.join("mcp.lock.json")).unwrap());
    }
    assert_eq!(locks[0], locks[1]);
    // And it is the lock committed for the example.
    let committed = std::fs::read(example("time-proxy").join("mcp.lock.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&locks[0]),
        String::from_utf8_lossy(&committed)
    );
}

#[test]
fn generation_from_a_lock_is_deterministic_and_matches_the_committed_examples() {
    for dir in examples() {
        let lock = dir.join("mcp.lock.json");
        let out = tempfile::tempdir().unwrap();
        let (first, second) = (out.path().join("one"), out.path().join("two"));
        for target in [&first, &second] {
            generate_from_lock(&lock, target);
        }
        let one = read_tree(&first);
        assert_eq!(
            differing_files(&one, &read_tree(&second)),
            Vec::<String>::new(),
            "{}",
            dir.display()
        );
        // A multi-server example keeps the config it was generated from
        // beside its files: the input, not an output.
        let mut committed = read_tree(&dir);
        committed.remove(std::path::Path::new("mcp.json"));
        assert_eq!(
            differing_files(&one, &committed),
            Vec::<String>::new(),
            "{} differs from its lock's output",
            dir.display()
        );
        for (path, bytes) in &one {
            let is_json = path.extension().is_some_and(|ext| ext == "json");
            let head = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
            assert!(
                is_json || head.contains("@generated"),
                "{} lacks the @generated header",
                path.display()
            );
        }
    }
}

#[test]
fn check_reports_up_to_date_stale_and_broken_crates_by_exit_code() {
    let dirs: Vec<String> = examples()
        .iter()
        .map(|dir| dir.to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["check"];
    args.extend(dirs.iter().map(String::as_str));
    let output = mcpo_gen(&args);
    assert_exit_code(&output, 0);

    let copy = tempfile::tempdir().unwrap();
    copy_tree(&example("time-proxy"), copy.path());
    let dir = copy.path().to_str().unwrap();

    // A hand-edited generated file.
    let tools = copy.path().join("src/tools.rs");
    let edited = std::fs::read_to_string(&tools).unwrap() + "\n// hand edit\n";
    std::fs::write(&tools, edited).unwrap();
    let output = mcpo_gen(&["check", dir]);
    assert_exit_code(&output, 1);
    assert_said(&output, "src/tools.rs");
    assert!(
        output_text(&output).contains("hand edit"),
        "shows a diff: {}",
        output_text(&output)
    );

    // Regenerating fixes it.
    let lock = copy.path().join("mcp.lock.json");
    generate_from_lock(&lock, dir);
    assert_eq!(mcpo_gen(&["check", dir]).status.code(), Some(0));

    // A lock edited by hand: the generated files no longer match it.
    let lock_text = std::fs::read_to_string(&lock).unwrap();
    let edited = lock_text.replacen("\"description\": \"", "\"description\": \"EDITED ", 1);
    assert_ne!(edited, lock_text);
    std::fs::write(&lock, edited).unwrap();
    let output = mcpo_gen(&["check", dir]);
    assert_exit_code(&output, 1);

    // A broken lock is an error, not a verdict.
    std::fs::write(&lock, "{ not json").unwrap();
    let output = mcpo_gen(&["check", dir]);
    assert_exit_code(&output, 2);
    assert_said(&output, "mcp.lock.json");
}

/// A folder named like one of the proxy's dependencies would give a crate
/// whose Cargo.lock cargo cannot read: refused before any server starts.
#[test]
fn a_crate_named_like_a_dependency_is_refused_before_the_snapshot() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("http");
    let never_run = out.path().join("server-was-started");
    let script = format!("touch {}", never_run.display());
    let output = mcpo_gen(&["--out", dir.to_str().unwrap(), "--", "sh", "-c", &script]);
    assert_exit_code(&output, 2);
    let text = output_text(&output);
    assert!(
        text.contains("`http`") && text.contains("--crate-name"),
        "{text}"
    );
    assert!(!never_run.exists(), "the server was started");
    assert!(!dir.exists(), "nothing was written");
}

#[test]
fn broken_servers_fail_with_clear_errors() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("p");
    let dir = dir.to_str().unwrap();

    // Each refused (exit 2), saying what went wrong where it is named.
    let refused: [(&[&str], Option<&str>); 5] = [
        (&["--", "mcpo-gen-no-such-server"], Some("was not found")),
        (
            &["--", "sh", "-c", "echo 'I am not MCP' >&2; exit 3"],
            Some("I am not MCP"),
        ),
        // Speaks something else.
        (&["--", "sh", "-c", "echo hello; sleep 1"], None),
        (
            &["--connect-timeout", "1", "--", "sleep", "30"],
            Some("--connect-timeout"),
        ),
        (
            &[
                "--server-type",
                "streamable-http",
                "--",
                "http://127.0.0.1:9/mcp",
            ],
            None,
        ),
    ];
    for (args, says) in refused {
        let output = mcpo_gen(&[&["--out", dir][..], args].concat());
        assert_exit_code(&output, 2);
        if let Some(says) = says {
            assert_said(&output, says);
        }
    }

    assert!(
        !Path::new(dir).exists(),
        "nothing is written when the snapshot fails"
    );
}

#[test]
fn streamable_http_snapshot_sends_headers_and_locks_only_their_names() {
    let tools = workspace_root().join("tests/fixture-server/tools/errors.json");
    let mut server = start_fixture_http(&[
        "--tools",
        tools.to_str().unwrap(),
        "--require-header",
        "X-Api-Token: s3cr3t-value",
    ]);
    let url = server.url("/mcp");

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("http-proxy");
    let dir = dir.to_str().unwrap();

    let output = mcpo_gen(&["--out", dir, "--server-type", "streamable-http", "--", &url]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "without the header: {}",
        output_text(&output)
    );

    generate(
        dir,
        &[
            "--server-type",
            "streamable-http",
            "--header",
            r#"{"X-Api-Token": "s3cr3t-value"}"#,
            "--",
            &url,
        ],
    );
    let lock = std::fs::read_to_string(Path::new(dir).join("mcp.lock.json")).unwrap();
    assert!(lock.contains("\"type\": \"streamable-http\""), "{lock}");
    assert!(lock.contains("X-Api-Token"), "{lock}");
    for (path, bytes) in read_tree(Path::new(dir)) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains("s3cr3t-value"),
            "{} holds the header's secret value",
            path.display()
        );
    }
    assert!(lock.contains("\"name\": \"echo\""), "{lock}");
    server.terminate(Duration::from_secs(5));
}

#[test]
fn every_committed_openapi_document_passes_an_independent_validator() {
    let validator = tools_bin().join("openapi-spec-validator");
    for dir in examples() {
        let output = Command::new(&validator)
            .arg(dir.join("openapi.json"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}: {}",
            dir.display(),
            output_text(&output)
        );
    }
}

/// `mcpo-gen generate --lock <example's lock> --out <dir> <extra...>`.
fn generate_from_example(example_name: &str, out: &Path, extra: &[&str]) {
    let lock = example(example_name).join("mcp.lock.json");
    let mut args = vec![
        "generate",
        "--quiet",
        "--lock",
        lock.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = mcpo_gen(&args);
    assert_exit_code(&output, 0);
}

/// The default runtime mode: the crate carries its own copy of the runtime
/// and builds from crates.io alone, with the emitted Cargo.lock.
#[test]
fn a_vendored_crate_builds_outside_the_workspace() {
    let out = tempfile::tempdir().unwrap();
    let crate_dir = out.path().join("time-proxy");
    generate_from_example("time-proxy", &crate_dir, &["--runtime", "vendored"]);
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("mcpo-runtime = { path = \"mcpo-runtime\" }")
            && !manifest.contains("path = \".."),
        "the only path dependency is the runtime inside the crate: {manifest}"
    );
    // The vendored runtime is the runtime crate's own source, byte for byte
    // after its header.
    let runtime_lib = std::fs::read_to_string(crate_dir.join("mcpo-runtime/src/lib.rs")).unwrap();
    let original =
        std::fs::read_to_string(workspace_root().join("mcpo-runtime/src/lib.rs")).unwrap();
    assert!(runtime_lib.starts_with("// @generated by mcpo-gen from mcpo-runtime/src/lib.rs"));
    assert!(
        runtime_lib.ends_with(&original),
        "vendored lib.rs differs from mcpo-runtime's"
    );
    let binary = build_outside(&crate_dir, "time-proxy");
    assert!(binary.is_file(), "{}", binary.display());
    let check = mcpo_gen(&["check", "--quiet", crate_dir.to_str().unwrap()]);
    assert_exit_code(&check, 0);
}

/// Several proxies of one repository can share one runtime folder, which
/// mcpo-gen writes with each of them and `check` verifies for each. The two
/// are built and served beside the test proxies' shared runtime folder
/// (compiled once for all of them), and checked and edited in a folder of
/// their own (an edit there must not make every test proxy rebuild).
#[test]
fn two_proxies_sharing_one_runtime_folder_build_and_serve() {
    let shared_runtime = ["--runtime", "shared:../mcpo-runtime"];
    let turn = e2e_proxies_turn();
    let built = [
        ("time-proxy", e2e_proxies().join("time-proxy")),
        ("errors-proxy", e2e_proxies().join("errors-proxy")),
    ];
    for (name, dir) in &built {
        generate_from_example(name, dir, &[&["--force"][..], &shared_runtime].concat());
    }
    drop(turn);
    let time_binary = build_outside(&built[0].1, "time-proxy");
    let errors_binary = build_outside(&built[1].1, "errors-proxy");
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let errors_tools = workspace_root().join("tests/fixture-server/tools/errors.json");
    let time_proxy = start_proxy(&time_binary, &[]);
    let errors_proxy = start_proxy(
        &errors_binary,
        &[
            "--",
            fixture.to_str().unwrap(),
            "--tools",
            errors_tools.to_str().unwrap(),
        ],
    );
    wait_ready(&time_proxy);
    wait_ready(&errors_proxy);
    let reply = time_proxy.post(
        "/get_current_time",
        &serde_json::json!({"timezone": "Europe/Paris"}),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["timezone"], "Europe/Paris", "{reply:?}");
    let (status, document) = get(&errors_proxy.url("/openapi.json")).unwrap();
    assert_eq!(status, 200, "{document}");
    assert!(document.contains("errors"), "{document}");

    let repository = tempfile::tempdir().unwrap();
    let time = repository.path().join("time-proxy");
    let errors = repository.path().join("errors-proxy");
    for (name, dir) in [("time-proxy", &time), ("errors-proxy", &errors)] {
        generate_from_example(name, dir, &shared_runtime);
        assert!(!dir.join("mcpo-runtime").exists(), "no copy inside {name}");
    }
    let shared = repository.path().join("mcpo-runtime");
    assert!(shared.join("src/codegen.rs").is_file());
    let both = [time.to_str().unwrap(), errors.to_str().unwrap()];
    let check = mcpo_gen(&["check", "--quiet", both[0], both[1]]);
    assert_exit_code(&check, 0);
    // An edit to the shared runtime makes both crates stale; regenerating
    // either one restores it for both.
    let codegen = shared.join("src/codegen.rs");
    let original = std::fs::read_to_string(&codegen).unwrap();
    std::fs::write(&codegen, format!("{original}// edited by hand\n")).unwrap();
    let check = mcpo_gen(&["check", both[0], both[1]]);
    assert_exit_code(&check, 1);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        stdout
            .matches("changed: ../mcpo-runtime/src/codegen.rs")
            .count(),
        2,
        "both crates report the shared file: {stdout}"
    );
    generate_from_example("time-proxy", &time, &shared_runtime);
    let check = mcpo_gen(&["check", "--quiet", both[0], both[1]]);
    assert_exit_code(&check, 0);
}

/// Builds a generated crate outside the workspace and returns its binary.
/// The emitted Cargo.lock must be complete and exactly what cargo writes
/// (cargo compares it line by line and would rewrite a stale or misordered
/// one, and `mcpo-gen check` would then call the crate stale), so the
/// versions the workspace tested are the ones a standalone build uses.
fn build_outside(crate_dir: &Path, name: &str) -> std::path::PathBuf {
    let emitted_lock = std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap();
    let (binary, output) = build_crate(crate_dir, name, &[]);
    // Not RUSTFLAGS=-D warnings: that would rebuild every dependency.
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("warning"),
        "generated code compiles without warnings: {}",
        output_text(&output)
    );
    assert_eq!(
        std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap(),
        emitted_lock,
        "cargo rewrote the emitted Cargo.lock of {}",
        crate_dir.display()
    );
    binary
}

#[test]
fn servers_with_zero_and_a_thousand_paged_tools_generate_crates_that_serve() {
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let fixture = fixture.to_str().unwrap();
    // Beside the runtime folder the test proxies share: compiled once for
    // all of them (a runtime of their own would be another 50 s of CPU).
    let turn = e2e_proxies_turn();
    let shared_runtime = ["--runtime", "shared:../mcpo-runtime"];
    let empty = e2e_proxies().join("zero-tools-proxy");
    let output = mcpo_gen(
        &[
            &["--quiet", "--force", "--out", empty.to_str().unwrap()][..],
            &shared_runtime,
            &["--", fixture],
        ]
        .concat(),
    );
    assert_exit_code(&output, 0);

    let many = e2e_proxies().join("thousand-tools-proxy");
    generate(
        &many,
        &[
            "--force",
            shared_runtime[0],
            shared_runtime[1],
            "--",
            fixture,
            "--generate-tools",
            "1000",
            "--page-size",
            "100",
        ],
    );
    let lock = std::fs::read_to_string(many.join("mcp.lock.json")).unwrap();
    assert_eq!(
        lock.matches("\"sha256\"").count(),
        1000,
        "all pages were read"
    );
    drop(turn);

    let empty_binary = build_outside(&empty, "zero-tools-proxy");
    let proxy = start_proxy(&empty_binary, &[]);
    wait_ready(&proxy);
    let (status, document) = get(&proxy.url("/openapi.json")).unwrap();
    assert_eq!(status, 200);
    let document: serde_json::Value = serde_json::from_str(&document).unwrap();
    let tool_paths = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|path| !matches!(path.as_str(), "/healthz" | "/readyz"))
        .count();
    assert_eq!(tool_paths, 0, "{}", document["paths"]);
    drop(proxy);

    let many_binary = build_outside(&many, "thousand-tools-proxy");
    let proxy = start_proxy(&many_binary, &[]);
    wait_ready(&proxy);
    for tool in ["tool_0000", "tool_0999"] {
        let reply = proxy.post(&format!("/{tool}"), &serde_json::json!({"value": tool}));
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(reply.body["value"], tool, "{reply:?}");
    }
}

/// The lock records the launch spec verbatim: a secret-looking argument is
/// pointed out before anything is started, even with --quiet.
#[test]
fn secret_looking_launch_arguments_are_warned_about() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("warned-proxy");
    let stderr = mcpo_gen_refused(&[
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
        "--",
        "mcpo-gen-no-such-server",
        "--api-token=abc123",
    ]);
    assert!(
        stderr.contains("warning: argument --api-token looks like a secret"),
        "{stderr}"
    );
    assert!(!dir.exists(), "nothing is written when the snapshot fails");
}

/// On a terminal, long work shows a spinner and the run ends with the next
/// step; in a pipe only the outcome and the next step are printed, and with
/// --quiet nothing.
#[test]
fn progress_is_shown_on_a_terminal_only_and_ends_with_the_next_step() {
    let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
    let out = tempfile::tempdir().unwrap();
    let generate = |dir: &str, quiet: bool| -> Vec<String> {
        let mut args = vec![
            "--out".to_string(),
            out.path().join(dir).display().to_string(),
        ];
        if quiet {
            args.push("--quiet".into());
        }
        args.extend([
            "--".into(),
            fixture.display().to_string(),
            "--generate-tools".into(),
            "3".into(),
        ]);
        args
    };
    // `script` gives mcpo-gen a terminal; its output is what the terminal got.
    let command_line = std::iter::once(mcpo_gen_bin().display().to_string())
        .chain(generate("tty-proxy", false))
        .map(|arg| format!("'{arg}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let on_terminal = Command::new("script")
        .args(["-qec", &command_line, "/dev/null"])
        .env("PATH", path_with_tools())
        // As in CI: no input at all.
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_exit_code(&on_terminal, 0);
    let screen = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(screen.contains("Snapshotting"), "{screen}");
    assert!(screen.contains("Next: cd "), "{screen}");

    let args = generate("piped-proxy", false);
    let piped = mcpo_gen(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit_code(&piped, 0);
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains("Snapshotting"),
        "no spinner in a pipe: {stderr}"
    );
    assert!(stderr.contains("Snapshotted "), "{stderr}");
    assert!(stderr.contains("Next: cd "), "{stderr}");

    let args = generate("quiet-proxy", true);
    let quiet = mcpo_gen(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_exit_code(&quiet, 0);
    assert!(quiet.stderr.is_empty(), "{}", output_text(&quiet));
}
