//! Where an upstream's env and header values come from: `${VAR}` templates
//! by name, never the values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The env vars or headers an upstream needs, by name, each with where the
/// proxy reads its value. Values themselves are never recorded.
///
/// A config's `"X-Token": "${TOKEN}"` is kept as that template (a variable
/// name is not a secret), so two servers never share a variable unless
/// their config said so; a value written literally is recorded as a
/// variable of its own server ([`ValueSources::per_server_variable`]).
/// Written as a list of names when no value has a template (the default
/// variable each: the env var of that name for a stdio server,
/// `MCPO_HEADER_<NAME>` for a header), as locks before templates were.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValueSources(BTreeMap<String, Option<String>>);

impl ValueSources {
    /// Names only: each value from its default variable.
    pub fn from_names(names: impl IntoIterator<Item = String>) -> Self {
        ValueSources(names.into_iter().map(|name| (name, None)).collect())
    }

    /// Names with `${VAR}` templates.
    pub fn from_templates(templates: impl IntoIterator<Item = (String, String)>) -> Self {
        ValueSources(
            templates
                .into_iter()
                .map(|(name, template)| (name, Some(template)))
                .collect(),
        )
    }

    /// The template a config's literal value is recorded as: a variable
    /// named after the server, the kind (`ENV` or `HEADER`) and the name,
    /// upper case with every other character as `_`
    /// (`MCPO_GITHUB_HEADER_X_API_KEY`).
    pub fn per_server_variable(server: &str, kind: &str, name: &str) -> String {
        let upper = |text: &str| {
            text.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
        };
        format!("${{MCPO_{}_{kind}_{}}}", upper(server), upper(name))
    }

    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// Names with their templates (`None`: the default variable).
    pub fn iter(&self) -> impl Iterator<Item = (&String, Option<&String>)> {
        self.0
            .iter()
            .map(|(name, template)| (name, template.as_ref()))
    }

    /// The variables a value is read from: those its template names, or
    /// `default(name)` without one.
    pub fn variables(&self, name: &str, default: impl Fn(&str) -> String) -> Vec<String> {
        match self.0.get(name) {
            Some(Some(template)) => template_variables(template),
            Some(None) => vec![default(name)],
            None => Vec::new(),
        }
    }
}

/// Whether `${text}` is a variable reference: a letter or `_`, then
/// letters, digits and `_`.
pub fn is_variable_name(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variable names a text's `${NAME}` references name, in order.
pub fn template_variables(text: &str) -> Vec<String> {
    template_parts(text)
        .into_iter()
        .filter_map(|part| match part {
            TemplatePart::Variable(name) => Some(name.to_string()),
            TemplatePart::Text(_) => None,
        })
        .collect()
}

/// A piece of a text written with `${NAME}` references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart<'t> {
    /// Text as written (a `${...}` that is not a variable name included).
    Text(&'t str),
    /// A `${NAME}` reference: the name.
    Variable(&'t str),
}

/// The pieces of `text` in order. The one reader of `${NAME}`: expansion,
/// the variables a template needs, and launch spec matching all use it.
pub fn template_parts(text: &str) -> Vec<TemplatePart<'_>> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if is_variable_name(name) {
            if start > 0 {
                parts.push(TemplatePart::Text(&rest[..start]));
            }
            parts.push(TemplatePart::Variable(name));
        } else {
            parts.push(TemplatePart::Text(&rest[..start + 3 + end]));
        }
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest));
    }
    parts
}

impl Serialize for ValueSources {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.values().all(Option::is_none) {
            serializer.collect_seq(self.0.keys())
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for ValueSources {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Names(Vec<String>),
            Templates(BTreeMap<String, Option<String>>),
        }
        Ok(match Written::deserialize(deserializer)? {
            Written::Names(names) => ValueSources::from_names(names),
            Written::Templates(templates) => ValueSources(templates),
        })
    }
}
