#!/usr/bin/env python3
"""An MCP client from the official Python SDK (mcp==2.3.0) that walks the
resources, resource templates, prompts and completions of a proxy's MCP
gateway in front of @modelcontextprotocol/server-everything, driven by
tests/proxy_contract/gateway_surface.rs. It asserts nothing itself: it
prints one JSON object of what it saw (each request's result or error),
and the Rust test compares that with the lock.

    surface_client.py legacy URL KEY   # ClientSession.initialize: a session;
                                       # resources/subscribe + notifications
    surface_client.py auto URL KEY     # Client's default mode (the stateless
                                       # 2026-07-28 revision); subscriptions/listen
    surface_client.py resubscribe URL KEY  # a session subscribes, prints a line,
                                       # waits for one on stdin, then waits
                                       # for an update
    surface_client.py cap URL KEY      # a session subscribes to CAP_COUNT
                                       # template URIs, then one more

Env MCP_PROMPT_PREFIX and MCP_TOOL_PREFIX (e.g. `a_`) are put before each
prompt's and tool's name, for a multi-server proxy's aggregated endpoint.
Env UNLOCKED_URI: a URI the server serves but the lock does not hold (its
read and subscription must be refused).

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
from mcp.client.streamable_http import streamable_http_client
from mcp_report import dump, outcome
from mcp.shared.subscriptions import ResourceUpdated

warnings.filterwarnings("ignore", message=".*(deprecated|removed) as of 2026-07-28.*")

STATIC = "demo://resource/static/document/architecture.md"
TEXT_TEMPLATE = "demo://resource/dynamic/text/{resourceId}"
TEXT_1 = "demo://resource/dynamic/text/1"
NOT_SERVED = "demo://nope/x"
# How long to wait for a notifications/resources/updated (the server sends
# one at once when its updates are switched on, then one every 5 s).
UPDATE_WAIT = 20
# The MCP SDK's own client timeouts (httpx2's default 5 s read timeout would
# end a listen stream that waits for the server's next update).
HTTP_TIMEOUT = httpx2.Timeout(30.0, read=300.0)


async def all_pages(list_page, field: str) -> list:
    items = []
    cursor = None
    while True:
        page = await list_page(cursor)
        items.extend(dump(item) for item in getattr(page, field))
        cursor = page.next_cursor
        if cursor is None:
            return items


async def walk(api) -> dict:
    """What every mode does: lists, reads, prompts, completions."""
    prefix = os.environ.get("MCP_PROMPT_PREFIX", "")
    unlocked = os.environ.get("UNLOCKED_URI", NOT_SERVED)
    report = {
        "resources": await all_pages(api.list_resources, "resources"),
        "templates": await all_pages(api.list_resource_templates, "resource_templates"),
        "prompts": await all_pages(api.list_prompts, "prompts"),
        "read_static": await outcome(api.read_resource(STATIC)),
        "read_template": await outcome(api.read_resource(TEXT_1)),
        "read_unlocked": await outcome(api.read_resource(unlocked)),
        "read_not_served": await outcome(api.read_resource(NOT_SERVED)),
        "prompt_args": await outcome(api.get_prompt(prefix + "args-prompt", {"city": "Paris", "state": "TX"})),
        "prompt_missing_argument": await outcome(api.get_prompt(prefix + "args-prompt", {})),
        "prompt_unknown": await outcome(api.get_prompt(prefix + "no-such-prompt", {})),
        "complete_department": await outcome(
            api.complete(types.PromptReference(name=prefix + "completable-prompt"), {"name": "department", "value": "S"})
        ),
        "complete_name_in_context": await outcome(
            api.complete(
                types.PromptReference(name=prefix + "completable-prompt"),
                {"name": "name", "value": ""},
                {"department": "Engineering"},
            )
        ),
        "complete_template": await outcome(
            api.complete(types.ResourceTemplateReference(uri=TEXT_TEMPLATE), {"name": "resourceId", "value": "7"})
        ),
        "complete_unknown_prompt": await outcome(
            api.complete(types.PromptReference(name=prefix + "no-such-prompt"), {"name": "x", "value": ""})
        ),
    }
    return report


class Api:
    """The requests `walk` makes, on a ClientSession."""

    def __init__(self, session: ClientSession):
        self.session = session

    def list_resources(self, cursor):
        return self.session.list_resources(params=types.PaginatedRequestParams(cursor=cursor))

    def list_resource_templates(self, cursor):
        return self.session.list_resource_templates(params=types.PaginatedRequestParams(cursor=cursor))

    def list_prompts(self, cursor):
        return self.session.list_prompts(params=types.PaginatedRequestParams(cursor=cursor))

    def read_resource(self, uri):
        return self.session.read_resource(uri)

    def get_prompt(self, name, arguments):
        return self.session.get_prompt(name, arguments)

    def complete(self, ref, argument, context=None):
        return self.session.complete(ref, argument, context)


class ClientApi(Api):
    """The same on a Client (no response cache between the reads)."""

    def __init__(self, client: Client):
        self.client = client

    def list_resources(self, cursor):
        return self.client.list_resources(cursor=cursor, cache_mode="bypass")

    def list_resource_templates(self, cursor):
        return self.client.list_resource_templates(cursor=cursor, cache_mode="bypass")

    def list_prompts(self, cursor):
        return self.client.list_prompts(cursor=cursor, cache_mode="bypass")

    def read_resource(self, uri):
        return self.client.read_resource(uri, cache_mode="bypass")

    def get_prompt(self, name, arguments):
        return self.client.get_prompt(name, arguments)

    def complete(self, ref, argument, context=None):
        return self.client.complete(ref, argument, context)


async def open_session(stack: AsyncExitStack, url: str, key: str, updates: asyncio.Queue | None = None):
    """A ClientSession on `url` with the bearer `key`, closed with `stack`;
    the URIs of the notifications/resources/updated it receives go to
    `updates`."""

    async def on_message(message) -> None:
        if updates is not None and getattr(message, "method", None) == "notifications/resources/updated":
            await updates.put(message.params.uri)

    client = await stack.enter_async_context(
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=HTTP_TIMEOUT)
    )
    read, write, *_ = await stack.enter_async_context(streamable_http_client(url, http_client=client))
    return await stack.enter_async_context(ClientSession(read, write, message_handler=on_message))


async def legacy(url: str, key: str) -> dict:
    tool_prefix = os.environ.get("MCP_TOOL_PREFIX", "")
    updates: asyncio.Queue = asyncio.Queue()
    async with AsyncExitStack() as stack:
        session = await open_session(stack, url, key, updates)
        init = await session.initialize()
        report = {"protocol_version": init.protocol_version, "capabilities": dump(init.capabilities)}
        report.update(await walk(Api(session)))

        unlocked = os.environ.get("UNLOCKED_URI", NOT_SERVED)
        report["subscribe_unlocked"] = await outcome(session.subscribe_resource(unlocked))
        report["subscribe"] = await outcome(session.subscribe_resource(STATIC))
        report["switch_updates_on"] = await outcome(session.call_tool(tool_prefix + "toggle-subscriber-updates", {}))
        report["updated"] = await first_update(updates, STATIC)
        report["unsubscribe"] = await outcome(session.unsubscribe_resource(STATIC))
        report["switch_updates_off"] = await outcome(session.call_tool(tool_prefix + "toggle-subscriber-updates", {}))

    # A session that subscribes and ends without unsubscribing: the proxy
    # ends its subscription with it.
    async with AsyncExitStack() as stack:
        session = await open_session(stack, url, key)
        await session.initialize()
        report["abandoned_subscribe"] = await outcome(session.subscribe_resource(TEXT_1))
    return report


async def resubscribe(url: str, key: str) -> dict:
    """Subscribes, says so on stdout, and waits for a line on stdin (the
    test restarts the upstream meanwhile); then switches the (new)
    upstream's updates on and waits for one."""
    updates: asyncio.Queue = asyncio.Queue()
    async with AsyncExitStack() as stack:
        session = await open_session(stack, url, key, updates)
        await session.initialize()
        report = {"subscribe": await outcome(session.subscribe_resource(STATIC))}
        print(json.dumps({"subscribed": True}), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        report["switch_updates_on"] = await outcome(session.call_tool("toggle-subscriber-updates", {}))
        report["updated"] = await first_update(updates, STATIC)
        report["switch_updates_off"] = await outcome(session.call_tool("toggle-subscriber-updates", {}))
        return report


async def cap(url: str, key: str) -> dict:
    """Subscribes one session to CAP_COUNT URIs of the text template (env,
    256 unless set), then to one more; unsubscribes one and subscribes the
    last again."""
    count = int(os.environ.get("CAP_COUNT", "256"))
    uris = [f"demo://resource/dynamic/text/{n}" for n in range(1, count + 2)]
    async with AsyncExitStack() as stack:
        session = await open_session(stack, url, key)
        await session.initialize()
        subscribed = [await outcome(session.subscribe_resource(uri)) for uri in uris[:count]]
        return {
            "subscribed": sum(1 for one in subscribed if "result" in one),
            "failures": [one for one in subscribed if "result" not in one][:3],
            "again": await outcome(session.subscribe_resource(uris[0])),
            "one_more": await outcome(session.subscribe_resource(uris[count])),
            "unsubscribe": await outcome(session.unsubscribe_resource(uris[0])),
            "one_more_after_unsubscribe": await outcome(session.subscribe_resource(uris[count])),
        }


async def first_update(updates: asyncio.Queue, uri: str):
    """The first update of `uri` within UPDATE_WAIT seconds, or None."""
    try:
        async with asyncio.timeout(UPDATE_WAIT):
            while True:
                updated = await updates.get()
                if updated == uri:
                    return updated
    except TimeoutError:
        return None


async def auto(url: str, key: str) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    tool_prefix = os.environ.get("MCP_TOOL_PREFIX", "")
    async with AsyncExitStack() as stack:
        http_client = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=HTTP_TIMEOUT))
        client = await stack.enter_async_context(Client(streamable_http_client(url, http_client=http_client)))
        report = {"protocol_version": client.protocol_version}
        report.update(await walk(ClientApi(client)))

        unlocked = os.environ.get("UNLOCKED_URI", NOT_SERVED)
        # The proxy subscribes upstream after its acknowledgment (rmcp sends
        # it before the listen handler runs): the toggle's first update may
        # come before that, and only the next one (5 s later) on the stream.
        async with client.listen(resource_subscriptions=[TEXT_1, unlocked]) as subscription:
            report["listen_honored"] = dump(subscription.honored)
            report["switch_updates_on"] = await outcome(client.call_tool(tool_prefix + "toggle-subscriber-updates", {}))
            report["updated"] = None
            try:
                async with asyncio.timeout(UPDATE_WAIT):
                    async for event in subscription:
                        if isinstance(event, ResourceUpdated) and event.uri == TEXT_1:
                            report["updated"] = event.uri
                            break
            except TimeoutError:
                pass
        report["switch_updates_off"] = await outcome(client.call_tool(tool_prefix + "toggle-subscriber-updates", {}))
        return report


MODES = {"legacy": legacy, "auto": auto, "resubscribe": resubscribe, "cap": cap}


def main() -> None:
    args = sys.argv[1:]
    if len(args) != 3 or args[0] not in MODES:
        sys.exit(__doc__)
    mode, url, key = args
    print(json.dumps(asyncio.run(MODES[mode](url, key))), flush=True)


if __name__ == "__main__":
    main()
