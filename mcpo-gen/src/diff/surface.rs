//! The classifier of the rest of a server's surface: its prompts, resource
//! templates and resources, and whether its resource list is pinned.
//!
//! Items are matched by key (a prompt's or template's name, a resource's
//! URI), like tools by name; a rename shows as removed + added, with a hint
//! when the other half has the same shape. Every change belongs to its item
//! ([`Change::item`]) and its message names the item; pointers point into the
//! item's definition.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::rules::*;
use super::values::{compact_or_absent, rename_hint, union_keys};
use super::{Change, Item, ItemKind};
use crate::lock::{LockedItem, LockedSurface, ResourceList, SurfaceKind, TemplateVariable};
use crate::schema::document::escape_token;

/// Classifies every change of `old`'s prompts, resource templates and
/// resources in `new`.
pub(crate) fn diff_surface(old: &LockedSurface, new: &LockedSurface, out: &mut Vec<Change>) {
    diff_kind(ItemKind::Prompt, old, new, out);
    diff_kind(ItemKind::ResourceTemplate, old, new, out);
    if old.resource_list == new.resource_list {
        diff_kind(ItemKind::Resource, old, new, out);
    } else {
        // Pinned resources on one side and a live list on the other: the
        // lists are not comparable, the switch itself is the change.
        out.push(list_mode_change(old, new));
    }
}

fn surface_kind(kind: ItemKind) -> SurfaceKind {
    match kind {
        ItemKind::Prompt => SurfaceKind::Prompt,
        ItemKind::ResourceTemplate => SurfaceKind::ResourceTemplate,
        ItemKind::Resource => SurfaceKind::Resource,
    }
}

fn mode_name(mode: ResourceList) -> &'static str {
    match mode {
        ResourceList::Pinned => "pinned",
        ResourceList::Live => "live",
    }
}

fn list_mode_change(old: &LockedSurface, new: &LockedSurface) -> Change {
    let message = match new.resource_list {
        ResourceList::Live => format!(
            "resource list is now live (--live-resources): the server's list is forwarded as it \
             is and any URI it lists can be read ({} pinned before)",
            old.resources.len()
        ),
        ResourceList::Pinned => format!(
            "resource list is now pinned: only the {} locked resources (and template matches) \
             can be read",
            new.resources.len()
        ),
    };
    Change::from_rule(
        RESOURCE_LIST_MODE_CHANGED,
        None,
        Some("/resourceList".to_string()),
        message,
        Some(Value::from(mode_name(old.resource_list))),
        Some(Value::from(mode_name(new.resource_list))),
    )
}

/// The rules of one kind.
struct KindRules {
    removed: Rule,
    added: Rule,
    /// Description and title changes.
    text: Rule,
    /// Fields without a rule of their own.
    field: Rule,
    /// Fields with a rule of their own (besides the key).
    classified: &'static [&'static str],
    /// The field two items share when one may be the other renamed, and
    /// how the hint says so.
    same_shape: (&'static str, &'static str),
}

fn rules_of(kind: ItemKind) -> KindRules {
    match kind {
        ItemKind::Prompt => KindRules {
            removed: PROMPT_REMOVED,
            added: PROMPT_ADDED,
            text: PROMPT_DESCRIPTION_CHANGED,
            field: PROMPT_FIELD_CHANGED,
            classified: &["name", "title", "description", "arguments"],
            same_shape: ("arguments", "same arguments"),
        },
        ItemKind::ResourceTemplate => KindRules {
            removed: RESOURCE_TEMPLATE_REMOVED,
            added: RESOURCE_TEMPLATE_ADDED,
            text: RESOURCE_TEMPLATE_DESCRIPTION_CHANGED,
            field: RESOURCE_TEMPLATE_FIELD_CHANGED,
            classified: &["name", "title", "description", "uriTemplate", "mimeType"],
            same_shape: ("uriTemplate", "same URI template"),
        },
        ItemKind::Resource => KindRules {
            removed: RESOURCE_REMOVED,
            added: RESOURCE_ADDED,
            text: RESOURCE_DESCRIPTION_CHANGED,
            field: RESOURCE_FIELD_CHANGED,
            // A resource's `name` is its display name (the URI is its key).
            classified: &["uri", "name", "title", "description", "mimeType"],
            same_shape: ("name", "same name"),
        },
    }
}

