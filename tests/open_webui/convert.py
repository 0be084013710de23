"""Open WebUI's own OpenAPI-to-tool conversion, run on OpenAPI documents.

Usage: convert.py WHEEL DOCUMENT...

Reads `open_webui/utils/tools.py` out of the `open-webui` wheel (not
installed: importing the module pulls in chromadb, transformers and the rest
of Open WebUI), takes the source of `resolve_schema`,
`convert_openapi_to_tool_payload` and the `OPENAPI_HTTP_METHODS` constant
with `ast`, executes only those, and prints one JSON object to stdout:
`{DOCUMENT: {"tools": [...]}}` with Open WebUI's tool payloads, or
`{DOCUMENT: {"error": "TypeError: ..."}}` when the conversion raised (as
Open WebUI then loads none of that server's tools).
"""

import ast
import copy
import json
import sys
import traceback
import zipfile

MODULE = "open_webui/utils/tools.py"
NAMES = {"resolve_schema", "convert_openapi_to_tool_payload", "OPENAPI_HTTP_METHODS"}


def conversion_namespace(wheel):
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read(MODULE).decode()
    tree = ast.parse(source)
    wanted = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in NAMES:
            wanted.append(node)
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id in NAMES for target in node.targets
        ):
            wanted.append(node)
    found = {
        node.name if isinstance(node, ast.FunctionDef) else node.targets[0].id
        for node in wanted
    }
    if found != NAMES:
        sys.exit(f"{wheel}: {MODULE} lacks {sorted(NAMES - found)}")
    namespace = {"copy": copy}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), MODULE, "exec"), namespace)
    return namespace


def main():
    wheel, documents = sys.argv[1], sys.argv[2:]
    convert = conversion_namespace(wheel)["convert_openapi_to_tool_payload"]
    results = {}
    for path in documents:
        with open(path) as file:
            spec = json.load(file)
        try:
            results[path] = {"tools": convert(spec)}
        except Exception as error:  # what Open WebUI's loader would meet
            last = traceback.extract_tb(error.__traceback__)[-1]
            results[path] = {
                "error": f"{type(error).__name__}: {error} (line {last.lineno}: {last.line})"
            }
    json.dump(results, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
