//! The generated Dockerfile's runtime contract, without a container engine
//! (none runs where this is tested; see the README's "Real clients"): every
//! committed example's final stage runs as a non-root user and declares a
//! `HEALTHCHECK`, and that health check's own command, taken verbatim from
//! the Dockerfile, succeeds against a real running proxy, follows
//! `MCPO_ROOT_PATH`, and fails when nothing healthy answers. The same for the
//! image of `mcpo-gen serve` (docker/serve/Dockerfile): its ENTRYPOINT,
//! with the mounted lock's path swapped for a committed one, serves that lock,
//! and its health check passes against it.

use std::process::Command;

use mcpo_gen_e2e::*;
use serde_json::Value;

fn dockerfiles() -> Vec<(String, String)> {
    example_dirs("Dockerfile")
        .into_iter()
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

/// The final stage's `USER` is numeric and not root, comes before the
/// `ENTRYPOINT` with no other `USER` after it, and the stage declares a bash
/// health check against `/healthz`.
fn assert_non_root_with_health_check(name: &str, dockerfile: &str) {
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
        .unwrap_or_else(|| panic!("{name}: no ENTRYPOINT in the final stage"));
    assert!(
        user_at < entry_at,
        "{name}: USER comes before the ENTRYPOINT"
    );
    // What runs after it (installing the locked upstreams) runs as the user.
    assert_eq!(
        stage.iter().filter(|l| l.starts_with("USER ")).count(),
        1,
        "{name}: nothing switches back to root after USER"
    );
    let command = health_command(&stage);
    assert_eq!(command[..2], ["bash", "-c"], "{name}");
    assert!(command[2].contains("/healthz"), "{name}: {command:?}");
}

/// Runs a health check command (`bash -c SCRIPT`, port 8000 in it) against
/// `port`, with `MCPO_ROOT_PATH` set to `root_path` or unset; whether it passed.
fn health_check_passes(command: &[String], port: u16, root_path: Option<&str>) -> bool {
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
}

#[test]
fn every_example_image_runs_as_a_non_root_user_with_a_health_check() {
    let files = dockerfiles();
    assert!(files.len() >= 8);
    for (name, dockerfile) in &files {
        assert_non_root_with_health_check(name, dockerfile);
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
    let run = |port: u16, root_path: Option<&str>| health_check_passes(&command, port, root_path);

    let plain = start_proxy(&bin, &[]);
    let mounted = start_proxy(&bin, &["--root-path", "/tools"]);
    assert_health_check_follows_the_root_path(&run, plain, &mounted);
}

/// What the image's health check (`run(port, root path)`) says: yes for a
/// live proxy (`plain`), not for a root path it does not have; yes under
/// `mounted`'s root path `/tools` and, as mcpo's root_path (the prefix may
/// or may not be stripped in front), without it; no once the proxy is gone.
#[track_caller]
fn assert_health_check_follows_the_root_path(
    run: &dyn Fn(u16, Option<&str>) -> bool,
    plain: Running,
    mounted: &Running,
) {
    assert!(run(plain.port, None), "healthy proxy");
    assert!(
        !run(plain.port, Some("/tools")),
        "/tools/healthz is not this proxy's"
    );
    assert!(run(mounted.port, Some("/tools")), "under the root path");
    assert!(
        run(mounted.port, None),
        "/healthz answers without the root path too"
    );
    let port = plain.port;
    drop(plain);
    wait_until(std::time::Duration::from_secs(10), || !run(port, None));
}

fn serve_dockerfile() -> String {
    std::fs::read_to_string(workspace_root().join("docker/serve/Dockerfile")).unwrap()
}

/// The exec-form `ENTRYPOINT [...]` of a stage.
fn entrypoint(stage: &[String]) -> Vec<String> {
    let line = stage
        .iter()
        .find(|line| line.starts_with("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    serde_json::from_str::<Vec<String>>(line["ENTRYPOINT ".len()..].trim()).expect("exec form")
}

/// The value after `flag` in an argument list.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|arg| arg == flag)?;
    args.get(at + 1).map(String::as_str)
}

#[test]
fn the_serve_image_runs_a_mounted_lock_as_a_non_root_user_with_a_health_check() {
    let dockerfile = serve_dockerfile();
    assert_non_root_with_health_check("docker/serve", &dockerfile);
    let stage = final_stage(&dockerfile);
    let entry = entrypoint(&stage);
    assert_eq!(entry[0], "/usr/local/bin/mcpo-gen", "{entry:?}");
    assert_eq!(entry[1], "serve", "{entry:?}");
    assert!(
        stage
            .iter()
            .any(|line| line.starts_with("COPY --from=build ")
                && line.ends_with(" /usr/local/bin/mcpo-gen")),
        "the final stage gets the mcpo-gen binary from the build stage: {stage:?}"
    );
    assert_eq!(flag_value(&entry, "--lock"), Some("/srv/mcp.lock.json"));
    assert_eq!(flag_value(&entry, "--host"), Some("0.0.0.0"));
    // The port the health check knocks at is the one the proxy listens on.
    assert_eq!(flag_value(&entry, "--port"), Some("8000"));
    assert!(stage.iter().any(|line| line == "EXPOSE 8000"));
    let command = health_command(&stage);
    assert!(
        command[2].contains("/dev/tcp/127.0.0.1/8000 "),
        "{command:?}"
    );

    // The same health check as a generated crate's image.
    let (_, generated) = dockerfiles()
        .into_iter()
        .find(|(name, _)| name == "time-proxy")
        .unwrap();
    assert_eq!(command, health_command(&final_stage(&generated)));
}

#[test]
fn the_serve_image_health_check_passes_on_a_served_lock_and_fails_otherwise() {
    let stage = final_stage(&serve_dockerfile());
    let command = health_command(&stage);
    let entry = entrypoint(&stage);

    // The image's ENTRYPOINT as a script: the committed errors-proxy lock
    // where the image mounts one, the address left to the test harness
    // (loopback, a free port), the fixture server as the upstream.
    let bin = build(&["mcpo-gen", "mcp-fixture-server"]);
    let lock = workspace_root().join("generated-examples/errors-proxy/mcp.lock.json");
    let mut words = vec![bin.join("mcpo-gen").display().to_string()];
    let mut rest = entry[1..].iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--host" | "--port" => {
                rest.next();
            }
            "/srv/mcp.lock.json" => words.push(lock.display().to_string()),
            _ => words.push(arg.clone()),
        }
    }
    let quote = |word: &str| format!("'{}'", word.replace('\'', r"'\''"));
    let script = format!(
        "#!/bin/sh\nexec {} \"$@\"\n",
        words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
    );
    let (_dir, entry_script) = scratch_file("entrypoint", script);
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&entry_script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fixture = bin.join("mcp-fixture-server").display().to_string();
    let tools = workspace_root()
        .join("tests/fixture-server/tools/errors.json")
        .display()
        .to_string();
    let upstream = ["--", fixture.as_str(), "--tools", tools.as_str()];
    let run = |port: u16, root_path: Option<&str>| health_check_passes(&command, port, root_path);

    let plain = start_proxy(&entry_script, &upstream);
    // It serves the lock: a tool of errors-proxy answers through it.
    wait_ready(&plain);
    let echoed = plain.post(
        "/echo",
        &serde_json::json!({"message": "from the serve image"}),
    );
    assert_eq!(echoed.status, 200, "{echoed:?}");
    assert!(
        echoed.body.to_string().contains("from the serve image"),
        "{echoed:?}"
    );

    // MCPO_ROOT_PATH in the container's environment: the proxy mounts its
    // routes under it and the health check follows it.
    let mounted = Launch::proxy(&entry_script)
        .args(&upstream)
        .env(&[("MCPO_ROOT_PATH", "/tools")])
        .start();
    assert_health_check_follows_the_root_path(&run, plain, &mounted);
}

