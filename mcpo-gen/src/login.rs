//! The interactive OAuth authorization of `mcpo-gen login` and of a snapshot
//! whose upstream has no usable token: the URL printed (and opened in a
//! browser only after Enter on a terminal), the redirect taken on a loopback
//! listener or pasted on stdin, its `state` checked.
//!
//! Only this part is here: everything a proxy shares (the token store,
//! discovery, the endpoint checks, the client, the authorization URL with
//! PKCE and `state`, the code exchange) is in
//! [`mcpo_runtime::upstream::oauth`] ([`Authorizer`],
//! [`Authorization`](mcpo_runtime::upstream::oauth::Authorization)),
//! and a proxy never links this module.

use std::collections::HashMap;
use std::time::Duration;

use mcpo_runtime::upstream::Target;
use mcpo_runtime::upstream::oauth::{Authorizer, CALLBACK_PATH, OAuthTarget};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// `1`: never offer to open a browser.
pub const NO_BROWSER_ENV: &str = "MCPO_OAUTH_NO_BROWSER";
/// Seconds [`authorize`] waits for the redirect (default 300).
pub const TIMEOUT_ENV: &str = "MCPO_OAUTH_TIMEOUT";

/// Authorizes this client with `target` when it is an OAuth-protected
/// upstream ([`authorize`]); nothing to do for another upstream.
pub async fn authorize_target(target: &Target) -> Result<(), AuthorizeError> {
    match target.oauth() {
        Some((url, oauth)) => authorize(url, matches!(target, Target::Sse { .. }), oauth).await,
        None => Ok(()),
    }
}

/// Authorizes this client for the upstream at `upstream_url`
/// (interactively) and stores the tokens. `sse`: the upstream is an
/// HTTP+SSE one (how its challenge is probed).
///
/// The line `Authorize: URL` is always printed on stderr; on an interactive
/// terminal (and not with `MCPO_OAUTH_NO_BROWSER=1`) pressing Enter opens
/// it in a browser (`$BROWSER`, `open`, or `xdg-open` with a display);
/// nothing is ever opened by itself. Every endpoint from the server's
/// metadata is checked first (by [`Authorizer::start`], before anything is
/// printed or opened). The redirect is taken on
/// `http://127.0.0.1:PORT/callback` (unless `use_loopback` is false) or as a
/// full redirect URL pasted on stdin, whichever comes first; a redirect
/// whose `state` is not this flow's is refused. Scopes asked for: the
/// configured ones, those already granted, and those a challenge names
/// (incremental authorization); none at all lets rmcp pick from the server's
/// metadata.
pub async fn authorize(
    upstream_url: &str,
    sse: bool,
    oauth: &OAuthTarget,
) -> Result<(), AuthorizeError> {
    let failed = |reason: String| AuthorizeError::Failed {
        upstream: upstream_url.to_string(),
        reason,
    };
    // The store checked and the challenge probed before the callback port
    // is taken.
    let authorizer = Authorizer::new(upstream_url, sse, oauth)
        .await
        .map_err(failed)?;

    let listener = if oauth.settings.use_loopback {
        let port = oauth.settings.callback_port;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|error| AuthorizeError::Listen {
                port,
                reason: error.to_string(),
            })?;
        Some(listener)
    } else {
        None
    };
    let port = match &listener {
        Some(listener) => listener
            .local_addr()
            .map(|address| address.port())
            .unwrap_or(oauth.settings.callback_port),
        None => oauth.settings.callback_port,
    };
    if listener.is_some() && oauth.settings.callback_port == 0 {
        eprintln!("OAuth callback port: {port}");
    }
    let redirect = authorizer.redirect_uri(port);
    let authorization = authorizer.start(redirect.clone()).await.map_err(failed)?;
    let url = authorization.url().to_string();
    if !authorization.pending_scopes().is_empty() {
        eprintln!(
            "Asking also for the scope a call needed: {}",
            authorization.pending_scopes().join(" ")
        );
    }
    eprintln!("Authorize: {url}");
    // Nothing is opened the user did not ask for: on a terminal, Enter
    // opens the URL (checked above) in the browser; elsewhere nothing is.
    let browser = browser_offered().then(|| url.clone());
    if browser.is_some() {
        eprintln!("Press Enter to open it in your browser.");
    }
    eprintln!(
        "Waiting for the redirect{}; or paste the full redirect URL here and press Enter.",
        if listener.is_some() {
            format!(" on {redirect}")
        } else {
            String::new()
        }
    );

    let seconds = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(300);
    let callback = tokio::time::timeout(
        Duration::from_secs(seconds),
        wait_for_redirect(listener, authorization.state(), browser),
    )
    .await
    .map_err(|_| AuthorizeError::TimedOut {
        upstream: upstream_url.to_string(),
        seconds,
    })?
    .map_err(failed)?;
    let pending = authorization.finish(&callback).await.map_err(failed)?;
    if !pending.is_empty() {
        eprintln!(
            "warning: the authorization server did not grant {} (a call needs it)",
            pending.join(" ")
        );
    }
    match oauth.token_location(upstream_url) {
        Some(path) => eprintln!("Authorized; tokens stored in {}", path.display()),
        None => eprintln!("Authorized; tokens kept in memory"),
    }
    Ok(())
}

