//! Unions: `anyOf` / `oneOf` / type lists into enums, when their variants can be told apart.

use super::*;

impl Lowerer {
    /// The kinds of value a schema can accept; `None` when unknown or any.
    pub(super) fn kinds_of(
        &self,
        document: &mut Document,
        schema: &Value,
        implied: Option<Kind>,
        depth: usize,
    ) -> Option<Kinds> {
        if depth > MAX_DEPTH {
            return None;
        }
        let object = schema.as_object()?;
        if let Some(reference) = object.get("$ref") {
            let (pointer, target) = document.resolve(reference.as_str()?)?;
            if let Some(known) = document.kinds.get(&pointer) {
                return known.clone();
            }
            // Provisionally unknown: a reference cycle that never reaches a
            // concrete type has no kind (and must not become an enum variant
            // of itself, which would recurse forever at runtime).
            document.kinds.insert(pointer.clone(), None);
            let kinds = self.kinds_of(document, target, None, depth + 1);
            document.kinds.insert(pointer, kinds.clone());
            return kinds;
        }
        if let Some(value) = object.get("const") {
            return Some([Kind::of_value(value)].into());
        }
        if let Some(values) = object.get("enum") {
            return Some(values.as_array()?.iter().map(Kind::of_value).collect());
        }
        match declared_kinds(object) {
            Declared::Invalid => None,
            Declared::Kinds(kinds) => Some(kinds),
            Declared::Absent => {
                if let Some(parts) = object.get("allOf").and_then(Value::as_array) {
                    let mut agreed: Option<Kinds> = implied.map(|kind| [kind].into());
                    for part in parts {
                        if let Some(kinds) = self.kinds_of(document, part, None, depth + 1) {
                            agreed = Some(match agreed {
                                Some(agreed) => agreed.intersection(&kinds).copied().collect(),
                                None => kinds,
                            });
                        }
                    }
                    return agreed;
                }
                if let Some(variants) = object
                    .get("anyOf")
                    .or_else(|| object.get("oneOf"))
                    .and_then(Value::as_array)
                {
                    let mut union = Kinds::new();
                    for variant in variants {
                        union.extend(self.kinds_of(document, variant, implied, depth + 1)?);
                    }
                    return Some(union);
                }
                implied.map(|kind| [kind].into())
            }
        }
    }

