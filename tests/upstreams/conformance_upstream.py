#!/usr/bin/env python3
"""The upstream MCP server the official conformance suite's SERVER scenarios
expect (@modelcontextprotocol/conformance 0.1.16, pinned in
tests/conformance/package.json): every tool, resource, resource template and
prompt those scenarios call, by the names and with the behaviour they check.

Built on the official MCP Python SDK (mcp==2.3.0, in target/test-tools/mcp-venv,
installed by scripts/setup-test-deps.sh), after the SDK's own conformance
"everything server" (examples/servers/everything-server in
modelcontextprotocol/python-sdk) and the suite's TypeScript one
(examples/servers/typescript/everything-server.ts in
modelcontextprotocol/conformance).

    conformance_upstream.py --port PORT [--host 127.0.0.1]   streamable HTTP at
                                                             http://HOST:PORT/mcp
    conformance_upstream.py --stdio                          stdio (newline-delimited
                                                             JSON-RPC on stdin/stdout)

Over HTTP on a loopback host the SDK turns DNS-rebinding protection on (Host and
Origin must name a loopback address, else 421/403), keeps events in an
in-memory event store (resumption with Last-Event-ID, SEP-1699) and sends a
`retry` hint in its SSE priming events (--retry-interval, ms). Logs go to
stderr in both modes; stdout is the protocol in stdio mode.
"""

import argparse
import asyncio
import base64
import json
import logging
import warnings
from typing import Any

from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp.types import (
    AudioContent,
    Completion,
    CompletionArgument,
    CompletionContext,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    JSONRPCMessage,
    PromptReference,
    ResourceTemplateReference,
    SamplingMessage,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    TextResourceContents,
    UnsubscribeRequestParams,
)
from sdk_upstream import add_http_flags, log_to_stderr

# Sampling, logging and roots are deprecated as of the 2026-07-28 revision;
# the scenarios here are 2025-06-18 / 2025-11-25 ones, which use them.
warnings.filterwarnings("ignore", message=".*deprecated as of 2026-07-28.*")

logger = logging.getLogger("conformance-upstream")

# A 1x1 red PNG and a minimal WAV, the suite's own test data.
TEST_IMAGE_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
TEST_AUDIO_BASE64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


class InMemoryEventStore(EventStore):
    """Every SSE event of every stream, for replay after Last-Event-ID (SEP-1699)."""

    def __init__(self) -> None:
        self._events: list[tuple[str, str, JSONRPCMessage | None]] = []
        self._counter = 0

    async def store_event(self, stream_id: str, message: JSONRPCMessage | None) -> str:
        self._counter += 1
        event_id = str(self._counter)
        self._events.append((stream_id, event_id, message))
        return event_id

    async def replay_events_after(self, last_event_id: str, send_callback: EventCallback) -> str | None:
        stream = next((s for s, e, _ in self._events if e == last_event_id), None)
        if stream is None:
            return None
        for s, event_id, message in self._events:
            # None is a priming event: nothing to replay.
            if s == stream and int(event_id) > int(last_event_id) and message is not None:
                await send_callback(EventMessage(message, event_id))
        return stream


mcp = MCPServer(name="mcp-conformance-test-server", version="1.0.0")

# Per-connection state: the session (its Connection object) -> value.
_log_levels: dict[int, str] = {}
_subscriptions: dict[int, set[str]] = {}


def _connection_key(ctx: Any) -> int:
    # ServerSession keeps the Connection it belongs to; one per MCP session.
    session = ctx.session
    return id(getattr(session, "_connection", session))


async def _log(ctx: Context, level: str, data: Any) -> None:
    """notifications/message on this request's stream, unless below the level the
    client set with logging/setLevel (no level set: everything is sent)."""
    floor = _log_levels.get(_connection_key(ctx))
    if floor is not None and LOG_LEVELS.index(level) < LOG_LEVELS.index(floor):
        return
    await ctx.log(level, data, logger_name="conformance-test-server")


# ===== TOOLS =====


@mcp.tool()
def test_simple_text() -> str:
    """Tests simple text content response"""
    return "This is a simple text response for testing."


@mcp.tool()
def test_image_content() -> list[ImageContent]:
    """Tests image content response"""
    return [ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")]


@mcp.tool()
def test_audio_content() -> list[AudioContent]:
    """Tests audio content response"""
    return [AudioContent(type="audio", data=TEST_AUDIO_BASE64, mime_type="audio/wav")]


@mcp.tool()
def test_embedded_resource() -> list[EmbeddedResource]:
    """Tests embedded resource content response"""
    return [
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri="test://embedded-resource",
                mime_type="text/plain",
                text="This is an embedded resource content.",
            ),
        )
    ]


@mcp.tool()
def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
    """Tests response with multiple content types (text, image, resource)"""
    return [
        TextContent(type="text", text="Multiple content types test:"),
        ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png"),
        EmbeddedResource(
            type="resource",
            resource=TextResourceContents(
                uri="test://mixed-content-resource",
                mime_type="application/json",
                text=json.dumps({"test": "data", "value": 123}),
            ),
        ),
    ]


