//! The `Host` header check (`--allowed-hosts`), against DNS rebinding: a web
//! page on `evil.example` whose name is made to resolve to 127.0.0.1 reaches
//! a proxy on loopback as a same-origin request, but its `Host` still says
//! `evil.example`.

use std::net::IpAddr;

use axum::{
    extract::{Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::error::ApiError;

/// Which `Host` values are answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedHosts {
    /// Any host (bound to all interfaces, or `--allowed-hosts '*'`).
    Any,
    /// Only these names (lower case, no port).
    Only(Vec<String>),
}

impl AllowedHosts {
    /// From `--allowed-hosts` (empty: not given) and the `--host` the proxy
    /// listens on: by default a proxy on loopback answers loopback names
    /// only, and one on all interfaces (the default, as mcpo) answers any.
    pub fn new(flag: &[String], listen_host: &str) -> Self {
        let given: Vec<String> = flag
            .iter()
            .map(|host| normalize(host))
            .filter(|host| !host.is_empty())
            .collect();
        if given.iter().any(|host| host == "*") {
            return AllowedHosts::Any;
        }
        if !given.is_empty() {
            return AllowedHosts::Only(given);
        }
        if is_loopback(listen_host) {
            let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
                .into_iter()
                .map(String::from)
                .collect();
            let listen = normalize(listen_host);
            if !names.contains(&listen) {
                names.push(listen);
            }
            AllowedHosts::Only(names)
        } else {
            AllowedHosts::Any
        }
    }

    /// Whether a request with this `Host` value is answered. A request with
    /// no `Host` (HTTP/1.0 tools) is: browsers always send one.
    pub fn allows(&self, host_header: Option<&str>) -> bool {
        match (self, host_header) {
            (AllowedHosts::Any, _) | (_, None) => true,
            (AllowedHosts::Only(names), Some(value)) => {
                let host = normalize(value);
                names.iter().any(|name| {
                    *name == host || (name == "localhost" && host.ends_with(".localhost"))
                })
            }
        }
    }

    /// For the startup log.
    pub fn describe(&self) -> String {
        match self {
            AllowedHosts::Any => "any".into(),
            AllowedHosts::Only(names) => names.join(", "),
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let host = normalize(host);
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A host name without port or IPv6 brackets, lower case:
/// `Example.COM:8000` -> `example.com`, `[::1]:8000` -> `::1`.
fn normalize(value: &str) -> String {
    let value = value.trim().to_ascii_lowercase();
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default().to_string();
    }
    // One colon is a port; more is a bare IPv6 address.
    match value.matches(':').count() {
        1 => value.split(':').next().unwrap_or_default().to_string(),
        _ => value.trim_end_matches('.').to_string(),
    }
    .trim_end_matches('.')
    .to_string()
}

/// Middleware: 400 `{"detail": ...}` for a `Host` that is not allowed.
pub async fn check_host(
    State(allowed): State<std::sync::Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .map(|value| value.to_str().unwrap_or("\u{fffd}"));
    // Liveness tells a page nothing worth rebinding for, and a container's
    // health check (Host: localhost) must work whatever --allowed-hosts says.
    // GET only: a tool named `healthz` is `POST /healthz`, and stays checked.
    let liveness =
        request.method() == axum::http::Method::GET && request.uri().path().ends_with("/healthz");
    if liveness || allowed.allows(host) {
        return next.run(request).await;
    }
    tracing::warn!(
        host = host.unwrap_or_default(),
        "refused a request for a host name that is not allowed (--allowed-hosts)"
    );
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "Host not allowed; the proxy answers only the names in --allowed-hosts",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_binding_allows_loopback_names_only() {
        let allowed = AllowedHosts::new(&[], "127.0.0.1");
        for host in [
            "localhost",
            "localhost:8000",
            "127.0.0.1:8000",
            "[::1]:8000",
            "api.localhost:1",
            "LOCALHOST",
        ] {
            assert!(allowed.allows(Some(host)), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8000",
            "127.0.0.1.evil.example",
            "",
        ] {
            assert!(!allowed.allows(Some(host)), "{host}");
        }
        assert!(allowed.allows(None));
    }

    #[test]
    fn all_interfaces_allow_any_host_unless_listed() {
        assert_eq!(AllowedHosts::new(&[], "0.0.0.0"), AllowedHosts::Any);
        assert_eq!(AllowedHosts::new(&[], "::"), AllowedHosts::Any);
        let listed = AllowedHosts::new(&["proxy.internal".into()], "0.0.0.0");
        assert!(listed.allows(Some("proxy.internal:8000")));
        assert!(!listed.allows(Some("localhost:8000")));
        assert_eq!(
            AllowedHosts::new(&["*".into()], "127.0.0.1"),
            AllowedHosts::Any
        );
    }

    #[test]
    fn host_values_are_normalized() {
        assert_eq!(normalize("Example.COM:8000"), "example.com");
        assert_eq!(normalize("[::1]:8000"), "::1");
        assert_eq!(normalize("::1"), "::1");
        assert_eq!(normalize("example.com."), "example.com");
    }
}
