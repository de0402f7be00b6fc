/**
 * The Streamable HTTP server on plain `node:http`: MCP at `/mcp`, a health check at `/healthz`
 * (the process serves) and a readiness check at `/readyz` (it can serve: the provider and, when
 * configured, Redis answer).
 * One endpoint serves both generations of MCP.
 *
 * Every `/mcp` request first passes the guards of guards.ts, in order (Host and Origin allow-lists,
 * the bearer token, no credentials in the query string, the credential headers' shape, the method),
 * and its body is read under a size limit. Then:
 *
 * - a 2026-07-28 request (per-request `_meta` envelope) goes to the per-request path
 *   (stateless.ts), whatever the mode: that revision has no sessions;
 * - a 2025 request goes to a session (sessions.ts), or with `--stateless` to the per-request path.
 *
 * Secrets never reach the log: neither the token nor an api key is put into a message, and session
 * ids are logged by their first 8 characters only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isLegacyRequest, type McpServer } from '@modelcontextprotocol/server';
import type { FlopsClient } from '../api/client.js';
import type { Logger } from '../log.js';
import { perObject } from '../util.js';
import { VERSION } from '../version.js';
import { readJsonBody } from './body.js';
import { accountTag, ReplicaEventBus } from './bus.js';
import {
  allowLists,
  authorityHost,
  bearerChecker,
  type Credentials,
  isLoopbackHost,
  readCredentialHeaders,
  refusalOf,
} from './guards.js';
import { missingScopes } from './scopes.js';
import { type Resolved, SessionStore } from './sessions.js';
import { PerRequestServing } from './stateless.js';
import { idOf } from './web.js';

export { type Credentials, isLoopbackHost } from './guards.js';

export const MCP_PATH = '/mcp';
export const HEALTH_PATH = '/healthz';
export const METRICS_PATH = '/metrics';

/**
 * MCP authorization (`--auth oauth`, auth/oauth.ts): the sign-in routes beside `/mcp`, and who a
 * request's access token belongs to. Each signed-in account brings its own Flops credentials.
 */
export interface OAuthGate {
  /** Serves the OAuth and well-known routes; false when the path is none of them. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
  /**
   * The token's scopes and account's credentials; or, for a valid token of an account whose
   * credentials are not kept yet (an external authorization server), the link to enter them.
   */
  authenticate(
    authorization: string | undefined,
  ): Promise<{ scopes: string[]; credentials: Credentials } | { scopes: string[]; link: string } | undefined>;
  /** The `WWW-Authenticate` value of a 401 or 403. */
  challenge(
    error?: 'invalid_token' | 'insufficient_scope',
    scope?: readonly string[],
    description?: string,
  ): string;
}

export const READY_PATH = '/readyz';

