//! The bearer of a proxy's requests: the stored tokens loaded
//! ([`Prepared::open`], which never authorizes), a current token for each
//! request, refreshed before expiry and once after a 401 ([`Access`]).

use std::sync::Arc;

use rmcp::transport::AuthClient;
use rmcp::transport::auth::{AuthError, AuthorizationManager, OAuthClientConfig};
use tokio::sync::Mutex;

use super::super::ConnectError;
use super::scopes::ScopeWatch;
use super::store::TokenStore;
use super::{OAuthTarget, access_token_of, auth_error_text, check_metadata, manager, redirect_uri};

/// A stored client secret, else the configured one.
fn client_secret(oauth: &OAuthTarget, upstream_url: &str) -> Option<String> {
    oauth.client_secret.clone().or_else(|| {
        oauth
            .store(upstream_url)
            .read()
            .ok()
            .flatten()
            .and_then(|file| file.client_secret)
    })
}

/// Tokens for one upstream, shared by its requests: each gets a current
/// token (refreshed when it is about to expire), and a 401 gets one refresh.
#[derive(Clone)]
pub struct Access {
    manager: Arc<Mutex<AuthorizationManager>>,
    upstream: String,
    hint: String,
    /// Where a 403 `insufficient_scope`'s scopes are recorded.
    scopes: ScopeWatch<()>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

/// A manager loaded with an upstream's stored credentials, before it is
/// handed to a transport.
pub(crate) struct Prepared {
    manager: AuthorizationManager,
    upstream: String,
    hint: String,
    store: TokenStore,
    server_url: String,
    redirect: String,
    client_secret: Option<String>,
}

impl Prepared {
    /// Loads the stored token for `upstream_url`: an error saying which
    /// `mcpo-gen login` to run when there is none (this never authorizes).
    pub(crate) async fn open(
        upstream_url: &str,
        oauth: &OAuthTarget,
    ) -> Result<Prepared, ConnectError> {
        let hint = oauth.login_hint(upstream_url);
        let failed = |reason: String| ConnectError::OAuth {
            upstream: upstream_url.to_string(),
            reason,
        };
        let needs = || ConnectError::NeedsAuthorization {
            upstream: upstream_url.to_string(),
            hint: hint.clone(),
        };
        let mut manager = manager(upstream_url, oauth)
            .await
            .map_err(|error| failed(auth_error_text(&error)))?;
        let store = oauth.store(upstream_url);
        let has_token = store
            .read()
            .map_err(|error| failed(auth_error_text(&error)))?
            .is_some_and(|file| file.credentials.token_response.is_some());
        if !has_token {
            return Err(needs());
        }
        // Discovered here rather than by rmcp's `initialize_from_store`, to
        // check the endpoints a refresh token would go to first.
        let resolution = manager
            .resolve_metadata()
            .await
            .map_err(|error| failed(format!("discovery: {}", auth_error_text(&error))))?;
        check_metadata(&resolution.metadata).map_err(failed)?;
        manager.set_metadata(resolution.metadata);
        match manager.initialize_from_store().await {
            Ok(true) => {}
            Ok(false) => return Err(needs()),
            Err(AuthError::AuthorizationRequired) => return Err(needs()),
            Err(error) => return Err(failed(auth_error_text(&error))),
        }
        // A confidential pre-registered client refreshes with its secret.
        let secret = client_secret(oauth, upstream_url);
        let redirect = redirect_uri(&oauth.settings, oauth.settings.callback_port);
        if let Some(secret) = secret.clone()
            && let Ok((client_id, _)) = manager.get_credentials().await
        {
            let redirect = redirect.clone();
            manager
                .configure_client(
                    OAuthClientConfig::new(client_id, redirect).with_client_secret(secret),
                )
                .map_err(|error| failed(error.to_string()))?;
        }
        Ok(Prepared {
            manager,
            upstream: upstream_url.to_string(),
            hint,
            store: oauth.store(upstream_url),
            server_url: oauth.server_url(upstream_url).to_string(),
            redirect,
            client_secret: secret,
        })
    }
}

impl Prepared {
    /// rmcp's streamable-HTTP client with OAuth: a token on every request,
    /// refreshed before expiry and once after a 401; the scopes of a 403
    /// `insufficient_scope` recorded as pending ([`ScopeWatch`]).
    pub(crate) fn into_auth_client<C>(self, http_client: C) -> AuthClient<ScopeWatch<C>> {
        let watched = ScopeWatch {
            inner: http_client,
            store: self.store,
            server_url: self.server_url,
            manager: None,
            redirect: self.redirect,
            client_secret: self.client_secret,
        };
        let mut client = AuthClient::new(watched, self.manager);
        client.http_client.manager = Some(client.auth_manager.clone());
        client
    }

    /// Tokens for requests made here (the SSE transport).
    pub(crate) fn into_access(self) -> Access {
        Access {
            manager: Arc::new(Mutex::new(self.manager)),
            upstream: self.upstream,
            hint: self.hint,
            scopes: ScopeWatch {
                inner: (),
                store: self.store,
                server_url: self.server_url,
                manager: None,
                redirect: self.redirect,
                client_secret: None,
            },
        }
    }
}

impl Access {
    pub(crate) fn needs(&self) -> ConnectError {
        ConnectError::NeedsAuthorization {
            upstream: self.upstream.clone(),
            hint: self.hint.clone(),
        }
    }

    fn map_error(&self, error: AuthError) -> ConnectError {
        match error {
            AuthError::AuthorizationRequired | AuthError::TokenRefreshRejected(_) => self.needs(),
            other => ConnectError::OAuth {
                upstream: self.upstream.clone(),
                reason: other.to_string(),
            },
        }
    }

    /// After a 403 whose challenge is `insufficient_scope` (step-up): its
    /// scopes recorded as pending for the next `mcpo-gen login`.
    pub(crate) fn note_forbidden(&self, challenge: &str) {
        self.scopes.record(challenge, None);
    }

    /// A current access token, refreshed first when it is about to expire.
    pub async fn token(&self) -> Result<String, ConnectError> {
        let manager = self.manager.lock().await;
        manager
            .get_access_token()
            .await
            .map_err(|error| self.map_error(error))
    }

    /// After a 401 for `rejected`: a refreshed token, or an error when
    /// refreshing cannot help (re-authorization is needed).
    pub async fn refresh(&self, rejected: &str) -> Result<String, ConnectError> {
        let manager = self.manager.lock().await;
        // Another request may have refreshed already.
        if let Ok(current) = manager.get_access_token().await
            && current != rejected
        {
            return Ok(current);
        }
        match manager.refresh_token().await {
            Ok(response) => {
                let fresh = access_token_of(&response).unwrap_or_default();
                if fresh.is_empty() || fresh == rejected {
                    Err(self.needs())
                } else {
                    Ok(fresh)
                }
            }
            Err(error) => {
                tracing::warn!(upstream = %self.upstream, %error, "the OAuth token could not be refreshed");
                Err(self.map_error(error))
            }
        }
    }
}
