//! The `Host` header check (`--allowed-hosts`), against DNS rebinding: a web
//! page on `evil.example` whose name is made to resolve to 127.0.0.1 reaches
//! a proxy on loopback as a same-origin request, but its `Host` still says
//! `evil.example`.
//!
//! And HTTP/1.1's own rules for the host (RFC 9112 §3.2): an HTTP/1.1
//! request without `Host`, or with more than one, is 400; a request whose
//! target is in absolute form (`GET http://name/path`) is for the target's
//! host, whatever `Host` says (§3.2.2), so that is the one checked.

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
    /// Only these names (lower case, no port); `*.example.com` stands for
    /// every subdomain of `example.com` (not `example.com` itself).
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
                    let subdomain_of = |parent: &str| {
                        host.strip_suffix(parent)
                            .and_then(|label| label.strip_suffix('.'))
                            .is_some_and(|label| !label.is_empty())
                    };
                    *name == host
                        || (name == "localhost" && subdomain_of("localhost"))
                        || name.strip_prefix("*.").is_some_and(subdomain_of)
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

/// `--allowed-hosts`' value parser: a wildcard is `*` (any host) or a
/// leading `*.` label (`*.example.com`: any subdomain); a `*` anywhere else
/// would match nothing, so it is refused at startup.
pub(crate) fn parse_allowed_host(text: &str) -> Result<String, String> {
    let name = text.trim();
    let usable = match name.strip_prefix("*.") {
        _ if name == "*" => true,
        Some(parent) => !parent.is_empty() && !parent.contains('*'),
        None => !name.contains('*'),
    };
    if usable {
        return Ok(text.to_string());
    }
    Err(format!(
        "{name:?}: a wildcard is either `*` alone (any host) or a leading `*.` label, \
         as in `*.example.com` (its subdomains)"
    ))
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

/// The host a request is for (RFC 9112 §3.2): the authority of an
/// absolute-form target, or else the one `Host` header (`None` without one).
/// Missing in an HTTP/1.1 request, or given twice: 400.
fn request_host(request: &Request) -> Result<Option<String>, ApiError> {
    let mut headers = request.headers().get_all(header::HOST).iter();
    let (header, another) = (headers.next(), headers.next());
    if another.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "More than one Host header; send exactly one",
        ));
    }
    if header.is_none() && request.version() == axum::http::Version::HTTP_11 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Missing Host header; HTTP/1.1 requests need one",
        ));
    }
    // The absolute form's authority wins over `Host`.
    if let Some(authority) = request.uri().authority() {
        return Ok(Some(authority.host().to_string()));
    }
    Ok(header.map(|value| value.to_str().unwrap_or("\u{fffd}").to_string()))
}

/// Middleware: 400 `{"detail": ...}` for a request without a valid host
/// ([`request_host`]) or for a host that is not allowed.
pub async fn check_host(
    State(allowed): State<std::sync::Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = match request_host(&request) {
        Ok(host) => host,
        Err(error) => return error.into_response(),
    };
    // Liveness tells a page nothing worth rebinding for, and a container's
    // health check (Host: localhost) must work whatever --allowed-hosts says.
    // GET only: a tool named `healthz` is `POST /healthz`, and stays checked.
    let liveness =
        request.method() == axum::http::Method::GET && request.uri().path().ends_with("/healthz");
    if liveness || allowed.allows(host.as_deref()) {
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
    fn a_leading_wildcard_label_allows_subdomains() {
        let allowed = AllowedHosts::new(&["*.Example.com".into(), "exact.test".into()], "0.0.0.0");
        for host in ["a.example.com", "a.b.example.com:8000", "A.EXAMPLE.COM."] {
            assert!(allowed.allows(Some(host)), "{host}");
        }
        for host in [
            "example.com",
            ".example.com",
            "aexample.com",
            "example.com.evil.test",
            "a.exact.test",
        ] {
            assert!(!allowed.allows(Some(host)), "{host}");
        }
        assert!(allowed.allows(Some("exact.test")));
    }

    #[test]
    fn wildcards_that_would_match_nothing_are_refused() {
        for good in [
            "*",
            " * ",
            "*.example.com",
            "example.com",
            "[::1]",
            "127.0.0.1",
        ] {
            assert_eq!(parse_allowed_host(good), Ok(good.to_string()));
        }
        for bad in [
            "*.",
            "**",
            "*example.com",
            "a.*.com",
            "example.*",
            "*.*.example.com",
        ] {
            let error = parse_allowed_host(bad).err().unwrap_or_default();
            assert!(error.contains("`*.example.com`"), "{bad}: {error}");
        }
    }

    fn request(version: axum::http::Version, target: &str, hosts: &[&str]) -> Request {
        let mut builder = Request::builder().version(version).uri(target);
        for host in hosts {
            builder = builder.header(header::HOST, *host);
        }
        builder.body(axum::body::Body::empty()).unwrap_or_default()
    }

    #[test]
    fn a_request_is_for_its_one_host_or_its_absolute_target() {
        use axum::http::Version;
        let host = |version, target, hosts: &[&str]| {
            request_host(&request(version, target, hosts)).map_err(|error| error.detail)
        };
        assert_eq!(
            host(Version::HTTP_11, "/x", &["a.test:1"]),
            Ok(Some("a.test:1".into()))
        );
        assert_eq!(
            host(Version::HTTP_11, "/x", &[]),
            Err("Missing Host header; HTTP/1.1 requests need one".into())
        );
        // HTTP/1.0 had no Host.
        assert_eq!(host(Version::HTTP_10, "/x", &[]), Ok(None));
        assert_eq!(
            host(Version::HTTP_11, "/x", &["a.test", "b.test"]),
            Err("More than one Host header; send exactly one".into())
        );
        assert_eq!(
            host(Version::HTTP_11, "http://evil.example:9/x", &["localhost"]),
            Ok(Some("evil.example".into()))
        );
        assert_eq!(
            host(Version::HTTP_10, "http://user@[::1]:9/x", &[]),
            Ok(Some("[::1]".into()))
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
