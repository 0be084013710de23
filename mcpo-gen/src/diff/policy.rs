//! The classifier of the crate's access policy (`crate.policy`, recorded
//! from `mcp.policy.json`): who may now use what they could not before
//! (`policy-grant-widened`, ERR) and who lost access
//! (`policy-grant-narrowed`, WARN).
//!
//! Each policy is expanded into what its grants allow, one tool, resource
//! or prompt name (`"*"` included, as written) for one audience on one
//! server (or every server). What the new policy allows is a widening
//! unless one thing the old one allowed covers it: the same name, for an
//! audience at least as wide, on the same server or on every server. What
//! the old one allowed and nothing in the new one covers is a narrowing.
//! So a changed audience is a widening unless the new one only drops
//! callers. Without a policy every authenticated caller may use everything:
//! removing the policy is one widening, adding one is one narrowing.
//!
//! The policy belongs to the crate, not to its servers: a multi-server
//! crate reports it once (a grant's `server` puts its change under it).

use std::collections::BTreeMap;

use serde_json::Value;

use super::Change;
use super::rules::{POLICY_GRANT_NARROWED, POLICY_GRANT_WIDENED, Rule};
use crate::lock::{AccessPolicy, Audience, Grant, canonical_compact};

/// Classifies the change from `old` to `new` (a crate's `policy`, `None`
/// when it has none). `multi` says the crate serves several servers, so
/// grants without a `server` say they apply to every one.
pub(crate) fn diff_policies(
    old: Option<&AccessPolicy>,
    new: Option<&AccessPolicy>,
    multi: bool,
) -> Vec<Change> {
    let whole =
        |rule: Rule, message: String, old: Option<&AccessPolicy>, new: Option<&AccessPolicy>| {
            Change::from_rule(
                rule,
                None,
                Some("/crate/policy".to_string()),
                message,
                old.map(policy_value),
                new.map(policy_value),
            )
        };
    match (old, new) {
        (None, None) => Vec::new(),
        (Some(old), None) => vec![whole(
            POLICY_GRANT_WIDENED,
            format!(
                "access policy removed: every authenticated caller may now use every tool, \
                 resource and prompt ({} grants before)",
                old.grants.len()
            ),
            Some(old),
            None,
        )],
        (None, Some(new)) => vec![whole(
            POLICY_GRANT_NARROWED,
            format!(
                "access policy added: callers may now use only what its {} grants allow \
                 (every authenticated caller could use everything)",
                new.grants.len()
            ),
            None,
            Some(new),
        )],
        (Some(old), Some(new)) => {
            let (old_access, new_access) = (access(old), access(new));
            let mut changes = grouped(POLICY_GRANT_WIDENED, &new_access, &old_access, multi);
            changes.extend(grouped(
                POLICY_GRANT_NARROWED,
                &old_access,
                &new_access,
                multi,
            ));
            changes
        }
    }
}

fn policy_value(policy: &AccessPolicy) -> Value {
    // A struct of strings and lists always serializes.
    serde_json::to_value(policy).unwrap_or(Value::Null)
}

/// What a grant's list holds: tools, resources or prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tool,
    Resource,
    Prompt,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Resource => "resource",
            Kind::Prompt => "prompt",
        }
    }
}

/// One thing a policy allows: `name` of `kind`, to the callers `to`
/// matches, on `server` (every server when `None`), by grant `index`.
#[derive(Debug, Clone, Copy)]
struct Access<'a> {
    index: usize,
    to: &'a Audience,
    server: Option<&'a str>,
    kind: Kind,
    name: &'a str,
}

impl Access<'_> {
    /// Whether everyone `other` lets use something may already use it by
    /// `self`.
    fn covers(&self, other: &Access<'_>) -> bool {
        self.kind == other.kind
            && self.name == other.name
            && (self.server.is_none() || self.server == other.server)
            && reaches_all_of(self.to, other.to)
    }
}

fn access(policy: &AccessPolicy) -> Vec<Access<'_>> {
    let mut all = Vec::new();
    for (index, grant) in policy.grants.iter().enumerate() {
        for (kind, names) in [
            (Kind::Tool, &grant.tools),
            (Kind::Resource, &grant.resources),
            (Kind::Prompt, &grant.prompts),
        ] {
            all.extend(names.iter().map(|name| Access {
                index,
                to: &grant.to,
                server: grant.server.as_deref(),
                kind,
                name,
            }));
        }
    }
    all
}