    /// `anyOf` / `oneOf`: an `Option` for a null variant, one type when all
    /// variants share a primitive type, an untagged enum when serde can tell
    /// the variants apart, else `Value`.
    pub(super) fn lower_union<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Map<String, Value>,
        hint: &str,
        site: Site,
        implied: Option<Kind>,
        depth: usize,
    ) -> TypeRef {
        // With both present a value must match both; either one alone is a
        // lenient description.
        let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        else {
            return TypeRef::Any;
        };
        let mut nullable = site.nullable;
        let mut variants: Vec<(&Value, Kind)> = Vec::new();
        for alternative in alternatives {
            let Some(mut kinds) = self.kinds_of(document, alternative, implied, depth + 1) else {
                return TypeRef::Any;
            };
            nullable |= kinds.remove(&Kind::Null);
            let kinds: Vec<Kind> = kinds.into_iter().collect();
            match kinds.as_slice() {
                [] => {}
                [kind] => variants.push((alternative, *kind)),
                _ => return TypeRef::Any,
            }
        }
        let site = site.nullable(nullable);
        match variants.as_slice() {
            [] => return TypeRef::Any,
            [(only, _)] => {
                return self
                    .lower(document, only, hint, site, implied, depth + 1)
                    .optional_if(nullable);
            }
            _ => {}
        }
        let kinds: Kinds = variants.iter().map(|(_, kind)| *kind).collect();
        let kinds: Vec<Kind> = kinds.into_iter().collect();
        match kinds.as_slice() {
            [kind] if kind.primitive().is_some() => {
                return kind
                    .primitive()
                    .unwrap_or(TypeRef::Any)
                    .optional_if(nullable);
            }
            [Kind::Integer, Kind::Number] => return TypeRef::Number.optional_if(nullable),
            _ => {}
        }
        if !self.distinguishable(document, &variants) {
            return TypeRef::Any;
        }

        // Variants of the same primitive kind merge into that primitive.
        // Integers go before numbers: serde tries untagged variants in order.
        let mut planned: Vec<(Option<&Value>, Kind)> = Vec::new();
        for &(variant, kind) in &variants {
            let same_kind = variants.iter().filter(|(_, k)| *k == kind).count();
            if kind.primitive().is_some() && same_kind > 1 {
                if !planned.iter().any(|(_, k)| *k == kind) {
                    planned.push((None, kind));
                }
            } else {
                planned.push((Some(variant), kind));
            }
        }
        planned.sort_by_key(|(_, kind)| *kind == Kind::Number);

        let id = self.push_item(
            hint,
            schema_docs(schema),
            ItemKind::Untagged {
                variants: Vec::new(),
            },
        );
        self.register(document, &site, id);
        let name = self.item_name(id);
        let mut idents = UniqueNames::new();
        let mut lowered = Vec::with_capacity(planned.len());
        for (variant, kind) in planned {
            let ident = idents.claim(&variant_ident(variant, kind));
            let ty = match variant {
                None => kind.primitive().unwrap_or(TypeRef::Any),
                Some(variant) => {
                    let hint = type_name(&[&name, &ident]);
                    match self.lower(
                        document,
                        variant,
                        &hint,
                        Site::default(),
                        implied,
                        depth + 1,
                    ) {
                        // The enum as a whole is the `Option`.
                        TypeRef::Optional(inner) => *inner,
                        other => other,
                    }
                }
            };
            lowered.push(Variant { ident, ty });
        }
        if let Some(item) = self.items.get_mut(id) {
            item.kind = ItemKind::Untagged { variants: lowered };
        }
        TypeRef::Named(id).optional_if(nullable)
    }

    /// Variants of distinct kinds are told apart by their JSON type. Several
    /// object variants are told apart when each requires a property that no
    /// other one mentions; several arrays never are.
    pub(super) fn distinguishable<'s>(
        &self,
        document: &Document<'s>,
        variants: &[(&'s Value, Kind)],
    ) -> bool {
        let arrays = variants.iter().filter(|(_, k)| *k == Kind::Array).count();
        if arrays > 1 {
            return false;
        }
        let objects: Vec<(BTreeSet<&str>, BTreeSet<&str>)> = variants
            .iter()
            .filter(|(_, kind)| *kind == Kind::Object)
            .map(|(variant, _)| {
                let mut required = BTreeSet::new();
                let mut mentioned = BTreeSet::new();
                let mut parts = Vec::new();
                if let Some((object, _)) = document.deref(variant) {
                    self.object_parts(document, object, &mut parts);
                }
                for part in parts {
                    if let Some(names) = part.get("required").and_then(Value::as_array) {
                        required.extend(names.iter().filter_map(Value::as_str));
                    }
                    if let Some(properties) = part.get("properties").and_then(Value::as_object) {
                        mentioned.extend(properties.keys().map(String::as_str));
                    }
                }
                mentioned.extend(required.iter().copied());
                (required, mentioned)
            })
            .collect();
        if objects.len() < 2 {
            return true;
        }
        objects.iter().enumerate().all(|(index, (required, _))| {
            required.iter().any(|property| {
                objects
                    .iter()
                    .enumerate()
                    .all(|(other, (_, mentioned))| other == index || !mentioned.contains(property))
            })
        })
    }

    /// `"type": ["string", "integer", ...]`: one untagged variant per type.
    pub(super) fn lower_kinds_union<'s>(
        &mut self,
        document: &mut Document<'s>,
        schema: &'s Map<String, Value>,
        kinds: &[Kind],
        hint: &str,
        site: Site,
        depth: usize,
    ) -> TypeRef {
        let id = self.push_item(
            hint,
            schema_docs(schema),
            ItemKind::Untagged {
                variants: Vec::new(),
            },
        );
        self.register(document, &site, id);
        let name = self.item_name(id);
        let mut ordered = kinds.to_vec();
        ordered.sort_by_key(|kind| *kind == Kind::Number);
        let variants = ordered
            .into_iter()
            .map(|kind| {
                let ident = kind.variant_name().to_string();
                let hint = type_name(&[&name, &ident]);
                let ty = self.lower_kind(document, schema, kind, &hint, Site::default(), depth + 1);
                Variant { ident, ty }
            })
            .collect();
        if let Some(item) = self.items.get_mut(id) {
            item.kind = ItemKind::Untagged { variants };
        }
        TypeRef::Named(id).optional_if(site.nullable)
    }
}
