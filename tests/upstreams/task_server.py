#!/usr/bin/env python3
"""An MCP server over stdio whose tools run as MCP tasks (protocol revision
2025-11-25: `execution.taskSupport`, `tools/call` with a `task` parameter,
`tasks/get`, `tasks/result`, `tasks/list`, `tasks/cancel`), each one an edge
case of the proxy's task support (tests/proxy_contract/tasks.rs).

Standard library only (Python 3.11). Newline-delimited JSON-RPC on
stdin/stdout; logs go to stderr, one line each, prefixed `task_server:`.
Every request is answered on a thread of its own, so a `tasks/result` that
waits for a task's end holds up no other request.

Tools (each must be called as a task, `taskSupport: "required"`, unless
said; a plain call of one is JSON-RPC error -32601):

    slow_task {seconds}       completes after `seconds` with the text
                              `done after N s`; a `tasks/cancel` before then
                              stops it (logged: `task <id> cancelled`)
    failing_task {}           fails: status `failed`, and `tasks/result`
                              answers JSON-RPC error -32603
                              `the task failed on purpose`
    short_lived_task {answer_after?}
                              kept for 1 s (its ttl, whatever the client
                              asked), completes after 3 s: by then it is an
                              `unknown task` (-32602). `answer_after`
                              (seconds, default 0): its creation is answered
                              that late, while its ttl already runs
    huge_result_task {kilobytes}
                              completes at once with one text block of that
                              many KiB (`0000000|0000001|...`, 8 characters
                              per number)
    optional_task {}          `taskSupport: "optional"`: a plain call answers
                              `plain` at once; as a task it completes after
                              1 s with `as a task`
    exit_mid_task {}          creates its task, then the whole process exits
                              (status 1) a second later: an upstream that
                              crashes mid-task

Tasks are kept for the ttl the client asks for, but at least a minute (the
2025-11-25 revision lets a receiver choose the ttl it keeps a task for, and
says which in the task): the proxy asks a plain call's task for its call
timeout, so the `tasks/cancel` it sends when that timeout passes would
otherwise race the task's expiry. short_lived_task keeps its own 1 s. Once its ttl
has passed a task is unknown (-32602 `unknown task`) and, if it was still
working, stopped. A `tasks/result` that waits for a task ends with that
error when the ttl passes first.
"""

import json
import os
import sys
import threading
import time
import uuid
from datetime import datetime, timezone

PROTOCOL_VERSION = "2025-11-25"

# JSON-RPC error codes.
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603

# How long a task is kept at least, and short_lived_task's own ttl (ms).
MIN_TTL_MS = 60_000
SHORT_TTL_MS = 1_000
# What the tasks ask their client to poll at (ms).
POLL_INTERVAL_MS = 200

TERMINAL = ("completed", "failed", "cancelled")


_log_lock = threading.Lock()


def log(message):
    # One write per line, under a lock: lines of threads never interleave.
    with _log_lock:
        sys.stderr.write(f"task_server: {message}\n")
        sys.stderr.flush()


_write_lock = threading.Lock()


def send(message):
    line = json.dumps(message, separators=(",", ":")) + "\n"
    with _write_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class NoAnswer(Exception):
    """The request was cancelled by its client: nothing is sent back."""


def now_iso():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text_result(text):
    return {"content": [{"type": "text", "text": text}], "isError": False}


class Task:
    def __init__(self, tool, ttl_ms):
        self.id = uuid.uuid4().hex
        self.tool = tool
        self.status = "working"
        self.status_message = None
        self.created_at = now_iso()
        self.last_updated_at = self.created_at
        self.ttl_ms = ttl_ms
        self.expires = time.monotonic() + ttl_ms / 1000
        # ("result", CallToolResult) or ("error", {code, message}) once ended.
        self.outcome = None
        # Set when the work must stop: cancelled, or the ttl passed.
        self.stop = threading.Event()

    def as_json(self):
        task = {
            "taskId": self.id,
            "status": self.status,
            "createdAt": self.created_at,
            "lastUpdatedAt": self.last_updated_at,
            "ttl": self.ttl_ms,
            "pollInterval": POLL_INTERVAL_MS,
        }
        if self.status_message is not None:
            task["statusMessage"] = self.status_message
        return task


# Every task, by id, and the request ids the client cancelled; `changed`
# (its lock guards both) is told whenever a task ends or a request is
# cancelled.
tasks = {}
cancelled_requests = set()
changed = threading.Condition()