/// Whether `wide` matches every caller `narrow` matches (as
/// `Audience::matches` decides): each condition `wide` names, `narrow`
/// names too, with values among `wide`'s.
fn reaches_all_of(wide: &Audience, narrow: &Audience) -> bool {
    if wide.anyone {
        return true;
    }
    if narrow.anyone {
        return false;
    }
    let within = |wide: &[String], narrow: &[String]| {
        wide.is_empty() || (!narrow.is_empty() && narrow.iter().all(|value| wide.contains(value)))
    };
    let lower = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|domain| domain.to_ascii_lowercase())
            .collect()
    };
    within(&wide.issuers, &narrow.issuers)
        && within(&wide.subjects, &narrow.subjects)
        && within(&wide.emails, &narrow.emails)
        && within(&lower(&wide.email_domains), &lower(&narrow.email_domains))
        && within(&wide.roles, &narrow.roles)
        && within(&wide.groups, &narrow.groups)
        && within(&wide.scopes, &narrow.scopes)
}

/// One `rule` change per audience and server for what `side` allows and
/// nothing of `other` covers.
fn grouped(rule: Rule, side: &[Access<'_>], other: &[Access<'_>], multi: bool) -> Vec<Change> {
    let mut groups: BTreeMap<(String, Option<&str>), Vec<&Access<'_>>> = BTreeMap::new();
    for access in side
        .iter()
        .filter(|access| !other.iter().any(|known| known.covers(access)))
    {
        let group = groups
            .entry((audience_text(access.to), access.server))
            .or_default();
        // Two grants to the same callers may name the same thing.
        if !group
            .iter()
            .any(|known| known.kind == access.kind && known.name == access.name)
        {
            group.push(access);
        }
    }
    let verb = if rule == POLICY_GRANT_WIDENED {
        "now allows"
    } else {
        "no longer allows"
    };
    groups
        .into_iter()
        .map(|((to, server), accesses)| {
            let first = accesses[0];
            let mut grant = Grant {
                to: first.to.clone(),
                server: server.map(str::to_string),
                tools: Vec::new(),
                resources: Vec::new(),
                prompts: Vec::new(),
            };
            for access in &accesses {
                match access.kind {
                    Kind::Tool => &mut grant.tools,
                    Kind::Resource => &mut grant.resources,
                    Kind::Prompt => &mut grant.prompts,
                }
                .push(access.name.to_string());
            }
            let named: Vec<String> = accesses.iter().map(|access| named(access)).collect();
            let everywhere = if multi && server.is_none() {
                " on every server"
            } else {
                ""
            };
            let index = accesses.iter().map(|access| access.index).min();
            let value = serde_json::to_value(&grant).ok();
            let (old, new) = if rule == POLICY_GRANT_WIDENED {
                (None, value)
            } else {
                (value, None)
            };
            let mut change = Change::from_rule(
                rule,
                None,
                index.map(|index| format!("/crate/policy/grants/{index}")),
                format!("grant to {to}{everywhere} {verb} {}", named.join(", ")),
                old,
                new,
            );
            change.server = server.map(str::to_string);
            change
        })
        .collect()
}

/// `{"roles":["admin"]}`: an audience as messages show it.
fn audience_text(to: &Audience) -> String {
    canonical_compact(&serde_json::to_value(to).unwrap_or(Value::Null))
}

