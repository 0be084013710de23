#!/usr/bin/env python3
"""The "client" the official MCP conformance suite runs: mcpo-gen and the
proxy it generates, as one command.

    client.py SERVER_URL

The suite starts a test MCP server for a scenario and runs this with its URL
(MCP_CONFORMANCE_SCENARIO names the scenario). It then:

1. snapshots the server with mcpo-gen (streamable HTTP) into a proxy crate,
   target/e2e-proxies/conformance-proxy, whose runtime is the folder beside it
   shared with the other test proxies (compiled once for all of them);
2. builds the proxy (debug, the repository's target dir); an auth scenario
   runs the lock with `mcpo-gen serve` instead (the same runtime, no build);
3. serves it on a free loopback port and waits until its upstream is ready;
4. calls every tool of the lock over HTTP, with arguments made from each
   tool's input schema (defaults, enums, else a value of the type);
5. stops the proxy (SIGTERM).

Exit status 0 when every step worked and every call answered 2xx. Needs
MCPO_GEN (the mcpo-gen binary) and CARGO, else target/debug/mcpo-gen and
`cargo`; CARGO_TARGET_DIR, else the repository's target/.

Auth scenarios (`auth/...`, whose server wants OAuth 2.1) snapshot through a
Claude Desktop config instead, its server `conformance` with an `oauth`
block (a pre-registered client_id/client_secret when the scenario's
MCP_CONFORMANCE_CONTEXT gives one, the secret as `${VAR}`; a Client ID
Metadata Document URL); mcpo-gen runs headless (MCPO_OAUTH_NO_BROWSER=1,
tokens in a folder of this run's own), and its `Authorize: URL` line is
followed over HTTP like a browser would, to its loopback callback (the
suite's authorization server approves at once). The proxy then uses the
stored tokens. A call that answers 503 naming `mcpo-gen login` (the server
wants more scope for it: step-up, the proxy having recorded which) gets that
login run the same way, then one more try. Snapshot and build hold a lock file, so the suite may run
scenarios in parallel (`--suite auth`).
"""

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def say(text):
    print(f"conformance client: {text}", file=sys.stderr, flush=True)


def fail(text):
    say(text)
    sys.exit(1)


def target_dir():
    configured = os.environ.get("CARGO_TARGET_DIR")
    if not configured:
        return os.path.join(ROOT, "target")
    return configured if os.path.isabs(configured) else os.path.join(ROOT, configured)


