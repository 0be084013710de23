//! `GET {root}/metrics`: the proxy's counters in the Prometheus text format
//! (0.0.4), through `prometheus-client`.
//!
//! Labels are tool names from the lock, HTTP status codes and pool member
//! numbers only: never an argument, a header value, a key or a URL, so the
//! page leaks nothing a caller sent and its size is bounded by the lock.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabel as _, EncodeLabelSet, LabelSetEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The server of a multi-server proxy; `""` (no label at all) for the one
/// server of a single-server proxy.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct ServerLabel {
    server: &'static str,
}

impl EncodeLabelSet for ServerLabel {
    fn encode(&self, encoder: &mut LabelSetEncoder) -> Result<(), std::fmt::Error> {
        if self.server.is_empty() {
            return Ok(());
        }
        ("server", self.server).encode(encoder.encode_label())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: &'static str,
    status: u16,
}

/// How a caller proved who it is (`jwt`, `openwebui`, `api-key`, `none`):
/// a class, never a subject, so the page stays bounded and names nobody.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallerLabels {
    via: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ToolLabel {
    tool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MemberLabel {
    member: u32,
}

/// Upper bounds of the latency buckets, in seconds: 0.25 ms to 60 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    60.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric family, registered once: the Prometheus text format has one
/// `# TYPE` line per name, so the servers of a multi-server proxy share the
/// families and tell their series apart by the `server` label.
struct Families {
    calls: Family<(ServerLabel, CallLabels), Counter>,
    caller_calls: Family<(ServerLabel, CallerLabels), Counter>,
    latency: Family<(ServerLabel, ToolLabel), Histogram, fn() -> Histogram>,
    in_flight: Family<ServerLabel, Gauge>,
    queued: Family<ServerLabel, Gauge>,
    rejected: Family<ServerLabel, Counter>,
    upstream_up: Family<(ServerLabel, MemberLabel), Gauge>,
    upstream_restarts: Family<(ServerLabel, MemberLabel), Counter>,
    upstream_calls: Family<(ServerLabel, MemberLabel), Counter>,
    drift_findings: Family<ServerLabel, Gauge>,
    drift_blocking: Family<ServerLabel, Gauge>,
    launch_spec_drift: Family<ServerLabel, Gauge>,
}

impl Families {
    fn register(registry: &mut Registry) -> Self {
        let families = Families {
            calls: Family::default(),
            caller_calls: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            in_flight: Family::default(),
            queued: Family::default(),
            rejected: Family::default(),
            upstream_up: Family::default(),
            upstream_restarts: Family::default(),
            upstream_calls: Family::default(),
            drift_findings: Family::default(),
            drift_blocking: Family::default(),
            launch_spec_drift: Family::default(),
        };
        registry.register(
            "tool_calls",
            "Tool calls answered, by tool and HTTP status",
            families.calls.clone(),
        );
        registry.register(
            "caller_tool_calls",
            "Tool calls answered, by how the caller proved who it is and HTTP status",
            families.caller_calls.clone(),
        );
        registry.register(
            "tool_call_duration_seconds",
            "Time from a tool call's arrival to its answer, queueing included",
            families.latency.clone(),
        );
        registry.register(
            "tool_calls_in_flight",
            "Tool calls being handled by the upstream right now",
            families.in_flight.clone(),
        );
        registry.register(
            "queue_depth",
            "Tool calls waiting for a --max-concurrency slot",
            families.queued.clone(),
        );
        registry.register(
            "queue_rejected",
            "Tool calls refused with 503 because the queue was full or the wait ran out",
            families.rejected.clone(),
        );
        registry.register(
            "upstream_up",
            "1 while the upstream (pool member) is connected, else 0",
            families.upstream_up.clone(),
        );
        registry.register(
            "upstream_restarts",
            "Reconnections (respawns of a stdio server) after the first connection",
            families.upstream_restarts.clone(),
        );
        registry.register(
            "upstream_calls",
            "Tool calls sent to each upstream (pool member)",
            families.upstream_calls.clone(),
        );
        registry.register(
            "drift_findings",
            "Differences between the live tools and mcp.lock.json at the last check",
            families.drift_findings.clone(),
        );
        registry.register(
            "drift_blocking",
            "1 while --on-drift fail refuses tool calls, else 0",
            families.drift_blocking.clone(),
        );
        registry.register(
            "launch_spec_drift",
            "Ways the runtime --config launches the server differently from mcp.lock.json",
            families.launch_spec_drift.clone(),
        );
        families
    }
}

/// What `/metrics` renders: every server's [`Metrics`].
pub struct MetricsRegistry {
    registry: Registry,
    families: Arc<Families>,
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mcpo");
        let families = Arc::new(Families::register(&mut registry));
        MetricsRegistry { registry, families }
    }
}

impl MetricsRegistry {
    /// The metrics of the server `name` (`""`: the one server of a
    /// single-server proxy, unlabelled). Every series of `tools` and each of
    /// `pool_size` members exists at zero from here on.
    pub fn server(&mut self, name: &str, tools: &[&'static str], pool_size: usize) -> Arc<Metrics> {
        // Labels live as long as the process; a server's name, leaked once.
        let server = ServerLabel {
            server: if name.is_empty() {
                ""
            } else {
                Box::leak(name.to_string().into_boxed_str())
            },
        };
        let families = &self.families;
        for &tool in tools {
            let _ = families
                .latency
                .get_or_create(&(server, ToolLabel { tool }));
        }
        for family in [
            &families.in_flight,
            &families.queued,
            &families.drift_findings,
            &families.drift_blocking,
            &families.launch_spec_drift,
        ] {
            family.get_or_create(&server).set(0);
        }
        let _ = families.rejected.get_or_create(&server);
        for member in 0..pool_size {
            let member = (server, member_label(member));
            families.upstream_up.get_or_create(&member).set(0);
            let _ = families.upstream_restarts.get_or_create(&member);
            let _ = families.upstream_calls.get_or_create(&member);
        }
        Arc::new(Metrics {
            server,
            families: Arc::clone(&self.families),
        })
    }

    /// The page served at `/metrics`.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry).is_err()
        {
            tracing::warn!("could not encode the metrics");
        }
        text
    }
}

/// The metrics of one server; shared (`Arc`) by its pipeline, limiter and
/// upstream supervisors.
pub struct Metrics {
    server: ServerLabel,
    families: Arc<Families>,
}

impl Metrics {
    /// Metrics of their own registry (tests).
    #[cfg(test)]
    pub fn new(tools: &[&'static str], pool_size: usize) -> Arc<Metrics> {
        MetricsRegistry::default().server("", tools, pool_size)
    }

    /// A tool call was answered with `status` after `elapsed`. Requests for
    /// resources and prompts count here too, under their MCP method
    /// (`resources/read`, `prompts/get`, ...): a `/` no tool name has (the
    /// MCP spec's tool names are `[A-Za-z0-9_.-]`).
    pub fn record_call(&self, tool: &'static str, status: u16, elapsed: Duration) {
        self.families
            .calls
            .get_or_create(&(self.server, CallLabels { tool, status }))
            .inc();
        self.families
            .latency
            .get_or_create(&(self.server, ToolLabel { tool }))
            .observe(elapsed.as_secs_f64());
    }

    /// A tool call of a caller of class `via` was answered with `status`.
    pub fn record_caller(&self, via: &'static str, status: u16) {
        self.families
            .caller_calls
            .get_or_create(&(self.server, CallerLabels { via, status }))
            .inc();
    }

    /// Counts a call at the upstream until the guard is dropped.
    pub fn enter_upstream(self: &Arc<Self>, member: usize) -> InFlightGuard {
        self.families.in_flight.get_or_create(&self.server).inc();
        self.families
            .upstream_calls
            .get_or_create(&(self.server, member_label(member)))
            .inc();
        InFlightGuard(Arc::clone(self))
    }

    /// Counts a call in the queue until the guard is dropped.
    pub fn enter_queue(self: &Arc<Self>) -> QueuedGuard {
        self.families.queued.get_or_create(&self.server).inc();
        QueuedGuard(Arc::clone(self))
    }

    /// A call was refused by the limiter.
    pub fn rejected(&self) {
        self.families.rejected.get_or_create(&self.server).inc();
    }

    /// Pool member `member` connected (`true`) or lost its connection.
    pub fn upstream_state(&self, member: usize, up: bool) {
        self.families
            .upstream_up
            .get_or_create(&(self.server, member_label(member)))
            .set(i64::from(up));
    }

    /// Pool member `member` connected again after a loss.
    pub fn upstream_restarted(&self, member: usize) {
        self.families
            .upstream_restarts
            .get_or_create(&(self.server, member_label(member)))
            .inc();
    }

    /// How many ways the runtime `--config` launches the server differently
    /// from its lock.
    pub fn launch_spec_drift(&self, findings: usize) {
        self.families
            .launch_spec_drift
            .get_or_create(&self.server)
            .set(i64::try_from(findings).unwrap_or(i64::MAX));
    }

    /// The result of the last drift check.
    pub fn drift(&self, findings: usize, blocking: bool) {
        self.families
            .drift_findings
            .get_or_create(&self.server)
            .set(i64::try_from(findings).unwrap_or(i64::MAX));
        self.families
            .drift_blocking
            .get_or_create(&self.server)
            .set(i64::from(blocking));
    }
}

fn member_label(member: usize) -> MemberLabel {
    MemberLabel {
        member: u32::try_from(member).unwrap_or(u32::MAX),
    }
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlightGuard(Arc<Metrics>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0
            .families
            .in_flight
            .get_or_create(&self.0.server)
            .dec();
    }
}

/// Decrements the queue-depth gauge when dropped.
pub struct QueuedGuard(Arc<Metrics>);

impl Drop for QueuedGuard {
    fn drop(&mut self) {
        self.0.families.queued.get_or_create(&self.0.server).dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_prometheus_text_with_every_tool_and_member() {
        let mut registry = MetricsRegistry::default();
        let metrics = registry.server("", &["echo", "sleeps"], 2);
        metrics.record_call("echo", 200, Duration::from_millis(3));
        metrics.upstream_state(1, true);
        {
            let _queued = metrics.enter_queue();
            assert!(registry.render().contains("mcpo_queue_depth 1\n"));
        }
        let page = registry.render();
        assert!(
            page.contains("mcpo_tool_calls_total{tool=\"echo\",status=\"200\"} 1\n"),
            "{page}"
        );
        assert!(page.contains("mcpo_tool_call_duration_seconds_count{tool=\"sleeps\"} 0\n"));
        assert!(page.contains("mcpo_upstream_up{member=\"1\"} 1\n"));
        assert!(page.contains("mcpo_upstream_up{member=\"0\"} 0\n"));
        assert!(page.contains("mcpo_queue_depth 0\n"));
        assert!(page.contains("# TYPE mcpo_tool_calls_total counter\n"));
        assert!(!page.contains("# EOF"));
    }

    #[test]
    fn servers_of_a_multi_server_crate_are_labelled() {
        let mut registry = MetricsRegistry::default();
        let time = registry.server("time", &["now"], 1);
        let memory = registry.server("memory", &["now"], 1);
        time.record_call("now", 200, Duration::from_millis(1));
        memory.upstream_state(0, true);
        let page = registry.render();
        assert!(
            page.contains("mcpo_tool_calls_total{server=\"time\",tool=\"now\",status=\"200\"} 1\n"),
            "{page}"
        );
        assert!(
            page.contains("mcpo_upstream_up{server=\"memory\",member=\"0\"} 1\n"),
            "{page}"
        );
        assert!(
            page.contains("mcpo_upstream_up{server=\"time\",member=\"0\"} 0\n"),
            "{page}"
        );
    }
}
