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
//! URI the same way: every route of the URI gets a copy.
//!
//! A URI is subscribed upstream once per session, however many routes it
//! has. Its upstream state ([`Upstream`]) changes one request at a time,
//! under the URI's own async lock, held across the request
//! ([`UpstreamEvents::subscribe_resource`],
//! [`UpstreamEvents::release_resource`]); a route is added only under that
//! lock. So a second subscriber waits for the first one's subscribe, and
//! sends its own when that one failed; an unsubscribe goes out only when no
//! route is left, and a subscriber that comes meanwhile waits for it and
//! then subscribes again: a route never stays without an upstream
//! subscription behind it while its connection lives.
//!
//! The upstream's `resources/list_changed` and `prompts/list_changed` go
//! nowhere: like its tools, its resources and prompts are what the lock
//! says until a reviewed lock is deployed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rmcp::ClientHandler;
use rmcp::model::{
    ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction, ProgressNotificationParam,
    ProgressToken, RequestParamsMeta as _, ResourceUpdatedNotificationParam,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient};
use tokio::sync::{Mutex as AsyncMutex, Notify, OwnedMutexGuard, mpsc};

/// Where a call's progress goes: each notification, with its token already
/// set back to the one the caller chose.
pub type ProgressSink = mpsc::UnboundedSender<ProgressNotificationParam>;

/// Where the updates of a subscribed resource go: called with the URI of
/// each (an update carries nothing else). It must not block: it is called
/// on the session's notification task.
pub type ResourceSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The events of one upstream session. Each session the supervisor starts
/// (a reconnect included) gets its own: rmcp numbers progress tokens per
/// session, and an upstream subscription lives and dies with its session,
/// so its resource routes do too. Whoever subscribed notices the loss
/// (the transport closed) and subscribes again on the next session.
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
    /// Resource URI -> its routes and upstream state.
    resources: Mutex<HashMap<String, ResourceEntry>>,
    next_resource_route: AtomicU64,
    /// Upstream task id -> where its elicitation requests go.
    elicitations: Mutex<HashMap<String, ElicitationSink>>,
    /// The proxy's requests in flight on this session (calls, reads, ...).
    in_flight: AtomicU64,
    /// The plain calls in flight whose caller can fill forms in, by number.
    plain_call_forms: Mutex<HashMap<u64, ElicitationSink>>,
    next_plain_call: AtomicU64,
}

/// A form the upstream asks its client to fill in during a task
/// (`elicitation/create`), for the caller that started the task.
pub struct ElicitationAsk {
    /// The request as the upstream made it, for an MCP client to answer.
    pub request: ElicitRequestParams,
    /// What the upstream tells the user it needs.
    pub message: String,
    /// The JSON Schema of the answer's `content`, as the upstream sent it.
    pub requested_schema: serde_json::Value,
    /// Where the caller's answer goes; dropped unanswered, the upstream
    /// gets `cancel`.
    pub reply: tokio::sync::oneshot::Sender<ElicitResult>,
}

/// Where a task's elicitation requests go.
pub type ElicitationSink = mpsc::UnboundedSender<ElicitationAsk>;

/// Where what the upstream says during one call goes, for a caller that
/// can take it.
#[derive(Default)]
pub struct CallRelays {
    /// The caller's progress token and where its notifications go.
    pub progress: Option<(ProgressToken, ProgressSink)>,
    /// Where the forms the upstream asks for during the call go: a task's,
    /// an `input_required` answer's, or one tied to no task while the call
    /// is the session's only request (a caller without one gets them
    /// declined).
    pub forms: Option<ElicitationSink>,
}

