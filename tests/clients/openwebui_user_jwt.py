#!/usr/bin/env python3
"""The identity headers Open WebUI 0.12.4 sends to an MCP server for a user,
produced by Open WebUI's own code, printed as one JSON object.

Usage (with the MCP SDK's venv, which has PyJWT; any Python 3.11 with PyJWT works):

    target/test-tools/mcp-venv/bin/python tests/clients/openwebui_user_jwt.py \\
        --secret S --id ID --email E --name N --role R \\
        [--expires-seconds N] [--key K] [--chat-id C] [--message-id M] [--wheel WHEEL]

prints e.g. `{"X-OpenWebUI-User-Jwt": "eyJ..."}` and exits 0.

What runs. When Open WebUI connects to an MCP tool server
(`open_webui/utils/tools.py`, `connect_mcp_server`), its headers come from
`build_tool_server_headers(connection, request, user, server_id, metadata)`,
which, with `ENABLE_FORWARD_USER_INFO_HEADERS=true`, calls
`open_webui.utils.headers.include_user_info_headers(headers, user)`; with
`FORWARD_USER_INFO_HEADER_JWT_SECRET` set that mints the JWT
(`_mint_forward_user_jwt`) and adds ONE header, `X-OpenWebUI-User-Jwt` (name from
`FORWARD_USER_INFO_HEADER_JWT`). This script runs exactly that code:

- `open_webui/utils/headers.py` is IMPORTED, unmodified, straight from the
  open-webui wheel (zipimport; the wheel is only downloaded by
  scripts/setup-test-deps.sh, never installed: installing it pulls in chromadb,
  transformers and the rest of Open WebUI);
- `build_tool_server_headers` is taken out of the wheel's
  `open_webui/utils/tools.py` with `ast` (importing that module would import
  nearly all of Open WebUI: database models, the MCP client, retrieval...)
  and executed with headers.py's functions, as tests/open_webui/convert.py does
  for the OpenAPI conversion;
- the settings come from Open WebUI's own `open_webui/env.py` "Forward Headers"
  statements (also taken out with `ast` and executed), after this script puts
  the command line into the environment they read:
  ENABLE_FORWARD_USER_INFO_HEADERS=true, FORWARD_USER_INFO_HEADER_JWT_SECRET=S,
  FORWARD_USER_INFO_HEADER_JWT_EXPIRES_SECONDS=N. Other FORWARD_* variables
  (header names) are taken from the caller's environment as Open WebUI would.

To keep headers.py's imports from starting Open WebUI, the packages
`open_webui` and `open_webui.utils` are bare modules pointing into the wheel
(their __init__ would import typer/uvicorn), and three of its imports are
stand-ins: `open_webui.env` (the values computed above),
`open_webui.models.groups.Groups` and `open_webui.utils.oauth.get_system_oauth_token`
(database / OAuth lookups, not reached on this path: they raise if called), and
`fastapi` only when it is not installed (headers.py uses `fastapi.Request` as a
type annotation only). PyJWT is the running Python's (Open WebUI pins 2.13.0; the
mcp-venv has 2.15.1; HS256 encoding is the same).

The connection is a bearer connection (`auth_type: "bearer"`) with key `--key`
(default none, so no Authorization header), without custom headers; the user is
an object with `id`, `email`, `name`, `role` (all Open WebUI reads of its
UserModel here). `--chat-id` / `--message-id` add the session headers
(`X-OpenWebUI-Chat-Id`, `X-OpenWebUI-Message-Id`) as Open WebUI does when a chat
triggers the call. Without `--secret` Open WebUI sends the plain, spoofable
`X-OpenWebUI-User-Name` (URL-quoted) / `-Id` / `-Email` / `-Role` headers instead.

The JWT (HS256 with the secret as key; header {"alg": "HS256", "typ": "JWT"}) has
the claims, in this order:
    sub    the user id (--id), as a string
    email  --email
    name   --name
    role   --role (Open WebUI roles: admin, user, pending)
    iss    "open-webui"
    iat    now (integer seconds)
    exp    iat + FORWARD_USER_INFO_HEADER_JWT_EXPIRES_SECONDS (default 300)
No `aud`, no `jti`, no `nbf`.
"""

