#!/usr/bin/env bash
# Rewrites templates/Cargo.lock, the lock every generated crate carries, from
# this workspace's Cargo.lock (the versions the examples are tested with).
# Run it after changing a dependency of mcpo-runtime/Cargo.toml and updating
# the workspace (cargo update), then regenerate the examples. Needs the
# network: cargo reads the index for every platform's packages.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo run --quiet -p mcpo-gen -- generate --quiet --force --runtime vendored \
    --lock generated-examples/time-proxy/mcp.lock.json --out "$work/crate"
# The template's root package has a fixed name; mcpo-gen renames it per crate.
sed 's/^name = "time-proxy"$/name = "generated-proxy"/' "$work/crate/Cargo.toml" > "$work/Cargo.toml"
grep -q '^name = "generated-proxy"$' "$work/Cargo.toml" || {
    echo "refresh-proxy-lock: the time-proxy example's package name was not found" >&2
    exit 1
}
mv "$work/Cargo.toml" "$work/crate/Cargo.toml"
cp Cargo.lock "$work/crate/Cargo.lock"
# Resolving the lone crate against the workspace's lock keeps its versions and
# drops every package the crate does not use.
(cd "$work/crate" && cargo metadata --quiet --format-version 1 > /dev/null)
cp "$work/crate/Cargo.lock" templates/Cargo.lock
echo "templates/Cargo.lock: $(grep -c '^\[\[package\]\]' templates/Cargo.lock) packages" >&2
