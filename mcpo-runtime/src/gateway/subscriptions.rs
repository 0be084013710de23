//! The resource subscriptions of one MCP session (`resources/subscribe`)
//! or of one `subscriptions/listen` stream (the stateless 2026-07-28
//! revision), and the relay that passes their upstream updates on.
//!
//! Each subscribed URI is subscribed upstream on a pooled connection of the
//! server that offers it ([`App::subscribe_resource`]), its updates routed
//! to this session's relay; the relay sends each as
//! `notifications/resources/updated`. Unsubscribing, or the end of the
//! session (rmcp drops its handler, and with it these subscriptions), ends
//! the routes; the last route of a URI on a connection unsubscribes
//! upstream. When an upstream connection is lost, the relay notices within
//! [`RESUBSCRIBE_CHECK`] and subscribes the URI again once a connection is
//! back; updates sent in between are lost.
//!
//! [`App::subscribe_resource`]: crate::app::App::subscribe_resource

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use rmcp::Peer;
use rmcp::model::ResourceUpdatedNotificationParam;
use rmcp::service::{RoleServer, SubscriptionContext, SubscriptionSink};
use tokio::sync::mpsc;

use super::{Gateway, Surface};
use crate::app::CallFailure;
use crate::surface::subscriptions::{ResourceSubscription, UpdateSink};

/// How often the relay looks for subscriptions whose upstream connection
/// was lost.
const RESUBSCRIBE_CHECK: Duration = Duration::from_secs(1);

/// Where a session's updates go.
#[derive(Clone)]
pub(super) enum Listener {
    /// A session of a revision with `resources/subscribe`.
    Session(Peer<RoleServer>),
    /// A `subscriptions/listen` stream.
    Listen(SubscriptionSink),
}

impl Listener {
    /// Sends `update`; false when the listener is gone.
    async fn send(&self, update: ResourceUpdatedNotificationParam) -> bool {
        match self {
            Listener::Session(peer) => peer.notify_resource_updated(update).await.is_ok(),
            Listener::Listen(sink) => sink.notify_resource_updated(update.uri).await.is_ok(),
        }
    }
}

/// One session's subscriptions, by URI.
#[derive(Default)]
pub(super) struct Subscriptions {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    by_uri: HashMap<String, Subscribed>,
    /// The relay's way in, once there is a relay.
    relay: Option<UpdateSink>,
}

struct Subscribed {
    /// Index into the gateway's servers.
    server: usize,
    subscription: ResourceSubscription,
}

impl Subscriptions {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes `uri` on `server` (a no-op when the session has already);
    /// the first subscription starts the session's relay to `listener`.
    pub(super) async fn subscribe(
        self: &Arc<Self>,
        surface: &Arc<Surface>,
        server: usize,
        uri: &str,
        listener: Listener,
    ) -> Result<(), CallFailure> {
        let sink = {
            let mut state = self.state();
            if state.by_uri.contains_key(uri) {
                return Ok(());
            }
            state
                .relay
                .get_or_insert_with(|| {
                    spawn_relay(listener, Arc::downgrade(self), Arc::clone(surface))
                })
                .clone()
        };
        let subscription = surface.servers[server]
            .app
            .subscribe_resource(uri, sink)
            .await?;
        // A concurrent subscribe of the same URI may have won: this one
        // drops (its route with it).
        self.state()
            .by_uri
            .entry(uri.to_string())
            .or_insert(Subscribed {
                server,
                subscription,
            });
        Ok(())
    }

    /// Ends the subscription of `uri`; false when there was none.
    pub(super) fn unsubscribe(&self, uri: &str) -> bool {
        // Dropped outside the lock: the drop may spawn the upstream unsubscribe.
        let removed = self.state().by_uri.remove(uri);
        removed.is_some()
    }

    /// Subscribes again, on a live connection, each URI whose connection
    /// was lost; one still without a connection is tried at the next check.
    async fn resubscribe_lost(&self, surface: &Surface) {
        let (lost, sink) = {
            let state = self.state();
            let lost: Vec<(String, usize)> = state
                .by_uri
                .iter()
                .filter(|(_, subscribed)| subscribed.subscription.is_lost())
                .map(|(uri, subscribed)| (uri.clone(), subscribed.server))
                .collect();
            (lost, state.relay.clone())
        };
        let Some(sink) = sink else {
            return;
        };
        for (uri, server) in lost {
            let served = &surface.servers[server];
            match served.app.subscribe_resource(&uri, sink.clone()).await {
                Ok(subscription) => {
                    tracing::info!(%uri, server = %served.name, "resource subscription sent again on the new upstream connection");
                    let replaced = self.state().by_uri.get_mut(&uri).map(|subscribed| {
                        std::mem::replace(&mut subscribed.subscription, subscription)
                    });
                    drop(replaced);
                }
                Err(failure)
                    if failure.upstream_error.is_none()
                        && failure.answer.status.as_u16() == 404 =>
                {
                    // A live list that no longer holds it: nothing to read.
                    tracing::info!(%uri, server = %served.name, "resource subscription ended: the server no longer lists it");
                    let ended = self.state().by_uri.remove(&uri);
                    drop(ended);
                }
                Err(failure) => {
                    tracing::debug!(%uri, server = %served.name, status = failure.answer.status.as_u16(), "resource subscription not sent again yet");
                }
            }
        }
    }
}

/// The task passing a session's updates on to `listener`, and subscribing
/// again what a lost connection took. It ends when the session's
/// subscriptions are gone (every sender with them) or the listener is.
fn spawn_relay(
    listener: Listener,
    session: Weak<Subscriptions>,
    surface: Arc<Surface>,
) -> UpdateSink {
    let (sink, mut updates) = mpsc::unbounded_channel::<ResourceUpdatedNotificationParam>();
    tokio::spawn(async move {
        let mut check = tokio::time::interval(RESUBSCRIBE_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                update = updates.recv() => {
                    let Some(update) = update else { break };
                    if !listener.send(update).await {
                        tracing::debug!("the MCP session went away; its resource updates stop");
                        break;
                    }
                }
                _ = check.tick() => {
                    let Some(session) = session.upgrade() else { break };
                    session.resubscribe_lost(&surface).await;
                }
            }
        }
    });
    sink
}

impl Gateway {
    /// `subscriptions/listen` (2026-07-28): the accepted resource URIs
    /// subscribed upstream, their updates sent on the stream until the
    /// client cancels it.
    pub(super) async fn listen_for_updates(&self, context: SubscriptionContext) {
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        let subscriptions = Arc::new(Subscriptions::default());
        let listener = Listener::Listen(context.sink().clone());
        for uri in &uris {
            let Some(server) = self.subscribable_server_now(uri) else {
                continue;
            };
            if let Err(failure) = subscriptions
                .subscribe(&self.inner, server, uri, listener.clone())
                .await
            {
                tracing::warn!(%uri, status = failure.answer.status.as_u16(), "a resource of subscriptions/listen could not be subscribed upstream");
            }
        }
        context.cancelled().await;
        drop(subscriptions);
    }
}
