//! Enums, numeric bounds and string constraints: what values a schema accepts.

use super::*;

impl SchemaDiff<'_, '_> {
    pub(super) fn compare_enum(
        &mut self,
        old: &Map<String, Value>,
        old_nullable: bool,
        new: &Map<String, Value>,
        new_nullable: bool,
        loc: &Loc,
    ) {
        let subject = self.subject(loc);
        let key_of = |map: &Map<String, Value>| {
            if map.contains_key("enum") {
                "enum"
            } else {
                "const"
            }
        };
        match (
            enum_values(old, old_nullable),
            enum_values(new, new_nullable),
        ) {
            (None, None) => {}
            (Some(before), Some(after)) => {
                let pointer = loc.pointer(key_of(new), true);
                for value in before.iter().filter(|value| !after.contains(value)) {
                    let rule =
                        self.for_side(rules::ENUM_VALUE_REMOVED, rules::OUTPUT_ENUM_VALUE_REMOVED);
                    self.emit(
                        rule,
                        pointer.clone(),
                        format!("{subject} no longer allows {value}"),
                        Some(value.clone()),
                        None,
                    );
                }
                for value in after.iter().filter(|value| !before.contains(value)) {
                    let rule =
                        self.for_side(rules::ENUM_VALUE_ADDED, rules::OUTPUT_ENUM_VALUE_ADDED);
                    self.emit(
                        rule,
                        pointer.clone(),
                        format!("{subject} now allows {value}"),
                        None,
                        Some(value.clone()),
                    );
                }
            }
            (None, Some(after)) => {
                let key = key_of(new);
                let message = format!(
                    "{subject} is now restricted to {}",
                    Value::Array(after.clone())
                );
                self.tightened(
                    loc.pointer(key, true),
                    message,
                    None,
                    Some(Value::Array(after)),
                );
            }
            (Some(before), None) => {
                let key = key_of(old);
                let message = format!(
                    "{subject} is no longer restricted to {}",
                    Value::Array(before.clone())
                );
                let pointer = loc.pointer(key, false);
                match self.side {
                    SchemaSide::Input => self.emit(
                        rules::CONSTRAINT_RELAXED,
                        pointer,
                        message,
                        Some(Value::Array(before)),
                        None,
                    ),
                    SchemaSide::Output => self.emit(
                        rules::OUTPUT_ENUM_VALUE_ADDED,
                        pointer,
                        message,
                        Some(Value::Array(before)),
                        None,
                    ),
                }
            }
        }
    }

    pub(super) fn compare_bounds(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
    ) {
        let subject = self.subject(loc);
        let keys = LOWER_BOUNDS
            .iter()
            .map(|key| (*key, true))
            .chain(UPPER_BOUNDS.iter().map(|key| (*key, false)));
        for (key, is_lower) in keys {
            let (before, after) = (old.get(key), new.get(key));
            if before == after {
                continue;
            }
            let tighter = match (bound(before), bound(after)) {
                (Bound::Absent, Bound::Absent) | (Bound::Flag, Bound::Flag) => continue,
                (Bound::Absent, Bound::Number(_) | Bound::Flag) => true,
                (Bound::Number(_) | Bound::Flag, Bound::Absent) => false,
                (Bound::Number(before), Bound::Number(after)) => {
                    if is_lower {
                        after > before
                    } else {
                        after < before
                    }
                }
                _ => {
                    self.unclassified(
                        loc,
                        key,
                        "a bound whose form changed",
                        before.unwrap_or(&Value::Null),
                        after.unwrap_or(&Value::Null),
                    );
                    continue;
                }
            };
            let message = format!(
                "{subject} `{key}` {}: {} -> {}",
                if tighter { "tightened" } else { "relaxed" },
                compact_or_absent(before),
                compact_or_absent(after)
            );
            self.tighter_or_relaxed(
                tighter,
                loc.pointer(key, after.is_some()),
                message,
                before,
                after,
            );
        }
    }

    /// `pattern`, `format`, `multipleOf`, `uniqueItems`.
    pub(super) fn compare_string_constraints(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
    ) {
        let subject = self.subject(loc);
        for key in ["pattern", "format", "multipleOf", "uniqueItems"] {
            let (before, after) = (old.get(key), new.get(key));
            // `uniqueItems: false` means the same as leaving it out.
            let (before, after) = if key == "uniqueItems" {
                (unique_items_set(before), unique_items_set(after))
            } else {
                (before, after)
            };
            let tighter = match (before, after) {
                (None, None) => continue,
                (Some(before), Some(after)) if before == after => continue,
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(before), Some(after)) => match (before.as_f64(), after.as_f64()) {
                    // A multipleOf that divides the old one accepts a
                    // superset (6 -> 3); anything else may reject values.
                    (Some(before), Some(after)) if key == "multipleOf" && after != 0.0 => {
                        let ratio = before / after;
                        !(ratio.is_finite() && ratio.fract() == 0.0)
                    }
                    // A different pattern or format may reject values that
                    // passed: conservatively a tightening.
                    _ => true,
                },
            };
            let message = format!(
                "{subject} `{key}` {}: {} -> {}",
                if tighter { "tightened" } else { "relaxed" },
                compact_or_absent(before),
                compact_or_absent(after)
            );
            self.tighter_or_relaxed(
                tighter,
                loc.pointer(key, after.is_some()),
                message,
                before,
                after,
            );
        }
    }
}
