#!/usr/bin/env python3
"""An MCP client from the official Python SDK (mcp==2.3.0), driven by
tests/gateway.rs against a proxy's MCP gateway. It asserts nothing itself:
it prints one JSON object describing what it saw (server info, the listed
tool names, each call's result or error), and the Rust test compares that
with the lock.

    python_sdk.py legacy URL KEY   # ClientSession.initialize: a session
    python_sdk.py auto URL KEY     # Client's default mode="auto": server/discover,
                                   # then the stateless 2026-07-28 revision
    python_sdk.py stdio -- COMMAND ARGS...   # stdio_client + initialize

Env MCP_TOOL_PREFIX (e.g. `a_`) is put before each called tool's name, for
a multi-server proxy's aggregated endpoint; the report names the tools
without it.

Run with target/test-tools/mcp-venv/bin/python.
"""

import asyncio
import json
import os
import sys
import warnings
from contextlib import AsyncExitStack

import httpx2
from mcp import Client
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_report import dump, error_report

warnings.filterwarnings("ignore", message=".*(deprecated|removed) as of 2026-07-28.*")

# tool, arguments: every call each connection makes, in order.
CALLS = [
    ("echo", {"message": "hello gateway", "count": 2}),
    ("echo_structured", {"message": "structured hello", "count": 1}),
    ("returns_structured", {}),
    ("returns_many_blocks", {}),
    ("returns_image", {}),
    ("fails_with_is_error", {"path": "/x"}),
    ("fails_with_invalid_params", {"value": 3}),
    ("fails_with_internal_error", {}),
    ("echo", {"message": 5}),
    ("no_such_tool", {}),
    ("echo", {"message": "still serving"}),
]


async def exercise(list_page, call) -> dict:
    names = []
    cursor = None
    pages = 0
    while True:
        page = await list_page(cursor)
        pages += 1
        names.extend(tool.name for tool in page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    calls = []
    prefix = os.environ.get("MCP_TOOL_PREFIX", "")
    for tool, arguments in CALLS:
        try:
            result = await call(prefix + tool, arguments)
            calls.append({"tool": tool, "arguments": arguments, "result": dump(result)})
        except MCPError as error:
            calls.append({"tool": tool, "arguments": arguments, "error": error_report(error)})
        except Exception as error:  # noqa: BLE001 - reported, the Rust side decides
            calls.append({"tool": tool, "arguments": arguments, "exception": f"{type(error).__name__}: {error}"})
    return {"tools": names, "pages": pages, "calls": calls}


async def with_session(read, write) -> dict:
    async with ClientSession(read, write) as session:
        init = await session.initialize()
        report = {
            "server_info": dump(init.server_info),
            "protocol_version": init.protocol_version,
            "capabilities": dump(init.capabilities),
        }
        report.update(
            await exercise(
                lambda cursor: session.list_tools(params=types.PaginatedRequestParams(cursor=cursor)),
                lambda tool, arguments: session.call_tool(tool, arguments),
            )
        )
        return report


async def legacy(url: str, key: str) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx2.AsyncClient(headers=headers))
        read, write, *_ = await stack.enter_async_context(streamable_http_client(url, http_client=client))
        return await with_session(read, write)


async def auto(url: str, key: str) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    async with AsyncExitStack() as stack:
        http_client = await stack.enter_async_context(httpx2.AsyncClient(headers=headers))
        client = await stack.enter_async_context(Client(streamable_http_client(url, http_client=http_client)))
        report = {
            "server_info": dump(client.server_info) if client.server_info else None,
            "protocol_version": client.protocol_version,
        }
        report.update(
            await exercise(
                lambda cursor: client.list_tools(cursor=cursor),
                lambda tool, arguments: client.call_tool(tool, arguments),
            )
        )
        return report


async def stdio(command: list[str]) -> dict:
    params = StdioServerParameters(command=command[0], args=command[1:])
    async with stdio_client(params) as (read, write, *_):
        return await with_session(read, write)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["legacy"] and len(args) == 3:
        report = asyncio.run(legacy(args[1], args[2]))
    elif args[:1] == ["auto"] and len(args) == 3:
        report = asyncio.run(auto(args[1], args[2]))
    elif args[:2] == ["stdio", "--"] and len(args) > 2:
        report = asyncio.run(stdio(args[2:]))
    else:
        sys.exit(__doc__)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
