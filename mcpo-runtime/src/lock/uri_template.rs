//! RFC 6570 URI templates, as MCP resource templates use them
//! (`file:///{path}`, `repo://{owner}/{repo}/blob/{+path}{?ref}`): their
//! variables (the typed parameters of a template's route), expansion with
//! string values, and whether a URI has a template's shape (a read by URI
//! is forwarded only then).
//!
//! Every value is a string: the explode modifier (`*`) is accepted and
//! expands a string as it would without it.

use std::collections::BTreeMap;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expression {
        operator: Operator,
        variables: Vec<VarSpec>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct VarSpec {
    name: String,
    /// `{var:3}`: at most this many characters of the value.
    prefix: Option<usize>,
}

/// One of RFC 6570's expression kinds (section 3.2.1's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Simple,
    Reserved,
    Fragment,
    Label,
    PathSegment,
    PathParameter,
    Query,
    QueryContinuation,
}

impl Operator {
    fn from_char(c: char) -> Option<Self> {
        Some(match c {
            '+' => Operator::Reserved,
            '#' => Operator::Fragment,
            '.' => Operator::Label,
            '/' => Operator::PathSegment,
            ';' => Operator::PathParameter,
            '?' => Operator::Query,
            '&' => Operator::QueryContinuation,
            _ => return None,
        })
    }

    /// What the expansion starts with, when any variable is defined.
    fn first(self) -> &'static str {
        match self {
            Operator::Simple | Operator::Reserved => "",
            Operator::Fragment => "#",
            Operator::Label => ".",
            Operator::PathSegment => "/",
            Operator::PathParameter => ";",
            Operator::Query => "?",
            Operator::QueryContinuation => "&",
        }
    }

    fn separator(self) -> &'static str {
        match self {
            Operator::Simple | Operator::Reserved | Operator::Fragment => ",",
            Operator::Label => ".",
            Operator::PathSegment => "/",
            Operator::PathParameter => ";",
            Operator::Query | Operator::QueryContinuation => "&",
        }
    }

    /// Whether each value is written `name=value`.
    fn named(self) -> bool {
        matches!(
            self,
            Operator::PathParameter | Operator::Query | Operator::QueryContinuation
        )
    }

    /// Whether reserved characters pass unencoded.
    fn allows_reserved(self) -> bool {
        matches!(self, Operator::Reserved | Operator::Fragment)
    }

    /// Whether a URI character can be part of this expression's expansion
    /// (after its first character). Lenient: a client's URI need not be
    /// encoded the way this crate would encode it.
    fn may_contain(self, c: char) -> bool {
        match self {
            Operator::Reserved | Operator::Fragment => true,
            Operator::PathSegment => !matches!(c, '?' | '#'),
            Operator::Query | Operator::QueryContinuation => c != '#',
            Operator::Simple | Operator::Label | Operator::PathParameter => {
                !matches!(c, '/' | '?' | '#')
            }
        }
    }
}

/// Why a template could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriTemplateError {
    /// A `{` without its `}`.
    #[error("an expression is not closed (missing `}}`)")]
    Unclosed,
    /// A `}` without its `{`.
    #[error("a `}}` has no opening `{{`")]
    UnopenedClose,
    /// An expression without a valid variable name.
    #[error("{expression:?} is not a valid expression")]
    InvalidExpression {
        /// The expression as written.
        expression: String,
    },
}

