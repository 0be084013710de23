//! OpenTelemetry traces (`--otel-endpoint`, built with the `otel` feature):
//! one span per tool call, continuing the client's W3C `traceparent`,
//! exported over OTLP/HTTP (protobuf), and the call's trace context carried
//! to the MCP server in the `tools/call` request's `params._meta`.
//!
//! What a span holds is fixed here and nowhere else: the tool, the server
//! (multi-server proxies), the HTTP status and the upstream pool member.
//! Never arguments, header values, API keys or URLs: only the span of this
//! module reaches the exporter (the proxy's log events stay in the log).
//!
//! Without the feature every hook is a no-op and `--otel-endpoint` is refused
//! at startup ([`check_flag`]).

use crate::error::ConfigError;

/// The `tracing` target of the tool-call span: the exporter sees this
/// target only, and the log leaves it out.
const SPAN_TARGET: &str = "mcpo_otel";

/// The span's name.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) const SPAN_NAME: &str = "mcp.tool_call";

/// `--otel-endpoint` is refused without the feature (exit 2), and must be an
/// http(s) URL with it.
pub(crate) fn check_flag(endpoint: Option<&str>) -> Result<(), ConfigError> {
    let Some(endpoint) = endpoint else {
        return Ok(());
    };
    if !cfg!(feature = "otel") {
        return Err(ConfigError(
            "--otel-endpoint: this proxy was built without the otel feature: \
             rebuild with --features otel"
                .into(),
        ));
    }
    // The value is not echoed: its query string may hold a token.
    let scheme_ok = endpoint.starts_with("http://") || endpoint.starts_with("https://");
    if !scheme_ok || endpoint.parse::<http::Uri>().is_err() {
        return Err(ConfigError(
            "--otel-endpoint: expected the collector's http:// or https:// URL, \
             e.g. http://127.0.0.1:4318"
                .into(),
        ));
    }
    Ok(())
}

/// The OTLP/HTTP traces URL for `--otel-endpoint`: a base URL, as
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is, gets `/v1/traces` appended.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_string()
    } else {
        format!("{base}/v1/traces")
    }
}

#[cfg(not(feature = "otel"))]
mod imp {
    use axum::http::HeaderMap;
    use rmcp::model::CallToolRequestParams;

    /// Nothing to export without the feature.
    pub(crate) struct Telemetry;

    impl Telemetry {
        pub(crate) fn start(
            _endpoint: Option<&str>,
            _service_name: &str,
        ) -> Result<Telemetry, super::ConfigError> {
            Ok(Telemetry)
        }

        pub(crate) fn layer(&self) -> Option<super::Layer> {
            None
        }

        /// Logs when the environment asks for traces this build cannot send.
        pub(crate) fn log_state(&self) {
            if super::env_endpoint().is_some() {
                tracing::warn!(
                    "OTEL_EXPORTER_OTLP_ENDPOINT is set, but this proxy was built without the \
                     otel feature: no traces are exported (rebuild with --features otel)"
                );
            }
        }

        pub(crate) fn shutdown(self) {}
    }

    pub(crate) fn tool_call_span(
        _tool: &str,
        _server: &str,
        _headers: &HeaderMap,
    ) -> tracing::Span {
        tracing::Span::none()
    }

    pub(crate) fn record_member(_member: usize) {}

    pub(crate) fn record_status(_span: &tracing::Span, _status: u16) {}

    pub(crate) fn carry_context(_params: &mut CallToolRequestParams) {}
}

