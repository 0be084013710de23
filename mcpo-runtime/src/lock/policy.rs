//! The crate's access policy: which callers may use which tools, resources
//! and prompts. Written by the team in `mcp.policy.json` beside the lock,
//! recorded in the lock by generation (so `check` sees an edit that was not
//! regenerated, and `diff` classifies each change), enforced by the proxy
//! from its embedded lock.
//!
//! ```json
//! {"grants": [
//!   {"to": {"issuers": ["https://idp.example.com"], "roles": ["admin"]}, "tools": ["*", "delete_everything"], "resources": ["*"], "prompts": ["*"]},
//!   {"to": {"emailDomains": ["example.org"]}, "server": "time", "tools": ["get_current_time"]},
//!   {"to": {"anyone": true}, "tools": ["echo"]}
//! ]}
//! ```
//!
//! Without a policy every caller that authenticates may use everything. With
//! one, nothing is allowed unless a grant allows it: a grant applies to a
//! caller its `to` matches (every condition it names; any value of a list),
//! on the `server` it names (every server when none). `"*"` stands for every
//! tool, resource or prompt, except tools annotated `destructiveHint: true`,
//! which only a grant naming them reaches.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// The file a team writes the policy in, beside `mcp.lock.json`.
pub const POLICY_FILE_NAME: &str = "mcp.policy.json";

/// `mcp.policy.json`, as recorded in the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessPolicy {
    /// What is allowed, each for its callers; nothing else is.
    pub grants: Vec<Grant>,
}

/// Access for the callers `to` matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// The callers it is for.
    pub to: Audience,
    /// The server of a multi-server crate it applies to; every one when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Tool names, or `"*"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Resource URIs, or resource templates' `uriTemplate`s, as locked, or
    /// `"*"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Prompt names, or `"*"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<String>,
}

/// Who a grant is for. `anyone` is every caller the proxy lets in (an API
/// key alone included); every other condition needs a verified identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Audience {
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    /// Every caller.
    pub anyone: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Tokens of one of these issuers (`iss`): the `--jwt-issuer`, or
    /// `open-webui` for Open WebUI's user header. Without it a role or
    /// group of the same name from either matches.
    pub issuers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// One of these `sub` claims.
    pub subjects: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// One of these emails.
    pub emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// An email in one of these domains (case-insensitive).
    pub email_domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// One of these roles (`role` or `roles` claims).
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// One of these groups.
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// One of these scopes (`scope` or `scp`).
    pub scopes: Vec<String>,
}

/// What a grant is checked against: the caller's verified claims (none for
/// a bare API key or an open proxy).
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs, reason = "the claims of the same names")]
pub struct CallerFacts<'a> {
    pub verified: bool,
    pub issuer: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub email: Option<&'a str>,
    pub roles: &'a [String],
    pub groups: &'a [String],
    pub scopes: &'a [String],
}

