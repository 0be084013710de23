#!/usr/bin/env python3
"""A smoke check of an MCP server that should behave like
tests/upstreams/conformance_upstream.py (the upstream itself, or a gateway in
front of it), from the official MCP Python SDK client: what the conformance
suite's server scenarios exercise, over stdio or streamable HTTP.

    upstream_smoke.py --url http://127.0.0.1:PORT/mcp
    upstream_smoke.py --stdio [-- COMMAND ARGS...]   (default: the upstream with --stdio)

Run with target/test-tools/mcp-venv/bin/python (mcp==2.3.0). Prints one line
per check and exits 1 if any failed.
"""

import argparse
import asyncio
import os
import sys
import warnings
from contextlib import AsyncExitStack

from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

# Logging, sampling and resources/subscribe are deprecated as of 2026-07-28;
# this checks the 2025-11-25 behaviour, which has them.
warnings.filterwarnings("ignore", message=".*(deprecated|removed) as of 2026-07-28.*")

HERE = os.path.dirname(os.path.abspath(__file__))
UPSTREAM = os.path.join(os.path.dirname(HERE), "upstreams", "conformance_upstream.py")


async def run(args: argparse.Namespace) -> int:
    logs: list[str] = []
    sampled: list[str] = []
    elicited: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    async def on_sampling(context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        sampled.append(params.messages[0].content.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="This is a test response from the client"),
            model="test-model",
            stop_reason="endTurn",
        )

    async def on_elicit(context, params: types.ElicitRequestParams) -> types.ElicitResult:
        elicited.append(params.message)
        return types.ElicitResult(action="accept", content={"username": "testuser", "email": "test@example.com"})

    failures = 0

    def check(name: str, ok: bool, detail: object = "") -> None:
        nonlocal failures
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else f': {detail}'}", flush=True)

    async with AsyncExitStack() as stack:
        if args.url:
            read, write, *_ = await stack.enter_async_context(streamable_http_client(args.url))
        else:
            command = args.command or [sys.executable, UPSTREAM, "--stdio"]
            params = StdioServerParameters(command=command[0], args=command[1:])
            read, write, *_ = await stack.enter_async_context(stdio_client(params))
        session = await stack.enter_async_context(
            ClientSession(
                read, write, sampling_callback=on_sampling, elicitation_callback=on_elicit, logging_callback=on_log
            )
        )
        init = await session.initialize()
        caps = init.capabilities
        check("initialize", init.server_info.name == "mcp-conformance-test-server", init.server_info)
        check(
            "capabilities tools/resources(subscribe)/prompts/logging/completions",
            bool(caps.tools and caps.resources and caps.resources.subscribe and caps.prompts)
            and caps.logging is not None
            and caps.completions is not None,
            caps,
        )
        await session.send_ping()
        check("ping", True)

        tools = {t.name: t for t in (await session.list_tools()).tools}
        expected = {
            "test_simple_text", "test_image_content", "test_audio_content", "test_embedded_resource",
            "test_multiple_content_types", "test_tool_with_logging", "test_tool_with_progress",
            "test_error_handling", "test_sampling", "test_elicitation", "test_elicitation_sep1034_defaults",
            "test_elicitation_sep1330_enums", "json_schema_2020_12_tool", "test_reconnection",
        }  # fmt: skip
        check("tools/list names", expected <= tools.keys(), expected - tools.keys())
        check("tools/list descriptions", all(t.description for t in tools.values()))
        schema = tools["json_schema_2020_12_tool"].input_schema
        check(
            "json_schema_2020_12_tool inputSchema kept",
            schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
            and "address" in schema.get("$defs", {})
            and schema.get("additionalProperties") is False,
            schema,
        )

        r = await session.call_tool("test_simple_text", {})
        check("test_simple_text", r.content[0].text == "This is a simple text response for testing.", r)
        r = await session.call_tool("test_image_content", {})
        check("test_image_content", r.content[0].type == "image" and r.content[0].mime_type == "image/png", r)
        r = await session.call_tool("test_audio_content", {})
        check("test_audio_content", r.content[0].type == "audio" and r.content[0].mime_type == "audio/wav", r)
        r = await session.call_tool("test_embedded_resource", {})
        check("test_embedded_resource", r.content[0].type == "resource", r)
        r = await session.call_tool("test_multiple_content_types", {})
        check("test_multiple_content_types", [c.type for c in r.content] == ["text", "image", "resource"], r)
        r = await session.call_tool("test_error_handling", {})
        check("test_error_handling isError", r.is_error is True and "intentionally" in r.content[0].text, r)

        await session.set_logging_level("debug")
        r = await session.call_tool("test_tool_with_logging", {})
        await asyncio.sleep(0.2)
        check(
            "test_tool_with_logging: 3 notifications/message",
            logs[-3:] == ["Tool execution started", "Tool processing data", "Tool execution completed"],
            logs,
        )
        await session.set_logging_level("warning")
        before = len(logs)
        await session.call_tool("test_tool_with_logging", {})
        await asyncio.sleep(0.2)
        check("logging/setLevel warning filters info", len(logs) == before, logs[before:])

        progress: list[float] = []

        async def on_progress(p: float, total: float | None, message: str | None) -> None:
            progress.append(p)

        r = await session.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        check("test_tool_with_progress: 0, 50, 100", progress == [0, 50, 100], progress)

        r = await session.call_tool("test_sampling", {"prompt": "Test prompt for sampling"})
        check(
            "test_sampling (sampling/createMessage relayed)",
            sampled == ["Test prompt for sampling"]
            and r.content[0].text == "LLM response: This is a test response from the client",
            (sampled, r),
        )
        r = await session.call_tool("test_elicitation", {"message": "Please provide your information"})
        check(
            "test_elicitation (elicitation/create relayed)",
            elicited == ["Please provide your information"] and "action=accept" in r.content[0].text,
            (elicited, r),
        )
        r = await session.call_tool("json_schema_2020_12_tool", {"name": "n", "address": {"city": "c"}})
        check("json_schema_2020_12_tool call", not r.is_error, r)
        r = await session.call_tool("test_reconnection", {})
        check("test_reconnection", not r.is_error, r)

        resources = {str(x.uri): x for x in (await session.list_resources()).resources}
        check(
            "resources/list",
            {"test://static-text", "test://static-binary", "test://watched-resource"} <= resources.keys()
            and all(x.name for x in resources.values()),
            resources.keys(),
        )
        templates = (await session.list_resource_templates()).resource_templates
        check("resources/templates/list", [t.uri_template for t in templates] == ["test://template/{id}/data"])
        c = (await session.read_resource("test://static-text")).contents[0]
        check("read test://static-text", getattr(c, "text", None) and c.mime_type == "text/plain", c)
        c = (await session.read_resource("test://static-binary")).contents[0]
        check("read test://static-binary", getattr(c, "blob", None) and c.mime_type == "image/png", c)
        c = (await session.read_resource("test://template/123/data")).contents[0]
        check("read test://template/123/data", str(c.uri) == "test://template/123/data" and "123" in c.text, c)
        await session.subscribe_resource("test://watched-resource")
        await session.unsubscribe_resource("test://watched-resource")
        check("resources/subscribe + unsubscribe", True)

        prompts = {p.name: p for p in (await session.list_prompts()).prompts}
        check(
            "prompts/list",
            {"test_simple_prompt", "test_prompt_with_arguments", "test_prompt_with_embedded_resource",
             "test_prompt_with_image"} <= prompts.keys() and all(p.description for p in prompts.values()),
            prompts.keys(),
        )  # fmt: skip
        p = await session.get_prompt("test_simple_prompt")
        check("prompts/get simple", p.messages[0].content.text == "This is a simple prompt for testing.", p)
        p = await session.get_prompt("test_prompt_with_arguments", {"arg1": "a1", "arg2": "a2"})
        check("prompts/get with args", "arg1='a1'" in p.messages[0].content.text, p)
        p = await session.get_prompt("test_prompt_with_embedded_resource", {"resourceUri": "test://x"})
        check("prompts/get embedded resource", p.messages[0].content.type == "resource", p)
        p = await session.get_prompt("test_prompt_with_image")
        check("prompts/get image", p.messages[0].content.type == "image", p)

        comp = await session.complete(
            types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments"),
            {"name": "arg1", "value": "par"},
        )
        check("completion/complete", comp.completion.values == ["paris", "park", "party"], comp)

    print(f"{failures} failed", flush=True)
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--url", help="streamable HTTP endpoint")
    mode.add_argument("--stdio", action="store_true", help="spawn COMMAND (default: the upstream) over stdio")
    parser.add_argument("command", nargs="*", help="with --stdio: the server command (after --)")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
