//! Every committed example's `deploy/` manifests (a Deployment and a
//! Service) pass a real Kubernetes schema validator (`kubernetes-validate`
//! from PyPI, pinned in `scripts/setup-test-deps.sh`, strict: unknown fields
//! are errors) and say what a production deployment needs: probes on
//! `/healthz` and `/readyz`, a non-root user, a read-only root file system,
//! resource requests, and the API key and upstream secrets from a Secret.

use std::path::{Path, PathBuf};
use std::process::Command;

use mcpo_gen_e2e::*;
use serde_json::Value;

fn validate(files: &[PathBuf]) -> std::process::Output {
    Command::new(test_tool("k8s-venv/bin/kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.37.0"])
        .args(files)
        .output()
        .expect("kubernetes-validate runs")
}

fn examples() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("generated-examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("mcp.lock.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn manifests(dir: &Path) -> Vec<PathBuf> {
    ["deployment.yaml", "service.yaml"]
        .iter()
        .map(|name| dir.join("deploy").join(name))
        .collect()
}

#[test]
fn every_example_has_manifests_that_pass_a_strict_kubernetes_validator() {
    for dir in examples() {
        let files = manifests(&dir);
        let output = validate(&files);
        assert!(
            output.status.success(),
            "{}: {}",
            dir.display(),
            output_text(&output)
        );
    }
}

/// The validator really checks: a wrong type and an unknown field fail it.
#[test]
fn the_validator_refuses_a_broken_manifest() {
    let scratch = tempfile::tempdir().unwrap();
    let time = workspace_root().join("generated-examples/time-proxy/deploy/deployment.yaml");
    let original = std::fs::read_to_string(time).unwrap();
    for (label, broken) in [
        (
            "wrong type",
            original.replace("replicas: 1", "replicas: one"),
        ),
        (
            "unknown field",
            original.replace("replicas: 1", "replicas: 1\n  replicaz: 1"),
        ),
    ] {
        assert_ne!(broken, original, "{label}: the edit applies");
        let file = scratch.path().join("deployment.yaml");
        std::fs::write(&file, broken).unwrap();
        let output = validate(&[file]);
        assert!(
            !output.status.success(),
            "{label}: {}",
            output_text(&output)
        );
    }
}

#[test]
fn the_deployment_probes_runs_unprivileged_and_takes_secrets_from_a_secret() {
    for dir in examples() {
        let crate_name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let deployment = std::fs::read_to_string(dir.join("deploy/deployment.yaml")).unwrap();
        for expected in [
            "path: /healthz",
            "path: /readyz",
            "runAsNonRoot: true",
            "runAsUser: 10001",
            "readOnlyRootFilesystem: true",
            "allowPrivilegeEscalation: false",
            "requests:",
            "name: MCPO_API_KEY",
            &format!("name: {crate_name}-secrets"),
        ] {
            assert!(
                deployment.contains(expected),
                "{crate_name}: no {expected:?} in deploy/deployment.yaml"
            );
        }
        // The Dockerfile's user is the one the Deployment runs as.
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        assert!(
            dockerfile.contains("10001"),
            "{crate_name}: Dockerfile user"
        );
        // Every secret the lock names reaches the container from the Secret.
        let lock: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("mcp.lock.json")).unwrap())
                .unwrap();
        let upstream = &lock["upstream"];
        let names = upstream["env"]
            .as_array()
            .or(upstream["headers"].as_array())
            .cloned()
            .unwrap_or_default();
        for name in names.iter().filter_map(Value::as_str) {
            assert!(
                deployment.contains(&format!("key: {name}")),
                "{crate_name}: secret {name} not taken from the Secret"
            );
        }
    }
}

/// Secrets a lock names (stdio env names, HTTP header names) are taken from
/// the Secret, under the variable the proxy reads each from.
#[test]
fn locked_secret_names_come_from_the_secret() {
    let scratch = tempfile::tempdir().unwrap();
    let time_lock = workspace_root().join("generated-examples/time-proxy/mcp.lock.json");
    let mut lock: Value =
        serde_json::from_str(&std::fs::read_to_string(time_lock).unwrap()).unwrap();
    for (label, upstream, expected) in [
        (
            "stdio",
            serde_json::json!({"type": "stdio", "command": "uvx", "args": ["x"], "env": ["GITHUB_TOKEN"]}),
            "name: GITHUB_TOKEN",
        ),
        (
            "http",
            serde_json::json!({"type": "streamable-http", "url": "http://upstream:3001/mcp", "headers": ["X-Api-Key"]}),
            "name: MCPO_HEADER_X_API_KEY",
        ),
    ] {
        lock["upstream"] = upstream;
        let lock_file = scratch.path().join(format!("{label}.lock.json"));
        std::fs::write(&lock_file, lock.to_string()).unwrap();
        let out = scratch.path().join(label);
        generate_from_lock(&lock_file, &out);
        let deployment = std::fs::read_to_string(out.join("deploy/deployment.yaml")).unwrap();
        assert!(deployment.contains(expected), "{label}: {deployment}");
        let secret_key = if label == "stdio" {
            "GITHUB_TOKEN"
        } else {
            "X-Api-Key"
        };
        assert!(
            deployment.contains(&format!("key: {secret_key}")),
            "{label}: {deployment}"
        );
        let output = validate(&manifests(&out));
        assert!(output.status.success(), "{label}: {}", output_text(&output));
    }
}
