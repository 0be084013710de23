//! The official MCP conformance suite's SERVER scenarios
//! (`@modelcontextprotocol/conformance`, installed by
//! scripts/setup-test-deps.sh) through the MCP gateway: `mcpo-gen serve`
//! snapshots tests/upstreams/conformance_upstream.py (over stdio, the
//! official Python SDK implementing every scenario) and serves its proxy,
//! and the suite talks to the proxy's `/mcp`.
//!
//! The same suite runs directly against the upstream too (its own baseline,
//! tests/conformance/expected-failures-server.yml). Through the gateway
//! exactly the scenarios listed in tests/conformance/expected-failures-gateway.yml
//! fail (each with its reason there), and every scenario that passes directly
//! and is not listed passes through the gateway: the proxy loses nothing it
//! claims to serve.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mcpo_gen_e2e::*;
use serde_json::Value;

fn script() -> PathBuf {
    workspace_root().join("tests/conformance/run-server-scenarios.sh")
}

fn python() -> PathBuf {
    test_tool("mcp-venv/bin/python")
}

fn require_suite() {
    let suite = target_dir().join(
        "test-tools/conformance/node_modules/@modelcontextprotocol/conformance/dist/index.js",
    );
    assert!(
        suite.exists(),
        "{} is missing: run scripts/setup-test-deps.sh",
        suite.display()
    );
}

/// Runs run-server-scenarios.sh on `target` (a URL or `--upstream`) with
/// `baseline`, its per-scenario results in `results`; `scenario`: only that
/// one.
fn run_suite(target: &str, baseline: &Path, results: &Path, scenario: Option<&str>) -> Output {
    let mut command = Command::new("bash");
    command
        .arg(script())
        .arg(target)
        .arg(baseline)
        .env("OUTPUT_DIR", results)
        .env("NO_COLOR", "1");
    if let Some(scenario) = scenario {
        command.env("SCENARIO", scenario);
    }
    command.output().expect("run-server-scenarios.sh runs")
}

/// `mcpo-gen serve` of the conformance upstream (stdio), ready.
fn start_gateway(lock_folder: &Path) -> Running {
    let upstream = workspace_root().join("tests/upstreams/conformance_upstream.py");
    let lock_out = lock_folder.join("mcp.lock.json");
    Launch::serve()
        .args(&[
            "--lock-out".to_string(),
            lock_out.display().to_string(),
            "--".to_string(),
            python().display().to_string(),
            upstream.display().to_string(),
            "--stdio".to_string(),
        ])
        .start_ready()
}

/// What each scenario's checks said: scenario -> the checks that were
/// neither SUCCESS nor INFO (empty: passed; a WARNING fails under a
/// baseline, as the suite counts it).
fn outcomes(results: &Path) -> BTreeMap<String, Vec<String>> {
    let mut outcomes = BTreeMap::new();
    for entry in std::fs::read_dir(results).expect("the suite wrote its results") {
        let path = entry.expect("a result folder").path();
        let Some(folder) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        // server-<scenario>-<YYYY-MM-DDTHH-MM-SS-mmmZ>
        let Some(scenario) = folder
            .strip_prefix("server-")
            .and_then(|rest| rest.get(..rest.len().checked_sub(25)?))
        else {
            continue;
        };
        let text = std::fs::read_to_string(path.join("checks.json"))
            .unwrap_or_else(|error| panic!("{}/checks.json: {error}", path.display()));
        let checks: Value = serde_json::from_str(&text).expect("checks.json is JSON");
        let checks = checks
            .as_array()
            .or_else(|| checks["checks"].as_array())
            .cloned()
            .unwrap_or_default();
        let failed = checks
            .iter()
            .filter(|check| !matches!(check["status"].as_str(), Some("SUCCESS" | "INFO")))
            .map(|check| {
                format!(
                    "{} {}: {}",
                    check["status"].as_str().unwrap_or("?"),
                    check["id"].as_str().unwrap_or("?"),
                    check["errorMessage"]
                        .as_str()
                        .or_else(|| check["description"].as_str())
                        .unwrap_or("")
                )
            })
            .collect();
        outcomes.insert(scenario.to_string(), failed);
    }
    outcomes
}

