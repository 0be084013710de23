//! `resources/subscribe` for the MCP gateway: only of a URI
//! [`App::read_resource`] would read, sent upstream on a pooled connection,
//! whose updates of the URI then go to the subscriber's sink.
//!
//! A subscription lives on the upstream connection it was sent on: the
//! connection's events route the URI's updates
//! ([`crate::upstream::UpstreamEvents::add_resource_route`]), the first
//! route of a URI subscribes upstream and the last one to end unsubscribes.
//! When that connection is lost, the subscription is lost with it
//! ([`ResourceSubscription::is_lost`]); the gateway subscribes again on the
//! next connection.

use std::sync::Arc;

use rmcp::model::{
    ResourceUpdatedNotificationParam, SubscribeRequestParams, UnsubscribeRequestParams,
};
use tokio::sync::mpsc;

use crate::app::{App, CallFailure};
use crate::lock::ResourceList;
use crate::supervisor::Connection;

/// Where a subscribed resource's updates go (each with its URI).
pub(crate) type UpdateSink = mpsc::UnboundedSender<ResourceUpdatedNotificationParam>;

impl App {
    /// Whether `uri` is readable by the lock alone (no live list asked): a
    /// locked resource or a match of a locked template.
    pub(crate) fn offers_resource_now(&self, uri: &str) -> bool {
        let surface = &self.state().surface;
        match surface.resource_list {
            ResourceList::Pinned => surface.readable(uri, |_| false),
            ResourceList::Live => surface.template_for(uri).is_some(),
        }
    }

    /// `resources/subscribe` of `uri` (404 when the lock does not offer
    /// it): its updates go to `sink` until the returned subscription drops.
    pub(crate) async fn subscribe_resource(
        &self,
        uri: &str,
        sink: UpdateSink,
    ) -> Result<ResourceSubscription, CallFailure> {
        self.admit_uri(uri, None).await?;
        let timeout = self.state().call_timeout;
        let uri = uri.to_string();
        self.on_upstream("resources/subscribe", timeout, |connection| async move {
            let (route, first) = connection.events.add_resource_route(&uri, sink);
            let mut subscription = ResourceSubscription {
                connection,
                uri,
                route,
                subscribed_upstream: true,
            };
            if first {
                #[allow(deprecated, reason = "the legacy revisions' resources/subscribe")]
                let subscribed = subscription
                    .connection
                    .peer
                    .subscribe(SubscribeRequestParams::new(subscription.uri.clone()))
                    .await;
                if let Err(error) = subscribed {
                    subscription.subscribed_upstream = false;
                    return Err(error);
                }
                tracing::debug!(uri = %subscription.uri, "resource subscribed upstream");
            }
            Ok(subscription)
        })
        .await
    }
}

/// One subscriber's subscription to a resource, on one upstream
/// connection. Dropping it ends its route; the URI's last route to end
/// unsubscribes upstream.
pub(crate) struct ResourceSubscription {
    connection: Arc<Connection>,
    uri: String,
    route: u64,
    /// False when the upstream refused the subscribe: nothing to undo.
    subscribed_upstream: bool,
}

impl ResourceSubscription {
    /// Whether its upstream connection is gone (its updates with it).
    pub(crate) fn is_lost(&self) -> bool {
        self.connection.peer.is_transport_closed()
    }
}

impl Drop for ResourceSubscription {
    fn drop(&mut self) {
        let events = &self.connection.events;
        let last = events.remove_resource_route(&self.uri, self.route);
        if !last || !self.subscribed_upstream || self.is_lost() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let connection = Arc::clone(&self.connection);
        let uri = std::mem::take(&mut self.uri);
        runtime.spawn(async move {
            // Someone subscribed again meanwhile (and sent its own subscribe).
            if connection.events.has_resource_route(&uri) {
                return;
            }
            #[allow(deprecated, reason = "the legacy revisions' resources/unsubscribe")]
            let unsubscribed = connection
                .peer
                .unsubscribe(UnsubscribeRequestParams::new(uri.clone()))
                .await;
            match unsubscribed {
                Ok(()) => tracing::debug!(%uri, "resource unsubscribed upstream: nobody subscribes any more"),
                Err(error) => {
                    tracing::debug!(%uri, %error, "the upstream refused resources/unsubscribe");
                }
            }
        });
    }
}
