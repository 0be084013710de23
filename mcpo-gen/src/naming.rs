//! Names derived from tool and property names: Rust identifiers, HTTP routes.
//!
//! MCP names are arbitrary strings (`get-time`, `a.b`, `type`, `größe`), so
//! every conversion here is total: it always yields a valid, readable name,
//! and [`UniqueNames`] keeps names distinct after case conversion
//! (`fooBar` and `foo_bar` both want `foo_bar`).
//!
//! # The scheme
//!
//! Any schema must give a crate that builds with `-D warnings` and passes
//! `clippy -D warnings`, with names a Rust programmer would write:
//!
//! - Fields and functions ([`snake_ident`]): heck's snake_case of the name,
//!   non-ASCII letters spelled `uXXXX` (`größe` -> `gr_u00f6_u00df_e`, distinct
//!   from `grösse` -> `gr_u00f6_sse`; non-ASCII identifiers would trip
//!   `confusable_idents`), a leading digit behind `_` (`2fa` -> `_2fa`), an
//!   empty name (also `_`, `__`) as `field`. Keywords become raw identifiers
//!   (`r#type`), except the four that cannot be raw (`crate`, `self`, `Self`,
//!   `super`), which get a trailing underscore (`self_`). The result never holds
//!   `__` or an uppercase letter, so `non_snake_case` never fires.
//! - Types and variants ([`camel_ident`]): heck's UpperCamelCase, a leading
//!   digit behind `V` (`3d` -> `V3d`), `Self` as `SelfValue` (`Self_` would trip
//!   `non_camel_case_types`), and an all-capitals result longer than three
//!   letters (`a.b.c.d` -> `ABCD`) as `Abcd`, which clippy's
//!   `upper_case_acronyms` asks for.
//! - Collisions ([`UniqueNames`]): names that convert to the same identifier
//!   (`self` / `Self` / `self_`, `type` / `Type`, `fooBar` / `foo_bar` /
//!   `FooBar` / `foo-bar`, `_` / `__` / `field`) are told apart by a numeric
//!   suffix: `_2`, `_3`... for snake case (`self_` -> `self_2`, never the
//!   `self__2` that `non_snake_case` rejects), `2`, `3`... for UpperCamelCase
//!   (`Input2`), or `_2` after a trailing digit (`V1_2`, not the misleading
//!   `V12`). With [`UniqueNames::claim_all`], a name that is *already* its own
//!   identifier (`foo_bar`, `type` as `r#type`, `self_`, `ReadOnly`: no serde
//!   rename needed) keeps it whatever else the schema lists, a keyword keeps
//!   its escape (`self` -> `self_`) unless a property is literally called
//!   that, and the others are suffixed in the order given. So a field whose
//!   JSON name is its Rust name never changes name when a colliding property
//!   is added next to it, and names without collisions are exactly what they
//!   always were.

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

/// Lowercase keywords that can't be raw identifiers; they get a trailing
/// underscore. (`Self` is [`camel_ident`]'s `SelfValue`; `_` is `field`.)
const NO_RAW_KEYWORDS: &[&str] = &["crate", "self", "super"];

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
    // `Self` is the one capitalised keyword; `Self_` is not UpperCamelCase.
    if camel == "Self" {
        camel.push_str("Value");
    }
    // clippy's `upper_case_acronyms`: all capitals, more than three letters.
    if camel.len() > 3 && camel.chars().all(|c| c.is_ascii_uppercase()) {
        camel[1..].make_ascii_lowercase();
    }
    camel
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
/// (or `2`, `3` for camel case) in the order they are asked for; see the
/// module docs for the scheme. `r#type` and `type` are one name.
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
        self.taken.insert(unraw(name).to_string());
    }

    /// Returns `wanted` if free, else the first free suffixed variant.
    pub fn claim(&mut self, wanted: &str) -> String {
        let bare = unraw(wanted);
        if self.taken.insert(bare.to_string()) {
            return wanted.to_string();
        }
        // `self_` -> `self_2`: a doubled underscore is not snake case.
        let stem = match bare.trim_end_matches('_') {
            "" => bare,
            stem => stem,
        };
        let snake = stem.contains('_') || stem.chars().all(|c| !c.is_ascii_uppercase());
        // `V1` -> `V1_2` (still UpperCamelCase) rather than `V12`.
        let separator = if snake || stem.ends_with(|c: char| c.is_ascii_digit()) {
            "_"
        } else {
            ""
        };
        (2..)
            .map(|n| format!("{stem}{separator}{n}"))
            .find(|candidate| self.taken.insert(candidate.clone()))
            .expect("an unbounded range always has a free suffix")
    }

    /// Claims one identifier per name in `names`, `convert`ed (e.g. with
    /// [`snake_ident`]), returned in the same order. Names that are already
    /// their own identifier (`foo_bar`, `type` for `r#type`, `self_`: no serde
    /// rename needed) claim first, so they keep it whatever they collide with;
    /// then keywords escaped with an underscore (`self` for `self_`); then the
    /// rest, in the order given.
    pub fn claim_all<S: AsRef<str>>(
        &mut self,
        names: &[S],
        convert: impl Fn(&str) -> String,
    ) -> Vec<String> {
        let wanted: Vec<String> = names.iter().map(|name| convert(name.as_ref())).collect();
        let rank = |index: usize| {
            let (name, ident) = (names[index].as_ref(), unraw(&wanted[index]));
            if ident == name {
                0
            } else if ident.strip_suffix('_') == Some(name) {
                1
            } else {
                2
            }
        };
        let mut order: Vec<usize> = (0..names.len()).collect();
        // Stable: the order given within each rank.
        order.sort_by_key(|&index| rank(index));
        let mut claimed = vec![String::new(); names.len()];
        for index in order {
            claimed[index] = self.claim(&wanted[index]);
        }
        claimed
    }
}

