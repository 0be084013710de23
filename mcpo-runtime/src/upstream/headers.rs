//! `--header` values: `Name: value` or a JSON object, checked as HTTP
//! headers, never repeated in an error (they are usually secrets).

use super::*;

/// A `--header` value that could not be used. Messages name the header but
/// never repeat its value (it is usually a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Neither `Name: value` nor a JSON object of strings.
    #[error(
        "--header #{position}: expected `Name: value` or a JSON object of header names to string values"
    )]
    Malformed {
        /// 1-based position among the `--header` values.
        position: usize,
    },
    /// A JSON object entry whose value is not a string.
    #[error("--header #{position}: the value of {name:?} must be a string")]
    NotAString {
        /// 1-based position among the `--header` values.
        position: usize,
        /// The header name.
        name: String,
    },
    /// Not a valid HTTP header name.
    #[error("{name:?} is not a valid HTTP header name")]
    InvalidName {
        /// The header name as given.
        name: String,
    },
    /// A value with characters HTTP does not allow.
    #[error("the value of header {name:?} has characters not allowed in an HTTP header")]
    InvalidValue {
        /// The header name.
        name: String,
    },
}

/// Parses `--header` values: `Name: value` (split at the first `:`) or a JSON
/// object of several (`{"Authorization":"Bearer t"}`). Names and values are
/// checked as HTTP allows them; later entries win.
pub fn parse_headers(raw: &[String]) -> Result<BTreeMap<String, String>, HeaderError> {
    let mut parsed = BTreeMap::new();
    for (index, entry) in raw.iter().enumerate() {
        let position = index + 1;
        let entry = entry.trim();
        if entry.starts_with('{') {
            let object: Map<String, Value> =
                serde_json::from_str(entry).map_err(|_| HeaderError::Malformed { position })?;
            for (name, value) in object {
                let Value::String(value) = value else {
                    return Err(HeaderError::NotAString { position, name });
                };
                check_header(&name, &value)?;
                parsed.insert(name, value);
            }
        } else {
            let Some((name, value)) = entry.split_once(':') else {
                return Err(HeaderError::Malformed { position });
            };
            let (name, value) = (name.trim(), value.trim());
            check_header(name, value)?;
            parsed.insert(name.to_string(), value.to_string());
        }
    }
    Ok(parsed)
}

fn check_header(name: &str, value: &str) -> Result<(), HeaderError> {
    header_pair(name, value).map(drop)
}

fn header_pair(
    name: &str,
    value: &str,
) -> Result<(http::HeaderName, http::HeaderValue), HeaderError> {
    let header_name = http::HeaderName::try_from(name).map_err(|_| HeaderError::InvalidName {
        name: name.to_string(),
    })?;
    let mut header_value =
        http::HeaderValue::try_from(value).map_err(|_| HeaderError::InvalidValue {
            name: name.to_string(),
        })?;
    header_value.set_sensitive(true);
    Ok((header_name, header_value))
}

pub(super) fn header_map(
    headers: &BTreeMap<String, String>,
) -> Result<HashMap<http::HeaderName, http::HeaderValue>, HeaderError> {
    headers
        .iter()
        .map(|(name, value)| header_pair(name, value))
        .collect()
}
