/**
 * HTTP test helpers: a real sandbox, the real Streamable HTTP server on a loopback port, real SDK
 * clients over StreamableHTTPClientTransport, and raw requests through undici.
 */

import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { request } from 'undici';
import { FlopsClient } from '../src/api/client.js';
import { type HttpServerHandle, type HttpServerOptions, startHttpServer } from '../src/http/server.js';
import { createLogger } from '../src/log.js';
import { OTHER_ACCOUNT, type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { httpTestServer } from './helpers.js';

/** Distinctive secrets, so that the logs can be searched for them. */
export const DEFAULT_KEY = 'default-key-7f3a9c';
export const USER_B = { clientId: 'shared-user', apiKey: 'user-b-key-41d2e8' };
export const TOKEN = 'test-token-0123456789abcdef';

export interface HttpSetup {
  sandbox: Sandbox;
  http: HttpServerHandle;
  url: string;
  /** Credentials passed to clientFor, in order (undefined: the server's own). */
  clientsMade: ({ clientId: string; apiKey: string } | undefined)[];
  /** Every log line written so far. */
  logs: string[];
  /** The default account's credentials, for use as request headers. */
  userA: { clientId: string; apiKey: string };
  close: () => Promise<void>;
}

export async function httpSetup(
  options: Partial<Omit<HttpServerOptions, 'log' | 'clientFor' | 'serverFor' | 'health'>> & {
    timeScale?: number;
  } = {},
): Promise<HttpSetup> {
  const sandbox = await startSandbox({
    port: 0,
    timeScale: options.timeScale ?? 0.05,
    clientId: 'sandbox',
    apiKey: DEFAULT_KEY,
  });
  // The second account gets working credentials (it has none in the seed).
  sandbox.state.accounts.get(OTHER_ACCOUNT)!.apiKey = USER_B.apiKey;
  const shared = new FlopsClient({
    baseUrl: sandbox.url,
    clientId: 'sandbox',
    apiKey: DEFAULT_KEY,
    retryBaseMs: 20,
  });
  const clientsMade: HttpSetup['clientsMade'] = [];
  const logs: string[] = [];
  const hasDefaultCredentials = options.hasDefaultCredentials ?? true;
  const { timeScale: _t, ...rest } = options;
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    stateless: false,
    log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    hasDefaultCredentials,
    clientFor: (creds) => {
      clientsMade.push(creds);
      if (creds) return new FlopsClient({ baseUrl: sandbox.url, ...creds, retryBaseMs: 20 });
      if (!hasDefaultCredentials) throw new Error('no credentials of our own');
      return shared;
    },
    serverFor: (client, info) => httpTestServer(client, info),
    health: () => ({ mode: 'sandbox', readOnly: false }),
    ...rest,
  });
  return {
    sandbox,
    http,
    url: http.url,
    clientsMade,
    logs,
    userA: { clientId: 'sandbox', apiKey: DEFAULT_KEY },
    close: async () => {
      await http.close();
      await shared.close();
      await sandbox.close();
    },
  };
}

export interface Connected {
  mcp: Client;
  transport: StreamableHTTPClientTransport;
  call: (name: string, args?: Record<string, unknown>) => Promise<CallToolResult>;
}

/** A real SDK client over Streamable HTTP, sending `headers` on every request. */
export async function connect(url: string, headers: Record<string, string> = {}): Promise<Connected> {
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  const mcp = new Client({ name: 'http-test', version: '1.0.0' });
  mcp.onerror = () => undefined;
  await mcp.connect(transport);
  return {
    mcp,
    transport,
    call: async (name, args = {}) => (await mcp.callTool({ name, arguments: args })) as CallToolResult,
  };
}

export const credHeaders = (c: { clientId: string; apiKey: string }): Record<string, string> => ({
  'X-Flops-Client-Id': c.clientId,
  'X-Flops-Api-Key': c.apiKey,
});

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

export interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/** A raw HTTP request (undici lets a test set Host); the body, if any, is a JSON-RPC message. */
export async function raw(
  url: string,
  options: {
    method?: 'GET' | 'POST' | 'DELETE' | 'PUT';
    headers?: Record<string, string>;
    body?: unknown;
    rawBody?: string | Readable;
  } = {},
): Promise<RawReply> {
  const method =
    options.method ?? (options.body === undefined && options.rawBody === undefined ? 'GET' : 'POST');
  const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const res = await request(url, {
    method,
    headers: {
      accept: 'application/json, text/event-stream',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(body === undefined ? {} : { body }),
  });
  // SSE answers stay open for GET; read what an error or a single response gives.
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => {
      const data = text.startsWith('event:') || text.startsWith('data:') ? sseData(text) : text;
      return JSON.parse(data) as Record<string, unknown>;
    },
  };
}

function sseData(text: string): string {
  const line = text.split('\n').find((l) => l.startsWith('data:'));
  return line ? line.slice('data:'.length).trim() : '';
}

/** The JSON of a tool result's text. */
export function toolJson(result: CallToolResult): Record<string, unknown> {
  const first = result.content[0];
  if (first?.type !== 'text') throw new Error('no text content');
  return JSON.parse(first.text) as Record<string, unknown>;
}

export async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
