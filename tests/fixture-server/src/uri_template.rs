//! Just enough RFC 6570 to answer `resources/read` for a URI expanded from one
//! of the fixture's resource templates: does the URI match the template, and
//! with which variable values?
//!
//! Supported expressions: `{var}` (simple: unreserved characters and
//! percent-escapes), `{+var}` (reserved: also `/ : @ ! $ & ' ( ) * + , ; = [ ]`,
//! never `?` or `#`, so a following query stays a query), and `{?a,b}` /
//! `{&a,b}` (form-style query, each variable optional, in any order).
//! Prefix (`:N`) and explode (`*`) modifiers are accepted and ignored. Values
//! are returned percent-decoded. The matcher is strict on purpose: a URI that
//! a correct RFC 6570 expansion could not have produced (a raw space, a bad
//! `%` escape, an unknown query parameter) does not match, so a proxy that
//! expands templates wrongly gets "resource not found" instead of an echo.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    /// `{var}`
    Simple,
    /// `{+var}`
    Reserved,
    /// `{?a,b}`
    Query,
    /// `{&a,b}`
    QueryContinuation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Expression {
        operator: Operator,
        variables: Vec<String>,
    },
}

/// A parsed template (see the module documentation for what is supported).
#[derive(Debug, Clone)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

/// The variables a URI matched, in template order; optional ones it did not
/// carry are absent.
pub type Bindings = Vec<(String, String)>;

impl UriTemplate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed expression in {text:?}"))?;
                    parts.push(parse_expression(&rest[1..end])?);
                    rest = &rest[end + 1..];
                }
                Some(start) => {
                    parts.push(Part::Literal(rest[..start].to_owned()));
                    rest = &rest[start..];
                }
                None => {
                    parts.push(Part::Literal(rest.to_owned()));
                    rest = "";
                }
            }
            if let Some(Part::Literal(literal)) = parts.last()
                && literal.contains('}')
            {
                return Err(format!("stray '}}' in {text:?}"));
            }
        }
        Ok(Self { parts })
    }

    /// Every variable name, in template order.
    pub fn variables(&self) -> Vec<&str> {
        self.parts
            .iter()
            .flat_map(|part| match part {
                Part::Literal(_) => &[][..],
                Part::Expression { variables, .. } => variables.as_slice(),
            })
            .map(String::as_str)
            .collect()
    }

    /// The values `uri` binds, or `None` when it does not match.
    pub fn matches(&self, uri: &str) -> Option<Bindings> {
        let mut found = Vec::new();
        if !match_parts(&self.parts, uri, &mut found) {
            return None;
        }
        // Template order, whatever order the query named them in.
        let mut bindings = Bindings::new();
        for name in self.variables() {
            if let Some((_, value)) = found.iter().find(|(known, _)| known == name) {
                bindings.push((name.to_owned(), value.clone()));
            }
        }
        Some(bindings)
    }
}

fn parse_expression(body: &str) -> Result<Part, String> {
    let (operator, list) = match body.chars().next() {
        Some('+') => (Operator::Reserved, &body[1..]),
        Some('?') => (Operator::Query, &body[1..]),
        Some('&') => (Operator::QueryContinuation, &body[1..]),
        Some(c) if "#./;=,!@|".contains(c) => {
            return Err(format!("operator {c:?} is not supported by the fixture"));
        }
        _ => (Operator::Simple, body),
    };
    let mut variables = Vec::new();
    for spec in list.split(',') {
        let name = spec
            .split(':')
            .next()
            .unwrap_or_default()
            .trim_end_matches('*');
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%')
        {
            return Err(format!("bad variable {spec:?} in {{{body}}}"));
        }
        variables.push(name.to_owned());
    }
    if matches!(operator, Operator::Simple | Operator::Reserved) && variables.len() != 1 {
        return Err(format!(
            "{{{body}}}: the fixture matches one variable per simple or reserved expression"
        ));
    }
    Ok(Part::Expression {
        operator,
        variables,
    })
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~".contains(&byte)
}

/// Reserved characters a `{+var}` value may carry as they are, minus the
/// `?` and `#` that would start the query or fragment.
fn is_reserved_allowed(byte: u8) -> bool {
    is_unreserved(byte) || b":/[]@!$&'()*+,;=".contains(&byte)
}

