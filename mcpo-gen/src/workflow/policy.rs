//! The crate's access policy on its way into the lock: generation reads
//! `mcp.policy.json` from the crate folder, checks it against the lock's
//! servers and tools, and records it (the crate then renders it back, so
//! `check` sees an edit that was not regenerated).

use std::path::Path;

use anyhow::{Context as _, Result, bail};

use mcpo_gen::emit::Drift;
use mcpo_gen::lock::{AccessPolicy, CrateLock, POLICY_FILE_NAME};

/// `path`'s access policy, when the file exists.
pub fn read_policy(path: &Path) -> Result<Option<AccessPolicy>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = mcpo_runtime::files::read_text_capped(path, mcpo_runtime::files::SMALL_FILE_LIMIT)
        .with_context(|| format!("reading {}", path.display()))?;
    let policy =
        AccessPolicy::from_json(&text, &path.display().to_string()).map_err(anyhow::Error::msg)?;
    Ok(Some(policy))
}

/// `lock` with the policy of `dir/mcp.policy.json` recorded (none when
/// the folder has no such file), and warnings for grants that name tools,
/// resources or prompts the lock lacks (they allow nothing). A grant for a
/// server the crate does not serve is an error.
pub fn with_policy_of(lock: &CrateLock, dir: &Path) -> Result<(CrateLock, Vec<String>)> {
    // A crate generated into a new folder keeps the policy its lock records;
    // in a generated crate, a deleted policy file is a removed policy.
    let fresh_output = !dir.join(mcpo_gen::lock::LOCK_FILE_NAME).exists();
    let policy = match read_policy(&dir.join(POLICY_FILE_NAME))? {
        None if fresh_output => lock.proxy_crate().policy.clone(),
        read => read,
    };
    recorded(lock, policy)
}

/// The policy of `--policy FILE` (`serve`): read before anything starts.
pub fn read_policy_file(path: &Path) -> Result<AccessPolicy> {
    read_policy(path)?.with_context(|| format!("--policy {}: no such file", path.display()))
}

/// `lock` recording `policy`, once it is checked against the lock's
/// servers ([`check_names`]), with the warnings of that check.
pub fn recorded(
    lock: &CrateLock,
    policy: Option<AccessPolicy>,
) -> Result<(CrateLock, Vec<String>)> {
    let warnings = match &policy {
        Some(policy) => check_names(policy, lock)?,
        None => Vec::new(),
    };
    let mut lock = lock.clone();
    let mut proxy_crate = lock.proxy_crate().clone();
    proxy_crate.policy = policy;
    lock.set_proxy_crate(proxy_crate);
    Ok((lock, warnings))
}

/// `policy` serves `lock` (a server it names is served), with a warning for
/// each name no server of the grant has.
pub fn check_names(policy: &AccessPolicy, lock: &CrateLock) -> Result<Vec<String>> {
    let servers = lock.servers();
    let mut warnings = Vec::new();
    for (index, grant) in policy.grants.iter().enumerate() {
        let scoped: Vec<_> = servers
            .iter()
            .filter(|(name, _)| match (&grant.server, name) {
                (None, _) => true,
                (Some(wanted), Some(name)) => wanted == name,
                (Some(_), None) => false,
            })
            .collect();
        if let Some(server) = &grant.server
            && scoped.is_empty()
        {
            bail!(
                "{POLICY_FILE_NAME}: grant {index} is for server {server:?}, which this crate does not serve{}",
                if servers.len() == 1 {
                    " (a single-server crate's grants name no server)"
                } else {
                    ""
                }
            );
        }
        let known = |kind: &str, name: &str| -> bool {
            name == "*"
                || scoped.iter().any(|(_, server)| match kind {
                    "tool" => server.tools.iter().any(|tool| tool.name == name),
                    "resource" => {
                        server.surface.resources.iter().any(|item| item.key == name)
                            || server
                                .surface
                                .resource_templates
                                .iter()
                                .any(|item| item.definition["uriTemplate"] == name)
                    }
                    _ => server.surface.prompts.iter().any(|item| item.key == name),
                })
        };
        for (kind, names) in [
            ("tool", &grant.tools),
            ("resource", &grant.resources),
            ("prompt", &grant.prompts),
        ] {
            for name in names.iter().filter(|name| !known(kind, name)) {
                warnings.push(format!(
                    "{POLICY_FILE_NAME}: grant {index} names the {kind} {name:?}, which the lock does not have: it allows nothing"
                ));
            }
        }
    }
    Ok(warnings)
}

/// A policy file in a crate whose lock records none: written, never
/// generated into the lock, so the proxy does not enforce it.
pub fn unrecorded_policy(lock: &CrateLock, dir: &Path) -> Option<Drift> {
    let path = dir.join(POLICY_FILE_NAME);
    if lock.proxy_crate().policy.is_some() || !path.is_file() {
        return None;
    }
    let actual =
        mcpo_runtime::files::read_text_capped(&path, mcpo_runtime::files::SMALL_FILE_LIMIT)
            .unwrap_or_default();
    Some(Drift::Changed {
        path: POLICY_FILE_NAME.into(),
        expected: String::new(),
        actual,
    })
}
