//! Non-Rust files of the crate, rendered from `templates/*.j2` with minijinja;
//! `templates/main.rs`; and the runtime crate's manifest and sources, copied
//! verbatim from `mcpo-runtime/` (embedded at build time by `build.rs`).

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use std::path::Path;

use serde_json::Value;

use super::EmitError;
use crate::lock::{CrateLock, Lock, MultiLock, RuntimeSource, Upstream};
use crate::naming::tool_route;

include!(concat!(env!("OUT_DIR"), "/embedded_files.rs"));

fn template_file(name: &str) -> &'static str {
    TEMPLATE_FILES
        .iter()
        .find(|(path, _)| *path == name)
        .map(|(_, text)| *text)
        .unwrap_or_default()
}

/// `templates/main.rs`, the proxy's entry point.
pub fn main_rs() -> &'static str {
    template_file("main.rs")
}

/// `(path under mcpo-runtime/, text)` of the runtime crate's manifest and
/// every source file: what a vendored or shared runtime folder holds.
pub fn runtime_files() -> impl Iterator<Item = (&'static str, &'static str)> {
    RUNTIME_FILES.iter().copied()
}

/// The lock every generated crate carries (see `cargo_lock`).
pub fn cargo_lock() -> &'static str {
    template_file("Cargo.lock")
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("")
        .trim()
}

fn upstream_context(upstream: &Upstream) -> Value {
    let (kind, secrets) = match upstream {
        Upstream::Stdio { env, .. } => ("stdio", env),
        Upstream::StreamableHttp { headers, .. } => ("streamable-http", headers),
        Upstream::Sse { headers, .. } => ("sse", headers),
    };
    let command = match upstream {
        Upstream::Stdio { command, .. } => Path::new(command)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned()),
        _ => None,
    };
    let default_variable = |name: &str| match upstream {
        Upstream::Stdio { .. } => name.to_string(),
        _ => mcpo_runtime::upstream::header_env_var(name),
    };
    let secret_sources: Vec<Value> = secrets
        .iter()
        .map(|(name, template)| {
            serde_json::json!({
                "name": name,
                "vars": secrets.variables(name, default_variable),
                "templated": template.is_some(),
            })
        })
        .collect();
    serde_json::json!({
        "type": kind,
        "command": command,
        "describe": upstream.describe(),
        "secret_names": secrets.names().collect::<Vec<_>>(),
        "secrets": secret_sources,
    })
}

fn runtime_context(runtime: &RuntimeSource) -> Value {
    let (mode, dependency) = match runtime {
        RuntimeSource::Vendored => (
            "vendored",
            format!("{{ path = \"{}\" }}", crate::lock::VENDORED_RUNTIME_FOLDER),
        ),
        RuntimeSource::Shared { folder } => ("shared", format!("{{ path = {folder:?} }}")),
        RuntimeSource::Published { version } => ("published", format!("\"={version}\"")),
    };
    serde_json::json!({
        "mode": mode,
        "dependency": dependency,
        "folder": runtime.folder(),
        // A published runtime has a registry checksum this repository cannot
        // know before publishing, so its lock is left to the first build.
        "has_cargo_lock": runtime.folder().is_some(),
    })
}

/// `Cargo.toml.j2` -> `Cargo.toml`; `gitignore.j2` -> `.gitignore` and
/// `dockerignore.j2` -> `.dockerignore` (kept without their dot in templates/
/// so that this repository's own git and docker don't read them).
fn output_name(template: &str) -> String {
    match template.trim_end_matches(".j2") {
        name @ ("gitignore" | "dockerignore") => format!(".{name}"),
        other => other.to_string(),
    }
}

/// What the templates know of one server: facts, launch spec, tools.
fn server_context(lock: &Lock) -> Value {
    let tools: Vec<Value> = lock
        .tools
        .iter()
        .map(|tool| {
            serde_json::json!({
                "name": tool.name,
                "route": tool_route(&tool.name),
                "summary": first_line(tool.title().or(tool.description()).unwrap_or("")),
                "typed_output": tool.output_schema().is_some(),
            })
        })
        .collect();
    serde_json::json!({
        "server": lock.server,
        "upstream": upstream_context(&lock.upstream),
        "tools": tools,
        "disabled_tools": lock.disabled_tools,
    })
}

