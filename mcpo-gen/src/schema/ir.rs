//! The type model between JSON Schema and Rust tokens.
//!
//! Lowering ([`super::lower`]) builds a flat list of named [`Item`]s plus a
//! [`TypeRef`] per tool; rendering ([`super::rust`]) turns both into tokens.
//! Keeping the model flat (items refer to each other by index) makes recursive
//! schemas easy: a struct can name itself before its fields are known.

/// Index of an [`Item`] in the lowered item list.
pub type ItemId = usize;

/// A Rust type expression.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeRef {
    /// `serde_json::Value`: anything the schema can't describe faithfully.
    Any,
    /// `serde_json::Map<String, serde_json::Value>`: any JSON object.
    AnyObject,
    String,
    /// `i64`: JSON Schema `integer`.
    Integer,
    /// `u64`: an `integer` whose lower bound is not negative.
    Unsigned,
    /// `f64`: JSON Schema `number`.
    Number,
    Boolean,
    /// `Vec<T>`.
    Array(Box<TypeRef>),
    /// `::std::collections::BTreeMap<String, T>`.
    Map(Box<TypeRef>),
    /// `(A, B, ...)`: a closed `prefixItems` array.
    Tuple(Vec<TypeRef>),
    /// `Option<T>`: nullable or not required.
    Optional(Box<TypeRef>),
    /// `Box<T>`: breaks a by-value cycle between items.
    Boxed(Box<TypeRef>),
    /// A generated struct or enum.
    Named(ItemId),
}

impl TypeRef {
    /// `Option<self>`, without stacking options (a nullable optional field
    /// is still one `Option`) and without wrapping `Value` (it holds `null`).
    pub fn optional(self) -> TypeRef {
        match self {
            TypeRef::Optional(_) | TypeRef::Any => self,
            other => TypeRef::Optional(Box::new(other)),
        }
    }

    pub fn optional_if(self, nullable: bool) -> TypeRef {
        if nullable { self.optional() } else { self }
    }

    /// The type inside any `Option` / `Box`.
    pub fn unwrap_wrappers(&self) -> &TypeRef {
        match self {
            TypeRef::Optional(inner) | TypeRef::Boxed(inner) => inner.unwrap_wrappers(),
            other => other,
        }
    }

    /// Items this type contains by value (not behind a `Vec`, map or `Box`):
    /// the edges that make a recursive type infinitely sized.
    fn by_value_items(&self, out: &mut Vec<ItemId>) {
        match self {
            TypeRef::Named(id) => out.push(*id),
            TypeRef::Optional(inner) => inner.by_value_items(out),
            TypeRef::Tuple(elements) => {
                for element in elements {
                    element.by_value_items(out);
                }
            }
            _ => {}
        }
    }

    /// `Box`es the type, keeping `Option` outermost (`Option<Box<T>>`).
    fn boxed(self) -> TypeRef {
        match self {
            TypeRef::Optional(inner) => TypeRef::Optional(Box::new(inner.boxed())),
            TypeRef::Boxed(_) => self,
            other => TypeRef::Boxed(Box::new(other)),
        }
    }
}

