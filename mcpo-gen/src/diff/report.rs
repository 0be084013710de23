//! Renders a [`Report`] as terminal text, JSON, a Markdown PR comment or
//! GitHub Actions workflow commands.
//!
//! Tool names, descriptions and enum values come from the upstream server and
//! may be hostile (the point of reviewing descriptions is tool poisoning), so
//! every renderer neutralizes them for its medium: control characters are
//! escaped in text (no terminal escape sequences), Markdown table cells are
//! HTML-escaped with mentions defused, and GitHub command data is
//! percent-escaped so a description can't start a workflow command of its
//! own.

use std::fmt::Write as _;
use std::str::FromStr;

use serde_json::{Value, json};

use super::{Change, Item, Level, RULES, Report, Summary};

/// Output format of [`Report::render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One line per change, grouped by tool, then a summary line. `color`
    /// adds ANSI colors (callers pass "stdout is a terminal").
    Text { color: bool },
    /// `{"changes": [...], "summary": {"err", "warn", "info"}}`, sorted keys.
    Json,
    /// A PR comment body: heading, summary, one table per level, and
    /// description changes as before/after blocks.
    Markdown,
    /// GitHub Actions workflow commands (`::error title=ID::...`).
    Github,
}

impl Format {
    /// The same format with color on or off (only `Text` has color).
    pub fn with_color(self, color: bool) -> Self {
        match self {
            Format::Text { .. } => Format::Text { color },
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected text, json, markdown or github")]
pub struct ParseFormatError(String);

impl FromStr for Format {
    type Err = ParseFormatError;

    /// `text` parses without color; see [`Format::with_color`].
    fn from_str(name: &str) -> Result<Self, ParseFormatError> {
        match name.to_ascii_lowercase().as_str() {
            "text" => Ok(Format::Text { color: false }),
            "json" => Ok(Format::Json),
            "markdown" | "md" => Ok(Format::Markdown),
            "github" => Ok(Format::Github),
            _ => Err(ParseFormatError(name.to_string())),
        }
    }
}

/// Which verb a report comes from: it names the Markdown heading and what
/// an empty report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Diff,
    Audit,
}

impl Verb {
    fn heading(self) -> &'static str {
        match self {
            Verb::Diff => "## mcpo-gen diff",
            Verb::Audit => "## mcpo-gen audit",
        }
    }

    fn nothing(self) -> &'static str {
        match self {
            Verb::Diff => "No changes.",
            Verb::Audit => "No findings.",
        }
    }
}

pub(crate) fn render(report: &Report, format: Format, verb: Verb) -> String {
    match format {
        Format::Text { color } => render_text(report, color, verb),
        Format::Json => render_json(report),
        Format::Markdown => render_markdown(report, verb),
        Format::Github => render_github(report),
    }
}

/// `2 breaking, 1 warning, 0 info`.
pub fn summary_line(summary: Summary) -> String {
    let plural = if summary.warn == 1 { "" } else { "s" };
    format!(
        "{} breaking, {} warning{plural}, {} info",
        summary.err, summary.warn, summary.info
    )
}

/// `tool: message`, or just the message for server-level changes and
/// changes of a prompt, resource template or resource (their messages name
/// the item); in a multi-server crate prefixed with the server,
/// `server/tool: message`.
fn headline(change: &Change) -> String {
    format!("{}{}", subject_prefix(change), change.message)
}

/// `server/tool: `, `tool: `, `server: ` or nothing.
fn subject_prefix(change: &Change) -> String {
    match (&change.server, &change.tool) {
        (Some(server), Some(tool)) => format!("{server}/{tool}: "),
        (None, Some(tool)) => format!("{tool}: "),
        (Some(server), None) => format!("{server}: "),
        (None, None) => String::new(),
    }
}

/// The old or new prose of a text change; `None` when absent.
fn text_of(value: Option<&Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// Escapes control characters so untrusted text can't move the cursor,
/// recolor the terminal or start a new line. `keep_newlines` keeps `\n` and
/// `\t` for multi-line blocks.
fn neutralize(text: &str, keep_newlines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\n' | '\t' if keep_newlines => out.push(ch),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // Bidi overrides can make reviewed text read differently, and
            // invisible characters hide text: show both as escapes.
            ch if ch.is_control() || crate::text::hidden_char_name(ch).is_some() => {
                let _ = write!(out, "\\u{{{:x}}}", ch as u32);
            }
            ch => out.push(ch),
        }
    }
    out
}

fn render_text(report: &Report, color: bool, verb: Verb) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    if report.is_empty() {
        out.push_str(verb.nothing());
        out.push('\n');
    }
    let mut previous_group: Option<(&Option<String>, &Option<String>, &Option<Item>)> = None;
    for change in &report.changes {
        // A blank line between servers, tools and items keeps groups apart.
        let group = (&change.server, &change.tool, &change.item);
        if previous_group.is_some_and(|previous| previous != group) {
            out.push('\n');
        }
        previous_group = Some(group);
        let level_code = match change.level {
            Level::Err => "1;31",
            Level::Warn => "33",
            Level::Info => "36",
        };
        let _ = writeln!(
            out,
            "{} {}  {}",
            paint(level_code, &format!("{:<4}", change.level)),
            change.id,
            neutralize(&headline(change), false)
        );
        if change.is_text_change() {
            for (sign, value) in [("-", change.old.as_ref()), ("+", change.new.as_ref())] {
                let code = if sign == "-" { "31" } else { "32" };
                match text_of(value) {
                    None => {
                        let _ = writeln!(out, "    {}", paint(code, &format!("{sign} (none)")));
                    }
                    Some(text) => {
                        // Every line gets the sign, so no line of hostile
                        // text starts at column 0 (e.g. `::` commands in CI).
                        for line in neutralize(&text, true).split('\n') {
                            let _ = writeln!(out, "    {}", paint(code, &format!("{sign} {line}")));
                        }
                    }
                }
            }
        }
    }
    let summary = summary_line(report.summary());
    let _ = writeln!(out, "{}", paint("1", &summary));
    out
}

