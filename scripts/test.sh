#!/usr/bin/env bash
# Runs every test: installs what they need (scripts/setup-test-deps.sh), checks
# formatting and lints, checks that the committed generated examples are what
# their locks generate, then runs the whole workspace's tests (unit tests,
# generator snapshots, and end-to-end tests against real MCP servers).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-test-deps.sh
source scripts/test-env.sh
# Everything the tests start from uvx was cached by the setup: no index
# requests (and no network flakiness) while they run.
export UV_OFFLINE=1

echo "== $(date +%T) cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== $(date +%T) cargo clippy" >&2
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The optional OpenTelemetry code, which the workspace build leaves out.
cargo clippy -p mcpo-runtime --all-targets --features otel --quiet -- -D warnings
echo "== $(date +%T) mcpo-gen check generated-examples/*" >&2
cargo run --quiet -p mcpo-gen -- check generated-examples/*/
echo "== $(date +%T) cargo build --workspace --bins" >&2
# The binaries the end-to-end tests start (the generator, the fixture server,
# the generated proxies), built once here and not inside a test's time.
cargo build --workspace --bins
echo "== $(date +%T) cargo test" >&2
cargo test --workspace
cargo test -p mcpo-runtime --features otel --lib
