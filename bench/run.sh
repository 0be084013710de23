#!/usr/bin/env bash
# The benchmark, in one run: bench/setup.sh once, then bench/run.sh.
# Options: --skip-build, --skip-thousand; env BENCH_SECONDS (5), BENCH_RATE (200).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/test-env.sh
# The servers were cached by scripts/setup-test-deps.sh (bench/setup.sh).
export UV_OFFLINE=1
[ -x target/bench-tools/bin/oha ] || { echo "run bench/setup.sh first (installs oha)" >&2; exit 2; }
exec python3 bench/run.py "$@"