fn render_json(report: &Report) -> String {
    let summary = report.summary();
    let document = json!({
        // Serializing `Change` (strings, options, values) can't fail.
        "changes": serde_json::to_value(&report.changes).unwrap_or(Value::Null),
        "summary": {"err": summary.err, "warn": summary.warn, "info": summary.info},
    });
    // Sorted keys, whatever serde_json's `preserve_order` says.
    crate::lock::canonical_pretty(&document)
}

/// Makes untrusted text safe inside a Markdown table cell.
fn markdown_cell(text: &str) -> String {
    neutralize(text, true)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        // Defuse @mentions and #references in a bot comment.
        .replace('@', "&#64;")
        .replace('\n', "<br>")
}

fn render_markdown(report: &Report, verb: Verb) -> String {
    let summary = report.summary();
    let mut out = format!("{}\n\n", verb.heading());
    if report.is_empty() {
        out.push_str(verb.nothing());
        out.push('\n');
        return out;
    }
    let verdict = if summary.err > 0 {
        "**Breaking changes.**"
    } else if summary.warn > 0 {
        "**Needs review.**"
    } else {
        "**Compatible.**"
    };
    let _ = writeln!(out, "{verdict} {}\n", summary_line(summary));
    for level in Level::ALL {
        let changes: Vec<&Change> = report
            .changes
            .iter()
            .filter(|change| change.level == level)
            .collect();
        if changes.is_empty() {
            continue;
        }
        let heading = match level {
            Level::Err => "Breaking",
            Level::Warn => "Warnings",
            Level::Info => "Info",
        };
        let _ = writeln!(out, "### {heading} ({})\n", changes.len());
        out.push_str("| Rule | Subject | Change | Where |\n|---|---|---|---|\n");
        for change in changes {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                change.id,
                markdown_cell(&subject_cell(change)),
                markdown_cell(&change.message),
                change
                    .pointer
                    .as_deref()
                    .map(|pointer| format!("`{}`", markdown_cell(pointer).replace('`', "'")))
                    .unwrap_or_default()
            );
        }
        out.push('\n');
    }
    let text_changes: Vec<&Change> = report
        .changes
        .iter()
        .filter(|change| change.is_text_change())
        .collect();
    if !text_changes.is_empty() {
        out.push_str("### Text changes to review\n\n");
        out.push_str(
            "Models read these texts; a changed description can carry injected instructions.\n\n",
        );
        for change in text_changes {
            let _ = writeln!(out, "**{}**\n", markdown_cell(&headline(change)));
            // Each line starts with `-`/`+`, so no line of the text can close
            // the fence or become Markdown.
            out.push_str("```diff\n");
            for (sign, value) in [("-", change.old.as_ref()), ("+", change.new.as_ref())] {
                match text_of(value) {
                    None => {
                        let _ = writeln!(out, "{sign} (none)");
                    }
                    Some(text) => {
                        for line in neutralize(&text, true).split('\n') {
                            let _ = writeln!(out, "{sign} {line}");
                        }
                    }
                }
            }
            out.push_str("```\n\n");
        }
    }
    out
}

/// The Subject column: `server/tool`, `tool`, `server (server)`, `(server)`,
/// or for a prompt, resource template or resource `server/prompt greet`,
/// `prompt greet`.
fn subject_cell(change: &Change) -> String {
    let owner = match (&change.server, &change.tool) {
        (Some(server), Some(tool)) => Some(format!("{server}/{tool}")),
        (Some(server), None) => Some(server.clone()),
        (None, Some(tool)) => Some(tool.clone()),
        (None, None) => None,
    };
    match (owner, &change.item) {
        (Some(owner), Some(item)) => format!("{owner}/{} {}", item.kind.noun(), item.key),
        (None, Some(item)) => format!("{} {}", item.kind.noun(), item.key),
        (Some(owner), None) if change.tool.is_some() => owner,
        (Some(owner), None) => format!("{owner} (server)"),
        (None, None) => "(server)".to_string(),
    }
}

/// Escapes workflow command data (the part after `::`).
pub fn github_escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command property value (`title=...`).
pub fn github_escape_property(text: &str) -> String {
    github_escape_data(text)
        .replace(':', "%3A")
        .replace(',', "%2C")
}

fn render_github(report: &Report) -> String {
    let mut out = String::new();
    for change in &report.changes {
        let command = match change.level {
            Level::Err => "error",
            Level::Warn => "warning",
            Level::Info => "notice",
        };
        let mut data = headline(change);
        if let Some(pointer) = &change.pointer {
            let _ = write!(data, " (at {pointer})");
        }
        if change.is_text_change() {
            for (label, value) in [("old", change.old.as_ref()), ("new", change.new.as_ref())] {
                let text = text_of(value).unwrap_or_else(|| "(none)".to_string());
                let _ = write!(data, "\n{label}: {text}");
            }
        }
        let _ = writeln!(
            out,
            "::{command} title={}::{}",
            github_escape_property(change.id),
            github_escape_data(&neutralize(&data, true))
        );
    }
    let _ = writeln!(out, "{}", summary_line(report.summary()));
    out
}

/// A Markdown table of every rule (id, level, meaning), for documentation.
pub fn rules_markdown() -> String {
    let mut out = String::from("| Rule id | Level | Meaning |\n|---|---|---|\n");
    for rule in RULES {
        let _ = writeln!(out, "| `{}` | {} | {} |", rule.id, rule.level, rule.summary);
    }
    out
}