def sample(schema, depth=0):
    """A value `schema` accepts, for the common cases: its default, const or
    first enum value, else a plain value of its type (required properties
    only, for objects)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            name: sample(properties.get(name, {}), depth + 1)
            for name in schema.get("required") or []
        }
    if kind == "array":
        count = schema.get("minItems", 0)
        return [sample(schema.get("items", {}), depth + 1) for _ in range(count)]
    if kind == "string":
        return "conformance"
    if kind in ("integer", "number"):
        return max(1, schema.get("minimum", 1))
    if kind == "boolean":
        return True
    return None


def http(method, url, body=None, timeout=60):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def main():
    if len(sys.argv) != 2:
        fail("usage: client.py SERVER_URL")
    url = sys.argv[1]
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "(none)")
    say(f"scenario {scenario}, server {url}")
    target = target_dir()
    name = "conformance-proxy"
    crate = os.path.join(target, "e2e-proxies", name)
    mcpo_gen = os.environ.get("MCPO_GEN") or os.path.join(target, "debug", "mcpo-gen")
    cargo = os.environ.get("CARGO") or "cargo"
    if not os.access(mcpo_gen, os.X_OK):
        fail(f"no mcpo-gen at {mcpo_gen}: run `cargo build -p mcpo-gen` or set MCPO_GEN")
    os.makedirs(os.path.dirname(crate), exist_ok=True)
    work = tempfile.mkdtemp(prefix="conformance-client-")
    try:
        run(url, scenario, target, name, crate, mcpo_gen, cargo, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(url, scenario, target, name, crate, mcpo_gen, cargo, work):
    auth = scenario.startswith("auth/")
    proxy_env = {**os.environ, "RUST_LOG": "warn,mcpo_runtime=info"}
    proxy_args = []
    # One crate for every scenario: snapshot and build one at a time.
    with open(crate + ".lock", "w") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        env = {}
        if auth:
            config, env = oauth_config(url, work)
            proxy_env.update(env)
            proxy_args = ["--config", config]
            snapshot = [
                mcpo_gen, "--quiet", "--force", "--runtime", "shared:../mcpo-runtime",
                "--out", crate, "--config", config,
            ]
            if run_authorizing(snapshot, {**os.environ, **env}) != 0:
                fail("the snapshot failed (mcpo-gen's message above)")
        else:
            snapshot = [
                mcpo_gen, "--quiet", "--force", "--runtime", "shared:../mcpo-runtime",
                "--out", crate, "--server-type", "streamable-http", "--", url,
            ]
            if subprocess.run(snapshot).returncode != 0:
                fail("the snapshot failed (mcpo-gen's message above)")
        with open(os.path.join(crate, "mcp.lock.json")) as lock_file:
            lock = json.load(lock_file)
        if auth:
            # The proxy's runtime without its build: `mcpo-gen serve` runs
            # the lock as the generated crate would (the same runtime, its
            # OAuth client included). Built per scenario, the crate cost
            # CI a minute and a half; the server scenarios still build it.
            served_lock = os.path.join(work, "mcp.lock.json")
            shutil.copy2(os.path.join(crate, "mcp.lock.json"), served_lock)
            proxy_command = [mcpo_gen, "serve", "--lock", served_lock]
        else:
            build = subprocess.run(
                [cargo, "build", "--quiet"], cwd=crate,
                env={**os.environ, "CARGO_TARGET_DIR": target},
            )
            if build.returncode != 0:
                fail("the proxy did not build (cargo's message above)")
            # A copy of our own: the next scenario rebuilds the crate's binary.
            binary = os.path.join(work, name)
            shutil.copy2(os.path.join(target, "debug", name), binary)
            proxy_command = [binary]
    if auth:
        # A config's lock: {"servers": {NAME: {..., "tools"}}}, routes /NAME/TOOL.
        server = lock["servers"]["conformance"]
        tools, prefix = server["tools"], "/conformance"
        protocol = server.get("server", {}).get("protocolVersion", "?")
    else:
        tools, prefix = lock["tools"], ""
        protocol = lock["server"]["protocolVersion"]
    say(f"locked protocol {protocol}, {len(tools)} tool(s)")

    proxy = subprocess.Popen(
        [*proxy_command, "--host", "127.0.0.1", "--port", "0", *proxy_args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=proxy_env,
        text=True,
    )
    step_up = None
    if auth:
        # What an operator does when a call answers 503 naming `mcpo-gen
        # login` (the proxy wants more scope: step-up): that login, headless.
        def step_up(detail):
            command = login_command(detail, mcpo_gen, proxy_args)
            if command is None:
                return False
            say(f"step-up: running {' '.join(command[1:])}")
            return run_authorizing(command, {**os.environ, **env}) == 0

    try:
        base = serve(proxy)
        failures = call_tools(base + prefix, tools, step_up)
    finally:
        proxy.send_signal(signal.SIGTERM)
        try:
            proxy.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.kill()
    if failures:
        fail(f"{failures} call(s) failed")
    say("done")


# What the suite's basic-cimd scenario expects as a URL-based client id.
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"


def oauth_config(url, work):
    """A config for the auth scenario's server, and the environment it needs
    (the token folder, a pre-registered client's secret)."""
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    token_dir = os.path.join(work, "tokens")
    env = {"MCPO_TOKEN_DIR": token_dir, "MCPO_OAUTH_NO_BROWSER": "1"}
    oauth = {
        "storage_type": "file",
        "callback_port": 0,
        "use_loopback": True,
        "client_metadata": {
            "client_name": "mcpo-gen conformance",
            "client_id_metadata_url": CLIENT_METADATA_URL,
        },
    }
    if context.get("client_id"):
        oauth["client_id"] = context["client_id"]
    if context.get("client_secret"):
        oauth["client_secret"] = "${CONFORMANCE_CLIENT_SECRET}"
        env["CONFORMANCE_CLIENT_SECRET"] = context["client_secret"]
        env["MCPO_OAUTH_CLIENT_SECRET"] = context["client_secret"]
    config = os.path.join(work, "mcp.json")
    with open(config, "w") as config_file:
        json.dump(
            {"mcpServers": {"conformance": {"type": "streamable-http", "url": url, "oauth": oauth}}},
            config_file,
        )
    return config, env


def run_authorizing(command, env, timeout=300):
    """Runs mcpo-gen headless to its end and returns its exit status; when it
    prints `Authorize: URL` on stderr, does what the user's browser would:
    GET the URL, following the redirects to mcpo-gen's loopback callback.
    Its stdin stays open and empty (it also takes a pasted redirect there)."""
    child = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )

    def follow(url):
        try:
            status, body = http("GET", url, timeout=60)
            say(f"browser: the authorization URL ended in {status}: {body[:200]}")
        except OSError as error:
            say(f"browser: the authorization URL failed: {error}")

    def read():
        for line in child.stderr:
            sys.stderr.write(line)
            if line.startswith("Authorize: "):
                url = line[len("Authorize: "):].strip()
                threading.Thread(target=follow, args=(url,), daemon=True).start()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        status = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        status = child.wait()
        say(f"mcpo-gen did not finish in {timeout} s")
    reader.join(timeout=5)
    if child.stdin:
        child.stdin.close()
    return status