/// Keys of `candidates` with the same `field` as `item` (present on both):
/// the likely other half of a rename.
fn same_shape_keys(item: &LockedItem, candidates: &[&LockedItem], field: &str) -> Vec<String> {
    let Some(shape) = item.definition.get(field) else {
        return Vec::new();
    };
    candidates
        .iter()
        .filter(|other| other.definition.get(field) == Some(shape))
        .map(|other| other.key.clone())
        .collect()
}

fn diff_kind(kind: ItemKind, old: &LockedSurface, new: &LockedSurface, out: &mut Vec<Change>) {
    let surface = surface_kind(kind);
    let rules = rules_of(kind);
    let removed: Vec<&LockedItem> = old
        .items(surface)
        .iter()
        .filter(|item| new.item(surface, &item.key).is_none())
        .collect();
    let added: Vec<&LockedItem> = new
        .items(surface)
        .iter()
        .filter(|item| old.item(surface, &item.key).is_none())
        .collect();
    let (shape_field, same) = rules.same_shape;
    for item in &removed {
        let hint = rename_hint("to", &same_shape_keys(item, &added, shape_field), same);
        let subject = Item::new(kind, item.key.clone());
        out.push(Change::for_item(
            rules.removed,
            &subject,
            None,
            format!("{subject} removed{hint}"),
            Some(item.definition.clone()),
            None,
        ));
    }
    for item in &added {
        let hint = rename_hint("of", &same_shape_keys(item, &removed, shape_field), same);
        let subject = Item::new(kind, item.key.clone());
        out.push(Change::for_item(
            rules.added,
            &subject,
            None,
            format!("{subject} added{hint}"),
            None,
            Some(item.definition.clone()),
        ));
    }
    for old_item in old.items(surface) {
        if let Some(new_item) = new.item(surface, &old_item.key)
            && old_item.definition != new_item.definition
        {
            diff_item(kind, old_item, new_item, out);
        }
    }
}

/// Classifies the changes inside one item present on both sides.
fn diff_item(kind: ItemKind, old: &LockedItem, new: &LockedItem, out: &mut Vec<Change>) {
    let subject = Item::new(kind, old.key.clone());
    let rules = rules_of(kind);
    let before = out.len();
    if old.description() != new.description() {
        out.push(Change::for_item(
            rules.text,
            &subject,
            Some("/description".to_string()),
            format!("{subject}: description changed"),
            Some(Value::from(old.description())),
            Some(Value::from(new.description())),
        ));
    }
    if old.title() != new.title() {
        out.push(Change::for_item(
            rules.text,
            &subject,
            Some("/title".to_string()),
            format!(
                "{subject}: title changed: {} -> {}",
                quoted_or_none(old.title()),
                quoted_or_none(new.title())
            ),
            Some(Value::from(old.title())),
            Some(Value::from(new.title())),
        ));
    }
    match kind {
        ItemKind::Prompt => diff_arguments(&subject, old, new, out),
        ItemKind::ResourceTemplate => {
            diff_uri_template(&subject, old, new, out);
            diff_mime_type(&subject, old, new, out);
        }
        ItemKind::Resource => {
            if old.name() != new.name() {
                out.push(Change::for_item(
                    rules.text,
                    &subject,
                    Some("/name".to_string()),
                    format!(
                        "{subject}: name changed: {} -> {}",
                        quoted_or_none(old.name()),
                        quoted_or_none(new.name())
                    ),
                    Some(Value::from(old.name())),
                    Some(Value::from(new.name())),
                ));
            }
            diff_mime_type(&subject, old, new, out);
        }
    }
    let empty = Map::new();
    let old_fields = old.definition.as_object().unwrap_or(&empty);
    let new_fields = new.definition.as_object().unwrap_or(&empty);
    for key in union_keys(old_fields, new_fields) {
        if rules.classified.contains(&key) {
            continue;
        }
        let (before, after) = (old_fields.get(key), new_fields.get(key));
        if before != after {
            out.push(Change::for_item(
                rules.field,
                &subject,
                Some(format!("/{}", escape_token(key))),
                format!("{subject}: field `{key}` changed"),
                before.cloned(),
                after.cloned(),
            ));
        }
    }
    // A change none of the above explains (a description that is not a
    // string, say) is still a change: the lock's hash differs.
    if out.len() == before {
        out.push(Change::for_item(
            rules.field,
            &subject,
            None,
            format!("{subject}: definition changed"),
            Some(old.definition.clone()),
            Some(new.definition.clone()),
        ));
    }
}

