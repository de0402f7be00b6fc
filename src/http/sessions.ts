/**
 * The 2025-era sessions of Streamable HTTP: an `initialize` without a session id opens a session —
 * its own transport, MCP server and FlopsClient (the request's credentials, or the server's) —
 * kept by `mcp-session-id` until DELETE, idle expiry or shutdown. Responses stream over SSE, so
 * progress notifications reach the client. Every later request of a session must carry the
 * credentials it was opened with.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isInitializeRequest, type McpServer } from '@modelcontextprotocol/server';
import type { FlopsClient } from '../api/client.js';
import type { Logger } from '../log.js';
import { observe } from '../observe.js';
import {
  type CredentialHeaders,
  type Credentials,
  credentialsFingerprint,
  isLoopbackHost,
  sameFingerprint,
} from './guards.js';
import type { rpcError } from './server.js';
import { TrackingTransport } from './transport.js';
import { idOf, sendWebResponse, toWebRequest } from './web.js';

export type EndReason = 'deleted' | 'idle' | 'shutdown' | 'closed' | 'failed';

/** A client for a request's credentials, or why there is none (an HTTP status and message). */
export type Resolved = { client: FlopsClient; owns: boolean } | { status: number; message: string };

export interface SessionOptions {
  log: Logger;
  idleMs: number;
  maxSessions: number;
  /** Sessions one credential (or the server's own) may hold, and one remote address. */
  maxPerCredential: number;
  maxPerAddress: number;
  resolveClient: (creds: Credentials | undefined) => Resolved;
  /** The session's server; `onEnd` registers what to undo when the session ends (its bus listener). */
  serverFor: (client: FlopsClient, onEnd: (undo: () => void) => void) => McpServer;
  /** Put before every session id (`r1.…`): the replica's name, for balancer affinity. */
  idPrefix?: string | undefined;
  /** Answer with a JSON-RPC error (no id). */
  rpcError: typeof rpcError;
}

interface Session {
  /** Set once the transport has initialized the session. */
  id: string | undefined;
  transport: TrackingTransport;
  server: McpServer;
  client: FlopsClient;
  ownsClient: boolean;
  /** Digest of the session's own credentials; undefined: the server's. */
  fingerprint: Buffer | undefined;
  /** Who holds it: the credential (hex digest, or 'server') and the remote address. */
  owner: string;
  address: string;
  lastSeen: number;
  /** POST requests in flight: a session with one is never idle. */
  active: number;
  endReason: EndReason | undefined;
  ended: Promise<void> | undefined;
  /** Undone when the session ends (its listener on the change bus). */
  undo: (() => void)[];
}

const short = (id: string | undefined) => (id ? id.slice(0, 8) : '-');

const isInitialize = (body: unknown): boolean =>
  isInitializeRequest(body) || (Array.isArray(body) && body.length === 1 && isInitializeRequest(body[0]));

export class SessionStore {
  /** Initialized sessions by id. */
  readonly #sessions = new Map<string, Session>();
  /** Every session object alive, initialized or not yet. */
  readonly #live = new Set<Session>();
  #reserved = 0;
  #closing = false;
  readonly #o: SessionOptions;
  /** Credentials the provider accepted lately (digest → until): a session opens after one read. */
  readonly #verified = new Map<string, number>();

