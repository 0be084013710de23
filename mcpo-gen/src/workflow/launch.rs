//! The launch spec from the command line: `--header`, `--env` and `--oauth*`
//! flags and the server after `--` made into a target, what to warn about
//! before the lock records it (secret-looking arguments, home-folder paths,
//! unpinned packages), and `--pin`.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use mcpo_gen::lock::Upstream;
use mcpo_gen::snapshot::{self, Target};
use mcpo_runtime::upstream::{OAuthSettings, OAuthTarget};

use super::{Progress, ServerType};

/// Parses `--header` values: a JSON object (`{"Authorization":"Bearer t"}`,
/// as mcpo takes them) or `Name: value`; the proxies parse theirs the same way.
pub fn parse_headers(values: &[String]) -> Result<BTreeMap<String, String>> {
    Ok(snapshot::parse_headers(values)?)
}

/// Parses `--env KEY=VALUE` values.
pub fn parse_env(values: &[String]) -> Result<BTreeMap<String, String>> {
    values
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => bail!("--env: expected KEY=VALUE, got {pair:?}"),
        })
        .collect()
}

/// The `--oauth*` flags of a single-server generation or `login --url`.
#[derive(Debug, Clone)]
pub struct OAuthFlags {
    pub client_id: Option<String>,
    pub scope: Option<String>,
    pub callback_port: u16,
    pub storage: mcpo_runtime::upstream::oauth::StorageType,
    pub server_url: Option<String>,
}

impl OAuthFlags {
    fn target(self) -> Box<OAuthTarget> {
        let mut settings = OAuthSettings::new();
        settings.client_id = self.client_id;
        settings.scope = self.scope;
        settings.callback_port = self.callback_port;
        settings.storage_type = self.storage;
        settings.server_url = self.server_url;
        let mut target = OAuthTarget::new(settings);
        target.client_secret = std::env::var(mcpo_runtime::upstream::OAUTH_CLIENT_SECRET_ENV)
            .ok()
            .filter(|secret| !secret.is_empty());
        Box::new(target)
    }
}

/// The snapshot target of the server after `--`, as every command line
/// reads it (`mcpo_runtime::serve::command_line_target`), with the values
/// of `--header`, `--env` and the `--oauth*` flags.
pub fn target(
    server_type: ServerType,
    trailing: &[String],
    headers: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
    oauth: Option<OAuthFlags>,
) -> Result<Target> {
    Ok(mcpo_runtime::serve::command_line_target(
        server_type,
        trailing,
        headers,
        env,
        oauth.map(OAuthFlags::target),
    )?)
}

/// Everything to say about a launch spec before the lock records it:
/// [`launch_spec_warnings`], and a package it runs unpinned. `pin_hint`:
/// whether `--pin` could pin it.
pub fn launch_warnings(target: &Target, pin_hint: bool) -> Vec<String> {
    let mut warnings = launch_spec_warnings(target);
    if let Target::Stdio { command, args, .. } = target {
        warnings.extend(snapshot::block_on(mcpo_gen::pinning::unpinned_warning(
            command, args, pin_hint,
        )));
    }
    warnings
}

/// `--pin`: the package a stdio target runs, pinned at the version its
/// index serves today.
pub fn pin(target: &mut Target, progress: Progress) -> Result<()> {
    let Target::Stdio { command, args, .. } = target else {
        bail!("--pin applies to a stdio server run from a package (uvx, pipx run, npx, bunx)");
    };
    let pinned = snapshot::block_on(mcpo_gen::pinning::pin(command, args))?;
    if pinned != *args {
        progress.say(format_args!("Pinned: {command} {}", pinned.join(" ")));
        *args = pinned;
    }
    Ok(())
}

/// `--pin` for the config entry `name`: its package argument pinned in the
/// target and in the launch spec the lock records (whose other arguments
/// keep their `${VAR}` form). An entry that runs no package is left as it is.
pub(super) fn pin_entry(
    name: &str,
    target: &mut Target,
    upstream: &mut Upstream,
    progress: Progress,
) -> Result<()> {
    let (
        Target::Stdio { command, args, .. },
        Upstream::Stdio {
            args: spec_args, ..
        },
    ) = (&mut *target, upstream)
    else {
        return Ok(());
    };
    let Some(package) = mcpo_gen::pinning::package_of(command, args) else {
        return Ok(());
    };
    let index = package.arg_index;
    if package.pinned.is_some() {
        return Ok(());
    }
    if spec_args.get(index) != Some(&args[index]) {
        bail!(
            "--pin: server {name:?} names its package with a ${{VAR}} ({:?}): write the \
             pinned package in the config instead",
            spec_args.get(index).map_or("", String::as_str)
        );
    }
    let pinned = snapshot::block_on(mcpo_gen::pinning::pin(command, args))
        .with_context(|| format!("server {name:?}"))?;
    progress.say(format_args!("  pinned: {command} {}", pinned.join(" ")));
    spec_args[index] = pinned[index].clone();
    *args = pinned;
    Ok(())
}

/// Words that mark a value as a secret in a URL query or a command argument.
const SECRET_WORDS: &[&str] = &[
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "auth",
    "credential",
];

/// Warnings for launch-spec parts that mcp.lock.json (and the generated
/// openapi.json and README) will record verbatim: secret-looking arguments
/// or query parameters, and absolute paths of this machine's home folder.
pub fn launch_spec_warnings(target: &Target) -> Vec<String> {
    let looks_secret = |text: &str| {
        let lower = text.to_ascii_lowercase();
        SECRET_WORDS.iter().any(|word| lower.contains(word))
    };
    let mut warnings = Vec::new();
    match target {
        Target::Stdio { args, .. } => {
            let home = std::env::var("HOME").ok().filter(|home| home.len() > 1);
            for (index, arg) in args.iter().enumerate() {
                let (name, inline_value) = match arg.split_once('=') {
                    Some((name, value)) => (name, !value.is_empty()),
                    None => (arg.as_str(), false),
                };
                let flag_with_value = name.starts_with('-')
                    && (inline_value
                        || args
                            .get(index + 1)
                            .is_some_and(|next| !next.starts_with('-')));
                if flag_with_value && looks_secret(name) {
                    warnings.push(format!(
                        "argument {name} looks like a secret and will be recorded in mcp.lock.json; \
                         pass it with --env (a name in the lock, the value from the environment)"
                    ));
                }
                if let Some(home) = &home
                    && arg.contains(home.as_str())
                {
                    warnings.push(format!(
                        "argument {arg:?} is a path under this machine's home folder and will be \
                         recorded in mcp.lock.json; prefer a relative path (the proxy takes \
                         `-- COMMAND ARGS` to override it at run time)"
                    ));
                }
            }
        }
        Target::StreamableHttp { url, .. } | Target::Sse { url, .. } => {
            if let Some((_, query)) = url.split_once('?') {
                for parameter in query.split('&') {
                    let name = parameter.split('=').next().unwrap_or("");
                    if looks_secret(name) {
                        warnings.push(format!(
                            "URL parameter {name:?} looks like a secret and will be recorded in \
                             mcp.lock.json; prefer a header (--header)"
                        ));
                    }
                }
            }
        }
    }
    warnings
}
