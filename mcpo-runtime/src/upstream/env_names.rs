//! Names of the environment variables that carry secrets, the same for
//! `mcpo-gen update` (through `upstream::header_env_var`) and the proxy.

/// The env var that carries an HTTP header's value: `MCPO_HEADER_<NAME>`,
/// upper case, `-` as `_` (`X-Api-Key` -> `MCPO_HEADER_X_API_KEY`).
pub fn header_env_var(header: &str) -> String {
    format!(
        "MCPO_HEADER_{}",
        header.to_ascii_uppercase().replace('-', "_")
    )
}