def find(task_id):
    """The task `task_id`, under `changed`'s lock: forgets (and stops) an
    expired one; -32602 when unknown."""
    task = tasks.get(task_id)
    if task is not None and time.monotonic() >= task.expires:
        del tasks[task_id]
        task.stop.set()
        log(f"task {task_id} expired ({task.status})")
        task = None
    if task is None:
        raise RpcError(INVALID_PARAMS, "unknown task")
    return task


def end(task, status, outcome, message=None):
    """Ends a working task (a task that already ended stays as it is)."""
    with changed:
        if task.status in TERMINAL:
            return
        task.status = status
        task.status_message = message
        task.outcome = outcome
        task.last_updated_at = now_iso()
        changed.notify_all()
    log(f"task {task.id} {status}")


def complete_after(task, seconds, text):
    """Completes `task` with `text` after `seconds`, unless stopped first."""

    def work():
        if not task.stop.wait(seconds):
            end(task, "completed", ("result", text_result(text)))

    threading.Thread(target=work, daemon=True).start()


def later(seconds, action):
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()


def arguments_of(params):
    arguments = params.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "arguments must be an object")
    return arguments


def number_argument(arguments, name, kind):
    value = arguments.get(name)
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if kind is int else "a number"
        raise RpcError(INVALID_PARAMS, f"`{name}` must be {what}")
    return value


def huge_text(kilobytes):
    # 128 numbers of 8 characters make one KiB.
    return "".join(f"{i:07d}|" for i in range(kilobytes * 128))


def seconds_text(seconds):
    return f"done after {seconds:g} s"


def tool(name, description, properties=None, required=(), support="required"):
    """A tool object; `properties` and `required` make its input schema."""
    schema = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = list(required)
    return {
        "name": name,
        "description": description,
        "inputSchema": schema,
        "execution": {"taskSupport": support},
    }


TOOLS = [
    tool(
        "slow_task",
        "Completes after `seconds` seconds.",
        {"seconds": {"type": "number", "minimum": 0}},
        required=["seconds"],
    ),
    tool("failing_task", "A task that fails."),
    tool(
        "short_lived_task",
        "A task kept for 1 s that completes after 3 s; its creation is"
        " answered `answer_after` seconds late.",
        {"answer_after": {"type": "number", "minimum": 0}},
    ),
    tool(
        "huge_result_task",
        "Completes at once with a text of `kilobytes` KiB.",
        {"kilobytes": {"type": "integer", "minimum": 0}},
        required=["kilobytes"],
    ),
    tool(
        "optional_task",
        "Answers `plain` at once, or `as a task` after 1 s as a task.",
        support="optional",
    ),
    tool("exit_mid_task", "Creates its task, then the server exits a second later."),
]
SUPPORT = {tool["name"]: tool["execution"]["taskSupport"] for tool in TOOLS}


def create_task(tool, params, arguments):
    """Starts `tool` as a task: the CreateTaskResult."""
    asked = params["task"].get("ttl") if isinstance(params["task"], dict) else None
    if tool == "short_lived_task":
        ttl = SHORT_TTL_MS
    else:
        ttl = max(asked if isinstance(asked, int) else 0, MIN_TTL_MS)
    # The arguments are checked before a task exists.
    if tool == "slow_task":
        seconds = number_argument(arguments, "seconds", (int, float))
    elif tool == "huge_result_task":
        kilobytes = number_argument(arguments, "kilobytes", int)
    elif tool == "short_lived_task" and "answer_after" in arguments:
        answer_after = number_argument(arguments, "answer_after", (int, float))
    task = Task(tool, ttl)
    with changed:
        tasks[task.id] = task
    created = {"task": task.as_json()}
    log(f"task {task.id} created for {tool} (ttl {ttl} ms)")
    if tool == "slow_task":
        complete_after(task, seconds, seconds_text(seconds))
    elif tool == "failing_task":

        def fail():
            end(
                task,
                "failed",
                ("error", {"code": INTERNAL_ERROR, "message": "the task failed on purpose"}),
                "the task failed on purpose",
            )

        later(0.1, fail)
    elif tool == "short_lived_task":
        complete_after(task, 3, "short-lived task done")
        if "answer_after" in arguments:
            time.sleep(answer_after)
    elif tool == "huge_result_task":
        complete_after(task, 0, huge_text(kilobytes))
    elif tool == "optional_task":
        complete_after(task, 1, "as a task")
    elif tool == "exit_mid_task":

        def crash():
            log(f"exiting mid-task (pid {os.getpid()})")
            os._exit(1)

        later(1.0, crash)
    return created


