#!/usr/bin/env python3
"""An MCP client from the official Python SDK (mcp==2.3.0) that makes the
requests it is given on one session (ClientSession.initialize, 2025-11-25)
of a proxy's MCP gateway, driven by tests/proxy_contract/surface_drift.rs
(a live resource list; a surface that drifted from its lock). It asserts
nothing itself: it prints one JSON object of what it saw, and the Rust test
decides.

    live_surface_client.py URL KEY REQUESTS

REQUESTS is a JSON list of requests, each one of
    {"list": "tools" | "resources" | "templates" | "prompts"}
                                                      -> every page's items
    {"read": URI}                                     -> result or error
    {"prompt": NAME, "arguments": {...}}              -> result or error
    {"call": NAME, "arguments": {...}}                -> result or error
and the report is the list of their outcomes in the same order (under
"outcomes"), beside "protocol_version" and "capabilities".

Run with target/test-tools/mcp-venv/bin/python.
"""

import asyncio
import json
import sys
import warnings
from contextlib import AsyncExitStack

import httpx2
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_report import dump, error_report, outcome

warnings.filterwarnings("ignore", message=".*(deprecated|removed) as of 2026-07-28.*")


async def all_pages(list_page, field: str) -> dict:
    """Every page of a list, or the error of the page that failed."""
    items = []
    cursor = None
    while True:
        try:
            page = await list_page(params=types.PaginatedRequestParams(cursor=cursor))
        except MCPError as error:
            return {"error": error_report(error)}
        items.extend(dump(item) for item in getattr(page, field))
        cursor = page.next_cursor
        if cursor is None:
            return {"result": items}


async def run(session: ClientSession, request: dict) -> dict:
    if "list" in request:
        lists = {
            "tools": (session.list_tools, "tools"),
            "resources": (session.list_resources, "resources"),
            "templates": (session.list_resource_templates, "resource_templates"),
            "prompts": (session.list_prompts, "prompts"),
        }
        return await all_pages(*lists[request["list"]])
    if "read" in request:
        return await outcome(session.read_resource(request["read"]))
    if "call" in request:
        return await outcome(session.call_tool(request["call"], request.get("arguments", {})))
    if "prompt" in request:
        return await outcome(session.get_prompt(request["prompt"], request.get("arguments", {})))
    return {"exception": f"unknown request {request}"}


async def main_async(url: str, key: str, requests: list) -> dict:
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}))
        read, write, *_ = await stack.enter_async_context(streamable_http_client(url, http_client=client))
        session = await stack.enter_async_context(ClientSession(read, write))
        init = await session.initialize()
        report = {"protocol_version": init.protocol_version, "capabilities": dump(init.capabilities)}
        report["outcomes"] = [await run(session, request) for request in requests]
        return report


def main() -> None:
    args = sys.argv[1:]
    if len(args) != 3:
        sys.exit(__doc__)
    url, key, requests = args
    print(json.dumps(asyncio.run(main_async(url, key, json.loads(requests)))), flush=True)


if __name__ == "__main__":
    main()
