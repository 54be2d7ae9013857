// Drive the official MCP TypeScript SDK client against a bridged server; print one JSON object.
//
// usage: node client.mjs --url URL --transport streamable|sse
//                        --scenario everything|pair|time|pair-elicit|conformance
// env:   MCPB_TS_NODE_PREFIX = the directory whose node_modules holds @modelcontextprotocol/sdk
//
// Every step is caught on its own, so one broken feature shows as {"error": ...} in its slot
// and the pytest side can assert on each feature separately.
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";

const prefix = process.env.MCPB_TS_NODE_PREFIX;
if (!prefix) throw new Error("MCPB_TS_NODE_PREFIX is not set");
const require = createRequire(join(prefix, "package.json"));
const { Client } = require("@modelcontextprotocol/sdk/client/index.js");
const { StreamableHTTPClientTransport } = require("@modelcontextprotocol/sdk/client/streamableHttp.js");
const { SSEClientTransport } = require("@modelcontextprotocol/sdk/client/sse.js");
const types = require("@modelcontextprotocol/sdk/types.js");

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    transport: { type: "string", default: "streamable" },
    scenario: { type: "string", default: "everything" },
  },
});
const TIMEOUT = { timeout: 15000 };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const texts = (result) => (result.content ?? []).filter((c) => c.type === "text").map((c) => c.text);

async function step(out, name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: String(e?.message ?? e), code: e?.code ?? null, name: e?.name ?? null };
  }
}

// A connected client that answers sampling and elicitation with answers tagged by `tag`.
async function connect(tag, seen) {
  const client = new Client(
    { name: `ts-client-${tag}`, version: "1.0.0" },
    { capabilities: { sampling: {}, elicitation: { form: {} } } },
  );
  client.setRequestHandler(types.CreateMessageRequestSchema, async (req) => {
    seen.sampling.push(req.params.messages.map((m) => m.content.text).join("\n"));
    return {
      model: `model-${tag}`,
      role: "assistant",
      content: { type: "text", text: `sampled-by-${tag}` },
    };
  });
  client.setRequestHandler(types.ElicitRequestSchema, async (req) => {
    seen.elicitation.push(req.params.message);
    return {
      action: "accept",
      content: { name: `Ada ${tag}`, check: true, email: "ada@example.org", integer: 7 },
    };
  });
  client.setNotificationHandler(types.LoggingMessageNotificationSchema, (n) => {
    seen.logs.push(n.params);
  });
  client.setNotificationHandler(types.ResourceUpdatedNotificationSchema, (n) => {
    seen.updated.push(n.params.uri);
  });
  const url = new URL(opts.url);
  const transport =
    opts.transport === "sse" ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url);
  await client.connect(transport, TIMEOUT);
  return { client, transport };
}

