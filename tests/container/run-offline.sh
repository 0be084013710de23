#!/usr/bin/env bash
# Runs a proxy image's entrypoint as a container would, with no network, and
# POSTs requests to it. `podman run` does not work on this machine kind
# (../shared/notes/containers.md), so this does what it would do: the image's
# file system (podman image mount), private mount, pid and network namespaces
# (loopback only: nothing outside the machine, nor on it, is reachable), the
# image's user, environment and entrypoint, /tmp a fresh tmpfs, and its home
# folder copied into a writable one, as the Deployment's init container does.
#
# Usage (as root): run-offline.sh IMAGE seeded|empty SECONDS 'PATH JSON'...
#   seeded: the home folder as the image has it; empty: an empty one (what a
#   container had before the image installed its upstreams).
#   Each request is POSTed to the entrypoint's port until it answers 200 or
#   SECONDS pass; stdout gets one `PATH STATUS BODY` line per request, stderr
#   the proxy's log. OFFLINE_ENV="NAME=VALUE ..." adds to the environment.
set -euo pipefail
image=$1 home_mode=$2 seconds=$3
shift 3

scratch=$(mktemp -d)
cleanup() {
  podman image unmount "$image" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
root=$(podman image mount "$image")

user=$(podman image inspect --format '{{.Config.User}}' "$image")
image_env=$(podman image inspect --format '{{range .Config.Env}}{{.}}{{"\n"}}{{end}}' "$image")
entrypoint=$(podman image inspect --format '{{range .Config.Entrypoint}}{{.}}{{"\n"}}{{end}}' "$image")
home=$(podman image inspect --format '{{.Config.WorkingDir}}' "$image")
port=$(sed -n '/^--port$/{n;p;q}' <<<"$entrypoint")

mkdir "$scratch/home"
if [ "$home_mode" = seeded ]; then
  cp -R "$root$home/." "$scratch/home/"
fi
chown -R "$user" "$scratch/home"

export ROOT=$root HOME_COPY=$scratch/home RUN_USER=$user HOME_DIR=$home PORT=$port SECONDS_LEFT=$seconds
export IMAGE_ENV=$image_env ENTRYPOINT=$entrypoint LOG=$scratch/proxy.log
unshare --mount --net --pid --fork --kill-child bash -s "$@" <<'INSIDE'
set -euo pipefail
ip link set lo up
mount --bind "$HOME_COPY" "$ROOT$HOME_DIR"
mount -t tmpfs tmpfs "$ROOT/tmp"
mount -t proc proc "$ROOT/proc"
mount --rbind /dev "$ROOT/dev"
mapfile -t env_lines <<<"$IMAGE_ENV"
mapfile -t command <<<"$ENTRYPOINT"
# shellcheck disable=SC2086 # OFFLINE_ENV is a list of NAME=VALUE words
chroot --userspec="$RUN_USER" "$ROOT" env -i "${env_lines[@]}" HOME="$HOME_DIR" ${OFFLINE_ENV:-} \
  "${command[@]}" >"$LOG" 2>&1 &
proxy=$!
deadline=$((SECONDS + SECONDS_LEFT))
for request in "$@"; do
  path=${request%% *} body=${request#* }
  while :; do
    answer=$(python3 - "$PORT" "$path" "$body" <<'POST'
import sys, urllib.request, urllib.error
port, path, body = sys.argv[1:]
request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.encode(),
                                 headers={"content-type": "application/json"})
try:
    with urllib.request.urlopen(request, timeout=30) as response:
        print(response.status, response.read().decode())
except urllib.error.HTTPError as error:
    print(error.code, error.read().decode())
except OSError as error:
    print(0, error)
POST
    )
    if [[ $answer == "200 "* ]] || [ "$SECONDS" -ge "$deadline" ]; then
      break
    fi
    sleep 1
  done
  echo "$path $answer"
done
# Nothing beyond loopback: the upstreams had no index to download from.
if python3 -c 'import socket; socket.create_connection(("pypi.org", 443), timeout=5)' 2>/dev/null; then
  echo "network reachable"
fi
kill "$proxy" 2>/dev/null || true
for _ in $(seq 50); do kill -0 "$proxy" 2>/dev/null || break; sleep 0.1; done
kill -KILL "$proxy" 2>/dev/null || true
wait "$proxy" 2>/dev/null || true
cat "$LOG" >&2
INSIDE
