//! What an upstream session says unasked: that its tools changed (the
//! supervisor checks drift again) and how far a call has come (progress,
//! passed on to the caller that asked for it).
//!
//! A connection is shared by every caller, so progress is routed by token:
//! rmcp gives each upstream request a progress token of its own, a call that
//! wants progress routes that token to its sink
//! ([`UpstreamEvents::progress_route`]), and each notification carrying it
//! goes there, under the caller's own token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::ClientHandler;
use rmcp::model::{ClientConfig, ProgressNotificationParam, ProgressToken};
use rmcp::service::{NotificationContext, RoleClient};
use tokio::sync::{Notify, mpsc};

/// Where a call's progress goes: each notification, with its token already
/// set back to the one the caller chose.
pub type ProgressSink = mpsc::UnboundedSender<ProgressNotificationParam>;

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
}
