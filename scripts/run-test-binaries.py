#!/usr/bin/env python3
"""Runs the workspace's test binaries, already built by
`cargo test --workspace --no-run --message-format=json`, in parallel lanes.

Most end-to-end tests wait on processes (servers starting, proxies
connecting, browsers, fuzzers), so one test binary at a time, as
`cargo test` runs them, leaves a core idle for most of the run. Each binary
runs as cargo would run it (from its package's folder, with cargo's
environment), its output is printed whole when it ends, and every failure
is reported at the end; the exit status is 1 if any binary failed.

Usage: run-test-binaries.py ARTIFACTS.json [--lanes N]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Seconds each binary took in earlier runs on a 2-core machine: the longest
# start first, so that the lanes end together. A binary not named here is
# counted as short.
KNOWN_SECONDS = {
    "generator": 150,
    "proxy_contract": 140,
    "multi_server": 90,
    "conformance_auth": 80,
    "schemathesis": 70,
    "client_generators": 65,
    "docs_browser": 40,
    "telemetry": 30,
    "oauth": 28,
    "everything_proxy": 28,
    "conformance": 26,
    "time_proxy": 24,
    "review": 20,
    "openapi_validity": 19,
    "real_servers": 16,
    "mcpo_compat": 12,
    "protocol_revisions": 11,
    "schema_snapshots": 8,
    "gateway_conformance": 5,
}
SHORT = 3


def test_binaries(artifacts_file):
    """(name, executable, package folder) of every test executable cargo built."""
    binaries = []
    with open(artifacts_file, encoding="utf-8") as lines:
        for line in lines:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if message.get("reason") != "compiler-artifact":
                continue
            if not message.get("profile", {}).get("test") or not message.get("executable"):
                continue
            package = str(Path(message["manifest_path"]).parent)
            binaries.append((message["target"]["name"], message["executable"], package))
    return binaries


def lanes_for(binaries, count):
    """Longest first, each to the lane that ends soonest."""
    lanes = [[] for _ in range(count)]
    loads = [0] * count
    ordered = sorted(binaries, key=lambda b: -KNOWN_SECONDS.get(b[0], SHORT))
    for binary in ordered:
        lane = loads.index(min(loads))
        lanes[lane].append(binary)
        loads[lane] += KNOWN_SECONDS.get(binary[0], SHORT)
    return lanes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("artifacts")
    parser.add_argument("--lanes", type=int, default=2)
    args = parser.parse_args()

    binaries = test_binaries(args.artifacts)
    if not binaries:
        print("run-test-binaries: no test binary in the cargo output", file=sys.stderr)
        return 1
    failures = []
    print_lock = threading.Lock()

    def run_lane(number, lane):
        for name, executable, package in lane:
            started = time.monotonic()
            with tempfile.TemporaryFile() as output:
                status = subprocess.call(
                    [executable],
                    cwd=package,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "CARGO_MANIFEST_DIR": package},
                )
                output.seek(0)
                text = output.read().decode("utf-8", errors="replace")
            seconds = time.monotonic() - started
            with print_lock:
                print(f"== lane {number}: {name} ({executable}) in {seconds:.1f}s, exit {status}")
                print(text, end="" if text.endswith("\n") else "\n", flush=True)
                if status != 0:
                    failures.append(name)

    threads = [
        threading.Thread(target=run_lane, args=(number, lane))
        for number, lane in enumerate(lanes_for(binaries, args.lanes), start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        print(f"run-test-binaries: failed: {', '.join(sorted(failures))}", file=sys.stderr)
        return 1
    print(f"run-test-binaries: {len(binaries)} test binaries passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