/// What the image installs at build time for `upstreams`, so that a
/// container starts them with no network: each package a `uvx` (or `uv tool
/// run`) or `npx` launch spec runs, as the spec names it (`tool`: the
/// launcher that installs it). The image of any other launcher has none.
/// A spec whose launcher options change what it installs (`uvx --with X`,
/// `--python`, an index) is listed under `fetched_at_start` instead: an
/// install without them would not be the environment it asks for.
fn installs_context<'a>(upstreams: impl IntoIterator<Item = &'a Upstream>) -> Value {
    let mut installs = std::collections::BTreeSet::new();
    let mut fetched_at_start = std::collections::BTreeSet::new();
    // A launcher is kept offline only when every spec it runs was installed.
    let (mut uv_offline, mut npm_offline) = (true, true);
    for upstream in upstreams {
        let Upstream::Stdio { command, args, .. } = upstream else {
            continue;
        };
        let launcher = Path::new(command)
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let offline = match launcher.as_str() {
            "uvx" | "uv" => &mut uv_offline,
            "npx" => &mut npm_offline,
            _ => continue,
        };
        let installed = plain_package(&launcher, command, args);
        match installed {
            Some(install) => {
                installs.insert(install);
            }
            None => {
                *offline = false;
                fetched_at_start.insert(upstream.describe());
            }
        }
    }
    let installs: Vec<Value> = installs
        .into_iter()
        .map(|(tool, spec)| serde_json::json!({"tool": tool, "spec": spec}))
        .collect();
    serde_json::json!({
        "list": installs,
        "fetched_at_start": fetched_at_start,
        "uv_offline": uv_offline && installs.iter().any(|install| install["tool"] == "uv"),
        "npm_offline": npm_offline && installs.iter().any(|install| install["tool"] == "npm"),
    })
}

/// `(tool, spec)` to install for a `uvx`, `uv tool run` or `npx` launch
/// spec that names its package plainly: none for one whose launcher
/// options change what it installs, which asks for `@latest` (uv then
/// skips an installed tool), or whose package is a `${VAR}`.
fn plain_package(launcher: &str, command: &str, args: &[String]) -> Option<(&'static str, String)> {
    let package = crate::pinning::package_of(command, args)?;
    let (tool, options_from, harmless, package_flags): (_, _, &[&str], &[&str]) =
        match (package.registry, launcher) {
            (crate::pinning::Registry::PyPi, "uvx") => ("uv", 0, UV_SWITCHES, &["--from"]),
            (crate::pinning::Registry::PyPi, "uv") => ("uv", 2, UV_SWITCHES, &["--from"]),
            (crate::pinning::Registry::Npm, "npx") => {
                ("npm", 0, NPX_SWITCHES, &["-p", "--package"])
            }
            _ => return None,
        };
    let options = &args[options_from..package.arg_index];
    let only_the_package = options.iter().enumerate().all(|(index, option)| {
        harmless.contains(&option.as_str())
            || (index + 1 == options.len() && package_flags.contains(&option.as_str()))
    });
    let literal = !package.given.contains("${") && !package.given.ends_with("@latest");
    (only_the_package && literal).then_some((tool, package.given))
}

/// uv switches that leave what `uvx` installs as it is.
const UV_SWITCHES: &[&str] = &[
    "-q",
    "--quiet",
    "-v",
    "--verbose",
    "--no-progress",
    "--native-tls",
];

/// npx switches that leave what it installs as it is.
const NPX_SWITCHES: &[&str] = &["-y", "--yes", "-q", "--quiet", "--silent"];

