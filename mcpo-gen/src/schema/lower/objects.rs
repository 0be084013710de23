//! Objects: properties into struct fields, `additionalProperties`, `allOf` merged into one struct.

use super::*;

impl Lowerer {
    /// The object schemas whose properties apply to values of `schema`:
    /// itself plus its `allOf` parts (through `$ref`s) that allow objects.
    pub(super) fn object_parts<'s>(
        &self,
        document: &Document<'s>,
        schema: &'s Map<String, Value>,
        parts: &mut Vec<&'s Map<String, Value>>,
    ) {
        if parts.len() >= MAX_ALL_OF_PARTS || parts.iter().any(|p| std::ptr::eq(*p, schema)) {
            return;
        }
        parts.push(schema);
        let Some(all_of) = schema.get("allOf").and_then(Value::as_array) else {
            return;
        };
        for part in all_of {
            let Some((part, _)) = document.deref(part) else {
                continue;
            };
            let allows_objects = match declared_kinds(part) {
                Declared::Absent => true,
                Declared::Kinds(kinds) => kinds.contains(&Kind::Object),
                Declared::Invalid => false,
            };
            if allows_objects {
                self.object_parts(document, part, parts);
            }
        }
    }

    pub(super) fn lower_object<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Map<String, Value>,
        hint: &str,
        site: Site,
        depth: usize,
    ) -> TypeRef {
        let mut parts = Vec::new();
        self.object_parts(document, schema, &mut parts);
        let has_properties = parts
            .iter()
            .any(|part| part.get("properties").is_some_and(Value::is_object));
        let has_pattern_properties = parts.iter().any(|part| {
            part.get("patternProperties")
                .and_then(Value::as_object)
                .is_some_and(|patterns| !patterns.is_empty())
        });
        let additional_schemas: Vec<&Value> = parts
            .iter()
            .filter_map(|part| part.get("additionalProperties"))
            .filter(|additional| additional.as_object().is_some_and(|a| !a.is_empty()))
            .collect();
        let closed = parts
            .iter()
            .any(|part| part.get("additionalProperties") == Some(&Value::Bool(false)));

        if !has_properties {
            if schema.contains_key("anyOf") || schema.contains_key("oneOf") {
                return self.lower_union(document, schema, hint, site, Some(Kind::Object), depth);
            }
            let ty = match additional_schemas.as_slice() {
                [additional] if !has_pattern_properties => {
                    let hint = type_name(&[hint, "Value"]);
                    let value = self.lower(
                        document,
                        additional,
                        &hint,
                        Site::default(),
                        None,
                        depth + 1,
                    );
                    TypeRef::Map(Box::new(value))
                }
                _ => TypeRef::AnyObject,
            };
            return ty.optional_if(site.nullable);
        }

        let mut docs = schema_docs(schema);
        if parts.len() > 1 {
            if !docs.is_empty() {
                docs.push(String::new());
            }
            docs.push("Merged from the schema's `allOf` parts.".to_string());
        }
        let id = self.push_item(
            hint,
            docs,
            ItemKind::Struct {
                fields: Vec::new(),
                deny_unknown_fields: false,
            },
        );
        self.register(document, &site, id);
        let name = self.item_name(id);

        let required: BTreeSet<&str> = parts
            .iter()
            .filter_map(|part| part.get("required").and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // Property name -> its schema; a property defined differently by two
        // parts must satisfy both, which only `Value` can promise.
        let mut properties: Vec<(&str, &Value, bool)> = Vec::new();
        for part in &parts {
            let Some(own) = part.get("properties").and_then(Value::as_object) else {
                continue;
            };
            for (property, property_schema) in own {
                match properties.iter_mut().find(|(name, _, _)| *name == property) {
                    Some(existing) => existing.2 |= existing.1 != property_schema,
                    None => properties.push((property, property_schema, false)),
                }
            }
        }

        let mut idents = UniqueNames::new();
        let mut fields = Vec::with_capacity(properties.len() + 1);
        // A property whose name is already its field name keeps it, whatever
        // it collides with (`foo_bar` beside `fooBar`, `type` beside `Type`).
        let names: Vec<&str> = properties.iter().map(|(name, _, _)| *name).collect();
        let property_idents = idents.claim_all(&names, snake_ident);
        for ((property, property_schema, conflicting), ident) in
            properties.into_iter().zip(property_idents)
        {
            let ty = if conflicting {
                TypeRef::Any
            } else {
                let hint = type_name(&[&name, &camel_ident(property)]);
                self.lower(
                    document,
                    property_schema,
                    &hint,
                    Site::default(),
                    None,
                    depth + 1,
                )
            };
            // The property's own docs (a `$ref`'s siblings included),
            // constraints the type can't express.
            let mut docs = property_schema
                .as_object()
                .map(|schema| documented(schema, Some(property)))
                .unwrap_or_default();
            // A `$ref` to a definition that became a plain type (a string
            // with a format, say) would otherwise lose that definition's docs;
            // named items carry their own.
            if docs.is_empty()
                && property_schema.get("$ref").is_some()
                && !matches!(ty.unwrap_wrappers(), TypeRef::Named(_))
                && let Some((target, _)) = document.deref(property_schema)
            {
                docs = schema_docs(target);
            }
            let optional = !required.contains(property);
            // Unlike a nullable type, an optional `Value` still gets its
            // `Option`: absent and `null` both read as `None`.
            let ty = match ty {
                TypeRef::Optional(_) => ty,
                other if optional => TypeRef::Optional(Box::new(other)),
                other => other,
            };
            fields.push(Field {
                json_name: property.to_string(),
                ident,
                ty,
                optional,
                flatten: false,
                docs,
            });
        }

        let extra_value = if has_pattern_properties || additional_schemas.len() > 1 {
            Some(TypeRef::Any)
        } else if let [additional] = additional_schemas.as_slice() {
            let hint = type_name(&[&name, "Value"]);
            Some(self.lower(
                document,
                additional,
                &hint,
                Site::default(),
                None,
                depth + 1,
            ))
        } else {
            None
        };
        let flattened = extra_value.is_some();
        if let Some(value) = extra_value {
            fields.push(Field {
                json_name: String::new(),
                ident: idents.claim("additional_properties"),
                ty: TypeRef::Map(Box::new(value)),
                optional: false,
                flatten: true,
                docs: vec![
                    "Properties not listed above (`additionalProperties` / `patternProperties`)."
                        .to_string(),
                ],
            });
        }
        if let Some(item) = self.items.get_mut(id) {
            item.kind = ItemKind::Struct {
                fields,
                // serde can't combine `deny_unknown_fields` with `flatten`;
                // a flattened map already names every extra property.
                deny_unknown_fields: closed && !flattened,
            };
        }
        TypeRef::Named(id).optional_if(site.nullable)
    }

    /// `allOf` without a `type` of its own: typed by what its parts agree on.
    pub(super) fn lower_all_of<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Map<String, Value>,
        hint: &str,
        site: Site,
        implied: Option<Kind>,
        depth: usize,
    ) -> TypeRef {
        let mut agreed: Option<Kinds> = implied.map(|kind| [kind, Kind::Null].into());
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(kinds) = self.kinds_of(document, part, None, depth + 1) {
                agreed = Some(match agreed {
                    Some(agreed) => agreed.intersection(&kinds).copied().collect(),
                    None => kinds,
                });
            }
        }
        let Some(mut agreed) = agreed else {
            return TypeRef::Any;
        };
        let nullable = agreed.remove(&Kind::Null);
        let site = site.nullable(nullable);
        let kinds: Vec<Kind> = agreed.into_iter().collect();
        match kinds.as_slice() {
            [Kind::Object] => self.lower_object(document, schema, hint, site, depth),
            [kind] => kind
                .primitive_in(schema)
                .unwrap_or(TypeRef::Any)
                .optional_if(site.nullable),
            [Kind::Integer, Kind::Number] => TypeRef::Number.optional_if(site.nullable),
            _ => TypeRef::Any,
        }
    }
}