async function everything(out) {
  const seen = { sampling: [], elicitation: [], logs: [], updated: [] };
  const { client, transport } = await connect("A", seen);
  out.serverInfo = client.getServerVersion();
  out.sessionId = transport.sessionId ?? null;
  await step(out, "tools", async () => (await client.listTools({}, TIMEOUT)).tools.map((t) => t.name));
  await step(out, "echo", async () =>
    texts(await client.callTool({ name: "echo", arguments: { message: "hello bridge" } }, undefined, TIMEOUT)),
  );
  await step(out, "sum", async () =>
    texts(await client.callTool({ name: "get-sum", arguments: { a: 2, b: 40 } }, undefined, TIMEOUT)),
  );
  await step(out, "resources", async () =>
    (await client.listResources({}, TIMEOUT)).resources.map((r) => r.uri),
  );
  await step(out, "templates", async () =>
    (await client.listResourceTemplates({}, TIMEOUT)).resourceTemplates.map((t) => t.uriTemplate),
  );
  await step(out, "read", async () =>
    (await client.readResource({ uri: "demo://resource/dynamic/text/7" }, TIMEOUT)).contents,
  );
  await step(out, "prompts", async () => (await client.listPrompts({}, TIMEOUT)).prompts.map((p) => p.name));
  await step(out, "prompt", async () =>
    (await client.getPrompt({ name: "args-prompt", arguments: { city: "Lyon", state: "Rhone" } }, TIMEOUT))
      .messages.map((m) => m.content.text),
  );
  await step(out, "progress", async () => {
    const progress = [];
    const result = await client.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 4 } },
      undefined,
      { ...TIMEOUT, onprogress: (p) => progress.push([p.progress, p.total]) },
    );
    return { progress, text: texts(result) };
  });
  await step(out, "logging", async () => {
    await client.setLoggingLevel("debug", TIMEOUT);
    const started = texts(await client.callTool({ name: "toggle-simulated-logging", arguments: {} }, undefined, TIMEOUT));
    const deadline = Date.now() + 4000;
    while (seen.logs.length === 0 && Date.now() < deadline) await sleep(50);
    await client.callTool({ name: "toggle-simulated-logging", arguments: {} }, undefined, TIMEOUT);
    return { started, logs: seen.logs.slice() };
  });
  await step(out, "sampling", async () => {
    const result = await client.callTool(
      { name: "trigger-sampling-request", arguments: { prompt: "what is 6x7", maxTokens: 20 } },
      undefined,
      TIMEOUT,
    );
    return { text: texts(result), asked: seen.sampling.slice() };
  });
  await step(out, "elicitation", async () => {
    const result = await client.callTool({ name: "trigger-elicitation-request", arguments: {} }, undefined, TIMEOUT);
    return { text: texts(result), asked: seen.elicitation.slice() };
  });
  await step(out, "cancel", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const call = client.callTool(
      { name: "trigger-long-running-operation", arguments: { duration: 4, steps: 4 } },
      undefined,
      { ...TIMEOUT, signal: controller.signal },
    );
    setTimeout(() => controller.abort("test cancels"), 300);
    let outcome;
    try {
      outcome = { resolved: texts(await call) };
    } catch (e) {
      outcome = { rejected: String(e?.message ?? e) };
    }
    outcome.elapsedMs = Date.now() - started;
    const pingStart = Date.now();
    await client.ping(TIMEOUT);
    outcome.pingMs = Date.now() - pingStart;
    outcome.after = texts(await client.callTool({ name: "echo", arguments: { message: "after cancel" } }, undefined, TIMEOUT));
    return outcome;
  });
  await step(out, "unknownTool", async () => {
    const result = await client.callTool({ name: "no-such-tool", arguments: {} }, undefined, TIMEOUT);
    return { isError: result.isError ?? false, text: texts(result) };
  });
  await step(out, "subscription", async () => {
    const uri = "demo://resource/static/document/features.md";
    await client.subscribeResource({ uri }, TIMEOUT);
    await client.callTool({ name: "toggle-subscriber-updates", arguments: {} }, undefined, TIMEOUT);
    const deadline = Date.now() + 4000;
    while (seen.updated.length === 0 && Date.now() < deadline) await sleep(50);
    await client.callTool({ name: "toggle-subscriber-updates", arguments: {} }, undefined, TIMEOUT);
    await client.unsubscribeResource({ uri }, TIMEOUT);
    return { updated: seen.updated.slice() };
  });
  // Ending the session (DELETE): the same session id is then refused with 404.
  await step(out, "terminate", async () => {
    if (opts.transport === "sse") return null;
    const sid = transport.sessionId;
    await transport.terminateSession();
    const response = await fetch(opts.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": sid,
        "mcp-protocol-version": transport.protocolVersion ?? "2025-11-25",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 99, method: "tools/list" }),
    });
    return { status: response.status, cleared: transport.sessionId === undefined };
  });
  await client.close();
}