/// The scenario names a baseline lists (`  - name` under `server:`).
fn listed(baseline: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(baseline)
        .expect("the baseline is readable")
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .map(|name| name.trim().to_string())
        .collect()
}

#[test]
fn server_scenarios_pass_through_the_gateway_as_they_pass_directly() {
    require_suite();
    let direct_baseline = workspace_root().join("tests/conformance/expected-failures-server.yml");
    let gateway_baseline = workspace_root().join("tests/conformance/expected-failures-gateway.yml");
    let direct_results = tempfile::tempdir().expect("a temp dir");
    let gateway_results = tempfile::tempdir().expect("a temp dir");

    // Directly, meanwhile: the upstream's own baseline holds.
    let direct = {
        let baseline = direct_baseline.clone();
        let results = direct_results.path().to_path_buf();
        std::thread::spawn(move || run_suite("--upstream", &baseline, &results, None))
    };

    let lock = tempfile::tempdir().expect("a temp dir");
    let gateway = start_gateway(lock.path());
    let through = run_suite(
        &gateway.url("/mcp"),
        &gateway_baseline,
        gateway_results.path(),
        None,
    );
    let direct = direct.join().expect("the direct run finished");

    let direct_outcomes = outcomes(direct_results.path());
    let gateway_outcomes = outcomes(gateway_results.path());
    assert!(
        direct.status.success(),
        "the upstream fails other scenarios than its baseline lists:\n{}\n{direct_outcomes:#?}",
        output_text(&direct)
    );
    assert!(
        direct_outcomes.len() >= 30,
        "the direct run covered every server scenario: {direct_outcomes:#?}"
    );
    assert_eq!(
        direct_outcomes.keys().collect::<Vec<_>>(),
        gateway_outcomes.keys().collect::<Vec<_>>(),
        "both runs ran the same scenarios"
    );

    let expected_failures = listed(&gateway_baseline);
    let lost: BTreeMap<&String, &Vec<String>> = gateway_outcomes
        .iter()
        .filter(|(scenario, failed)| {
            !failed.is_empty()
                && direct_outcomes
                    .get(*scenario)
                    .is_some_and(|direct| direct.is_empty())
                && !expected_failures.contains(*scenario)
        })
        .collect();
    assert!(
        lost.is_empty(),
        "scenarios that pass directly fail through the gateway: {lost:#?}"
    );
    let stale: Vec<&String> = expected_failures
        .iter()
        .filter(|scenario| {
            gateway_outcomes
                .get(*scenario)
                .is_none_or(|failed| failed.is_empty())
        })
        .collect();
    assert!(
        stale.is_empty(),
        "listed in expected-failures-gateway.yml but passing (or not run): {stale:?}"
    );
    assert!(
        through.status.success(),
        "the gateway's results differ from its baseline:\n{}\n{gateway_outcomes:#?}",
        output_text(&through)
    );
}

/// Progress reaches the client before the result, every time: the
/// scenario tools-call-with-progress, 100 times in a row through one gateway
/// (before the relay waited for them, it failed about one run in 25 alone,
/// one in 10 within the whole suite). About two minutes, so run on demand.
#[test]
#[ignore = "a stress run (about 2 minutes): cargo test --test gateway_conformance -- --ignored"]
fn progress_always_arrives_before_the_result() {
    require_suite();
    let lock = tempfile::tempdir().expect("a temp dir");
    let gateway = start_gateway(lock.path());
    let baseline = tempfile::NamedTempFile::new().expect("a temp file");
    std::fs::write(baseline.path(), "server: []\n").expect("an empty baseline");
    let mut failures = Vec::new();
    for run in 0..100 {
        let results = tempfile::tempdir().expect("a temp dir");
        let output = run_suite(
            &gateway.url("/mcp"),
            baseline.path(),
            results.path(),
            Some("tools-call-with-progress"),
        );
        if !output.status.success() {
            failures.push((run, outcomes(results.path())));
        }
    }
    assert!(failures.is_empty(), "failed runs of 100: {failures:#?}");
}
