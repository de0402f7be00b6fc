/**
 * Test helpers: a real sandbox on a loopback port, a real FlopsClient over HTTP, and a real MCP
 * Client linked to the real server over InMemoryTransport. Nothing of our own is mocked.
 */

import { readFileSync } from 'node:fs';
import { StreamableHTTPClientTransport, Client as V2Client } from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { FlopsClient, type FlopsClientOptions } from '../src/api/client.js';
import { type HttpServerOptions, startHttpServer } from '../src/http/server.js';
import { silentLogger } from '../src/log.js';
import { createServer, type ServerOptions } from '../src/mcp/server.js';
import { startSandbox } from '../src/sandbox/index.js';

export { V2Client };

export type Sandbox = Awaited<ReturnType<typeof startSandbox>>;

export async function sandboxWithClient(
  options: {
    timeScale?: number;
    client?: Partial<FlopsClientOptions> | undefined;
    sandbox?: Partial<Parameters<typeof startSandbox>[0]> | undefined;
  } = {},
): Promise<{ sandbox: Sandbox; client: FlopsClient; close: () => Promise<void> }> {
  const sandbox = await startSandbox({ port: 0, timeScale: options.timeScale ?? 0.05, ...options.sandbox });
  const client = new FlopsClient({
    baseUrl: sandbox.url,
    clientId: sandbox.clientId,
    apiKey: sandbox.apiKey,
    retryBaseMs: 20,
    ...options.client,
  });
  return {
    sandbox,
    client,
    close: async () => {
      await client.close();
      await sandbox.close();
    },
  };
}

export interface Harness {
  sandbox: Sandbox;
  flops: FlopsClient;
  mcp: Client;
  call: (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>;
  close: () => Promise<void>;
}

/** Sandbox + FlopsClient + MCP server + MCP Client linked in memory. */
export async function harness(
  options: {
    timeScale?: number;
    server?: Partial<ServerOptions>;
    capabilities?: Record<string, unknown>;
    /** FlopsClient options (timeoutMs, retries, …) over the harness defaults. */
    client?: Partial<FlopsClientOptions>;
    /** Sandbox options (apiKey, clientId, vmQuota, …) over the harness defaults. */
    sandbox?: Partial<Parameters<typeof startSandbox>[0]>;
  } = {},
): Promise<Harness> {
  const {
    sandbox,
    client: flops,
    close,
  } = await sandboxWithClient({
    timeScale: options.timeScale ?? 0.05,
    client: options.client,
    sandbox: options.sandbox,
  });
  const server = createServer({
    client: flops,
    sandbox: true,
    waitMinIntervalMs: 20,
    waitMaxIntervalMs: 200,
    ...options.server,
  });
  const mcp = new Client({ name: 'test', version: '1.0.0' }, { capabilities: options.capabilities ?? {} });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), mcp.connect(b)]);
  return {
    sandbox,
    flops,
    mcp,
    call: async (name, args = {}) => (await mcp.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await mcp.close();
      await server.close();
      await close();
    },
  };
}

/** A tool result of either client (SDK 1.x or v2). */
type AnyResult = { content: unknown[] } | CallToolResult;

/** The JSON of a tool result's text. */
export function json(result: AnyResult): Record<string, unknown> {
  const first = result.content[0] as { type?: string; text?: string } | undefined;
  if (first?.type !== 'text') throw new Error('no text content');
  return JSON.parse(first.text ?? '') as Record<string, unknown>;
}

export function text(result: AnyResult): string {
  const first = result.content[0] as { type?: string; text?: string } | undefined;
  return first?.type === 'text' ? (first.text ?? '') : '';
}

/** The destructive tools as the issue names them: the oracle for the table and the tool surface. */
export const DESTRUCTIVE_TOOLS = [
  'vm_reinstall',
  'vm_reset',
  'vm_poweroff',
  'vm_delete',
  'vm_pubkey_change',
  'vm_ip_delete',
  'vm_ip_move',
  'vm_snapshot_rollback',
  'vm_snapshot_delete',
  'vm_backup_rollback',
  'pubkey_delete',
];

/** The entries of an audit log file (one JSON object per line). */
export function readAudit(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * The same as `harness`, but the 2026-07-28 revision: the real HTTP server (src/http) on a loopback
 * port, and the SDK's v2 Client in `auto` mode, which opens with `server/discover`.
 */
export async function modernHarness(
  options: {
    timeScale?: number;
    server?: Partial<ServerOptions>;
    capabilities?: Record<string, unknown>;
    stateless?: boolean;
    sandbox?: Partial<Parameters<typeof startSandbox>[0]>;
  } = {},
): Promise<Omit<Harness, 'mcp'> & { mcp: V2Client; url: string }> {
  const {
    sandbox,
    client: flops,
    close,
  } = await sandboxWithClient({
    timeScale: options.timeScale ?? 0.05,
    sandbox: options.sandbox,
  });
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    stateless: options.stateless ?? false,
    log: silentLogger,
    hasDefaultCredentials: true,
    clientFor: (creds) =>
      creds ? new FlopsClient({ baseUrl: sandbox.url, ...creds, retryBaseMs: 20 }) : flops,
    serverFor: (client, info) => httpTestServer(client, info, options.server),
    health: () => ({}),
  });
  const mcp = new V2Client(
    { name: 'test-v2', version: '1.0.0' },
    { versionNegotiation: { mode: 'auto' }, capabilities: options.capabilities ?? {} },
  );
  await mcp.connect(new StreamableHTTPClientTransport(new URL(http.url)));
  if (mcp.getProtocolEra() !== 'modern') throw new Error('the v2 client did not negotiate 2026-07-28');
  return {
    sandbox,
    flops,
    mcp,
    url: http.url,
    call: async (name, args = {}) => (await mcp.callTool({ name, arguments: args })) as CallToolResult,
    close: async () => {
      await mcp.close();
      await http.close();
      await close();
    },
  };
}

/** The server an HTTP test serves per session or request: the sandbox's, with a quick waiter. */
export function httpTestServer(
  client: FlopsClient,
  info: Parameters<HttpServerOptions['serverFor']>[1],
  server: Partial<ServerOptions> = {},
) {
  return createServer({
    client,
    sandbox: true,
    waitMinIntervalMs: 20,
    waitMaxIntervalMs: 200,
    stateless: info.stateless,
    publish: info.publish,
    era: info.era,
    toolCallOnly: info.toolCallOnly,
    ...server,
  });
}