/// The packages an example's lock runs from an index through `uvx` or
/// `npx`, each with the final-stage instruction that installs it.
fn locked_installs(dir: &std::path::Path) -> Vec<String> {
    let lock: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mcp.lock.json")).unwrap()).unwrap();
    let upstreams: Vec<&Value> = match lock.get("servers").and_then(Value::as_object) {
        Some(servers) => servers.values().map(|server| &server["upstream"]).collect(),
        None => vec![&lock["upstream"]],
    };
    let mut installs: Vec<String> = upstreams
        .into_iter()
        .filter_map(|upstream| {
            let args: Vec<&str> = upstream["args"]
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let package = args.iter().find(|arg| !arg.starts_with('-'))?;
            match upstream["command"].as_str()? {
                "uvx" => Some(format!(r#"RUN ["uv", "tool", "install", "{package}"]"#)),
                "npx" => Some(format!(
                    r#"RUN ["npm", "exec", "--yes", "--package={package}", "--", "true"]"#
                )),
                _ => None,
            }
        })
        .collect();
    installs.sort();
    installs
}

/// Every example image installs the packages its lock runs (`uvx`, `npx`) at
/// build time, as its user (after `USER`, into the home folder where the
/// launcher looks), then keeps the launchers offline; its Deployment copies
/// that home folder into the writable volume mounted over it. An example
/// with nothing to install has neither.
#[test]
fn every_example_image_installs_its_locked_upstreams() {
    let mut installing = 0;
    for dir in example_dirs("Dockerfile") {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let stage = final_stage(&dockerfile);
        let expected = locked_installs(&dir);
        let mut found: Vec<String> = stage
            .iter()
            .filter(|line| {
                line.starts_with(r#"RUN ["uv", "tool""#) || line.starts_with(r#"RUN ["npm""#)
            })
            .cloned()
            .collect();
        found.sort();
        assert_eq!(found, expected, "{name}: the locked packages, installed");
        let deployment = std::fs::read_to_string(dir.join("deploy/deployment.yaml")).unwrap();
        assert_eq!(
            deployment.contains(r#"command: ["cp", "-R", "/home/mcpo/.", "/volume/"]"#),
            !expected.is_empty(),
            "{name}: the Deployment's init container copies the installed home folder"
        );
        if expected.is_empty() {
            continue;
        }
        installing += 1;
        let user = stage
            .iter()
            .position(|line| line.starts_with("USER "))
            .unwrap();
        let first_install = stage
            .iter()
            .position(|line| expected.contains(line))
            .unwrap();
        assert!(
            user < first_install,
            "{name}: installed as the image's user"
        );
        let offline = stage
            .iter()
            .rposition(|line| {
                line.starts_with("ENV ")
                    && (line.contains("UV_OFFLINE=1") || line.contains("npm_config_offline=true"))
            })
            .expect("the launchers are kept offline");
        assert!(first_install < offline, "{name}: offline once installed");
        for (launcher, setting) in [("uv", "UV_OFFLINE=1"), ("npm", "npm_config_offline=true")] {
            let installs_with = format!("[\"{launcher}\"");
            assert_eq!(
                stage[offline].contains(setting),
                expected
                    .iter()
                    .any(|install| install.contains(&installs_with)),
                "{name}: {}",
                stage[offline]
            );
        }
    }
    assert!(
        installing >= 3,
        "uvx, npx and multi-server examples install"
    );
}

/// `program` as root: directly when this process is, else through
/// non-interactive sudo (podman's storage and the namespaces need root).
fn as_root(program: &str) -> Command {
    let uid = Command::new("id").arg("-u").output().expect("id runs");
    if String::from_utf8_lossy(&uid.stdout).trim() == "0" {
        Command::new(program)
    } else {
        let mut command = Command::new("sudo");
        command.args(["--non-interactive", program]);
        command
    }
}

/// Runs tests/container/run-offline.sh on `image` and returns each request's
/// `(status, body)` and the proxy's log, asserting that nothing beyond
/// loopback was reachable.
fn run_offline(
    image: &str,
    home: &str,
    seconds: u32,
    requests: &[&str],
) -> (Vec<(u16, String)>, String) {
    let script = workspace_root().join("tests/container/run-offline.sh");
    let output = as_root("bash")
        .arg(&script)
        .args([image, home, &seconds.to_string()])
        .args(requests)
        .env(
            "OFFLINE_ENV",
            "EVERYTHING_HTTP_PORT=9 EVERYTHING_SSE_PORT=9",
        )
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "run-offline.sh: {stdout}\n{log}");
    assert!(!stdout.contains("network reachable"), "{stdout}");
    let answers = requests
        .iter()
        .zip(stdout.lines())
        .map(|(request, line)| {
            let path = request.split(' ').next().unwrap();
            let rest = line
                .strip_prefix(&format!("{path} "))
                .unwrap_or_else(|| panic!("an answer to {path}: {line}"));
            let (status, body) = rest.split_once(' ').unwrap_or((rest, ""));
            (status.parse().unwrap(), body.to_string())
        })
        .collect();
    (answers, log)
}

/// The multi-server example's image, its final stage built by podman on a
/// locally made Debian base (scripts/setup-test-deps.sh) with the proxy
/// built here in place of its release build stage, and run with no network
/// (tests/container/run-offline.sh): its `uvx` and `npx` upstreams start,
/// and tool calls through the proxy answer. Run again with the home folder
/// as it was before the image installed them, the same call does not.
#[test]
fn the_multi_server_image_starts_its_upstreams_with_no_network() {
    const IMAGE: &str = "localhost/mcpo-gen-e2e-offline:latest";
    let binary = build(&["multi-proxy"]).join("multi-proxy");
    let dockerfile =
        std::fs::read_to_string(workspace_root().join("generated-examples/multi-proxy/Dockerfile"))
            .unwrap();
    let final_from = dockerfile.rfind("\nFROM ").expect("a final stage") + 1;
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM debian:bookworm-slim AS build\nCOPY multi-proxy /src/target/release/multi-proxy\n\n{}",
            &dockerfile[final_from..]
        ),
    )
    .unwrap();
    let copy = context.path().join("multi-proxy");
    std::fs::hard_link(&binary, &copy)
        .or_else(|_| std::fs::copy(&binary, &copy).map(drop))
        .unwrap();
    // Dependencies resolved as of the tests' date (scripts/test-env.sh), as
    // the image's own build args allow.
    let exclude_newer: Vec<String> = std::env::var("UV_EXCLUDE_NEWER")
        .map(|date| vec!["--build-arg".into(), format!("UV_EXCLUDE_NEWER={date}")])
        .unwrap_or_default();
    let built = as_root("podman")
        .args([
            "build",
            "--isolation",
            "chroot",
            "--format",
            "docker",
            "--quiet",
        ])
        // The CA of a TLS-intercepting proxy, put in the base image by the
        // setup, is in the system store; uv reads it only when told to.
        .args(["--build-arg", "UV_SYSTEM_CERTS=1"])
        .args(&exclude_newer)
        .args(["-t", IMAGE])
        .arg(context.path())
        .output()
        .expect("podman runs (scripts/setup-test-deps.sh installs it)");
    assert!(
        built.status.success(),
        "podman build: {}",
        output_text(&built)
    );

    let time = r#"/time/get_current_time {"timezone": "Europe/Paris"}"#;
    let memory = "/memory/read_graph {}";
    let (answers, log) = run_offline(IMAGE, "seeded", 90, &[time, memory]);
    assert_eq!(answers[0].0, 200, "{answers:?}\n{log}");
    assert!(answers[0].1.contains("Europe/Paris"), "{answers:?}");
    assert_eq!(answers[1].0, 200, "{answers:?}\n{log}");
    assert!(answers[1].1.contains("entities"), "{answers:?}");

    let (answers, log) = run_offline(IMAGE, "empty", 10, &[time]);
    assert_ne!(
        answers[0].0, 200,
        "nothing installed, nothing to start: {answers:?}\n{log}"
    );
    let _ = as_root("podman").args(["rmi", "--force", IMAGE]).output();
}