import argparse
import ast
import asyncio
import json
import logging
import os
import sys
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_WHEEL = os.path.join(
    HERE, "..", "..", "target", "test-tools", "open-webui", "open_webui-0.12.4-py3-none-any.whl"
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret", help="FORWARD_USER_INFO_HEADER_JWT_SECRET (omit: plain headers)")
    parser.add_argument("--id", required=True, help="the user's id (JWT sub)")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--role", required=True, help="admin, user or pending")
    parser.add_argument("--expires-seconds", type=int, help="FORWARD_USER_INFO_HEADER_JWT_EXPIRES_SECONDS (default 300)")
    parser.add_argument("--key", default="", help="the connection's bearer key (default: none)")
    parser.add_argument("--chat-id", default="", help="metadata chat_id (adds X-OpenWebUI-Chat-Id)")
    parser.add_argument("--message-id", default="", help="metadata message_id (adds X-OpenWebUI-Message-Id)")
    parser.add_argument("--wheel", default=DEFAULT_WHEEL, help="the open-webui 0.12.4 wheel")
    return parser.parse_args()


def top_level_statements(source, filename, wanted):
    """The top-level statements of `source` for which wanted(node) is true, compiled."""
    tree = ast.parse(source, filename)
    body = [node for node in tree.body if wanted(node)]
    return compile(ast.Module(body=body, type_ignores=[]), filename, "exec"), body


def assigned_names(node):
    if isinstance(node, ast.Assign):
        return {target.id for target in node.targets if isinstance(target, ast.Name)}
    if isinstance(node, ast.Try):  # try: X = int(...) except ValueError: X = 300
        return set().union(*(assigned_names(child) for child in node.body))
    return set()


def forward_settings(archive):
    """Open WebUI's own env.py statements for the Forward Headers settings, run."""
    def wanted(node):
        names = assigned_names(node)
        return bool(names) and all(
            name.startswith("FORWARD_") or name == "ENABLE_FORWARD_USER_INFO_HEADERS" for name in names
        )

    code, body = top_level_statements(archive.read("open_webui/env.py").decode(), "open_webui/env.py", wanted)
    namespace = {"os": os}
    exec(code, namespace)
    names = set().union(*(assigned_names(node) for node in body))
    needed = {"ENABLE_FORWARD_USER_INFO_HEADERS", "FORWARD_USER_INFO_HEADER_JWT_SECRET",
              "FORWARD_USER_INFO_HEADER_JWT", "FORWARD_USER_INFO_HEADER_JWT_EXPIRES_SECONDS",
              "FORWARD_SESSION_INFO_HEADER_CHAT_ID", "FORWARD_SESSION_INFO_HEADER_MESSAGE_ID"}
    if not needed <= names:
        sys.exit(f"open_webui/env.py lacks {sorted(needed - names)}")
    return {name: namespace[name] for name in names}


def module(name, **attributes):
    mod = types.ModuleType(name)
    mod.__dict__.update(attributes)
    sys.modules[name] = mod
    return mod


def not_on_this_path(what):
    def fail(*_args, **_kwargs):
        raise RuntimeError(f"{what} is a stand-in here: Open WebUI's database/OAuth is not running")
    return fail


def import_headers_module(wheel, settings):
    """open_webui.utils.headers, imported from the wheel with its heavy imports stood in for."""
    module("open_webui", __path__=[os.path.join(wheel, "open_webui")])
    module("open_webui.utils", __path__=[os.path.join(wheel, "open_webui", "utils")])
    module("open_webui.env", **settings)
    module("open_webui.models", __path__=[])
    groups = types.SimpleNamespace(get_groups_by_member_id=not_on_this_path("Groups.get_groups_by_member_id"))
    module("open_webui.models.groups", Groups=groups)
    module("open_webui.utils.oauth", get_system_oauth_token=not_on_this_path("get_system_oauth_token"))
    try:
        import fastapi  # noqa: F401  (only for its Request annotation)
    except ImportError:
        module("fastapi", Request=type("Request", (), {}))
    sys.path.insert(0, wheel)
    import open_webui.utils.headers as headers

    return headers


def build_tool_server_headers_function(archive, headers, settings):
    """Open WebUI's build_tool_server_headers (open_webui/utils/tools.py), run with headers.py's functions."""
    def wanted(node):
        return isinstance(node, ast.AsyncFunctionDef) and node.name == "build_tool_server_headers"

    code, body = top_level_statements(archive.read("open_webui/utils/tools.py").decode(),
                                      "open_webui/utils/tools.py", wanted)
    if not body:
        sys.exit("open_webui/utils/tools.py lacks build_tool_server_headers")
    namespace = dict(vars(headers))
    namespace.update(settings)
    namespace["log"] = logging.getLogger("open_webui.utils.tools")
    exec(code, namespace)
    return namespace["build_tool_server_headers"]


def main():
    args = parse_args()
    wheel = os.path.abspath(args.wheel)
    if not os.path.isfile(wheel):
        sys.exit(f"{wheel}: no such wheel (run scripts/setup-test-deps.sh)")

    # What env.py reads, set before its statements run.
    os.environ["ENABLE_FORWARD_USER_INFO_HEADERS"] = "true"
    if args.secret is not None:
        os.environ["FORWARD_USER_INFO_HEADER_JWT_SECRET"] = args.secret
    else:
        os.environ.pop("FORWARD_USER_INFO_HEADER_JWT_SECRET", None)
    if args.expires_seconds is not None:
        os.environ["FORWARD_USER_INFO_HEADER_JWT_EXPIRES_SECONDS"] = str(args.expires_seconds)

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    with zipfile.ZipFile(wheel) as archive:
        settings = forward_settings(archive)
        headers = import_headers_module(wheel, settings)
        build_tool_server_headers = build_tool_server_headers_function(archive, headers, settings)

    user = types.SimpleNamespace(id=args.id, email=args.email, name=args.name, role=args.role)
    connection = {"type": "mcp", "auth_type": "bearer", "key": args.key}
    metadata = {"chat_id": args.chat_id, "message_id": args.message_id}
    result, _cookies = asyncio.run(
        build_tool_server_headers(connection, None, user, server_id="mcp", metadata=metadata)
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
