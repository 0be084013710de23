//! Paging through a server's lists (`tools/list`, `resources/list`,
//! `resources/templates/list`, `prompts/list`) with one loop: explicit
//! cursors (not rmcp's cached helpers), a guard against cursors that never
//! end, and each item as the server sent it when the raw wire recorded it.

use std::collections::BTreeSet;
use std::future::Future;

use rmcp::model::PaginatedRequestParams;
use serde_json::Value;

use super::{ConnectError, MAX_PAGES, Session, raw_wire};
use crate::lock::SurfaceKind;

/// One of the lists: its method, the field of its result that holds the
/// items, and the word for them in messages.
#[derive(Debug, Clone, Copy)]
pub struct ListKind {
    method: &'static str,
    list_field: &'static str,
    what: &'static str,
}

impl ListKind {
    /// `tools/list`.
    pub const TOOLS: ListKind = ListKind {
        method: "tools/list",
        list_field: "tools",
        what: "tools",
    };

    /// The list of a [`SurfaceKind`].
    pub fn of(kind: SurfaceKind) -> ListKind {
        match kind {
            SurfaceKind::Resource => ListKind {
                method: "resources/list",
                list_field: "resources",
                what: "resources",
            },
            SurfaceKind::ResourceTemplate => ListKind {
                method: "resources/templates/list",
                list_field: "resourceTemplates",
                what: "resource templates",
            },
            SurfaceKind::Prompt => ListKind {
                method: "prompts/list",
                list_field: "prompts",
                what: "prompts",
            },
        }
    }
}

/// Each item of a typed page with its key, and the next cursor.
type TypedPage = (
    Vec<(String, Result<Value, serde_json::Error>)>,
    Option<String>,
);

impl Session {
    /// Every resource, resource template or prompt the server lists, each
    /// the raw object it sent when recorded, else rmcp's typed one.
    pub async fn list_all_of(&self, kind: SurfaceKind) -> Result<Vec<Value>, ConnectError> {
        let peer = self.peer();
        match kind {
            SurfaceKind::Resource => {
                self.page_through(ListKind::of(kind), |params| async move {
                    let page = peer.list_resources(params).await?;
                    let items = page
                        .resources
                        .iter()
                        .map(|item| (item.uri.clone(), serde_json::to_value(item)))
                        .collect();
                    Ok((items, page.next_cursor))
                })
                .await
            }
            SurfaceKind::ResourceTemplate => {
                self.page_through(ListKind::of(kind), |params| async move {
                    let page = peer.list_resource_templates(params).await?;
                    let items = page
                        .resource_templates
                        .iter()
                        .map(|item| (item.name.clone(), serde_json::to_value(item)))
                        .collect();
                    Ok((items, page.next_cursor))
                })
                .await
            }
            SurfaceKind::Prompt => {
                self.page_through(ListKind::of(kind), |params| async move {
                    let page = peer.list_prompts(params).await?;
                    let items = page
                        .prompts
                        .iter()
                        .map(|item| (item.name.clone(), serde_json::to_value(item)))
                        .collect();
                    Ok((items, page.next_cursor))
                })
                .await
            }
        }
    }

    /// Pages through one list: `fetch` gets a page for a cursor.
    pub(super) async fn page_through<F, Fut>(
        &self,
        list: ListKind,
        fetch: F,
    ) -> Result<Vec<Value>, ConnectError>
    where
        F: Fn(Option<PaginatedRequestParams>) -> Fut,
        Fut: Future<Output = Result<TypedPage, rmcp::ServiceError>>,
    {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen_cursors = BTreeSet::new();
        for _ in 0..MAX_PAGES {
            let params = cursor
                .clone()
                .map(|cursor| PaginatedRequestParams::default().with_cursor(Some(cursor)));
            let (typed, next_cursor) =
                fetch(params)
                    .await
                    .map_err(|error| ConnectError::ListItems {
                        upstream: self.upstream.clone(),
                        what: list.what,
                        reason: error.to_string(),
                    })?;
            let typed: Vec<(String, Value)> = typed
                .into_iter()
                .map(|(key, value)| (key, value.unwrap_or(Value::Null)))
                .collect();
            let keys: Vec<&str> = typed.iter().map(|(key, _)| key.as_str()).collect();
            let raw_page = self.raw_wire.take_list_page(list.list_field, &keys);
            items.extend(raw_wire::merge_list_page(list.list_field, typed, raw_page));
            match next_cursor {
                Some(next) if !next.is_empty() => {
                    if !seen_cursors.insert(next.clone()) {
                        return Err(ConnectError::CursorLoop {
                            upstream: self.upstream.clone(),
                            method: list.method,
                            cursor: next,
                        });
                    }
                    cursor = Some(next);
                }
                _ => return Ok(items),
            }
        }
        Err(ConnectError::TooManyPages {
            upstream: self.upstream.clone(),
            method: list.method,
        })
    }
}