def tools_call(params):
    tool = params.get("name")
    if tool not in SUPPORT:
        raise RpcError(INVALID_PARAMS, f"unknown tool: {tool}")
    arguments = arguments_of(params)
    if params.get("task") is not None:
        return create_task(tool, params, arguments)
    if SUPPORT[tool] == "required":
        raise RpcError(METHOD_NOT_FOUND, "this tool must be called as a task")
    # optional_task, called plainly.
    return text_result("plain")


def tasks_get(params):
    with changed:
        return find(params.get("taskId")).as_json()


def tasks_result(request_id, params):
    """Waits for the task's end, then answers what the call would have."""
    task_id = params.get("taskId")
    with changed:
        while True:
            if request_id in cancelled_requests:
                cancelled_requests.discard(request_id)
                raise NoAnswer()
            task = find(task_id)
            if task.status in TERMINAL:
                break
            changed.wait(timeout=max(0.01, min(1.0, task.expires - time.monotonic())))
    if task.status == "cancelled":
        raise RpcError(INTERNAL_ERROR, "the task was cancelled")
    kind, outcome = task.outcome
    if kind == "error":
        raise RpcError(outcome["code"], outcome["message"])
    result = dict(outcome)
    result["_meta"] = {"io.modelcontextprotocol/related-task": {"taskId": task.id}}
    return result


def tasks_cancel(params):
    with changed:
        task = find(params.get("taskId"))
        if task.status in TERMINAL:
            raise RpcError(INVALID_PARAMS, f"the task already ended ({task.status})")
        task.status = "cancelled"
        task.status_message = "cancelled by the client"
        task.last_updated_at = now_iso()
        task.stop.set()
        changed.notify_all()
        answer = task.as_json()
    log(f"task {task.id} cancelled")
    return answer


def tasks_list(_params):
    with changed:
        for task_id in list(tasks):
            try:
                find(task_id)
            except RpcError:
                pass
        return {"tasks": [task.as_json() for task in tasks.values()]}


def initialize(_params):
    return {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {
            "tools": {},
            "tasks": {"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}},
        },
        "serverInfo": {"name": "task-server", "version": "1.0.0"},
        "instructions": "Test server: every tool runs as an MCP task.",
    }


def answer(request_id, method, params):
    handlers = {
        "initialize": initialize,
        "ping": lambda _params: {},
        "tools/list": lambda _params: {"tools": TOOLS},
        "tools/call": tools_call,
        "tasks/get": tasks_get,
        "tasks/result": lambda params: tasks_result(request_id, params),
        "tasks/cancel": tasks_cancel,
        "tasks/list": tasks_list,
    }
    try:
        handler = handlers.get(method)
        if handler is None:
            raise RpcError(METHOD_NOT_FOUND, f"Method not found: {method}")
        result = handler(params)
    except NoAnswer:
        return
    except RpcError as error:
        send_error(request_id, error.code, error.message)
        return
    except Exception as error:  # noqa: BLE001 - any bug is the request's error
        log(f"{method} failed: {error!r}")
        send_error(request_id, INTERNAL_ERROR, str(error))
        return
    send({"jsonrpc": "2.0", "id": request_id, "result": result})


def send_error(request_id, code, message):
    send({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}})


def notified(method, params):
    if method == "notifications/cancelled":
        request_id = params.get("requestId")
        log(f"cancelled request {request_id}")
        with changed:
            cancelled_requests.add(request_id)
            changed.notify_all()
    elif method == "notifications/initialized":
        log("initialized")


def main():
    log(f"started (pid {os.getpid()})")
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            send_error(None, -32700, "Parse error")
            continue
        if not isinstance(message, dict):
            continue
        method = message.get("method")
        params = message.get("params") or {}
        if method is None:
            # A response to a request of ours: we send none.
            continue
        if "id" in message:
            threading.Thread(
                target=answer, args=(message["id"], method, params), daemon=True
            ).start()
        else:
            notified(method, params)
    log("stdin closed, exiting")
    # Threads still waiting on tasks must not keep the process alive.
    os._exit(0)


if __name__ == "__main__":
    main()
