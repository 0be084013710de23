//! `--tasks-extension`: an upstream that runs long calls the MCP 2026-07-28 ways,
//! so a proxy's support for them can be tested end to end.
//!
//! - The tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`): a
//!   `tools/call` from a client that declared the extension is answered with a
//!   task handle (`resultType: "task"`); the client polls `tasks/get`, answers
//!   the task's `inputRequests` with `tasks/update` and may `tasks/cancel` it.
//! - Multi round-trip requests (MRTR, SEP-2322): a `tools/call` answered with
//!   `resultType: "input_required"` (`inputRequests` + `requestState`), which the
//!   client retries with `inputResponses` and the same `requestState`.
//!
//! The flag adds the capability and four tools, after the others: `ext_slow`,
//! `ext_ask`, `ext_fail` (tasks) and `mrtr_ask` (MRTR); the README says what each
//! does. Tasks live in one map shared by every session (stdio is one session;
//! over HTTP every session's handler holds the same `Arc`). State changes are
//! made under the map's lock before the request that causes them is answered,
//! so a `tasks/get` after an acknowledged `tasks/update` or `tasks/cancel`
//! already sees the new status.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use rmcp::{
    ErrorData, RoleServer,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CreateTaskResult,
        DetailedTask, ElicitRequest, ElicitRequestParams, ElicitationSchema, GetTaskResult,
        InputRequest, InputRequests, InputRequiredResult, InputResponses, JsonObject, Task,
        TaskPayload, TaskStatus, Tool,
    },
    service::RequestContext,
    task_manager::current_timestamp,
};
use serde_json::{Value, json};

/// `ttlMs` of every task: a finished task is forgotten this long after it was
/// created (checked whenever a task is created or asked about).
const TTL_MS: u64 = 60_000;
/// `pollIntervalMs` of every task.
const POLL_INTERVAL_MS: u64 = 200;
/// The key of the one input request `ext_ask` and `mrtr_ask` make.
const COLOUR: &str = "colour";
/// The `requestState` of `mrtr_ask`'s first answer, which the retry must echo.
const REQUEST_STATE: &str = "asked-once";
/// The error an `ext_fail` task fails with (code -32603).
const FAILURE: &str = "the task failed on purpose";

/// The tools `--tasks-extension` adds, in the order they are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongCallTool {
    /// `ext_slow {"seconds": number}`: a task that completes after `seconds`.
    Slow,
    /// `ext_ask {}`: a task that asks the client for a colour.
    Ask,
    /// `ext_fail {}`: a task that fails at once.
    Fail,
    /// `mrtr_ask {}`: asks for a colour with an MRTR `input_required` result.
    MrtrAsk,
}

impl LongCallTool {
    pub const ALL: [Self; 4] = [Self::Slow, Self::Ask, Self::Fail, Self::MrtrAsk];

    pub fn name(self) -> &'static str {
        match self {
            Self::Slow => "ext_slow",
            Self::Ask => "ext_ask",
            Self::Fail => "ext_fail",
            Self::MrtrAsk => "mrtr_ask",
        }
    }

    /// The tool as listed.
    pub fn definition(self) -> Tool {
        let no_arguments = json!({"type": "object", "properties": {}});
        let (description, input_schema) = match self {
            Self::Slow => (
                "Works for `seconds`, then answers `done after N s`: as a task (tasks extension) when the client declared the extension, else plainly.",
                json!({
                    "type": "object",
                    "properties": {
                        "seconds": {"type": "number", "minimum": 0, "description": "How long the call runs."}
                    },
                    "required": ["seconds"]
                }),
            ),
            Self::Ask => (
                "A task that asks the client for a colour (input_required, answered with tasks/update) and answers `answer: <the response>`. Needs the tasks extension.",
                no_arguments,
            ),
            Self::Fail => (
                "A task that fails at once with JSON-RPC error -32603.",
                no_arguments,
            ),
            Self::MrtrAsk => (
                "Asks the client for a colour with an input_required result (MRTR, protocol 2026-07-28) and, on the retry, answers `answer: <the response>`.",
                no_arguments,
            ),
        };
        serde_json::from_value(json!({
            "name": self.name(),
            "description": description,
            "inputSchema": input_schema,
        }))
        .expect("the long-call tool definitions are valid tools")
    }
}

/// The tasks of `--tasks-extension`, shared by every session.
#[derive(Debug, Default)]
pub struct LongCalls {
    tasks: Mutex<HashMap<String, TaskEntry>>,
}

#[derive(Debug)]
struct TaskEntry {
    /// The base fields as they are now (`status` is set from `state` when sent).
    task: Task,
    created: Instant,
    state: TaskState,
    /// `ext_slow`'s timer, which completes the task; aborted by a cancel.
    timer: Option<tokio::task::JoinHandle<()>>,
}

