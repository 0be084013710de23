use super::*;

fn at(secs: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
}

fn temp_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("mcpo-audit-{name}-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn entry<'a>(arguments: Option<&'a serde_json::Value>) -> AuditEntry<'a> {
    AuditEntry {
        caller: "key:1a2b3c4d",
        via: "api-key",
        server: "",
        kind: "tool",
        name: "get_time",
        status: 200,
        duration: Duration::from_micros(12_345),
        request_id: None,
        trace_id: None,
        arguments,
    }
}

fn keys(line: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(line).unwrap();
    value.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn time_is_rfc3339_utc_with_milliseconds() {
    assert_eq!(rfc3339_millis(at(0, 0)), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        rfc3339_millis(at(1_709_164_800, 0)),
        "2024-02-29T00:00:00.000Z"
    );
    assert_eq!(
        rfc3339_millis(at(1_709_251_199, 999)),
        "2024-02-29T23:59:59.999Z"
    );
    assert_eq!(
        rfc3339_millis(at(1_796_575_714, 123)),
        "2026-12-06T16:48:34.123Z"
    );
    assert_eq!(
        rfc3339_millis(at(946_684_799, 0)),
        "1999-12-31T23:59:59.000Z"
    );
    assert_eq!(
        rfc3339_millis(at(951_868_800, 0)),
        "2000-03-01T00:00:00.000Z"
    );
    assert_eq!(
        rfc3339_millis(UNIX_EPOCH - Duration::from_secs(5)),
        "1970-01-01T00:00:00.000Z"
    );
}

#[test]
fn targets_parse() {
    assert_eq!(parse_target("-"), AuditTarget::Stderr);
    assert_eq!(
        parse_target("audit.log"),
        AuditTarget::File(PathBuf::from("audit.log"))
    );
}

#[test]
fn a_line_has_its_fields_in_order_and_omits_the_empty_ones() {
    let bare = serde_json::to_string(&line_of(&entry(None), at(1_796_575_714, 123))).unwrap();
    assert_eq!(
        bare,
        r#"{"time":"2026-12-06T16:48:34.123Z","caller":"key:1a2b3c4d","via":"api-key","kind":"tool","name":"get_time","status":200,"duration_ms":12.345}"#
    );

    let arguments = serde_json::json!({"timezone": "UTC", "a": 1});
    let full = AuditEntry {
        server: "time",
        request_id: Some("req-1"),
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736"),
        ..entry(Some(&arguments))
    };
    let path = temp_path("order");
    let log = AuditLog::open(&AuditTarget::File(path.clone())).unwrap();
    log.record(&full);
    log.record(&entry(None));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        keys(lines[0]),
        [
            "time",
            "caller",
            "via",
            "server",
            "kind",
            "name",
            "status",
            "duration_ms",
            "request_id",
            "trace_id",
            "arguments"
        ]
    );
    assert!(lines[0].ends_with(r#""arguments":{"timezone":"UTC","a":1}}"#));
    assert_eq!(
        keys(lines[1]),
        [
            "time",
            "caller",
            "via",
            "kind",
            "name",
            "status",
            "duration_ms"
        ]
    );
    assert!(text.ends_with('\n'));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn opening_appends_to_an_existing_file() {
    let path = temp_path("append");
    std::fs::write(&path, "earlier\n").unwrap();
    AuditLog::open(&AuditTarget::File(path.clone()))
        .unwrap()
        .record(&entry(None));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("earlier\n{\"time\":"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn concurrent_records_give_whole_lines() {
    let path = temp_path("concurrent");
    let log = AuditLog::open(&AuditTarget::File(path.clone())).unwrap();
    let arguments = serde_json::json!({"text": "x".repeat(2000)});
    std::thread::scope(|scope| {
        for _ in 0..8 {
            let log = log.clone();
            let arguments = &arguments;
            scope.spawn(move || {
                for _ in 0..200 {
                    log.record(&entry(Some(arguments)));
                }
            });
        }
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1600);
    for line in lines {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["arguments"], arguments);
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn an_unwritable_path_is_an_error_naming_it() {
    let path = std::env::temp_dir()
        .join(format!("mcpo-audit-missing-{}", std::process::id()))
        .join("audit.log");
    let Err(error) = AuditLog::open(&AuditTarget::File(path.clone())) else {
        panic!("opened a file in a missing directory");
    };
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("Create its directory"), "{error}");
}
