#!/usr/bin/env bash
# The main job on a fresh machine, first answer as soon as mcpo-gen is built:
# install uv (for `uvx`), build mcpo-gen (debug: a quarter of a release build's
# CPU time, 256 s against 1,081 s, and it serves a quickstart fine), then `mcpo-gen serve`
# snapshots `uvx mcp-server-time` into ./time-proxy.lock.json and serves it on
# localhost:8000 at once, no crate build. The script waits until the proxy is
# ready, makes one real call, prints its answer and how to turn the lock into a
# committed crate, and keeps serving until Ctrl-C.
#
# Settings (environment): PORT (default 8000), LOCK (default
# ./time-proxy.lock.json). NO_SERVE=1: snapshot and generate the crate into OUT
# (the first argument, default ./time-proxy) instead, then stop.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-./time-proxy}"
LOCK="${LOCK:-./time-proxy.lock.json}"
PORT="${PORT:-8000}"
# Pinned: the lock then records exactly the release that was snapshotted.
UPSTREAM=(uvx mcp-server-time==2026.10.19 --local-timezone=America/New_York)

TOOLS=target/test-tools
if [ ! -x "$TOOLS/venv/bin/uvx" ]; then
  echo "quickstart: installing uv into $TOOLS/venv" >&2
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check uv==0.13.9
fi
export PATH="$PWD/$TOOLS/venv/bin:$PATH"

# Without debug info, as scripts/test-env.sh builds: a faster build, a smaller
# target/, and the tests reuse what this compiled.
echo "quickstart: building mcpo-gen (debug)" >&2
CARGO_PROFILE_DEV_DEBUG=false cargo build --quiet -p mcpo-gen
MCPO_GEN=target/debug/mcpo-gen

if [ -n "${NO_SERVE:-}" ]; then
  "$MCPO_GEN" --out "$OUT" -- "${UPSTREAM[@]}"
  echo "quickstart: generated $OUT; build and start it with:" >&2
  echo "  cd $OUT && cargo run --release -- --port $PORT" >&2
  exit 0
fi

mkdir -p "$(dirname "$LOCK")"
# Loopback only: no --api-key here, so anyone who reaches the port may call the tools.
"$MCPO_GEN" serve --lock-out "$LOCK" --host 127.0.0.1 --port "$PORT" -- "${UPSTREAM[@]}" &
serve_pid=$!
stop() {
  trap - INT TERM EXIT
  if kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

# Ready once the snapshot is taken, the port is open and the upstream is
# connected (the first start of `uvx` downloads the server from PyPI).
get_status() {
  curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz" 2>/dev/null || true
}
deadline=$((SECONDS + 300))
until [ "$(get_status)" = 200 ]; do
  if ! kill -0 "$serve_pid" 2>/dev/null; then
    wait "$serve_pid" && status=0 || status=$?
    echo "quickstart: mcpo-gen serve stopped (exit $status) before it was ready" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "quickstart: not ready after 300 s" >&2
    exit 1
  fi
  sleep 0.2
done

CALL=(curl -sS -X POST "http://localhost:$PORT/get_current_time"
  -H 'content-type: application/json' -d '{"timezone":"Europe/Paris"}')
echo >&2
echo "quickstart: ready on http://localhost:$PORT (docs: http://localhost:$PORT/docs). A first call:" >&2
echo "  \$ curl -X POST localhost:$PORT/get_current_time -H 'content-type: application/json' -d '{\"timezone\":\"Europe/Paris\"}'" >&2
echo "  $("${CALL[@]}")" >&2
cat >&2 <<EOF

quickstart: this proxy serves exactly what $LOCK pins. Next:
  # commit the lock (when the server changes, review the new one with \`mcpo-gen diff\`)
  git add $LOCK
  # serve that reviewed lock again, without a new snapshot
  $MCPO_GEN serve --lock $LOCK --port $PORT
  # or generate its crate and build it (typed request structs, one small binary)
  $MCPO_GEN generate --lock $LOCK --out $OUT
  cd $OUT && cargo run --release -- --port $PORT

quickstart: serving until Ctrl-C
EOF

wait "$serve_pid" && status=0 || status=$?
trap - INT TERM EXIT
exit "$status"
