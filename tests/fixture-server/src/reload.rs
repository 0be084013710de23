//! `--reload-tools-every-ms`: tools that change while the server runs, the
//! "rug pull" a proxy must notice. The tool file is read again every few
//! milliseconds; when its text changed, the new tools (and behaviours) are
//! served from then on and every connected client is sent
//! `notifications/tools/list_changed`, unless `--reload-silently` (then only
//! a client that lists the tools again sees the change).

use std::{
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use rmcp::{Peer, RoleServer};

use crate::{catalog::Catalog, verbatim::VerbatimTools};

/// The tools served now, and the clients to tell when they change. Shared by
/// every session's handler.
#[derive(Debug, Default)]
pub struct LiveTools {
    catalog: RwLock<Arc<Catalog>>,
    peers: Mutex<Vec<Peer<RoleServer>>>,
}

impl LiveTools {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog: RwLock::new(Arc::new(catalog)),
            peers: Mutex::default(),
        }
    }

    /// The catalog as of now (a call keeps the one it started with).
    pub fn current(&self) -> Arc<Catalog> {
        Arc::clone(
            &self
                .catalog
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// A client finished its handshake: it hears of later changes.
    pub fn register(&self, peer: Peer<RoleServer>) {
        let mut peers = self
            .peers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        peers.retain(|known| !known.is_transport_closed());
        peers.push(peer);
    }

    fn replace(&self, catalog: Catalog) {
        *self
            .catalog
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(catalog);
    }

    /// Sends `notifications/tools/list_changed` to every connected client;
    /// returns how many it reached.
    async fn announce(&self) -> usize {
        let peers: Vec<Peer<RoleServer>> = {
            let mut peers = self
                .peers
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            peers.retain(|known| !known.is_transport_closed());
            peers.clone()
        };
        let mut reached = 0;
        for peer in peers {
            if peer.notify_tool_list_changed().await.is_ok() {
                reached += 1;
            }
        }
        reached
    }
}

/// What `--reload-tools-every-ms` (and `--reload-silently`) asked for.
#[derive(Debug, Clone)]
pub struct Reload {
    pub path: PathBuf,
    pub every: Duration,
    /// Send `notifications/tools/list_changed` after a change.
    pub announce: bool,
    /// `--resources`: the reloaded tools get `touch_resource` too.
    pub touch_resource: bool,
    /// `--tasks-extension`: the reloaded tools get the long-call tools too.
    pub long_calls: bool,
}

/// Polls the tool file forever. `loaded` is the text the served catalog was
/// read from. A file that does not parse (e.g. caught half-written) leaves
/// the served tools as they are, with a note on stderr; it is tried again
/// at the next tick.
pub async fn watch(
    reload: Reload,
    live: Arc<LiveTools>,
    verbatim: Arc<VerbatimTools>,
    mut loaded: String,
) {
    let mut rejected: Option<String> = None;
    loop {
        tokio::time::sleep(reload.every).await;
        // A small file, read in a blink: no need for a blocking-pool thread.
        let Ok(text) = std::fs::read_to_string(&reload.path) else {
            continue;
        };
        if text == loaded || rejected.as_deref() == Some(text.as_str()) {
            continue;
        }
        // stdout is the MCP channel on stdio, so notes go to stderr.
        let reloaded = Catalog::from_json(&text).and_then(|(mut catalog, lossy)| {
            if reload.touch_resource {
                catalog.add_touch_resource()?;
            }
            if reload.long_calls {
                catalog.add_long_call_tools()?;
            }
            Ok((catalog, lossy))
        });
        match reloaded {
            Ok((catalog, _lossy)) => {
                verbatim.replace(&catalog.verbatim_tools());
                let count = catalog.tools().len();
                live.replace(catalog);
                loaded = text;
                rejected = None;
                let path = reload.path.display();
                if reload.announce {
                    let reached = live.announce().await;
                    eprintln!(
                        "note: reloaded {count} tools from {path}; sent tools/list_changed to {reached} client(s)"
                    );
                } else {
                    eprintln!("note: reloaded {count} tools from {path} (silently)");
                }
            }
            Err(error) => {
                eprintln!("note: not reloading {}: {error:#}", reload.path.display());
                rejected = Some(text);
            }
        }
    }
}
