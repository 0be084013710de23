// Calls tools through a client @hey-api/openapi-ts generated into ./client
// (copied next to this file by tests/client_generators.rs, compiled with tsc).
//
// Usage: node call_tools.js BASE_URL API_KEY CALLS_JSON
// CALLS_JSON: a file holding [{"operationId", "body"}, ...]. Each call goes
// through the SDK function named after the operationId (camelCase), on a
// client with the bearer token. Prints one JSON list: {operationId, status,
// body} per call (body: the SDK's `data` on success, its `error` otherwise).
import { readFileSync } from "node:fs";
import { createClient, createConfig } from "./client/client";
import * as sdk from "./client/sdk.gen";

type Call = { operationId: string; body: unknown };

async function main(): Promise<void> {
  const [baseUrl, apiKey, callsFile] = process.argv.slice(2);
  const client = createClient(createConfig({ baseUrl, auth: () => apiKey }));
  const calls: Call[] = JSON.parse(readFileSync(callsFile, "utf8"));
  const functions = sdk as unknown as Record<string, (options: object) => Promise<{
    data?: unknown;
    error?: unknown;
    response: Response;
  }>>;
  const results = [];
  for (const call of calls) {
    const name = call.operationId.replace(/[-_.](.)/g, (_, c: string) => c.toUpperCase());
    const tool = functions[name];
    if (typeof tool !== "function") {
      throw new Error(`the generated SDK has no function ${name} for ${call.operationId}`);
    }
    const result = await tool({ client, body: call.body });
    results.push({
      operationId: call.operationId,
      status: result.response.status,
      body: result.response.ok ? result.data : result.error,
    });
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
