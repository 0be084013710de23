//! Who may call what, for one server: the caller's identity
//! ([`crate::identity`]), the lock's access policy, per-caller rate limits
//! and the audit log. REST routes and the MCP gateway both go through it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::Value;

use crate::audit::{AuditEntry, AuditLog};
use crate::error::ApiError;
use crate::identity::forward::ForwardIdentity;
use crate::identity::{Authenticator, Caller};
use crate::lock::{AccessPolicy, CallerFacts, Item};
use crate::rate_limit::RateLimiter;

/// The checks every call of one server passes.
#[derive(Clone, Default)]
pub(crate) struct Access {
    pub(crate) auth: Authenticator,
    /// The lock's policy; `None`: every caller that authenticates may use
    /// everything.
    pub(crate) policy: Option<Arc<AccessPolicy>>,
    /// The locked tools annotated `destructiveHint: true`.
    pub(crate) destructive: Arc<HashSet<String>>,
    pub(crate) rate_limiter: Option<Arc<RateLimiter>>,
    pub(crate) audit: Option<AuditLog>,
    /// `--audit-arguments`.
    pub(crate) audit_arguments: bool,
    /// The server's `forwardIdentity`, from the runtime `--config`.
    pub(crate) forward: Option<ForwardIdentity>,
}

/// The parts every server of the proxy shares, from the flags: the
/// authenticator (which fetches the issuer's keys now, so a wrong
/// `--jwt-issuer` fails at startup), the rate limiter and the audit log.
pub(crate) async fn shared_access(
    cli: &crate::cli::Cli,
    keys: crate::auth::ApiKeys,
    root_path: &str,
    https: bool,
) -> Result<Access, crate::cli::ConfigError> {
    use crate::cli::ConfigError;
    let oidc = if cli.jwt_issuer.is_some() || cli.jwks_url.is_some() {
        let settings = crate::identity::jwt::JwtSettings {
            issuer: cli.jwt_issuer.clone(),
            audience: cli.jwt_audience.clone(),
            jwks_url: cli.jwks_url.clone(),
        };
        let verifier = crate::identity::jwt::OidcVerifier::start(settings, reqwest::Client::new())
            .await
            .map_err(ConfigError)?;
        tracing::info!(
            issuer = verifier.issuer().unwrap_or("(any: --jwks-url)"),
            "caller JWTs are verified"
        );
        Some(verifier)
    } else {
        None
    };
    if cli.openwebui_jwt_secret.is_some() {
        tracing::info!("Open WebUI's X-OpenWebUI-User-Jwt is verified");
    }
    let auth = Authenticator::new(crate::identity::AuthSettings {
        keys,
        oidc,
        openwebui_secret: cli.openwebui_jwt_secret.clone(),
        audience: cli.jwt_audience.clone(),
        root_path: root_path.to_string(),
        https,
    });
    let per_tool: std::collections::HashMap<String, crate::rate_limit::Rate> =
        cli.tool_rate_limits.iter().cloned().collect();
    let rate_limiter = Some(RateLimiter::new(cli.rate_limit, per_tool))
        .filter(RateLimiter::is_enabled)
        .map(Arc::new);
    let audit = match &cli.audit_log {
        Some(target) => Some(
            AuditLog::open(&crate::audit::parse_target(target))
                .map_err(|reason| ConfigError(format!("--audit-log: {reason}")))?,
        ),
        None => None,
    };
    Ok(Access {
        auth,
        rate_limiter,
        audit,
        audit_arguments: cli.audit_arguments,
        ..Access::default()
    })
}