/// Percent-decode a value whose other characters were already checked.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = raw.get(index + 1..index + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Match `parts` against all of `uri`, appending bindings; backtracks over
/// where each variable ends.
fn match_parts(parts: &[Part], uri: &str, found: &mut Bindings) -> bool {
    let Some((part, rest_parts)) = parts.split_first() else {
        return uri.is_empty();
    };
    match part {
        Part::Literal(literal) => uri
            .strip_prefix(literal.as_str())
            .is_some_and(|rest| match_parts(rest_parts, rest, found)),
        Part::Expression {
            operator: operator @ (Operator::Simple | Operator::Reserved),
            variables,
        } => {
            let allowed = if *operator == Operator::Simple {
                is_unreserved
            } else {
                is_reserved_allowed
            };
            let run = uri
                .bytes()
                .take_while(|byte| *byte == b'%' || allowed(*byte))
                .count();
            // Longest first: `{+path}` takes every segment it can.
            for end in (1..=run).rev() {
                let Some(value) = decode(&uri[..end]) else {
                    continue;
                };
                let mark = found.len();
                found.push((variables[0].clone(), value));
                if match_parts(rest_parts, &uri[end..], found) {
                    return true;
                }
                found.truncate(mark);
            }
            false
        }
        Part::Expression {
            operator: operator @ (Operator::Query | Operator::QueryContinuation),
            variables,
        } => {
            let first = if *operator == Operator::Query {
                '?'
            } else {
                '&'
            };
            // Every `name=value` pair the URI offers here, with where each ends.
            let mut pairs: Vec<((String, String), usize)> = Vec::new();
            let mut position = 0;
            let mut lead = first;
            while let Some(after_lead) = uri[position..].strip_prefix(lead) {
                let length = after_lead
                    .bytes()
                    .take_while(|byte| *byte == b'=' || *byte == b'%' || is_unreserved(*byte))
                    .count();
                let Some((name, raw)) = after_lead[..length].split_once('=') else {
                    break;
                };
                let fresh = !pairs.iter().any(|((known, _), _)| known == name);
                let (Some(value), true, true) = (
                    decode(raw),
                    variables.iter().any(|variable| variable == name),
                    fresh,
                ) else {
                    break;
                };
                position += lead.len_utf8() + length;
                pairs.push(((name.to_owned(), value), position));
                lead = '&';
            }
            // As many pairs as possible, then fewer; none means no query at all.
            for count in (0..=pairs.len()).rev() {
                let end = if count == 0 { 0 } else { pairs[count - 1].1 };
                let mark = found.len();
                found.extend(pairs[..count].iter().map(|(pair, _)| pair.clone()));
                if match_parts(rest_parts, &uri[end..], found) {
                    return true;
                }
                found.truncate(mark);
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bindings(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
        UriTemplate::parse(template).unwrap().matches(uri)
    }

    fn pairs(list: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            list.iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        )
    }

    const REPO: &str = "repo://{owner}/{repo}/blob/{+path}{?ref}";

    #[test]
    fn variables_in_template_order() {
        let template = UriTemplate::parse(REPO).unwrap();
        assert_eq!(template.variables(), ["owner", "repo", "path", "ref"]);
        let modifiers = UriTemplate::parse("x://{a:3}/{+b*}{?c,d}").unwrap();
        assert_eq!(modifiers.variables(), ["a", "b", "c", "d"]);
    }

    #[test]
    fn reserved_expansion_and_optional_query() {
        assert_eq!(
            bindings(REPO, "repo://a/b/blob/src/x.rs?ref=main"),
            pairs(&[
                ("owner", "a"),
                ("repo", "b"),
                ("path", "src/x.rs"),
                ("ref", "main")
            ])
        );
        assert_eq!(
            bindings(REPO, "repo://a/b/blob/src/x.rs"),
            pairs(&[("owner", "a"), ("repo", "b"), ("path", "src/x.rs")])
        );
        // Reserved characters stay as they are, escapes are decoded.
        assert_eq!(
            bindings(REPO, "repo://a%20b/c/blob/d/e%20f;g=h?ref=v%2F1"),
            pairs(&[
                ("owner", "a b"),
                ("repo", "c"),
                ("path", "d/e f;g=h"),
                ("ref", "v/1")
            ])
        );
        // An empty query value is a value.
        assert_eq!(
            bindings(REPO, "repo://a/b/blob/p?ref="),
            pairs(&[("owner", "a"), ("repo", "b"), ("path", "p"), ("ref", "")])
        );
    }

    #[test]
    fn what_a_correct_expansion_cannot_produce_does_not_match() {
        for uri in [
            "repo://a/b/blob/",              // required path empty
            "repo://a/b/c/blob/x",           // '/' in a simple variable
            "repo://a b/c/blob/x",           // raw space
            "repo://a%2/b/blob/x",           // bad escape
            "repo://a%ff/b/blob/x",          // not UTF-8
            "repo://a/b/blob/x?other=1",     // unknown query parameter
            "repo://a/b/blob/x?ref=1&ref=2", // the same one twice
            "repo://a/b/blob/x#frag",
            "repo://a/b/tree/x",
            "text://notes/1",
        ] {
            assert_eq!(bindings(REPO, uri), None, "{uri}");
        }
    }

    #[test]
    fn simple_templates() {
        let note = "text://notes/{id}";
        assert_eq!(bindings(note, "text://notes/7"), pairs(&[("id", "7")]));
        assert_eq!(bindings(note, "text://notes/7/2"), None);
        assert_eq!(bindings(note, "text://notes/"), None);
        let note_v2 = "text://notes/{id}/{rev}";
        assert_eq!(
            bindings(note_v2, "text://notes/7/2"),
            pairs(&[("id", "7"), ("rev", "2")])
        );
        assert_eq!(bindings(note_v2, "text://notes/7"), None);
    }

    #[test]
    fn query_variables_in_any_order_and_continuations() {
        let template = "x://s{?a,b}{&c}";
        assert_eq!(
            bindings(template, "x://s?b=2&a=1&c=3"),
            pairs(&[("a", "1"), ("b", "2"), ("c", "3")])
        );
        assert_eq!(bindings(template, "x://s&c=3"), pairs(&[("c", "3")]));
        assert_eq!(bindings(template, "x://s"), pairs(&[]));
    }

    #[test]
    fn unsupported_templates_are_refused() {
        for bad in [
            "x://{#a}",
            "x://{/a}",
            "x://{a,b}",
            "x://{a",
            "x://a}",
            "x://{}",
        ] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