#[cfg(feature = "otel")]
mod imp {
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::http::HeaderMap;
    use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, WithExportConfig as _};
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use rmcp::model::{CallToolRequestParams, RequestParamsMeta as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::Layer as _;

    use super::{SPAN_NAME, SPAN_TARGET};

    /// Whether a tracer is installed: spans are made only then.
    static ACTIVE: AtomicBool = AtomicBool::new(false);

    /// The tracer provider while traces are exported.
    pub(crate) struct Telemetry {
        provider: Option<SdkTracerProvider>,
    }

    impl Telemetry {
        /// Builds the exporter when `--otel-endpoint` (or
        /// `MCPO_OTEL_ENDPOINT`) is given, or else the standard
        /// `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` is set. Call it outside
        /// the async runtime: the exporter's blocking HTTP client owns one.
        pub(crate) fn start(
            endpoint: Option<&str>,
            service_name: &str,
        ) -> Result<Telemetry, super::ConfigError> {
            let disabled = std::env::var("OTEL_SDK_DISABLED")
                .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"));
            if endpoint.is_none() && (disabled || super::env_endpoint().is_none()) {
                return Ok(Telemetry { provider: None });
            }
            let builder = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary);
            let builder = match endpoint {
                Some(endpoint) => builder.with_endpoint(super::traces_url(endpoint)),
                // The SDK reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT itself.
                None => builder,
            };
            let exporter = builder.build().map_err(|error| {
                // The SDK's message may quote the URL (and a token in it).
                let mut message = error.to_string();
                for url in endpoint
                    .into_iter()
                    .map(str::to_string)
                    .chain(super::env_endpoint())
                {
                    message = message.replace(&url, "<endpoint>");
                }
                super::ConfigError(format!("cannot set up the OTLP trace exporter: {message}"))
            })?;
            let mut resource = opentelemetry_sdk::Resource::builder();
            // OTEL_SERVICE_NAME (read by the SDK) wins over the crate's name.
            if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
                resource = resource.with_service_name(service_name.to_string());
            }
            let provider = SdkTracerProvider::builder()
                .with_resource(resource.build())
                .with_batch_exporter(exporter)
                .build();
            Ok(Telemetry {
                provider: Some(provider),
            })
        }

        /// The layer turning the tool-call span into OpenTelemetry spans, and
        /// nothing else: events (the log) and other spans never reach it.
        pub(crate) fn layer(&self) -> Option<super::Layer> {
            let provider = self.provider.as_ref()?;
            ACTIVE.store(true, Ordering::Relaxed);
            Some(Box::new(exporting_layer(provider)))
        }

        pub(crate) fn log_state(&self) {
            if self.provider.is_some() {
                tracing::info!(
                    "OpenTelemetry: exporting a {SPAN_NAME} span per tool call over OTLP/HTTP"
                );
            }
        }

        /// Sends the spans still buffered; after the HTTP server has drained.
        pub(crate) fn shutdown(self) {
            let Some(provider) = self.provider else {
                return;
            };
            ACTIVE.store(false, Ordering::Relaxed);
            if let Err(error) = provider.shutdown() {
                // Only the error's kind: a transport error may quote the URL.
                eprintln!("warning: OpenTelemetry: the last spans may be lost ({error:?})");
            }
        }
    }

    pub(super) fn exporting_layer(
        provider: &SdkTracerProvider,
    ) -> impl tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("mcpo-runtime"))
            .with_location(false)
            .with_threads(false)
            .with_target(false)
            .with_level(false)
            .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
                metadata.target() == SPAN_TARGET
            }))
    }

    /// The span of one tool call, child of the client's `traceparent` (and
    /// `tracestate`) when it sent one; `Span::none()` when no traces are
    /// exported.
    pub(crate) fn tool_call_span(tool: &str, server: &str, headers: &HeaderMap) -> tracing::Span {
        if !ACTIVE.load(Ordering::Relaxed) {
            return tracing::Span::none();
        }
        new_span(tool, server, headers)
    }

    pub(super) fn new_span(tool: &str, server: &str, headers: &HeaderMap) -> tracing::Span {
        let span = tracing::info_span!(
            target: SPAN_TARGET,
            SPAN_NAME,
            otel.kind = "server",
            mcp.method.name = "tools/call",
            gen_ai.tool.name = tool,
            mcpo.server.name = tracing::field::Empty,
            mcpo.upstream.member = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        if !server.is_empty() {
            span.record("mcpo.server.name", server);
        }
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let _ = span.set_parent(parent);
        span
    }

    /// The pool member the call went to, on the current tool-call span.
    pub(crate) fn record_member(member: usize) {
        tracing::Span::current().record("mcpo.upstream.member", member as u64);
    }

    /// The HTTP status answered; 5xx marks the span as an error.
    pub(crate) fn record_status(span: &tracing::Span, status: u16) {
        span.record("http.response.status_code", u64::from(status));
        if status >= 500 {
            span.record("otel.status_code", "error");
        }
    }

    /// Puts the current span's `traceparent` (and `tracestate`) into the
    /// request's `_meta`, as MCP's SEP-414 reserves them.
    pub(crate) fn carry_context(params: &mut CallToolRequestParams) {
        let context = tracing::Span::current().context();
        TraceContextPropagator::new().inject_context(&context, &mut MetaInjector(params));
    }

    /// Reads the W3C headers from the request; other headers are never
    /// asked for.
    struct HeaderExtractor<'a>(&'a HeaderMap);

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|value| value.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|name| name.as_str()).collect()
        }
    }

    struct MetaInjector<'a>(&'a mut CallToolRequestParams);

    impl Injector for MetaInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            match key {
                "traceparent" => self.0.set_traceparent(&value),
                "tracestate" => self.0.set_tracestate(&value),
                _ => {}
            }
        }
    }
}

