//! Secret values this process knows, and their removal from every text it
//! shows: log lines, HTTP bodies, error messages.
//!
//! A value is secret when it came from a `${VAR}` reference (in a command,
//! argument, URL, header, env value or OAuth setting), is a header or env
//! value sent to an upstream, or is a URL query value. Each is registered
//! once, when it is read ([`register`]), and [`redact`] replaces it in any
//! text with the form it was written in (`${TOKEN}`) or `[redacted]`.
//!
//! Why a registry and not only careful formatting: transport errors (an HTTP
//! client's "error sending request for url (...)"), a server's stderr and
//! rmcp's own log lines quote URLs and arguments verbatim; searching for the
//! values themselves is the one way to catch every place they reach.
//!
//! Values shorter than [`MIN_SECRET_LEN`] characters are not searched for:
//! they would match ordinary words (`true`, `UTC`, a port number) everywhere.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{PoisonError, RwLock};

/// The shortest value searched for in free text.
pub const MIN_SECRET_LEN: usize = 8;

/// What a value without a better name is shown as.
pub const REDACTED: &str = "[redacted]";

/// Secret values with what each is shown as, longest first so that a value
/// containing another is replaced whole.
static SECRETS: RwLock<Vec<(String, String)>> = RwLock::new(Vec::new());

/// Remembers `value` as a secret, shown as `shown_as` (e.g. `${TOKEN}`).
/// Short values are ignored ([`MIN_SECRET_LEN`]); a value registered twice
/// keeps its first name.
pub fn register(value: &str, shown_as: &str) {
    if value.chars().count() < MIN_SECRET_LEN || value == shown_as {
        return;
    }
    let mut secrets = SECRETS.write().unwrap_or_else(PoisonError::into_inner);
    if secrets.iter().any(|(known, _)| known == value) {
        return;
    }
    secrets.push((value.to_string(), shown_as.to_string()));
    secrets.sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
}

/// Registers the value of every `name=value` pair in a URL's query string:
/// `?api_key=...` is the usual way a hosted MCP server takes a key.
pub fn register_url_query(url: &str) {
    let Some((_, query)) = url.split_once('?') else {
        return;
    };
    let query = query.split('#').next().unwrap_or_default();
    for pair in query.split('&') {
        if let Some((_, value)) = pair.split_once('=') {
            register(value, REDACTED);
        }
    }
}

/// `text` with every registered secret replaced by its shown form.
pub fn redact(text: &str) -> Cow<'_, str> {
    let secrets = SECRETS.read().unwrap_or_else(PoisonError::into_inner);
    let mut redacted = Cow::Borrowed(text);
    for (value, shown_as) in secrets.iter() {
        if redacted.contains(value.as_str()) {
            redacted = Cow::Owned(redacted.replace(value.as_str(), shown_as));
        }
    }
    redacted
}

/// A URL for display: every query value not written as `${VAR}` replaced by
/// `[redacted]`, so a key given literally on the command line is not shown.
pub fn url_for_display(url: &str) -> String {
    let Some((base, rest)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match rest.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (rest, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if !value.is_empty() && !is_template(value) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect();
    let mut shown = format!("{base}?{}", pairs.join("&"));
    if let Some(fragment) = fragment {
        shown.push('#');
        shown.push_str(fragment);
    }
    shown
}

fn is_template(value: &str) -> bool {
    value.starts_with("${") && value.ends_with('}')
}

/// Standard error through [`redact`], one log event at a time: the tracing
/// subscriber's writer (`with_writer(redact::Stderr::default)`).
#[derive(Default)]
pub struct Stderr {
    buffer: Vec<u8>,
}

impl Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buffer);
        let result = std::io::stderr().write_all(redact(&text).as_bytes());
        self.buffer.clear();
        result
    }
}

impl Drop for Stderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_replaced_longest_first_and_short_ones_never() {
        register("s3cr3t-token-value", "${TOKEN}");
        register("s3cr3t-token-value-and-more", "${LONGER}");
        register("short", "${SHORT}");
        assert_eq!(
            redact("url?key=s3cr3t-token-value-and-more&b=s3cr3t-token-value short"),
            "url?key=${LONGER}&b=${TOKEN} short"
        );
        assert!(matches!(redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn url_query_values_are_registered_and_hidden_for_display() {
        register_url_query("https://host/mcp?api_key=query-secret-1234&x=${VAR}#frag");
        assert_eq!(
            redact("GET /mcp?api_key=query-secret-1234"),
            "GET /mcp?api_key=[redacted]"
        );
        assert_eq!(
            url_for_display("https://host/mcp?api_key=abc&v=${VAR}&flag#f"),
            "https://host/mcp?api_key=[redacted]&v=${VAR}&flag#f"
        );
        assert_eq!(url_for_display("https://host/mcp"), "https://host/mcp");
    }
}