/// Why [`authorize`] failed. Messages never hold a token, code or secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// The authorization server or the flow failed.
    #[error("OAuth authorization for {upstream} failed: {reason}")]
    Failed {
        /// The upstream URL.
        upstream: String,
        /// What went wrong.
        reason: String,
    },
    /// No redirect came in time.
    #[error(
        "OAuth authorization for {upstream}: no redirect within {seconds}s \
         (open the printed URL, or paste the redirect URL here; {TIMEOUT_ENV} sets the wait)"
    )]
    TimedOut {
        /// The upstream URL.
        upstream: String,
        /// The wait.
        seconds: u64,
    },
    /// The callback port is taken.
    #[error(
        "cannot listen for the OAuth callback on 127.0.0.1:{port}: {reason}; set another \"callback_port\" (0: any free port)"
    )]
    Listen {
        /// The port.
        port: u16,
        /// What the OS said.
        reason: String,
    },
}

/// Whether to offer opening the authorization URL in a browser: on an
/// interactive terminal (stdin and stderr), unless `MCPO_OAUTH_NO_BROWSER`.
fn browser_offered() -> bool {
    use std::io::IsTerminal as _;
    !std::env::var(NO_BROWSER_ENV).is_ok_and(|value| value == "1" || value == "true")
        && std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
}

/// Whether a browser was opened on `url` (only after the user asked).
fn open_browser(url: &str) -> bool {
    let spawn = |program: &str| {
        std::process::Command::new(program)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok()
    };
    if let Some(browser) = std::env::var("BROWSER").ok().filter(|b| !b.is_empty()) {
        return spawn(&browser);
    }
    if cfg!(target_os = "macos") {
        return spawn("open");
    }
    let display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|value| !value.is_empty()));
    display && spawn("xdg-open")
}

/// A redirect URL with this flow's `state`, from the loopback listener or a
/// line on stdin, whichever comes first. A redirect with another state is
/// refused and waiting goes on; an `error` redirect with this state ends
/// the flow.
async fn wait_for_redirect(
    listener: Option<tokio::net::TcpListener>,
    state: &str,
    mut browser: Option<String>,
) -> Result<String, String> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<String>(4);
    // Stdin is read on a thread of its own (a blocking read); an end of
    // input just stops it.
    let pasted = sender.clone();
    std::thread::spawn(move || {
        read_pasted_lines(std::io::BufReader::new(std::io::stdin()), |line| {
            pasted.blocking_send(line).is_ok()
        });
    });
    let accepting = async {
        let Some(listener) = listener else {
            return std::future::pending().await;
        };
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let Some(target) = read_request_target(&mut stream).await else {
                continue;
            };
            let full = format!("http://127.0.0.1{target}");
            let verdict = check_redirect(&full, state);
            let (status, text) = match &verdict {
                Ok(_) => (
                    "200 OK",
                    "Authorization complete. You can close this window.",
                ),
                Err(reason) => ("400 Bad Request", reason.as_str()),
            };
            let body = format!("<!doctype html><title>mcpo-gen</title><p>{text}</p>\n");
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
            match verdict {
                Ok(Some(error)) => return Err(error),
                Ok(None) => return Ok(full),
                Err(reason) => eprintln!("ignored a callback: {reason}"),
            }
        }
    };
    let pasting = async {
        while let Some(line) = receiver.recv().await {
            if line.is_empty() {
                if let Some(url) = browser.take() {
                    if open_browser(&url) {
                        eprintln!("(opened in your browser)");
                    } else {
                        eprintln!("no browser could be started: open the URL above yourself");
                    }
                }
                continue;
            }
            match check_redirect(&line, state) {
                Ok(None) => return Ok(line),
                Ok(Some(error)) => return Err(error),
                Err(reason) => eprintln!("ignored the pasted text: {reason}"),
            }
        }
        std::future::pending().await
    };
    drop(sender);
    tokio::select! {
        result = accepting => result,
        result = pasting => result,
    }
}

/// Hands each line of `input`, trimmed, to `send` until it returns false
/// or the input ends (an empty line is Enter). A line is read up to
/// 64 KiB; a longer one is ignored whole.
fn read_pasted_lines(mut input: impl std::io::BufRead, mut send: impl FnMut(String) -> bool) {
    use std::io::{BufRead as _, Read as _};
    const MAX_LINE: u64 = 64 * 1024;
    let mut line = String::new();
    let mut overlong = false;
    loop {
        line.clear();
        match (&mut input).take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let whole = line.ends_with('\n') || (line.len() as u64) < MAX_LINE;
        if overlong || !whole {
            if !overlong {
                eprintln!("ignored the pasted text: longer than 64 KiB");
            }
            overlong = !whole;
            continue;
        }
        if !send(line.trim().to_string()) {
            break;
        }
    }
}

/// Checks a redirect URL: `Ok(None)` when it carries a code and this flow's
/// `state`; `Ok(Some(why))` when the server refused (an `error` with this
/// state); `Err(why)` when it is not this flow's redirect.
fn check_redirect(url: &str, state: &str) -> Result<Option<String>, String> {
    let parsed = url::Url::parse(url.trim())
        .map_err(|_| "not a URL (paste the whole address the browser was sent to)".to_string())?;
    let query: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    match query.get("state") {
        None => return Err("no state in the redirect".into()),
        Some(given)
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                given.as_bytes(),
                state.as_bytes(),
            )) =>
        {
            return Err("its state is not this authorization's (refused)".into());
        }
        Some(_) => {}
    }
    if let Some(error) = query.get("error") {
        let description = query
            .get("error_description")
            .map(|text| format!(": {text}"))
            .unwrap_or_default();
        return Ok(Some(format!(
            "the authorization server answered {error}{description}"
        )));
    }
    if !query.contains_key("code") {
        return Err("no code in the redirect".into());
    }
    Ok(None)
}

/// The request target of one HTTP request (`/callback?...`).
async fn read_request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..read]);
    }
    let line = head.split(|byte| *byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    let _method = parts.next()?;
    let target = parts.next()?;
    target
        .starts_with(CALLBACK_PATH)
        .then(|| target.to_string())
}

#[cfg(test)]
mod tests;