/// The longest a form from the upstream waits for its answer.
pub const FORM_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Asks the caller behind `sink` to fill in the upstream's form, and
/// answers as it does: `decline` when nobody can (no sink, a URL form),
/// `cancel` when it does not answer within [`FORM_WAIT`].
pub(crate) async fn ask_form(
    sink: Option<&ElicitationSink>,
    request: ElicitRequestParams,
) -> ElicitResult {
    let ElicitRequestParams::FormElicitationParams {
        message,
        requested_schema,
        ..
    } = request.clone()
    else {
        tracing::info!("declined a URL elicitation from the upstream: no caller can open it");
        return ElicitResult::new(ElicitationAction::Decline);
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    let ask = ElicitationAsk {
        request,
        message,
        requested_schema: serde_json::to_value(requested_schema).unwrap_or_default(),
        reply,
    };
    if sink.is_none_or(|sink| sink.send(ask).is_err()) {
        tracing::info!(
            "declined an elicitation from the upstream: no caller that can answer forms waits on it (a REST call without Prefer: respond-async, an MCP client without elicitation, or a form tied to no task while other requests were in flight)"
        );
        return ElicitResult::new(ElicitationAction::Decline);
    }
    // A form nobody answers must not hold on.
    tokio::time::timeout(FORM_WAIT, answer)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_else(|| ElicitResult::new(ElicitationAction::Cancel))
}

/// The `_meta` key that ties a message to the task it is about.
pub const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

struct Route {
    caller_token: ProgressToken,
    sink: ProgressSink,
}

/// One URI's routes, and where its subscription stands upstream.
#[derive(Default)]
struct ResourceEntry {
    /// The sinks its updates go to, by route id.
    routes: Vec<(u64, ResourceSink)>,
    /// Its lock: changed only by whoever holds it, for the time of the
    /// request that changes it upstream. The entry is forgotten only by a
    /// holder (routes gone, unsubscribed), so a waiter that gets a forgotten
    /// lock knows to take the URI's new one.
    upstream: Arc<AsyncMutex<Upstream>>,
}

/// Where a URI's subscription stands on the upstream session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Upstream {
    /// Not subscribed: never, refused, or unsubscribed.
    #[default]
    Unsubscribed,
    /// A subscribe is in flight, or was dropped before its answer came
    /// (perhaps subscribed): the next subscriber sends it again, the next
    /// release unsubscribes.
    Subscribing,
    /// The upstream confirmed the subscription.
    Subscribed,
    /// An unsubscribe is in flight, or was dropped before its answer came
    /// (perhaps still subscribed): the next subscriber subscribes again.
    Unsubscribing,
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

    /// Routes the elicitation requests the upstream makes for its task
    /// `task_id` to `sink` until the returned guard drops. Requests no
    /// route takes are declined, as a client that cannot ask anyone would.
    pub fn elicitation_route(&self, task_id: String, sink: ElicitationSink) -> ElicitationRoute {
        self.elicitations().insert(task_id.clone(), sink);
        ElicitationRoute {
            events: self.clone(),
            task_id,
        }
    }

    fn elicitations(&self) -> std::sync::MutexGuard<'_, HashMap<String, ElicitationSink>> {
        self.inner
            .elicitations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one request of the proxy's in flight on this session until
    /// the returned guard drops.
    pub(crate) fn request_in_flight(&self) -> InFlight {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Lets the forms the upstream asks for with no task go to `sink`
    /// (a plain call's caller) while that call is the only request in
    /// flight, until the returned guard drops.
    pub(crate) fn plain_call_forms(&self, sink: ElicitationSink) -> PlainCallForms {
        let number = self.inner.next_plain_call.fetch_add(1, Ordering::Relaxed);
        self.plain_forms().insert(number, sink);
        PlainCallForms {
            events: self.clone(),
            number,
        }
    }

    /// Where a form the upstream asks for outside any task goes: MCP does
    /// not say which request it is for, so only when one request is in
    /// flight on the session, and that one's caller can answer it.
    fn sole_call_forms(&self) -> Option<ElicitationSink> {
        if self.inner.in_flight.load(Ordering::Relaxed) != 1 {
            return None;
        }
        let forms = self.plain_forms();
        match forms.len() {
            1 => forms.values().next().cloned(),
            _ => None,
        }
    }

    fn plain_forms(&self) -> std::sync::MutexGuard<'_, HashMap<u64, ElicitationSink>> {
        self.inner
            .plain_call_forms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Where the forms of the upstream task `task_id` go, if its caller
    /// can answer them.
    pub(crate) fn form_sink(&self, task_id: &str) -> Option<ElicitationSink> {
        self.elicitations().get(task_id).cloned()
    }

    /// The answer to an `elicitation/create`: the routed caller's, or
    /// `decline` when no caller of its task can answer (no route, a URL
    /// elicitation, a request for no task).
    async fn elicit(
        &self,
        request: ElicitRequestParams,
        context_meta: &rmcp::model::RequestMetaObject,
        cancelled: &tokio_util::sync::CancellationToken,
    ) -> ElicitResult {
        // rmcp moves a request's `_meta` to its context as it reads it.
        let task_id = request
            .meta()
            .and_then(|meta| meta.get(RELATED_TASK))
            .or_else(|| context_meta.get(RELATED_TASK))
            .and_then(|related| related.get("taskId"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        let sink = match task_id {
            Some(task_id) => self.form_sink(&task_id),
            None => self.sole_call_forms(),
        };
        tokio::select! {
            answer = ask_form(sink.as_ref(), request) => answer,
            // The upstream withdrew the request.
            () = cancelled.cancelled() => ElicitResult::new(ElicitationAction::Cancel),
        }
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<ProgressToken, Route>> {
        self.inner
            .routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A new resource route id, taken before
    /// [`UpstreamEvents::subscribe_resource`] so that a subscriber dropped
    /// halfway knows which route to end.
    pub fn new_resource_route(&self) -> u64 {
        self.inner
            .next_resource_route
            .fetch_add(1, Ordering::Relaxed)
    }

    /// Routes the updates of `uri` to `sink` as route `route`, the URI
    /// subscribed upstream by `subscribe` unless it is already. Waits for
    /// any subscribe or unsubscribe of the URI in flight first. When
    /// `subscribe` fails, no route is added and its error is returned.
    ///
    /// Dropped halfway (a timeout), the route may stay: the caller ends it
    /// ([`UpstreamEvents::remove_resource_route`]) and releases the URI
    /// ([`UpstreamEvents::release_resource`]), which unsubscribes what the
    /// dropped subscribe may have subscribed.
    pub async fn subscribe_resource<E, Fut>(
        &self,
        uri: &str,
        route: u64,
        sink: ResourceSink,
        subscribe: impl FnOnce() -> Fut,
    ) -> Result<(), E>
    where
        Fut: Future<Output = Result<(), E>>,
    {
        let mut upstream = self.lock_resource(uri).await;
        // Routed before the answer, so an update sent right after it is not lost.
        if let Some(entry) = self.resources().get_mut(uri) {
            entry.routes.push((route, sink));
        }
        if *upstream == Upstream::Subscribed {
            return Ok(());
        }
        *upstream = Upstream::Subscribing;
        match subscribe().await {
            Ok(()) => {
                *upstream = Upstream::Subscribed;
                Ok(())
            }
            Err(error) => {
                *upstream = Upstream::Unsubscribed;
                self.remove_resource_route(uri, route);
                self.forget_if_idle(uri, &upstream);
                Err(error)
            }
        }
    }

    /// Ends the route `id` of `uri` (its updates stop at once); the caller
    /// then releases the URI ([`UpstreamEvents::release_resource`]).
    pub fn remove_resource_route(&self, uri: &str, id: u64) {
        if let Some(entry) = self.resources().get_mut(uri) {
            entry.routes.retain(|(route, _)| *route != id);
        }
    }

    /// Unsubscribes `uri` upstream by `unsubscribe` when no route of it is
    /// left and it is (perhaps) subscribed; says whether it did. Waits for
    /// any subscribe or unsubscribe of the URI in flight first; a subscriber
    /// that comes while this one's unsubscribe is in flight waits for it,
    /// and subscribes again.
    pub async fn release_resource<Fut>(&self, uri: &str, unsubscribe: impl FnOnce() -> Fut) -> bool
    where
        Fut: Future<Output = ()>,
    {
        let mut upstream = self.lock_resource(uri).await;
        let idle = self
            .resources()
            .get(uri)
            .is_none_or(|entry| entry.routes.is_empty());
        let unsubscribing = idle && *upstream != Upstream::Unsubscribed;
        if unsubscribing {
            *upstream = Upstream::Unsubscribing;
            unsubscribe().await;
            // Whatever its answer: the upstream's updates of a URI nobody
            // routes go nowhere, and the next subscriber subscribes anew.
            *upstream = Upstream::Unsubscribed;
        }
        self.forget_if_idle(uri, &upstream);
        unsubscribing
    }

    /// The lock of `uri`'s upstream state, its entry made when there is
    /// none.
    async fn lock_resource(&self, uri: &str) -> OwnedMutexGuard<Upstream> {
        loop {
            let upstream = Arc::clone(
                &self
                    .resources()
                    .entry(uri.to_string())
                    .or_default()
                    .upstream,
            );
            let guard = upstream.lock_owned().await;
            // Its entry may have been forgotten while this one waited.
            let current = self
                .resources()
                .get(uri)
                .is_some_and(|entry| Arc::ptr_eq(&entry.upstream, OwnedMutexGuard::mutex(&guard)));
            if current {
                return guard;
            }
        }
    }

    /// Forgets `uri`'s entry when it has no routes and nothing is
    /// subscribed; `upstream` is its lock, held.
    fn forget_if_idle(&self, uri: &str, upstream: &OwnedMutexGuard<Upstream>) {
        if **upstream != Upstream::Unsubscribed {
            return;
        }
        let mut resources = self.resources();
        let idle = resources.get(uri).is_some_and(|entry| {
            entry.routes.is_empty()
                && Arc::ptr_eq(&entry.upstream, OwnedMutexGuard::mutex(upstream))
        });
        if idle {
            resources.remove(uri);
        }
    }

    fn resources(&self) -> std::sync::MutexGuard<'_, HashMap<String, ResourceEntry>> {
        self.inner
            .resources
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn forward_resource_updated(&self, update: &ResourceUpdatedNotificationParam) {
        // Called outside the map's lock.
        let sinks: Vec<ResourceSink> = match self.resources().get(&update.uri) {
            Some(entry) => entry
                .routes
                .iter()
                .map(|(_, sink)| Arc::clone(sink))
                .collect(),
            None => Vec::new(),
        };
        if sinks.is_empty() {
            // Nobody subscribes (any more), or a URI we never asked for.
            tracing::debug!(uri = %crate::redact::redact(&update.uri), "an update of a resource nobody subscribes to");
        }
        for sink in sinks {
            sink(&update.uri);
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

/// One request in flight ([`UpstreamEvents::request_in_flight`]).
pub(crate) struct InFlight(UpstreamEvents);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inner.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A plain call's forms route ([`UpstreamEvents::plain_call_forms`]).
pub(crate) struct PlainCallForms {
    events: UpstreamEvents,
    number: u64,
}

impl Drop for PlainCallForms {
    fn drop(&mut self) {
        self.events.plain_forms().remove(&self.number);
    }
}

/// A task's elicitation route; dropping it ends the route.
pub struct ElicitationRoute {
    events: UpstreamEvents,
    task_id: String,
}

impl Drop for ElicitationRoute {
    fn drop(&mut self) {
        self.events.elicitations().remove(&self.task_id);
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

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        Ok(self
            .events
            .elicit(request, &context.meta, &context.ct)
            .await)
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
mod tests;