/** What `/readyz` reports: ready or not, and each check's state (`ok`, or why not). */
export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
}

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
  /**
   * One MCP server per session (stateful 2025) or per request (2026, and stateless 2025: client
   * capabilities from the request's envelope, or unknown). `publish` announces a resource update
   * to every `subscriptions/listen` stream of the process.
   */
  serverFor: (
    client: FlopsClient,
    info: {
      stateless: boolean;
      publish: (uri: string) => void;
      /**
       * 2025 sessions: hear the resource updates of the client's provider account published anywhere
       * (this process, and the replicas when the bus is joined to Redis); stopped with the session.
       */
      listen?: ((onUpdated: (uri: string) => void) => () => void) | undefined;
      era: 'modern' | 'legacy';
      /**
       * Stateless: the request is one `tools/call` message, the only one this server will answer
       * (createServer's `toolCallOnly`).
       */
      toolCallOnly?: boolean | undefined;
    },
  ) => McpServer;
  /**
   * With `--auth oauth`: made once the server listens (the issuer may be its own address). Every
   * `/mcp` request then needs an access token (or FLOPS_MCP_TOKEN, for header-mode clients).
   */
  oauth?: ((url: URL) => Promise<OAuthGate>) | undefined;
  /** Merged into `GET /healthz` (version, mode, readOnly…): never a secret. */
  health: () => Record<string, unknown>;
  /**
   * `GET /readyz`: whether this replica can serve (the provider answers, Redis if configured).
   * Asked at most once a second; unset: ready whenever the process serves.
   */
  ready?: (() => Promise<Readiness>) | undefined;
  /** Change events (resource updates); joined to Redis, shared by the replicas. Default: in process. */
  bus?: ReplicaEventBus | undefined;
  /** FLOPS_MCP_REPLICA: put before every 2025 session id, for the balancer's affinity. */
  replica?: string | undefined;
  /** Extra `Host` values: `name:port` exactly, or `name` on any port (a reverse proxy's name). */
  allowedHosts?: string[] | undefined;
  /** Extra `Origin` values, e.g. `https://app.example.com`. */
  allowedOrigins?: string[] | undefined;
  /** A session unused this long is closed. Default 30 min. */
  sessionIdleMs?: number | undefined;
  /** Sessions open at once; an initialize beyond it gets 503. Default 100. */
  maxSessions?: number | undefined;
  /** Sessions one credential (or the server's) and one remote address may hold. Default 10 and 20. */
  maxSessionsPerCredential?: number | undefined;
  maxSessionsPerAddress?: number | undefined;
  /** Connections at once; beyond it new ones are closed. Default 1,000. */
  maxConnections?: number | undefined;
  /** Time for a request's headers, and for the whole request. Default 10 s and 30 s. */
  headersTimeoutMs?: number | undefined;
  requestTimeoutMs?: number | undefined;
  /** Largest POST body; beyond it 413. Default 1 MiB. */
  maxBodyBytes?: number | undefined;
  /**
   * How long close() (SIGTERM) lets tool calls in flight finish before they are answered with an
   * error and connections are cut. Default 2 s (the CLI's FLOPS_MCP_DRAIN_SECONDS: 10 s).
   */
  shutdownGraceMs?: number | undefined;
  /**
   * Prometheus metrics (metrics.ts): served at `GET /metrics` behind the guards of `/mcp` (Host,
   * Origin, bearer token), or with `metricsPort` on a listener of their own on the same host.
   */
  metrics?: MetricsEndpoint | undefined;
  /** A separate port for `GET /metrics` (0 picks a free one), without the token: keep it internal. */
  metricsPort?: number | undefined;
}

/** What the server needs of the metrics module: the exposition, and the sessions' count. */
export interface MetricsEndpoint {
  contentType: string;
  render(): Promise<string>;
  countSessions(read: () => number): void;
}

export interface HttpServerHandle {
  /** `http://host:port/mcp` */
  url: string;
  port: number;
  /** Stop accepting, end every session, close every connection; leaves no timer. */
  close(): Promise<void>;
  /** Sessions open now (always 0 when stateless). */
  sessions(): number;
  /** `http://host:port/metrics` when metrics are served (on the MCP port or their own). */
  metricsUrl: string | undefined;
}

/** The server cannot start as configured (e.g. a non-loopback bind without a token): a usage error. */
export class HttpConfigError extends Error {
  override name = 'HttpConfigError';
}

/**
 * Limits of the HTTP server (README, "Over HTTP"): sessions idle for 10 minutes end; at most 100
 * sessions, 10 per user credential and 20 per remote address beyond loopback; at most 1,000 connections at once; a
 * request's headers must arrive within 10 s and its body within 30 s (checked every second), so
 * that sockets that never finish their headers cannot lock anyone out for long.
 */
const DEFAULTS = {
  sessionIdleMs: 10 * 60_000,
  maxSessions: 100,
  maxSessionsPerCredential: 10,
  maxSessionsPerAddress: 20,
  maxConnections: 1_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxBodyBytes: 1024 * 1024,
  graceMs: 2_000,
};

const SHUTDOWN_MESSAGE =
  'The MCP server is shutting down: this request was cancelled. An operation it started may still be running at Flops.';

/** A JSON-RPC error response; with the request's id when the body is one request (see idOf). */
export function rpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  id: string | number | null = null,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...headers,
  });
  res.end(body);
}