/// A config entry's `forwardIdentity`. Headers (and the caller's token)
/// ride on the HTTP request of the call, which only an HTTP upstream
/// (streamable HTTP, SSE) has: a stdio upstream gets the identity in
/// `_meta` only, and the operator is told so.
fn forward_of(entry: &crate::config::ServerEntry) -> Option<ForwardIdentity> {
    let mut forward = entry.forward_identity.clone()?;
    let over_http = !matches!(entry.upstream(), crate::lock::Upstream::Stdio { .. });
    if !over_http && (forward.token || !forward.headers.is_empty()) {
        tracing::warn!(
            "forwardIdentity: headers and the caller's token go only to HTTP upstreams; \
             this stdio server gets the identity in _meta only"
        );
        forward.headers.clear();
        forward.token = false;
    }
    Some(forward)
}

/// What a caller uses, by kind, for the policy and the audit log.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Use<'a> {
    Tool(&'a str),
    Resource(&'a str),
    Prompt(&'a str),
}

impl<'a> Use<'a> {
    /// Its kind as the audit log and refusals name it, and its name.
    fn kind_and_name(self) -> (&'static str, &'a str) {
        match self {
            Use::Tool(name) => ("tool", name),
            Use::Resource(uri) => ("resource", uri),
            Use::Prompt(name) => ("prompt", name),
        }
    }
}

/// What an audit line is about: a use, or another request about one (a
/// completion of a prompt's argument, an async task's result, cancel or
/// form answer, named by its tool).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Audited<'a> {
    pub(crate) kind: &'static str,
    pub(crate) name: &'a str,
}

impl<'a> From<Use<'a>> for Audited<'a> {
    fn from(what: Use<'a>) -> Self {
        let (kind, name) = what.kind_and_name();
        Audited { kind, name }
    }
}

impl Access {
    /// The shared parts with one server's own: its lock's policy and
    /// destructive tools, its config entry's `forwardIdentity`.
    pub(crate) fn for_server(
        &self,
        lock: &crate::lock::Lock,
        entry: Option<&crate::config::ServerEntry>,
    ) -> Access {
        let destructive = lock
            .tools
            .iter()
            .filter(|tool| crate::lock::is_destructive(&tool.definition))
            .map(|tool| tool.name.clone())
            .collect();
        Access {
            policy: lock.proxy_crate.policy.clone().map(Arc::new),
            destructive: Arc::new(destructive),
            forward: entry.and_then(forward_of),
            ..self.clone()
        }
    }

    /// Whether an authenticated caller may use `what`: the policy (403)
    /// and, for a tool, the caller's rate (429).
    pub(crate) fn admit(
        &self,
        caller: &Caller,
        server: &str,
        what: Use<'_>,
    ) -> Result<(), ApiError> {
        self.permit(caller, server, what)?;
        if let Use::Tool(tool) = what {
            self.take_rate(caller, tool)?;
        }
        Ok(())
    }

    /// The policy's answer for an authenticated caller: 403, with
    /// `insufficient_scope` and the scopes that would do when grants ask
    /// for scopes.
    pub(crate) fn permit(
        &self,
        caller: &Caller,
        server: &str,
        what: Use<'_>,
    ) -> Result<(), ApiError> {
        let Some(policy) = &self.policy else {
            return Ok(());
        };
        if self.shows(caller, server, what) {
            return Ok(());
        }
        let item = self.item(what);
        let (kind, name) = what.kind_and_name();
        let mut error = ApiError::new(
            StatusCode::FORBIDDEN,
            format!("The access policy does not allow this caller to use the {kind} {name:?}"),
        );
        let scopes = policy.scopes_for(server, item);
        if !scopes.is_empty() {
            let scopes: Vec<&str> = scopes.into_iter().collect();
            error = error.with_challenge(format!(
                r#"Bearer error="insufficient_scope", scope="{}""#,
                scopes.join(" ")
            ));
        }
        Err(error)
    }

    /// Whether the policy lets `caller` see `what` (lists, documents): the
    /// answer of [`Access::permit`], without building its refusal.
    pub(crate) fn shows(&self, caller: &Caller, server: &str, what: Use<'_>) -> bool {
        self.policy
            .as_ref()
            .is_none_or(|policy| policy.allows(&facts(caller), server, self.item(what)))
    }

