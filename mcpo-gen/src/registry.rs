//! A proxy from an MCP registry entry (`server.json`, the registry's
//! published schema): one of its `packages` (npm, PyPI, OCI) becomes a
//! pinned launch spec (`npx -y pkg@1.2.3`, `uvx pkg==1.2.3`, `docker run -i
//! --rm image:1.2.3`) with its runtime and package arguments, or one of its
//! `remotes` a URL with headers. Environment variables and headers take
//! their values from this process's environment (a header `X-Api-Key` from
//! `MCPO_HEADER_X_API_KEY`), never from the file into the lock; a required
//! one that is missing is an error naming it, before anything connects.
//! The entry's name and version are recorded in the lock.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::lock::RegistryEntry;
use crate::snapshot::Target;

/// What to take from an entry: a package, or a remote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// The first package the proxy can run, or the first remote.
    First,
    Package(usize),
    Remote(usize),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerJson {
    name: String,
    version: String,
    #[serde(default)]
    packages: Vec<Package>,
    #[serde(default)]
    remotes: Vec<Remote>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    registry_type: String,
    identifier: String,
    version: Option<String>,
    #[serde(default)]
    transport: Option<Transport>,
    #[serde(default)]
    runtime_arguments: Vec<Argument>,
    #[serde(default)]
    package_arguments: Vec<Argument>,
    #[serde(default)]
    environment_variables: Vec<Input>,
}

#[derive(Deserialize)]
struct Transport {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Remote {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    #[serde(default)]
    headers: Vec<Input>,
}

/// A runtime or package argument.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Argument {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    is_required: bool,
    #[serde(default)]
    is_secret: bool,
    name: Option<String>,
    value: Option<String>,
    default: Option<String>,
    value_hint: Option<String>,
}

/// An environment variable or header.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Input {
    name: String,
    #[serde(default)]
    is_required: bool,
    #[serde(default)]
    is_secret: bool,
    value: Option<String>,
    default: Option<String>,
}

/// The largest `server.json` read from a file.
const SERVER_JSON_LIMIT: u64 = 1024 * 1024;

/// Reads `source` (a file, or an http(s) URL).
pub async fn read(source: &str) -> Result<Value> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let body = client
            .get(source)
            .send()
            .await
            .with_context(|| format!("{source} did not answer"))?
            .error_for_status()
            .with_context(|| format!("{source} refused the request"))?
            .bytes()
            .await
            .with_context(|| format!("{source} did not send its body"))?;
        if body.len() as u64 > SERVER_JSON_LIMIT {
            bail!("{source} is larger than a server.json may be (1 MiB)");
        }
        String::from_utf8(body.to_vec()).with_context(|| format!("{source} is not UTF-8"))?
    } else {
        mcpo_runtime::files::read_text_capped(std::path::Path::new(source), SERVER_JSON_LIMIT)
            .with_context(|| format!("reading {source}"))?
    };
    serde_json::from_str(&text).with_context(|| format!("{source} is not JSON"))
}

/// The target of `entry` (a `server.json` document) as `choice` picks it,
/// and what the lock records of the entry. `env` gives this process's
/// environment.
pub fn target(
    entry: &Value,
    choice: Choice,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Target, RegistryEntry)> {
    let (target, recorded, _) = target_and_env(entry, choice, env)?;
    Ok((target, recorded))
}