fn unraw(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
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

    /// rustc's `non_snake_case` test (`is_snake_case` in rustc_lint).
    fn is_snake_case(ident: &str) -> bool {
        let ident = unraw(ident).trim_matches('_');
        !ident.contains("__") && !ident.chars().any(char::is_uppercase)
    }

    /// rustc's `non_camel_case_types` test, plus clippy's `upper_case_acronyms`
    /// (not aggressive: all capitals and longer than three).
    fn is_camel_case(ident: &str) -> bool {
        let ident = ident.trim_matches('_');
        let chars: Vec<char> = ident.chars().collect();
        let has_case = |c: char| c.is_lowercase() || c.is_uppercase();
        !ident.starts_with(char::is_lowercase)
            && !ident.contains("__")
            && !chars.windows(2).any(|pair| {
                (has_case(pair[0]) && pair[1] == '_') || (pair[0] == '_' && has_case(pair[1]))
            })
            && (ident.len() <= 3 || !ident.chars().all(|c| c.is_ascii_uppercase()))
    }

    /// Every identifier is valid Rust, lint-clean and distinct from the others.
    fn assert_clean(idents: &[String], camel: bool) {
        let mut seen = BTreeSet::new();
        for ident in idents {
            syn::parse_str::<syn::Ident>(ident)
                .unwrap_or_else(|_| panic!("{ident:?} is not an identifier"));
            if camel {
                assert!(is_camel_case(ident), "{ident:?} is not UpperCamelCase");
            } else {
                assert!(is_snake_case(ident), "{ident:?} is not snake_case");
            }
            assert!(seen.insert(unraw(ident)), "{ident:?} is taken twice");
        }
    }

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
        assert_eq!(camel_ident("3d"), "V3d");
        for name in ["", "é", "💥", "__", "a b", "\n"] {
            syn::parse_str::<syn::Ident>(&snake_ident(name)).unwrap();
            syn::parse_str::<syn::Ident>(&camel_ident(name)).unwrap();
        }
    }

    #[test]
    fn keywords_that_cannot_be_raw_get_an_underscore() {
        for keyword in ["self", "Self", "SELF", "crate", "super"] {
            let ident = snake_ident(keyword);
            assert_eq!(ident, format!("{}_", keyword.to_lowercase()));
            syn::parse_str::<syn::Ident>(&ident).unwrap();
        }
        // `self_` already is that escape.
        assert_eq!(snake_ident("self_"), "self_");
        assert_eq!(snake_ident("type_"), "r#type");
        assert_eq!(snake_ident("Type"), "r#type");
        // `Self_` is not UpperCamelCase; `SelfValue` is what `type_name` says.
        assert_eq!(camel_ident("Self"), "SelfValue");
        assert_eq!(camel_ident("self"), "SelfValue");
        assert!(is_camel_case(&camel_ident("Self")));
    }

    #[test]
    fn all_capital_camel_names_are_not_acronyms() {
        assert_eq!(camel_ident("a.b.c.d"), "Abcd");
        assert_eq!(camel_ident("A_B_C_D_E"), "Abcde");
        // Up to three capitals clippy accepts, and digits break the run.
        assert_eq!(camel_ident("a.b"), "AB");
        assert_eq!(camel_ident("x-y-z"), "XYZ");
        assert_eq!(camel_ident("a.b.c.1"), "ABC1");
        assert_eq!(camel_ident("HTTPServer"), "HttpServer");
        for name in ["a.b.c.d", "A B C D", "a-b-c-d-e-f"] {
            assert!(is_camel_case(&camel_ident(name)), "{name}");
        }
    }

    #[test]
    fn suffixes_after_a_keyword_escape_stay_snake_case() {
        let mut names = UniqueNames::new();
        assert_eq!(names.claim("self_"), "self_");
        assert_eq!(names.claim("self_"), "self_2");
        assert_eq!(names.claim("self_"), "self_3");
        assert_eq!(names.claim("crate_"), "crate_");
        assert_eq!(names.claim("crate_"), "crate_2");
        // In property order, as `lower` claims them today.
        let mut names = UniqueNames::new();
        let claimed: Vec<String> = ["Self", "self", "self_", "super", "super_"]
            .iter()
            .map(|name| names.claim(&snake_ident(name)))
            .collect();
        assert_eq!(claimed, ["self_", "self_2", "self_3", "super_", "super_2"]);
        assert_clean(&claimed, false);
    }

    #[test]
    fn camel_suffixes_after_a_digit_are_separated() {
        let mut names = UniqueNames::new();
        assert_eq!(names.claim(&camel_ident("1")), "V1");
        assert_eq!(names.claim(&camel_ident("v1")), "V1_2");
        assert_eq!(names.claim(&camel_ident("V1")), "V1_3");
        assert_eq!(names.claim(&camel_ident("V12")), "V12");
        assert_eq!(names.claim("Input"), "Input");
        assert_eq!(names.claim("Input"), "Input2");
        assert_clean(&["V1_2".to_string(), "V1_3".to_string()], true);
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

    /// Property names (sorted, as `serde_json::Map` lists them) -> fields.
    fn fields(properties: &[&str]) -> Vec<String> {
        let mut sorted = properties.to_vec();
        sorted.sort();
        assert_eq!(sorted, properties, "give properties in map order");
        let idents = UniqueNames::new().claim_all(properties, snake_ident);
        assert_clean(&idents, false);
        idents
    }

    #[test]
    fn fields_that_need_no_rename_keep_their_name() {
        assert_eq!(fields(&["Self", "self"]), ["self_2", "self_"]);
        assert_eq!(fields(&["self", "self_"]), ["self_2", "self_"]);
        assert_eq!(
            fields(&["Self", "self", "self_"]),
            ["self_3", "self_2", "self_"]
        );
        assert_eq!(
            fields(&["crate", "crate_", "super"]),
            ["crate_2", "crate_", "super_"]
        );
        assert_eq!(fields(&["Type", "type"]), ["type_2", "r#type"]);
        assert_eq!(
            fields(&["Type", "r#type", "type"]),
            ["type_2", "r_type", "r#type"]
        );
        assert_eq!(
            fields(&["Type", "type", "type_"]),
            ["type_2", "r#type", "type_3"]
        );
        assert_eq!(
            fields(&["FooBar", "foo-bar", "fooBar", "foo_bar"]),
            ["foo_bar_2", "foo_bar_3", "foo_bar_4", "foo_bar"]
        );
        assert_eq!(fields(&["fooBar", "foo_bar"]), ["foo_bar_2", "foo_bar"]);
        assert_eq!(
            fields(&["", "_", "__", "field"]),
            ["field_2", "field_3", "field_4", "field"]
        );
        assert_eq!(fields(&["2fa", "_2fa"]), ["_2fa_2", "_2fa"]);
        assert_eq!(fields(&["Foo", "foo", "foo_2"]), ["foo_3", "foo", "foo_2"]);
        // A suffixed name never takes a later verbatim one.
        assert_eq!(
            fields(&["A", "a", "a_2", "a_3"]),
            ["a_4", "a", "a_2", "a_3"]
        );
        // Without a collision nothing changes.
        assert_eq!(
            fields(&["", "2fa", "a.b", "größe", "match", "self", "type"]),
            [
                "field",
                "_2fa",
                "a_b",
                "gr_u00f6_u00df_e",
                "r#match",
                "self_",
                "r#type"
            ]
        );
    }

    #[test]
    fn non_ascii_names_stay_distinct() {
        assert_eq!(
            fields(&["grösse", "größe", "gr\u{f6}\u{df}e_"]),
            ["gr_u00f6_sse", "gr_u00f6_u00df_e", "gr_u00f6_u00df_e_2"]
        );
        // Precomposed and decomposed `é` are different JSON names.
        assert_eq!(
            fields(&["cafe\u{301}", "caf\u{e9}"]),
            ["cafe_u0301", "caf_u00e9"]
        );
    }

    #[test]
    fn variants_that_need_no_rename_keep_their_name() {
        let variants = |values: &[&str]| {
            let idents = UniqueNames::new().claim_all(values, camel_ident);
            assert_clean(&idents, true);
            idents
        };
        assert_eq!(
            variants(&["read-only", "ReadOnly"]),
            ["ReadOnly2", "ReadOnly"]
        );
        assert_eq!(variants(&["1", "v1", "V1"]), ["V1_2", "V1_3", "V1"]);
        assert_eq!(
            variants(&["self", "Self", "SelfValue"]),
            ["SelfValue2", "SelfValue3", "SelfValue"]
        );
        assert_eq!(
            variants(&["a.b.c.d", "ABCD", "abcd"]),
            ["Abcd", "Abcd2", "Abcd3"]
        );
        assert_eq!(variants(&["", "_", "Value"]), ["Value2", "Value3", "Value"]);
    }

    #[test]
    fn colliding_tool_names_give_distinct_handlers_and_types() {
        // Tools in lock order (sorted by name).
        let tools = ["Self", "a.b.c.d", "get-time", "get_time", "self", "self_"];
        let handlers = UniqueNames::new().claim_all(&tools, snake_ident);
        assert_eq!(
            handlers,
            [
                "self_3",
                "a_b_c_d",
                "get_time_2",
                "get_time",
                "self_2",
                "self_"
            ]
        );
        assert_clean(&handlers, false);
        let types = UniqueNames::new().claim_all(&tools, camel_ident);
        assert_eq!(
            types,
            [
                "SelfValue",
                "Abcd",
                "GetTime",
                "GetTime2",
                "SelfValue2",
                "SelfValue3"
            ]
        );
        assert_clean(&types, true);
    }

    /// The corpus tool `name_collisions`, as `lower` names its fields.
    #[test]
    fn the_corpus_collisions_get_these_fields() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/corpus/tools.json");
        let corpus: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let tool = corpus["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|tool| tool["name"] == "name_collisions")
            .expect("the corpus has name_collisions");
        // Sorted, as the lock lists them.
        let mut properties: Vec<&String> = tool["inputSchema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        properties.sort();
        let idents = UniqueNames::new().claim_all(&properties, snake_ident);
        let pairs: Vec<(&str, &str)> = properties
            .iter()
            .map(|name| name.as_str())
            .zip(idents.iter().map(String::as_str))
            .collect();
        assert_eq!(
            pairs,
            [
                ("3d", "_3d_2"),
                ("FooBar", "foo_bar_2"),
                ("Point", "point_2"),
                ("Self", "self_3"),
                ("Type", "type_2"),
                ("_", "field_2"),
                ("_3d", "_3d"),
                ("__", "field_3"),
                ("crate", "crate_2"),
                ("crate_", "crate_"),
                ("either", "either"),
                ("extra", "extra"),
                ("field", "field"),
                ("foo-bar", "foo_bar_3"),
                ("fooBar", "foo_bar_4"),
                ("foo_bar", "foo_bar"),
                ("grösse", "gr_u00f6_sse"),
                ("größe", "gr_u00f6_u00df_e"),
                ("mode", "mode"),
                ("point", "point"),
                ("r#type", "r_type"),
                ("self", "self_2"),
                ("self_", "self_"),
                ("super", "super_"),
                ("type", "r#type"),
                ("type_", "type_3"),
            ]
        );
        let values: Vec<&str> = tool["inputSchema"]["properties"]["mode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|value| value.as_str())
            .collect();
        assert_eq!(
            UniqueNames::new().claim_all(&values, camel_ident),
            [
                "Abcd",
                "V1_2",
                "V1_3",
                "V1",
                "SelfValue",
                "SelfValue2",
                "ReadOnly2",
                "ReadOnly"
            ]
        );
    }

    /// Every object and enum of the schema corpus, and its tool names.
    #[test]
    fn every_corpus_name_gets_a_clean_distinct_identifier() {
        fn walk(schema: &serde_json::Value, visit: &mut dyn FnMut(&serde_json::Value)) {
            visit(schema);
            match schema {
                serde_json::Value::Object(map) => map.values().for_each(|v| walk(v, visit)),
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, visit)),
                _ => {}
            }
        }
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/corpus/tools.json");
        let corpus: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let tools = corpus["tools"].as_array().unwrap();
        let mut tool_names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
        tool_names.sort();
        assert_clean(
            &UniqueNames::new().claim_all(&tool_names, snake_ident),
            false,
        );
        assert_clean(
            &UniqueNames::new().claim_all(&tool_names, camel_ident),
            true,
        );
        let (mut objects, mut enums) = (0, 0);
        for tool in tools {
            walk(tool, &mut |schema| {
                if let Some(properties) = schema.get("properties").and_then(|p| p.as_object()) {
                    let names: Vec<&String> = properties.keys().collect();
                    assert_clean(&UniqueNames::new().claim_all(&names, snake_ident), false);
                    objects += 1;
                }
                if let Some(values) = schema.get("enum").and_then(|e| e.as_array()) {
                    let names: Vec<&str> = values.iter().filter_map(|v| v.as_str()).collect();
                    assert_clean(&UniqueNames::new().claim_all(&names, camel_ident), true);
                    enums += 1;
                }
            });
        }
        assert!(
            objects > 20 && enums > 3,
            "{objects} objects, {enums} enums"
        );
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
