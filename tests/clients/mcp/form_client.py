#!/usr/bin/env python3
"""An MCP client from the official Python SDK (mcp==2.3.0) that calls one
tool through a proxy's MCP gateway and fills in the forms the upstream asks
for on the way (`elicitation/create`, which the proxy relays), driven by
tests/proxy_contract/tasks_extension.rs. It asserts nothing itself: it
prints one JSON object of what it saw (the forms, the call's result or
error) and the Rust test decides.

    form_client.py URL TOOL ARGUMENTS_JSON CONTENT_JSON
                        # each form is accepted with CONTENT_JSON
    form_client.py URL TOOL ARGUMENTS_JSON -
                        # no elicitation callback: the client does not
                        # offer elicitation

With PROXY_KEY set, it is sent as the proxy's API key (`Authorization:
Bearer`). Run with target/test-tools/mcp-venv/bin/python.
"""

import asyncio
import json
import os
import sys
import warnings
from contextlib import AsyncExitStack

import httpx2
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_report import dump, outcome

warnings.filterwarnings("ignore", message=".*(deprecated|removed) as of 2026-07-28.*")


async def run(url: str, tool: str, arguments: dict, content: dict | None) -> dict:
    forms = []

    async def answer_form(context, params: types.ElicitRequestParams):
        forms.append(dump(params))
        return types.ElicitResult(action="accept", content=content)

    callback = answer_form if content is not None else None
    async with AsyncExitStack() as stack:
        key = os.environ.get("PROXY_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        client = await stack.enter_async_context(
            httpx2.AsyncClient(timeout=httpx2.Timeout(60.0), headers=headers)
        )
        read, write, *_ = await stack.enter_async_context(streamable_http_client(url, http_client=client))
        session = await stack.enter_async_context(ClientSession(read, write, elicitation_callback=callback))
        await session.initialize()
        return {"call": await outcome(session.call_tool(tool, arguments)), "forms": forms}


def main() -> None:
    url, tool, arguments, content = sys.argv[1:5]
    report = asyncio.run(run(url, tool, json.loads(arguments), None if content == "-" else json.loads(content)))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