/** The request beside a parsed body for the SDK's classification: the body decides (no headers). */
const CLASSIFY = new Request('http://local/mcp', { method: 'POST' });

/** The request names a protocol revision of the 2026 generation in its `MCP-Protocol-Version` header. */
function isModernHeader(req: IncomingMessage): boolean {
  const header = req.headers['mcp-protocol-version'];
  const version = Array.isArray(header) ? header[0] : header;
  return version !== undefined && version >= '2026';
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new HttpConfigError(`${name} must be a positive number`);
  return value;
}

export async function startHttpServer(o: HttpServerOptions): Promise<HttpServerHandle> {
  const token = o.token === '' ? undefined : o.token;
  if (!isLoopbackHost(o.host) && token === undefined && o.oauth === undefined) {
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

  const bus = o.bus ?? new ReplicaEventBus();
  /** Resource updates are tagged with the provider account of the client that made them. */
  // Made for every server (one a stateless request): the tag is a hash, kept for the client's life.
  const publisher = perObject((client: FlopsClient) => {
    const account = accountTag(client.clientId);
    return (uri: string) => bus.publish({ kind: 'resource_updated', uri, account });
  });
  const perRequest = new PerRequestServing({
    log,
    maxBodyBytes,
    resolveClient,
    bus,
    serverFor: (client, era, toolCallOnly) =>
      o.serverFor(client, { stateless: true, publish: publisher(client), era, toolCallOnly }),
    rpcError,
  });
  const sessions = new SessionStore({
    log,
    idleMs,
    maxSessions,
    maxPerCredential: Math.floor(
      positive('maxSessionsPerCredential', o.maxSessionsPerCredential, DEFAULTS.maxSessionsPerCredential),
    ),
    maxPerAddress: Math.floor(
      positive('maxSessionsPerAddress', o.maxSessionsPerAddress, DEFAULTS.maxSessionsPerAddress),
    ),
    resolveClient,
    idPrefix: o.replica,
    serverFor: (client, onEnd) => {
      const account = accountTag(client.clientId);
      const listen = (onUpdated: (uri: string) => void) => {
        const stop = bus.subscribe((e) => {
          if (e.kind === 'resource_updated' && e.account === account) onUpdated(e.uri);
        });
        onEnd(stop);
        return stop;
      };
      return o.serverFor(client, { stateless: false, publish: publisher(client), listen, era: 'legacy' });
    },
    rpcError,
  });
  let closing = false;
  /** HTTP requests in flight (SSE streams included), and POSTs among them. */
  let activeRequests = 0;
  let activePosts = 0;
  /** Re-checks the condition close() is waiting for. */
  let wake: (() => void) | undefined;
  // Set once listening; requests cannot arrive before.
  let lists = allowLists(o.host, o.port, o.allowedHosts, o.allowedOrigins);
  /** The OAuth gate, made once the address is known (requests wait for it). */
  let oauthReady: Promise<OAuthGate> | undefined;

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

  /** `GET /metrics`: the Prometheus exposition. */
  async function handleMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      rpcError(res, 405, -32000, 'Method not allowed', { Allow: 'GET, HEAD' });
      return;
    }
    const body = await o.metrics!.render();
    res.writeHead(200, {
      'Content-Type': o.metrics!.contentType,
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
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

  /** The last readiness, kept a second; one check at a time whatever the number of probes. */
  let readiness: { at: number; value: Promise<Readiness> } | undefined;
  async function handleReady(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      rpcError(res, 405, -32000, 'Method not allowed', { Allow: 'GET, HEAD' });
      return;
    }
    const now = Date.now();
    if (!readiness || now - readiness.at > 1_000) {
      const check = o.ready ?? (async () => ({ ready: true, checks: {} }));
      readiness = {
        at: now,
        value: check().catch((err: unknown) => ({
          ready: false,
          checks: { error: err instanceof Error ? err.message : String(err) },
        })),
      };
    }
    const { ready, checks } = await readiness.value;
    const body = JSON.stringify({ status: ready ? 'ready' : 'not ready', checks });
    res.writeHead(ready ? 200 : 503, {
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, stream: () => void): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://request.invalid');
    if (closing) {
      // Draining: another replica (or this one, restarted) takes the request.
      rpcError(res, 503, -32000, 'Server is shutting down: retry on another replica', {
        Connection: 'close',
        'Retry-After': '1',
      });
      return;
    }
    if (url.pathname === HEALTH_PATH) return handleHealth(req, res);
    if (url.pathname === READY_PATH) return handleReady(req, res);
    const oauth = o.oauth ? await oauthReady : undefined;
    const metricsHere =
      o.metrics !== undefined && o.metricsPort === undefined && url.pathname === METRICS_PATH;
    if (url.pathname !== MCP_PATH && !metricsHere) {
      if (oauth && (await oauth.handle(req, res, url))) return;
      rpcError(res, 404, -32000, `Not found: the MCP endpoint is ${MCP_PATH}`);
      return;
    }
    const refusal = refusalOf(
      { method: req.method, headers: req.headers, url },
      { lists, checkToken: oauth ? undefined : checkToken, stateless: o.stateless },
    );
    if (refusal) {
      log[refusal.level](`http request refused: ${refusal.why}`);
      rpcError(res, refusal.status, refusal.code, refusal.message, refusal.headers);
      return;
    }
    if (metricsHere) {
      // With sign-in, an access token is a user's, not the operator's: in-band metrics need FLOPS_MCP_TOKEN.
      if (oauth && !checkToken?.(req.headers.authorization)) {
        rpcError(
          res,
          401,
          -32001,
          'Unauthorized: /metrics needs FLOPS_MCP_TOKEN (or FLOPS_MCP_METRICS_PORT)',
          {
            'WWW-Authenticate': 'Bearer realm="flops-mcp"',
          },
        );
        return;
      }
      return handleMetrics(req, res);
    }
    let creds = readCredentialHeaders(req.headers);
    /** The access token's scopes; undefined: no OAuth (or FLOPS_MCP_TOKEN with credential headers). */
    let scopes: string[] | undefined;
    const authorization = req.headers.authorization;
    if (oauth && !checkToken?.(authorization)) {
      const who = await oauth.authenticate(authorization);
      if (!who) {
        log.debug('http request refused: no valid access token');
        rpcError(res, 401, -32001, 'Unauthorized: sign in (OAuth) to use this server', {
          'WWW-Authenticate': oauth.challenge(authorization ? 'invalid_token' : undefined),
        });
        return;
      }
      if ('link' in who) {
        rpcError(
          res,
          403,
          -32001,
          `Signed in, but this server does not know your Flops credentials yet: enter your Flops client id and API key once at ${who.link} and try again`,
          {},
        );
        return;
      }
      creds = { kind: 'some', creds: who.credentials };
      scopes = who.scopes;
    }
    const own = creds.kind === 'some' ? creds.creds : undefined;
    let body: unknown;
    if (req.method === 'POST') {
      const read = await readBody(req, res);
      if (read === undefined) return;
      body = read.value;
      const missing = oauth && scopes ? missingScopes(body, scopes) : [];
      if (oauth && missing.length > 0) {
        const wanted = [...new Set([...(scopes ?? []), ...missing])];
        log.debug('http request refused: insufficient scope', { missing: missing.join(' ') });
        rpcError(
          res,
          403,
          -32001,
          `Forbidden: this needs the ${missing.join(' and ')} permission, which was not granted`,
          { 'WWW-Authenticate': oauth.challenge('insufficient_scope', wanted, `needs ${missing.join(' ')}`) },
          idOf(body),
        );
        return;
      }
      // A stream that lasts as long as the client listens is not a call to wait for on shutdown.
      if ((body as { method?: unknown } | null)?.method === 'subscriptions/listen') stream();
      // The revision is in the message itself (its `_meta` envelope) or, for a malformed one, in
      // the protocol-version header: the SDK's modern path answers it (-32602 with its id).
      if (isModernHeader(req) || !(await isLegacyRequest(CLASSIFY, body))) {
        await perRequest.modern(req, res, body, own);
        return;
      }
    }
    if (o.stateless) await perRequest.legacy(req, res, body, own);
    else await sessions.handle(req, res, body, creds);
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

  const headersTimeout = positive('headersTimeoutMs', o.headersTimeoutMs, DEFAULTS.headersTimeoutMs);
  const httpServer = createServer(
    {
      headersTimeout,
      requestTimeout: Math.max(
        headersTimeout,
        positive('requestTimeoutMs', o.requestTimeoutMs, DEFAULTS.requestTimeoutMs),
      ),
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    (req, res) => {
      let post = req.method === 'POST';
      activeRequests++;
      if (post) activePosts++;
      const stream = () => {
        if (post) activePosts--;
        post = false;
        wake?.();
      };
      res.once('close', () => {
        activeRequests--;
        if (post) activePosts--;
        wake?.();
      });
      handle(req, res, stream).catch((err: unknown) => {
        log.error('http request failed', { error: err instanceof Error ? err.message : String(err) });
        if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error');
        else res.destroy();
      });
    },
  );
  httpServer.maxConnections = Math.floor(
    positive('maxConnections', o.maxConnections, DEFAULTS.maxConnections),
  );
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
  if (o.oauth) {
    oauthReady = o.oauth(new URL(url));
    await oauthReady.catch((err: unknown) => {
      httpServer.close();
      throw err;
    });
  }

  o.metrics?.countSessions(() => sessions.size);
  const metricsServer =
    o.metrics && o.metricsPort !== undefined
      ? await startMetricsListener(o.host, o.metricsPort).catch((err: unknown) => {
          httpServer.close();
          throw err;
        })
      : undefined;
  const metricsUrl = metricsServer
    ? `http://${shownHost}:${metricsServer.port}${METRICS_PATH}`
    : o.metrics
      ? `http://${shownHost}:${port}${METRICS_PATH}`
      : undefined;

  /** `GET /metrics` alone, on a port of its own: no token (keep the port internal), no MCP. */
  async function startMetricsListener(host: string, metricsPort: number) {
    if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) {
      throw new HttpConfigError('metricsPort must be an integer from 0 to 65535');
    }
    const server = createServer({ headersTimeout, requestTimeout: headersTimeout }, (req, res) => {
      const path = new URL(req.url ?? '/', 'http://request.invalid').pathname;
      if (path !== METRICS_PATH) {
        rpcError(res, 404, -32000, `Not found: metrics are at ${METRICS_PATH}`);
        return;
      }
      handleMetrics(req, res).catch(() => {
        if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error');
        else res.destroy();
      });
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(metricsPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    return { server, port: a !== null && typeof a !== 'string' ? a.port : metricsPort };
  }

  const sweeper = setInterval(() => sessions.sweep(), Math.max(20, Math.min(60_000, Math.floor(idleMs / 2))));
  sweeper.unref();

  log.info('http listening', {
    url,
    stateless: o.stateless,
    auth: o.oauth ? (token ? 'oauth+bearer' : 'oauth') : token ? 'bearer' : 'none',
    perUserCredentials: true,
    ...(metricsUrl ? { metrics: metricsUrl } : {}),
  });

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    metricsUrl,
    sessions: () => sessions.size,
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(sweeper);
        // Stop accepting: the port closes now; requests on open connections get 503 + Retry-After.
        const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        if (activePosts > 0) {
          log.info('http draining', { callsInFlight: activePosts, deadlineMs: graceMs });
        }
        // Calls in flight may finish within the grace period; the rest are answered with an error.
        await waitUntil(() => activePosts === 0, graceMs);
        await Promise.allSettled([sessions.close(SHUTDOWN_MESSAGE), perRequest.close(SHUTDOWN_MESSAGE)]);
        httpServer.closeIdleConnections();
        await waitUntil(() => activeRequests === 0, 500);
        httpServer.closeAllConnections();
        await stopped;
        if (metricsServer) {
          metricsServer.server.closeAllConnections();
          await new Promise<void>((resolve) => metricsServer.server.close(() => resolve()));
        }
        log.info('http stopped');
      })();
      return closed;
    },
  };
}
