#!/usr/bin/env node
// An MCP stdio server using the official TypeScript SDK. GREETING comes from the manifest's
// user_config (through mcp_config.env), which is what server.json's environmentVariables list.
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const greeting = process.env.GREETING || "Hello";
const server = new McpServer({ name: "node-stdio-example", version: "1.0.0" });

server.tool("greet", "Greet someone by name.", { name: z.string() }, async ({ name }) => ({
  content: [{ type: "text", text: `${greeting}, ${name}!` }],
}));

server.tool("arch", "The CPU architecture this server runs on.", {}, async () => ({
  content: [{ type: "text", text: process.arch }],
}));

await server.connect(new StdioServerTransport());
