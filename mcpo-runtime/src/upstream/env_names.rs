//! Names of the environment variables that carry secrets. Shared with the
//! mcpo-gen generator (it includes this file), so that `mcpo-gen update` and
//! the proxy read a header's value from the same variable.

/// The env var that carries an HTTP header's value: `MCPO_HEADER_<NAME>`,
/// upper case, `-` as `_` (`X-Api-Key` -> `MCPO_HEADER_X_API_KEY`).
pub fn header_env_var(header: &str) -> String {
    format!(
        "MCPO_HEADER_{}",
        header.to_ascii_uppercase().replace('-', "_")
    )
}
