//! What an upstream session says unasked: that its tools changed (the
//! supervisor checks drift again), how far a call has come (progress,
//! passed on to the caller that asked for it) and that a subscribed
//! resource changed (passed on to the MCP sessions subscribed to it).
//!
//! A connection is shared by every caller, so progress is routed by token:
//! rmcp gives each upstream request a progress token of its own, a call that
//! wants progress routes that token to its sink
//! ([`UpstreamEvents::progress_route`]), and each notification carrying it
//! goes there, under the caller's own token. Resource updates are routed by
//! URI the same way ([`UpstreamEvents::add_resource_route`]): every route
//! of the URI gets a copy.
//!
//! The upstream's `resources/list_changed` and `prompts/list_changed` go
//! nowhere: like its tools, its resources and prompts are what the lock
//! says until a reviewed lock is deployed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::ClientHandler;
use rmcp::model::{
    ClientConfig, ProgressNotificationParam, ProgressToken, ResourceUpdatedNotificationParam,
};
use rmcp::service::{NotificationContext, RoleClient};
use tokio::sync::{Notify, mpsc};

/// Where a call's progress goes: each notification, with its token already
/// set back to the one the caller chose.
pub type ProgressSink = mpsc::UnboundedSender<ProgressNotificationParam>;

/// Where the updates of a subscribed resource go.
pub type ResourceSink = mpsc::UnboundedSender<ResourceUpdatedNotificationParam>;

/// The events of one upstream, shared by every session made for it (a
/// reconnect keeps the same routes).
#[derive(Clone, Default)]
pub struct UpstreamEvents {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for UpstreamEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamEvents")
    }
}

#[derive(Default)]
struct Inner {
    tools_changed: Notify,
    routes: Mutex<HashMap<ProgressToken, Route>>,
    /// Resource URI -> the sinks subscribed to it, by route id.
    resources: Mutex<HashMap<String, Vec<(u64, ResourceSink)>>>,
    next_resource_route: AtomicU64,
}

struct Route {
    caller_token: ProgressToken,
    sink: ProgressSink,
}

impl UpstreamEvents {
    /// Resolves at the next `notifications/tools/list_changed`.
    pub async fn tools_changed(&self) {
        self.inner.tools_changed.notified().await;
    }

