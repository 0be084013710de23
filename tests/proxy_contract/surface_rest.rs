//! Issue 28 over REST: a server's resources, resource templates and prompts
//! as `mcpo-gen serve` answers them (no crate built), against the fixture
//! server's `--resources` surface (tests/fixture-server/README.md) and the
//! real server-everything; the bytes-or-JSON rule of reads and tool results;
//! and the review (`mcpo-gen diff`) of a surface that changed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::sync::OnceLock;
use std::time::Duration;

use mcpo_gen_e2e::*;
use serde_json::{Value, json};

use super::{
    KEY, fixture_server, http_client, keys, only_prompt_text, only_read_text, resources_upstream,
    servers_config,
};

/// Every resource the fixture lists with `--resources` (three notes), in
/// the lock's order (by URI).
const FIXTURE_URIS: [&str; 6] = [
    "blob://big",
    "blob://pixel.png",
    "text://hello",
    "text://notes/1",
    "text://notes/2",
    "text://notes/3",
];

/// What the lock says a read of a URI it does not offer is (the proxy's own
/// 404, as opposed to an upstream's "resource not found").
const NOT_OFFERED: &str = "is neither a locked resource nor a match of a locked resource template";

/// `args` as the `&str`s the harness's helpers take.
fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `mcpo-gen serve FLAGS UPSTREAM` (a snapshot taken at start), connected.
fn serve(flags: &[&str], upstream: &[String]) -> Running {
    Launch::serve().args(flags).args(upstream).start_ready()
}

/// `-- node server-everything stdio`.
fn everything_upstream() -> Vec<String> {
    vec![
        "--".to_string(),
        "node".to_string(),
        node_server("server-everything").display().to_string(),
        "stdio".to_string(),
    ]
}

/// An HTTP answer with its body as bytes (a read may answer raw bytes).
struct Answer {
    status: u16,
    content_type: String,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    /// The body as text (its first 600 bytes), which a failed assertion shows.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = &self.bytes[..self.bytes.len().min(600)];
        write!(
            formatter,
            "{} {:?} ({} bytes) {}",
            self.status,
            self.content_type,
            self.bytes.len(),
            String::from_utf8_lossy(shown)
        )
    }
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {} {:?} {}",
                self.status,
                self.content_type,
                String::from_utf8_lossy(&self.bytes[..self.bytes.len().min(300)])
            )
        })
    }

    fn detail(&self) -> String {
        let body = self.json();
        match &body["detail"] {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    /// A JSON answer's `(status, body)`, for one assertion on both.
    fn pair(&self) -> (u16, Value) {
        (self.status, self.json())
    }
}

fn client() -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| http_client(Duration::from_secs(120)))
}

fn answer(response: reqwest::blocking::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = header_text(response.headers(), "content-type");
    let bytes = response.bytes().expect("the whole body").to_vec();
    Answer {
        status,
        content_type,
        bytes,
    }
}

/// GET `path` with `query` (form-encoded, as Open WebUI sends it) and
/// `headers`. reqwest sends `Accept: */*` unless told otherwise; see
/// [`raw_request`] for a request without any.
fn get_with(
    proxy: &Running,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Answer {
    let mut url = proxy.url(path);
    if !query.is_empty() {
        url.push('?');
        url.push_str(&form_encoded(query));
    }
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send().expect("the proxy answers"))
}

/// `pairs` as a query string the way Open WebUI's Python `urlencode`
/// writes one: space as `+`, everything but `A-Za-z0-9_.-~` percent-encoded.
fn form_encoded(pairs: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b' ' => "+".to_string(),
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    char::from(byte).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn get_q(proxy: &Running, path: &str, query: &[(&str, &str)]) -> Answer {
    get_with(proxy, path, query, &[])
}

/// POST `body` as JSON (or as `headers` say) to `path`.
fn post_with(proxy: &Running, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = client().post(proxy.url(path)).body(body.to_string());
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
    {
        request = request.header("content-type", "application/json");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.send().expect("the proxy answers"))
}

fn post(proxy: &Running, path: &str, body: &Value) -> Answer {
    post_with(proxy, path, &body.to_string(), &[])
}

/// One HTTP/1.1 request written by hand, with no header but `Host`,
/// `Connection: close` and a body's length: what a client that sends
/// neither `Accept` nor `Content-Type` (a script) sends.
fn raw_request(proxy: &Running, method: &str, target: &str, body: Option<&str>) -> Answer {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect to the proxy");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("a read timeout");
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
        proxy.port
    );
    if let Some(body) = body {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    stream.write_all(head.as_bytes()).expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the answer");
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    let header = |name: &str| {
        head.lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_string())
            .unwrap_or_default()
    };
    if header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        body = dechunk(&body);
    }
    Answer {
        status,
        content_type: header("content-type"),
        bytes: body,
    }
}