/// [`target`], and where the lock takes each environment variable from:
/// `${NAME}` (the environment), or a non-secret default the entry gives,
/// kept as it is so the proxy starts the server as it was snapshotted.
pub fn target_and_env(
    entry: &Value,
    choice: Choice,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Target, RegistryEntry, crate::lock::ValueSources)> {
    // The registry's API answers `{"server": {...}, "_meta": {...}}`.
    let entry = entry
        .get("server")
        .filter(|server| server.is_object())
        .unwrap_or(entry);
    let server: ServerJson = serde_json::from_value(entry.clone()).context(
        "not an MCP registry server.json (it needs `name`, `version` and `packages` or `remotes`)",
    )?;
    if server.version == "latest" {
        bail!(
            "{}: version `latest` is not a version: the registry refuses it too",
            server.name
        );
    }
    let choice = match choice {
        Choice::First => {
            match server
                .packages
                .iter()
                .position(|package| runnable(package).is_ok())
            {
                Some(index) => Choice::Package(index),
                None if !server.remotes.is_empty() => Choice::Remote(0),
                // The first package's reason, when there is one.
                None if !server.packages.is_empty() => Choice::Package(0),
                None => bail!("{}: the entry has no packages and no remotes", server.name),
            }
        }
        chosen => chosen,
    };
    let recorded = |choice: &str| RegistryEntry {
        name: server.name.clone(),
        version: server.version.clone(),
        choice: choice.to_string(),
    };
    match choice {
        Choice::Package(index) => {
            let package = server.packages.get(index).with_context(|| {
                format!(
                    "{}: there is no package {index} (it has {})",
                    server.name,
                    server.packages.len()
                )
            })?;
            runnable(package).with_context(|| format!("{}: package {index}", server.name))?;
            let sources = value_sources(
                &package.environment_variables,
                &|name| name.to_string(),
                env,
            );
            Ok((
                package_target(package, env)?,
                recorded(&format!("packages/{index}")),
                sources,
            ))
        }
        Choice::Remote(index) => {
            let remote = server.remotes.get(index).with_context(|| {
                format!(
                    "{}: there is no remote {index} (it has {})",
                    server.name,
                    server.remotes.len()
                )
            })?;
            let sources = value_sources(&remote.headers, &header_variable, env);
            Ok((
                remote_target(remote, env)?,
                recorded(&format!("remotes/{index}")),
                sources,
            ))
        }
        Choice::First => unreachable!("chosen above"),
    }
}

/// Whether the proxy can launch `package`, and why not.
fn runnable(package: &Package) -> Result<()> {
    match package.registry_type.as_str() {
        "npm" | "pypi" | "oci" => {}
        "nuget" | "mcpb" => bail!(
            "registry type `{}` is not launched by mcpo-gen (npm, pypi and oci are)",
            package.registry_type
        ),
        other => bail!(
            "unknown registry type `{other}` (the registry knows npm, pypi, oci, nuget and mcpb)"
        ),
    }
    if package.registry_type == "oci" && oci_reference_is_whole(&package.identifier) {
        // The current schema puts the tag or digest in the identifier.
    } else {
        check_version(package)?;
    }
    let transport = package
        .transport
        .as_ref()
        .map_or("stdio", |t| t.kind.as_str());
    if transport != "stdio" {
        bail!(
            "`{}` serves MCP over {transport}: start it yourself and give its URL (mcpo-gen --server-type {transport} -- URL)",
            package.identifier
        );
    }
    Ok(())
}

/// Whether an image reference names its tag or digest (`image:1.2`,
/// `image@sha256:...`, a registry host's port aside).
fn oci_reference_is_whole(identifier: &str) -> bool {
    let last = identifier.rsplit('/').next().unwrap_or(identifier);
    identifier.contains("@sha256:") || last.contains(':')
}

/// A package's version is exact: the registry wants one, a reviewed proxy
/// runs one.
fn check_version(package: &Package) -> Result<()> {
    match package.version.as_deref() {
        None => bail!(
            "`{}` has no version: a reviewed proxy runs a pinned one",
            package.identifier
        ),
        Some("latest") => bail!(
            "`{}` has version `latest`, which is not a version: the registry refuses it too",
            package.identifier
        ),
        Some(version) if !crate::pinning::is_exact_version(version) => bail!(
            "`{}` has version `{version}`, not an exact version: the registry wants one, and a reviewed proxy runs one",
            package.identifier
        ),
        Some(_) => {}
    }
    Ok(())
}

fn package_target(package: &Package, env: &dyn Fn(&str) -> Option<String>) -> Result<Target> {
    let version = package.version.as_deref().unwrap_or_default();
    let mut variables = BTreeMap::new();
    for variable in &package.environment_variables {
        if let Some(value) = input_value(variable, env(&variable.name))? {
            variables.insert(variable.name.clone(), value);
        }
    }
    let runtime = arguments(&package.runtime_arguments)?;
    let arguments = arguments(&package.package_arguments)?;
    let (command, args) = match package.registry_type.as_str() {
        "npm" => (
            "npx",
            [
                runtime,
                vec!["-y".into(), format!("{}@{version}", package.identifier)],
                arguments,
            ]
            .concat(),
        ),
        "pypi" => (
            "uvx",
            [
                runtime,
                vec![format!("{}=={version}", package.identifier)],
                arguments,
            ]
            .concat(),
        ),
        _ => {
            let image = if oci_reference_is_whole(&package.identifier) {
                package.identifier.clone()
            } else {
                format!("{}:{version}", package.identifier)
            };
            // The container sees the variables it is given by name only:
            // their values stay in this process's environment.
            let passed: Vec<String> = variables
                .keys()
                .flat_map(|name| ["-e".to_string(), name.clone()])
                .collect();
            (
                "docker",
                [
                    vec!["run".into(), "-i".into(), "--rm".into()],
                    passed,
                    runtime,
                    vec![image],
                    arguments,
                ]
                .concat(),
            )
        }
    };
    Ok(Target::Stdio {
        command: command.into(),
        args,
        env: variables,
    })
}