/// What a caller asks to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A tool, and whether it is annotated destructive ([`is_destructive`]).
    Tool {
        /// Its name.
        name: &'a str,
        /// `destructiveHint: true`.
        destructive: bool,
    },
    /// A locked resource URI or resource template.
    Resource(&'a str),
    /// A prompt name.
    Prompt(&'a str),
}

impl AccessPolicy {
    /// Reads `mcp.policy.json`; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, String> {
        let policy: AccessPolicy = serde_json::from_str(text)
            .map_err(|error| format!("{origin}: not an access policy: {error}"))?;
        for (index, grant) in policy.grants.iter().enumerate() {
            if grant.to == Audience::default() {
                return Err(format!(
                    "{origin}: grant {index} names no one in \"to\"; write {{\"anyone\": true}} for every caller"
                ));
            }
            if grant.to.anyone
                && grant.to
                    != (Audience {
                        anyone: true,
                        ..Default::default()
                    })
            {
                return Err(format!(
                    "{origin}: grant {index}: \"anyone\" with other conditions; keep one or the other"
                ));
            }
            if grant.tools.is_empty() && grant.resources.is_empty() && grant.prompts.is_empty() {
                return Err(format!(
                    "{origin}: grant {index} allows nothing; name \"tools\", \"resources\" or \"prompts\""
                ));
            }
        }
        Ok(policy)
    }

    /// Whether `caller` may use `item` of `server` (`""` in a single-server
    /// crate).
    pub fn allows(&self, caller: &CallerFacts<'_>, server: &str, item: Item<'_>) -> bool {
        self.grants_for(server, item)
            .into_iter()
            .any(|grant| grant.to.matches(caller))
    }

    /// The scopes that would let a caller use `item`: for a 403's
    /// `insufficient_scope` challenge. Empty when no grant of it asks for
    /// scopes.
    pub fn scopes_for(&self, server: &str, item: Item<'_>) -> BTreeSet<&str> {
        self.grants_for(server, item)
            .into_iter()
            .flat_map(|grant| grant.to.scopes.iter().map(String::as_str))
            .collect()
    }

    /// Every scope the policy names (RFC 9728 `scopes_supported`).
    pub fn scopes(&self) -> BTreeSet<&str> {
        self.grants
            .iter()
            .flat_map(|grant| grant.to.scopes.iter().map(String::as_str))
            .collect()
    }

    fn grants_for(&self, server: &str, item: Item<'_>) -> Vec<&Grant> {
        self.grants
            .iter()
            .filter(|grant| {
                grant.server.as_deref().is_none_or(|named| named == server) && grant.covers(item)
            })
            .collect()
    }
}

impl Grant {
    fn covers(&self, item: Item<'_>) -> bool {
        let names = |list: &[String], name: &str, wildcard: bool| {
            list.iter()
                .any(|entry| entry == name || (wildcard && entry == "*"))
        };
        match item {
            Item::Tool { name, destructive } => names(&self.tools, name, !destructive),
            Item::Resource(uri) => names(&self.resources, uri, true),
            Item::Prompt(name) => names(&self.prompts, name, true),
        }
    }
}

impl Audience {
    fn matches(&self, caller: &CallerFacts<'_>) -> bool {
        if self.anyone {
            return true;
        }
        if !caller.verified {
            return false;
        }
        let one_of = |wanted: &[String], have: Option<&str>| {
            wanted.is_empty() || have.is_some_and(|have| wanted.iter().any(|w| w == have))
        };
        let any_of = |wanted: &[String], have: &[String]| {
            wanted.is_empty() || have.iter().any(|have| wanted.contains(have))
        };
        let domain = caller
            .email
            .and_then(|email| email.rsplit_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase());
        let email_domain_ok = self.email_domains.is_empty()
            || domain.as_deref().is_some_and(|domain| {
                self.email_domains
                    .iter()
                    .any(|wanted| wanted.eq_ignore_ascii_case(domain))
            });
        one_of(&self.issuers, caller.issuer)
            && one_of(&self.subjects, caller.subject)
            && one_of(&self.emails, caller.email)
            && email_domain_ok
            && any_of(&self.roles, caller.roles)
            && any_of(&self.groups, caller.groups)
            && any_of(&self.scopes, caller.scopes)
    }
}