    fn take_rate(&self, caller: &Caller, tool: &str) -> Result<(), ApiError> {
        let Some(limiter) = &self.rate_limiter else {
            return Ok(());
        };
        match limiter.take(&caller.rate_key(), tool) {
            Ok(_) => Ok(()),
            Err(limited) => {
                let mut error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Rate limit reached: at most {} calls per {}s; retry later",
                        limited.limit,
                        limited.window.as_secs_f64()
                    ),
                );
                error.headers = limited.headers().into_iter().collect();
                Err(error)
            }
        }
    }

    fn item<'a>(&self, what: Use<'a>) -> Item<'a> {
        match what {
            Use::Tool(name) => Item::Tool {
                name,
                destructive: self.destructive.contains(name),
            },
            Use::Resource(uri) => Item::Resource(uri),
            Use::Prompt(name) => Item::Prompt(name),
        }
    }

    /// A finished call: counted by caller class in `metrics` (tool calls),
    /// and one audit line when there is an audit log. `caller`: `None` when the request
    /// did not authenticate.
    #[allow(clippy::too_many_arguments, reason = "one line's fields")]
    pub(crate) fn record<'a>(
        &self,
        metrics: Option<&crate::metrics::Metrics>,
        caller: Option<&Caller>,
        server: &str,
        what: impl Into<Audited<'a>>,
        status: u16,
        duration: Duration,
        ids: &CallIds,
        arguments: Option<&Value>,
    ) {
        let anonymous = Caller::anonymous();
        let caller = caller.unwrap_or(&anonymous);
        if let Some(metrics) = metrics {
            metrics.record_caller(caller.via.as_str(), status);
        }
        let Some(audit) = &self.audit else {
            return;
        };
        let Audited { kind, name } = what.into();
        audit.record(&AuditEntry {
            caller: &caller.name(),
            via: caller.via.as_str(),
            server,
            kind,
            name,
            status,
            duration,
            request_id: ids.request_id.as_deref(),
            trace_id: ids.trace_id.as_deref(),
            arguments: arguments.filter(|_| self.audit_arguments),
        });
    }

    /// What ties a call's audit line to the caller's logs: read only when
    /// there is an audit log.
    pub(crate) fn call_ids(&self, headers: &HeaderMap) -> CallIds {
        match self.audit {
            Some(_) => CallIds {
                request_id: request_id(headers),
                trace_id: trace_id(headers),
            },
            None => CallIds::default(),
        }
    }

    /// Whether calls' arguments are kept for the audit log.
    pub(crate) fn audits_arguments(&self) -> bool {
        self.audit.is_some() && self.audit_arguments
    }
}

/// What ties an audit line to the caller's logs and traces: its
/// `X-Request-Id` and its `traceparent`'s trace id.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallIds {
    pub(crate) request_id: Option<String>,
    pub(crate) trace_id: Option<String>,
}

/// A caller's claims as the policy reads them.
fn facts(caller: &Caller) -> CallerFacts<'_> {
    match &caller.claims {
        Some(claims) => CallerFacts {
            verified: true,
            issuer: Some(&claims.issuer),
            subject: Some(&claims.subject),
            email: claims.email.as_deref(),
            roles: &claims.roles,
            groups: &claims.groups,
            scopes: &claims.scopes,
        },
        None => CallerFacts::default(),
    }
}

/// The caller's `X-Request-Id`, when it is a plain token of at most 128
/// characters (it goes into a log line as it is).
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 128
                && id
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte))
        })
        .map(str::to_string)
}

/// The trace id of a W3C `traceparent` (`00-TRACEID-SPANID-FLAGS`).
fn trace_id(headers: &HeaderMap) -> Option<String> {
    let value: &HeaderValue = headers.get("traceparent")?;
    let mut parts = value.to_str().ok()?.split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    (trace.len() == 32 && trace.bytes().all(|byte| byte.is_ascii_hexdigit()))
        .then(|| trace.to_ascii_lowercase())
}
