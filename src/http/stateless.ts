/**
 * Requests served without a session: every 2026-07-28 request (the revision has no sessions), and
 * 2025 requests in `--stateless` mode. Each gets a fresh MCP server and the FlopsClient of its
 * credentials, closed when its response ends.
 *
 * - 2026-07-28: the SDK's `createMcpHandler` (strict: `legacy: 'reject'`) checks the per-request
 *   envelope and the `Mcp-Method` / `Mcp-Name` headers, serves `server/discover` and
 *   `subscriptions/listen` (on one event bus for the process), stamps the server's identity and
 *   the cache hints. The request's client reaches the server factory through `authInfo`.
 * - 2025 without sessions: the SDK's transport with no session id generator, as before; GET and
 *   DELETE are 405. One `tools/call` with the server's own credentials goes to one long-lived
 *   server instead (calls.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthInfo,
  createMcpHandler,
  isJSONRPCRequest,
  type McpServer,
} from '@modelcontextprotocol/server';
import type { FlopsClient } from '../api/client.js';
import type { Logger } from '../log.js';
import type { ReplicaEventBus } from './bus.js';
import { CallTransport } from './calls.js';
import type { Credentials } from './guards.js';
import type { rpcError } from './server.js';
import type { Resolved } from './sessions.js';
import { TrackingTransport } from './transport.js';
import { idOf, sendWebResponse, toWebRequest } from './web.js';

export interface PerRequestOptions {
  log: Logger;
  maxBodyBytes: number;
  resolveClient: (creds: Credentials | undefined) => Resolved;
  /** A server for one request; `toolCallOnly`: the request is one `tools/call` message. */
  serverFor: (client: FlopsClient, era: 'modern' | 'legacy', toolCallOnly: boolean) => McpServer;
  /** `subscriptions/listen` streams of this process listen here (and, joined to Redis, the replicas'). */
  bus: ReplicaEventBus;
  rpcError: typeof rpcError;
}

/**
 * The body is one `tools/call` request: the server built for it answers nothing else, so it needs
 * no prompts, resource listings or skills (createServer's `toolCallOnly`).
 */
const isToolCall = (body: unknown): boolean =>
  typeof body === 'object' &&
  body !== null &&
  !Array.isArray(body) &&
  (body as { method?: unknown }).method === 'tools/call';

export class PerRequestServing {
  readonly #o: PerRequestOptions;
  readonly #clients = new WeakMap<AuthInfo, { client: FlopsClient; toolCallOnly: boolean }>();
  readonly #modern;
  /** 2025 stateless exchanges in flight, ended with an error on shutdown. */
  readonly #exchanges = new Set<(cancel?: string) => Promise<void>>();
  /** The server of 2025 `tools/call` requests with the server's own credentials, made on the first. */
  #calls: Promise<{ server: McpServer; transport: CallTransport; client: FlopsClient }> | undefined;

  constructor(options: PerRequestOptions) {
    this.#o = options;
    this.#modern = createMcpHandler(
      (context) => {
        const request = context.authInfo && this.#clients.get(context.authInfo);
        if (!request) throw new Error('no client for this request');
        return this.#o.serverFor(request.client, 'modern', request.toolCallOnly);
      },
      {
        legacy: 'reject',
        bus: options.bus,
        maxRequestBodySize: options.maxBodyBytes,
        onerror: (err) => this.#o.log.debug('http modern request refused or failed', { error: err.message }),
      },
    );
  }

  /** A 2026-07-28 request. */
  async modern(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    creds: Credentials | undefined,
  ): Promise<void> {
    const resolved = this.#o.resolveClient(creds);
    if ('status' in resolved) {
      this.#o.rpcError(res, resolved.status, -32001, resolved.message, {}, idOf(body));
      return;
    }
    const { client, owns } = resolved;
    if (owns) res.once('close', () => void client.close().catch(() => undefined));
    // Not a credential: a handle that carries the request's client to the server factory.
    const authInfo: AuthInfo = { token: '', clientId: client.clientId, scopes: [] };
    this.#clients.set(authInfo, { client, toolCallOnly: isToolCall(body) });
    const response = await this.#modern.fetch(toWebRequest(req, res), { authInfo, parsedBody: body });
    await sendWebResponse(res, response);
  }

  /** A 2025 request in stateless mode. */
  async legacy(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    creds: Credentials | undefined,
  ): Promise<void> {
    if (req.method !== 'POST') {
      this.#o.rpcError(res, 405, -32000, 'Method not allowed: this server is stateless (POST only)', {
        Allow: 'POST',
      });
      return;
    }
    const resolved = this.#o.resolveClient(creds);
    if ('status' in resolved) {
      this.#o.rpcError(res, resolved.status, -32001, resolved.message, {}, idOf(body));
      return;
    }
    const { client, owns } = resolved;
    const toolCall = isToolCall(body);
    if (!owns && toolCall && isJSONRPCRequest(body)) {
      const calls = await this.#callServer(client);
      // The server's own client is one for the process: the shared server was built with it.
      if (calls.client === client && calls.transport.accepts(req)) {
        calls.transport.serve(body, req, res);
        return;
      }
    }
    let server: McpServer;
    try {
      server = this.#o.serverFor(client, 'legacy', toolCall);
    } catch (err) {
      if (owns) await client.close().catch(() => undefined);
      throw err;
    }
    // No sessionIdGenerator: stateless (exactOptionalPropertyTypes forbids spelling it `undefined`).
    const transport = new TrackingTransport({});
    transport.onerror = (err) => this.#o.log.debug('http transport error', { error: err.message });
    let ended: Promise<void> | undefined;
    const end = (cancel?: string) => {
      ended ??= Promise.resolve().then(async () => {
        this.#exchanges.delete(end);
        await (cancel ? transport.cancelAndClose(cancel) : transport.close()).catch(() => undefined);
        await server.close().catch(() => undefined);
        if (owns) await client.close().catch(() => undefined);
      });
      return ended;
    };
    this.#exchanges.add(end);
    res.once('close', () => void end());
    await server.connect(transport);
    const response = await transport.handleRequest(toWebRequest(req, res), { parsedBody: body });
    await sendWebResponse(res, response);
  }

  #callServer(
    client: FlopsClient,
  ): Promise<{ server: McpServer; transport: CallTransport; client: FlopsClient }> {
    this.#calls ??= (async () => {
      const server = this.#o.serverFor(client, 'legacy', true);
      const transport = new CallTransport();
      transport.onerror = (err) => this.#o.log.debug('http transport error', { error: err.message });
      await server.connect(transport);
      return { server, transport, client };
    })().catch((err: unknown) => {
      this.#calls = undefined;
      throw err;
    });
    return this.#calls;
  }

  /** Stop: end the 2025 exchanges with `message`, abort the 2026 ones and close their streams. */
  async close(message: string): Promise<void> {
    const calls = await this.#calls?.catch(() => undefined);
    calls?.transport.cancelAll(message);
    await calls?.server.close().catch(() => undefined);
    await Promise.allSettled([...this.#exchanges].map((end) => end(message)));
    await this.#modern.close().catch(() => undefined);
  }
}
