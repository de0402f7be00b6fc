/**
 * The Streamable HTTP transport on plain `node:http`: MCP at `/mcp`, a health check at `/healthz`.
 *
 * Every `/mcp` request passes, in this order: the Host and Origin allow-lists (DNS rebinding, 403),
 * the bearer token when one is configured (401), the refusal of credentials in the query string
 * (400) and the per-user credential headers (`X-Flops-Client-Id` / `X-Flops-Api-Key`). Then:
 *
 * - stateful (default): an initialize request without a session id opens a session — its own
 *   transport, MCP server and FlopsClient (the request's credentials, or the server's) — kept in a
 *   map keyed by `mcp-session-id` until DELETE, idle expiry or shutdown. Responses stream over SSE,
 *   so progress notifications reach the client.
 * - stateless: each POST gets a fresh transport and server, closed when its response ends; GET and
 *   DELETE are 405.
 *
 * Secrets never reach the log: neither the token nor an api key is put into a message, and session
 * ids are logged by their first 8 characters only.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FlopsClient } from './api/client.js';
import { readJsonBody } from './http/body.js';
import {
  allowLists,
  authorityHost,
  bearerChecker,
  type CredentialHeaders,
  type Credentials,
  credentialsFingerprint,
  forbiddenQueryParams,
  hostAllowed,
  isLoopbackHost,
  originAllowed,
  readCredentialHeaders,
  sameFingerprint,
} from './http/guard.js';
import { TrackingTransport } from './http/transport.js';
import type { Logger } from './log.js';
import { VERSION } from './version.js';

export { type Credentials, isLoopbackHost } from './http/guard.js';

export const MCP_PATH = '/mcp';
export const HEALTH_PATH = '/healthz';

export interface HttpServerOptions {
  /** Interface to bind; loopback unless a token is given. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  stateless: boolean;
  /** FLOPS_MCP_TOKEN: when set, every `/mcp` request needs `Authorization: Bearer <token>`. */
  token?: string | undefined;
  log: Logger;
  /**
   * A FlopsClient for a session (stateful) or a request (stateless). With credentials, the client
   * is the session's own and is closed with it; `undefined` means the server's own credentials, and
   * that client is shared: it is never closed here. May throw when the server has no credentials of
   * its own and the request brings none.
   */
  clientFor: (creds: Credentials | undefined) => FlopsClient;
  /** Whether clientFor(undefined) works (the server has credentials of its own). */
  hasDefaultCredentials: boolean;
  /** One MCP server per session (stateful) or per request (stateless: client capabilities unknown). */
  serverFor: (client: FlopsClient, info: { stateless: boolean }) => McpServer;
  /** Merged into `GET /healthz` (version, mode, readOnly…): never a secret. */
  health: () => Record<string, unknown>;
  /** Extra `Host` values: `name:port` exactly, or `name` on any port (a reverse proxy's name). */
  allowedHosts?: string[] | undefined;
  /** Extra `Origin` values, e.g. `https://app.example.com`. */
  allowedOrigins?: string[] | undefined;
  /** A session unused this long is closed. Default 30 min. */
  sessionIdleMs?: number | undefined;
  /** Sessions open at once; an initialize beyond it gets 503. Default 100. */
  maxSessions?: number | undefined;
  /** Largest POST body; beyond it 413. Default 1 MiB. */
  maxBodyBytes?: number | undefined;
  /** How long close() lets in-flight responses finish before cutting connections. Default 2 s. */
  shutdownGraceMs?: number | undefined;
}

export interface HttpServerHandle {
  /** `http://host:port/mcp` */
  url: string;
  port: number;
  /** Stop accepting, end every session, close every connection; leaves no timer. */
  close(): Promise<void>;
  /** Sessions open now (always 0 when stateless). */
  sessions(): number;
}

/** The server cannot start as configured (e.g. a non-loopback bind without a token): a usage error. */
export class HttpConfigError extends Error {
  override name = 'HttpConfigError';
}

