//! `resources/subscribe` for the MCP gateway: only of a URI a caller may
//! reach ([`App::admit_uri`]), sent upstream on a pooled connection, whose
//! updates of the URI then go to the subscriber's sink.
//!
//! A subscription lives on the upstream session it was sent on: that
//! session's events route the URI's updates and subscribe it upstream once
//! however many subscribers it has, a second one waiting for the first
//! one's answer ([`crate::upstream::UpstreamEvents::subscribe_resource`]);
//! the end of its last route unsubscribes. When the connection is lost, the
//! subscription is lost with it ([`ResourceSubscription::is_lost`]); the
//! gateway subscribes again on the next connection, which has events of
//! its own.
//!
//! Updates reach a subscriber through an [`UpdateSink`]: a bounded queue of
//! URIs that holds each URI once (an update carries nothing but its URI, so
//! two waiting updates of one URI are one), so a subscriber that stops
//! taking them holds a few URIs, never a backlog.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rmcp::model::{SubscribeRequestParams, UnsubscribeRequestParams};
use tokio::sync::mpsc;

use crate::app::{App, CallFailure};
use crate::redact::redact;
use crate::supervisor::Connection;

use super::MAX_URI_BYTES;

impl App {
    /// Whether [`App::admit_uri`] may admit `uri`, by what it can tell
    /// without asking the upstream: short enough, and a locked resource or
    /// a match of a locked template, or any URI when the resource list is
    /// live (only the list can tell). For `subscriptions/listen`, whose
    /// filter is accepted before anything is sent upstream; its URIs are
    /// then admitted as `resources/subscribe`'s are.
    pub(crate) fn may_admit_uri(&self, uri: &str) -> bool {
        uri.len() <= MAX_URI_BYTES && self.state().surface.readable(uri, |_| true)
    }

