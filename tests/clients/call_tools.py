"""Calls tools through a client openapi-python-client generated.

Usage: call_tools.py PACKAGE_DIR BASE_URL API_KEY CALLS_JSON

PACKAGE_DIR is the generated package (`--meta none`); CALLS_JSON a file
holding `[{"operationId": ..., "input": COMPONENT, "body": {...}}, ...]`.
Each call goes through the generated module `api.tools.<operationId>` with
the body built as the generated model `models.<COMPONENT>` (`from_dict`), on
an `AuthenticatedClient` (bearer token). Prints one JSON list, one entry per
call: `{"status", "body" (the JSON the proxy sent), "parsed" (the generated
model's `to_dict()` when the client parsed the 200 into a model, else null),
"parsed_type"}`.
"""

import importlib
import json
import re
import sys
from pathlib import Path


def main():
    package_dir, base_url, api_key, calls_file = sys.argv[1:5]
    package_dir = Path(package_dir)
    sys.path.insert(0, str(package_dir.parent))
    package = package_dir.name
    client_module = importlib.import_module(f"{package}.client")
    models = importlib.import_module(f"{package}.models")
    client = client_module.AuthenticatedClient(base_url=base_url, token=api_key, timeout=60)
    results = []
    for call in json.loads(Path(calls_file).read_text()):
        module_name = re.sub(r"[^a-z0-9]+", "_", call["operationId"].lower())
        tool = importlib.import_module(f"{package}.api.tools.{module_name}")
        body = getattr(models, call["input"]).from_dict(call["body"])
        response = tool.sync_detailed(client=client, body=body)
        parsed = response.parsed
        results.append(
            {
                "operationId": call["operationId"],
                "status": int(response.status_code),
                "body": json.loads(response.content) if response.content else None,
                "parsed": parsed.to_dict() if hasattr(parsed, "to_dict") else None,
                "parsed_type": type(parsed).__name__,
            }
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