/// Every secret the upstreams need, once each: the env var the proxy reads
/// it from (a stdio server's own variable, `MCPO_HEADER_<NAME>` for a
/// header) and a Kubernetes Secret key for it.
fn secrets_context<'a>(upstreams: impl IntoIterator<Item = &'a Upstream>) -> Value {
    let mut secrets = std::collections::BTreeMap::new();
    for upstream in upstreams {
        let (sources, default_variable): (_, fn(&str) -> String) = match upstream {
            Upstream::Stdio { env, .. } => (env, str::to_string),
            Upstream::StreamableHttp { headers, .. } | Upstream::Sse { headers, .. } => {
                (headers, mcpo_runtime::upstream::header_env_var)
            }
        };
        for (name, template) in sources.iter() {
            for var in sources.variables(name, default_variable) {
                // A default variable keeps the value's name as its key.
                let key = if template.is_some() {
                    var.clone()
                } else {
                    name.clone()
                };
                secrets.insert(var, key);
            }
        }
    }
    let secrets: Vec<Value> = secrets
        .into_iter()
        .map(|(env, key)| serde_json::json!({"env": env, "key": key}))
        .collect();
    Value::from(secrets)
}

/// A multi-server crate: its servers in name order, each with its prefix,
/// and what the image needs to start every stdio server.
fn multi_context(lock: &MultiLock) -> Value {
    let servers: Vec<Value> = lock
        .servers
        .iter()
        .map(|(name, server)| {
            let mut ctx = server_context(server);
            ctx["name"] = Value::from(name.clone());
            ctx
        })
        .collect();
    let launchers: std::collections::BTreeSet<String> = servers
        .iter()
        .filter_map(|server| server["upstream"]["command"].as_str().map(str::to_string))
        .collect();
    let needs_uv = launchers.iter().any(|l| matches!(l.as_str(), "uvx" | "uv"));
    let needs_node = launchers
        .iter()
        .any(|l| matches!(l.as_str(), "npx" | "node"));
    let other_launchers: Vec<&String> = launchers
        .iter()
        .filter(|l| !matches!(l.as_str(), "uvx" | "uv" | "npx" | "node"))
        .collect();
    let names: Vec<&str> = lock.servers.keys().map(String::as_str).collect();
    let installs = installs_context(lock.servers.values().map(|server| &server.upstream));
    serde_json::json!({
        "multi": true,
        "crate_name": lock.proxy_crate.name,
        "runtime": runtime_context(&lock.proxy_crate.runtime),
        "description": format!(
            "REST/OpenAPI proxy for the MCP servers {}, generated by mcpo-gen",
            names.join(", ")
        ),
        "servers": servers,
        "secrets": secrets_context(lock.servers.values().map(|server| &server.upstream)),
        "installs": installs,
        "needs_uv": needs_uv,
        "needs_node": needs_node,
        "other_launchers": other_launchers,
    })
}