#[derive(Debug, Clone)]
enum TaskState {
    Working,
    InputRequired(InputRequests),
    Completed(JsonObject),
    Failed(JsonObject),
    Cancelled,
}

impl TaskState {
    fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed(_) | Self::Failed(_) | Self::Cancelled)
    }
}

impl TaskEntry {
    fn set_state(&mut self, state: TaskState, status_message: Option<String>) {
        self.state = state;
        self.task.status_message = status_message;
        self.task.last_updated_at = current_timestamp();
    }

    /// The task as `tasks/get` shows it.
    fn detailed(&self) -> DetailedTask {
        let mut task = self.task.clone();
        let payload = match &self.state {
            TaskState::Working => {
                task.status_message = Some(format!("step {}", self.created.elapsed().as_secs()));
                TaskPayload::Working
            }
            TaskState::InputRequired(requests) => TaskPayload::InputRequired {
                input_requests: requests.clone(),
            },
            TaskState::Completed(result) => TaskPayload::Completed {
                result: result.clone(),
            },
            TaskState::Failed(error) => TaskPayload::Failed {
                error: error.clone(),
            },
            TaskState::Cancelled => TaskPayload::Cancelled,
        };
        DetailedTask::new(task, payload)
    }
}

impl LongCalls {
    /// Answers a `tools/call` of one of the long-call tools.
    pub async fn call(
        self: &Arc<Self>,
        tool: LongCallTool,
        request: CallToolRequestParams,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // rmcp refuses to send a task handle to a client that did not declare
        // the extension (on this request, or at `initialize`); ask it the same.
        let tasks_declared = context
            .client_capabilities()
            .is_some_and(|capabilities| capabilities.supports_tasks());
        match tool {
            LongCallTool::Slow => {
                let arguments = request.arguments.unwrap_or_default();
                let (seconds, duration) = seconds_argument(&arguments)?;
                if tasks_declared {
                    return Ok(self.start_slow(seconds, duration).into());
                }
                tokio::select! {
                    () = tokio::time::sleep(duration) => Ok(done_after(seconds).into()),
                    () = context.ct.cancelled() => {
                        Err(ErrorData::internal_error("request cancelled", None))
                    }
                }
            }
            LongCallTool::Ask if tasks_declared => {
                let state = TaskState::InputRequired(colour_request());
                Ok(self.create(state, None).0.into())
            }
            LongCallTool::Ask => Ok(CallToolResult::error(vec![ContentBlock::text(
                "ext_ask needs the tasks extension",
            )])
            .into()),
            LongCallTool::Fail if tasks_declared => {
                let state = TaskState::Failed(failure_object());
                Ok(self.create(state, Some(FAILURE.to_owned())).0.into())
            }
            // Run plainly, the failure is the call's.
            LongCallTool::Fail => Err(ErrorData::internal_error(FAILURE, None)),
            LongCallTool::MrtrAsk => mrtr_ask(request.input_responses, request.request_state),
        }
    }

    /// `tasks/get`.
    pub fn get(&self, task_id: &str) -> Result<GetTaskResult, ErrorData> {
        let mut tasks = self.lock();
        forget_expired(&mut tasks);
        let entry = tasks.get(task_id).ok_or_else(|| unknown_task(task_id))?;
        Ok(GetTaskResult::new(entry.detailed()))
    }

    /// `tasks/update`: only the outstanding `colour` request of an `ext_ask`
    /// task can be answered; the answer completes the task.
    pub fn update(&self, task_id: &str, responses: &InputResponses) -> Result<(), ErrorData> {
        let mut tasks = self.lock();
        forget_expired(&mut tasks);
        let entry = tasks
            .get_mut(task_id)
            .ok_or_else(|| unknown_task(task_id))?;
        let TaskState::InputRequired(outstanding) = &entry.state else {
            return Err(ErrorData::invalid_params(
                format!(
                    "task {task_id} is not waiting for input (status {})",
                    status_name(entry.detailed().status())
                ),
                None,
            ));
        };
        if let Some(key) = responses.keys().find(|key| !outstanding.contains_key(*key)) {
            return Err(ErrorData::invalid_params(
                format!("task {task_id} has no outstanding input request {key:?}"),
                None,
            ));
        }
        if let Some(answer) = responses.get(COLOUR) {
            let result = result_object(&answer_result(answer));
            entry.set_state(TaskState::Completed(result), None);
        }
        Ok(())
    }

