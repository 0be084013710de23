//! The limit the proxy is measured against: one MCP session (the same
//! upstream layer the proxy uses, over stdio) called directly by N
//! concurrent tasks, with no HTTP hop.
//!
//! With `-- URL` instead of a command it is an MCP client of a streamable
//! HTTP endpoint: bench/run.py points it at a proxy's `/mcp` to measure the
//! MCP gateway (MCP in, MCP out) against the direct session.
//!
//! ```text
//! direct-client --connections 16 --seconds 5 [--rate 200] [--worker-threads 1] \
//!     --tool echo --arguments '{"message":"hello"}' -- COMMAND ARGS... | URL
//! ```
//!
//! Prints one JSON object: requests, errors, seconds, rps, p50/p99/p999 in
//! milliseconds, and the CPU seconds this process used while calling.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use mcpo_runtime::upstream::{ConnectOptions, Target, connect};
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};

struct Options {
    connections: usize,
    seconds: f64,
    rate: Option<f64>,
    /// Tokio worker threads: bench/run.py gives the proxy's number, so both
    /// run the upstream layer on the same runtime.
    worker_threads: Option<usize>,
    tool: String,
    arguments: serde_json::Map<String, Value>,
    command: Vec<String>,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        connections: 1,
        seconds: 5.0,
        rate: None,
        worker_threads: None,
        tool: "echo".into(),
        arguments: serde_json::Map::new(),
        command: Vec::new(),
    };
    let mut iter = args.iter();
    while let Some(flag) = iter.next() {
        let mut value = || iter.next().cloned().context("a flag without its value");
        match flag.as_str() {
            "--connections" => options.connections = value()?.parse()?,
            "--seconds" => options.seconds = value()?.parse()?,
            "--rate" => options.rate = Some(value()?.parse()?),
            "--worker-threads" => options.worker_threads = Some(value()?.parse()?),
            "--tool" => options.tool = value()?,
            "--arguments" => match serde_json::from_str(&value()?)? {
                Value::Object(map) => options.arguments = map,
                _ => bail!("--arguments must be a JSON object"),
            },
            "--" => {
                options.command = iter.by_ref().cloned().collect();
                break;
            }
            other => bail!("unknown flag {other}"),
        }
    }
    if options.command.is_empty() || options.connections == 0 {
        bail!(
            "usage: direct-client --connections N --seconds S [--rate R] [--worker-threads N] --tool T --arguments JSON -- COMMAND ARGS..."
        );
    }
    Ok(options)
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in clock ticks (fields 14 and 15).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = parse(&args)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = options.worker_threads {
        runtime.worker_threads(threads);
    }
    runtime.enable_all().build()?.block_on(call(options))
}

async fn call(options: Options) -> anyhow::Result<()> {
    let (command, rest) = options.command.split_first().context("a command")?;
    let target = if command.starts_with("http://") || command.starts_with("https://") {
        Target::StreamableHttp {
            url: command.clone(),
            headers: Default::default(),
            oauth: None,
        }
    } else {
        Target::Stdio {
            command: command.clone(),
            args: rest.to_vec(),
            env: Default::default(),
        }
    };
    let connect_options = ConnectOptions {
        client_name: "mcpo-bench-direct".into(),
        client_version: "0.1.0".into(),
        echo_stderr: false,
        record_raw: false,
        offer_protocol: None,
        events: Default::default(),
    };
    let mut started = None;
    let session = connect(&target, &connect_options, &mut started)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let peer = session.peer().clone();
    let params =
        CallToolRequestParams::new(options.tool.clone()).with_arguments(options.arguments.clone());
    // Warm up, and fail early on a wrong tool.
    for _ in 0..20 {
        peer.call_tool(params.clone())
            .await
            .context("a warm-up call")?;
    }

    let duration = Duration::from_secs_f64(options.seconds);
    // With a rate, each task calls on its own schedule: rate / connections per second.
    let interval = options
        .rate
        .map(|rate| Duration::from_secs_f64(options.connections as f64 / rate));
    let cpu_before = cpu_seconds();
    let begin = Instant::now();
    let params = Arc::new(params);
    let tasks: Vec<_> = (0..options.connections)
        .map(|task| {
            let (peer, params) = (peer.clone(), Arc::clone(&params));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                let offset =
                    interval.map(|every| every.mul_f64(task as f64 / options.connections as f64));
                let mut next = begin + offset.unwrap_or_default();
                while begin.elapsed() < duration {
                    if let Some(every) = interval {
                        tokio::time::sleep_until(next.into()).await;
                        next += every;
                        if begin.elapsed() >= duration {
                            break;
                        }
                    }
                    let sent = Instant::now();
                    match peer.call_tool((*params).clone()).await {
                        Ok(result) if result.is_error != Some(true) => {
                            latencies.push(sent.elapsed())
                        }
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut seen, failed) = task.await?;
        latencies.append(&mut seen);
        errors += failed;
    }
    let elapsed = begin.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    latencies.sort_unstable();
    let report = json!({
        "requests": latencies.len(),
        "errors": errors,
        "seconds": elapsed,
        "rps": latencies.len() as f64 / elapsed,
        "p50_ms": percentile(&latencies, 0.50),
        "p99_ms": percentile(&latencies, 0.99),
        "p999_ms": percentile(&latencies, 0.999),
        "cpu_seconds": cpu,
    });
    println!("{report}");
    session.close(Duration::from_secs(2)).await;
    Ok(())
}
