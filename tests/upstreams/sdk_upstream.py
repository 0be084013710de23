"""What the upstreams built on the official MCP Python SDK share: their
common command-line flags and their logging to stderr.

Imported by conformance_upstream.py and identity_upstream.py, which Python
runs as scripts, so this folder is first on their import path.
"""

import argparse
import logging
import sys

from mcp.server.mcpserver import MCPServer


def add_http_flags(parser: argparse.ArgumentParser) -> None:
    """--host, --json-response and --log-level, as both servers read them."""
    parser.add_argument("--host", default="127.0.0.1", help="HTTP listen address (default 127.0.0.1)")
    parser.add_argument("--json-response", action="store_true", help="answer POSTs with JSON instead of SSE")
    parser.add_argument("--log-level", default="WARNING", help="stderr log level (default WARNING)")


def log_to_stderr(mcp: MCPServer, label: str, level: str) -> None:
    """Log lines on stderr at `level`, each naming the server (`label`) and
    the logger; stdout is left to the protocol or the address line."""
    # force: MCPServer() already configured the root logger (INFO).
    logging.basicConfig(
        force=True,
        stream=sys.stderr,
        level=level.upper(),
        format=f"%(asctime)s {label} %(levelname)s %(name)s %(message)s",
    )
    mcp.settings.log_level = level.upper()
