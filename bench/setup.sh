#!/usr/bin/env bash
# Installs what the benchmark needs and the tests do not: the load generator
# oha (pinned, from crates.io, into target/bench-tools). mcpo 0.0.20 and the
# upstream servers come from scripts/setup-test-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
OHA_VERSION=1.16.0
tools="$PWD/target/bench-tools"
if [ -x "$tools/bin/oha" ] && "$tools/bin/oha" --version 2>/dev/null | grep -q "$OHA_VERSION"; then
    echo "oha $OHA_VERSION already in $tools/bin"
else
    # Its own target folder: the workspace's build artifacts are not touched.
    CARGO_TARGET_DIR="$tools/build" cargo install --locked --version "$OHA_VERSION" \
        --root "$tools" oha
fi
scripts/setup-test-deps.sh
