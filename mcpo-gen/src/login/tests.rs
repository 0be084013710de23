use super::*;

#[test]
fn a_redirect_with_another_state_is_refused() {
    let state = "s3cr3t-state";
    assert_eq!(
        check_redirect(
            "http://127.0.0.1:3030/callback?code=c&state=s3cr3t-state",
            state
        ),
        Ok(None)
    );
    assert!(check_redirect("http://127.0.0.1:3030/callback?code=c&state=other", state).is_err());
    assert!(check_redirect("http://127.0.0.1:3030/callback?code=c", state).is_err());
    assert!(check_redirect("not a url", state).is_err());
    assert!(matches!(
        check_redirect(
            "http://127.0.0.1/callback?error=access_denied&state=s3cr3t-state",
            state
        ),
        Ok(Some(_))
    ));
}

#[test]
fn pasted_lines_longer_than_64_kib_are_ignored_whole() {
    let long = "x".repeat(200 * 1024);
    let input = format!("first\n\n{long}\nhttp://127.0.0.1/callback?code=c\nlast");
    let mut lines = Vec::new();
    read_pasted_lines(input.as_bytes(), |line| {
        lines.push(line);
        true
    });
    assert_eq!(
        lines,
        ["first", "", "http://127.0.0.1/callback?code=c", "last"]
    );
}

/// One GET of `target` on `port`: the whole response (empty when the
/// listener closed the connection without one).
async fn get(port: u16, target: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    response
}

#[tokio::test]
async fn the_loopback_listener_takes_only_this_flows_redirect() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let waiting = tokio::spawn(wait_for_redirect(Some(listener), "the-state", None));
    // Another path: no answer; another flow's state: refused, waiting on.
    assert_eq!(get(port, "/other?code=c&state=the-state").await, "");
    let forged = get(port, "/callback?code=c&state=forged").await;
    assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
    assert!(!waiting.is_finished());
    let taken = get(port, "/callback?code=c&state=the-state").await;
    assert!(taken.starts_with("HTTP/1.1 200"), "{taken}");
    assert_eq!(
        waiting.await.unwrap().as_deref(),
        Ok("http://127.0.0.1/callback?code=c&state=the-state")
    );
}
