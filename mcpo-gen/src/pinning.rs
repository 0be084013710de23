//! Whether a launch spec pins what it runs. `uvx mcp-server-time` runs
//! whatever PyPI serves today, so the server behind a reviewed lock can
//! change without anyone regenerating it; `uvx mcp-server-time==2026.10.19`
//! cannot. This reads the package a launcher (`uvx`, `pipx run`, `npx`,
//! `bunx`, `docker`/`podman run`) is given, says whether its version is
//! pinned, writes the pinned form, and asks the package index which version
//! an unpinned spec runs today ([`resolve`]).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Where a launcher gets its package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registry {
    PyPi,
    Npm,
    /// A container image (pinned by its digest).
    Oci,
}

/// The package argument of a launch spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageSpec {
    pub registry: Registry,
    /// Which of the launch spec's arguments holds the package.
    pub arg_index: usize,
    /// The package, as the index names it (extras and version left out).
    pub name: String,
    /// The exact version (or image digest) it pins, if it pins one.
    pub pinned: Option<String>,
    /// The argument as given.
    pub given: String,
    /// What precedes the package in its argument (`--from=`), if anything.
    pub prefix: String,
}

impl PackageSpec {
    /// The argument that pins `version`: `pkg==1.2` (PyPI, extras kept),
    /// `pkg@1.2` (npm), `image@sha256:...` (OCI).
    pub fn pinned_form(&self, version: &str) -> String {
        match self.registry {
            Registry::PyPi => {
                let end = self
                    .given
                    .find(|c: char| "=<>!~@; ".contains(c))
                    .unwrap_or(self.given.len());
                format!("{}=={version}", &self.given[..end])
            }
            Registry::Npm => format!("{}@{version}", self.name),
            Registry::Oci => format!("{}@{version}", self.name),
        }
    }

    /// The whole launch spec with this package pinned at `version`.
    pub fn pinned_args(&self, args: &[String], version: &str) -> Vec<String> {
        let mut pinned = args.to_vec();
        pinned[self.arg_index] = format!("{}{}", self.prefix, self.pinned_form(version));
        pinned
    }
}

/// The package `command args` runs from an index, if it runs one.
pub fn package_of(command: &str, args: &[String]) -> Option<PackageSpec> {
    let launcher = std::path::Path::new(command)
        .file_name()?
        .to_str()?
        .trim_end_matches(".exe");
    let (registry, args_from, value_flags, spec_flags): (_, usize, &[&str], &[&str]) =
        match launcher {
            "uvx" => (Registry::PyPi, 0, UV_VALUE_FLAGS, &["--from"]),
            "uv" if args.first().is_some_and(|a| a == "tool")
                && args.get(1).is_some_and(|a| a == "run") =>
            {
                (Registry::PyPi, 2, UV_VALUE_FLAGS, &["--from"])
            }
            "pipx" if args.first().is_some_and(|a| a == "run") => {
                (Registry::PyPi, 1, PIPX_VALUE_FLAGS, &["--spec"])
            }
            "npx" | "bunx" => (Registry::Npm, 0, NPX_VALUE_FLAGS, &["-p", "--package"]),
            "docker" | "podman" if args.first().is_some_and(|a| a == "run") => {
                (Registry::Oci, 1, DOCKER_VALUE_FLAGS, &[])
            }
            _ => return None,
        };
    let mut index = args_from;
    while index < args.len() {
        let arg = &args[index];
        if arg == "--" {
            index += 1;
            break;
        }
        if !arg.starts_with('-') {
            break;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag, Some(value)),
            None => (arg.as_str(), None),
        };
        if spec_flags.contains(&flag) {
            return match inline {
                Some(value) => parse(registry, index, value).map(|spec| PackageSpec {
                    prefix: format!("{flag}="),
                    ..spec
                }),
                None => parse(registry, index + 1, args.get(index + 1)?),
            };
        }
        index += if inline.is_none() && value_flags.contains(&flag) {
            2
        } else {
            1
        };
    }
    parse(registry, index, args.get(index)?)
}

/// uv options that take a value (the rest are switches).
const UV_VALUE_FLAGS: &[&str] = &[
    "--with",
    "-w",
    "--with-editable",
    "--with-requirements",
    "--python",
    "-p",
    "--index",
    "--index-url",
    "-i",
    "--extra-index-url",
    "--default-index",
    "--find-links",
    "-f",
    "--constraints",
    "-c",
    "--overrides",
    "--build-constraints",
    "-b",
    "--cache-dir",
    "--directory",
    "--project",
    "--config-file",
    "--env-file",
    "--python-preference",
    "--resolution",
    "--prerelease",
    "--exclude-newer",
    "--refresh-package",
    "--reinstall-package",
    "--upgrade-package",
    "-P",
    "--color",
    "--index-strategy",
    "--keyring-provider",
    "--link-mode",
    "-C",
    "--config-setting",
];