    /// `tasks/cancel`: a task still running (working or waiting for input)
    /// becomes cancelled at once, with a line on stderr for tests; a finished
    /// one stays as it is (cancellation is cooperative, the ack is all a
    /// client is owed).
    pub fn cancel(&self, task_id: &str) -> Result<(), ErrorData> {
        let mut tasks = self.lock();
        forget_expired(&mut tasks);
        let entry = tasks
            .get_mut(task_id)
            .ok_or_else(|| unknown_task(task_id))?;
        if !entry.state.is_terminal() {
            if let Some(timer) = entry.timer.take() {
                timer.abort();
            }
            entry.set_state(
                TaskState::Cancelled,
                Some("cancelled by the client".to_owned()),
            );
            eprintln!("task {task_id} cancelled");
        }
        Ok(())
    }

    /// `ext_slow` as a task: working, with a timer that completes it.
    fn start_slow(self: &Arc<Self>, seconds: f64, duration: Duration) -> CreateTaskResult {
        let (created, task_id) = self.create(TaskState::Working, None);
        let calls = Arc::clone(self);
        let id = task_id.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            let result = result_object(&done_after(seconds));
            if let Some(entry) = calls.lock().get_mut(&id)
                && matches!(entry.state, TaskState::Working)
            {
                entry.timer = None;
                entry.set_state(TaskState::Completed(result), None);
            }
        });
        // The entry is in the map before the timer can look for it; a timer
        // that already fired has nothing left to abort.
        match self.lock().get_mut(&task_id) {
            Some(entry) if matches!(entry.state, TaskState::Working) => entry.timer = Some(timer),
            _ => {}
        }
        created
    }

    /// A new task in `state`, stored before its handle is returned (the spec
    /// wants `tasks/get` to know a task once its `CreateTaskResult` is out).
    /// The handle's seed status is always `working`: the task is created
    /// working and, for `ext_ask` and `ext_fail`, moves on at once.
    fn create(
        &self,
        state: TaskState,
        status_message: Option<String>,
    ) -> (CreateTaskResult, String) {
        let mut tasks = self.lock();
        forget_expired(&mut tasks);
        let task_id = loop {
            let candidate = new_task_id();
            if !tasks.contains_key(&candidate) {
                break candidate;
            }
        };
        let now = current_timestamp();
        let task = Task::new(task_id.clone(), TaskStatus::Working, now.clone(), now)
            .with_ttl_ms(TTL_MS)
            .with_poll_interval_ms(POLL_INTERVAL_MS);
        let seed = CreateTaskResult::new(task.clone());
        let mut entry = TaskEntry {
            task,
            created: Instant::now(),
            state,
            timer: None,
        };
        entry.task.status_message = status_message;
        tasks.insert(task_id.clone(), entry);
        (seed, task_id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, TaskEntry>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Forgets finished tasks whose ttl has passed since they were created.
fn forget_expired(tasks: &mut HashMap<String, TaskEntry>) {
    let ttl = Duration::from_millis(TTL_MS);
    tasks.retain(|_, entry| !(entry.state.is_terminal() && entry.created.elapsed() >= ttl));
}

/// `mrtr_ask`: the first call asks; a retry with the answer and the echoed
/// `requestState` gets it back.
fn mrtr_ask(
    responses: Option<InputResponses>,
    request_state: Option<String>,
) -> Result<CallToolResponse, ErrorData> {
    let Some(responses) = responses else {
        return Ok(InputRequiredResult::new(
            Some(colour_request()),
            Some(REQUEST_STATE.to_owned()),
        )
        .into());
    };
    if request_state.as_deref() != Some(REQUEST_STATE) {
        return Err(ErrorData::invalid_params(
            format!("mrtr_ask: requestState must be {REQUEST_STATE:?}, got {request_state:?}"),
            None,
        ));
    }
    let answer = responses.get(COLOUR).ok_or_else(|| {
        ErrorData::invalid_params(format!("mrtr_ask: inputResponses has no {COLOUR:?}"), None)
    })?;
    Ok(answer_result(answer).into())
}

/// `{"colour": <elicitation/create, form mode: "Which colour?">}`.
fn colour_request() -> InputRequests {
    let schema = ElicitationSchema::builder()
        .required_string(COLOUR)
        .build()
        .expect("a schema with one required string is valid");
    let elicitation = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
        meta: None,
        message: "Which colour?".to_owned(),
        requested_schema: schema,
    });
    InputRequests::from([(COLOUR.to_owned(), InputRequest::Elicitation(elicitation))])
}

