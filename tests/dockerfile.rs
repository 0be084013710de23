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
/// `ENTRYPOINT` with no `RUN` after it, and the stage declares a bash health
/// check against `/healthz`.
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
