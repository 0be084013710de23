//! An HTTP upstream that cannot be reached, told in words.
//!
//! rmcp wraps a failed connection in its transport error, whose text starts
//! with the transport's Rust type path and ends in reqwest's "error sending
//! request": nothing a person can act on. [`unreachable`] looks through the
//! error's chain for the connection failure and names it.

use std::error::Error;

use rmcp::transport::streamable_http_client::StreamableHttpError;

use super::ConnectError;

/// [`ConnectError::Unreachable`] when `error` (or anything it wraps) is a
/// failure to connect to `url`.
pub fn unreachable(url: &str, error: &(dyn Error + 'static)) -> Option<ConnectError> {
    problem(error).map(|problem| ConnectError::Unreachable {
        url: url.to_string(),
        problem,
    })
}

/// The same for a failed rmcp handshake.
pub fn unreachable_in_handshake(
    url: &str,
    error: &rmcp::service::ClientInitializeError,
) -> Option<ConnectError> {
    match error {
        rmcp::service::ClientInitializeError::TransportError { error, .. } => {
            unreachable(url, error.error.as_ref())
        }
        rmcp::service::ClientInitializeError::LegacyFallbackFailed { fallback, .. } => {
            unreachable_in_handshake(url, fallback)
        }
        _ => None,
    }
}

/// rmcp's handshake error in words: a transport error's own chain of
/// causes instead of rmcp's text, which starts with the transport's Rust
/// type path.
pub fn handshake_reason(error: &rmcp::service::ClientInitializeError) -> String {
    match error {
        rmcp::service::ClientInitializeError::TransportError { error, context } => {
            format!("{context}: {}", causes(error.error.as_ref()))
        }
        other => other.to_string(),
    }
}

/// `error` and its sources, `: `-separated, repeats left out.
fn causes(error: &(dyn Error + 'static)) -> String {
    let mut texts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !texts.iter().any(|seen| seen.contains(&text)) {
            texts.push(text);
        }
        current = match error.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            Some(StreamableHttpError::Client(inner)) => Some(inner),
            _ => error.source(),
        };
    }
    texts.join(": ")
}

/// What went wrong connecting, when that is what `error` is about.
fn problem(error: &(dyn Error + 'static)) -> Option<String> {
    let mut connect_failed = false;
    let mut timed_out = false;
    let mut innermost = error.to_string();
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(error) = error.downcast_ref::<reqwest::Error>() {
            connect_failed |= error.is_connect();
            timed_out |= error.is_timeout();
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Some("connection refused".into());
                }
                std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
                    return Some("no route to the host".into());
                }
                _ => {}
            }
        }
        let text = error.to_string();
        if text.starts_with("dns error") {
            return Some("the host name could not be resolved".into());
        }
        innermost = text;
        // rmcp's streamable HTTP error holds reqwest's without exposing it
        // as its source.
        current = match error.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
            Some(StreamableHttpError::Client(inner)) => Some(inner),
            _ => error.source(),
        };
    }
    if !connect_failed {
        return None;
    }
    Some(if timed_out {
        "connecting timed out".into()
    } else {
        format!("could not connect ({innermost})")
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use crate::upstream::{ConnectError, ConnectOptions, Target, connect};

    /// A port that accepts and hangs up is reachable, but the handshake
    /// fails: the reason is reqwest's chain of causes, not rmcp's text
    /// with the transport's Rust type in it.
    #[tokio::test]
    async fn a_failed_http_handshake_names_no_rust_types() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut connection, _)) = listener.accept().await {
                let mut buffer = [0u8; 4096];
                let _ = connection.read(&mut buffer).await;
                let _ = connection.shutdown().await;
            }
        });
        let options = ConnectOptions {
            client_name: "test".into(),
            client_version: "0".into(),
            echo_stderr: false,
            record_raw: false,
            offer_protocol: None,
            events: Default::default(),
        };
        let target = Target::StreamableHttp {
            url,
            headers: BTreeMap::new(),
            oauth: None,
        };
        let error = connect(&target, &options, &mut None)
            .await
            .err()
            .expect("the server hangs up");
        let text = error.to_string();
        assert!(matches!(error, ConnectError::Handshake { .. }), "{error:?}");
        assert!(!text.contains("rmcp::"), "{text}");
        assert!(text.contains("error sending request"), "{text}");
        // The peer hung up: hyper's words for it are in the chain.
        assert!(text.contains("closed"), "{text}");
    }
}