    /// `resources/subscribe` of `uri`, when a caller may reach it
    /// ([`App::admit_uri`]): its updates go to `sink` until the returned
    /// subscription drops.
    pub(crate) async fn subscribe_resource(
        &self,
        uri: &str,
        sink: UpdateSink,
    ) -> Result<ResourceSubscription, CallFailure> {
        self.admit_uri(uri, None).await?;
        let timeout = self.state().call_timeout;
        let uri = uri.to_string();
        self.on_upstream("resources/subscribe", timeout, |connection| async move {
            let events = connection.events.clone();
            let peer = connection.peer.clone();
            let route = events.new_resource_route();
            // Made before the request: dropped halfway (a timeout), it ends
            // the route and unsubscribes what the request may have done.
            let subscription = ResourceSubscription {
                connection,
                uri,
                route,
                timeout,
            };
            let uri = subscription.uri.clone();
            events
                .subscribe_resource(&subscription.uri, route, sink.routed(), || async move {
                    #[allow(deprecated, reason = "the legacy revisions' resources/subscribe")]
                    peer.subscribe(SubscribeRequestParams::new(uri.clone()))
                        .await?;
                    tracing::debug!(uri = %redact(&uri), "resource subscribed upstream");
                    Ok(())
                })
                .await?;
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
    /// How long the unsubscribe may take.
    timeout: Duration,
}

impl ResourceSubscription {
    /// Whether its upstream connection is gone (its updates with it).
    pub(crate) fn is_lost(&self) -> bool {
        self.connection.peer.is_transport_closed()
    }
}

impl Drop for ResourceSubscription {
    fn drop(&mut self) {
        let events = self.connection.events.clone();
        events.remove_resource_route(&self.uri, self.route);
        if self.is_lost() {
            // The upstream session is gone, its subscriptions with it.
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let peer = self.connection.peer.clone();
        let uri = std::mem::take(&mut self.uri);
        let timeout = self.timeout;
        runtime.spawn(async move {
            events
                .release_resource(&uri, || async {
                    #[allow(deprecated, reason = "the legacy revisions' resources/unsubscribe")]
                    let unsubscribe = peer.unsubscribe(UnsubscribeRequestParams::new(uri.clone()));
                    let uri = redact(&uri);
                    match tokio::time::timeout(timeout, unsubscribe).await {
                        Ok(Ok(())) => tracing::debug!(%uri, "resource unsubscribed upstream: nobody subscribes any more"),
                        Ok(Err(error)) => {
                            let error = redact(&error.to_string()).into_owned();
                            tracing::debug!(%uri, %error, "the upstream refused resources/unsubscribe");
                        }
                        Err(_) => tracing::debug!(%uri, "resources/unsubscribe timed out upstream"),
                    }
                })
                .await;
        });
    }
}

/// Where a subscriber's updates go: the URI of each resource that changed.
/// A bounded queue: an update of a URI already waiting is that update, and
/// at most `capacity` URIs wait (the rest are dropped, as a subscriber
/// with that many subscriptions at most never sees).
#[derive(Clone)]
pub(crate) struct UpdateSink {
    queue: Arc<UpdateQueue>,
    /// Wakes the receiver; at most one wake waits.
    doorbell: mpsc::Sender<()>,
}

/// The receiving end of an [`UpdateSink`] and its clones.
pub(crate) struct Updates {
    queue: Arc<UpdateQueue>,
    doorbell: mpsc::Receiver<()>,
}

struct UpdateQueue {
    capacity: usize,
    waiting: Mutex<Waiting>,
}

/// The URIs waiting, oldest first, each once.
#[derive(Default)]
struct Waiting {
    order: VecDeque<String>,
    uris: HashSet<String>,
}

/// A queue of updates holding at most `capacity` URIs.
pub(crate) fn update_queue(capacity: usize) -> (UpdateSink, Updates) {
    let queue = Arc::new(UpdateQueue {
        capacity,
        waiting: Mutex::default(),
    });
    let (doorbell, rung) = mpsc::channel(1);
    (
        UpdateSink {
            queue: Arc::clone(&queue),
            doorbell,
        },
        Updates {
            queue,
            doorbell: rung,
        },
    )
}

impl UpdateQueue {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pop(&self) -> Option<String> {
        let mut waiting = self.waiting();
        let uri = waiting.order.pop_front()?;
        waiting.uris.remove(&uri);
        Some(uri)
    }
}

impl UpdateSink {
    /// Queues an update of `uri` (never waits); false when it was dropped:
    /// `capacity` other URIs wait.
    pub(crate) fn send(&self, uri: &str) -> bool {
        {
            let mut waiting = self.queue.waiting();
            if !waiting.uris.contains(uri) {
                if waiting.order.len() >= self.queue.capacity {
                    return false;
                }
                waiting.uris.insert(uri.to_string());
                waiting.order.push_back(uri.to_string());
            }
        }
        // Full: a wake waits already, and it takes this URI too.
        let _ = self.doorbell.try_send(());
        true
    }

    /// This sink as the upstream events route updates.
    fn routed(&self) -> Arc<dyn Fn(&str) + Send + Sync> {
        let sink = self.clone();
        Arc::new(move |uri: &str| {
            if !sink.send(uri) {
                tracing::debug!(uri = %redact(uri), "a resource update was dropped: its subscriber has too many waiting");
            }
        })
    }
}

impl Updates {
    /// The next updated URI, oldest first; `None` once every sink is gone
    /// and nothing waits. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Option<String> {
        loop {
            if let Some(uri) = self.queue.pop() {
                return Some(uri);
            }
            if self.doorbell.recv().await.is_none() {
                return self.queue.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_updates_of_a_uri_are_one_and_the_queue_is_bounded() {
        let (sink, mut updates) = update_queue(2);
        assert!(sink.send("demo://a"));
        assert!(sink.send("demo://b"));
        assert!(sink.send("demo://a"), "already waiting: the same update");
        assert!(!sink.send("demo://c"), "two URIs wait: dropped");
        assert_eq!(updates.recv().await.as_deref(), Some("demo://a"));
        assert!(sink.send("demo://c"), "room again");
        assert_eq!(updates.recv().await.as_deref(), Some("demo://b"));
        assert!(sink.send("demo://a"), "taken, so waiting anew");
        assert_eq!(updates.recv().await.as_deref(), Some("demo://c"));
        assert_eq!(updates.recv().await.as_deref(), Some("demo://a"));
        let routed = sink.routed();
        routed("demo://d");
        drop(sink);
        assert_eq!(
            updates.recv().await.as_deref(),
            Some("demo://d"),
            "what waits is taken after the last sink is gone"
        );
        drop(routed);
        assert_eq!(updates.recv().await, None, "every sink gone");
    }

    #[tokio::test]
    async fn a_receiver_waiting_wakes_for_an_update() {
        let (sink, mut updates) = update_queue(4);
        let receiver = tokio::spawn(async move { updates.recv().await });
        tokio::task::yield_now().await;
        sink.send("demo://a");
        assert_eq!(receiver.await.unwrap().as_deref(), Some("demo://a"));
    }
}
