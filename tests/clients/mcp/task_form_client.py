#!/usr/bin/env python3
"""An MCP client from the official Python SDK (mcp==2.3.0) that calls
server-everything's task-required `simulate-research-query` through a
proxy's MCP gateway, driven by tests/everything_proxy.rs. The proxy runs it
upstream as a task and relays what the task asks of its caller (a form,
`elicitation/create`) and says (its status messages, as progress). It
asserts nothing itself: it prints one JSON object of what it saw (the forms
it was asked to fill in, the progress notifications, the call's result or
error, each with when it came), and the Rust test decides.

    task_form_client.py accept URL TOPIC INTERPRETATION
                        # an ambiguous query; the form is answered with
                        # {"interpretation": INTERPRETATION}
    task_form_client.py none URL TOPIC     # the same without an elicitation
                        # callback: the client does not offer elicitation
    task_form_client.py failing URL TOPIC  # the callback answers an error
    task_form_client.py progress URL TOPIC # a plain query, with a progress
                        # callback (the request carries a progressToken)

Run with target/test-tools/mcp-venv/bin/python.
"""

import asyncio
import json
import sys
import time
import warnings
from contextlib import AsyncExitStack

import httpx2
from mcp import types
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp_report import dump, outcome

warnings.filterwarnings("ignore", message=".*(deprecated|removed) as of 2026-07-28.*")

TOOL = "simulate-research-query"
# The research takes about 4 s, plus the time a form waits for its answer;
# httpx2's default 5 s read timeout would end the call's response stream.
HTTP_TIMEOUT = httpx2.Timeout(60.0)


async def run(mode: str, url: str, topic: str, interpretation: str | None) -> dict:
    started = time.monotonic()

    def since_start() -> float:
        return round(time.monotonic() - started, 3)

    forms = []
    progress = []

    async def answer_form(context, params: types.ElicitRequestParams):
        forms.append({"params": dump(params), "at": since_start()})
        if mode == "failing":
            return types.ErrorData(code=types.INTERNAL_ERROR, message="the form cannot be shown")
        return types.ElicitResult(action="accept", content={"interpretation": interpretation})

    async def on_progress(number: float, total: float | None, message: str | None) -> None:
        progress.append({"progress": number, "total": total, "message": message, "at": since_start()})

    callback = answer_form if mode in ("accept", "failing") else None
    async with AsyncExitStack() as stack:
        client = await stack.enter_async_context(httpx2.AsyncClient(timeout=HTTP_TIMEOUT))
        read, write, *_ = await stack.enter_async_context(streamable_http_client(url, http_client=client))
        session = await stack.enter_async_context(ClientSession(read, write, elicitation_callback=callback))
        init = await session.initialize()
        arguments = {"topic": topic, "ambiguous": mode != "progress"}
        call = session.call_tool(TOOL, arguments, progress_callback=on_progress if mode == "progress" else None)
        report = {
            "mode": mode,
            "protocol_version": init.protocol_version,
            "call": await outcome(call),
            "result_at": since_start(),
            "forms": forms,
            "progress": progress,
        }
    return report


def main() -> None:
    mode, url, topic, *interpretation = sys.argv[1:]
    answers = {"accept": 1, "none": 0, "failing": 0, "progress": 0}
    if answers.get(mode) != len(interpretation):
        sys.exit(__doc__)
    report = asyncio.run(run(mode, url, topic, interpretation[0] if interpretation else None))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
