//! Schema-diff review end to end: a real MCP server (our fixture) whose tools
//! change between two runs, through `check --live`, `update` and `diff`
//! (crate folders, lock files, git revisions, `live`), with exit codes.

use std::path::Path;
use std::process::Command;

use mcpo_gen_e2e::*;
use serde_json::Value;

fn fixture_tools(version: &str) -> String {
    std::fs::read_to_string(
        workspace_root().join(format!("tests/fixture-server/tools/changed-{version}.json")),
    )
    .unwrap()
}

/// A proxy crate generated from the fixture serving `changed-v1.json` from a
/// file the test can later swap for v2: the "server that changes".
struct ChangingServer {
    _dir: tempfile::TempDir,
    tools_file: std::path::PathBuf,
    crate_dir: std::path::PathBuf,
}

impl ChangingServer {
    fn new() -> Self {
        let fixture = build(&["mcp-fixture-server"]).join("mcp-fixture-server");
        let dir = tempfile::tempdir().unwrap();
        let tools_file = dir.path().join("tools.json");
        std::fs::write(&tools_file, fixture_tools("v1")).unwrap();
        let crate_dir = dir.path().join("repo/changing-proxy");
        let output = mcpo_gen(&[
            "--quiet",
            "--out",
            crate_dir.to_str().unwrap(),
            "--",
            fixture.to_str().unwrap(),
            "--tools",
            tools_file.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", output_text(&output));
        ChangingServer {
            _dir: dir,
            tools_file,
            crate_dir,
        }
    }

    fn change_to_v2(&self) {
        std::fs::write(&self.tools_file, fixture_tools("v2")).unwrap();
    }

    fn dir(&self) -> &str {
        self.crate_dir.to_str().unwrap()
    }
}

fn ids(report: &Value) -> Vec<(String, String, String)> {
    report["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("a json report: {report}"))
        .iter()
        .map(|change| {
            (
                change["tool"].as_str().unwrap_or("").to_string(),
                change["id"].as_str().unwrap().to_string(),
                change["level"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(found: &[(String, String, String)], tool: &str, id: &str, level: &str) -> bool {
    found
        .iter()
        .any(|(t, i, l)| t == tool && i == id && l == level)
}

#[test]
fn check_live_diff_live_and_update_follow_a_changing_server() {
    let server = ChangingServer::new();

    // Unchanged server: check --live is clean.
    let output = mcpo_gen(&["check", "--live", "--quiet", server.dir()]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));

    server.change_to_v2();

    // check --live sees the drift and fails, the files themselves are fine.
    let output = mcpo_gen(&["check", "--live", "--quiet", server.dir()]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    assert!(
        output_text(&output).contains("tool-removed"),
        "{}",
        output_text(&output)
    );

    // diff against live, as JSON: every change classified.
    let output = mcpo_gen(&["diff", "--quiet", "--format", "json", server.dir(), "live"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "breaking changes fail by default: {}",
        output_text(&output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let found = ids(&report);
    for (tool, id, level) in [
        ("removed_tool", "tool-removed", "ERR"),
        ("added_tool", "tool-added", "INFO"),
        ("gains_required_property", "required-property-added", "ERR"),
        ("gains_optional_property", "optional-property-added", "INFO"),
        ("loses_enum_value", "enum-value-removed", "ERR"),
        ("gains_enum_value", "enum-value-added", "INFO"),
        ("tightens_max_length", "constraint-tightened", "ERR"),
        ("relaxes_minimum", "constraint-relaxed", "INFO"),
        ("changes_description", "tool-description-changed", "WARN"),
        ("becomes_destructive", "tool-became-destructive", "ERR"),
        ("changes_property_type", "property-type-changed", "ERR"),
        ("loses_property", "property-removed", "ERR"),
        (
            "changes_property_description",
            "property-description-changed",
            "WARN",
        ),
    ] {
        assert!(
            has(&found, tool, id, level),
            "missing {tool} {id} {level} in {found:?}"
        );
    }
    assert!(
        !found.iter().any(|(tool, ..)| tool == "unchanged"),
        "the unchanged tool has no finding: {found:?}"
    );
    assert_eq!(
        report["summary"]["err"].as_u64().unwrap() as usize,
        found.iter().filter(|(_, _, level)| level == "ERR").count()
    );

    // update regenerates in place and prints what changed.
    let output = mcpo_gen(&["update", "--quiet", server.dir()]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));
    assert!(
        output_text(&output).contains("tool-removed"),
        "{}",
        output_text(&output)
    );
    let lock = std::fs::read_to_string(server.crate_dir.join("mcp.lock.json")).unwrap();
    assert!(lock.contains("added_tool") && !lock.contains("removed_tool"));
    assert_eq!(mcpo_gen(&["check", server.dir()]).status.code(), Some(0));
    let output = mcpo_gen(&["check", "--live", "--quiet", server.dir()]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));

    // update --fail-on WARN exits 1 when such changes happened... and 0 when none.
    let output = mcpo_gen(&["update", "--quiet", "--fail-on", "WARN", server.dir()]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "nothing changed now: {}",
        output_text(&output)
    );
}

fn git(repo: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(repo)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        output_text(&output)
    );
}

#[test]
fn diff_reads_git_revisions_and_renders_every_format_with_fail_on_levels() {
    let server = ChangingServer::new();
    let repo = server.crate_dir.parent().unwrap().to_path_buf();
    git(&repo, &["init", "-q"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "v1"]);
    server.change_to_v2();
    let output = mcpo_gen(&["update", "--quiet", server.dir()]);
    assert!(output.status.success(), "{}", output_text(&output));
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "v2"]);

    let run = |args: &[&str]| {
        Command::new(mcpo_gen_bin())
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap()
    };

    // Markdown for a PR comment, from two git revisions of the crate folder.
    let output = run(&[
        "diff",
        "--format",
        "markdown",
        "git:HEAD~1:changing-proxy",
        "git:HEAD:changing-proxy",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let markdown = String::from_utf8_lossy(&output.stdout);
    assert!(
        markdown.contains("tool-removed") && markdown.contains('|'),
        "{markdown}"
    );

    // GitHub annotations.
    let output = run(&[
        "diff",
        "--format",
        "github",
        "git:HEAD~1:changing-proxy/mcp.lock.json",
        "changing-proxy",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));
    let annotations = String::from_utf8_lossy(&output.stdout);
    assert!(
        annotations.lines().any(|line| line.starts_with("::error ")),
        "{annotations}"
    );
    assert!(
        annotations
            .lines()
            .any(|line| line.starts_with("::warning ")),
        "{annotations}"
    );
    assert!(
        annotations
            .lines()
            .any(|line| line.starts_with("::notice ")),
        "{annotations}"
    );

    // Text, and --fail-on levels decide the exit code.
    let output = run(&[
        "diff",
        "--format",
        "text",
        "git:HEAD~1:changing-proxy",
        "changing-proxy",
    ]);
    let plain = String::from_utf8_lossy(&output.stdout);
    assert!(
        plain.contains("ERR") && plain.contains("tool-removed"),
        "{plain}"
    );
    assert!(!plain.contains('\u{1b}'), "no color when not a terminal");

    // Same lock on both sides: nothing, exit 0 even at --fail-on INFO.
    let output = run(&[
        "diff",
        "--fail-on",
        "INFO",
        "changing-proxy",
        "git:HEAD:changing-proxy",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", output_text(&output));

    // Only additions/relaxations would pass --fail-on ERR: reversed diff v2->v1
    // still has breaking changes (added_tool removed), so it fails too.
    let output = run(&[
        "diff",
        "--fail-on",
        "ERR",
        "changing-proxy",
        "git:HEAD~1:changing-proxy",
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", output_text(&output));

    // Errors are exit 2 with a message: unknown revision, missing path.
    let output = run(&["diff", "git:nope:changing-proxy", "changing-proxy"]);
    assert_eq!(output.status.code(), Some(2), "{}", output_text(&output));
    let output = run(&["diff", "no-such-dir", "changing-proxy"]);
    assert_eq!(output.status.code(), Some(2), "{}", output_text(&output));
}
