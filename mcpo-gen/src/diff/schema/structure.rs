//! Properties, additional properties, items and composition: the shape of the data.

use super::*;

impl SchemaDiff<'_, '_> {
    pub(super) fn compare_properties(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        let empty = Map::new();
        let old_properties = old
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let new_properties = new
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let (old_required, new_required) = (required_names(old), required_names(new));
        let names: BTreeSet<&str> = old_properties
            .keys()
            .chain(new_properties.keys())
            .map(String::as_str)
            .chain(old_required.iter().copied())
            .chain(new_required.iter().copied())
            .collect();
        let input = self.side == SchemaSide::Input;
        for name in names {
            let child = loc.property(name);
            let subject = self.subject(&child);
            let (was_required, is_required) =
                (old_required.contains(name), new_required.contains(name));
            match (old_properties.get(name), new_properties.get(name)) {
                (Some(before), Some(after)) => self.compare(before, after, &child, depth + 1),
                (Some(before), None) => {
                    let rule = if input {
                        rules::PROPERTY_REMOVED
                    } else {
                        rules::OUTPUT_PROPERTY_REMOVED
                    };
                    self.emit(
                        rule,
                        child.old_ptr.clone(),
                        format!("{subject} removed"),
                        Some(before.clone()),
                        None,
                    );
                    continue;
                }
                (None, Some(after)) => {
                    let (rule, kind) = match (input, is_required) {
                        (true, true) => (rules::REQUIRED_PROPERTY_ADDED, "required "),
                        (true, false) => (rules::OPTIONAL_PROPERTY_ADDED, "optional "),
                        (false, _) => (rules::OUTPUT_PROPERTY_ADDED, ""),
                    };
                    self.emit(
                        rule,
                        child.new_ptr.clone(),
                        format!("{kind}{subject} added"),
                        None,
                        Some(after.clone()),
                    );
                    continue;
                }
                (None, None) => {}
            }
            let pointer = child.new_ptr.clone();
            match (was_required, is_required) {
                (false, true) => {
                    let rule = if input {
                        rules::REQUIRED_PROPERTY_ADDED
                    } else {
                        rules::OUTPUT_PROPERTY_BECAME_REQUIRED
                    };
                    self.emit(
                        rule,
                        pointer,
                        format!("{subject} became required"),
                        None,
                        None,
                    );
                }
                (true, false) => {
                    let rule = if input {
                        rules::PROPERTY_BECAME_OPTIONAL
                    } else {
                        rules::OUTPUT_PROPERTY_BECAME_OPTIONAL
                    };
                    self.emit(
                        rule,
                        pointer,
                        format!("{subject} became optional"),
                        None,
                        None,
                    );
                }
                _ => {}
            }
        }
    }

    pub(super) fn compare_additional_properties(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        let (before, after) = (
            old.get("additionalProperties"),
            new.get("additionalProperties"),
        );
        if before == after && !before.is_some_and(contains_ref) {
            return;
        }
        let closed = |value: Option<&Value>| matches!(value, Some(Value::Bool(false)));
        let subject = self.subject(loc);
        let pointer = loc.pointer("additionalProperties", after.is_some());
        match (closed(before), closed(after)) {
            (true, true) => {}
            (false, true) => self.tightened(
                pointer,
                format!("{subject} no longer accepts additional properties"),
                before.cloned(),
                after.cloned(),
            ),
            (true, false) => self.relaxed(
                pointer,
                format!("{subject} now accepts additional properties"),
                before.cloned(),
                after.cloned(),
            ),
            (false, false) => {
                let path = if loc.path.is_empty() {
                    "*".to_string()
                } else {
                    format!("{}.*", loc.path)
                };
                let child = loc.child("/additionalProperties", path);
                self.compare(
                    before.unwrap_or(&ANY_SCHEMA),
                    after.unwrap_or(&ANY_SCHEMA),
                    &child,
                    depth + 1,
                );
            }
        }
    }

