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