// Two clients at once: server→client requests and progress must reach the client that asked.
async function pair(out) {
  const tags = ["A", "B"];
  const peers = await Promise.all(
    tags.map(async (tag) => {
      const seen = { sampling: [], elicitation: [], logs: [], updated: [] };
      return { tag, seen, ...(await connect(tag, seen)) };
    }),
  );
  out.sessionIds = peers.map((p) => p.transport.sessionId ?? null);
  const results = await Promise.all(
    peers.map(async ({ tag, seen, client }) => {
      const r = {};
      await Promise.all([
        step(r, "sampling", async () => {
          const result = await client.callTool(
            { name: "trigger-sampling-request", arguments: { prompt: `question from ${tag}`, maxTokens: 5 } },
            undefined,
            TIMEOUT,
          );
          return { text: texts(result), asked: seen.sampling.slice() };
        }),
        step(r, "progress", async () => {
          const progress = [];
          await client.callTool(
            { name: "trigger-long-running-operation", arguments: { duration: tag === "A" ? 1 : 1.5, steps: tag === "A" ? 2 : 3 } },
            undefined,
            { ...TIMEOUT, onprogress: (p) => progress.push([p.progress, p.total]) },
          );
          return progress;
        }),
        step(r, "echo", async () =>
          texts(await client.callTool({ name: "echo", arguments: { message: `I am ${tag}` } }, undefined, TIMEOUT)),
        ),
      ]);
      r.askedSampling = seen.sampling.slice();
      return [tag, r];
    }),
  );
  for (const [tag, r] of results) out[tag] = r;
  await Promise.all(peers.map((p) => p.client.close()));
}

async function time(out) {
  const seen = { sampling: [], elicitation: [], logs: [], updated: [] };
  const { client } = await connect("T", seen);
  out.serverInfo = client.getServerVersion();
  await step(out, "tools", async () => (await client.listTools({}, TIMEOUT)).tools.map((t) => t.name));
  await step(out, "now", async () => {
    const result = await client.callTool({ name: "get_current_time", arguments: { timezone: "UTC" } }, undefined, TIMEOUT);
    return { isError: result.isError ?? false, text: texts(result) };
  });
  await step(out, "convert", async () => {
    const result = await client.callTool(
      { name: "convert_time", arguments: { source_timezone: "Europe/Paris", time: "12:00", target_timezone: "Asia/Tokyo" } },
      undefined,
      TIMEOUT,
    );
    return { isError: result.isError ?? false, text: texts(result) };
  });
  await step(out, "badZone", async () => {
    const result = await client.callTool({ name: "get_current_time", arguments: { timezone: "Mars/Olympus" } }, undefined, TIMEOUT);
    return { isError: result.isError ?? false, text: texts(result) };
  });
  await client.close();
}

// Two clients ask for elicitation at once. The child's elicitation/create carries nothing
// from either call (no arguments to match), so only true ownership tracking can route it.
async function pairElicit(out) {
  const peers = await Promise.all(
    ["A", "B"].map(async (tag) => {
      const seen = { sampling: [], elicitation: [], logs: [], updated: [] };
      return { tag, seen, ...(await connect(tag, seen)) };
    }),
  );
  const results = await Promise.all(
    peers.map(async ({ tag, seen, client }) => {
      const r = {};
      await step(r, "elicitation", async () => {
        const result = await client.callTool({ name: "trigger-elicitation-request", arguments: {} }, undefined, TIMEOUT);
        return { text: texts(result) };
      });
      r.asked = seen.elicitation.length;
      return [tag, r];
    }),
  );
  for (const [tag, r] of results) out[tag] = r;
  await Promise.all(peers.map((p) => p.client.close()));
}

// The project's conformance server (tests/support/conformance_server.py): the era this SDK
// speaks, a plain call, and a question of the server answered through the SDK's handler.
async function conformance(out) {
  const seen = { sampling: [], elicitation: [], logs: [], updated: [] };
  const { client, transport } = await connect("C", seen);
  out.protocolVersion = transport.protocolVersion ?? null;
  out.sessionId = transport.sessionId ?? null;
  await step(out, "simple", async () =>
    texts(await client.callTool({ name: "test_simple_text", arguments: {} }, undefined, TIMEOUT)),
  );
  await step(out, "elicit", async () => {
    const result = await client.callTool(
      { name: "test_elicitation", arguments: { message: "Who?" } },
      undefined,
      TIMEOUT,
    );
    return { text: texts(result), asked: seen.elicitation };
  });
  await client.close();
}

const scenarios = { everything, pair, time, "pair-elicit": pairElicit, conformance };
const out = { scenario: opts.scenario, transport: opts.transport };
try {
  await scenarios[opts.scenario](out);
} catch (e) {
  out.fatal = String(e?.stack ?? e);
}
process.stdout.write(JSON.stringify(out) + "\n", () => process.exit(0));