def serve(proxy):
    """The proxy's base URL once its upstream is ready; its log goes to our
    stderr meanwhile."""
    listening = []
    seen = threading.Event()

    def forward():
        for line in proxy.stderr:
            sys.stderr.write(line)
            if not listening and "listening on http://" in line:
                address = line.split("listening on http://", 1)[1].split()[0].rstrip("/")
                listening.append(f"http://{address}")
                seen.set()
        seen.set()

    threading.Thread(target=forward, daemon=True).start()
    if not seen.wait(30) or not listening:
        fail("the proxy did not log its listening address")
    base = listening[0]
    deadline = time.monotonic() + 30
    while True:
        try:
            status, body = http("GET", f"{base}/readyz", timeout=5)
        except OSError as error:
            status, body = 0, str(error)
        if status == 200:
            return base
        if time.monotonic() > deadline:
            fail(f"the proxy's upstream is not ready: {status} {body}")
        time.sleep(0.2)


def login_command(detail, mcpo_gen, proxy_args):
    """The `mcpo-gen login ...` a 503's detail names, as a command line (with
    the proxy's --config for a server name), or None."""
    start = detail.find("`mcpo-gen login")
    if start < 0:
        return None
    end = detail.find("`", start + 1)
    if end < 0:
        return None
    words = detail[start + 1:end].split()[2:]
    if not words:
        return None
    # The hint names the config as `--config FILE`: this proxy's own.
    if "--config" in words and words.index("--config") + 1 < len(words) \
            and words[words.index("--config") + 1] == "FILE":
        del words[words.index("--config"):words.index("--config") + 2]
    if words[0] != "--url" and "--config" not in words:
        words += proxy_args
    return [mcpo_gen, "login", *words]


def call_tools(base, tools, step_up=None):
    """Calls every tool; a 503 naming `mcpo-gen login` gets that login run
    by `step_up(detail)` (when given) and one more try."""
    failures = 0
    for tool in tools:
        # A lock's tool is {"name", "sha256", "definition": the MCP tool}.
        arguments = sample(tool["definition"].get("inputSchema", {})) or {}
        status, body = http("POST", f"{base}/{tool['name']}", arguments)
        say(f"POST /{tool['name']} {json.dumps(arguments)} -> {status} {body[:300]}")
        if status == 503 and step_up is not None and "mcpo-gen login" in body:
            try:
                detail = json.loads(body).get("detail", body)
            except ValueError:
                detail = body
            if step_up(str(detail)):
                status, body = http("POST", f"{base}/{tool['name']}", arguments)
                say(f"POST /{tool['name']} again -> {status} {body[:300]}")
            else:
                say("step-up: the login failed")
        if not 200 <= status < 300:
            failures += 1
    return failures


if __name__ == "__main__":
    main()
