//! Names derived from tool and property names: Rust identifiers, HTTP routes.
//!
//! MCP names are arbitrary strings (`get-time`, `a.b`, `type`, `größe`), so
//! every conversion here is total: it always yields a valid, readable name,
//! and [`UniqueNames`] keeps names distinct after case conversion
//! (`fooBar` and `foo_bar` both want `foo_bar`).

use std::collections::BTreeSet;

use heck::{ToSnakeCase, ToUpperCamelCase};

/// Rust keywords that can be written as raw identifiers (`r#type`).
const RAW_OK_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that can't be raw identifiers; they get a trailing underscore.
const NO_RAW_KEYWORDS: &[&str] = &["crate", "self", "Self", "super", "_"];

/// Replaces everything that is not ASCII alphanumeric with `_`, spelling out
/// non-ASCII letters as `uXXXX` so that distinct names stay distinct.
fn ascii_words(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if ch.is_ascii() {
            out.push('_');
        } else {
            out.push_str(&format!("_u{:04x}_", ch as u32));
        }
    }
    out
}

/// A snake_case Rust identifier for `name` (fields, functions). Keywords come
/// back as raw identifiers, e.g. `r#type`.
pub fn snake_ident(name: &str) -> String {
    let mut snake = ascii_words(name).to_snake_case();
    if snake.is_empty() {
        snake.push_str("field");
    }
    if snake.starts_with(|c: char| c.is_ascii_digit()) {
        snake.insert(0, '_');
    }
    escape_keyword(snake)
}

/// An UpperCamelCase Rust identifier for `name` (types, variants).
pub fn camel_ident(name: &str) -> String {
    let mut camel = ascii_words(name).to_upper_camel_case();
    if camel.is_empty() {
        camel.push_str("Value");
    }
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        camel.insert(0, 'V');
    }
    escape_keyword(camel)
}

fn escape_keyword(ident: String) -> String {
    if RAW_OK_KEYWORDS.contains(&ident.as_str()) {
        format!("r#{ident}")
    } else if NO_RAW_KEYWORDS.contains(&ident.as_str()) {
        format!("{ident}_")
    } else {
        ident
    }
}

/// Hands out names that are unique within one scope, suffixing `_2`, `_3`...
/// (or `2`, `3` for camel case) in the order they are asked for.
#[derive(Debug, Default, Clone)]
pub struct UniqueNames {
    taken: BTreeSet<String>,
}

impl UniqueNames {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks `name` as used without allocating it (e.g. reserved names).
    pub fn reserve(&mut self, name: &str) {
        self.taken.insert(name.trim_start_matches("r#").to_string());
    }

    /// Returns `wanted` if free, else the first free suffixed variant.
    pub fn claim(&mut self, wanted: &str) -> String {
        let bare = wanted.trim_start_matches("r#");
        if self.taken.insert(bare.to_string()) {
            return wanted.to_string();
        }
        let separator = if bare.contains('_') || bare.chars().all(|c| !c.is_ascii_uppercase()) {
            "_"
        } else {
            ""
        };
        (2..)
            .map(|n| format!("{bare}{separator}{n}"))
            .find(|candidate| self.taken.insert(candidate.clone()))
            .expect("an unbounded range always has a free suffix")
    }
}

/// Characters allowed unescaped in one path segment (RFC 3986 `pchar` minus
/// `%`, `:` and `@`, kept out for the routers' sake).
fn is_path_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// The HTTP route of a tool: `/` + the tool name, percent-encoded where it
/// has characters outside the unreserved set. mcpo uses the bare tool name,
/// so every common name keeps its mcpo route.
pub fn tool_route(tool_name: &str) -> String {
    let mut route = String::with_capacity(tool_name.len() + 1);
    route.push('/');
    for byte in tool_name.bytes() {
        if is_path_safe(byte) {
            route.push(byte as char);
        } else {
            route.push_str(&format!("%{byte:02X}"));
        }
    }
    route
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_valid_and_readable() {
        assert_eq!(snake_ident("fooBar"), "foo_bar");
        assert_eq!(snake_ident("get-time"), "get_time");
        assert_eq!(snake_ident("a.b"), "a_b");
        assert_eq!(snake_ident("type"), "r#type");
        assert_eq!(snake_ident("self"), "self_");
        assert_eq!(snake_ident("2fa"), "_2fa");
        assert_eq!(snake_ident(""), "field");
        assert_eq!(snake_ident("größe"), "gr_u00f6_u00df_e");
        assert_eq!(camel_ident("get-time"), "GetTime");
        assert_eq!(camel_ident("match"), "Match");
        assert_eq!(camel_ident("Self"), "Self_");
        assert_eq!(camel_ident("3d"), "V3d");
        for name in ["", "é", "💥", "__", "a b", "\n"] {
            syn::parse_str::<syn::Ident>(&snake_ident(name)).unwrap();
            syn::parse_str::<syn::Ident>(&camel_ident(name)).unwrap();
        }
    }

    #[test]
    fn unique_names_suffix_collisions() {
        let mut names = UniqueNames::new();
        assert_eq!(names.claim(&snake_ident("fooBar")), "foo_bar");
        assert_eq!(names.claim(&snake_ident("foo_bar")), "foo_bar_2");
        assert_eq!(names.claim("foo_bar"), "foo_bar_3");
        assert_eq!(names.claim("Input"), "Input");
        assert_eq!(names.claim("Input"), "Input2");
        assert_eq!(names.claim("r#type"), "r#type");
        assert_eq!(names.claim("r#type"), "type_2");
    }

    #[test]
    fn routes_keep_mcpo_names_and_escape_the_rest() {
        assert_eq!(tool_route("get_current_time"), "/get_current_time");
        assert_eq!(tool_route("get-time"), "/get-time");
        assert_eq!(tool_route("a.b"), "/a.b");
        assert_eq!(tool_route("a/b c"), "/a%2Fb%20c");
        assert_eq!(tool_route("é"), "/%C3%A9");
    }
}