pub(crate) use imp::*;

/// The exporting layer, boxed: the proxy's subscriber takes it or `None`.
pub(crate) type Layer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

/// The log's filter, with the tool-call span left out (it is for the
/// exporter; the log keeps its own lines as they are).
pub(crate) fn without_spans(
    filter: tracing_subscriber::EnvFilter,
) -> tracing_subscriber::EnvFilter {
    match format!("{SPAN_TARGET}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// The standard OTLP endpoint variables, when set and not empty.
fn env_endpoint() -> Option<String> {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .into_iter()
    .filter_map(|name| std::env::var(name).ok())
    .find(|value| !value.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_go_to_v1_traces_under_the_endpoint() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318"),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector/otlp/"),
            "http://collector/otlp/v1/traces"
        );
        assert_eq!(
            traces_url("https://c:4318/v1/traces"),
            "https://c:4318/v1/traces"
        );
    }

    #[cfg(not(feature = "otel"))]
    #[test]
    fn the_flag_needs_the_feature() {
        assert_eq!(check_flag(None), Ok(()));
        let error = check_flag(Some("http://127.0.0.1:4318"));
        assert!(error.is_err_and(|error| {
            error
                .0
                .contains("built without the otel feature: rebuild with --features otel")
        }),);
    }

    #[cfg(feature = "otel")]
    #[test]
    fn the_flag_takes_an_http_url_and_never_echoes_it() {
        assert_eq!(check_flag(Some("http://127.0.0.1:4318")), Ok(()));
        assert_eq!(check_flag(Some("https://c.example/otlp?k=v")), Ok(()));
        for bad in ["127.0.0.1:4318", "ftp://c/sekrit", "http://bad host/sekrit"] {
            let error = check_flag(Some(bad));
            assert!(
                error
                    .as_ref()
                    .is_err_and(|error| !error.0.contains("sekrit")),
                "{bad}: {error:?}"
            );
        }
    }

    /// The client's trace continues: the upstream's `traceparent` has the
    /// incoming trace id and a new span id (the tool call's), and
    /// `tracestate` is passed on.
    #[cfg(feature = "otel")]
    #[test]
    fn the_incoming_trace_reaches_the_upstream_meta() {
        use rmcp::model::{CallToolRequestParams, RequestParamsMeta as _};
        use tracing_subscriber::layer::SubscriberExt as _;

        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry().with(imp::exporting_layer(&provider));
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        headers.insert("tracestate", "vendor=opaque".parse().unwrap());
        let mut params = CallToolRequestParams::new("echo");
        tracing::subscriber::with_default(subscriber, || {
            let span = imp::new_span("echo", "", &headers);
            let _entered = span.enter();
            carry_context(&mut params);
        });
        let traceparent = params.traceparent().unwrap_or_default().to_string();
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "{traceparent}");
        assert_eq!(parts[1], "0af7651916cd43dd8448eb211c80319c");
        assert_ne!(
            parts[2], "b7ad6b7169203331",
            "a child span, not the client's"
        );
        assert_eq!(parts[3], "01");
        assert_eq!(params.tracestate(), Some("vendor=opaque"));
        // Nothing else went into _meta.
        assert_eq!(params.meta.map(|meta| meta.0.0.len()), Some(2));
    }

    /// Without a tool-call span (traces off) nothing is added to `_meta`.
    #[test]
    fn no_span_no_meta() {
        let mut params = rmcp::model::CallToolRequestParams::new("echo");
        carry_context(&mut params);
        assert_eq!(params.meta, None);
    }
}
