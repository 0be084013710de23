# Sourced by scripts/setup-test-deps.sh and scripts/test.sh: the environment
# the tests run in, the same on every machine.

# uv (uvx) keeps its cache inside the repository's target folder, and resolves
# the Python MCP servers' dependencies as of this date, so a release on PyPI
# after it cannot change a snapshot (and so a committed lock) under the tests.
export UV_CACHE_DIR="$PWD/target/test-tools/uv-cache"
export UV_EXCLUDE_NEWER=2026-11-25T00:00:00Z
# The proxies under test are on loopback: never send that through a proxy
# configured for the machine.
no_proxy_hosts="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}${no_proxy:+,$no_proxy}"
export NO_PROXY="$no_proxy_hosts" no_proxy="$no_proxy_hosts"
unset no_proxy_hosts
export PATH="$PWD/target/test-tools/venv/bin:$PATH"
# Test builds carry no debug info: it is most of the target folder's size (the
# tests build a workspace of generated crates plus crates outside it), and a
# failing assertion still names its file and line.
export CARGO_PROFILE_DEV_DEBUG=false