impl UriTemplate {
    /// Parses `template`.
    pub fn parse(template: &str) -> Result<Self, UriTemplateError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let open = rest.find('{');
            let close = rest.find('}');
            match (open, close) {
                (None, None) => {
                    parts.push(Part::Literal(rest.to_string()));
                    break;
                }
                (None, Some(_)) => return Err(UriTemplateError::UnopenedClose),
                (Some(open), close) => {
                    if close.is_some_and(|close| close < open) {
                        return Err(UriTemplateError::UnopenedClose);
                    }
                    if open > 0 {
                        parts.push(Part::Literal(rest[..open].to_string()));
                    }
                    let after = &rest[open + 1..];
                    let end = after.find('}').ok_or(UriTemplateError::Unclosed)?;
                    parts.push(parse_expression(&after[..end])?);
                    rest = &after[end + 1..];
                }
            }
        }
        Ok(UriTemplate { parts })
    }

    /// Every variable, in template order, each once, with whether it is
    /// required: the variables of `{?x}` and `{&x}` are optional (their
    /// expansion is a query parameter), all others required.
    pub fn variables(&self) -> Vec<TemplateVariable> {
        let mut seen = std::collections::BTreeSet::new();
        let mut variables = Vec::new();
        for part in &self.parts {
            if let Part::Expression {
                operator,
                variables: specs,
            } = part
            {
                for spec in specs {
                    if seen.insert(spec.name.clone()) {
                        variables.push(TemplateVariable {
                            name: spec.name.clone(),
                            required: !matches!(
                                operator,
                                Operator::Query | Operator::QueryContinuation
                            ),
                        });
                    }
                }
            }
        }
        variables
    }

    /// The URI for `values`; a variable without a value is left out, as
    /// RFC 6570 leaves out undefined variables.
    pub fn expand(&self, values: &BTreeMap<String, String>) -> String {
        let mut uri = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => uri.push_str(text),
                Part::Expression {
                    operator,
                    variables,
                } => {
                    let mut first = true;
                    for spec in variables {
                        let Some(value) = values.get(&spec.name) else {
                            continue;
                        };
                        uri.push_str(if first {
                            operator.first()
                        } else {
                            operator.separator()
                        });
                        first = false;
                        let value = match spec.prefix {
                            Some(length) => value.chars().take(length).collect(),
                            None => value.clone(),
                        };
                        if operator.named() {
                            uri.push_str(&spec.name);
                            if value.is_empty() {
                                if *operator != Operator::PathParameter {
                                    uri.push('=');
                                }
                                continue;
                            }
                            uri.push('=');
                        }
                        encode_into(&mut uri, &value, operator.allows_reserved());
                    }
                }
            }
        }
        uri
    }

    /// Whether `uri` could be an expansion of this template: its literal
    /// parts where they belong, and between them only characters the
    /// expressions could have produced. Linear in the URI's length.
    pub fn matches(&self, uri: &str) -> bool {
        let chars: Vec<char> = uri.chars().collect();
        // reachable[i]: the parts so far can match chars[..i].
        let mut reachable = vec![false; chars.len() + 1];
        reachable[0] = true;
        for part in &self.parts {
            let mut next = vec![false; chars.len() + 1];
            match part {
                Part::Literal(text) => {
                    let literal: Vec<char> = text.chars().collect();
                    for start in (0..=chars.len()).filter(|&i| reachable[i]) {
                        if chars[start..].starts_with(&literal) {
                            next[start + literal.len()] = true;
                        }
                    }
                }
                Part::Expression { operator, .. } => {
                    let first: Vec<char> = operator.first().chars().collect();
                    // An expression may expand to nothing (undefined values).
                    let mut entered = reachable.clone();
                    if !first.is_empty() {
                        entered = vec![false; chars.len() + 1];
                        for start in (0..=chars.len()).filter(|&i| reachable[i]) {
                            if chars[start..].starts_with(&first) {
                                entered[start + first.len()] = true;
                            }
                        }
                    }
                    // From each entered position, any run of allowed characters.
                    let mut running = false;
                    for i in 0..=chars.len() {
                        running =
                            entered[i] || (running && i > 0 && operator.may_contain(chars[i - 1]));
                        next[i] = running || reachable[i];
                    }
                }
            }
            reachable = next;
        }
        reachable[chars.len()]
    }
}

/// A template variable, and whether its route requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVariable {
    /// The name, which is also the query parameter's.
    pub name: String,
    /// Whether the template needs a value for it.
    pub required: bool,
}

fn parse_expression(body: &str) -> Result<Part, UriTemplateError> {
    let invalid = || UriTemplateError::InvalidExpression {
        expression: format!("{{{body}}}"),
    };
    let mut chars = body.chars();
    let (operator, list) = match chars.next().and_then(Operator::from_char) {
        Some(operator) => (operator, chars.as_str()),
        None => (Operator::Simple, body),
    };
    let mut variables = Vec::new();
    for spec in list.split(',') {
        let (name, prefix) = if let Some(name) = spec.strip_suffix('*') {
            (name, None)
        } else if let Some((name, length)) = spec.split_once(':') {
            let length: usize = length.parse().map_err(|_| invalid())?;
            (name, Some(length))
        } else {
            (spec, None)
        };
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '%'));
        if !valid {
            return Err(invalid());
        }
        variables.push(VarSpec {
            name: name.to_string(),
            prefix,
        });
    }
    Ok(Part::Expression {
        operator,
        variables,
    })
}