@mcp.tool()
async def test_tool_with_logging(ctx: Context) -> str:
    """Tests tool that emits log messages during execution"""
    await _log(ctx, "info", "Tool execution started")
    await asyncio.sleep(0.05)
    await _log(ctx, "info", "Tool processing data")
    await asyncio.sleep(0.05)
    await _log(ctx, "info", "Tool execution completed")
    return "Tool with logging executed successfully"


@mcp.tool()
async def test_tool_with_progress(ctx: Context) -> str:
    """Tests tool that reports progress notifications"""
    # report_progress is a no-op when the request carried no _meta.progressToken.
    await ctx.report_progress(progress=0, total=100, message="Completed step 0 of 100")
    await asyncio.sleep(0.05)
    await ctx.report_progress(progress=50, total=100, message="Completed step 50 of 100")
    await asyncio.sleep(0.05)
    await ctx.report_progress(progress=100, total=100, message="Completed step 100 of 100")
    meta = ctx.request_context.meta or {}
    return str(meta.get("progress_token", meta.get("progressToken", 0)))


@mcp.tool()
def test_error_handling() -> str:
    """Tests error response handling"""
    # The SDK answers a ToolError with isError: true and its message as the text
    # (any other exception: isError with a generic "Error executing tool ...").
    raise ToolError("This tool intentionally returns an error for testing")


@mcp.tool()
async def test_sampling(prompt: str, ctx: Context) -> str:
    """Tests server-initiated sampling (LLM completion request)"""
    try:
        # related_request_id: on this tools/call's own response stream (a
        # standalone GET stream may not be open).
        result = await ctx.session.create_message(
            messages=[SamplingMessage(role="user", content=TextContent(type="text", text=prompt))],
            max_tokens=100,
            related_request_id=ctx.request_id,
        )
        text = result.content.text if result.content.type == "text" else "No response"
        return f"LLM response: {text}"
    except Exception as e:  # the client declined, or has no sampling capability
        return f"Sampling not supported or error: {e}"


async def _elicit(ctx: Context, message: str, requested_schema: dict[str, Any], label: str) -> str:
    """elicitation/create (form mode) with a raw JSON schema, sent as is."""
    try:
        result = await ctx.session.elicit_form(message, requested_schema, related_request_id=ctx.request_id)
        return f"{label}: action={result.action}, content={json.dumps(result.content or {})}"
    except Exception as e:
        return f"Elicitation not supported or error: {e}"


@mcp.tool()
async def test_elicitation(message: str, ctx: Context) -> str:
    """Tests server-initiated elicitation (user input request)"""
    schema = {
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    }
    return await _elicit(ctx, message, schema, "User response")


@mcp.tool()
async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
    """Tests elicitation with default values per SEP-1034"""
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User age", "default": 30},
            "score": {"type": "number", "description": "User score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Verification status", "default": True},
        },
        "required": [],
    }
    return await _elicit(ctx, "Please review and update the form fields with defaults", schema, "Elicitation completed")


@mcp.tool()
async def test_elicitation_sep1330_enums(ctx: Context) -> str:
    """Tests elicitation with enum schema improvements per SEP-1330"""
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Select one option",
                "enum": ["option1", "option2", "option3"],
            },
            "titledSingle": {
                "type": "string",
                "description": "Select one option with titles",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "description": "Select one option (legacy)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "description": "Select multiple options",
                "minItems": 1,
                "maxItems": 3,
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "description": "Select multiple options with titles",
                "minItems": 1,
                "maxItems": 3,
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ]
                },
            },
        },
        "required": [],
    }
    return await _elicit(ctx, "Please select options from the enum fields", schema, "Elicitation completed")


# SEP-1613: tools/list must carry this inputSchema verbatim ($schema, $defs,
# additionalProperties). The function's own signature validates calls.
JSON_SCHEMA_2020_12_INPUT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
    },
    "additionalProperties": False,
}


@mcp.tool(name="json_schema_2020_12_tool")
def json_schema_2020_12_tool(name: str | None = None, address: dict[str, Any] | None = None) -> str:
    """Tool with JSON Schema 2020-12 features for conformance testing (SEP-1613)"""
    args = {k: v for k, v in (("name", name), ("address", address)) if v is not None}
    return f"JSON Schema 2020-12 tool called with: {json.dumps(args)}"


# MCPServer.tool() takes no input_schema; install the raw one (as the SDK's
# everything server does).
mcp._tool_manager._tools["json_schema_2020_12_tool"].parameters = JSON_SCHEMA_2020_12_INPUT_SCHEMA


@mcp.tool()
async def test_reconnection(ctx: Context) -> str:
    """Tests SSE stream disconnection and client reconnection (SEP-1699): the server closes
    the stream mid-call and the result arrives after the client reconnects with Last-Event-ID"""
    await _log(ctx, "info", "Before disconnect")
    await ctx.close_sse_stream()  # a no-op over stdio
    await asyncio.sleep(0.2)
    await _log(ctx, "info", "After reconnect")
    return "Reconnection test completed successfully. If you received this, the client properly reconnected after stream closure."


