//! `GET {root}/metrics`: the proxy's counters in the Prometheus text format
//! (0.0.4), through `prometheus-client`.
//!
//! Labels are tool names from the lock, HTTP status codes and pool member
//! numbers only: never an argument, a header value, a key or a URL, so the
//! page leaks nothing a caller sent and its size is bounded by the lock.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    tool: &'static str,
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

/// What `/metrics` renders: every server's [`Metrics`], those of a
/// multi-server crate's servers labelled `server="NAME"`.
pub struct MetricsRegistry {
    registry: Registry,
}

impl Default for MetricsRegistry {
    fn default() -> Self {
        MetricsRegistry {
            registry: Registry::with_prefix("mcpo"),
        }
    }
}

impl MetricsRegistry {
    /// The metrics of the server `name` (`""`: the one server of a
    /// single-server crate, unlabelled).
    pub fn server(&mut self, name: &str, tools: &[&'static str], pool_size: usize) -> Arc<Metrics> {
        let registry = if name.is_empty() {
            &mut self.registry
        } else {
            self.registry
                .sub_registry_with_label(("server".into(), name.to_string().into()))
        };
        Metrics::register(registry, tools, pool_size)
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

/// Every metric of one server; shared (`Arc`) by the pipeline, the limiter
/// and the upstream supervisors.
pub struct Metrics {
    calls: Family<CallLabels, Counter>,
    latency: Family<ToolLabel, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    queued: Gauge,
    rejected: Counter,
    upstream_up: Family<MemberLabel, Gauge>,
    upstream_restarts: Family<MemberLabel, Counter>,
    upstream_calls: Family<MemberLabel, Counter>,
    drift_findings: Gauge,
    drift_blocking: Gauge,
}

impl Metrics {
    /// Metrics of their own registry (tests).
    #[cfg(test)]
    pub fn new(tools: &[&'static str], pool_size: usize) -> Arc<Metrics> {
        Self::register(&mut Registry::default(), tools, pool_size)
    }

    /// Registers every metric at zero in `registry`. `tools` are registered
    /// at once so each tool's series exists before its first call.
    fn register(registry: &mut Registry, tools: &[&'static str], pool_size: usize) -> Arc<Metrics> {
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "tool_calls",
            "Tool calls answered, by tool and HTTP status",
            calls.clone(),
        );
        let latency = Family::<ToolLabel, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "tool_call_duration_seconds",
            "Time from a tool call's arrival to its answer, queueing included",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "tool_calls_in_flight",
            "Tool calls being handled by the upstream right now",
            in_flight.clone(),
        );
        let queued = Gauge::default();
        registry.register(
            "queue_depth",
            "Tool calls waiting for a --max-concurrency slot",
            queued.clone(),
        );
        let rejected = Counter::default();
        registry.register(
            "queue_rejected",
            "Tool calls refused with 503 because the queue was full or the wait ran out",
            rejected.clone(),
        );
        let upstream_up = Family::<MemberLabel, Gauge>::default();
        registry.register(
            "upstream_up",
            "1 while the upstream (pool member) is connected, else 0",
            upstream_up.clone(),
        );
        let upstream_restarts = Family::<MemberLabel, Counter>::default();
        registry.register(
            "upstream_restarts",
            "Reconnections (respawns of a stdio server) after the first connection",
            upstream_restarts.clone(),
        );
        let upstream_calls = Family::<MemberLabel, Counter>::default();
        registry.register(
            "upstream_calls",
            "Tool calls sent to each upstream (pool member)",
            upstream_calls.clone(),
        );
        let drift_findings = Gauge::default();
        registry.register(
            "drift_findings",
            "Differences between the live tools and mcp.lock.json at the last check",
            drift_findings.clone(),
        );
        let drift_blocking = Gauge::default();
        registry.register(
            "drift_blocking",
            "1 while --on-drift fail refuses tool calls, else 0",
            drift_blocking.clone(),
        );
        for &tool in tools {
            let _ = latency.get_or_create(&ToolLabel { tool });
        }
        for member in 0..pool_size {
            let member = MemberLabel {
                member: u32::try_from(member).unwrap_or(u32::MAX),
            };
            upstream_up.get_or_create(&member).set(0);
            let _ = upstream_restarts.get_or_create(&member);
            let _ = upstream_calls.get_or_create(&member);
        }
        Arc::new(Metrics {
            calls,
            latency,
            in_flight,
            queued,
            rejected,
            upstream_up,
            upstream_restarts,
            upstream_calls,
            drift_findings,
            drift_blocking,
        })
    }

    /// A tool call was answered with `status` after `elapsed`.
    pub fn record_call(&self, tool: &'static str, status: u16, elapsed: Duration) {
        self.calls.get_or_create(&CallLabels { tool, status }).inc();
        self.latency
            .get_or_create(&ToolLabel { tool })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a call at the upstream until the guard is dropped.
    pub fn enter_upstream(self: &Arc<Self>, member: usize) -> InFlightGuard {
        self.in_flight.inc();
        self.upstream_calls
            .get_or_create(&member_label(member))
            .inc();
        InFlightGuard(Arc::clone(self))
    }

    /// Counts a call in the queue until the guard is dropped.
    pub fn enter_queue(self: &Arc<Self>) -> QueuedGuard {
        self.queued.inc();
        QueuedGuard(Arc::clone(self))
    }

    /// A call was refused by the limiter.
    pub fn rejected(&self) {
        self.rejected.inc();
    }

    /// Pool member `member` connected (`true`) or lost its connection.
    pub fn upstream_state(&self, member: usize, up: bool) {
        self.upstream_up
            .get_or_create(&member_label(member))
            .set(i64::from(up));
    }

    /// Pool member `member` connected again after a loss.
    pub fn upstream_restarted(&self, member: usize) {
        self.upstream_restarts
            .get_or_create(&member_label(member))
            .inc();
    }

    /// The result of the last drift check.
    pub fn drift(&self, findings: usize, blocking: bool) {
        self.drift_findings
            .set(i64::try_from(findings).unwrap_or(i64::MAX));
        self.drift_blocking.set(i64::from(blocking));
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
        self.0.in_flight.dec();
    }
}

/// Decrements the queue-depth gauge when dropped.
pub struct QueuedGuard(Arc<Metrics>);

impl Drop for QueuedGuard {
    fn drop(&mut self) {
        self.0.queued.dec();
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
