#!/usr/bin/env python3
"""Runs the workspace's test binaries, already built by
`cargo test --workspace --no-run --message-format=json`, in parallel lanes.

Most end-to-end tests wait on processes (servers starting, proxies
connecting, browsers, fuzzers), so one test binary at a time, as
`cargo test` runs them, leaves a core idle for most of the run. Each binary
runs as cargo would run it (from its package's folder, with cargo's
environment), its output is printed whole when it ends, and every failure
is reported at the end; the exit status is 1 if any binary failed.

`--command NAME SECONDS "CMD"` adds a command to the lanes (run from the
current folder, weighed as SECONDS), such as a cargo test of another feature
set: its compiling then overlaps the other lane's waiting.

Usage: run-test-binaries.py ARTIFACTS.json [--lanes N] [--command NAME SECONDS CMD]...
"""

import argparse
import json
import os
import shlex
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
    "client_generators": 80,
    "conformance": 75,
    "multi_server": 70,
    "schemathesis": 60,
    "dockerfile": 45,
    "docs_browser": 42,
    "time_proxy": 31,
    "everything_proxy": 35,
    "oauth": 30,
    "telemetry": 30,
    "review": 29,
    "openapi_validity": 28,
    "mcpo_compat": 20,
    "conformance_auth": 19,
    "schema_snapshots": 17,
    "real_servers": 16,
    "protocol_revisions": 14,
    "gateway_conformance": 7,
}
SHORT = 3


def test_binaries(artifacts_file):
    """(name, argv, folder) of every test executable cargo built."""
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
            binaries.append((message["target"]["name"], [message["executable"]], package))
    return binaries


def lanes_for(jobs, count, seconds):
    """Longest first, each to the lane that ends soonest."""
    lanes = [[] for _ in range(count)]
    loads = [0] * count
    weight = lambda job: seconds.get(job[0], SHORT)
    for job in sorted(jobs, key=lambda job: -weight(job)):
        lane = loads.index(min(loads))
        lanes[lane].append(job)
        loads[lane] += weight(job)
    return lanes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("artifacts")
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--command", nargs=3, action="append", default=[],
                        metavar=("NAME", "SECONDS", "CMD"))
    args = parser.parse_args()

    binaries = test_binaries(args.artifacts)
    if not binaries:
        print("run-test-binaries: no test binary in the cargo output", file=sys.stderr)
        return 1
    seconds = dict(KNOWN_SECONDS)
    commands = []
    for name, weight, command in args.command:
        seconds[name] = int(weight)
        commands.append((name, shlex.split(command), os.getcwd()))
    failures = []
    print_lock = threading.Lock()

    def run_lane(number, lane):
        for name, argv, package in lane:
            started = time.monotonic()
            with tempfile.TemporaryFile() as output:
                process = subprocess.Popen(
                    argv,
                    cwd=package,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "CARGO_MANIFEST_DIR": package},
                )
                # wait4: the CPU time of the binary and of every process it
                # waited for (its servers, proxies, cargo builds), which says
                # what a lane costs the machine besides how long it took.
                _, wait_status, usage = os.wait4(process.pid, 0)
                status = os.waitstatus_to_exitcode(wait_status)
                output.seek(0)
                text = output.read().decode("utf-8", errors="replace")
            took = time.monotonic() - started
            with print_lock:
                cpu = usage.ru_utime + usage.ru_stime
                print(
                    f"== lane {number}: {name} ({' '.join(argv)}) in {took:.1f}s "
                    f"(CPU {cpu:.0f}s), exit {status}"
                )
                print(text, end="" if text.endswith("\n") else "\n", flush=True)
                if status != 0:
                    failures.append(name)

    threads = [
        threading.Thread(target=run_lane, args=(number, lane))
        for number, lane in enumerate(lanes_for(binaries + commands, args.lanes, seconds), start=1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        print(f"run-test-binaries: failed: {', '.join(sorted(failures))}", file=sys.stderr)
        return 1
    print(f"run-test-binaries: {len(binaries)} test binaries and {len(commands)} commands passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