/// RFC 3986's unreserved characters pass; with `allow_reserved`, its
/// reserved characters and existing `%XX` triplets too; everything else is
/// percent-encoded as UTF-8.
fn encode_into(out: &mut String, value: &str, allow_reserved: bool) {
    let bytes = value.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        let c = byte as char;
        let unreserved = c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
        let reserved = ":/?#[]@!$&'()*+,;=".contains(c) && byte.is_ascii();
        let triplet = c == '%'
            && bytes.len() > index + 2
            && bytes[index + 1].is_ascii_hexdigit()
            && bytes[index + 2].is_ascii_hexdigit();
        if unreserved || (allow_reserved && (reserved || triplet)) {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn variables_in_order_with_query_ones_optional() {
        let template =
            UriTemplate::parse("repo://{owner}/{repo}/blob/{+path}{?ref,owner}").unwrap();
        let names: Vec<(String, bool)> = template
            .variables()
            .into_iter()
            .map(|v| (v.name, v.required))
            .collect();
        assert_eq!(
            names,
            [
                ("owner".into(), true),
                ("repo".into(), true),
                ("path".into(), true),
                ("ref".into(), false)
            ]
        );
    }

    /// RFC 6570 section 3.2's examples (string values).
    #[test]
    fn expands_as_the_rfc_examples() {
        let vars = values(&[
            ("var", "value"),
            ("hello", "Hello World!"),
            ("path", "/foo/bar"),
            ("x", "1024"),
            ("y", "768"),
            ("empty", ""),
        ]);
        for (template, expected) in [
            ("{var}", "value"),
            ("{hello}", "Hello%20World%21"),
            ("{+hello}", "Hello%20World!"),
            ("{+path}/here", "/foo/bar/here"),
            ("{#path,x}/here", "#/foo/bar,1024/here"),
            ("X{.var}", "X.value"),
            ("{/var,x}/here", "/value/1024/here"),
            ("{;x,y,empty}", ";x=1024;y=768;empty"),
            ("{?x,y,empty}", "?x=1024&y=768&empty="),
            ("?fixed=yes{&x}", "?fixed=yes&x=1024"),
            ("{var:3}", "val"),
            ("{undefined}", ""),
            ("{?undefined}", ""),
            ("{+path}{?x,undefined}", "/foo/bar?x=1024"),
        ] {
            let parsed = UriTemplate::parse(template).unwrap();
            assert_eq!(parsed.expand(&vars), expected, "{template}");
        }
    }

    #[test]
    fn reserved_expansion_keeps_percent_triplets() {
        let template = UriTemplate::parse("{+path}").unwrap();
        assert_eq!(
            template.expand(&values(&[("path", "a%20b/c%zz")])),
            "a%20b/c%25zz"
        );
    }

    #[test]
    fn matches_uris_of_the_template_shape_only() {
        let template = UriTemplate::parse("repo://{owner}/{repo}/blob/{+path}{?ref}").unwrap();
        assert!(template.matches("repo://a/b/blob/src/main.rs"));
        assert!(template.matches("repo://a/b/blob/src/main.rs?ref=v1"));
        assert!(template.matches("repo://a/b/blob/"));
        assert!(!template.matches("repo://a/b/c/blob/x"), "owner has no /");
        assert!(!template.matches("other://a/b/blob/x"));
        let note = UriTemplate::parse("text://notes/{id}").unwrap();
        assert!(note.matches("text://notes/42"));
        assert!(!note.matches("text://notes/42/../../secret"));
        assert!(!note.matches("text://notes/42?x=1"));
        let exact = UriTemplate::parse("text://hello").unwrap();
        assert!(exact.matches("text://hello"));
        assert!(!exact.matches("text://hello2"));
    }

    #[test]
    fn matching_a_long_uri_is_linear() {
        let template = UriTemplate::parse("x://{a}{b}{c}{d}{e}{f}/end").unwrap();
        let uri = format!("x://{}", "a".repeat(200_000));
        let started = std::time::Instant::now();
        assert!(!template.matches(&uri));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn bad_templates_are_errors() {
        for bad in ["x://{a", "x://a}", "x://{}", "x://{a b}", "x://{a:x}"] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