fn diff_mime_type(subject: &Item, old: &LockedItem, new: &LockedItem, out: &mut Vec<Change>) {
    if old.mime_type() != new.mime_type() {
        out.push(Change::for_item(
            RESOURCE_MIME_TYPE_CHANGED,
            subject,
            Some("/mimeType".to_string()),
            format!(
                "{subject}: MIME type changed: {} -> {}",
                quoted_or_none(old.mime_type()),
                quoted_or_none(new.mime_type())
            ),
            Some(Value::from(old.mime_type())),
            Some(Value::from(new.mime_type())),
        ));
    }
}

/// One named entry of a prompt's raw `arguments`.
struct Argument<'a> {
    index: usize,
    name: &'a str,
    fields: &'a Map<String, Value>,
}

impl Argument<'_> {
    fn required(&self) -> bool {
        self.fields
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    fn text(&self, field: &str) -> Option<&str> {
        self.fields.get(field).and_then(Value::as_str)
    }

    fn pointer(&self, field: Option<&str>) -> String {
        match field {
            Some(field) => format!("/arguments/{}/{field}", self.index),
            None => format!("/arguments/{}", self.index),
        }
    }
}

/// The named arguments of a prompt, as `LockedItem::prompt_arguments` reads
/// them (entries without a string `name` are not arguments), with their
/// index and raw fields.
fn arguments(item: &LockedItem) -> Vec<Argument<'_>> {
    item.definition
        .get("arguments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, argument)| {
            let fields = argument.as_object()?;
            Some(Argument {
                index,
                name: fields.get("name")?.as_str()?,
                fields,
            })
        })
        .collect()
}

fn diff_arguments(subject: &Item, old: &LockedItem, new: &LockedItem, out: &mut Vec<Change>) {
    let before = out.len();
    let (old_arguments, new_arguments) = (arguments(old), arguments(new));
    let find = |arguments: &'_ [Argument<'_>], name: &str| -> Option<usize> {
        arguments.iter().position(|argument| argument.name == name)
    };
    for argument in &old_arguments {
        if find(&new_arguments, argument.name).is_none() {
            out.push(Change::for_item(
                PROMPT_ARGUMENT_REMOVED,
                subject,
                Some(argument.pointer(None)),
                format!("{subject}: argument `{}` removed", argument.name),
                Some(Value::Object(argument.fields.clone())),
                None,
            ));
        }
    }
    for argument in &new_arguments {
        let Some(position) = find(&old_arguments, argument.name) else {
            let (rule, kind) = if argument.required() {
                (PROMPT_REQUIRED_ARGUMENT_ADDED, "required")
            } else {
                (PROMPT_OPTIONAL_ARGUMENT_ADDED, "optional")
            };
            out.push(Change::for_item(
                rule,
                subject,
                Some(argument.pointer(None)),
                format!("{subject}: {kind} argument `{}` added", argument.name),
                None,
                Some(Value::Object(argument.fields.clone())),
            ));
            continue;
        };
        diff_argument(subject, &old_arguments[position], argument, out);
    }
    // The same arguments in another order: harmless to callers (arguments
    // are passed by name), but the definition changed.
    let common = |from: &[Argument<'_>], other: &[Argument<'_>]| -> Vec<String> {
        let names: BTreeSet<&str> = other.iter().map(|argument| argument.name).collect();
        from.iter()
            .filter(|argument| names.contains(argument.name))
            .map(|argument| argument.name.to_string())
            .collect()
    };
    let (old_order, new_order) = (
        common(&old_arguments, &new_arguments),
        common(&new_arguments, &old_arguments),
    );
    if old_order != new_order {
        out.push(Change::for_item(
            PROMPT_FIELD_CHANGED,
            subject,
            Some("/arguments".to_string()),
            format!(
                "{subject}: arguments reordered: {} -> {}",
                old_order.join(", "),
                new_order.join(", ")
            ),
            Some(Value::from(old_order)),
            Some(Value::from(new_order)),
        ));
    }
    // Entries that are not named arguments, or `arguments` that is not a
    // list: compared as they are.
    let (old_raw, new_raw) = (
        old.definition.get("arguments"),
        new.definition.get("arguments"),
    );
    if out.len() == before && old_raw != new_raw {
        out.push(Change::for_item(
            PROMPT_FIELD_CHANGED,
            subject,
            Some("/arguments".to_string()),
            format!("{subject}: field `arguments` changed"),
            old_raw.cloned(),
            new_raw.cloned(),
        ));
    }
}

