//! Doc comments of the generated items: titles that say more than a name,
//! descriptions, and the constraints a Rust type does not enforce.

use super::*;

/// Doc lines for a named item: title, description, constraints.
pub(super) fn schema_docs(schema: &Map<String, Value>) -> Vec<String> {
    documented(schema, None)
}

/// Whether a schema title only restates a name: an identifier
/// (`convert_timeArguments`, `TimeResult`, as SDKs generate them), or the
/// documented property's own name in words (`Is Dst` for `is_dst`).
pub(super) fn title_restates(title: &str, name: Option<&str>) -> bool {
    let letters = |text: &str| -> String {
        text.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    !title.contains(char::is_whitespace) || name.is_some_and(|name| letters(name) == letters(title))
}

/// [`schema_docs`] of the schema of property `name`, if any: a title that
/// restates a name is left out.
pub(super) fn documented(schema: &Map<String, Value>, name: Option<&str>) -> Vec<String> {
    let mut docs = Vec::new();
    let text = |key: &str| {
        schema
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
    };
    if let Some(title) = text("title").filter(|title| !title_restates(title, name)) {
        docs.push(format!("**{}**", title.replace('\n', " ")));
    }
    if let Some(description) = text("description") {
        if !docs.is_empty() {
            docs.push(String::new());
        }
        docs.extend(description.lines().map(str::to_string));
    }
    let constraints = constraint_notes(schema);
    if !constraints.is_empty() {
        if !docs.is_empty() {
            docs.push(String::new());
        }
        docs.extend(constraints);
    }
    docs
}

/// Keywords the Rust type does not enforce, listed so the docs are honest.
pub(super) const NOTED_KEYWORDS: &[&str] = &[
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "const",
    "enum",
    "default",
];

pub(super) fn constraint_notes(schema: &Map<String, Value>) -> Vec<String> {
    NOTED_KEYWORDS
        .iter()
        .filter_map(|keyword| {
            let value = schema.get(*keyword)?;
            // String enums are spelled out by the enum's variants.
            if *keyword == "enum"
                && value
                    .as_array()
                    .is_some_and(|values| values.iter().all(|v| v.is_string() || v.is_null()))
            {
                return None;
            }
            let mut shown = value.to_string();
            if shown.chars().count() > MAX_DOC_VALUE_LEN {
                shown = shown.chars().take(MAX_DOC_VALUE_LEN).collect::<String>() + "…";
            }
            let label = if *keyword == "default" {
                "Default"
            } else {
                keyword
            };
            Some(format!("- {label}: `{}`", shown.replace('`', "'")))
        })
        .collect()
}
