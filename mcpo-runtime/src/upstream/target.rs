//! Where a server is ([`Target`]): the lock's launch spec plus the secret
//! values read from flags, env or a config, and the `${VAR}` expansion they
//! go through.

use super::*;

/// Where the server is and the secrets needed to reach it. Secrets live only
/// here: [`Target::upstream`] keeps their names for the lock, and `Debug`
/// shows names only.
#[derive(Clone, PartialEq, Eq)]
pub enum Target {
    /// A command that speaks MCP over its stdin and stdout.
    Stdio {
        /// The program to start.
        command: String,
        /// Its arguments.
        args: Vec<String>,
        /// Env vars added to the inherited environment (values are secrets).
        env: BTreeMap<String, String>,
    },
    /// A streamable-HTTP endpoint.
    StreamableHttp {
        /// The endpoint URL.
        url: String,
        /// Headers sent with every request (values are secrets).
        headers: BTreeMap<String, String>,
        /// OAuth 2.1, when the server is protected by it.
        oauth: Option<Box<OAuthTarget>>,
    },
    /// A legacy (2024-11-05) HTTP+SSE endpoint: a GET stream for server
    /// messages, POSTs to the endpoint it names for client messages.
    Sse {
        /// The SSE endpoint URL.
        url: String,
        /// Headers sent with every request (values are secrets).
        headers: BTreeMap<String, String>,
        /// OAuth 2.1, when the server is protected by it.
        oauth: Option<Box<OAuthTarget>>,
    },
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The lock's launch spec is exactly the target without its values.
        std::fmt::Debug::fmt(&self.upstream(), f)
    }
}

impl Target {
    /// The launch spec recorded in the lock: env and header names, no values.
    pub fn upstream(&self) -> Upstream {
        match self {
            Target::Stdio { command, args, env } => Upstream::Stdio {
                command: command.clone(),
                args: args.clone(),
                env: ValueSources::from_names(env.keys().cloned()),
            },
            Target::StreamableHttp {
                url,
                headers,
                oauth,
            } => Upstream::StreamableHttp {
                url: url.clone(),
                headers: ValueSources::from_names(headers.keys().cloned()),
                oauth: oauth.as_ref().map(|oauth| oauth.settings.clone()),
            },
            Target::Sse {
                url,
                headers,
                oauth,
            } => Upstream::Sse {
                url: url.clone(),
                headers: ValueSources::from_names(headers.keys().cloned()),
                oauth: oauth.as_ref().map(|oauth| oauth.settings.clone()),
            },
        }
    }

    /// A short human description, e.g. `uvx mcp-server-time` or the URL.
    /// Secrets are not shown: values registered with [`crate::redact`]
    /// appear as the `${VAR}` they came from, URL query values as
    /// `[redacted]`.
    pub fn describe(&self) -> String {
        let shown = match self {
            Target::Stdio { .. } => self.upstream().describe(),
            Target::StreamableHttp { url, .. } | Target::Sse { url, .. } => url.clone(),
        };
        let shown = crate::redact::redact(&shown);
        match self {
            Target::Stdio { .. } => shown.into_owned(),
            _ => crate::redact::url_for_display(&shown),
        }
    }

    /// Registers every secret value of this target with [`crate::redact`]:
    /// env and header values, URL query values.
    pub fn register_secrets(&self) {
        use crate::redact::{REDACTED, register, register_url_query};
        match self {
            Target::Stdio { env, .. } => env.values().for_each(|value| register(value, REDACTED)),
            Target::StreamableHttp {
                url,
                headers,
                oauth,
            }
            | Target::Sse {
                url,
                headers,
                oauth,
            } => {
                register_url_query(url);
                for value in headers.values() {
                    register(value, REDACTED);
                    // `Bearer TOKEN`: the token alone shows up too.
                    if let Some((_, token)) = value.split_once(' ') {
                        register(token, REDACTED);
                    }
                }
                if let Some(secret) = oauth
                    .as_ref()
                    .and_then(|oauth| oauth.client_secret.as_ref())
                {
                    register(secret, REDACTED);
                }
            }
        }
    }

    /// The URL and OAuth settings of an upstream protected by OAuth.
    pub fn oauth(&self) -> Option<(&str, &OAuthTarget)> {
        match self {
            Target::StreamableHttp {
                url,
                oauth: Some(oauth),
                ..
            }
            | Target::Sse {
                url,
                oauth: Some(oauth),
                ..
            } => Some((url, oauth)),
            _ => None,
        }
    }

    /// The OAuth settings to change, of an upstream protected by OAuth.
    pub fn oauth_mut(&mut self) -> Option<&mut OAuthTarget> {
        match self {
            Target::StreamableHttp {
                oauth: Some(oauth), ..
            }
            | Target::Sse {
                oauth: Some(oauth), ..
            } => Some(oauth),
            _ => None,
        }
    }