/// A named Rust definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    /// Doc lines (markdown, unsanitized; rendering makes them safe).
    pub docs: Vec<String>,
    pub kind: ItemKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ItemKind {
    Struct {
        fields: Vec<Field>,
        /// `additionalProperties: false` and nothing flattened.
        deny_unknown_fields: bool,
    },
    /// A string `enum`: unit variants renamed to their JSON values.
    StringEnum { variants: Vec<StringVariant> },
    /// `oneOf` / `anyOf` / a list of types: `#[serde(untagged)]`.
    Untagged { variants: Vec<Variant> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The property name in JSON (unused for flattened maps).
    pub json_name: String,
    /// The Rust identifier, possibly raw (`r#type`).
    pub ident: String,
    pub ty: TypeRef,
    /// Not required: rendered with `default` and skipped when `None`.
    pub optional: bool,
    /// A `#[serde(flatten)]` map of the properties not named elsewhere.
    pub flatten: bool,
    pub docs: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StringVariant {
    pub ident: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    pub ident: String,
    pub ty: TypeRef,
}

impl ItemKind {
    fn types_mut(&mut self) -> Vec<&mut TypeRef> {
        match self {
            ItemKind::Struct { fields, .. } => fields.iter_mut().map(|f| &mut f.ty).collect(),
            ItemKind::StringEnum { .. } => Vec::new(),
            ItemKind::Untagged { variants } => variants.iter_mut().map(|v| &mut v.ty).collect(),
        }
    }

    fn types(&self) -> Vec<&TypeRef> {
        match self {
            ItemKind::Struct { fields, .. } => fields.iter().map(|f| &f.ty).collect(),
            ItemKind::StringEnum { .. } => Vec::new(),
            ItemKind::Untagged { variants } => variants.iter().map(|v| &v.ty).collect(),
        }
    }
}

/// Whether `from` contains `target` by value, directly or through other items.
fn reaches_by_value(items: &[Item], from: ItemId, target: ItemId) -> bool {
    let mut seen = vec![false; items.len()];
    let mut stack = vec![from];
    while let Some(id) = stack.pop() {
        if id == target {
            return true;
        }
        let Some(item) = items.get(id) else { continue };
        if std::mem::replace(&mut seen[id], true) {
            continue;
        }
        let mut next = Vec::new();
        for ty in item.kind.types() {
            ty.by_value_items(&mut next);
        }
        stack.extend(next);
    }
    false
}

/// Puts a `Box` on every field or variant that would otherwise make a type
/// contain itself by value (`struct Node { parent: Option<Node> }`), one edge
/// at a time so that a cycle gets exactly one box.
pub fn box_cycles(items: &mut [Item]) {
    loop {
        let mut found = None;
        'search: for (owner, item) in items.iter().enumerate() {
            for (slot, ty) in item.kind.types().into_iter().enumerate() {
                let mut targets = Vec::new();
                ty.by_value_items(&mut targets);
                if targets
                    .iter()
                    .any(|&target| reaches_by_value(items, target, owner))
                {
                    found = Some((owner, slot));
                    break 'search;
                }
            }
        }
        let Some((owner, slot)) = found else { return };
        if let Some(ty) = items[owner].kind.types_mut().into_iter().nth(slot) {
            let taken = std::mem::replace(ty, TypeRef::Any);
            *ty = taken.boxed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn structure(name: &str, fields: Vec<(&str, TypeRef)>) -> Item {
        Item {
            name: name.into(),
            docs: vec![],
            kind: ItemKind::Struct {
                fields: fields
                    .into_iter()
                    .map(|(ident, ty)| Field {
                        json_name: ident.into(),
                        ident: ident.into(),
                        ty,
                        optional: false,
                        flatten: false,
                        docs: vec![],
                    })
                    .collect(),
                deny_unknown_fields: false,
            },
        }
    }

    fn field_types(item: &Item) -> Vec<TypeRef> {
        item.kind.types().into_iter().cloned().collect()
    }

    #[test]
    fn optional_never_stacks() {
        assert_eq!(
            TypeRef::String.optional().optional(),
            TypeRef::Optional(Box::new(TypeRef::String))
        );
        assert_eq!(TypeRef::Any.optional(), TypeRef::Any);
    }

    #[test]
    fn self_reference_by_value_gets_one_box_and_vec_none() {
        let mut items = vec![structure(
            "Node",
            vec![
                ("parent", TypeRef::Named(0).optional()),
                ("children", TypeRef::Array(Box::new(TypeRef::Named(0)))),
            ],
        )];
        box_cycles(&mut items);
        assert_eq!(
            field_types(&items[0]),
            vec![
                TypeRef::Optional(Box::new(TypeRef::Boxed(Box::new(TypeRef::Named(0))))),
                TypeRef::Array(Box::new(TypeRef::Named(0))),
            ]
        );
    }

    #[test]
    fn mutual_recursion_is_broken_once() {
        let mut items = vec![
            structure("A", vec![("b", TypeRef::Named(1))]),
            structure("B", vec![("a", TypeRef::Named(0).optional())]),
        ];
        box_cycles(&mut items);
        for (owner, item) in items.iter().enumerate() {
            for ty in item.kind.types() {
                let mut targets = Vec::new();
                ty.by_value_items(&mut targets);
                assert!(!targets.iter().any(|&t| reaches_by_value(&items, t, owner)));
            }
        }
        let boxes = items
            .iter()
            .flat_map(field_types)
            .filter(|ty| format!("{ty:?}").contains("Boxed"))
            .count();
        assert_eq!(boxes, 1);
    }
}