# ===== RESOURCES =====


@mcp.resource("test://static-text", name="static-text", title="Static Text Resource", mime_type="text/plain")
def static_text() -> str:
    """A static text resource for testing"""
    return "This is the content of the static text resource."


@mcp.resource("test://static-binary", name="static-binary", title="Static Binary Resource", mime_type="image/png")
def static_binary() -> bytes:
    """A static binary resource (image) for testing"""
    return base64.b64decode(TEST_IMAGE_BASE64)


@mcp.resource("test://template/{id}/data", name="template", title="Resource Template", mime_type="application/json")
def template(id: str) -> str:
    """A resource template with parameter substitution"""
    return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})


@mcp.resource("test://watched-resource", name="watched-resource", title="Watched Resource", mime_type="text/plain")
def watched_resource() -> str:
    """A resource that can be subscribed to for updates"""
    return "Watched resource content"


async def handle_subscribe(ctx: ServerRequestContext, params: SubscribeRequestParams) -> EmptyResult:
    _subscriptions.setdefault(_connection_key(ctx), set()).add(str(params.uri))
    logger.info("subscribed to %s", params.uri)
    return EmptyResult()


async def handle_unsubscribe(ctx: ServerRequestContext, params: UnsubscribeRequestParams) -> EmptyResult:
    _subscriptions.get(_connection_key(ctx), set()).discard(str(params.uri))
    logger.info("unsubscribed from %s", params.uri)
    return EmptyResult()


# ===== PROMPTS =====


@mcp.prompt(title="Simple Test Prompt")
def test_simple_prompt() -> list[UserMessage]:
    """A simple prompt without arguments"""
    return [UserMessage(content=TextContent(type="text", text="This is a simple prompt for testing."))]


@mcp.prompt(title="Prompt With Arguments")
def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
    """A prompt with required arguments"""
    return [UserMessage(content=TextContent(type="text", text=f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"))]


@mcp.prompt(title="Prompt With Embedded Resource")
def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:
    """A prompt that includes an embedded resource"""
    return [
        UserMessage(
            content=EmbeddedResource(
                type="resource",
                resource=TextResourceContents(
                    uri=resourceUri, mime_type="text/plain", text="Embedded resource content for testing."
                ),
            )
        ),
        UserMessage(content=TextContent(type="text", text="Please process the embedded resource above.")),
    ]


@mcp.prompt(title="Prompt With Image")
def test_prompt_with_image() -> list[UserMessage]:
    """A prompt that includes image content"""
    return [
        UserMessage(content=ImageContent(type="image", data=TEST_IMAGE_BASE64, mime_type="image/png")),
        UserMessage(content=TextContent(type="text", text="Please analyze the image above.")),
    ]


# ===== LOGGING, COMPLETION =====


async def handle_set_level(ctx: ServerRequestContext, params: SetLevelRequestParams) -> EmptyResult:
    _log_levels[_connection_key(ctx)] = params.level
    logger.info("log level set to %s", params.level)
    return EmptyResult()


# No public MCPServer API for these three yet; the handlers' presence is also
# what advertises the logging capability and resources.subscribe.
mcp._lowlevel_server.add_request_handler("logging/setLevel", SetLevelRequestParams, handle_set_level)
mcp._lowlevel_server.add_request_handler("resources/subscribe", SubscribeRequestParams, handle_subscribe)
mcp._lowlevel_server.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, handle_unsubscribe)


@mcp.completion()
async def complete(
    ref: PromptReference | ResourceTemplateReference,
    argument: CompletionArgument,
    context: CompletionContext | None,
) -> Completion:
    """A few fixed candidates that start with the partial value (possibly none)."""
    candidates: list[str] = []
    if isinstance(ref, PromptReference) and ref.name == "test_prompt_with_arguments":
        candidates = ["paris", "park", "party", "test-value"]
    elif isinstance(ref, ResourceTemplateReference) and argument.name == "id":
        candidates = ["1", "123", "42"]
    values = [c for c in candidates if c.startswith(argument.value)]
    return Completion(values=values, total=len(values), has_more=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--port", type=int, help="serve streamable HTTP at http://HOST:PORT/mcp")
    mode.add_argument("--stdio", action="store_true", help="serve over stdin/stdout")
    add_http_flags(parser)
    parser.add_argument(
        "--retry-interval", type=int, default=100, help="SSE retry hint in ms for priming events (default 100)"
    )
    args = parser.parse_args()
    log_to_stderr(mcp, "conformance-upstream", args.log_level)

    if args.stdio:
        mcp.run("stdio")
    else:
        mcp.run(
            "streamable-http",
            host=args.host,
            port=args.port,
            event_store=InMemoryEventStore(),
            retry_interval=args.retry_interval,
            json_response=args.json_response,
        )


if __name__ == "__main__":
    main()