    pub(super) fn compare_items(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        for key in ["items", "prefixItems"] {
            let (before, after) = (old.get(key), new.get(key));
            if before == after && !before.is_some_and(contains_ref) {
                continue;
            }
            match (before, after) {
                // Tuples (draft-07 `items: [...]`, 2020-12 `prefixItems`).
                (Some(Value::Array(before_items)), Some(Value::Array(after_items)))
                    if before_items.len() == after_items.len() =>
                {
                    for (index, (before_item, after_item)) in
                        before_items.iter().zip(after_items).enumerate()
                    {
                        let child =
                            loc.child(&format!("/{key}/{index}"), format!("{}[{index}]", loc.path));
                        self.compare(before_item, after_item, &child, depth + 1);
                    }
                }
                (Some(Value::Array(_)), _) | (_, Some(Value::Array(_))) => {
                    self.unclassified(
                        loc,
                        key,
                        "tuple items",
                        before.unwrap_or(&Value::Null),
                        after.unwrap_or(&Value::Null),
                    );
                }
                _ if key == "prefixItems" => {
                    self.unclassified(
                        loc,
                        key,
                        "prefixItems",
                        before.unwrap_or(&Value::Null),
                        after.unwrap_or(&Value::Null),
                    );
                }
                // A missing `items` accepts any item.
                _ => {
                    let child = loc.child("/items", format!("{}[]", loc.path));
                    self.compare(
                        before.unwrap_or(&ANY_SCHEMA),
                        after.unwrap_or(&ANY_SCHEMA),
                        &child,
                        depth + 1,
                    );
                }
            }
        }
    }

    /// `anyOf`/`oneOf`/`allOf` left after nullable unwrapping. Branch lists
    /// of equal length are compared pairwise; otherwise a pure superset or
    /// subset of branches is classified and anything else is unclassified.
    pub(super) fn compare_composition(
        &mut self,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        loc: &Loc,
        depth: usize,
    ) {
        for key in ["anyOf", "oneOf", "allOf"] {
            let (before, after) = (old.get(key), new.get(key));
            if before == after && !before.is_some_and(contains_ref) {
                continue;
            }
            let (Some(Value::Array(before_branches)), Some(Value::Array(after_branches))) =
                (before, after)
            else {
                self.unclassified(
                    loc,
                    key,
                    "a composition keyword added or removed",
                    before.unwrap_or(&Value::Null),
                    after.unwrap_or(&Value::Null),
                );
                continue;
            };
            if before_branches.len() == after_branches.len() {
                for (index, (before_branch, after_branch)) in
                    before_branches.iter().zip(after_branches).enumerate()
                {
                    let child = loc.child(&format!("/{key}/{index}"), loc.path.clone());
                    self.compare(before_branch, after_branch, &child, depth + 1);
                }
                continue;
            }
            let gained = before_branches
                .iter()
                .all(|branch| after_branches.contains(branch));
            let lost = after_branches
                .iter()
                .all(|branch| before_branches.contains(branch));
            let subject = self.subject(loc);
            let (before_value, after_value) = (before.cloned(), after.cloned());
            let pointer = loc.pointer(key, true);
            // More `anyOf`/`oneOf` branches accept more; more `allOf`
            // branches accept less.
            match (key == "allOf", gained, lost) {
                (false, true, _) => self.type_widened_at(
                    pointer,
                    format!("{subject} `{key}` gained alternatives"),
                    before_value,
                    after_value,
                ),
                (false, _, true) => self.type_narrowed_at(
                    pointer,
                    format!("{subject} `{key}` lost alternatives"),
                    before_value,
                    after_value,
                ),
                (true, true, _) => self.tightened(
                    pointer,
                    format!("{subject} `allOf` gained conditions"),
                    before_value,
                    after_value,
                ),
                (true, _, true) => self.relaxed(
                    pointer,
                    format!("{subject} `allOf` lost conditions"),
                    before_value,
                    after_value,
                ),
                _ => self.unclassified(
                    loc,
                    key,
                    "composition branches",
                    before.unwrap_or(&Value::Null),
                    after.unwrap_or(&Value::Null),
                ),
            }
        }
    }
}