  constructor(options: SessionOptions) {
    this.#o = options;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** A request of the 2025 era (stateful mode): to its session, or opening one. */
  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    creds: CredentialHeaders,
  ): Promise<void> {
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (sessionId) {
      const s = this.#sessions.get(sessionId);
      if (!s) {
        this.#o.rpcError(
          res,
          404,
          -32001,
          'Session not found: it ended or expired; initialize a new one',
          {},
          idOf(body),
        );
        return;
      }
      if (!credentialsMatch(s, creds)) {
        this.#o.log.warn('http request refused: credentials differ from the session', {
          session: short(s.id),
        });
        this.#o.rpcError(
          res,
          403,
          -32000,
          "Forbidden: every request of a session must carry the session's credentials",
          {},
          idOf(body),
        );
        return;
      }
      this.#track(req, res, s);
      await this.#serve(s, req, res, body);
      return;
    }
    if (req.method !== 'POST') {
      this.#o.rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    if (!isInitialize(body)) {
      this.#o.rpcError(
        res,
        400,
        -32000,
        'Bad Request: no session id; a session starts with an initialize request',
        {},
        idOf(body),
      );
      return;
    }
    await this.#open(req, res, body, creds.kind === 'some' ? creds.creds : undefined);
  }

  async #verify(owner: string, client: FlopsClient): Promise<boolean> {
    const now = Date.now();
    if ((this.#verified.get(owner) ?? 0) > now) return true;
    const verdict = await client.probe();
    // Only the provider's refusal counts; an unreachable provider is not the user's fault.
    if (verdict !== 'ok') return verdict === 'unreachable';
    if (this.#verified.size > 10_000) this.#verified.clear();
    this.#verified.set(owner, now + 10 * 60_000);
    return true;
  }

  /** Close idle sessions. */
  sweep(now = Date.now()): void {
    for (const s of this.#sessions.values()) {
      if (s.active === 0 && now - s.lastSeen >= this.#o.idleMs) void this.#end(s, 'idle');
    }
  }

  /** End every session, answering its pending requests with `message`. */
  async close(message: string): Promise<void> {
    this.#closing = true;
    await Promise.allSettled([...this.#live].map((s) => this.#end(s, 'shutdown', message)));
  }

  async #serve(s: Session, req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
    const response = await s.transport.handleRequest(toWebRequest(req, res), { parsedBody: body });
    await sendWebResponse(res, response);
  }

  #track(req: IncomingMessage, res: ServerResponse, s: Session): void {
    const counts = req.method === 'POST';
    s.lastSeen = Date.now();
    if (counts) s.active++;
    res.once('close', () => {
      if (counts) s.active--;
      s.lastSeen = Date.now();
    });
  }

  #end(s: Session, reason: EndReason, cancel?: string): Promise<void> {
    if (s.ended) return s.ended;
    s.endReason ??= reason;
    if (s.id !== undefined && this.#sessions.get(s.id) === s) this.#sessions.delete(s.id);
    this.#live.delete(s);
    if (s.id !== undefined) {
      observe.sessionEnded(s.endReason);
      this.#o.log.info('http session ended', {
        session: short(s.id),
        reason: s.endReason,
        sessions: this.#sessions.size,
      });
    }
    // Deferred: closing the transport calls back into #end (onclose), which must see `ended`.
    for (const undo of s.undo.splice(0)) undo();
    s.ended = Promise.resolve().then(async () => {
      // Closing the transport aborts the session's in-flight tool calls and ends its SSE streams.
      await (cancel ? s.transport.cancelAndClose(cancel) : s.transport.close()).catch(() => undefined);
      await s.server.close().catch(() => undefined);
      if (s.ownsClient) await s.client.close().catch(() => undefined);
    });
    return s.ended;
  }

  async #open(
    req: IncomingMessage,
    res: ServerResponse,
    body: unknown,
    creds: Credentials | undefined,
  ): Promise<void> {
    const o = this.#o;
    this.sweep();
    if (this.#sessions.size + this.#reserved >= o.maxSessions) {
      o.log.warn('http session refused: too many sessions', { max: o.maxSessions });
      o.rpcError(
        res,
        503,
        -32000,
        `Too many sessions (${o.maxSessions}): end one (DELETE) or try again later`,
        {
          'Retry-After': '30',
        },
      );
      return;
    }
    const fingerprint = creds ? credentialsFingerprint(creds) : undefined;
    const owner = fingerprint?.toString('hex') ?? 'server';
    const address = req.socket.remoteAddress ?? '-';
    // Per user credential and per remote address: so that one holder cannot take every slot. The
    // server's own credentials and loopback clients (local hosts, a reverse proxy) share the
    // global cap only.
    const held = [...this.#live];
    const limit =
      creds && held.filter((s) => s.owner === owner).length >= o.maxPerCredential
        ? `${o.maxPerCredential} per credential`
        : !isLoopbackHost(address) && held.filter((s) => s.address === address).length >= o.maxPerAddress
          ? `${o.maxPerAddress} per address`
          : undefined;
    if (limit) {
      o.log.warn('http session refused: too many sessions for one holder', { limit });
      o.rpcError(
        res,
        429,
        -32000,
        `Too many sessions (${limit}): end one (DELETE) or let it expire`,
        {
          'Retry-After': '60',
        },
        idOf(body),
      );
      return;
    }
    const resolved = o.resolveClient(creds);
    if ('status' in resolved) {
      o.rpcError(res, resolved.status, -32001, resolved.message, {}, idOf(body));
      return;
    }
    // A user's own credentials are proven with one cheap read before a session holds a slot
    // (remembered for 10 minutes): made-up credentials cannot fill the server with sessions.
    if (creds && !(await this.#verify(owner, resolved.client))) {
      await resolved.client.close().catch(() => undefined);
      o.log.warn('http session refused: the provider did not accept the credentials');
      o.rpcError(
        res,
        401,
        -32001,
        'Flops did not accept these credentials (X-Flops-Client-Id / X-Flops-Api-Key)',
        {},
        idOf(body),
      );
      return;
    }
    let server: McpServer;
    const undo: (() => void)[] = [];
    try {
      server = o.serverFor(resolved.client, (fn) => undo.push(fn));
    } catch (err) {
      for (const fn of undo) fn();
      if (resolved.owns) await resolved.client.close().catch(() => undefined);
      throw err;
    }
    this.#reserved++;
    let released = false;
    const release = () => {
      if (!released) this.#reserved--;
      released = true;
    };
    const transport = new TrackingTransport({
      sessionIdGenerator: o.idPrefix ? () => `${o.idPrefix}.${randomUUID()}` : randomUUID,
      onsessioninitialized: (id) => {
        release();
        s.id = id;
        if (this.#closing) return;
        this.#sessions.set(id, s);
        o.log.info('http session started', {
          session: short(id),
          credentials: creds ? 'request' : 'server',
          sessions: this.#sessions.size,
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
      fingerprint,
      owner,
      address,
      lastSeen: Date.now(),
      active: 0,
      endReason: undefined,
      ended: undefined,
      undo,
    };
    transport.onclose = () => void this.#end(s, 'closed');
    transport.onerror = (err) =>
      o.log.debug('http transport error', { session: short(s.id), error: err.message });
    this.#live.add(s);
    try {
      await server.connect(transport);
      this.#track(req, res, s);
      await this.#serve(s, req, res, body);
    } finally {
      release();
      // The transport refused the initialize (bad headers, bad request): nothing to keep.
      if (this.#closing) await this.#end(s, 'shutdown');
      else if (s.id === undefined) await this.#end(s, 'failed');
    }
  }
}

/** A session's requests carry the credentials it was opened with: the same headers, or none. */
function credentialsMatch(s: Session, headers: CredentialHeaders): boolean {
  if (s.fingerprint === undefined) return headers.kind === 'none';
  return headers.kind === 'some' && sameFingerprint(s.fingerprint, credentialsFingerprint(headers.creds));
}
