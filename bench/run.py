#!/usr/bin/env python3
"""One run of the benchmark: the generated proxy (release), mcpo 0.0.20 and a
direct rmcp client (no HTTP hop: the limit) on the same upstreams, at 1, 16 and
64 connections and at a fixed request rate; --upstream-pool on the CPU-bound
Python upstream; generation and build times of a 1000-tool crate. Prints a
table of ratios, writes target/bench/results.json and target/bench/plot.svg.

Run through bench/run.sh (it sets up the environment). Never run by the tests.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
# The proxies are built as the generated Dockerfile builds them (one codegen
# unit, fat LTO), in a folder of their own so target/release keeps its profile.
PROXY_TARGET = os.path.join(ROOT, "target", "bench-release")
PROXY_RELEASE = os.path.join(PROXY_TARGET, "release")
PROXY_PROFILE = {"CARGO_PROFILE_RELEASE_LTO": "fat", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "1"}
# The proxy's default --worker-threads (half the CPUs, at least 1), given to
# the direct client too: both run the upstream layer on the same runtime.
WORKER_THREADS = max(1, (os.cpu_count() or 2) // 2)
OUT = os.path.join(ROOT, "target", "bench")
OHA = os.path.join(ROOT, "target", "bench-tools", "bin", "oha")
MCPO = os.path.join(ROOT, "target", "test-tools", "mcpo-venv", "bin", "mcpo")
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
CONNECTIONS = [1, 16, 64]
# The fixed rate (requests per second, over 16 connections) at which tails are
# compared: below every system's saturation on every upstream.
RATE = int(os.environ.get("BENCH_RATE", "200"))
RATE_CONNECTIONS = 16
POOL_SIZES = [2, 4]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

EVERYTHING = os.path.join(
    ROOT, "tests/upstreams/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
)
UPSTREAMS = [
    {
        "name": "fixture",
        "proxy": "errors-proxy",
        "command": [os.path.join(RELEASE, "mcp-fixture-server"), "--tools",
                    os.path.join(ROOT, "tests/fixture-server/tools/errors.json")],
        "tool": "echo",
        "arguments": {"message": "hello"},
    },
    {
        "name": "everything",
        "proxy": "everything-proxy",
        "command": ["node", EVERYTHING, "stdio"],
        "tool": "echo",
        "arguments": {"message": "hello"},
    },
    {
        "name": "time",
        "proxy": "time-proxy",
        "command": ["uvx", "mcp-server-time==2026.10.19"],
        "tool": "get_current_time",
        "arguments": {"timezone": "UTC"},
    },
]


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def post(url, body, timeout=10):
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


class Server:
    """A proxy or mcpo serving one upstream on a free port."""

    def __init__(self, kind, upstream, extra=()):
        self.port = free_port()
        if kind == "proxy":
            binary = os.path.join(PROXY_RELEASE, upstream["proxy"])
            argv = [binary, "--host", "127.0.0.1", "--port", str(self.port), "--quiet",
                    "--on-drift", "ignore", "--worker-threads", str(WORKER_THREADS), *extra,
                    "--", *upstream["command"]]
        else:
            argv = [MCPO, "--host", "127.0.0.1", "--port", str(self.port), "--",
                    *upstream["command"]]
        self.process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}/{upstream['tool']}"
        self.mcp_url = f"http://127.0.0.1:{self.port}/mcp"
        deadline = time.time() + 120
        while post(self.url, upstream["arguments"], timeout=5) != 200:
            if time.time() > deadline or self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{kind} for {upstream['name']} did not serve")
            time.sleep(0.2)
        for _ in range(50):
            post(self.url, upstream["arguments"])
        self.idle_rss_mb = rss_mb(self.process.pid)

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()


def oha(url, arguments, connections, rate=None):
    argv = [OHA, "-z", f"{SECONDS}s", "-c", str(connections), "--no-tui",
            "--output-format", "json", "-m", "POST", "-H", "content-type: application/json",
            "-d", json.dumps(arguments)]
    if rate:
        argv += ["-q", str(rate)]
    output = subprocess.run(argv + [url], capture_output=True, text=True, check=True).stdout
    report = json.loads(output)
    statuses = report.get("statusCodeDistribution", {})
    ok = int(statuses.get("200", 0))
    total = sum(int(count) for count in statuses.values())
    elapsed = report["summary"]["total"]
    percentiles = report["latencyPercentiles"]
    return {
        "requests": total,
        "errors": total - ok,
        "seconds": elapsed,
        "rps": ok / elapsed if elapsed else 0.0,
        "p50_ms": (percentiles.get("p50") or 0) * 1000,
        "p99_ms": (percentiles.get("p99") or 0) * 1000,
        "p999_ms": (percentiles.get("p99.9") or 0) * 1000,
    }


def load(server, upstream, connections, rate=None):
    pid = server.process.pid
    cpu_before = cpu_seconds(pid)
    result = oha(server.url, upstream["arguments"], connections, rate)
    cpu = cpu_seconds(pid) - cpu_before
    result["cpu_us_per_request"] = cpu / max(result["requests"], 1) * 1e6
    result["rss_mb"] = rss_mb(pid)
    result["peak_rss_mb"] = rss_mb(pid, "VmHWM")
    return result


def direct(upstream, connections, rate=None, url=None):
    """The direct rmcp client on the upstream, or (url) on a proxy's /mcp."""
    argv = [os.path.join(RELEASE, "direct-client"), "--connections", str(connections),
            "--seconds", str(SECONDS), "--worker-threads", str(WORKER_THREADS),
            "--tool", upstream["tool"],
            "--arguments", json.dumps(upstream["arguments"])]
    if rate:
        argv += ["--rate", str(rate)]
    target = [url] if url else upstream["command"]
    output = subprocess.run(argv + ["--", *target], capture_output=True,
                            text=True, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    result["cpu_us_per_request"] = result.pop("cpu_seconds") / max(result["requests"], 1) * 1e6
    return result


def profile(upstream):
    """perf over the proxy under 16 connections on the fixture, if perf works."""
    if not shutil.which("perf"):
        return None
    server = Server("proxy", upstream)
    data = os.path.join(OUT, "perf.data")
    try:
        recorder = subprocess.Popen(
            ["perf", "record", "-F", "999", "-g", "-o", data, "-p", str(server.process.pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        oha(server.url, upstream["arguments"], 16)
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=60)
        report = subprocess.run(
            ["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "1",
             "--sort", "dso,symbol", "-g", "none"],
            capture_output=True, text=True).stdout
        path = os.path.join(OUT, "perf.txt")
        with open(path, "w") as file:
            file.write(report)
        return path
    except (OSError, subprocess.SubprocessError) as error:
        log("perf failed:", error)
        return None
    finally:
        server.stop()


def timed(argv, **kwargs):
    started = time.time()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   **kwargs)
    return time.time() - started


def thousand_tools():
    """Snapshot + generation, then debug and release builds of a 1000-tool crate."""
    crate = os.path.join(OUT, "thousand-proxy")
    shutil.rmtree(crate, ignore_errors=True)
    gen = os.path.join(RELEASE, "mcpo-gen")
    result = {"tools": 1000}
    result["snapshot_and_generate_s"] = timed(
        [gen, "--quiet", "--out", crate, "--", os.path.join(RELEASE, "mcp-fixture-server"),
         "--generate-tools", "1000"])
    result["generate_from_lock_s"] = timed(
        [gen, "generate", "--quiet", "--lock", os.path.join(crate, "mcp.lock.json"),
         "--out", crate])
    with open(os.path.join(crate, "src", "tools.rs")) as file:
        result["tools_rs_lines"] = sum(1 for _ in file)
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(OUT, "thousand-target"))
    for profile_name, flags in [("debug", []), ("release", ["--release"])]:
        # The first build compiles every dependency too; the second, after
        # touching the generated code, only the crate (the edit-build loop).
        result[f"{profile_name}_build_cold_s"] = timed(
            ["cargo", "build", "--locked", "--quiet", *flags], cwd=crate, env=env)
        os.utime(os.path.join(crate, "src", "tools.rs"))
        result[f"{profile_name}_build_crate_only_s"] = timed(
            ["cargo", "build", "--locked", "--quiet", *flags], cwd=crate, env=env)
    return result


def ratio(a, b):
    return a / b if b else float("nan")


def table(results):
    lines = []
    header = (f"{'upstream':<11}{'conns':>6}{'proxy rps':>11}{'mcpo rps':>10}{'direct rps':>11}"
              f"{'x mcpo':>8}{'/direct':>8}{'p50 px/mc/dir ms':>22}{'p99 px/mc/dir ms':>22}"
              f"{'p999 px/mc/dir ms':>23}{'+p99 ms':>9}{'cpu us/req px/mc':>18}{'rss MB px/mc':>14}")
    lines.append(header)
    for upstream in results["upstreams"]:
        for run in upstream["runs"]:
            p, m, d = run["proxy"], run["mcpo"], run["direct"]
            label = f"{run['connections']}" + (f"@{run['rate']}/s" if run.get("rate") else "")
            def three(key):
                return f"{p[key]:.2f}/{m[key]:.2f}/{d[key]:.2f}"
            cpu = f"{p['cpu_us_per_request']:.0f}/{m['cpu_us_per_request']:.0f}"
            rss = f"{p['rss_mb']:.1f}/{m['rss_mb']:.1f}"
            lines.append(
                f"{upstream['name']:<11}{label:>6}{p['rps']:>11.0f}{m['rps']:>10.0f}"
                f"{d['rps']:>11.0f}{ratio(p['rps'], m['rps']):>8.1f}"
                f"{ratio(p['rps'], d['rps']):>8.2f}{three('p50_ms'):>22}{three('p99_ms'):>22}"
                f"{three('p999_ms'):>23}{p['p99_ms'] - d['p99_ms']:>9.2f}{cpu:>18}{rss:>14}"
            )
    lines.append("")
    lines.append(f"{'MCP gateway':<11}{'conns':>6}{'gw rps':>11}{'direct rps':>11}{'/direct':>8}"
                 f"{'p50 gw/dir ms':>16}{'p99 gw/dir ms':>16}{'+p99 ms':>9}"
                 f"{'proxy cpu us/call':>19}")
    for upstream in results["upstreams"]:
        for run in upstream["runs"]:
            g, d = run.get("gateway"), run["direct"]
            if not g:
                continue
            label = f"{run['connections']}" + (f"@{run['rate']}/s" if run.get("rate") else "")
            lines.append(
                f"{upstream['name']:<11}{label:>6}{g['rps']:>11.0f}{d['rps']:>11.0f}"
                f"{ratio(g['rps'], d['rps']):>8.2f}"
                f"{g['p50_ms']:>8.2f}/{d['p50_ms']:<7.2f}{g['p99_ms']:>8.2f}/{d['p99_ms']:<7.2f}"
                f"{g['p99_ms'] - d['p99_ms']:>9.2f}{g['proxy_cpu_us_per_request']:>19.0f}")
    for upstream in results["upstreams"]:
        idle = upstream["idle_rss_mb"]
        lines.append(f"idle RSS {upstream['name']}: proxy {idle['proxy']:.1f} MB, "
                     f"mcpo {idle['mcpo']:.1f} MB")
    for pool in results.get("pool", []):
        lines.append(f"pool time conns={pool['connections']}: " + ", ".join(
            f"pool {size}: {run['rps']:.0f} rps p99 {run['p99_ms']:.1f} ms"
            for size, run in sorted(pool["by_size"].items(), key=lambda item: int(item[0]))))
    thousand = results.get("thousand_tools")
    if thousand:
        lines.append("1000 tools: " + ", ".join(
            f"{key} {value:.1f}" if isinstance(value, float) else f"{key} {value}"
            for key, value in thousand.items()))
    return "\n".join(lines)


COLORS = {"proxy": "#1f77b4", "mcpo": "#d62728", "direct": "#2ca02c"}


def svg(results):
    """Throughput per upstream and connection count, log scale, one bar per system."""
    import math

    panels = results["upstreams"]
    width, height, margin = 300, 260, 50
    total_width = margin + len(panels) * (width + 20)
    top = max(run[system]["rps"] for panel in panels for run in panel["runs"]
              for system in COLORS) or 1
    decades = math.ceil(math.log10(top))
    def y(value):
        value = max(value, 1)
        return 20 + height - (math.log10(value) / decades) * height
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_width}" height="{height + 90}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="{margin}" y="14" font-size="13">Successful requests per second (log scale)'
             ' by connections; proxy, mcpo 0.0.20, direct rmcp client</text>']
    for decade in range(decades + 1):
        parts.append(f'<line x1="{margin}" x2="{total_width}" y1="{y(10 ** decade)}" '
                     f'y2="{y(10 ** decade)}" stroke="#ddd"/>'
                     f'<text x="4" y="{y(10 ** decade) + 4}">{10 ** decade:g}</text>')
    for index, panel in enumerate(panels):
        x0 = margin + index * (width + 20)
        runs = [run for run in panel["runs"] if not run.get("rate")]
        group = width / len(runs)
        bar = group / 4
        for slot, run in enumerate(runs):
            for offset, system in enumerate(COLORS):
                value = run[system]["rps"]
                x = x0 + slot * group + offset * bar + bar / 2
                parts.append(f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar - 2:.1f}" '
                             f'height="{20 + height - y(value):.1f}" fill="{COLORS[system]}">'
                             f'<title>{panel["name"]} {system} c={run["connections"]}: '
                             f'{value:.0f} rps</title></rect>')
            parts.append(f'<text x="{x0 + slot * group + group / 2:.1f}" y="{height + 36}" '
                         f'text-anchor="middle">c={run["connections"]}</text>')
        parts.append(f'<text x="{x0 + width / 2}" y="{height + 56}" text-anchor="middle" '
                     f'font-weight="bold">{panel["name"]}</text>')
    for offset, (system, color) in enumerate(COLORS.items()):
        parts.append(f'<rect x="{margin + offset * 90}" y="{height + 68}" width="10" height="10" '
                     f'fill="{color}"/><text x="{margin + offset * 90 + 14}" y="{height + 77}">'
                     f'{system}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main():
    os.makedirs(OUT, exist_ok=True)
    skip_build = "--skip-build" in sys.argv
    skip_thousand = "--skip-thousand" in sys.argv
    if not skip_build:
        log("building (release): the fixture, mcpo-gen, direct-client")
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "mcp-fixture-server",
                        "-p", "mcpo-gen", "-p", "mcpo-bench"], check=True, cwd=ROOT)
        log("building (release, as the generated Dockerfile does: fat LTO): the proxies")
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "errors-proxy",
                        "-p", "everything-proxy", "-p", "time-proxy"], check=True, cwd=ROOT,
                       env=dict(os.environ, CARGO_TARGET_DIR=PROXY_TARGET, **PROXY_PROFILE))
    results = {"seconds_per_run": SECONDS, "rate": RATE, "worker_threads": WORKER_THREADS,
               "proxy_profile": PROXY_PROFILE, "machine": {
        "cpus": os.cpu_count(), "uname": " ".join(os.uname())}, "upstreams": []}
    for upstream in UPSTREAMS:
        entry = {"name": upstream["name"], "tool": upstream["tool"], "runs": [],
                 "idle_rss_mb": {}}
        servers = {}
        try:
            for kind in ("proxy", "mcpo"):
                servers[kind] = Server(kind, upstream)
                entry["idle_rss_mb"][kind] = servers[kind].idle_rss_mb
            plan = [(connections, None) for connections in CONNECTIONS]
            plan.append((RATE_CONNECTIONS, RATE))
            for connections, rate in plan:
                run = {"connections": connections, "rate": rate}
                for kind in ("proxy", "mcpo"):
                    log(f"{upstream['name']}: {kind}, {connections} connections"
                        + (f" at {rate}/s" if rate else ""))
                    run[kind] = load(servers[kind], upstream, connections, rate)
                log(f"{upstream['name']}: direct, {connections} connections")
                run["direct"] = direct(upstream, connections, rate)
                # MCP to MCP: the same client through the proxy's gateway.
                log(f"{upstream['name']}: gateway (/mcp), {connections} connections")
                proxy = servers["proxy"]
                cpu_before = cpu_seconds(proxy.process.pid)
                run["gateway"] = direct(upstream, connections, rate, url=proxy.mcp_url)
                run["gateway"]["proxy_cpu_us_per_request"] = (
                    (cpu_seconds(proxy.process.pid) - cpu_before)
                    / max(run["gateway"]["requests"], 1) * 1e6)
                entry["runs"].append(run)
        finally:
            for server in servers.values():
                server.stop()
        results["upstreams"].append(entry)
    # --upstream-pool on the CPU-bound Python upstream.
    time_upstream = UPSTREAMS[2]
    results["pool"] = []
    for connections in (16, 64):
        by_size = {"1": next(run["proxy"] for run in results["upstreams"][2]["runs"]
                             if run["connections"] == connections and not run["rate"])}
        for size in POOL_SIZES:
            server = Server("proxy", time_upstream, ["--upstream-pool", str(size)])
            try:
                log(f"time: proxy --upstream-pool {size}, {connections} connections")
                by_size[str(size)] = load(server, time_upstream, connections)
            finally:
                server.stop()
        results["pool"].append({"connections": connections, "by_size": by_size})
    results["perf_report"] = profile(UPSTREAMS[0])
    if not skip_thousand:
        log("1000-tool crate: generation and builds (the cold builds take minutes)")
        results["thousand_tools"] = thousand_tools()
    with open(os.path.join(OUT, "results.json"), "w") as file:
        json.dump(results, file, indent=2)
    with open(os.path.join(OUT, "plot.svg"), "w") as file:
        file.write(svg(results))
    print(table(results))
    log(f"wrote {OUT}/results.json and {OUT}/plot.svg")


if __name__ == "__main__":
    main()
