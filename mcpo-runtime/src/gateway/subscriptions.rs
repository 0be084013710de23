//! The resource subscriptions of one MCP session (`resources/subscribe`)
//! or of one `subscriptions/listen` stream (the stateless 2026-07-28
//! revision), and the relay that passes their upstream updates on.
//!
//! Each subscribed URI is subscribed upstream on a pooled connection of the
//! server that offers it ([`App::subscribe_resource`]), its updates routed
//! to this session's relay; the relay sends each as
//! `notifications/resources/updated`. A session subscribes to at most
//! [`MAX_SUBSCRIPTIONS`] URIs, and its updates wait in a queue of as many
//! URIs, each once ([`update_queue`]): a client that stops reading holds
//! that much, never more. Unsubscribing, or the end of the session (rmcp
//! drops its handler, and with it these subscriptions), ends the routes;
//! the last route of a URI on a connection unsubscribes upstream. When an
//! upstream connection is lost, the relay notices within
//! [`RESUBSCRIBE_CHECK`] and subscribes the URI again once a connection is
//! back; updates sent in between are lost.
//!
//! [`App::subscribe_resource`]: crate::app::App::subscribe_resource

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use rmcp::Peer;
use rmcp::model::{ErrorData, ResourceUpdatedNotificationParam};
use rmcp::service::{RoleServer, SubscriptionContext, SubscriptionSink};
use serde_json::json;

use super::{Gateway, Surface, resources};
use crate::redact::redact;
use crate::surface::subscriptions::{ResourceSubscription, UpdateSink, Updates, update_queue};

/// How often the relay looks for subscriptions whose upstream connection
/// was lost.
const RESUBSCRIBE_CHECK: Duration = Duration::from_secs(1);

/// Most resource URIs one session (or one `subscriptions/listen` stream)
/// subscribes to at once.
pub(super) const MAX_SUBSCRIPTIONS: usize = 256;

/// Where a session's updates go.
#[derive(Clone)]
pub(super) enum Listener {
    /// A session of a revision with `resources/subscribe`.
    Session(Peer<RoleServer>),
    /// A `subscriptions/listen` stream.
    Listen(SubscriptionSink),
}

impl Listener {
    /// Sends an update of `uri`; false when the listener is gone.
    async fn send(&self, uri: String) -> bool {
        match self {
            Listener::Session(peer) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .is_ok(),
            Listener::Listen(sink) => sink.notify_resource_updated(uri).await.is_ok(),
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
    /// Subscribes under way: they count against [`MAX_SUBSCRIPTIONS`].
    pending: usize,
    /// The relay's way in, once there is a relay.
    relay: Option<UpdateSink>,
}

struct Subscribed {
    /// Index into the gateway's servers.
    server: usize,
    subscription: ResourceSubscription,
}

/// A subscribe under way, counted in [`State::pending`] until it drops.
struct Pending<'a>(&'a Subscriptions);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.state().pending -= 1;
    }
}

/// The error of a subscribe beyond [`MAX_SUBSCRIPTIONS`].
fn too_many_subscriptions(uri: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!(
            "Too many resource subscriptions: a session subscribes to at most \
             {MAX_SUBSCRIPTIONS} resources at once; unsubscribe from one first"
        ),
        Some(json!({"uri": uri, "limit": MAX_SUBSCRIPTIONS})),
    )
}