    /// The target a lock's launch spec describes, with secret values read
    /// through `env`: env var `NAME` for a stdio env name, and
    /// `MCPO_HEADER_<NAME>` ([`header_env_var`]) for a header. A name whose
    /// variable is unset is an error. An OAuth upstream's token file is
    /// `MCPO_OAUTH_TOKEN_FILE` when set, and a pre-registered client's
    /// secret `MCPO_OAUTH_CLIENT_SECRET`.
    pub fn from_upstream(
        upstream: &Upstream,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConnectError> {
        Self::resolve(upstream, env, &mut |name, var| {
            Err(ConnectError::MissingSecret {
                name: name.to_string(),
                var,
            })
        })
    }

    /// [`Target::from_upstream`], leaving out each env or header value
    /// whose variable is unset instead of refusing: `unset(name, var)` is
    /// told of each. For a proxy started without a config, where a missing
    /// value is a warning (a stdio server inherits the proxy's
    /// environment anyway; a header may come from `--header`).
    pub fn from_upstream_leaving_out(
        upstream: &Upstream,
        env: &dyn Fn(&str) -> Option<String>,
        unset: &mut dyn FnMut(&str, &str),
    ) -> Self {
        let resolved =
            Self::resolve::<std::convert::Infallible>(upstream, env, &mut |name, var| {
                unset(name, &var);
                Ok(())
            });
        match resolved {
            Ok(target) => target,
            Err(never) => match never {},
        }
    }

    /// A target of `upstream`; `unset(name, var)` decides about a value
    /// whose variable is unset: an error refuses, `Ok` leaves it out.
    fn resolve<E>(
        upstream: &Upstream,
        env: &dyn Fn(&str) -> Option<String>,
        unset: &mut dyn FnMut(&str, String) -> Result<(), E>,
    ) -> Result<Self, E> {
        let mut from_env = |sources: &ValueSources, env_name: fn(&str) -> String| {
            let mut values = BTreeMap::new();
            for (name, template) in sources.iter() {
                let value = match template {
                    Some(template) => expand_template(template, env),
                    None => {
                        let var = env_name(name);
                        env(&var).ok_or(var)
                    }
                };
                match value {
                    Ok(value) => {
                        values.insert(name.clone(), value);
                    }
                    Err(var) => unset(name, var)?,
                }
            }
            Ok::<_, E>(values)
        };
        Ok(match upstream {
            Upstream::Stdio { command, args, env } => Target::Stdio {
                command: command.clone(),
                args: args.clone(),
                env: from_env(env, str::to_string)?,
            },
            Upstream::StreamableHttp {
                url,
                headers,
                oauth,
            } => Target::StreamableHttp {
                url: url.clone(),
                headers: from_env(headers, header_env_var)?,
                oauth: oauth_from_env(oauth.as_ref(), env),
            },
            Upstream::Sse {
                url,
                headers,
                oauth,
            } => Target::Sse {
                url: url.clone(),
                headers: from_env(headers, header_env_var)?,
                oauth: oauth_from_env(oauth.as_ref(), env),
            },
        })
    }
}

/// `text` with every `${NAME}` replaced by `env(NAME)`, each value
/// registered as a secret shown as `${NAME}` ([`crate::redact`]); `$`
/// elsewhere stays as written. An unset variable is returned as the error.
pub fn expand_template(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut expanded = String::with_capacity(text.len());
    for part in crate::lock::template_parts(text) {
        match part {
            crate::lock::TemplatePart::Text(text) => expanded.push_str(text),
            crate::lock::TemplatePart::Variable(var) => {
                let value = env(var).ok_or_else(|| var.to_string())?;
                crate::redact::register(&value, &format!("${{{var}}}"));
                expanded.push_str(&value);
            }
        }
    }
    Ok(expanded)
}

/// Env var: the token file of an OAuth upstream (a service's).
pub const OAUTH_TOKEN_FILE_ENV: &str = "MCPO_OAUTH_TOKEN_FILE";
/// Env var: a pre-registered OAuth client's secret.
pub const OAUTH_CLIENT_SECRET_ENV: &str = "MCPO_OAUTH_CLIENT_SECRET";

fn oauth_from_env(
    settings: Option<&OAuthSettings>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Box<OAuthTarget>> {
    let mut oauth = OAuthTarget::new(settings?.clone());
    oauth.token_file = env(OAUTH_TOKEN_FILE_ENV)
        .filter(|file| !file.is_empty())
        .map(std::path::PathBuf::from);
    oauth.client_secret = env(OAUTH_CLIENT_SECRET_ENV).filter(|secret| !secret.is_empty());
    Some(Box::new(oauth))
}
