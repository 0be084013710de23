//! Which `pattern`s survive the trip into the OpenAPI document.
//!
//! JSON Schema patterns are ECMA-262 regexes, but OpenAPI tooling compiles
//! them with other engines; the independent validator we test against uses
//! Python's `re`, and rejects the whole document when one pattern doesn't
//! compile (`\p{L}`, `(?<name>..)`, variable-width look-behind, ...). This is a
//! conservative syntax check: `true` only for patterns that are well formed
//! and use the syntax both engines share. A pattern that fails it is kept
//! under `x-original-keywords` instead (the proxy still enforces it).

/// Escapes (after `\`) that Python accepts outside a character class.
const ESCAPES_OUTSIDE_CLASS: &str = "abBdDfnrsStvwWZAxuUN";
/// Escapes that Python accepts inside a character class.
const ESCAPES_IN_CLASS: &str = "abfnrtvdDsSwWxuUN";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Previous {
    /// Start of pattern, `(` or `|`: a quantifier here is an error.
    Nothing,
    Atom,
    Quantifier,
    /// A lazy `?` or possessive `+` after a quantifier.
    QuantifierModifier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Plain,
    LookBehind,
}

/// `true` when `pattern` compiles the same way in ECMA-262 and Python `re`.
pub fn is_portable_pattern(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut index = 0;
    let mut groups: Vec<Group> = Vec::new();
    let mut capturing_groups = 0usize;
    let mut previous = Previous::Nothing;
    while index < chars.len() {
        let ch = chars[index];
        match ch {
            '\\' => {
                let Some(consumed) = escape_length(&chars, index, false) else {
                    return false;
                };
                if let Some(number) = backreference(&chars[index + 1..index + consumed])
                    && number > capturing_groups
                {
                    return false;
                }
                index += consumed;
                previous = Previous::Atom;
                continue;
            }
            '[' => {
                let Some(consumed) = class_length(&chars, index) else {
                    return false;
                };
                index += consumed;
                previous = Previous::Atom;
                continue;
            }
            '(' => {
                let rest: String = chars[index + 1..].iter().take(3).collect();
                let (group, capturing, skip) = if let Some(after) = rest.strip_prefix('?') {
                    if after.starts_with("<=") || after.starts_with("<!") {
                        (Group::LookBehind, false, 4)
                    } else if after.starts_with("P<") {
                        (Group::Plain, true, 1)
                    } else if after.starts_with(':')
                        || after.starts_with('=')
                        || after.starts_with('!')
                    {
                        (Group::Plain, false, 2)
                    } else {
                        // `(?<name>`, `(?P=`, inline flags, conditionals...:
                        // syntax the two engines don't share.
                        return false;
                    }
                } else {
                    (Group::Plain, true, 1)
                };
                groups.push(group);
                if capturing {
                    capturing_groups += 1;
                }
                index += skip;
                previous = Previous::Nothing;
                continue;
            }
            ')' => {
                if groups.pop().is_none() {
                    return false;
                }
                previous = Previous::Atom;
            }
            '|' => {
                if groups.contains(&Group::LookBehind) {
                    return false;
                }
                previous = Previous::Nothing;
            }
            '*' | '+' | '?' => {
                let in_look_behind = groups.contains(&Group::LookBehind);
                previous = match previous {
                    Previous::Nothing | Previous::QuantifierModifier => return false,
                    Previous::Quantifier if ch == '?' || ch == '+' => Previous::QuantifierModifier,
                    Previous::Quantifier => return false,
                    Previous::Atom if in_look_behind => return false,
                    Previous::Atom => Previous::Quantifier,
                };
            }
            '{' => match counted_repeat(&chars, index) {
                Some((consumed, fixed)) => {
                    match previous {
                        Previous::Atom => {}
                        _ => return false,
                    }
                    if !fixed && groups.contains(&Group::LookBehind) {
                        return false;
                    }
                    index += consumed;
                    previous = Previous::Quantifier;
                    continue;
                }
                // Not a quantifier: both engines read a literal `{`
                // (ECMA only without the `u` flag; keep it simple and refuse).
                None => return false,
            },
            '}' | ']' => return false,
            _ => previous = Previous::Atom,
        }
        index += 1;
    }
    groups.is_empty()
}

