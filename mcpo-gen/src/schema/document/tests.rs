use serde_json::json;

use super::*;

fn pointer_of(document: &SchemaDocument, reference: &str) -> Result<String, RefError> {
    document
        .resolve(reference)
        .map(|resolved| resolved.pointer.to_string())
}

#[test]
fn pointers_resolve_with_percent_and_tilde_escapes() {
    let root = json!({
        "$defs": {"a b/c~d%e": {"type": "string"}, "a%ZZ": {"type": "integer"}, "é": {}},
        "properties": {"x": {"items": [{"type": "null"}]}}
    });
    let document = SchemaDocument::new(&root);
    assert_eq!(pointer_of(&document, "#"), Ok(String::new()));
    assert_eq!(
        pointer_of(&document, "#/$defs/a%20b~1c~0d%25e"),
        Ok("/$defs/a b~1c~0d%e".to_string())
    );
    assert_eq!(
        pointer_of(&document, "#/%24defs/%C3%A9"),
        Ok("/$defs/é".into())
    );
    assert_eq!(
        pointer_of(&document, "#/properties/x/items/0"),
        Ok("/properties/x/items/0".into())
    );
    assert!(matches!(
        document.resolve("#/properties/x/items/00"),
        Err(RefError::Dangling(_))
    ));
}

#[test]
fn a_bad_percent_escape_is_read_as_the_validator_reads_it() {
    // `%ZZ` is not an escape: it names the definition `a%ZZ`, as in
    // `referencing`. Bytes that are not UTF-8 name nothing.
    let root = json!({"$defs": {"a%ZZ": {"type": "integer"}}});
    let document = SchemaDocument::new(&root);
    let resolved = document.resolve("#/$defs/a%ZZ").unwrap();
    assert_eq!(resolved.value, &json!({"type": "integer"}));
    assert!(matches!(
        document.resolve("#/$defs/%FF"),
        Err(RefError::NotUtf8 { .. })
    ));
}

#[test]
fn anchors_and_ids_resolve_to_their_pointer() {
    let root = json!({
        "$id": "https://example.com/tool.json",
        "$defs": {
            "Item": {"$anchor": "item", "type": "string"},
            "Inner": {"$id": "inner.json", "$defs": {"Leaf": {"$anchor": "leaf"}}}
        }
    });
    let document = SchemaDocument::new(&root);
    assert_eq!(pointer_of(&document, "#item"), Ok("/$defs/Item".into()));
    assert_eq!(
        pointer_of(&document, "https://example.com/tool.json#item"),
        Ok("/$defs/Item".into())
    );
    assert_eq!(pointer_of(&document, "tool.json"), Ok(String::new()));
    assert_eq!(
        pointer_of(&document, "https://example.com/tool.json#/$defs/Item"),
        Ok("/$defs/Item".into())
    );
    assert_eq!(
        pointer_of(&document, "inner.json"),
        Ok("/$defs/Inner".into())
    );
    assert_eq!(
        pointer_of(&document, "inner.json#leaf"),
        Ok("/$defs/Inner/$defs/Leaf".into())
    );
    // The anchor belongs to the inner resource, not to the root.
    assert!(document.resolve("#leaf").is_err());
}

#[test]
fn draft_07_anchors_live_in_id() {
    let root = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"x": {"$id": "#leaf", "type": "string"}}
    });
    let document = SchemaDocument::new(&root);
    assert_eq!(document.draft(), Draft::Draft7);
    assert_eq!(pointer_of(&document, "#leaf"), Ok("/definitions/x".into()));
}

#[test]
fn a_ref_only_the_default_draft_resolves_still_resolves() {
    // Like the validator, which compiles such a schema again without `$schema`.
    let root = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"x": {"$anchor": "leaf", "type": "string"}}
    });
    let document = SchemaDocument::new(&root);
    assert_eq!(pointer_of(&document, "#leaf"), Ok("/definitions/x".into()));
}

#[test]
fn other_documents_and_nonsense_do_not_resolve() {
    let root = json!({"properties": {"a": {"$ref": "https://example.com/other.json"}}});
    let document = SchemaDocument::new(&root);
    assert!(matches!(
        document.resolve("https://example.com/other.json"),
        Err(RefError::External(_))
    ));
    // An empty reference is the document itself.
    assert_eq!(pointer_of(&document, ""), Ok(String::new()));
    for reference in [
        "other.json#/x",
        "#nowhere",
        "%%%",
        "https://example.com/x#a",
    ] {
        assert!(document.resolve(reference).is_err(), "{reference}");
    }
    // A document referencing invalid URIs still resolves its pointers.
    let root = json!({"$id": "::not a uri", "properties": {"a": {"$ref": "%%%"}}});
    let document = SchemaDocument::new(&root);
    assert!(document.resolve("#/properties/a").is_ok());
    assert!(document.resolve("#a").is_err());
}