type EndReason = 'deleted' | 'idle' | 'shutdown' | 'closed' | 'failed';

interface Session {
  /** Set once the transport has initialized the session. */
  id: string | undefined;
  transport: TrackingTransport;
  server: McpServer;
  client: FlopsClient;
  ownsClient: boolean;
  /** Digest of the session's own credentials; undefined: the server's. */
  fingerprint: Buffer | undefined;
  lastSeen: number;
  /** POST requests in flight: a session with one is never idle. */
  active: number;
  endReason: EndReason | undefined;
  ended: Promise<void> | undefined;
}

interface Exchange {
  /** Close the exchange; with a message, first answer its pending request with that error. */
  end: (cancel?: string) => Promise<void>;
}

const DEFAULTS = { sessionIdleMs: 30 * 60_000, maxSessions: 100, maxBodyBytes: 1024 * 1024, graceMs: 2_000 };

const SHUTDOWN_MESSAGE =
  'The MCP server is shutting down: this request was cancelled. An operation it started may still be running at Flops.';

/** A JSON-RPC error response with no id, as the SDK's transport writes them. */
function rpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

const isInitialize = (body: unknown): boolean =>
  isInitializeRequest(body) || (Array.isArray(body) && body.length === 1 && isInitializeRequest(body[0]));

const short = (id: string | undefined) => (id ? id.slice(0, 8) : '-');

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new HttpConfigError(`${name} must be a positive number`);
  return value;
}

