// An MCP client from the official TypeScript SDK (pinned in tests/upstreams),
// driven by tests/gateway.rs against a proxy's MCP gateway: connects with
// StreamableHTTPClientTransport (the API key as a Bearer header), lists the
// tools (every page) and calls a few. Prints one JSON object of what it saw;
// the Rust test asserts on it.
//
//     node ts_sdk.mjs URL KEY

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = path.join(here, "../../upstreams/node_modules/@modelcontextprotocol/sdk/dist/esm");
const load = (file) => import(pathToFileURL(path.join(sdk, file)).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");

const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error("usage: node ts_sdk.mjs URL KEY");
  process.exit(2);
}

const client = new Client({ name: "gateway-e2e-ts", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${key}` } },
});
await client.connect(transport);

const report = {
  server_info: client.getServerVersion(),
  protocol_version: transport.protocolVersion ?? null,
  session_id: transport.sessionId ?? null,
  tools: [],
  calls: [],
};
let cursor;
do {
  const page = await client.listTools(cursor === undefined ? {} : { cursor });
  report.tools.push(...page.tools.map((tool) => tool.name));
  cursor = page.nextCursor;
} while (cursor !== undefined);

const calls = [
  ["echo", { message: "from typescript", count: 3 }],
  ["returns_structured", {}],
  ["fails_with_is_error", { path: "/x" }],
  ["fails_with_invalid_params", { value: 3 }],
  ["echo", { message: 5 }],
  ["no_such_tool", {}],
];
for (const [tool, args] of calls) {
  try {
    const result = await client.callTool({ name: tool, arguments: args });
    report.calls.push({ tool, arguments: args, result });
  } catch (error) {
    report.calls.push({
      tool,
      arguments: args,
      error: { code: error.code ?? null, message: error.message, data: error.data ?? null },
    });
  }
}
await transport.terminateSession();
await client.close();
console.log(JSON.stringify(report));