fn remote_target(remote: &Remote, env: &dyn Fn(&str) -> Option<String>) -> Result<Target> {
    let mut headers = BTreeMap::new();
    for header in &remote.headers {
        let variable = header_variable(&header.name);
        let from_env = env(&variable);
        let value = input_value(header, from_env).with_context(|| format!("set {variable}"))?;
        if let Some(value) = value {
            headers.insert(header.name.clone(), value);
        }
    }
    let url = remote.url.clone();
    match remote.kind.as_str() {
        "streamable-http" => Ok(Target::StreamableHttp {
            url,
            headers,
            oauth: None,
        }),
        "sse" => Ok(Target::Sse {
            url,
            headers,
            oauth: None,
        }),
        other => bail!("remote type `{other}` is not one mcpo-gen reaches (streamable-http, sse)"),
    }
}

/// Where the lock takes each input's value from: a fixed value or default
/// the entry gives that is not a secret (and not a placeholder) when the
/// environment had none, kept as it is so the proxy runs the server as it
/// was snapshotted; otherwise the environment (a name alone: its default
/// variable, `NAME` for env, `MCPO_HEADER_NAME` for a header). An optional
/// input with no value is left out.
fn value_sources(
    inputs: &[Input],
    variable: &dyn Fn(&str) -> String,
    env: &dyn Fn(&str) -> Option<String>,
) -> crate::lock::ValueSources {
    let sources: Vec<(String, Option<String>)> = inputs
        .iter()
        .filter_map(|input| {
            let given = fixed_value(input);
            match (
                env(&variable(&input.name)).filter(|value| !value.is_empty()),
                given,
            ) {
                (None, Some(value)) => Some((input.name.clone(), Some(value))),
                (None, None) if !input.is_required => None,
                _ => Some((input.name.clone(), None)),
            }
        })
        .collect();
    if sources.iter().all(|(_, value)| value.is_none()) {
        crate::lock::ValueSources::from_names(sources.into_iter().map(|(name, _)| name))
    } else {
        // A name alone and `${NAME}` say the same for env; a header's
        // default variable is spelled out.
        crate::lock::ValueSources::from_templates(sources.into_iter().map(|(name, value)| {
            let template = value.unwrap_or_else(|| format!("${{{}}}", variable(&name)));
            (name, template)
        }))
    }
}

/// A value the entry itself gives for an input, usable as is: not a
/// secret, not a `{placeholder}` nor a `${VARIABLE}`.
fn fixed_value(input: &Input) -> Option<String> {
    input
        .value
        .clone()
        .or_else(|| input.default.clone())
        .filter(|value| !input.is_secret && !value.contains('{') && !value.contains('$'))
}

/// The environment variable a header's value comes from, as `update` reads
/// it too: `X-Api-Key` -> `MCPO_HEADER_X_API_KEY`.
fn header_variable(name: &str) -> String {
    format!(
        "MCPO_HEADER_{}",
        name.to_ascii_uppercase().replace('-', "_")
    )
}

/// An input's value: the environment's, else a value or default the entry
/// gives that is not a secret; a required one without any is an error.
fn input_value(input: &Input, from_env: Option<String>) -> Result<Option<String>> {
    if let Some(value) = from_env.filter(|value| !value.is_empty()) {
        return Ok(Some(value));
    }
    match fixed_value(input) {
        Some(value) => Ok(Some(value)),
        _ if input.is_required => bail!(
            "the entry requires {} ({}): set it in the environment",
            input.name,
            if input.is_secret {
                "a secret"
            } else {
                "no default"
            }
        ),
        _ => Ok(None),
    }
}

