#!/usr/bin/env python3
"""Open WebUI's own MCP client against a proxy's MCP gateway, driven by
tests/gateway.rs.

`open_webui/utils/mcp/client.py` (class `MCPClient`) is extracted unmodified
from the pinned Open WebUI wheel into a temporary package; only the two
open_webui modules it imports are stubbed, with Open WebUI's defaults
(`open_webui.env`: TLS verification on, 10 s initialize timeout, 300 s tool
timeout; `open_webui.utils.json_codec`: stdlib json, as with ENABLE_ORJSON
off). It connects as Open WebUI does (a Bearer header, `Client` in its
default mode), lists the tool specs and calls tools. Prints one JSON object
of what it saw; the Rust test asserts on it.

    open_webui_client.py WHEEL URL KEY
"""

import asyncio
import json
import sys
import tempfile
import zipfile
from pathlib import Path

STUBS = {
    "open_webui/__init__.py": "",
    "open_webui/utils/__init__.py": "",
    "open_webui/utils/mcp/__init__.py": "",
    "open_webui/env.py": (
        "AIOHTTP_CLIENT_SESSION_TOOL_SERVER_SSL = True\n"
        "AIOHTTP_CLIENT_TIMEOUT_TOOL_SERVER = 300\n"
        "MCP_INITIALIZE_TIMEOUT = 10\n"
    ),
    "open_webui/utils/json_codec.py": (
        "import json\n\n\n"
        "class JSONCodec:\n"
        "    JSONDecodeError = json.JSONDecodeError\n"
        "    dumps = staticmethod(json.dumps)\n"
        "    loads = staticmethod(json.loads)\n"
    ),
}

CLIENT = "open_webui/utils/mcp/client.py"


def install(wheel: str, folder: Path) -> None:
    for name, text in STUBS.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    with zipfile.ZipFile(wheel) as archive:
        (folder / CLIENT).write_bytes(archive.read(CLIENT))
    sys.path.insert(0, str(folder))


async def run(url: str, key: str) -> dict:
    from open_webui.utils.mcp.client import MCPClient

    client = MCPClient(server_name="gateway")
    await client.connect(url, headers={"Authorization": f"Bearer {key}"})
    report = {"protocol_version": client.client.protocol_version}
    try:
        specs = await client.list_tool_specs()
        report["tool_specs"] = specs
        calls = []
        for tool, arguments in [
            ("echo", {"message": "from open webui", "count": 4}),
            ("returns_structured", {}),
            ("fails_with_is_error", {"path": "/x"}),
        ]:
            try:
                calls.append({"tool": tool, "content": await client.call_tool(tool, arguments)})
            except Exception as error:  # noqa: BLE001 - Open WebUI raises on isError; reported
                calls.append({"tool": tool, "exception": f"{type(error).__name__}: {error}"})
        report["calls"] = calls
    finally:
        await client.disconnect()
    return report


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    wheel, url, key = sys.argv[1:]
    with tempfile.TemporaryDirectory() as folder:
        install(wheel, Path(folder))
        report = asyncio.run(run(url, key))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