/// `tool "echo"`, or `every tool ("*")`.
fn named(access: &Access<'_>) -> String {
    let noun = access.kind.noun();
    if access.name == "*" {
        format!("every {noun} (\"*\")")
    } else {
        format!("{noun} {:?}", access.name)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::diff::{Level, diff_crate_locks};
    use crate::lock::{CrateLock, Lock, MultiLock, ProxyCrate, ServerFacts, Upstream};

    fn policy(text: &str) -> AccessPolicy {
        AccessPolicy::from_json(text, "test").expect("a policy")
    }

    const BASE: &str = r#"{"grants": [
        {"to": {"roles": ["admin"]}, "tools": ["*"]},
        {"to": {"roles": ["user"]}, "tools": ["get_time"], "prompts": ["greet"]}
    ]}"#;
    const USER: &str = r#"{"grants": [{"to": {"roles": ["user"]}, "tools": ["now"]}]}"#;
    const USER_OR_GUEST: &str =
        r#"{"grants": [{"to": {"roles": ["user", "guest"]}, "tools": ["now"]}]}"#;
    const USER_ON_TIME: &str =
        r#"{"grants": [{"to": {"roles": ["user"]}, "server": "time", "tools": ["now"]}]}"#;
    const WIDENED: &str = "policy-grant-widened";
    const NARROWED: &str = "policy-grant-narrowed";

    /// Each case: its name, the old and new policy (`None`: no policy),
    /// whether the crate serves several servers, and exactly the changes
    /// expected as (rule id, server or "", message).
    type Case = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        bool,
        &'static [(&'static str, &'static str, &'static str)],
    );

    const CASES: &[Case] = &[
        ("unchanged", Some(BASE), Some(BASE), false, &[]),
        ("no policy on either side", None, None, false, &[]),
        (
            "a grant gains a tool and every resource",
            Some(BASE),
            Some(
                r#"{"grants": [{"to": {"roles": ["admin"]}, "tools": ["*"]},
                    {"to": {"roles": ["user"]}, "tools": ["get_time", "delete_everything"],
                     "prompts": ["greet"], "resources": ["*"]}]}"#,
            ),
            false,
            &[(
                WIDENED,
                "",
                r#"grant to {"roles":["user"]} now allows tool "delete_everything", every resource ("*")"#,
            )],
        ),
        (
            "a wider audience: guests gain, users are covered",
            Some(USER),
            Some(USER_OR_GUEST),
            false,
            &[(
                WIDENED,
                "",
                r#"grant to {"roles":["user","guest"]} now allows tool "now""#,
            )],
        ),
        (
            "anyone is wider than any audience",
            Some(USER),
            Some(r#"{"grants": [{"to": {"anyone": true}, "tools": ["now"]}]}"#),
            false,
            &[(
                WIDENED,
                "",
                r#"grant to {"anyone":true} now allows tool "now""#,
            )],
        ),
        (
            "another audience: one gains, one loses",
            Some(USER),
            Some(r#"{"grants": [{"to": {"roles": ["guest"]}, "tools": ["now"]}]}"#),
            false,
            &[
                (
                    WIDENED,
                    "",
                    r#"grant to {"roles":["guest"]} now allows tool "now""#,
                ),
                (
                    NARROWED,
                    "",
                    r#"grant to {"roles":["user"]} no longer allows tool "now""#,
                ),
            ],
        ),
        (
            "a smaller audience only narrows",
            Some(USER_OR_GUEST),
            Some(USER),
            false,
            &[(
                NARROWED,
                "",
                r#"grant to {"roles":["user","guest"]} no longer allows tool "now""#,
            )],
        ),
        (
            "a condition added only narrows",
            Some(USER),
            Some(r#"{"grants": [{"to": {"roles": ["user"], "scopes": ["x"]}, "tools": ["now"]}]}"#),
            false,
            &[(
                NARROWED,
                "",
                r#"grant to {"roles":["user"]} no longer allows tool "now""#,
            )],
        ),
        (
            "an issuer added only narrows",
            Some(USER),
            Some(
                r#"{"grants": [{"to": {"issuers": ["https://idp"], "roles": ["user"]}, "tools": ["now"]}]}"#,
            ),
            false,
            &[(
                NARROWED,
                "",
                r#"grant to {"roles":["user"]} no longer allows tool "now""#,
            )],
        ),
        (
            "an issuer dropped widens: another issuer's users gain",
            Some(
                r#"{"grants": [{"to": {"issuers": ["https://idp"], "roles": ["user"]}, "tools": ["now"]}]}"#,
            ),
            Some(USER),
            false,
            &[(
                WIDENED,
                "",
                r#"grant to {"roles":["user"]} now allows tool "now""#,
            )],
        ),
        (
            "a dropped server restriction",
            Some(USER_ON_TIME),
            Some(USER),
            true,
            &[(
                WIDENED,
                "",
                r#"grant to {"roles":["user"]} on every server now allows tool "now""#,
            )],
        ),
        (
            "a server restriction added",
            Some(USER),
            Some(USER_ON_TIME),
            true,
            &[(
                NARROWED,
                "",
                r#"grant to {"roles":["user"]} on every server no longer allows tool "now""#,
            )],
        ),
        (
            "a grant for one server is reported under it",
            Some(USER_ON_TIME),
            Some(
                r#"{"grants": [{"to": {"roles": ["user"]}, "server": "time", "tools": ["now", "zone"]}]}"#,
            ),
            true,
            &[(
                WIDENED,
                "time",
                r#"grant to {"roles":["user"]} now allows tool "zone""#,
            )],
        ),
        (
            "a grant loses an item",
            Some(BASE),
            Some(
                r#"{"grants": [{"to": {"roles": ["admin"]}, "tools": ["*"]},
                    {"to": {"roles": ["user"]}, "tools": ["get_time"]}]}"#,
            ),
            false,
            &[(
                NARROWED,
                "",
                r#"grant to {"roles":["user"]} no longer allows prompt "greet""#,
            )],
        ),
        (
            "two new grants to the same callers name a tool once",
            Some(USER),
            Some(
                r#"{"grants": [{"to": {"roles": ["user"]}, "tools": ["now", "zone"]},
                    {"to": {"roles": ["user"]}, "tools": ["zone"], "prompts": ["p"]}]}"#,
            ),
            false,
            &[(
                WIDENED,
                "",
                r#"grant to {"roles":["user"]} now allows tool "zone", prompt "p""#,
            )],
        ),
        (
            "a grant removed",
            Some(BASE),
            Some(r#"{"grants": [{"to": {"roles": ["admin"]}, "tools": ["*"]}]}"#),
            false,
            &[(
                NARROWED,
                "",
                r#"grant to {"roles":["user"]} no longer allows tool "get_time", prompt "greet""#,
            )],
        ),
        (
            "the policy removed",
            Some(BASE),
            None,
            false,
            &[(
                WIDENED,
                "",
                "access policy removed: every authenticated caller may now use every tool, \
                 resource and prompt (2 grants before)",
            )],
        ),
        (
            "a policy added",
            None,
            Some(BASE),
            false,
            &[(
                NARROWED,
                "",
                "access policy added: callers may now use only what its 2 grants allow \
                 (every authenticated caller could use everything)",
            )],
        ),
    ];

    #[test]
    fn each_policy_change_is_widened_or_narrowed() {
        for (name, old, new, multi, expected) in CASES {
            let (old, new) = (old.map(policy), new.map(policy));
            let found: Vec<(&str, String, String)> =
                diff_policies(old.as_ref(), new.as_ref(), *multi)
                    .into_iter()
                    .map(|change| (change.id, change.server.unwrap_or_default(), change.message))
                    .collect();
            let expected: Vec<(&str, String, String)> = expected
                .iter()
                .map(|(id, server, message)| (*id, server.to_string(), message.to_string()))
                .collect();
            assert_eq!(found, expected, "{name}");
        }
    }

    fn server_lock(proxy_crate: &ProxyCrate) -> Lock {
        let facts = ServerFacts {
            name: "demo".into(),
            version: "1.0.0".into(),
            title: None,
            protocol_version: "2025-06-18".into(),
            capabilities: serde_json::json!({"tools": {}}),
            instructions: None,
        };
        let upstream = Upstream::Stdio {
            command: "uvx".into(),
            args: vec!["mcp-server-time==1".into()],
            env: Default::default(),
        };
        let tools = vec![serde_json::json!({"name": "now", "inputSchema": {"type": "object"}})];
        let mut lock = Lock::new(facts, upstream, tools).expect("a lock");
        lock.proxy_crate = proxy_crate.clone();
        lock
    }

    fn crate_lock(policy_text: Option<&str>, servers: &[&str]) -> CrateLock {
        let mut proxy_crate = ProxyCrate::from_name("demo-proxy");
        proxy_crate.policy = policy_text.map(policy);
        if servers.is_empty() {
            return CrateLock::Single(server_lock(&proxy_crate));
        }
        let servers: BTreeMap<String, Lock> = servers
            .iter()
            .map(|name| (name.to_string(), server_lock(&proxy_crate)))
            .collect();
        CrateLock::Multi(MultiLock::new(proxy_crate, servers))
    }

    #[test]
    fn a_crate_reports_its_policy_once_whatever_its_servers() {
        let old = r#"{"grants": [{"to": {"roles": ["user"]}, "tools": ["now"]}]}"#;
        let new = r#"{"grants": [{"to": {"roles": ["user"]}, "tools": ["now"]},
                                  {"to": {"anyone": true}, "tools": ["*"]}]}"#;
        for servers in [&[][..], &["time", "memory", "fetch"][..]] {
            let report = diff_crate_locks(
                &crate_lock(Some(old), servers),
                &crate_lock(Some(new), servers),
            );
            let messages: Vec<(&str, Level, &str)> = report
                .changes
                .iter()
                .map(|change| (change.id, change.level, change.message.as_str()))
                .collect();
            let everywhere = if servers.is_empty() {
                ""
            } else {
                " on every server"
            };
            assert_eq!(
                messages,
                vec![(
                    "policy-grant-widened",
                    Level::Err,
                    format!(
                        r#"grant to {{"anyone":true}}{everywhere} now allows every tool ("*")"#
                    )
                    .as_str()
                )],
                "{servers:?}"
            );
            let removed =
                diff_crate_locks(&crate_lock(Some(old), servers), &crate_lock(None, servers));
            assert_eq!(removed.changes.len(), 1, "{servers:?}: {removed:?}");
            assert_eq!(removed.changes[0].level, Level::Err);
        }
    }
}
