//! The generated Dockerfile's runtime contract, without a container engine
//! (none runs where this is tested; see the README's "Real clients"): every
//! committed example's final stage runs as a non-root user and declares a
//! `HEALTHCHECK`, and that health check's own command, taken verbatim from
//! the Dockerfile, succeeds against a real running proxy, follows
//! `MCPO_ROOT_PATH`, and fails when nothing healthy answers.

use std::path::PathBuf;
use std::process::Command;

use mcpo_gen_e2e::*;
use serde_json::Value;

fn dockerfiles() -> Vec<(String, String)> {
    let root = workspace_root().join("generated-examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dir| dir.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            (
                dir.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(dir.join("Dockerfile")).unwrap(),
            )
        })
        .collect()
}

/// The final stage's instructions (after its `FROM`), continuation lines joined.
fn final_stage(dockerfile: &str) -> Vec<String> {
    let joined = dockerfile.replace("\\\n", " ");
    let lines: Vec<&str> = joined
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect();
    let last_from = lines
        .iter()
        .rposition(|line| line.starts_with("FROM "))
        .unwrap();
    lines[last_from + 1..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The exec-form command of the stage's `HEALTHCHECK ... CMD [...]`.
fn health_command(stage: &[String]) -> Vec<String> {
    let line = stage
        .iter()
        .find(|line| line.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK");
    let json = &line[line.find("CMD [").expect("exec form") + 4..];
    serde_json::from_str::<Vec<Value>>(json)
        .expect("a JSON array")
        .into_iter()
        .map(|part| part.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_example_image_runs_as_a_non_root_user_with_a_health_check() {
    let files = dockerfiles();
    assert!(files.len() >= 8);
    for (name, dockerfile) in &files {
        let stage = final_stage(dockerfile);
        let user = stage
            .iter()
            .rev()
            .find_map(|line| line.strip_prefix("USER "))
            .unwrap_or_else(|| panic!("{name}: no USER in the final stage"));
        let uid = user.split(':').next().unwrap();
        assert!(
            uid.parse::<u32>().is_ok_and(|uid| uid != 0),
            "{name}: USER {user} is numeric and not root (Kubernetes' runAsNonRoot needs a number)"
        );
        let user_at = stage.iter().position(|l| l.starts_with("USER ")).unwrap();
        let entry_at = stage
            .iter()
            .position(|l| l.starts_with("ENTRYPOINT "))
            .unwrap();
        assert!(
            user_at < entry_at,
            "{name}: USER comes before the ENTRYPOINT"
        );
        assert!(
            stage[user_at..]
                .iter()
                .all(|line| !line.starts_with("RUN ")),
            "{name}: nothing runs as root after USER"
        );
        let command = health_command(&stage);
        assert_eq!(command[..2], ["bash", "-c"], "{name}");
        assert!(command[2].contains("/healthz"), "{name}: {command:?}");
    }
}

#[test]
fn the_health_check_command_passes_on_a_live_proxy_and_fails_otherwise() {
    let (_, dockerfile) = dockerfiles()
        .into_iter()
        .find(|(name, _)| name == "time-proxy")
        .unwrap();
    let command = health_command(&final_stage(&dockerfile));
    let bin = build(&["time-proxy"]).join("time-proxy");
    let run = |port: u16, root_path: Option<&str>| -> bool {
        let script = command[2].replace("/8000 ", &format!("/{port} "));
        assert_ne!(script, command[2], "the port is in the command");
        let mut check = Command::new(&command[0]);
        check
            .arg(&command[1])
            .arg(script)
            .env_remove("MCPO_ROOT_PATH");
        if let Some(root) = root_path {
            check.env("MCPO_ROOT_PATH", root);
        }
        check.status().expect("bash runs").success()
    };

    let plain = start_proxy(&bin, &[]);
    assert!(run(plain.port, None), "healthy proxy");
    assert!(
        !run(plain.port, Some("/tools")),
        "/tools/healthz is not this proxy's"
    );

    let mounted = start_proxy(&bin, &["--root-path", "/tools"]);
    assert!(run(mounted.port, Some("/tools")), "under MCPO_ROOT_PATH");
    // As mcpo's root_path: the prefix may or may not be stripped in front.
    assert!(
        run(mounted.port, None),
        "/healthz answers without the root path too"
    );

    let port = plain.port;
    drop(plain);
    wait_until(std::time::Duration::from_secs(10), || !run(port, None));
}
