#!/usr/bin/env bash
# Runs every test: installs what they need (scripts/setup-test-deps.sh), checks
# formatting and lints, checks that the committed generated examples are what
# their locks generate, then runs the whole workspace's tests (unit tests,
# generator snapshots, and end-to-end tests against real MCP servers).
# MCPO_TEST_LANES=1 runs the test binaries one at a time, as `cargo test` does.
set -euo pipefail
cd "$(dirname "$0")/.."

# The installs are mostly downloads, the checks and builds below mostly
# compiling: the setup runs beside them, and the tests wait for it. (Started
# before test-env.sh puts the tools' venv first on PATH: the setup makes it.)
scripts/setup-test-deps.sh &
setup=$!
# A failing check below stops the setup too, not only this script.
trap 'kill "$setup" 2>/dev/null || true' EXIT
source scripts/test-env.sh

echo "== $(date +%T) cargo fmt --check" >&2
cargo fmt --all -- --check
# Clippy's lints run inside the builds below, not in a `cargo clippy` of
# their own: the workspace's crates are compiled by clippy-driver (what
# `cargo clippy` runs them with; dependencies stay with plain rustc), given
# `-D warnings` the way `cargo clippy -- -D warnings` gives it. So every crate
# is compiled once, linted as it is built, instead of checked and then built
# again (three minutes of a CI run). The libraries and binaries are linted by
# the build, the test targets by the test build, the OpenTelemetry code (the
# runtime's `otel` feature, which the workspace build leaves out) by its
# lane's builds below. Exported: the tests' own builds of the workspace then
# find it up to date (and the proxies they generate and build are linted too).
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
if [ ! -x "$RUSTC_WORKSPACE_WRAPPER" ]; then
  echo "test.sh: no clippy-driver at $RUSTC_WORKSPACE_WRAPPER: run \`rustup component add clippy\`" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
echo "== $(date +%T) cargo build --workspace --bins (with clippy's lints)" >&2
# The binaries the end-to-end tests start (the generator, the fixture server,
# the generated proxies), built once here and not inside a test's time; one
# build, so that cargo can compile the generator beside the proxies.
cargo build --workspace --bins
echo "== $(date +%T) mcpo-gen check generated-examples/*" >&2
# The generator the workspace build made (`cargo run -p mcpo-gen` would
# build it again: one package alone resolves its dependencies' features
# differently).
"${CARGO_TARGET_DIR:-target}/debug/mcpo-gen" check generated-examples/*/
echo "== $(date +%T) cargo test --no-run (with clippy's lints)" >&2
# Every test binary, built once; then run two at a time (most end-to-end
# tests wait on servers and proxies, so one binary at a time leaves a core
# idle): scripts/run-test-binaries.py runs each as cargo would, and the doc
# tests and the runtime's OpenTelemetry build in the lanes too (compiling
# there overlaps the other lane's waiting: built before the lanes, it and
# the test proxies' dependencies made a run a minute longer).
# The generated examples have no tests of their own: their binaries are not
# built again in test mode (the end-to-end tests run the built proxies).
examples=()
for example in generated-examples/*/; do
  examples+=(--exclude "$(basename "$example")")
done
cargo test --workspace "${examples[@]}" --no-run --message-format=json-render-diagnostics \
    > target/test-binaries.json
echo "== $(date +%T) waiting for the test setup" >&2
wait "$setup"
# Everything the tests start from uvx was cached by the setup: no index
# requests (and no network flakiness) while they run.
export UV_OFFLINE=1
echo "== $(date +%T) test binaries" >&2
python3 scripts/run-test-binaries.py target/test-binaries.json --lanes "${MCPO_TEST_LANES:-2}" \
    --command doc-tests 10 "cargo test --workspace --doc" \
    --command runtime-otel 100 "bash -c 'cargo test -p mcpo-runtime --features otel --lib && cargo build -p mcpo-runtime --features otel --lib'"