    /// Routes the progress of the upstream request `upstream_token` names
    /// to `sink` (under `caller_token`) until the returned guard drops.
    pub fn progress_route(
        &self,
        upstream_token: ProgressToken,
        caller_token: ProgressToken,
        sink: ProgressSink,
    ) -> ProgressRoute {
        self.routes()
            .insert(upstream_token.clone(), Route { caller_token, sink });
        ProgressRoute {
            events: self.clone(),
            token: upstream_token,
        }
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Route>> {
        self.inner
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Routes the updates of `uri` to `sink` until
    /// [`UpstreamEvents::remove_resource_route`] with the returned id. Also
    /// says whether it is the URI's first route (the caller subscribes
    /// upstream then).
    pub fn add_resource_route(&self, uri: &str, sink: ResourceSink) -> (u64, bool) {
        let id = self
            .inner
            .next_resource_route
            .fetch_add(1, Ordering::Relaxed);
        let mut resources = self.resources();
        let routes = resources.entry(uri.to_string()).or_default();
        routes.push((id, sink));
        (id, routes.len() == 1)
    }

    /// Ends the route `id` of `uri`; says whether it was the URI's last one
    /// (the caller unsubscribes upstream then).
    pub fn remove_resource_route(&self, uri: &str, id: u64) -> bool {
        let mut resources = self.resources();
        let Some(routes) = resources.get_mut(uri) else {
            return false;
        };
        routes.retain(|(route, _)| *route != id);
        if routes.is_empty() {
            resources.remove(uri);
            true
        } else {
            false
        }
    }

    /// Whether any route of `uri` is open.
    pub fn has_resource_route(&self, uri: &str) -> bool {
        self.resources().contains_key(uri)
    }

    fn resources(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(u64, ResourceSink)>>> {
        self.inner
            .resources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn forward_resource_updated(&self, update: &ResourceUpdatedNotificationParam) {
        let resources = self.resources();
        let Some(routes) = resources.get(&update.uri) else {
            // Nobody subscribes (any more), or a URI we never asked for.
            tracing::debug!(uri = %update.uri, "an update of a resource nobody subscribes to");
            return;
        };
        for (_, sink) in routes {
            let _ = sink.send(ResourceUpdatedNotificationParam::new(update.uri.clone()));
        }
    }

    fn forward_progress(&self, mut progress: ProgressNotificationParam) {
        let routes = self.routes();
        let Some(route) = routes.get(&progress.progress_token) else {
            // A call that ended already, or a token we never gave out.
            return;
        };
        progress.progress_token = route.caller_token.clone();
        let _ = route.sink.send(progress);
    }
}

/// A progress token in use by one call; dropping it ends the route.
pub struct ProgressRoute {
    events: UpstreamEvents,
    token: ProgressToken,
}

impl Drop for ProgressRoute {
    fn drop(&mut self) {
        self.events.routes().remove(&self.token);
    }
}

/// The client side of an upstream session: rmcp's client settings, and
/// the events the proxy listens to.
#[derive(Clone)]
pub(crate) struct UpstreamClient {
    pub(crate) config: ClientConfig,
    pub(crate) events: UpstreamEvents,
}

impl ClientHandler for UpstreamClient {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::info!("the upstream says its tools changed; checking them against the lock");
        // `notify_one` keeps the news for a supervisor busy with a check.
        self.events.inner.tools_changed.notify_one();
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.events.forward_progress(params);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.events.forward_resource_updated(&params);
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!("the upstream says its resources changed; clients keep the locked list");
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        tracing::debug!("the upstream says its prompts changed; clients keep the locked list");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::NumberOrString;

    #[test]
    fn progress_goes_to_its_call_under_the_callers_token_until_the_route_drops() {
        let events = UpstreamEvents::default();
        let (sink, mut received) = mpsc::unbounded_channel();
        let caller = ProgressToken(NumberOrString::String("caller".into()));
        let upstream_token = ProgressToken(NumberOrString::Number(7));
        let route = events.progress_route(upstream_token.clone(), caller.clone(), sink);
        events.forward_progress(ProgressNotificationParam::new(upstream_token.clone(), 1.0));
        let forwarded = received.try_recv().expect("forwarded");
        assert_eq!(forwarded.progress_token, caller);
        assert_eq!(forwarded.progress, 1.0);
        // Someone else's token goes nowhere.
        events.forward_progress(ProgressNotificationParam::new(
            ProgressToken(NumberOrString::Number(8)),
            2.0,
        ));
        assert!(received.try_recv().is_err());
        drop(route);
        events.forward_progress(ProgressNotificationParam::new(upstream_token, 3.0));
        assert!(received.try_recv().is_err());
    }

    #[test]
    fn resource_updates_go_to_every_route_of_their_uri_until_it_ends() {
        let events = UpstreamEvents::default();
        let (one, mut to_one) = mpsc::unbounded_channel();
        let (two, mut to_two) = mpsc::unbounded_channel();
        let (first, is_first) = events.add_resource_route("demo://a", one);
        assert!(is_first);
        let (second, is_first) = events.add_resource_route("demo://a", two.clone());
        assert!(!is_first, "the URI is subscribed upstream already");
        let (_other, is_first) = events.add_resource_route("demo://b", two);
        assert!(is_first);

        events.forward_resource_updated(&ResourceUpdatedNotificationParam::new("demo://a"));
        assert_eq!(to_one.try_recv().expect("routed").uri, "demo://a");
        assert_eq!(to_two.try_recv().expect("routed").uri, "demo://a");
        assert!(to_two.try_recv().is_err(), "one copy per route");
        events.forward_resource_updated(&ResourceUpdatedNotificationParam::new("demo://c"));
        assert!(to_one.try_recv().is_err());

        assert!(!events.remove_resource_route("demo://a", first));
        events.forward_resource_updated(&ResourceUpdatedNotificationParam::new("demo://a"));
        assert!(to_one.try_recv().is_err(), "its route ended");
        assert_eq!(to_two.try_recv().expect("still routed").uri, "demo://a");
        assert!(
            events.remove_resource_route("demo://a", second),
            "the last one"
        );
        assert!(!events.has_resource_route("demo://a"));
        assert!(events.has_resource_route("demo://b"));
        assert!(
            !events.remove_resource_route("demo://a", second),
            "gone already"
        );
    }
}