/// Arguments as given: a positional one's value (or default), a named
/// one's name then its value. An optional argument with no value is left
/// out; a required one without a value, a secret one (the launch spec is
/// written in the lock) and a `${VARIABLE}` (the proxy would expand it from
/// its own environment) are refused.
fn arguments(arguments: &[Argument]) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for argument in arguments {
        let label = argument
            .name
            .clone()
            .or_else(|| argument.value_hint.clone())
            .unwrap_or_else(|| "a positional argument".into());
        if argument.is_secret {
            bail!(
                "argument {label} is a secret, and arguments are written in the lock: pass it yourself after `--`"
            );
        }
        let value = argument.value.clone().or_else(|| argument.default.clone());
        if value.as_deref().is_some_and(|value| value.contains("${")) {
            bail!(
                "argument {label} refers to a variable of this machine's environment (`${{...}}`): refused"
            );
        }
        match (&value, argument.is_required) {
            (None, true) => bail!(
                "argument {label} is required and the entry gives no value: pass the server yourself after `--`"
            ),
            (None, false) if argument.kind != "named" => continue,
            _ => {}
        }
        if argument.kind == "named"
            && let Some(name) = &argument.name
        {
            args.push(name.clone());
        }
        args.extend(value);
    }
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn packages_become_pinned_launch_specs() {
        let entry = json!({
            "name": "io.github.example/time", "version": "1.0.0",
            "packages": [
                {"registryType": "nuget", "identifier": "X", "version": "1.0.0"},
                {"registryType": "pypi", "identifier": "mcp-server-time", "version": "2026.10.19",
                 "transport": {"type": "stdio"},
                 "packageArguments": [{"type": "named", "name": "--local-timezone", "value": "UTC"}]},
                {"registryType": "npm", "identifier": "@modelcontextprotocol/server-everything",
                 "version": "2026.8.31", "packageArguments": [{"type": "positional", "value": "stdio"}],
                 "environmentVariables": [{"name": "TOKEN", "isRequired": true, "isSecret": true}]},
                {"registryType": "oci", "identifier": "docker.io/mcp/time", "version": "1.2",
                 "environmentVariables": [{"name": "TZ", "default": "UTC"}]}
            ]
        });
        let (first, recorded) = target(&entry, Choice::First, &no_env).unwrap();
        assert_eq!(recorded.choice, "packages/1");
        let Target::Stdio { command, args, env } = first else {
            panic!()
        };
        assert_eq!(
            (command.as_str(), args.as_slice()),
            (
                "uvx",
                &[
                    "mcp-server-time==2026.10.19".to_string(),
                    "--local-timezone".into(),
                    "UTC".into()
                ][..]
            )
        );
        assert!(env.is_empty());

        let error = target(&entry, Choice::Package(2), &no_env).unwrap_err();
        assert!(format!("{error:#}").contains("requires TOKEN"), "{error:#}");
        let with_token = |name: &str| (name == "TOKEN").then(|| "s3cret".to_string());
        let (npm, _) = target(&entry, Choice::Package(2), &with_token).unwrap();
        let Target::Stdio { command, args, env } = npm else {
            panic!()
        };
        assert_eq!(command, "npx");
        assert_eq!(
            args,
            [
                "-y",
                "@modelcontextprotocol/server-everything@2026.8.31",
                "stdio"
            ]
        );
        assert_eq!(env.get("TOKEN").map(String::as_str), Some("s3cret"));

        let (oci, _) = target(&entry, Choice::Package(3), &no_env).unwrap();
        let Target::Stdio { command, args, env } = oci else {
            panic!()
        };
        assert_eq!(command, "docker");
        assert_eq!(
            args,
            ["run", "-i", "--rm", "-e", "TZ", "docker.io/mcp/time:1.2"]
        );
        assert_eq!(env.get("TZ").map(String::as_str), Some("UTC"));

        let refused = target(&entry, Choice::Package(0), &no_env).unwrap_err();
        assert!(format!("{refused:#}").contains("nuget"), "{refused:#}");
    }

    #[test]
    fn invalid_entries_are_refused_with_the_reason() {
        let latest = json!({"name": "a/b", "version": "1.0.0",
            "packages": [{"registryType": "npm", "identifier": "x", "version": "latest"}]});
        let error = format!("{:#}", target(&latest, Choice::First, &no_env).unwrap_err());
        assert!(error.contains("`latest`"), "{error}");
        let unknown = json!({"name": "a/b", "version": "1.0.0",
            "packages": [{"registryType": "cargo", "identifier": "x", "version": "1.0.0"}]});
        let error = format!(
            "{:#}",
            target(&unknown, Choice::First, &no_env).unwrap_err()
        );
        assert!(error.contains("unknown registry type `cargo`"), "{error}");
        let range = json!({"name": "a/b", "version": "1.0.0",
            "packages": [{"registryType": "npm", "identifier": "x", "version": "^1.2.3"}]});
        let error = format!("{:#}", target(&range, Choice::First, &no_env).unwrap_err());
        assert!(error.contains("not an exact version"), "{error}");
        // No package it can run: the first remote.
        let fallback = json!({"name": "a/b", "version": "1.0.0",
            "packages": [{"registryType": "nuget", "identifier": "x", "version": "1.0.0"}],
            "remotes": [{"type": "sse", "url": "https://example.com/sse"}]});
        let (remote, recorded) = target(&fallback, Choice::First, &no_env).unwrap();
        assert_eq!(recorded.choice, "remotes/0");
        assert!(matches!(remote, Target::Sse { .. }));
        let entry_latest = json!({"name": "a/b", "version": "latest", "packages": []});
        assert!(target(&entry_latest, Choice::First, &no_env).is_err());
        assert!(target(&json!({"name": 1}), Choice::First, &no_env).is_err());
    }

    #[test]
    fn remotes_take_their_headers_from_the_environment() {
        let entry = json!({"name": "a/b", "version": "1.0.0", "remotes": [
            {"type": "streamable-http", "url": "https://example.com/mcp",
             "headers": [{"name": "X-Api-Key", "isRequired": true, "isSecret": true},
                         {"name": "X-Region", "value": "eu"}]}
        ]});
        let error = format!("{:#}", target(&entry, Choice::First, &no_env).unwrap_err());
        assert!(error.contains("MCPO_HEADER_X_API_KEY"), "{error}");
        let env = |name: &str| (name == "MCPO_HEADER_X_API_KEY").then(|| "k".to_string());
        let (remote, recorded) = target(&entry, Choice::First, &env).unwrap();
        assert_eq!(recorded.choice, "remotes/0");
        let Target::StreamableHttp { url, headers, .. } = remote else {
            panic!()
        };
        assert_eq!(url, "https://example.com/mcp");
        assert_eq!(headers.get("X-Api-Key").map(String::as_str), Some("k"));
        assert_eq!(headers.get("X-Region").map(String::as_str), Some("eu"));
    }

    #[test]
    fn the_current_schema_and_the_registry_api_are_read() {
        // The registry's API wraps the entry; an image names its own tag.
        let answer = json!({"server": {"name": "a/b", "version": "1.0.0", "packages": [
            {"registryType": "oci", "identifier": "ghcr.io/a/b:1.0.0",
             "environmentVariables": [{"name": "MODE", "value": "fast", "isRequired": true}]}
        ]}, "_meta": {}});
        let (image, _, sources) = target_and_env(&answer, Choice::First, &no_env).unwrap();
        let Target::Stdio { args, env, .. } = image else {
            panic!()
        };
        assert_eq!(
            args,
            ["run", "-i", "--rm", "-e", "MODE", "ghcr.io/a/b:1.0.0"]
        );
        assert_eq!(env.get("MODE").map(String::as_str), Some("fast"));
        // The fixed value the snapshot ran with is the lock's too.
        assert_eq!(
            serde_json::to_value(&sources).unwrap(),
            json!({"MODE": "fast"})
        );

        let secret_argument = json!({"name": "a/b", "version": "1.0.0", "packages": [
            {"registryType": "npm", "identifier": "x", "version": "1.0.0",
             "packageArguments": [{"type": "named", "name": "--token", "isSecret": true, "isRequired": true}]}]});
        let error = format!(
            "{:#}",
            target(&secret_argument, Choice::First, &no_env).unwrap_err()
        );
        assert!(error.contains("--token is a secret"), "{error}");
        let host_variable = json!({"name": "a/b", "version": "1.0.0", "packages": [
            {"registryType": "npm", "identifier": "x", "version": "1.0.0",
             "packageArguments": [{"type": "positional", "value": "${HOME}"}]}]});
        assert!(target(&host_variable, Choice::First, &no_env).is_err());

        let remote = json!({"name": "a/b", "version": "1.0.0", "remotes": [
            {"type": "streamable-http", "url": "https://example.com/mcp",
             "headers": [{"name": "X-Region", "value": "eu"}]}]});
        let (_, _, headers) = target_and_env(&remote, Choice::First, &no_env).unwrap();
        assert_eq!(
            serde_json::to_value(&headers).unwrap(),
            json!({"X-Region": "eu"})
        );
    }
}