/// Length (in chars, including the backslash) of the escape at `index`.
fn escape_length(chars: &[char], index: usize, in_class: bool) -> Option<usize> {
    let next = *chars.get(index + 1)?;
    let hex_digits = |count: usize| -> Option<usize> {
        let digits = chars.get(index + 2..index + 2 + count)?;
        digits
            .iter()
            .all(char::is_ascii_hexdigit)
            .then_some(2 + count)
    };
    match next {
        'x' => hex_digits(2),
        'u' => hex_digits(4),
        // ECMA has no \U, \N, \Z, \A: refuse them although Python takes them.
        'U' | 'N' | 'Z' | 'A' => None,
        c if c.is_ascii_digit() => {
            if in_class || c == '0' {
                // Octal in Python, NUL/backreference-ish in ECMA: differs.
                None
            } else {
                let digits = chars[index + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                Some(1 + digits)
            }
        }
        c if c.is_ascii_alphabetic() => {
            let allowed = if in_class {
                ESCAPES_IN_CLASS
            } else {
                ESCAPES_OUTSIDE_CLASS
            };
            allowed.contains(c).then_some(2)
        }
        _ => Some(2),
    }
}

fn backreference(escape: &[char]) -> Option<usize> {
    if escape.first().is_some_and(char::is_ascii_digit) {
        escape.iter().collect::<String>().parse().ok()
    } else {
        None
    }
}

/// Length of the character class starting at `index` (`[`), or `None` if it
/// is unterminated, empty or has a reversed range.
fn class_length(chars: &[char], index: usize) -> Option<usize> {
    let mut position = index + 1;
    if chars.get(position) == Some(&'^') {
        position += 1;
    }
    // `[]` / `[^]` are legal in ECMA (match nothing / anything) but not in Python.
    if chars.get(position) == Some(&']') {
        return None;
    }
    // The previous class item: `Some(Some(c))` a literal, `Some(None)` a
    // class escape such as `\d`, `None` nothing (or a completed range).
    let mut previous_item: Option<Option<char>> = None;
    let mut pending_range_start: Option<char> = None;
    loop {
        let ch = *chars.get(position)?;
        let (item, consumed) = match ch {
            ']' => return Some(position + 1 - index),
            // Nested `[` is a set operation in other engines.
            '[' => return None,
            '\\' => {
                let consumed = escape_length(chars, position, true)?;
                let escaped = chars[position + 1];
                let literal = (!escaped.is_ascii_alphanumeric()).then_some(escaped);
                (literal, consumed)
            }
            '-' if previous_item.is_some()
                && chars.get(position + 1).is_some_and(|next| *next != ']') =>
            {
                // `[\d-z]`: ECMA reads a literal `-`, Python an error.
                pending_range_start = Some(previous_item.take().flatten()?);
                position += 1;
                continue;
            }
            other => (Some(other), 1),
        };
        if let Some(start) = pending_range_start.take() {
            match item {
                Some(end) if end >= start => {}
                // Reversed, or ending in a class escape such as `\d`.
                _ => return None,
            }
            previous_item = None;
        } else {
            previous_item = Some(item);
        }
        position += consumed;
    }
}

/// `{n}`, `{n,}`, `{n,m}` at `index`: (length, is fixed width).
fn counted_repeat(chars: &[char], index: usize) -> Option<(usize, bool)> {
    let close = chars[index..].iter().position(|c| *c == '}')? + index;
    let inner: String = chars[index + 1..close].iter().collect();
    let (low, high) = match inner.split_once(',') {
        None => (inner.as_str(), Some(inner.as_str())),
        Some((low, "")) => (low, None),
        Some((low, high)) => (low, Some(high)),
    };
    let low: u32 = low.parse().ok()?;
    let high: Option<u32> = match high {
        Some(high) => Some(high.parse().ok()?),
        None => None,
    };
    if high.is_some_and(|high| high < low) {
        return None;
    }
    Some((close + 1 - index, high == Some(low)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_syntax_is_portable() {
        for pattern in [
            "^[a-z]+$",
            "^\\d{4}-\\d{2}-\\d{2}$",
            "^(foo|bar)?baz*$",
            "[A-Za-z0-9_.-]+",
            "^\\w+@\\w+\\.com$",
            "(?:ab)+?",
            "(a)\\1",
            "(?=x)(?!y)(?<=ab)(?<!c{2})",
            "a{2,}b{1,3}",
            "^\\S+$",
            "\\/\\.\\-",
            "[\\]\\-]",
            "\\u00e9\\x41",
            "",
            "^[^\\s]*$",
            "a.b",
        ] {
            assert!(is_portable_pattern(pattern), "{pattern}");
        }
    }

    #[test]
    fn engine_specific_or_broken_syntax_is_not() {
        for pattern in [
            "^\\p{L}+$",
            "\\P{Lu}",
            "(?<year>\\d{4})",
            "\\k<year>",
            "\\u{1F600}",
            "\\cJ",
            "((",
            "a)",
            "[abc",
            "[]",
            "[^]",
            "[z-a]",
            "*a",
            "a**",
            "a{3,1}",
            "(?<=a+)b",
            "(?<=a|bc)d",
            "\\1(a)",
            "\\",
            "(?i)abc",
            "a{",
            "\\Z",
            "[\\d-z]",
        ] {
            assert!(!is_portable_pattern(pattern), "{pattern}");
        }
    }
}