const PIPX_VALUE_FLAGS: &[&str] = &["--python", "--pip-args", "--index-url", "-i"];

const NPX_VALUE_FLAGS: &[&str] = &[
    "-c",
    "--call",
    "--registry",
    "--cache",
    "--userconfig",
    "--prefix",
    "--loglevel",
];

const DOCKER_VALUE_FLAGS: &[&str] = &[
    "-e",
    "--env",
    "--env-file",
    "-v",
    "--volume",
    "--mount",
    "--name",
    "-p",
    "--publish",
    "--network",
    "--net",
    "-w",
    "--workdir",
    "-u",
    "--user",
    "--entrypoint",
    "--platform",
    "-l",
    "--label",
    "--add-host",
    "--cpus",
    "-m",
    "--memory",
    "--pull",
    "--hostname",
    "-h",
    "--dns",
    "--cap-add",
    "--cap-drop",
    "--device",
    "--security-opt",
    "--tmpfs",
    "--ulimit",
    "--log-driver",
    "--log-opt",
    "--restart",
    "--runtime",
    "--gpus",
    "--shm-size",
    "--ipc",
    "--pid",
    "--group-add",
    "--sysctl",
    "--userns",
    "--cidfile",
    "--stop-signal",
    "--stop-timeout",
    "--expose",
    "--label-file",
    "--uts",
    "--cgroupns",
];

fn parse(registry: Registry, arg_index: usize, given: &str) -> Option<PackageSpec> {
    // Paths, URLs and VCS specs are not from an index.
    if given.contains("://")
        || given.starts_with(['.', '/', '~'])
        || given.starts_with("git+")
        || given.starts_with("file:")
    {
        return None;
    }
    let (name, pinned) = match registry {
        Registry::PyPi => parse_python(given)?,
        Registry::Npm => parse_npm(given)?,
        Registry::Oci => match given.split_once('@') {
            Some((image, digest)) if digest.starts_with("sha256:") => {
                (image.to_string(), Some(digest.to_string()))
            }
            _ => (given.to_string(), None),
        },
    };
    Some(PackageSpec {
        registry,
        arg_index,
        name,
        pinned,
        given: given.to_string(),
        prefix: String::new(),
    })
}

