//! JSON Pointers (RFC 6901) and the URI fragments that carry them (RFC 3986).

use std::borrow::Cow;
use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

/// Bytes a fragment token keeps verbatim (RFC 3986 `pchar` and `?`); `%`
/// is always escaped so decoding gives back the token. `/` never occurs in
/// an escaped token.
const FRAGMENT_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'?');

/// A fragment whose `%XX` escapes do not decode to UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the fragment {0:?} does not percent-decode to UTF-8")]
pub struct FragmentNotUtf8(pub String);

/// Decodes the `%XX` escapes of a URI fragment the way `referencing` (and so
/// the proxy's validator) does: a `%` not followed by two hex digits stays
/// as it is, bytes that are not UTF-8 are an error.
pub fn decode_fragment(fragment: &str) -> Result<Cow<'_, str>, FragmentNotUtf8> {
    percent_decode_str(fragment)
        .decode_utf8()
        .map_err(|_| FragmentNotUtf8(fragment.to_string()))
}

/// RFC 6901 escaping of one reference token.
pub fn escape_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// The child of `value` one reference token names: an object member, or an
/// array element by its canonical index (no sign, no leading zero).
pub fn child<'v>(value: &'v Value, token: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(token),
        Value::Array(items) => items.get(referencing::parse_index(token)?),
        _ => None,
    }
}

/// A JSON Pointer held as its unescaped reference tokens. `Display` writes
/// the RFC 6901 string (`/a/b~1c`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pointer(Vec<String>);

impl Pointer {
    /// The whole document.
    pub fn root() -> Self {
        Pointer(Vec::new())
    }

    /// Parses an RFC 6901 string (`""` or `/...`, already percent-decoded).
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(Self::root());
        }
        let rest = text.strip_prefix('/')?;
        Some(Pointer(
            rest.split('/')
                .map(|token| referencing::unescape_segment(token).into_owned())
                .collect(),
        ))
    }

    pub fn from_tokens(tokens: Vec<String>) -> Self {
        Pointer(tokens)
    }

    pub fn tokens(&self) -> &[String] {
        &self.0
    }

    /// The last token; `None` for the root.
    pub fn last(&self) -> Option<&str> {
        self.0.last().map(String::as_str)
    }

    pub fn push(&mut self, token: impl Into<String>) {
        self.0.push(token.into());
    }

    pub fn pop(&mut self) -> Option<String> {
        self.0.pop()
    }

    /// The value this pointer names inside `document`.
    pub fn lookup<'v>(&self, document: &'v Value) -> Option<&'v Value> {
        self.0
            .iter()
            .try_fold(document, |value, token| child(value, token))
    }

    /// `#/...`: the pointer as a URI fragment, every token escaped for the
    /// pointer and then percent-encoded for the URI.
    pub fn to_fragment(&self) -> String {
        let mut fragment = String::from("#");
        for token in &self.0 {
            fragment.push('/');
            fragment.extend(utf8_percent_encode(&escape_token(token), FRAGMENT_ESCAPED));
        }
        fragment
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for token in &self.0 {
            write!(f, "/{}", escape_token(token))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_round_trip_through_fragments() {
        let pointer = Pointer::from_tokens(vec!["properties".into(), "a b/c~é%".into()]);
        let fragment = pointer.to_fragment();
        assert_eq!(fragment, "#/properties/a%20b~1c~0%C3%A9%25");
        let decoded = decode_fragment(&fragment[1..]).unwrap();
        assert_eq!(Pointer::parse(&decoded), Some(pointer.clone()));
        assert_eq!(pointer.to_string(), "/properties/a b~1c~0é%");
    }

    #[test]
    fn bad_escapes_stay_verbatim_and_non_utf8_is_an_error() {
        assert_eq!(decode_fragment("/$defs/a%ZZ").unwrap(), "/$defs/a%ZZ");
        assert_eq!(decode_fragment("/a%2").unwrap(), "/a%2");
        assert_eq!(decode_fragment("/a%25").unwrap(), "/a%");
        assert!(decode_fragment("/a%FF").is_err());
    }

    #[test]
    fn lookup_follows_objects_and_arrays_only_with_canonical_indices() {
        let doc = json!({"a": [{"b": 1}, {"c": 2}]});
        let at = |text: &str| Pointer::parse(text).unwrap().lookup(&doc).cloned();
        assert_eq!(at("/a/1/c"), Some(json!(2)));
        assert_eq!(at("/a/01/c"), None);
        assert_eq!(at("/a/+1/c"), None);
        assert_eq!(at("/a/-1"), None);
        assert_eq!(at(""), Some(doc.clone()));
        assert_eq!(Pointer::parse("no-slash"), None);
    }
}
