//! A tool call answered as server-sent events, for a caller whose `Accept`
//! asks for `text/event-stream` at least as much as for JSON: the call
//! goes upstream with a progress token, each progress notification is sent
//! as a `progress` event as it comes, and the call ends with one `result`
//! event (or `error`, for any status but 200) whose data is
//! `{"status": ..., "body": ...}`: the status and body the JSON call would
//! have answered. A caller that stops reading cancels the call upstream,
//! as a JSON caller that disconnects does.
//!
//! Everything decided before the call (the key, the body, the arguments'
//! schema) is answered as a plain HTTP error instead: no stream starts for
//! a call that never goes upstream.

use std::convert::Infallible;
use std::pin::Pin;
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use rmcp::model::{NumberOrString, ProgressNotificationParam, ProgressToken};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::app::App;
use crate::tool_answer::TypedChecks;

/// The media type a caller asks for to get the call's progress.
pub(crate) const EVENT_STREAM: &str = "text/event-stream";

/// Marks a response whose call is still running: its status and duration
/// are recorded when its stream ends, not when its headers go out.
#[derive(Clone, Copy)]
pub(crate) struct StreamedCall;

/// The call of `tool` with its checked `arguments`, answered as an event
/// stream.
pub(crate) fn respond(
    app: App,
    tool: &'static str,
    arguments: rmcp::model::JsonObject,
    checks: TypedChecks,
    caller: crate::identity::Caller,
    started: Instant,
) -> Response {
    let (sink, progress) = mpsc::unbounded_channel();
    // One call per route: the token only has to be the same on the way back.
    let caller_token = ProgressToken(NumberOrString::Number(0));
    let span = tracing::Span::current();
    let call = {
        let app = app.clone();
        async move {
            let outcome = app
                .call_checked(
                    tool,
                    arguments,
                    &caller,
                    crate::upstream::CallRelays {
                        progress: Some((caller_token, sink)),
                        forms: None,
                    },
                )
                .await;
            let (status, body) = match outcome {
                Ok(result) => match crate::tool_answer::answer_body(tool, result, checks) {
                    Ok(body) => (StatusCode::OK, body),
                    Err(error) => error.into_status_and_body(),
                },
                Err(failure) => failure.answer.into_status_and_body(),
            };
            let status = status.as_u16();
            crate::telemetry::record_status(&tracing::Span::current(), status);
            app.state()
                .metrics
                .record_call(tool, status, started.elapsed());
            tracing::debug!(
                tool,
                status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "tool call (event stream)"
            );
            (status, body)
        }
        .instrument(span)
    };
    let events = CallEvents {
        call: Some(Box::pin(call)),
        progress,
        outcome: None,
    };
    let stream = futures::stream::unfold(events, CallEvents::next);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response();
    response.extensions_mut().insert(StreamedCall);
    response
}

type CallOutcome = (u16, Value);

struct CallEvents {
    /// The call, until it ends.
    call: Option<Pin<Box<dyn Future<Output = CallOutcome> + Send>>>,
    progress: mpsc::UnboundedReceiver<ProgressNotificationParam>,
    /// The call's answer, once it came, sent after the progress still queued.
    outcome: Option<CallOutcome>,
}

impl CallEvents {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if let Some(call) = self.call.as_mut() {
            tokio::select! {
                biased;
                Some(progress) = self.progress.recv() => {
                    return Some((Ok(progress_event(&progress)), self));
                }
                outcome = call => {
                    self.call = None;
                    self.outcome = Some(outcome);
                }
            }
        }
        // Progress sent just before the answer is still queued: it goes first.
        if let Ok(progress) = self.progress.try_recv() {
            return Some((Ok(progress_event(&progress)), self));
        }
        let (status, body) = self.outcome.take()?;
        let name = if status == 200 { "result" } else { "error" };
        let event = Event::default()
            .event(name)
            .data(json!({"status": status, "body": body}).to_string());
        Some((Ok(event), self))
    }
}

fn progress_event(progress: &ProgressNotificationParam) -> Event {
    let mut data = json!({"progress": progress.progress});
    if let Some(total) = progress.total {
        data["total"] = json!(total);
    }
    if let Some(message) = &progress.message {
        data["message"] = json!(message);
    }
    Event::default().event("progress").data(data.to_string())
}