/// Whether a locked tool definition says `destructiveHint: true` (and is
/// not read-only). Only the annotation counts here, not the spec's default
/// (`true` when absent): with the default, `"*"` would reach almost no
/// tool of most servers, and teams would write every name out.
pub fn is_destructive(definition: &serde_json::Value) -> bool {
    let annotations = &definition["annotations"];
    annotations["destructiveHint"] == serde_json::Value::Bool(true)
        && annotations["readOnlyHint"] != serde_json::Value::Bool(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> AccessPolicy {
        AccessPolicy::from_json(text, "test").expect("a policy")
    }

    fn verified<'a>(subject: &'a str, email: &'a str, roles: &'a [String]) -> CallerFacts<'a> {
        CallerFacts {
            verified: true,
            subject: Some(subject),
            email: Some(email),
            roles,
            ..Default::default()
        }
    }

    #[test]
    fn grants_follow_roles_domains_servers_and_the_destructive_rule() {
        let policy = policy(
            r#"{"grants": [
                {"to": {"roles": ["admin"]}, "tools": ["*", "wipe"], "prompts": ["*"]},
                {"to": {"emailDomains": ["Example.org"]}, "server": "time", "tools": ["now"]},
                {"to": {"anyone": true}, "tools": ["echo"]}
            ]}"#,
        );
        let admin_roles = vec!["admin".to_string()];
        let admin = verified("alice", "alice@example.com", &admin_roles);
        let bob = verified("bob", "bob@EXAMPLE.org", &[]);
        let key_only = CallerFacts::default();
        let tool = |name, destructive| Item::Tool { name, destructive };
        assert!(policy.allows(&admin, "", tool("anything", false)));
        assert!(policy.allows(&admin, "", tool("wipe", true)));
        assert!(
            !policy.allows(&admin, "", tool("drop", true)),
            "* skips destructive tools"
        );
        assert!(policy.allows(&bob, "time", tool("now", false)));
        assert!(!policy.allows(&bob, "other", tool("now", false)));
        assert!(policy.allows(&key_only, "", tool("echo", false)));
        assert!(!policy.allows(&key_only, "", tool("now", false)));
        assert!(!policy.allows(&bob, "", Item::Prompt("p")));
        assert!(!policy.allows(&admin, "", Item::Resource("file:///x")));
    }

    /// A role of the same name from Open WebUI's user header and from the
    /// IdP are different callers when the grant names its issuer.
    #[test]
    fn a_grant_limited_to_an_issuer_ignores_the_same_role_from_another() {
        let policy = policy(
            r#"{"grants": [{"to": {"issuers": ["https://idp.example.com"], "roles": ["admin"]},
                            "tools": ["*"]}]}"#,
        );
        let admin = vec!["admin".to_string()];
        let caller = |issuer| CallerFacts {
            issuer: Some(issuer),
            ..verified("alice", "alice@example.com", &admin)
        };
        let tool = Item::Tool {
            name: "now",
            destructive: false,
        };
        assert!(policy.allows(&caller("https://idp.example.com"), "", tool));
        assert!(!policy.allows(&caller("open-webui"), "", tool));
        assert!(!policy.allows(&verified("alice", "alice@example.com", &admin), "", tool));
    }

    #[test]
    fn scopes_name_what_a_403_asks_for() {
        let policy = policy(
            r#"{"grants": [{"to": {"scopes": ["tools:call"]}, "tools": ["*"]},
                           {"to": {"scopes": ["admin"]}, "tools": ["wipe"]}]}"#,
        );
        let wipe = Item::Tool {
            name: "wipe",
            destructive: true,
        };
        assert_eq!(policy.scopes_for("", wipe), BTreeSet::from(["admin"]));
        assert_eq!(policy.scopes(), BTreeSet::from(["admin", "tools:call"]));
        let scopes = vec!["tools:call".to_string()];
        let caller = CallerFacts {
            verified: true,
            scopes: &scopes,
            ..Default::default()
        };
        assert!(!policy.allows(&caller, "", wipe));
    }

    #[test]
    fn unclear_policies_are_refused() {
        for text in [
            r#"{"grants": [{"to": {}, "tools": ["*"]}]}"#,
            r#"{"grants": [{"to": {"anyone": true, "roles": ["a"]}, "tools": ["*"]}]}"#,
            r#"{"grants": [{"to": {"anyone": true}}]}"#,
            r#"{"grants": [{"to": {"role": ["admin"]}, "tools": ["*"]}]}"#,
            r#"{"grant": []}"#,
        ] {
            assert!(AccessPolicy::from_json(text, "test").is_err(), "{text}");
        }
    }

    #[test]
    fn only_an_explicit_destructive_hint_counts() {
        let tool = |annotations: serde_json::Value| serde_json::json!({"annotations": annotations});
        assert!(is_destructive(&tool(
            serde_json::json!({"destructiveHint": true})
        )));
        assert!(!is_destructive(&tool(serde_json::json!({}))));
        assert!(!is_destructive(&tool(
            serde_json::json!({"destructiveHint": true, "readOnlyHint": true})
        )));
    }
}