/// `name[extras]==1.2.3` or `name@1.2.3` (uvx's shorthand) pin; a bare
/// name, `@latest`, a range or a wildcard do not.
fn parse_python(given: &str) -> Option<(String, Option<String>)> {
    let name_end = given
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(given.len());
    let name = &given[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &given[name_end..];
    if rest.starts_with('[') {
        rest = &rest[rest.find(']')? + 1..];
    }
    let version = rest
        .strip_prefix("==")
        .or_else(|| rest.strip_prefix('@'))
        .map(str::trim)
        .filter(|version| is_exact_version(version));
    Some((name.to_string(), version.map(str::to_string)))
}

/// `name@1.2.3` or `@scope/name@1.2.3` pin; a bare name, a dist-tag
/// (`latest`) or a range do not.
fn parse_npm(given: &str) -> Option<(String, Option<String>)> {
    // `github:user/repo`, `npm:alias@1.0.0`: not a registry package.
    if given.contains(':') {
        return None;
    }
    let at = match given.strip_prefix('@') {
        Some(scoped) => scoped.find('@').map(|at| at + 1),
        None => given.find('@'),
    };
    let (name, version) = match at {
        Some(at) => (&given[..at], Some(&given[at + 1..])),
        None => (given, None),
    };
    if name.is_empty() || name == "@" {
        return None;
    }
    let version = version.filter(|version| is_exact_version(version) && is_full_semver(version));
    Some((name.to_string(), version.map(str::to_string)))
}

/// `1.2.3`, `2026.10.19`, `1.0.0-beta.1`: digits first, no range or
/// wildcard characters.
pub fn is_exact_version(version: &str) -> bool {
    version.starts_with(|c: char| c.is_ascii_digit())
        && !version.contains(['*', '^', '~', '<', '>', '=', ' ', ',', '|'])
        && !version.ends_with(".x")
}

/// The warning for a launch spec that does not pin its package: the pinned
/// form, with the version its index serves today (a placeholder when the
/// index cannot be asked: the launcher is told to stay offline, or the
/// index does not answer, which it then says). `pin_hint`: whether `--pin`
/// applies (a server given after `--`). `None` when it pins, or runs no
/// package.
pub async fn unpinned_warning(command: &str, args: &[String], pin_hint: bool) -> Option<String> {
    let spec = package_of(command, args)?;
    if spec.pinned.is_some() {
        return None;
    }
    let mut unasked = String::new();
    let version = match spec.registry {
        Registry::Oci => None,
        registry if offline(registry) => None,
        _ => match resolve(&spec).await {
            Ok(version) => Some(version),
            Err(error) => {
                unasked = format!(" (the version is unknown: {error:#})");
                None
            }
        },
    };
    let placeholder = match spec.registry {
        Registry::Oci => "sha256:<digest>",
        _ => "<version>",
    };
    let pinned = spec.pinned_args(args, version.as_deref().unwrap_or(placeholder));
    let how = match spec.registry {
        Registry::Oci => "",
        _ if pin_hint => " (or generate with --pin)",
        _ => "",
    };
    Some(format!(
        "`{command} {}` does not pin `{}`: each start runs whatever its index serves then, \
         so the server can change under the reviewed lock; pin it: `{command} {}`{how}{unasked}",
        args.join(" "),
        spec.given,
        pinned.join(" "),
    ))
}

/// `args` with the package pinned at the version its index serves today
/// (unchanged when it pins one already, or runs no package).
pub async fn pin(command: &str, args: &[String]) -> Result<Vec<String>> {
    let Some(spec) = package_of(command, args) else {
        bail!(
            "--pin: `{command}` runs no package from an index (uvx, pipx run, npx, bunx): \
             there is nothing to pin"
        );
    };
    if spec.pinned.is_some() {
        return Ok(args.to_vec());
    }
    let version = resolve(&spec)
        .await
        .with_context(|| format!("--pin: which version of {:?} runs today", spec.name))?;
    Ok(spec.pinned_args(args, &version))
}

/// Whether the launcher of `registry` was told to stay offline (`UV_OFFLINE`,
/// `npm_config_offline`): its index is not asked either.
fn offline(registry: Registry) -> bool {
    let set = |name: &str| {
        std::env::var(name).is_ok_and(|value| !value.is_empty() && value != "0" && value != "false")
    };
    match registry {
        Registry::PyPi => set("UV_OFFLINE"),
        Registry::Npm => set("npm_config_offline"),
        Registry::Oci => true,
    }
}

/// `MAJOR.MINOR.PATCH`, with an optional pre-release or build after it: npm
/// reads anything shorter (`1.2`) as a range.
fn is_full_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
}

/// How long an index may take to say which version is current.
const INDEX_TIMEOUT: Duration = Duration::from_secs(10);

/// The version an unpinned `spec` runs today: PyPI's newest release that is
/// neither yanked nor a pre-release (uploaded before `UV_EXCLUDE_NEWER`
/// when that is set, as `uvx` does), npm's `latest` dist-tag. `MCPO_PYPI_URL`
/// (default `https://pypi.org/pypi`) and `npm_config_registry` (default
/// `https://registry.npmjs.org`) name other indexes.
pub async fn resolve(spec: &PackageSpec) -> Result<String> {
    let client = reqwest::Client::builder()
        .timeout(INDEX_TIMEOUT)
        .user_agent(concat!("mcpo-gen/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let get = |url: String| {
        let client = client.clone();
        async move {
            let response = client
                .get(&url)
                .send()
                .await
                .with_context(|| format!("the package index at {url} did not answer"))?;
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                bail!("the package index at {url} does not know {:?}", spec.name);
            }
            let response = response
                .error_for_status()
                .with_context(|| format!("the package index at {url} refused the request"))?;
            response
                .json::<Value>()
                .await
                .with_context(|| format!("the package index at {url} sent no JSON"))
        }
    };
    match spec.registry {
        Registry::PyPi => {
            let base = std::env::var("MCPO_PYPI_URL")
                .unwrap_or_else(|_| "https://pypi.org/pypi".to_string());
            let document =
                get(format!("{}/{}/json", base.trim_end_matches('/'), spec.name)).await?;
            let cutoff = std::env::var("UV_EXCLUDE_NEWER").ok();
            newest_python_release(&document, cutoff.as_deref())
                .with_context(|| format!("PyPI lists no stable release of {:?}", spec.name))
        }
        Registry::Npm => {
            let base = std::env::var("npm_config_registry")
                .unwrap_or_else(|_| "https://registry.npmjs.org".to_string());
            let name = spec.name.replacen('/', "%2f", 1);
            let document = get(format!("{}/{name}", base.trim_end_matches('/'))).await?;
            document
                .pointer("/dist-tags/latest")
                .and_then(Value::as_str)
                .map(str::to_string)
                .with_context(|| format!("npm has no `latest` version of {:?}", spec.name))
        }
        Registry::Oci => bail!(
            "an image's digest is the registry's to tell: pin it as {}@sha256:<digest> \
             (e.g. from `docker buildx imagetools inspect {}`)",
            spec.name,
            spec.given
        ),
    }
}

