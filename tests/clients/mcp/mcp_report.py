"""What the Python client scripts here report, in one shape: they assert
nothing themselves, they print what they saw as JSON and the Rust tests
decide. Imported by the scripts beside it (a script's own folder is on
Python's path)."""

from mcp.shared.exceptions import MCPError


def dump(model) -> dict:
    """A model of the SDK as the JSON on the wire."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def error_report(error: MCPError) -> dict:
    """A JSON-RPC error as received."""
    return {"code": error.code, "message": error.message, "data": error.data}


async def outcome(request) -> dict:
    """A request's result, or its JSON-RPC error."""
    try:
        return {"result": dump(await request)}
    except MCPError as error:
        return {"error": error_report(error)}
    except Exception as error:  # noqa: BLE001 - reported, the Rust side decides
        return {"exception": f"{type(error).__name__}: {error}"}
