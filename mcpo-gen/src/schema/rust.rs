//! [`ir`](super::ir) -> Rust tokens.
//!
//! The items name the runtime's `codegen` surface through the one `use` at
//! the top of the generated file ([`codegen_use`]): `Serialize`,
//! `Deserialize` and `serde_json`, names no generated type or handler can
//! take (they are reserved). serde comes through the runtime's `codegen`
//! re-export (hence `#[serde(crate = ...)]`): a proxy depends on
//! `mcpo-runtime` alone. Other paths are written in full
//! (`::std::collections::BTreeMap`).

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::ir::{Field, Item, ItemKind, TypeRef};

/// The generated file's one `use` of the runtime: what its types and
/// handlers name. Allowed unused: a server without tools names none of it.
pub fn codegen_use() -> TokenStream {
    quote! {
        #[allow(unused_imports)]
        use mcpo_runtime::codegen::{
            serde::{Deserialize, Serialize},
            serde_json, tool_router, App, Request, Router, ToolFuture,
        };
    }
}

/// Names [`codegen_use`] brings into the generated module: no handler may
/// take them.
pub const CODEGEN_VALUE_NAMES: &[&str] = &["serde_json", "tool_router"];

/// An identifier token; raw identifiers (`r#type`) stay raw. Names come from
/// [`crate::naming`] and are valid, but a fallback keeps this panic-free.
pub fn ident(name: &str) -> Ident {
    match syn::parse_str::<Ident>(name) {
        Ok(ident) => ident,
        Err(_) => Ident::new("invalid_identifier", Span::call_site()),
    }
}

/// The bare name of an identifier, as serde sees it (`r#type` -> `type`).
fn unraw(name: &str) -> &str {
    name.strip_prefix("r#").unwrap_or(name)
}

/// Doc attributes, one per line, safe for any text: prettyplease prints each
/// as a `///` line, so carriage returns and other control characters (which
/// rustc rejects in doc comments) are replaced, and `*/` is harmless.
pub fn doc_attrs(lines: &[String]) -> TokenStream {
    let mut cleaned: Vec<String> = lines
        .iter()
        .flat_map(|line| {
            line.replace("\r\n", "\n")
                .replace('\r', "\n")
                .split('\n')
                .map(|part| {
                    part.chars()
                        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                        .collect::<String>()
                        .trim_end()
                        .to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    while cleaned.first().is_some_and(String::is_empty) {
        cleaned.remove(0);
    }
    while cleaned.last().is_some_and(String::is_empty) {
        cleaned.pop();
    }
    let attrs = cleaned.iter().map(|line| {
        let text = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #text])
    });
    quote!(#(#attrs)*)
}

/// `serde_json::Value`, as the generated code reaches it.
pub fn json_value() -> TokenStream {
    quote!(serde_json::Value)
}

/// The derives every generated type has, with `extra` ones (such as `Copy`)
/// in the middle, and serde pointed at the runtime's re-export.
fn derives(extra: TokenStream) -> TokenStream {
    quote! {
        #[derive(Debug, Clone, #extra PartialEq, Serialize, Deserialize)]
        #[serde(crate = "mcpo_runtime::codegen::serde")]
    }
}

pub fn type_tokens(ty: &TypeRef, items: &[Item]) -> TokenStream {
    match ty {
        TypeRef::Any => json_value(),
        TypeRef::AnyObject => {
            quote!(serde_json::Map<String, serde_json::Value>)
        }
        TypeRef::String => quote!(String),
        TypeRef::Integer => quote!(i64),
        TypeRef::Unsigned => quote!(u64),
        TypeRef::Number => quote!(f64),
        TypeRef::Boolean => quote!(bool),
        TypeRef::Array(element) => {
            let element = type_tokens(element, items);
            quote!(Vec<#element>)
        }
        TypeRef::Map(value) => {
            let value = type_tokens(value, items);
            quote!(::std::collections::BTreeMap<String, #value>)
        }
        TypeRef::Tuple(elements) => {
            let elements = elements.iter().map(|element| type_tokens(element, items));
            // A trailing comma keeps a one-element tuple a tuple.
            quote!((#(#elements,)*))
        }
        TypeRef::Optional(inner) => {
            let inner = type_tokens(inner, items);
            quote!(Option<#inner>)
        }
        TypeRef::Boxed(inner) => {
            let inner = type_tokens(inner, items);
            quote!(Box<#inner>)
        }
        TypeRef::Named(id) => match items.get(*id) {
            Some(item) => {
                let name = ident(&item.name);
                quote!(#name)
            }
            None => json_value(),
        },
    }
}

fn field_tokens(field: &Field, items: &[Item]) -> TokenStream {
    let docs = doc_attrs(&field.docs);
    let name = ident(&field.ident);
    let ty = type_tokens(&field.ty, items);
    let mut serde_args = Vec::new();
    if field.flatten {
        serde_args.push(quote!(flatten));
    } else if unraw(&field.ident) != field.json_name {
        let json_name = &field.json_name;
        serde_args.push(quote!(rename = #json_name));
    }
    if field.optional {
        serde_args.push(quote!(default, skip_serializing_if = "Option::is_none"));
    }
    let serde_attr = if serde_args.is_empty() {
        quote!()
    } else {
        quote!(#[serde(#(#serde_args),*)])
    };
    quote! {
        #docs
        #serde_attr
        pub #name: #ty,
    }
}

fn item_tokens(item: &Item, items: &[Item]) -> TokenStream {
    let docs = doc_attrs(&item.docs);
    let name = ident(&item.name);
    match &item.kind {
        ItemKind::Struct {
            fields,
            deny_unknown_fields,
        } => {
            let deny = if *deny_unknown_fields {
                quote!(#[serde(deny_unknown_fields)])
            } else {
                quote!()
            };
            let fields = fields.iter().map(|field| field_tokens(field, items));
            let derives = derives(quote!());
            quote! {
                #docs
                #derives
                #deny
                pub struct #name {
                    #(#fields)*
                }
            }
        }
        ItemKind::StringEnum { variants } => {
            let variants = variants.iter().map(|variant| {
                let variant_name = ident(&variant.ident);
                let value = &variant.value;
                let rename = if unraw(&variant.ident) == value {
                    quote!()
                } else {
                    quote!(#[serde(rename = #value)])
                };
                quote!(#rename #variant_name,)
            });
            let derives = derives(quote!(Copy, Eq, Hash,));
            quote! {
                #docs
                #derives
                #[allow(clippy::enum_variant_names)]
                pub enum #name {
                    #(#variants)*
                }
            }
        }
        ItemKind::Untagged { variants } => {
            let variants = variants.iter().map(|variant| {
                let variant_name = ident(&variant.ident);
                let ty = type_tokens(&variant.ty, items);
                quote!(#variant_name(#ty),)
            });
            let derives = derives(quote!());
            quote! {
                #docs
                #derives
                #[serde(untagged)]
                #[allow(clippy::large_enum_variant, clippy::enum_variant_names)]
                pub enum #name {
                    #(#variants)*
                }
            }
        }
    }
}

/// All items, in the order they were created (parents before children).
pub fn items_tokens(items: &[Item]) -> TokenStream {
    let rendered = items.iter().map(|item| item_tokens(item, items));
    quote!(#(#rendered)*)
}
