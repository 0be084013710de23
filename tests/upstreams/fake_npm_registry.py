#!/usr/bin/env python3
"""A fake npm registry for the pinning tests (tests/review.rs): it knows the
packages given as arguments, `NAME=LATEST` each, and nothing else.

    fake_npm_registry.py @modelcontextprotocol/server-everything=2026.8.31

`GET /NAME` (a scoped name's `/` sent as `%2f`, as npm does, or as is)
answers a packument whose `dist-tags.latest` is LATEST; any other path is
404. It binds a free loopback port and prints
`listening on http://127.0.0.1:PORT` on stdout first, then `request GET PATH`
for each request, before answering it. Standard library only.
"""

import json
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PACKAGES = dict(arg.rsplit("=", 1) for arg in sys.argv[1:])


class Registry(BaseHTTPRequestHandler):
    def do_GET(self):
        print(f"request GET {self.path}", flush=True)
        name = urllib.parse.unquote(self.path.split("?", 1)[0].lstrip("/"))
        latest = PACKAGES.get(name)
        if latest is None:
            self.answer(404, {"error": "Not found"})
            return
        self.answer(
            200,
            {
                "name": name,
                "dist-tags": {"latest": latest},
                "versions": {latest: {"name": name, "version": latest}},
            },
        )

    def answer(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
