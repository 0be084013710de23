#!/usr/bin/env bash
# The main job on a fresh machine: install uv (for `uvx`), build mcpo-gen,
# snapshot `uvx mcp-server-time` into ./time-proxy, then build and start the
# generated proxy on port 8000. Pass OUT as the first argument to choose the
# folder; set NO_SERVE=1 to stop after generating.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT="${1:-./time-proxy}"
TOOLS=target/test-tools
if [ ! -x "$TOOLS/venv/bin/uvx" ]; then
  echo "quickstart: installing uv into $TOOLS/venv" >&2
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check uv==0.13.9
fi
export PATH="$PWD/$TOOLS/venv/bin:$PATH"

cargo build --release --quiet -p mcpo-gen
target/release/mcpo-gen --out "$OUT" -- uvx mcp-server-time --local-timezone=America/New_York

if [ -z "${NO_SERVE:-}" ]; then
  echo "quickstart: building and starting the proxy; try:" >&2
  echo "  curl -X POST localhost:8000/get_current_time -H 'content-type: application/json' -d '{\"timezone\":\"Europe/Paris\"}'" >&2
  echo "  open http://localhost:8000/docs" >&2
  cd "$OUT"
  # Outside this workspace the crate would get its own target dir; share ours.
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$OLDPWD/target}" exec cargo run --release -- --port 8000
fi