fn diff_argument(subject: &Item, old: &Argument<'_>, new: &Argument<'_>, out: &mut Vec<Change>) {
    let name = new.name;
    match (old.required(), new.required()) {
        (false, true) => out.push(Change::for_item(
            PROMPT_ARGUMENT_BECAME_REQUIRED,
            subject,
            Some(new.pointer(Some("required"))),
            format!("{subject}: argument `{name}` became required"),
            Some(Value::Bool(false)),
            Some(Value::Bool(true)),
        )),
        (true, false) => out.push(Change::for_item(
            PROMPT_ARGUMENT_BECAME_OPTIONAL,
            subject,
            Some(new.pointer(Some("required"))),
            format!("{subject}: argument `{name}` became optional"),
            Some(Value::Bool(true)),
            Some(Value::Bool(false)),
        )),
        _ => {}
    }
    for field in ["description", "title"] {
        let (before, after) = (old.text(field), new.text(field));
        if before != after {
            out.push(Change::for_item(
                PROMPT_DESCRIPTION_CHANGED,
                subject,
                Some(new.pointer(Some(field))),
                format!("{subject}: argument `{name}` {field} changed"),
                Some(Value::from(before)),
                Some(Value::from(after)),
            ));
        }
    }
    for key in union_keys(old.fields, new.fields) {
        let (before, after) = (old.fields.get(key), new.fields.get(key));
        let explained = match key {
            // The key, and a flag read as above (`required: false` and no
            // `required` are the same argument).
            "name" | "required" => true,
            // Texts compared above, unless one is not a string.
            "description" | "title" => old.text(key) != new.text(key),
            _ => false,
        };
        if before == after || explained {
            continue;
        }
        out.push(Change::for_item(
            PROMPT_FIELD_CHANGED,
            subject,
            Some(new.pointer(Some(&escape_token(key)))),
            format!(
                "{subject}: argument `{name}` field `{key}` changed: {} -> {}",
                compact_or_absent(before),
                compact_or_absent(after)
            ),
            before.cloned(),
            after.cloned(),
        ));
    }
}

/// `template`, with the name of each variable whose name does not appear in
/// the URIs it expands to replaced by `_`: two templates of the same shape
/// build the same URIs from the same values, whatever their variables are
/// called. (`{;x}`, `{?x}` and `{&x}` write `x=`, so those names count.)
fn template_shape(template: &str) -> String {
    let mut shape = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        shape.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(end) = after.find('}') else {
            shape.push_str(&rest[open..]);
            return shape;
        };
        let body = &after[..end];
        let (operator, list) = match body.chars().next() {
            Some(first @ ('+' | '#' | '.' | '/' | ';' | '?' | '&')) => {
                (first.to_string(), &body[1..])
            }
            _ => (String::new(), body),
        };
        let named = matches!(operator.as_str(), ";" | "?" | "&");
        let specs: Vec<String> = list
            .split(',')
            .map(|spec| {
                let modifier = spec.find([':', '*']).map_or("", |at| &spec[at..]);
                if named {
                    spec.to_string()
                } else {
                    format!("_{modifier}")
                }
            })
            .collect();
        shape.push('{');
        shape.push_str(&operator);
        shape.push_str(&specs.join(","));
        shape.push('}');
        rest = &after[end + 1..];
    }
    shape.push_str(rest);
    shape
}