/// A chunked HTTP/1.1 body's data.
fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut data = Vec::new();
    loop {
        let line_end = chunked
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("a chunk size line");
        let size_text = String::from_utf8_lossy(&chunked[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("a hexadecimal chunk size");
        chunked = &chunked[line_end + 2..];
        if size == 0 {
            return data;
        }
        data.extend_from_slice(&chunked[..size]);
        chunked = &chunked[size + 2..];
    }
}

/// Standard base64 with padding (what MCP's `blob` and `data` hold).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let value = group.iter().enumerate().fold(0u32, |value, (index, byte)| {
            value | (u32::from(*byte) << (16 - 8 * index))
        });
        for index in 0..4 {
            if index <= group.len() {
                text.push(ALPHABET[(value >> (18 - 6 * index)) as usize & 63] as char);
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// The one text content of a 200 read, which must be the only content.
#[track_caller]
fn read_text(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{answer:?}");
    only_read_text(&answer.json())
}

/// The text of a 200 prompt result's only message.
#[track_caller]
fn prompt_text(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{answer:?}");
    only_prompt_text(&answer.json())
}

/// A 422 whose issues are at exactly `locs`.
#[track_caller]
fn assert_422_at(answer: &Answer, locs: &[Value]) {
    assert_eq!(answer.status, 422, "{answer:?}");
    assert_eq!(detail_locs(&answer.json()), locs, "{answer:?}");
}

/// `text://hello` still reads: the proxy keeps serving after what came before.
#[track_caller]
fn assert_still_serves(proxy: &Running, headers: &[(&str, &str)]) {
    let hello = get_with(
        proxy,
        "/resources/read",
        &[("uri", "text://hello")],
        headers,
    );
    assert_eq!(read_text(&hello), "Hello, resources!");
}

/// The lists of all three kinds, merged across the fixture's pages of two,
/// are the locked ones; a listed text resource reads as its JSON contents.
#[test]
fn resources_templates_and_prompts_are_listed_from_every_page_and_read() {
    let proxy = serve(&[], &resources_upstream(&["--page-size", "2"]));

    let resources = get_q(&proxy, "/resources", &[]);
    assert_eq!(resources.status, 200, "{resources:?}");
    let resources = resources.json();
    assert_eq!(keys(&resources["resources"], "uri"), FIXTURE_URIS);
    let pixel = &resources["resources"][1];
    assert_eq!(
        (&pixel["name"], &pixel["mimeType"], &pixel["size"]),
        (&json!("pixel.png"), &json!("image/png"), &json!(70)),
        "{pixel}"
    );
    assert_eq!(resources["resources"][0]["size"], json!(10_485_760));

    let templates = get_q(&proxy, "/resources/templates", &[]);
    assert_eq!(templates.status, 200, "{templates:?}");
    let templates = templates.json();
    assert_eq!(
        keys(&templates["resourceTemplates"], "name"),
        ["note", "repo"]
    );
    assert_eq!(
        keys(&templates["resourceTemplates"], "uriTemplate"),
        [
            "text://notes/{id}",
            "repo://{owner}/{repo}/blob/{+path}{?ref}"
        ]
    );

    let prompts = get_q(&proxy, "/prompts", &[]);
    assert_eq!(prompts.status, 200, "{prompts:?}");
    let prompts = prompts.json();
    assert_eq!(
        keys(&prompts["prompts"], "name"),
        ["code_review", "greet", "no_args"]
    );
    let greet = &prompts["prompts"][1];
    assert_eq!(
        greet["arguments"],
        json!([
            {"name": "name", "description": "Who to greet.", "required": true},
            {"name": "style", "description": "How to greet: formal, friendly or funny.", "required": false}
        ]),
        "{greet}"
    );
    assert!(
        prompts["prompts"][2].get("arguments").is_none(),
        "{prompts}"
    );

    let hello = get_q(&proxy, "/resources/read", &[("uri", "text://hello")]);
    assert_eq!(
        hello.pair(),
        (
            200,
            json!({"contents": [{"uri": "text://hello", "mimeType": "text/plain", "text": "Hello, resources!"}]})
        )
    );
    assert!(
        hello.content_type.starts_with("application/json"),
        "{hello:?}"
    );
    // A listed URI that a template matches too is read as listed.
    let note = get_q(&proxy, "/resources/read", &[("uri", "text://notes/2")]);
    assert_eq!(read_text(&note), "note 2");
}

/// A blob read is JSON (its base64) for a caller without `Accept`, with
/// `*/*` or preferring JSON, and its decoded bytes, typed, for one that
/// asks for its type.
#[test]
fn a_blob_read_is_json_unless_the_caller_asks_for_its_type() {
    let proxy = serve(&[], &resources_upstream(&[]));
    let pixel = [("uri", "blob://pixel.png")];

    let no_accept = raw_request(
        &proxy,
        "GET",
        "/resources/read?uri=blob%3A%2F%2Fpixel.png",
        None,
    );
    assert_eq!(no_accept.status, 200, "{no_accept:?}");
    assert!(
        no_accept.content_type.starts_with("application/json"),
        "{no_accept:?}"
    );
    let json_form = no_accept.json();
    let content = &json_form["contents"][0];
    assert_eq!(
        (
            json_form["contents"].as_array().map(Vec::len),
            &content["uri"],
            &content["mimeType"]
        ),
        (Some(1), &json!("blob://pixel.png"), &json!("image/png")),
        "{json_form}"
    );
    let blob = content["blob"].as_str().expect("a base64 blob").to_string();

    for accept in [
        "*/*",
        "application/json",
        "image/png;q=0.5, application/json",
        "text/*",
        "image/png;q=0",
    ] {
        let answer = get_with(&proxy, "/resources/read", &pixel, &[("accept", accept)]);
        assert_eq!(answer.pair(), (200, json_form.clone()), "Accept: {accept}");
    }

    for accept in ["image/png", "image/*", "image/png, application/json;q=0.9"] {
        let bytes = get_with(&proxy, "/resources/read", &pixel, &[("accept", accept)]);
        assert_eq!(bytes.status, 200, "Accept: {accept}: {bytes:?}");
        assert_eq!(bytes.content_type, "image/png", "Accept: {accept}");
        assert_eq!(bytes.bytes.len(), 70, "Accept: {accept}");
        assert!(bytes.bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{bytes:?}");
        assert_eq!(base64(&bytes.bytes), blob, "the bytes are the blob's");
    }

    // A text content has no bytes form: JSON whatever is asked for.
    let hello = get_with(
        &proxy,
        "/resources/read",
        &[("uri", "text://hello")],
        &[("accept", "text/plain")],
    );
    assert_eq!(read_text(&hello), "Hello, resources!");
}

/// The 10 MiB `blob://big` as bytes (every byte checked), then the proxy
/// still serves.
#[test]
fn a_ten_mib_blob_is_answered_as_its_bytes_and_the_proxy_still_serves() {
    let proxy = serve(&[], &resources_upstream(&[]));
    let big = get_with(
        &proxy,
        "/resources/read",
        &[("uri", "blob://big")],
        &[("accept", "application/octet-stream")],
    );
    assert_eq!(
        (big.status, big.content_type.as_str()),
        (200, "application/octet-stream"),
        "{}",
        String::from_utf8_lossy(&big.bytes[..big.bytes.len().min(300)])
    );
    assert_eq!(big.bytes.len(), 10 * 1024 * 1024);
    if let Some(wrong) = big
        .bytes
        .iter()
        .enumerate()
        .find(|(index, byte)| usize::from(**byte) != index % 251)
    {
        panic!("byte {} is {}, not {}", wrong.0, wrong.1, wrong.0 % 251);
    }
    assert_still_serves(&proxy, &[]);
    let pixel = get_with(
        &proxy,
        "/resources/read",
        &[("uri", "blob://pixel.png")],
        &[("accept", "image/png")],
    );
    assert_eq!((pixel.status, pixel.bytes.len()), (200, 70), "{pixel:?}");
}

/// A template's route takes each variable as a query parameter, expands
/// the template (RFC 6570) and reads the URI: the fixture echoes what it
/// bound, so the echo shows each value arrived whole.
#[test]
fn template_routes_expand_their_variables_and_check_the_query() {
    let proxy = serve(&[], &resources_upstream(&[]));
    let repo = |query: &[(&str, &str)]| get_q(&proxy, "/resources/templates/repo", query);

    let read = repo(&[
        ("owner", "a"),
        ("repo", "b"),
        ("path", "src/x.rs"),
        ("ref", "main"),
    ]);
    assert_eq!(
        read.pair(),
        (
            200,
            json!({"contents": [{
                "uri": "repo://a/b/blob/src/x.rs?ref=main",
                "mimeType": "text/plain",
                "text": "owner=a repo=b path=src/x.rs ref=main"
            }]})
        )
    );
    // The optional `{?ref}` left out.
    let read = repo(&[("owner", "a"), ("repo", "b"), ("path", "README.md")]);
    assert_eq!(read_text(&read), "owner=a repo=b path=README.md");
    // Reserved characters (kept by `{+path}`), a space and non-ASCII text
    // (percent-encoded), and a `/`, `&` and space in the query variable.
    let path = "dir with space/a:b@c!$'()*,;=&+[x]/é.rs";
    let read = repo(&[
        ("owner", "o-1"),
        ("repo", "r.2"),
        ("path", path),
        ("ref", "feat/x y&z"),
    ]);
    assert_eq!(
        read_text(&read),
        format!("owner=o-1 repo=r.2 path={path} ref=feat/x y&z")
    );
    assert_eq!(
        read.json()["contents"][0]["uri"],
        json!(
            "repo://o-1/r.2/blob/dir%20with%20space/a:b@c!$'()*,;=&+[x]/%C3%A9.rs?ref=feat%2Fx%20y%26z"
        )
    );
    // A simple variable encodes its `/`.
    let note = get_q(&proxy, "/resources/templates/note", &[("id", "a/b")]);
    assert_eq!(read_text(&note), "id=a/b");
    assert_eq!(
        note.json()["contents"][0]["uri"],
        json!("text://notes/a%2Fb")
    );
    let note = get_q(&proxy, "/resources/templates/note", &[("id", "42")]);
    assert_eq!(read_text(&note), "id=42");

    assert_422_at(
        &repo(&[("owner", "a"), ("path", "x")]),
        &[json!(["query", "repo"])],
    );
    assert_422_at(
        &get_q(&proxy, "/resources/templates/note", &[]),
        &[json!(["query", "id"])],
    );
    assert_422_at(
        &repo(&[("owner", "a"), ("repo", "b"), ("path", "x"), ("bogus", "1")]),
        &[json!(["query", "bogus"])],
    );
    assert_422_at(
        &repo(&[("owner", "a"), ("owner", "z"), ("repo", "b"), ("path", "x")]),
        &[json!(["query", "owner"])],
    );
    let unknown = get_q(&proxy, "/resources/templates/nope", &[("id", "1")]);
    assert_eq!(unknown.status, 404, "{unknown:?}");

    let read = repo(&[("owner", "a"), ("repo", "b"), ("path", "after/errors")]);
    assert_eq!(read_text(&read), "owner=a repo=b path=after/errors");
}

/// `GET /resources/read` reads only what the lock offers: any other URI is
/// the proxy's own 404, never forwarded (an upstream's not-found has
/// another detail), even one the upstream would answer.
#[test]
fn a_uri_the_lock_does_not_offer_is_refused_without_asking_the_upstream() {
    let proxy = serve(&[], &resources_upstream(&[]));
    for uri in [
        "file:///etc/passwd",
        "text://notes/1/../../x",
        "text://notes/1/2",
        "TEXT://hello",
        "text://hello/",
        "blob://pixel.png?x=1",
        "repo://a/b/tree/x",
        "",
    ] {
        let refused = get_q(&proxy, "/resources/read", &[("uri", uri)]);
        assert_eq!(refused.status, 404, "{uri:?}: {refused:?}");
        assert!(
            refused.detail().contains(NOT_OFFERED),
            "{uri:?}: {refused:?}"
        );
    }
    // A URI a locked template matches is forwarded (the proxy's matcher is
    // lenient about encodings and query parameters on purpose, see
    // `UriTemplate::matches`; the fixture's is strict), and the upstream's
    // own "resource not found" (-32002) is a 404 too, not a 502.
    let upstream_not_found = get_q(
        &proxy,
        "/resources/read",
        &[("uri", "repo://a/b/blob/x?bogus=1")],
    );
    assert_eq!(upstream_not_found.status, 404, "{upstream_not_found:?}");
    assert!(
        upstream_not_found
            .detail()
            .contains("upstream MCP server has no such resource"),
        "{upstream_not_found:?}"
    );
    // A template match reads through /resources/read too.
    let matched = get_q(
        &proxy,
        "/resources/read",
        &[("uri", "repo://a/b/blob/src/x.rs?ref=main")],
    );
    assert_eq!(read_text(&matched), "owner=a repo=b path=src/x.rs ref=main");

    assert_422_at(
        &get_q(&proxy, "/resources/read", &[]),
        &[json!(["query", "uri"])],
    );
    assert_422_at(
        &get_q(
            &proxy,
            "/resources/read",
            &[("uri", "text://hello"), ("mime", "text/plain")],
        ),
        &[json!(["query", "mime"])],
    );
    // A URI over 8 KiB is refused before any template is matched against it,
    // even one a template would match.
    let long_note = format!("text://notes/{}", "9".repeat(9000));
    let too_long = get_q(&proxy, "/resources/read", &[("uri", &long_note)]);
    assert_422_at(&too_long, &[json!(["query", "uri"])]);
    assert!(
        too_long.json().to_string().contains("at most 8192 bytes"),
        "{too_long:?}"
    );
    assert_still_serves(&proxy, &[]);
}

/// The lock, not what the server offers today, decides: a proxy of the
/// first surface's lock, started against the second surface, refuses what
/// only the second offers (which a proxy of the second's lock serves).
#[test]
fn the_lock_not_the_live_server_decides_what_is_served() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let first = scratch.path().join("first");
    let first_text = first.to_str().expect("a UTF-8 path");
    generate(&first, &strs(&resources_upstream(&[])));
    let second_upstream = resources_upstream(&["--prompts-v2"]);

    let current = serve(&[], &second_upstream);
    let note = get_q(&current, "/resources/read", &[("uri", "text://notes/1/2")]);
    assert_eq!(read_text(&note), "id=1 rev=2");
    let summary = post(&current, "/prompts/summarize", &json!({"text": "t"}));
    assert_eq!(prompt_text(&summary), "Summarize this text:\n\nt");

    let pinned = serve(
        &["--lock", first_text, "--on-drift", "ignore"],
        &second_upstream,
    );
    let refused = get_q(&pinned, "/resources/read", &[("uri", "text://notes/1/2")]);
    assert_eq!(refused.status, 404, "{refused:?}");
    assert!(refused.detail().contains(NOT_OFFERED), "{refused:?}");
    let refused = post(&pinned, "/prompts/summarize", &json!({"text": "t"}));
    assert_eq!(refused.status, 404, "{refused:?}");
    let listed = get_q(&pinned, "/prompts", &[]).json();
    assert_eq!(
        keys(&listed["prompts"], "name"),
        ["code_review", "greet", "no_args"]
    );
    let templates = get_q(&pinned, "/resources/templates", &[]).json();
    assert_eq!(
        templates["resourceTemplates"][0]["uriTemplate"],
        json!("text://notes/{id}")
    );
}

/// `POST /prompts/{name}`: the locked arguments, strings, required ones
/// present, no others; the body rules of every JSON route (415, 413, 422).
#[test]
fn prompts_take_exactly_their_locked_string_arguments() {
    let proxy = serve(&["--max-body-bytes", "1024"], &resources_upstream(&[]));

    let greeted = post(&proxy, "/prompts/greet", &json!({"name": "Ada"}));
    assert_eq!(
        greeted.pair(),
        (
            200,
            json!({
                "description": "Greets someone by name.",
                "messages": [{"role": "user", "content": {"type": "text", "text": "Hello Ada"}}]
            })
        )
    );
    let styled = post(
        &proxy,
        "/prompts/greet",
        &json!({"name": "Ada", "style": "formal"}),
    );
    assert_eq!(prompt_text(&styled), "Hello Ada in formal style");
    let review = post(
        &proxy,
        "/prompts/code_review",
        &json!({"code": "x = 1", "language": "python"}),
    );
    assert_eq!(
        prompt_text(&review),
        "Please review this python code:\n\nx = 1"
    );
    let fixed = post(&proxy, "/prompts/no_args", &json!({}));
    assert_eq!(fixed.status, 200, "{fixed:?}");
    assert_eq!(fixed.json()["messages"][0]["role"], json!("assistant"));

    assert_422_at(
        &post(&proxy, "/prompts/greet", &json!({"style": "formal"})),
        &[json!(["body", "name"])],
    );
    assert_422_at(
        &post(&proxy, "/prompts/greet", &json!({"name": 3})),
        &[json!(["body", "name"])],
    );
    assert_eq!(
        post(&proxy, "/prompts/greet", &json!({"name": 3})).json()["detail"][0]["type"],
        json!("string_type")
    );
    let extra = post(
        &proxy,
        "/prompts/greet",
        &json!({"name": "Ada", "mood": "x"}),
    );
    assert_422_at(&extra, &[json!(["body", "mood"])]);
    assert_eq!(extra.json()["detail"][0]["type"], json!("extra_forbidden"));
    assert_422_at(
        &post(&proxy, "/prompts/no_args", &json!({"x": "y"})),
        &[json!(["body", "x"])],
    );
    assert_eq!(post(&proxy, "/prompts/greet", &json!(["Ada"])).status, 422);
    assert_eq!(
        post_with(&proxy, "/prompts/greet", "{\"name\": ", &[]).status,
        422
    );
    let unknown = post(&proxy, "/prompts/nope", &json!({"name": "Ada"}));
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let form = post_with(
        &proxy,
        "/prompts/greet",
        r#"{"name": "Ada"}"#,
        &[("content-type", "text/plain")],
    );
    assert_eq!(form.status, 415, "{form:?}");
    let large = json!({"name": "x".repeat(2000)}).to_string();
    let too_large = post_with(&proxy, "/prompts/greet", &large, &[]);
    assert_eq!(too_large.status, 413, "{too_large:?}");
    let too_large = post_with(&proxy, "/prompts/greet/complete", &large, &[]);
    assert_eq!(too_large.status, 413, "{too_large:?}");

    // A body without a content type is taken as JSON (as a tool's is).
    let untyped = raw_request(&proxy, "POST", "/prompts/greet", Some(r#"{"name":"Bo"}"#));
    assert_eq!(prompt_text(&untyped), "Hello Bo");
    let again = post(&proxy, "/prompts/greet", &json!({"name": "Ada"}));
    assert_eq!(again.pair(), greeted.pair(), "the proxy keeps serving");
}

/// `POST .../complete` forwards completion of a locked prompt's argument
/// or a locked template's variable; other names are refused here.
#[test]
fn completions_of_prompt_arguments_and_template_variables() {
    let scratch = tempfile::tempdir().unwrap();
    let audit_log = scratch.path().join("audit.log");
    let proxy = serve(
        &["--audit-log", audit_log.to_str().unwrap()],
        &resources_upstream(&[]),
    );
    let style = post(
        &proxy,
        "/prompts/greet/complete",
        &json!({"argument": "style", "value": "f"}),
    );
    assert_eq!(
        style.pair(),
        (
            200,
            json!({"values": ["formal", "friendly", "funny"], "total": 3, "hasMore": false})
        )
    );
    let narrowed = post(
        &proxy,
        "/prompts/greet/complete",
        &json!({"argument": "style", "value": "fr"}),
    );
    assert_eq!(narrowed.json()["values"], json!(["friendly"]));
    let owner = post(
        &proxy,
        "/resources/templates/repo/complete",
        &json!({"argument": "owner", "value": "mo", "context": {"arguments": {"repo": "x"}}}),
    );
    assert_eq!(
        owner.pair(),
        (
            200,
            json!({"values": ["modelcontextprotocol", "mozilla"], "total": 2, "hasMore": false})
        )
    );
    // A known argument the server offers nothing for.
    let nothing = post(
        &proxy,
        "/prompts/greet/complete",
        &json!({"argument": "name", "value": "A"}),
    );
    assert_eq!(
        (nothing.status, &nothing.json()["values"]),
        (200, &json!([]))
    );

    assert_422_at(
        &post(
            &proxy,
            "/prompts/greet/complete",
            &json!({"argument": "mood", "value": "f"}),
        ),
        &[json!(["body", "argument"])],
    );
    assert_422_at(
        &post(
            &proxy,
            "/resources/templates/repo/complete",
            &json!({"argument": "branch", "value": "m"}),
        ),
        &[json!(["body", "argument"])],
    );
    let stray = post(
        &proxy,
        "/prompts/greet/complete",
        &json!({"argument": "style", "value": "f", "extra": 1}),
    );
    assert_eq!(stray.status, 422, "{stray:?}");
    let no_argument = post(&proxy, "/prompts/greet/complete", &json!({"value": "f"}));
    assert_eq!(no_argument.status, 422, "{no_argument:?}");
    for path in [
        "/prompts/nope/complete",
        "/resources/templates/nope/complete",
    ] {
        let unknown = post(&proxy, path, &json!({"argument": "style", "value": "f"}));
        assert_eq!(unknown.status, 404, "{path}: {unknown:?}");
    }
    let form = post_with(
        &proxy,
        "/prompts/greet/complete",
        r#"{"argument": "style"}"#,
        &[("content-type", "text/plain")],
    );
    assert_eq!(form.status, 415, "{form:?}");

    let again = post(
        &proxy,
        "/prompts/greet/complete",
        &json!({"argument": "style", "value": "f"}),
    );
    assert_eq!(again.pair(), style.pair(), "the proxy keeps serving");

    // Completions tell values of what they complete: each is in the audit
    // log, named by its prompt or template, with its status.
    let audited: Vec<(String, u64)> = std::fs::read_to_string(&audit_log)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|entry| entry["kind"] == "completion")
        .map(|entry| {
            let name = entry["name"].as_str().unwrap_or_default().to_string();
            (name, entry["status"].as_u64().unwrap_or_default())
        })
        .collect();
    for expected in [("greet", 200), ("greet", 422)] {
        assert!(
            audited
                .iter()
                .any(|(name, status)| (name.as_str(), *status) == expected),
            "{expected:?} in {audited:?}"
        );
    }
    assert!(
        audited
            .iter()
            .any(|(name, status)| name.starts_with("repo://") && *status == 200),
        "{audited:?}"
    );
}

/// With `--api-key`, every resource, template and prompt route wants it.
#[test]
fn every_surface_route_needs_the_api_key() {
    let proxy = serve(&["--api-key", KEY], &resources_upstream(&[]));
    let bearer = format!("Bearer {KEY}");
    type Call<'a> = Box<dyn Fn(&[(&str, &str)]) -> Answer + 'a>;
    let routes: Vec<(&str, Call)> = vec![
        (
            "GET /resources",
            Box::new(|h| get_with(&proxy, "/resources", &[], h)),
        ),
        (
            "GET /resources/read",
            Box::new(|h| get_with(&proxy, "/resources/read", &[("uri", "text://hello")], h)),
        ),
        (
            "GET /resources/templates",
            Box::new(|h| get_with(&proxy, "/resources/templates", &[], h)),
        ),
        (
            "GET /resources/templates/note",
            Box::new(|h| get_with(&proxy, "/resources/templates/note", &[("id", "1")], h)),
        ),
        (
            "POST /resources/templates/repo/complete",
            Box::new(|h| {
                post_with(
                    &proxy,
                    "/resources/templates/repo/complete",
                    r#"{"argument": "owner", "value": "m"}"#,
                    h,
                )
            }),
        ),
        (
            "GET /prompts",
            Box::new(|h| get_with(&proxy, "/prompts", &[], h)),
        ),
        (
            "POST /prompts/greet",
            Box::new(|h| post_with(&proxy, "/prompts/greet", r#"{"name": "Ada"}"#, h)),
        ),
        (
            "POST /prompts/greet/complete",
            Box::new(|h| {
                post_with(
                    &proxy,
                    "/prompts/greet/complete",
                    r#"{"argument": "style", "value": "f"}"#,
                    h,
                )
            }),
        ),
    ];
    for (route, send) in &routes {
        let without = send(&[]);
        assert_eq!(without.status, 401, "{route} without the key: {without:?}");
        let wrong = send(&[("authorization", "Bearer not-the-key")]);
        assert_eq!(wrong.status, 401, "{route} with a wrong key: {wrong:?}");
        let with = send(&[("authorization", bearer.as_str())]);
        assert_eq!(with.status, 200, "{route} with the key: {with:?}");
        assert!(with.json().is_object(), "{route}: {with:?}");
    }
    assert_still_serves(&proxy, &[("authorization", bearer.as_str())]);
}

/// A multi-server proxy: each server's surface under its prefix, and no
/// surface route for a server that has none.
#[test]
fn a_multi_server_proxy_serves_each_surface_under_its_server() {
    let (_scratch, config) = servers_config(json!({
        "notes": fixture_server(&["--resources", "--resource-count", "1"]),
        "edge": fixture_server(&["--tools", &tool_file("edge.json")]),
    }));
    let proxy = Launch::serve().args(&["--config", &config]).start();
    for name in ["notes", "edge"] {
        let readyz = proxy.url(&format!("/{name}/readyz"));
        assert!(
            wait_for_status(&readyz, 200, Duration::from_secs(60)),
            "{readyz}"
        );
    }
    let listed = get_q(&proxy, "/notes/resources", &[]);
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(
        keys(&listed.json()["resources"], "uri"),
        [
            "blob://big",
            "blob://pixel.png",
            "text://hello",
            "text://notes/1"
        ]
    );
    let note = get_q(&proxy, "/notes/resources/templates/note", &[("id", "9")]);
    assert_eq!(read_text(&note), "id=9");
    let greeted = post(&proxy, "/notes/prompts/greet", &json!({"name": "Ada"}));
    assert_eq!(prompt_text(&greeted), "Hello Ada");
    for path in ["/edge/resources", "/edge/prompts", "/resources", "/prompts"] {
        assert_eq!(get_q(&proxy, path, &[]).status, 404, "{path}");
    }
    let refused = post(&proxy, "/edge/prompts/greet", &json!({"name": "Ada"}));
    assert_eq!(refused.status, 404, "{refused:?}");
}

/// server-everything's surface through the proxy: its 7 static documents,
/// a dynamic template read, a prompt with arguments and completion.
#[test]
fn server_everything_resources_templates_and_prompts() {
    let proxy = serve(&[], &everything_upstream());

    let listed = get_q(&proxy, "/resources", &[]);
    assert_eq!(listed.status, 200, "{listed:?}");
    let expected: Vec<String> = [
        "architecture.md",
        "extension.md",
        "features.md",
        "how-it-works.md",
        "instructions.md",
        "startup.md",
        "structure.md",
    ]
    .iter()
    .map(|name| format!("demo://resource/static/document/{name}"))
    .collect();
    assert_eq!(keys(&listed.json()["resources"], "uri"), expected);
    let document = get_q(
        &proxy,
        "/resources/read",
        &[("uri", "demo://resource/static/document/architecture.md")],
    );
    assert!(
        read_text(&document).starts_with("# Everything Server"),
        "{document:?}"
    );
    assert_eq!(
        document.json()["contents"][0]["mimeType"],
        json!("text/markdown")
    );

    let templates = get_q(&proxy, "/resources/templates", &[]).json();
    assert_eq!(
        keys(&templates["resourceTemplates"], "name"),
        ["Dynamic Blob Resource", "Dynamic Text Resource"]
    );
    let dynamic = get_q(
        &proxy,
        "/resources/templates/Dynamic%20Text%20Resource",
        &[("resourceId", "3")],
    );
    assert!(
        read_text(&dynamic).starts_with("Resource 3: "),
        "{dynamic:?}"
    );
    assert_eq!(
        dynamic.json()["contents"][0]["uri"],
        json!("demo://resource/dynamic/text/3")
    );
    assert_422_at(
        &get_q(
            &proxy,
            "/resources/templates/Dynamic%20Text%20Resource",
            &[],
        ),
        &[json!(["query", "resourceId"])],
    );
    let by_uri = get_q(
        &proxy,
        "/resources/read",
        &[("uri", "demo://resource/dynamic/text/7")],
    );
    assert!(read_text(&by_uri).starts_with("Resource 7: "), "{by_uri:?}");

    let prompts = get_q(&proxy, "/prompts", &[]).json();
    assert_eq!(
        keys(&prompts["prompts"], "name"),
        [
            "args-prompt",
            "completable-prompt",
            "resource-prompt",
            "simple-prompt"
        ]
    );
    let weather = post(&proxy, "/prompts/args-prompt", &json!({"city": "Paris"}));
    assert_eq!(prompt_text(&weather), "What's weather in Paris?");
    let weather = post(
        &proxy,
        "/prompts/args-prompt",
        &json!({"city": "Paris", "state": "TX"}),
    );
    assert_eq!(prompt_text(&weather), "What's weather in Paris, TX?");
    assert_422_at(
        &post(&proxy, "/prompts/args-prompt", &json!({"state": "TX"})),
        &[json!(["body", "city"])],
    );

    let departments = post(
        &proxy,
        "/prompts/completable-prompt/complete",
        &json!({"argument": "department", "value": "S"}),
    );
    assert_eq!(departments.status, 200, "{departments:?}");
    assert_eq!(departments.json()["values"], json!(["Sales", "Support"]));
    let members = post(
        &proxy,
        "/prompts/completable-prompt/complete",
        &json!({"argument": "name", "value": "", "context": {"arguments": {"department": "Engineering"}}}),
    );
    assert_eq!(members.json()["values"], json!(["Alice", "Bob", "Charlie"]));
    let ids = post(
        &proxy,
        "/resources/templates/Dynamic%20Text%20Resource/complete",
        &json!({"argument": "resourceId", "value": "7"}),
    );
    assert_eq!(ids.json()["values"], json!(["7"]), "{ids:?}");
}

/// The bytes rule for tool results (the fixture's errors.json): one image
/// or audio block is JSON (mcpo's data URL) by default and its bytes for a
/// caller that asks for its type; several blocks are always JSON. A server
/// without resources or prompts has none of their routes.
#[test]
fn a_tool_result_of_one_binary_block_is_its_bytes_when_asked_for() {
    let proxy = serve(&[], &fixture_upstream("errors.json"));
    let tools: Value = serde_json::from_str(
        &std::fs::read_to_string(tool_file("errors.json")).expect("errors.json"),
    )
    .expect("errors.json is JSON");
    let block = |tool: &str| tools["behaviors"][tool]["blocks"][0].clone();
    let image = block("returns_image");
    let audio = block("returns_audio");
    let data_url = |block: &Value| {
        json!(format!(
            "data:{};base64,{}",
            block["mimeType"].as_str().expect("a type"),
            block["data"].as_str().expect("data")
        ))
    };

    let no_accept = raw_request(&proxy, "POST", "/returns_image", Some("{}"));
    assert_eq!(no_accept.pair(), (200, data_url(&image)));
    for accept in ["*/*", "application/json", "audio/*", "image/png;q=0.1, */*"] {
        let answer = post_with(&proxy, "/returns_image", "{}", &[("accept", accept)]);
        assert_eq!(answer.pair(), (200, data_url(&image)), "Accept: {accept}");
    }
    for accept in ["image/png", "image/*"] {
        let bytes = post_with(&proxy, "/returns_image", "{}", &[("accept", accept)]);
        assert_eq!(
            (bytes.status, bytes.content_type.as_str()),
            (200, "image/png"),
            "Accept: {accept}: {bytes:?}"
        );
        assert_eq!(
            json!(base64(&bytes.bytes)),
            image["data"],
            "Accept: {accept}"
        );
    }
    let wav = post_with(&proxy, "/returns_audio", "{}", &[("accept", "audio/wav")]);
    assert_eq!((wav.status, wav.content_type.as_str()), (200, "audio/wav"));
    assert!(wav.bytes.starts_with(b"RIFF"), "{wav:?}");
    assert_eq!(json!(base64(&wav.bytes)), audio["data"]);
    let as_json = post(&proxy, "/returns_audio", &json!({}));
    assert_eq!(as_json.pair(), (200, data_url(&audio)));

    // Several blocks, one of them an image: JSON even for image/png.
    for tool in ["returns_embedded_resource", "returns_many_blocks"] {
        let listed = post_with(
            &proxy,
            &format!("/{tool}"),
            "{}",
            &[("accept", "image/png")],
        );
        assert_eq!(listed.status, 200, "{tool}: {listed:?}");
        assert!(listed.json().is_array(), "{tool}: {listed:?}");
    }

    for path in ["/resources", "/resources/templates", "/prompts"] {
        let absent = get_q(&proxy, path, &[]);
        assert_eq!(absent.status, 404, "{path}: {absent:?}");
    }
    let absent = post(&proxy, "/prompts/greet", &json!({"name": "Ada"}));
    assert_eq!(absent.status, 404, "{absent:?}");
}

/// server-everything's `gzip-file-as-resource` answers one embedded blob
/// resource: its bytes for `Accept: application/gzip`, else JSON. The
/// session resource it registers is not in the lock: not listed, not read.
#[test]
fn an_embedded_blob_tool_result_is_its_bytes_when_asked_for() {
    const HELLO_GZIP: &str = "H4sIAAAAAAAAA8tIzcnJVyjPL8pJ4QIALTsIrwwAAAA=";
    let proxy = serve(&[], &everything_upstream());
    let arguments = |name: &str| {
        json!({"name": name, "data": "data:text/plain;base64,aGVsbG8gd29ybGQK", "outputType": "resource"})
            .to_string()
    };

    let as_json = post_with(
        &proxy,
        "/gzip-file-as-resource",
        &arguments("a.txt.gz"),
        &[],
    );
    assert_eq!(
        as_json.pair(),
        (
            200,
            json!({"uri": "demo://resource/session/a.txt.gz", "mimeType": "application/gzip", "blob": HELLO_GZIP})
        )
    );
    let bytes = post_with(
        &proxy,
        "/gzip-file-as-resource",
        &arguments("b.txt.gz"),
        &[("accept", "application/gzip")],
    );
    assert_eq!(
        (bytes.status, bytes.content_type.as_str()),
        (200, "application/gzip"),
        "{bytes:?}"
    );
    assert!(bytes.bytes.starts_with(&[0x1f, 0x8b]), "{bytes:?}");
    assert_eq!(base64(&bytes.bytes), HELLO_GZIP);

    let listed = get_q(&proxy, "/resources", &[]);
    assert_eq!(
        keys(&listed.json()["resources"], "uri").len(),
        7,
        "{listed:?}"
    );
    let session = get_q(
        &proxy,
        "/resources/read",
        &[("uri", "demo://resource/session/a.txt.gz")],
    );
    assert_eq!(session.status, 404, "{session:?}");
    assert!(session.detail().contains(NOT_OFFERED), "{session:?}");
}

/// `mcpo-gen diff` of the fixture's two surfaces names each change by its
/// rule and item, and exits 1 (breaking changes); a lock against itself
/// has none.
#[test]
fn the_review_classifies_each_surface_change() {
    let scratch = tempfile::tempdir().expect("a temp dir");
    let first = scratch.path().join("first");
    let second = scratch.path().join("second");
    generate(&first, &strs(&resources_upstream(&[])));
    generate(&second, &strs(&resources_upstream(&["--prompts-v2"])));
    let first = first.to_str().expect("a UTF-8 path");
    let second = second.to_str().expect("a UTF-8 path");

    let output = mcpo_gen(&["diff", first, second, "--format", "json"]);
    assert_exit_code(&output, 1);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", output_text(&output)));
    let changes = report["changes"].as_array().expect("a list of changes");
    let found: BTreeSet<(String, String, String, String)> = changes
        .iter()
        .filter(|change| !change["item"].is_null())
        .map(|change| {
            let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
            (
                text(&change["id"]),
                text(&change["level"]),
                text(&change["item"]["kind"]),
                text(&change["item"]["key"]),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, String, String)> = [
        ("prompt-argument-became-required", "ERR", "prompt", "greet"),
        ("prompt-description-changed", "WARN", "prompt", "greet"),
        ("prompt-argument-removed", "ERR", "prompt", "code_review"),
        ("prompt-added", "INFO", "prompt", "summarize"),
        (
            "resource-template-uri-changed",
            "ERR",
            "resource-template",
            "note",
        ),
        (
            "resource-template-variable-changed",
            "ERR",
            "resource-template",
            "note",
        ),
        (
            "resource-mime-type-changed",
            "WARN",
            "resource",
            "text://hello",
        ),
    ]
    .iter()
    .map(|(id, level, kind, key)| {
        (
            id.to_string(),
            level.to_string(),
            kind.to_string(),
            key.to_string(),
        )
    })
    .collect();
    assert_eq!(found, expected, "{report:#}");
    let change = |id: &str| {
        changes
            .iter()
            .find(|change| change["id"] == id)
            .unwrap_or_else(|| panic!("{id}: {report:#}"))
    };
    assert_eq!(
        change("prompt-argument-removed")["old"]["name"],
        json!("language")
    );
    assert_eq!(
        change("prompt-argument-became-required")["pointer"],
        json!("/arguments/1/required")
    );
    assert_eq!(
        (
            &change("resource-mime-type-changed")["old"],
            &change("resource-mime-type-changed")["new"]
        ),
        (&json!("text/plain"), &json!("text/markdown"))
    );
    assert_eq!(
        change("resource-template-variable-changed")["new"],
        json!("rev")
    );
    assert_eq!(report["summary"]["err"], json!(4), "{report:#}");

    // Only additions: the reverse has removals, so also breaking; one
    // side against itself has nothing.
    let reverse = mcpo_gen(&["diff", second, first, "--format", "json"]);
    assert_exit_code(&reverse, 1);
    let reverse: Value = serde_json::from_slice(&reverse.stdout).expect("JSON");
    assert!(
        reverse["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|change| change["id"] == "prompt-removed" && change["item"]["key"] == "summarize"),
        "{reverse:#}"
    );
    let same = mcpo_gen(&["diff", first, first, "--format", "json"]);
    assert_exit_code(&same, 0);
    let same: Value = serde_json::from_slice(&same.stdout).expect("JSON");
    assert_eq!(same["changes"], json!([]), "{same:#}");
}
