//! The cache of a server's live resource list (`resourceList: live`): a
//! leaf, so that the app state can hold it without depending on the rest
//! of `surface`.

use std::sync::Arc;

use serde_json::Value;

/// The last live resource list of a server, while fresh.
#[derive(Default)]
pub(crate) struct LiveListCache(
    pub(super) std::sync::Mutex<Option<(std::time::Instant, Arc<Vec<Value>>)>>,
);