/// The newest release in a PyPI JSON document that is not a pre-release,
/// has a file that is not yanked, and (with `cutoff`, an RFC 3339 time) was
/// uploaded before it.
fn newest_python_release(document: &Value, cutoff: Option<&str>) -> Option<String> {
    let releases = document.get("releases")?.as_object()?;
    // A cutoff that does not read as a time cuts nothing, as uv would refuse it.
    let cutoff = cutoff.and_then(instant);
    releases
        .iter()
        .filter(|(version, _)| stable_release_key(version).is_some())
        .filter(|(_, files)| {
            files.as_array().is_some_and(|files| {
                files.iter().any(|file| {
                    file.get("yanked") != Some(&Value::Bool(true))
                        && cutoff.is_none_or(|cutoff| {
                            file.get("upload_time_iso_8601")
                                .and_then(Value::as_str)
                                .and_then(instant)
                                .is_some_and(|uploaded| uploaded < cutoff)
                        })
                })
            })
        })
        .max_by_key(|(version, _)| stable_release_key(version))
        .map(|(version, _)| version.clone())
}

/// An RFC 3339 time (any offset) or a date (the end of that day, UTC), as
/// uv reads `UV_EXCLUDE_NEWER` (its durations, `3 days`, are not read).
fn instant(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| time.to_utc())
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .and_then(|date| date.succ_opt())
                .and_then(|next| next.and_hms_opt(0, 0, 0))
                .map(|time| time.and_utc())
        })
}

