//! The auth scenarios of the official MCP conformance suite (`client --suite
//! auth`, 14 scenarios of @modelcontextprotocol/conformance 0.1.16: metadata
//! discovery variants, Client ID Metadata Documents, scope selection and
//! step-up, token endpoint authentication methods, pre-registration) against
//! mcpo-gen's OAuth client and its proxies: for each, the suite starts an
//! authorization server and a protected MCP server and runs
//! tests/conformance/client.py, which snapshots the server through the OAuth
//! flow (headless: it follows the `Authorize:` URL over HTTP), serves the
//! lock with `mcpo-gen serve` (the generated proxy's runtime, unbuilt), calls
//! every tool and stops it. Scenarios run one at a time (they share one
//! crate folder); every one is run and reported before the test fails. Known failures are listed, with the reason, in
//! tests/conformance/expected-failures-auth.yml; a listed scenario that
//! passes fails too.

use mcpo_gen_e2e::*;

/// `conformance list`'s auth client scenarios (those `--suite auth` runs).
const AUTH_SCENARIOS: [&str; 14] = [
    "auth/metadata-default",
    "auth/metadata-var1",
    "auth/metadata-var2",
    "auth/metadata-var3",
    "auth/basic-cimd",
    "auth/scope-from-www-authenticate",
    "auth/scope-from-scopes-supported",
    "auth/scope-omitted-when-undefined",
    "auth/scope-step-up",
    "auth/scope-retry-limit",
    "auth/token-endpoint-auth-basic",
    "auth/token-endpoint-auth-post",
    "auth/token-endpoint-auth-none",
    "auth/pre-registration",
];

/// The suite still has exactly these auth scenarios (a new version of it
/// adds or renames some: then update the list and the baseline).
#[test]
fn the_auth_suite_is_the_one_listed_here() {
    let output = conformance_suite()
        .arg("list")
        .output()
        .expect("the suite runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let listed: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .map(|line| line.split_whitespace().next().unwrap_or(""))
        .collect();
    for scenario in AUTH_SCENARIOS {
        assert!(
            listed.contains(&scenario),
            "{scenario} is not listed:\n{text}"
        );
    }
}

/// `line` without its ANSI colour sequences (the suite colours check lines
/// even under NO_COLOR).
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Each auth scenario, with the verdict the baseline expects.
#[test]
fn auth_scenarios() {
    let mut report = Vec::new();
    let mut regressions = Vec::new();
    for scenario in AUTH_SCENARIOS {
        let results = tempfile::tempdir().unwrap();
        let output = conformance_client(scenario, "expected-failures-auth.yml", results.path())
            .output()
            .expect("the conformance suite runs");
        let text = output_text(&output);
        let verdict = if !output.status.success() {
            if text.contains("Stale baseline") {
                "PASSES, but the baseline expects a failure"
            } else {
                "FAILS"
            }
        } else if text.contains("Expected failures (in baseline)") {
            "fails (expected)"
        } else {
            "passes"
        };
        let checks: Vec<String> = text
            .lines()
            .filter(|line| line.contains("FAILURE") || line.contains("WARNING"))
            .map(|line| plain(line.trim()))
            .collect();
        eprintln!("{scenario}: {verdict}");
        report.push(format!("{scenario}: {verdict} {}", checks.join("; ")));
        if !output.status.success() {
            let client_log = conformance_client_log(results.path());
            regressions.push(format!(
                "=== {scenario}: {verdict}\n{text}\nclient stderr:\n{client_log}"
            ));
        }
    }
    assert!(
        regressions.is_empty(),
        "{}\n\nper scenario:\n{}",
        regressions.join("\n"),
        report.join("\n")
    );
    eprintln!("per scenario:\n{}", report.join("\n"));
}
