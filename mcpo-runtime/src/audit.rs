//! One JSON line per tool call: who called what, and how it ended.
//!
//! ```text
//! {"time":"2026-12-06T16:48:34.123Z","caller":"key:1a2b3c4d","via":"api-key","server":"time","kind":"tool","name":"get_time","status":200,"duration_ms":12.345,"request_id":"…","trace_id":"…","arguments":{…}}
//! ```
//!
//! `server`, `request_id`, `trace_id` and `arguments` are omitted when they
//! have no value. An entry has no field for headers or tokens, so no secret
//! can reach the log.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Where the audit lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuditTarget {
    Stderr,
    File(PathBuf),
}

/// A flag's value: `-` is standard error, anything else a file path.
pub(crate) fn parse_target(text: &str) -> AuditTarget {
    if text == "-" {
        AuditTarget::Stderr
    } else {
        AuditTarget::File(PathBuf::from(text))
    }
}

/// The audit log, shared by clones.
///
/// The file is opened in append mode and every line is written unbuffered,
/// whole, with one `write_all` under a lock: lines never interleave and a
/// crash loses nothing already recorded. Rotation is left to the platform:
/// logrotate's `copytruncate` works, because appending writes land at the
/// end of the truncated file rather than at the old offset.
#[derive(Clone)]
pub(crate) struct AuditLog {
    sink: Arc<Sink>,
}

struct Sink {
    out: Mutex<Box<dyn Write + Send>>,
    /// For the warning: the path, or "standard error".
    name: String,
    /// Set by a failed write, cleared by a good one: one warning per run of
    /// failures, not one per lost line.
    failing: AtomicBool,
}

/// One call, as the audit log records it.
pub(crate) struct AuditEntry<'a> {
    /// Already a safe name: a subject, `key:1a2b3c4d` or `anonymous`.
    pub caller: &'a str,
    /// How the caller was identified: `api-key`, `jwt`, `openwebui`, `none`, `mcp`...
    pub via: &'a str,
    /// Empty for a single-server proxy, and then omitted.
    pub server: &'a str,
    /// `tool`, `resource`, `prompt` or `task`.
    pub kind: &'a str,
    /// The tool or prompt name, or the resource URI.
    pub name: &'a str,
    pub status: u16,
    pub duration: Duration,
    pub request_id: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    /// Only given with `--audit-arguments`.
    pub arguments: Option<&'a serde_json::Value>,
}

/// The line's keys, in this order.
#[derive(Serialize)]
struct Line<'a> {
    time: String,
    caller: &'a str,
    via: &'a str,
    #[serde(skip_serializing_if = "is_empty")]
    server: &'a str,
    kind: &'a str,
    name: &'a str,
    status: u16,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a serde_json::Value>,
}

fn is_empty(text: &&str) -> bool {
    text.is_empty()
}

impl AuditLog {
    /// Opens the file for appending, creating it if needed.
    pub(crate) fn open(target: &AuditTarget) -> Result<Self, String> {
        let (out, name): (Box<dyn Write + Send>, String) = match target {
            AuditTarget::Stderr => (Box::new(std::io::stderr()), "standard error".to_owned()),
            AuditTarget::File(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|err| {
                        format!(
                            "cannot open the audit log {}: {err}. Create its directory and make \
                             it writable, or give - to write the audit log to standard error",
                            path.display()
                        )
                    })?;
                (Box::new(file), path.display().to_string())
            }
        };
        Ok(AuditLog {
            sink: Arc::new(Sink {
                out: Mutex::new(out),
                name,
                failing: AtomicBool::new(false),
            }),
        })
    }

    /// Appends the entry's line; a failed write is warned about, never
    /// returned, so auditing cannot fail a call.
    pub(crate) fn record(&self, entry: &AuditEntry<'_>) {
        let mut line = match serde_json::to_vec(&line_of(entry, SystemTime::now())) {
            Ok(line) => line,
            Err(err) => {
                tracing::warn!("audit log: could not encode an entry: {err}");
                return;
            }
        };
        line.push(b'\n');
        let written = {
            // A panic elsewhere while holding the lock leaves no half state
            // here: every write is a whole line or an error.
            let mut out = self.sink.out.lock().unwrap_or_else(PoisonError::into_inner);
            out.write_all(&line).and_then(|()| out.flush())
        };
        match written {
            Ok(()) => self.sink.failing.store(false, Ordering::Relaxed),
            Err(err) => {
                if !self.sink.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "audit log {}: write failed ({err}); audit lines are lost until a write succeeds",
                        self.sink.name
                    );
                }
            }
        }
    }
}

fn line_of<'a>(entry: &AuditEntry<'a>, now: SystemTime) -> Line<'a> {
    Line {
        time: rfc3339_millis(now),
        caller: entry.caller,
        via: entry.via,
        server: entry.server,
        kind: entry.kind,
        name: entry.name,
        status: entry.status,
        // Microsecond precision, so 12.345 reads as such rather than 12.345678901.
        duration_ms: entry.duration.as_micros() as f64 / 1000.0,
        request_id: entry.request_id,
        trace_id: entry.trace_id,
        arguments: entry.arguments,
    }
}

/// `2026-12-06T16:48:34.123Z`; a clock before 1970 reads as the epoch.
pub(crate) fn rfc3339_millis(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day):
/// Howard Hinnant's `civil_from_days`, for days on or after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Counted from 0000-03-01, so the leap day ends each 400-year era's years.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_based_month + 2) / 5 + 1;
    let month = if march_based_month < 10 {
        march_based_month + 3
    } else {
        march_based_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