/// Renders every `*.j2` template to its file name without the suffix.
pub fn render_all(lock: &CrateLock) -> Result<Vec<(String, String)>, EmitError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // minijinja would JSON-escape `*.yaml.j2` (quoting every value); the
    // templates quote what needs it themselves.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Keep the templates' trailing newline: files end with exactly one.
    env.set_syntax(
        SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    let templates: Vec<_> = TEMPLATE_FILES
        .iter()
        .filter(|(path, _)| path.ends_with(".j2"))
        .collect();
    for (name, source) in &templates {
        env.add_template(name, source)
            .map_err(|source| EmitError::Template {
                name: name.to_string(),
                source,
            })?;
    }
    let ctx = match lock {
        CrateLock::Single(lock) => {
            let mut ctx = server_context(lock);
            let description = format!(
                "REST/OpenAPI proxy for the MCP server {} {}, generated by mcpo-gen",
                lock.server.name, lock.server.version
            );
            ctx["crate_name"] = Value::from(lock.proxy_crate.name.clone());
            ctx["runtime"] = runtime_context(&lock.proxy_crate.runtime);
            ctx["description"] = Value::from(description);
            ctx["multi"] = Value::from(false);
            ctx["secrets"] = secrets_context([&lock.upstream]);
            ctx["installs"] = installs_context([&lock.upstream]);
            ctx
        }
        CrateLock::Multi(lock) => multi_context(lock),
    };
    templates
        .iter()
        .map(|(name, _)| {
            let template = env
                .get_template(name)
                .map_err(|source| EmitError::Template {
                    name: name.to_string(),
                    source,
                })?;
            let text = template
                .render(Serde(&ctx))
                .map_err(|source| EmitError::Template {
                    name: name.to_string(),
                    source,
                })?;
            Ok((output_name(name), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio(command: &str, args: &[&str]) -> Upstream {
        Upstream::Stdio {
            command: command.into(),
            args: args.iter().map(|arg| arg.to_string()).collect(),
            env: Default::default(),
        }
    }

    /// A plain package spec is installed as it is named; one whose
    /// launcher options change the environment is fetched at start.
    #[test]
    fn images_install_plain_package_specs_only() {
        let upstreams = [
            stdio(
                "uvx",
                &["mcp-server-time==2026.10.19", "--local-timezone=UTC"],
            ),
            stdio("uvx", &["--from", "mcp-git[all]==1.0", "mcp-server-git"]),
            stdio(
                "uv",
                &["tool", "run", "-q", "--from=fetch==2.0", "mcp-fetch"],
            ),
            stdio("uvx", &["--with", "extra", "tool==1.0"]),
            stdio(
                "uvx",
                &[
                    "--index-url",
                    "https://index.example/simple",
                    "private==1.0",
                ],
            ),
            stdio("npx", &["-y", "@scope/server@1.2.3", "stdio"]),
            stdio("npx", &["--yes", "-p", "@scope/other@2.0.0", "other-cli"]),
            stdio(
                "npx",
                &["--registry", "https://registry.example", "pkg@1.0.0"],
            ),
            stdio("uvx", &["newest@latest"]),
            stdio("uvx", &["pkg==${PKG_VERSION}"]),
            stdio("node", &["server.js"]),
            stdio("pipx", &["run", "thing==1.0"]),
        ];
        let context = installs_context(upstreams.iter());
        assert_eq!(
            context["list"],
            serde_json::json!([
                {"tool": "npm", "spec": "@scope/other@2.0.0"},
                {"tool": "npm", "spec": "@scope/server@1.2.3"},
                {"tool": "uv", "spec": "fetch==2.0"},
                {"tool": "uv", "spec": "mcp-git[all]==1.0"},
                {"tool": "uv", "spec": "mcp-server-time==2026.10.19"},
            ])
        );
        // Some uvx and npx specs are fetched at start: neither is offline.
        assert_eq!(context["uv_offline"], false);
        assert_eq!(context["npm_offline"], false);
        let fetched: Vec<&str> = context["fetched_at_start"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(fetched.len(), 5, "{fetched:?}");
        for spec in [
            "--with extra",
            "--index-url",
            "--registry",
            "@latest",
            "${PKG_VERSION}",
        ] {
            assert!(
                fetched.iter().any(|line| line.contains(spec)),
                "{spec}: {fetched:?}"
            );
        }
    }

    /// A launcher is kept offline when every spec it runs was installed.
    #[test]
    fn a_launcher_stays_online_for_a_spec_fetched_at_start() {
        let installed = [stdio("uvx", &["a==1.0"]), stdio("npx", &["-y", "b@1.0.0"])];
        let context = installs_context(installed.iter());
        assert_eq!(
            (&context["uv_offline"], &context["npm_offline"]),
            (&Value::Bool(true), &Value::Bool(true))
        );
        let mixed = [
            stdio("uvx", &["a==1.0"]),
            stdio("uvx", &["--with", "x", "c==1.0"]),
        ];
        let context = installs_context(mixed.iter());
        assert_eq!(context["uv_offline"], false);
        assert_eq!(context["list"].as_array().unwrap().len(), 1);
    }
}