/// `seconds` of `ext_slow`: a number of seconds a timer can wait.
fn seconds_argument(arguments: &JsonObject) -> Result<(f64, Duration), ErrorData> {
    let seconds = arguments.get("seconds").and_then(Value::as_f64);
    let duration = seconds.and_then(|seconds| Duration::try_from_secs_f64(seconds).ok());
    match (seconds, duration) {
        (Some(seconds), Some(duration)) => Ok((seconds, duration)),
        _ => Err(ErrorData::invalid_params(
            "ext_slow needs `seconds`, a number >= 0",
            None,
        )),
    }
}

fn done_after(seconds: f64) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(format!("done after {seconds} s"))])
}

/// `answer: <compact JSON of the response as received>`.
fn answer_result(answer: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(format!("answer: {answer}"))])
}

fn result_object(result: &CallToolResult) -> JsonObject {
    match serde_json::to_value(result) {
        Ok(Value::Object(object)) => object,
        _ => JsonObject::new(),
    }
}

fn failure_object() -> JsonObject {
    let mut error = JsonObject::new();
    error.insert("code".to_owned(), json!(-32603));
    error.insert("message".to_owned(), json!(FAILURE));
    error
}

fn unknown_task(task_id: &str) -> ErrorData {
    ErrorData::invalid_params("unknown task", Some(json!({"taskId": task_id})))
}

fn status_name(status: TaskStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A random id in the form of a UUID v4, without a uuid dependency: std's
/// `RandomState` is seeded from the OS, and a counter and the clock make
/// every id's input different.
fn new_task_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let random = |salt: u8| RandomState::new().hash_one((count, nanos, salt));
    let high = (random(0) & !0xf000) | 0x4000; // version 4
    let low = (random(1) & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_look_like_uuid_v4_and_differ() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_task_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in ids.iter().take(20) {
            assert_eq!(id.len(), 36, "{id}");
            assert_eq!(&id[14..15], "4", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
    }

    #[test]
    fn seconds_print_as_given() {
        let text = |seconds| {
            let result = done_after(seconds);
            result.content[0].as_text().unwrap().text.clone()
        };
        assert_eq!(text(2.0), "done after 2 s");
        assert_eq!(text(0.5), "done after 0.5 s");
    }

    #[test]
    fn seconds_must_be_a_usable_number() {
        for bad in [json!({}), json!({"seconds": "2"}), json!({"seconds": -1})] {
            let arguments: JsonObject = serde_json::from_value(bad.clone()).unwrap();
            assert!(seconds_argument(&arguments).is_err(), "{bad}");
        }
        let arguments: JsonObject = serde_json::from_value(json!({"seconds": 1.5})).unwrap();
        let (seconds, duration) = seconds_argument(&arguments).unwrap();
        assert_eq!((seconds, duration), (1.5, Duration::from_millis(1500)));
    }

    #[test]
    fn mrtr_ask_needs_the_echoed_state() {
        assert!(matches!(
            mrtr_ask(None, None),
            Ok(CallToolResponse::InputRequired(_))
        ));
        let responses = InputResponses::from([(COLOUR.to_owned(), json!({"action": "decline"}))]);
        assert!(mrtr_ask(Some(responses.clone()), Some("other".into())).is_err());
        assert!(mrtr_ask(Some(responses.clone()), None).is_err());
        assert!(mrtr_ask(Some(InputResponses::new()), Some(REQUEST_STATE.into())).is_err());
        let Ok(CallToolResponse::Complete(result)) =
            mrtr_ask(Some(responses), Some(REQUEST_STATE.into()))
        else {
            panic!("the retry is answered");
        };
        assert_eq!(
            result.content[0].as_text().unwrap().text,
            r#"answer: {"action":"decline"}"#
        );
    }

    #[tokio::test]
    async fn an_ask_task_completes_with_its_answer_and_only_once() {
        let calls = LongCalls::default();
        let (seed, id) = calls.create(TaskState::InputRequired(colour_request()), None);
        assert_eq!(seed.task.status, TaskStatus::Working);
        assert_eq!(
            calls.get(&id).unwrap().task.status(),
            TaskStatus::InputRequired
        );
        let unknown_key = InputResponses::from([("size".to_owned(), json!({}))]);
        assert!(calls.update(&id, &unknown_key).is_err());
        let answer = InputResponses::from([(COLOUR.to_owned(), json!({"action": "cancel"}))]);
        calls.update(&id, &answer).unwrap();
        let got = serde_json::to_value(calls.get(&id).unwrap()).unwrap();
        assert_eq!(got["status"], "completed");
        assert_eq!(
            got["result"]["content"][0]["text"],
            r#"answer: {"action":"cancel"}"#
        );
        assert!(calls.update(&id, &answer).is_err(), "no longer waiting");
        assert!(calls.get("nope").is_err());
        assert!(calls.cancel("nope").is_err());
    }
}