/// A final release's numbers (`2026.10.19` -> [2026, 10, 19]); `None` for a
/// pre-release, dev or local version.
fn stable_release_key(version: &str) -> Option<(Vec<u64>, u64)> {
    let (release, post) = match version.split_once(".post") {
        Some((release, post)) => (release, post.parse::<u64>().ok()?),
        None => (version, 0),
    };
    let mut numbers: Vec<u64> = release
        .split('.')
        .map(|part| part.parse::<u64>().ok())
        .collect::<Option<_>>()?;
    // `2026.10` and `2026.10.0` are one release.
    while numbers.len() > 1 && numbers.last() == Some(&0) {
        numbers.pop();
    }
    Some((numbers, post))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(command: &str, args: &[&str]) -> Option<PackageSpec> {
        let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        package_of(command, &args)
    }

    #[test]
    fn python_launchers_pin_with_an_exact_version() {
        let pinned = |command: &str, args: &[&str]| spec(command, args).unwrap().pinned;
        assert_eq!(pinned("uvx", &["mcp-server-time"]), None);
        assert_eq!(pinned("uvx", &["mcp-server-time@latest"]), None);
        assert_eq!(pinned("uvx", &["mcp-server-time>=2026"]), None);
        assert_eq!(
            pinned("uvx", &["mcp-server-time==2026.10.19"]).as_deref(),
            Some("2026.10.19")
        );
        assert_eq!(
            pinned(
                "/usr/bin/uvx",
                &["mcp-server-time@2026.10.19", "--local-timezone", "UTC"]
            )
            .as_deref(),
            Some("2026.10.19")
        );
        assert_eq!(
            pinned(
                "uvx",
                &[
                    "--python",
                    "3.12",
                    "--from",
                    "mcp-server-git==1.0",
                    "mcp-server-git"
                ]
            )
            .as_deref(),
            Some("1.0")
        );
        assert_eq!(pinned("uv", &["tool", "run", "--with", "x", "pkg"]), None);
        assert_eq!(
            pinned("pipx", &["run", "--spec", "pkg[cli]==2.0", "tool"]).as_deref(),
            Some("2.0")
        );
        let extras = spec("uvx", &["pkg[cli]>=1"]).unwrap();
        assert_eq!(extras.name, "pkg");
        assert_eq!(extras.pinned_form("1.5"), "pkg[cli]==1.5");
        // Not from an index.
        assert_eq!(spec("uvx", &["--from", "git+https://x/y", "y"]), None);
        assert_eq!(spec("uvx", &["./local"]), None);
        let inline = spec("uvx", &["--from=mcp-server-git", "mcp-server-git"]).unwrap();
        assert_eq!(
            inline.pinned_args(
                &["--from=mcp-server-git".into(), "mcp-server-git".into()],
                "1.0"
            ),
            ["--from=mcp-server-git==1.0", "mcp-server-git"]
        );
        assert_eq!(spec("uvx", &["-C", "k=v", "pkg"]).unwrap().name, "pkg");
        assert_eq!(spec("python", &["server.py"]), None);
    }

    #[test]
    fn node_launchers_pin_with_an_exact_version() {
        let pinned = |args: &[&str]| spec("npx", args).unwrap().pinned;
        assert_eq!(
            pinned(&["-y", "@modelcontextprotocol/server-everything"]),
            None
        );
        assert_eq!(
            pinned(&["@modelcontextprotocol/server-everything@latest"]),
            None
        );
        assert_eq!(pinned(&["server-memory@^0.6"]), None);
        assert_eq!(pinned(&["server-memory@1.2"]), None);
        assert_eq!(spec("npx", &["github:user/repo"]), None);
        assert_eq!(
            pinned(&[
                "-y",
                "@modelcontextprotocol/server-everything@2026.8.31",
                "stdio"
            ])
            .as_deref(),
            Some("2026.8.31")
        );
        let scoped = spec("npx", &["-y", "@scope/name", "stdio"]).unwrap();
        assert_eq!(scoped.name, "@scope/name");
        assert_eq!(scoped.arg_index, 1);
        assert_eq!(
            scoped.pinned_args(
                &["-y".into(), "@scope/name".into(), "stdio".into()],
                "1.2.3"
            ),
            ["-y", "@scope/name@1.2.3", "stdio"]
        );
        assert_eq!(
            spec("bunx", &["pkg@1.0.0"]).unwrap().pinned.as_deref(),
            Some("1.0.0")
        );
    }

    #[test]
    fn images_pin_with_a_digest() {
        let image = spec(
            "docker",
            &["run", "-i", "--rm", "-e", "TOKEN", "mcp/time:latest"],
        )
        .unwrap();
        assert_eq!(
            (image.registry, image.name.as_str(), image.pinned),
            (Registry::Oci, "mcp/time:latest", None)
        );
        let digest = spec("podman", &["run", "-i", "mcp/time@sha256:abc"]).unwrap();
        assert_eq!(digest.pinned.as_deref(), Some("sha256:abc"));
    }

    #[test]
    fn the_newest_pypi_release_skips_pre_releases_yanked_files_and_later_uploads() {
        let file =
            |time: &str, yanked: bool| json!({"upload_time_iso_8601": time, "yanked": yanked});
        let document = json!({"releases": {
            "2026.1.26": [file("2026-01-26T00:00:00Z", false)],
            "2026.10.19": [file("2026-10-19T00:00:00Z", false)],
            "2026.11.1": [file("2026-11-01T00:00:00Z", true)],
            "2026.12.1rc1": [file("2026-12-01T00:00:00Z", false)],
            "2026.9.2": [],
        }});
        assert_eq!(
            newest_python_release(&document, None).as_deref(),
            Some("2026.10.19")
        );
        assert_eq!(
            newest_python_release(&document, Some("2026-10-01T00:00:00Z")).as_deref(),
            Some("2026.1.26")
        );
        // Offsets and plain dates are times too.
        assert_eq!(
            newest_python_release(&document, Some("2026-10-18T23:00:00-05:00")).as_deref(),
            Some("2026.10.19")
        );
        assert_eq!(
            newest_python_release(&document, Some("2026-10-19")).as_deref(),
            Some("2026.10.19")
        );
        assert!(stable_release_key("1.10.0") > stable_release_key("1.9.9"));
        assert_eq!(stable_release_key("1.0.dev1"), None);
        assert!(stable_release_key("1.0.0.post10") > stable_release_key("1.0.0.post2"));
        assert!(stable_release_key("1.0.0.post1") > stable_release_key("1.0.0"));
        assert_eq!(
            stable_release_key("2026.10"),
            stable_release_key("2026.10.0")
        );
        assert_eq!(stable_release_key("1.0.post1.dev0"), None);
    }
}
