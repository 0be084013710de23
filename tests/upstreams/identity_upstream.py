#!/usr/bin/env python3
"""An MCP server over streamable HTTP that shows what reached it: the upstream
of the caller-identity end-to-end tests (what the proxy forwards, strips or adds).

Built on the official MCP Python SDK (mcp==2.3.0, in target/test-tools/mcp-venv,
installed by scripts/setup-test-deps.sh):

    target/test-tools/mcp-venv/bin/python tests/upstreams/identity_upstream.py --port PORT
        [--host 127.0.0.1] [--json-response] [--log-level WARNING]

serves http://HOST:PORT/mcp and, once it accepts connections, prints exactly one
line to stdout, `identity upstream listening on http://HOST:PORT/mcp`, and nothing
else there (logs go to stderr). SIGTERM / SIGINT stop it.

Tools:

    whoami()                    {"headers": {NAME: VALUE, ...}, "meta": {...} | null}
                                `headers`: every header of the HTTP request that
                                carried this tools/call, names lower-cased (as
                                Starlette gives them), repeated headers joined
                                with ", "; `meta`: the request's `params._meta`
                                as sent (a JSON object), or null when it had none.
                                Returned both as structuredContent and as one
                                text block holding the same JSON. (A client of
                                the stateless 2026-07-28 revision, e.g. the SDK's
                                Client in its default mode, always sends `_meta`
                                with io.modelcontextprotocol/protocolVersion,
                                clientInfo and clientCapabilities; an
                                initialize-session client without `_meta` gets null.)
    delete_everything(confirm)  annotated destructiveHint: true (readOnlyHint:
                                false); deletes nothing, returns "deleted"
    echo(text)                  returns the text

A resource `notes://welcome` (text "welcome") and a prompt `greet(name)`, for
the access policy's resources and prompts.

Over HTTP on a loopback host the SDK turns DNS-rebinding protection on: the Host
header must name a loopback address (127.0.0.1:PORT, localhost:PORT), else 421.
"""

import argparse
import asyncio
import os
import sys
import warnings
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from sdk_upstream import add_http_flags, log_to_stderr

warnings.filterwarnings("ignore", message=".*deprecated as of 2026-07-28.*")

mcp = MCPServer(name="identity-upstream", version="1.0.0")


@mcp.tool()
def whoami(ctx: Context) -> dict[str, Any]:
    """Returns the HTTP request headers and the params._meta of this very call."""
    request_context = ctx.request_context
    headers: dict[str, str] | None = None
    request = request_context.request
    if request is not None:  # None over stdio
        headers = {}
        for name, value in request.headers.items():  # Starlette: names lower-case
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    meta = request_context.meta
    return {"headers": headers, "meta": dict(meta) if meta is not None else None}


@mcp.tool(annotations=ToolAnnotations(destructiveHint=True, readOnlyHint=False))
def delete_everything(confirm: bool) -> str:
    """Deletes everything (a stand-in: deletes nothing and answers "deleted")."""
    return "deleted"


@mcp.tool()
def echo(text: str) -> str:
    """Returns the text."""
    return text


@mcp.resource("notes://welcome", mime_type="text/plain")
def welcome_note() -> str:
    """A note only some callers may read."""
    return "welcome"


@mcp.prompt()
def greet(name: str) -> str:
    """A prompt only some callers may get."""
    return f"Say hello to {name}."


async def serve(host: str, port: int, json_response: bool, log_level: str, sse: bool) -> None:
    # --sse: the legacy HTTP+SSE transport (events at /sse, POSTs to
    # /messages/), whose POST carrying a call is the request `whoami` sees.
    if sse:
        app = mcp.sse_app(host=host)
    else:
        app = mcp.streamable_http_app(json_response=json_response, host=host)
    # log_config=None: keep the logging set up in main() (uvicorn's own config
    # would send access lines to stdout).
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                            log_level=log_level.lower(), lifespan="on")
    server = uvicorn.Server(config)
    # A test fixture with nothing to save: SIGTERM / SIGINT stop it at once
    # (uvicorn, which catches them while serving, would shut down gracefully,
    # which takes a second or more while MCP sessions are open).
    server.handle_exit = lambda _sig, _frame: os._exit(0)  # type: ignore[method-assign]

    async def run() -> None:
        try:
            await server.serve()
        except SystemExit:  # uvicorn's startup failure; it logged why
            pass

    task = asyncio.create_task(run())
    while not server.started:
        if task.done():
            sys.exit(f"identity_upstream: could not listen on {host}:{port}")
        await asyncio.sleep(0.02)
    path = "/sse" if sse else "/mcp"
    sys.stdout.write(f"identity upstream listening on http://{host}:{port}{path}\n")
    sys.stdout.flush()
    await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="serve streamable HTTP at http://HOST:PORT/mcp")
    add_http_flags(parser)
    parser.add_argument("--sse", action="store_true", help="serve the legacy HTTP+SSE transport at /sse instead")
    args = parser.parse_args()
    log_to_stderr(mcp, "identity-upstream", args.log_level)
    asyncio.run(serve(args.host, args.port, args.json_response, args.log_level, args.sse))


if __name__ == "__main__":
    main()