export async function startHttpServer(o: HttpServerOptions): Promise<HttpServerHandle> {
  const token = o.token === '' ? undefined : o.token;
  if (!isLoopbackHost(o.host) && token === undefined) {
    throw new HttpConfigError(
      `Refusing to listen on ${o.host}, which is not a loopback address, without a token: ` +
        'set FLOPS_MCP_TOKEN (clients then send "Authorization: Bearer <token>"), or bind 127.0.0.1.',
    );
  }
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new HttpConfigError('port must be an integer from 0 to 65535');
  }
  const idleMs = positive('sessionIdleMs', o.sessionIdleMs, DEFAULTS.sessionIdleMs);
  const maxSessions = Math.floor(positive('maxSessions', o.maxSessions, DEFAULTS.maxSessions));
  const maxBodyBytes = positive('maxBodyBytes', o.maxBodyBytes, DEFAULTS.maxBodyBytes);
  const graceMs = o.shutdownGraceMs ?? DEFAULTS.graceMs;
  const log = o.log;
  const checkToken = token === undefined ? undefined : bearerChecker(token);
  if (token !== undefined && token.length < 16) {
    log.warn('FLOPS_MCP_TOKEN is short: use at least 16 random characters');
  }

  /** Initialized sessions by id. */
  const sessions = new Map<string, Session>();
  /** Every session object alive, initialized or not yet. */
  const live = new Set<Session>();
  /** Stateless exchanges in flight. */
  const exchanges = new Set<Exchange>();
  let reserved = 0;
  let closing = false;
  /** HTTP requests in flight (SSE streams included), and POSTs among them. */
  let activeRequests = 0;
  let activePosts = 0;
  /** Re-checks the condition close() is waiting for. */
  let wake: (() => void) | undefined;
  // Set once listening; requests cannot arrive before.
  let lists = allowLists(o.host, o.port, o.allowedHosts, o.allowedOrigins);

  function endSession(s: Session, reason: EndReason, cancel?: string): Promise<void> {
    if (s.ended) return s.ended;
    s.endReason ??= reason;
    if (s.id !== undefined && sessions.get(s.id) === s) sessions.delete(s.id);
    live.delete(s);
    if (s.id !== undefined) {
      log.info('http session ended', { session: short(s.id), reason: s.endReason, sessions: sessions.size });
    }
    // Deferred: closing the transport calls back into endSession (onclose), which must see `ended`.
    s.ended = Promise.resolve().then(async () => {
      // Closing the transport aborts the session's in-flight tool calls and ends its SSE streams.
      await (cancel ? s.transport.cancelAndClose(cancel) : s.transport.close()).catch(() => undefined);
      await s.server.close().catch(() => undefined);
      if (s.ownsClient) await s.client.close().catch(() => undefined);
    });
    return s.ended;
  }

  function sweep(now = Date.now()): void {
    for (const s of sessions.values()) {
      if (s.active === 0 && now - s.lastSeen >= idleMs) void endSession(s, 'idle');
    }
  }

  type Resolved = { client: FlopsClient; owns: boolean } | { status: number; message: string };

  function resolveClient(creds: Credentials | undefined): Resolved {
    const noCreds = {
      status: 401,
      message:
        'This server has no Flops credentials of its own: send X-Flops-Client-Id and X-Flops-Api-Key headers',
    };
    if (creds === undefined && !o.hasDefaultCredentials) return noCreds;
    try {
      return { client: o.clientFor(creds), owns: creds !== undefined };
    } catch {
      return creds === undefined
        ? noCreds
        : { status: 400, message: 'The credential headers are not usable' };
    }
  }

  function track(req: IncomingMessage, res: ServerResponse, s: Session): void {
    const counts = req.method === 'POST';
    s.lastSeen = Date.now();
    if (counts) s.active++;
    res.once('close', () => {
      if (counts) s.active--;
      s.lastSeen = Date.now();
    });
  }

  async function openSession(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    creds: Credentials | undefined,
  ): Promise<void> {
    sweep();
    if (sessions.size + reserved >= maxSessions) {
      log.warn('http session refused: too many sessions', { max: maxSessions });
      rpcError(res, 503, -32000, `Too many sessions (${maxSessions}): end one (DELETE) or try again later`, {
        'Retry-After': '30',
      });
      return;
    }
    const resolved = resolveClient(creds);
    if ('status' in resolved) {
      rpcError(res, resolved.status, -32001, resolved.message);
      return;
    }
    let server: McpServer;
    try {
      server = o.serverFor(resolved.client, { stateless: false });
    } catch (err) {
      if (resolved.owns) await resolved.client.close().catch(() => undefined);
      throw err;
    }
    reserved++;
    let released = false;
    const release = () => {
      if (!released) reserved--;
      released = true;
    };
    const transport = new TrackingTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => {
        release();
        s.id = id;
        if (closing) return;
        sessions.set(id, s);
        log.info('http session started', {
          session: short(id),
          credentials: creds ? 'request' : 'server',
          sessions: sessions.size,
        });
      },
      onsessionclosed: () => {
        s.endReason ??= 'deleted';
      },
    });
    const s: Session = {
      id: undefined,
      transport,
      server,
      client: resolved.client,
      ownsClient: resolved.owns,
      fingerprint: creds ? credentialsFingerprint(creds) : undefined,
      lastSeen: Date.now(),
      active: 0,
      endReason: undefined,
      ended: undefined,
    };
    s.transport.onclose = () => void endSession(s, 'closed');
    s.transport.onerror = (err) =>
      log.debug('http transport error', { session: short(s.id), error: err.message });
    live.add(s);
    try {
      await server.connect(s.transport);
      track(req, res, s);
      await s.transport.handleRequest(req, res, body);
    } finally {
      release();
      // The transport refused the initialize (bad headers, bad request): nothing to keep.
      if (closing) await endSession(s, 'shutdown');
      else if (s.id === undefined) await endSession(s, 'failed');
    }
  }

  function credentialsMatch(s: Session, headers: CredentialHeaders): boolean {
    if (headers.kind !== 'some') return true;
    if (s.fingerprint === undefined) return false;
    return sameFingerprint(s.fingerprint, credentialsFingerprint(headers.creds));
  }

  async function handleStateful(
    req: IncomingMessage,
    res: ServerResponse,
    creds: CredentialHeaders,
  ): Promise<void> {
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId) {
      const s = sessions.get(sessionId);
      if (!s) {
        rpcError(res, 404, -32001, 'Session not found: it ended or expired; initialize a new one');
        return;
      }
      if (!credentialsMatch(s, creds)) {
        log.warn('http request refused: credentials differ from the session', { session: short(s.id) });
        rpcError(res, 403, -32000, "Forbidden: these credentials are not the session's");
        return;
      }
      let body: unknown;
      if (req.method === 'POST') {
        const read = await readBody(req, res);
        if (read === undefined) return;
        body = read.value;
      }
      track(req, res, s);
      await s.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST') {
      rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    const read = await readBody(req, res);
    if (read === undefined) return;
    if (!isInitialize(read.value)) {
      rpcError(res, 400, -32000, 'Bad Request: no session id; a session starts with an initialize request');
      return;
    }
    await openSession(req, res, read.value, creds.kind === 'some' ? creds.creds : undefined);
  }

  async function handleStateless(
    req: IncomingMessage,
    res: ServerResponse,
    creds: CredentialHeaders,
  ): Promise<void> {
    if (req.method !== 'POST') {
      rpcError(res, 405, -32000, 'Method not allowed: this server is stateless (POST only)', {
        Allow: 'POST',
      });
      return;
    }
    const read = await readBody(req, res);
    if (read === undefined) return;
    const resolved = resolveClient(creds.kind === 'some' ? creds.creds : undefined);
    if ('status' in resolved) {
      rpcError(res, resolved.status, -32001, resolved.message);
      return;
    }
    const { client, owns } = resolved;
    let server: McpServer;
    try {
      server = o.serverFor(client, { stateless: true });
    } catch (err) {
      if (owns) await client.close().catch(() => undefined);
      throw err;
    }
    // No sessionIdGenerator: stateless (exactOptionalPropertyTypes forbids spelling it `undefined`).
    const transport = new TrackingTransport({});
    transport.onerror = (err) => log.debug('http transport error', { error: err.message });
    let ended: Promise<void> | undefined;
    const exchange: Exchange = {
      end: (cancel) => {
        ended ??= Promise.resolve().then(async () => {
          exchanges.delete(exchange);
          await (cancel ? transport.cancelAndClose(cancel) : transport.close()).catch(() => undefined);
          await server.close().catch(() => undefined);
          if (owns) await client.close().catch(() => undefined);
        });
        return ended;
      },
    };
    exchanges.add(exchange);
    res.once('close', () => void exchange.end());
    await server.connect(transport);
    await transport.handleRequest(req, res, read.value);
  }

  /** The parsed body, or undefined once an error has been answered. */
  async function readBody(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ value: unknown } | undefined> {
    const result = await readJsonBody(req, maxBodyBytes);
    switch (result.kind) {
      case 'ok':
        return { value: result.value };
      case 'too-large':
        rpcError(res, 413, -32000, `Request body too large (limit ${maxBodyBytes} bytes)`, {
          Connection: 'close',
        });
        return undefined;
      case 'invalid':
        rpcError(res, 400, -32700, result.message);
        return undefined;
      case 'aborted':
        res.destroy();
        return undefined;
    }
  }

  function handleHealth(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      rpcError(res, 405, -32000, 'Method not allowed', { Allow: 'GET, HEAD' });
      return;
    }
    const body = JSON.stringify({
      status: 'ok',
      version: VERSION,
      transport: 'http',
      stateless: o.stateless,
      ...o.health(),
    });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://request.invalid');
    if (closing) {
      rpcError(res, 503, -32000, 'Server is shutting down', { Connection: 'close' });
      return;
    }
    if (url.pathname === HEALTH_PATH) return handleHealth(req, res);
    if (url.pathname !== MCP_PATH) {
      rpcError(res, 404, -32000, `Not found: the MCP endpoint is ${MCP_PATH}`);
      return;
    }
    if (!hostAllowed(req.headers.host, lists)) {
      log.debug('http request refused: Host not allowed');
      rpcError(res, 403, -32000, 'Forbidden: Host header not allowed');
      return;
    }
    if (!originAllowed(req.headers.origin, lists)) {
      log.debug('http request refused: Origin not allowed');
      rpcError(res, 403, -32000, 'Forbidden: Origin not allowed');
      return;
    }
    if (checkToken && !checkToken(req.headers.authorization)) {
      log.debug('http request refused: missing or wrong bearer token');
      rpcError(res, 401, -32001, 'Unauthorized: send "Authorization: Bearer <token>"', {
        'WWW-Authenticate': req.headers.authorization
          ? 'Bearer realm="flops-mcp", error="invalid_token"'
          : 'Bearer realm="flops-mcp"',
      });
      return;
    }
    const forbidden = forbiddenQueryParams(url.searchParams);
    if (forbidden.length > 0) {
      log.warn('http request refused: credentials in the query string', { params: forbidden });
      rpcError(
        res,
        400,
        -32000,
        `Credentials and endpoints are never accepted in the query string (${forbidden.join(', ')}): ` +
          'send X-Flops-Client-Id and X-Flops-Api-Key headers',
      );
      return;
    }
    const creds = readCredentialHeaders(req.headers);
    if (creds.kind === 'invalid') {
      rpcError(res, 400, -32000, creds.message);
      return;
    }
    if (req.method !== 'POST' && req.method !== 'GET' && req.method !== 'DELETE') {
      rpcError(res, 405, -32000, 'Method not allowed', { Allow: o.stateless ? 'POST' : 'GET, POST, DELETE' });
      return;
    }
    if (o.stateless) await handleStateless(req, res, creds);
    else await handleStateful(req, res, creds);
  }

  /** Resolves when `done()` holds (checked as requests end) or after `ms`; leaves no timer. */
  function waitUntil(done: () => boolean, ms: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      wake = () => {
        if (done()) finish();
      };
    });
  }

  const httpServer = createServer((req, res) => {
    const post = req.method === 'POST';
    activeRequests++;
    if (post) activePosts++;
    res.once('close', () => {
      activeRequests--;
      if (post) activePosts--;
      wake?.();
    });
    handle(req, res).catch((err: unknown) => {
      log.error('http request failed', { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error');
      else res.destroy();
    });
  });
  httpServer.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(o.port, o.host, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const address = httpServer.address();
  if (address === null || typeof address === 'string') {
    httpServer.close();
    throw new Error('http: no TCP address');
  }
  const port = address.port;
  lists = allowLists(o.host, port, o.allowedHosts, o.allowedOrigins);
  const shownHost =
    o.host === '0.0.0.0'
      ? '127.0.0.1'
      : o.host === '::' || o.host === '[::]'
        ? '[::1]'
        : authorityHost(o.host);
  const url = `http://${shownHost}:${port}${MCP_PATH}`;

  const sweeper = setInterval(sweep, Math.max(20, Math.min(60_000, Math.floor(idleMs / 2))));
  sweeper.unref();

  log.info('http listening', {
    url,
    stateless: o.stateless,
    auth: token ? 'bearer' : 'none',
    perUserCredentials: true,
  });

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    sessions: () => sessions.size,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(sweeper);
        const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        // Calls in flight may finish within the grace period; the rest are answered with an error.
        await waitUntil(() => activePosts === 0, graceMs);
        await Promise.allSettled([...live].map((s) => endSession(s, 'shutdown', SHUTDOWN_MESSAGE)));
        await Promise.allSettled([...exchanges].map((e) => e.end(SHUTDOWN_MESSAGE)));
        httpServer.closeIdleConnections();
        await waitUntil(() => activeRequests === 0, 500);
        httpServer.closeAllConnections();
        await stopped;
        log.info('http stopped');
      })();
      return closed;
    },
  };
}