fn diff_uri_template(subject: &Item, old: &LockedItem, new: &LockedItem, out: &mut Vec<Change>) {
    let (old_text, new_text) = (old.uri_template_text(), new.uri_template_text());
    if old_text == new_text {
        return;
    }
    let text =
        |value: Option<&str>| value.map_or_else(|| "(none)".to_string(), |t| format!("`{t}`"));
    let shape = |value: Option<&str>| value.map(template_shape);
    let variables = match (old.uri_template(), new.uri_template()) {
        (Ok(old_parsed), Ok(new_parsed)) => Some((old_parsed.variables(), new_parsed.variables())),
        _ => None,
    };
    // Only variables renamed where their names are not part of the URI:
    // the variable changes say it all.
    if variables.is_none() || shape(old_text) != shape(new_text) {
        out.push(Change::for_item(
            RESOURCE_TEMPLATE_URI_CHANGED,
            subject,
            Some("/uriTemplate".to_string()),
            format!(
                "{subject}: URI template changed: {} -> {}",
                text(old_text),
                text(new_text)
            ),
            Some(Value::from(old_text)),
            Some(Value::from(new_text)),
        ));
    }
    let Some((old_variables, new_variables)) = variables else {
        return;
    };
    let names = |variables: &[TemplateVariable]| -> Vec<String> {
        variables
            .iter()
            .map(|variable| variable.name.clone())
            .collect()
    };
    let (old_names, new_names) = (names(&old_variables), names(&new_variables));
    let gone: Vec<&String> = old_names
        .iter()
        .filter(|name| !new_names.contains(name))
        .collect();
    let came: Vec<&String> = new_names
        .iter()
        .filter(|name| !old_names.contains(name))
        .collect();
    let variable_change = |message: String, old: Option<&String>, new: Option<&String>| {
        Change::for_item(
            RESOURCE_TEMPLATE_VARIABLE_CHANGED,
            subject,
            Some("/uriTemplate".to_string()),
            format!("{subject}: {message}"),
            old.map(|name| Value::from(name.as_str())),
            new.map(|name| Value::from(name.as_str())),
        )
    };
    if let ([from], [to]) = (gone.as_slice(), came.as_slice()) {
        out.push(variable_change(
            format!("variable `{from}` renamed to `{to}`"),
            Some(from),
            Some(to),
        ));
    } else {
        for name in gone {
            out.push(variable_change(
                format!("variable `{name}` removed"),
                Some(name),
                None,
            ));
        }
        for name in came {
            out.push(variable_change(
                format!("variable `{name}` added"),
                None,
                Some(name),
            ));
        }
    }
    for variable in &new_variables {
        let was_optional = old_variables
            .iter()
            .any(|old| old.name == variable.name && !old.required);
        if variable.required && was_optional {
            out.push(variable_change(
                format!("variable `{}` became required", variable.name),
                Some(&variable.name),
                Some(&variable.name),
            ));
        }
    }
}

fn quoted_or_none(text: Option<&str>) -> String {
    text.map_or_else(|| "(none)".to_string(), |text| format!("{text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_shapes_ignore_the_names_uris_do_not_show() {
        let same = |a: &str, b: &str| template_shape(a) == template_shape(b);
        assert!(same("text://notes/{id}", "text://notes/{name}"));
        assert!(same("repo://{owner}/{+path}", "repo://{o}/{+p}"));
        assert!(same("a{/x,y:3}", "a{/p,q:3}"));
        assert!(!same("a{/x,y:3}", "a{/p,q:4}"));
        assert!(!same("text://notes/{id}", "text://note/{id}"));
        assert!(!same("text://notes{?id}", "text://notes{/id}"));
        // `;`, `?` and `&` write `name=value`: their names are the shape.
        assert!(!same("a{?q}", "a{?query}"));
        assert!(!same("a{;v}", "a{;w}"));
        assert_eq!(template_shape("a{b"), "a{b");
        assert_eq!(template_shape("x{#frag*}y"), "x{#_*}y");
    }
}