impl Subscriptions {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Room for a subscribe of `uri`, held until the guard drops: `None`
    /// when the session has subscribed it already, an error when it has
    /// [`MAX_SUBSCRIPTIONS`] (subscribed or under way).
    fn reserve(&self, uri: &str) -> Result<Option<Pending<'_>>, ErrorData> {
        let mut state = self.state();
        if state.by_uri.contains_key(uri) {
            return Ok(None);
        }
        if state.by_uri.len() + state.pending >= MAX_SUBSCRIPTIONS {
            return Err(too_many_subscriptions(uri));
        }
        state.pending += 1;
        Ok(Some(Pending(self)))
    }

    /// Subscribes `uri` on `server` (a no-op when the session has already;
    /// refused beyond [`MAX_SUBSCRIPTIONS`]); the first subscription starts
    /// the session's relay to `listener`.
    pub(super) async fn subscribe(
        self: &Arc<Self>,
        surface: &Arc<Surface>,
        server: usize,
        uri: &str,
        listener: Listener,
    ) -> Result<(), ErrorData> {
        let Some(pending) = self.reserve(uri)? else {
            return Ok(());
        };
        let sink = self
            .state()
            .relay
            .get_or_insert_with(|| spawn_relay(listener, Arc::downgrade(self), Arc::clone(surface)))
            .clone();
        let subscription = surface.servers[server]
            .app
            .subscribe_resource(uri, sink)
            .await
            .map_err(|failure| resources::resource_error(uri, failure))?;
        // A concurrent subscribe of the same URI may have won: this one
        // drops (its route with it).
        let lost_race = {
            let mut state = self.state();
            match state.by_uri.entry(uri.to_string()) {
                std::collections::hash_map::Entry::Occupied(_) => Some(subscription),
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert(Subscribed {
                        server,
                        subscription,
                    });
                    None
                }
            }
        };
        // Outside the lock: the drop may spawn the upstream unsubscribe.
        drop(lost_race);
        drop(pending);
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
            let shown = redact(&uri);
            match served.app.subscribe_resource(&uri, sink.clone()).await {
                Ok(subscription) => {
                    tracing::info!(uri = %shown, server = %served.name, "resource subscription sent again on the new upstream connection");
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
                    tracing::info!(uri = %shown, server = %served.name, "resource subscription ended: the server no longer lists it");
                    let ended = self.state().by_uri.remove(&uri);
                    drop(ended);
                }
                Err(failure) => {
                    tracing::debug!(uri = %shown, server = %served.name, status = failure.answer.status.as_u16(), "resource subscription not sent again yet");
                }
            }
        }
    }
}

/// The task passing a session's updates on to `listener`, and subscribing
/// again what a lost connection took. It ends when the session's
/// subscriptions are gone (every sink with them) or the listener is.
fn spawn_relay(
    listener: Listener,
    session: Weak<Subscriptions>,
    surface: Arc<Surface>,
) -> UpdateSink {
    let (sink, updates) = update_queue(MAX_SUBSCRIPTIONS);
    tokio::spawn(relay(listener, updates, session, surface));
    sink
}

async fn relay(
    listener: Listener,
    mut updates: Updates,
    session: Weak<Subscriptions>,
    surface: Arc<Surface>,
) {
    let mut check = tokio::time::interval(RESUBSCRIBE_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            uri = updates.recv() => {
                let Some(uri) = uri else { break };
                if !listener.send(uri).await {
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
}

impl Gateway {
    /// `subscriptions/listen` (2026-07-28): the accepted resource URIs
    /// admitted as `resources/subscribe` admits them and subscribed
    /// upstream, their updates sent on the stream until the client cancels
    /// it. An accepted URI refused now (a live list that does not hold it)
    /// gets no updates.
    pub(super) async fn listen_for_updates(&self, context: SubscriptionContext) {
        let uris = context
            .accepted()
            .resource_subscriptions
            .clone()
            .unwrap_or_default();
        let subscriptions = Arc::new(Subscriptions::default());
        let listener = Listener::Listen(context.sink().clone());
        let caller = super::caller_of(context.request_context());
        for uri in &uris {
            let subscribed = match self.subscribable_server(uri, &caller).await {
                Ok(server) => {
                    subscriptions
                        .subscribe(&self.inner, server, uri, listener.clone())
                        .await
                }
                Err(error) => Err(error),
            };
            if let Err(error) = subscribed {
                let message = redact(&error.message).into_owned();
                tracing::warn!(uri = %redact(uri), code = error.code.0, %message, "a resource of subscriptions/listen could not be subscribed");
            }
        }
        context.cancelled().await;
        drop(subscriptions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_subscribes_to_at_most_its_limit_at_once() {
        let session = Subscriptions::default();
        let under_way: Vec<Pending<'_>> = (0..MAX_SUBSCRIPTIONS)
            .map(|n| {
                session
                    .reserve(&format!("demo://r/{n}"))
                    .expect("room")
                    .expect("not subscribed yet")
            })
            .collect();
        let Err(refused) = session.reserve("demo://r/last") else {
            panic!("beyond the limit");
        };
        assert_eq!(refused.code.0, -32602);
        assert!(
            refused.message.contains("at most 256 resources"),
            "{}",
            refused.message
        );
        assert_eq!(
            refused.data,
            Some(json!({"uri": "demo://r/last", "limit": 256}))
        );
        drop(under_way);
        assert!(
            session
                .reserve("demo://r/last")
                .expect("room again")
                .is_some(),
            "an ended subscribe frees its room"
        );
    }
}
