/**
 * The sandbox's HTTP server (`node:http`, no framework): the Flops API below `/api/v1/`, and a small
 * control API below `/__sandbox/` for other processes (benchmarks, demos) to inject faults, read
 * the request counters and reset the state.
 *
 * API answers follow the provider: every method is a GET, every outcome of a routed call is HTTP
 * 200 with the JSON envelope (errors included). Two choices where the real API would answer with
 * its web server's pages: an unknown path is HTTP 404 and another HTTP method HTTP 405, both with a
 * JSON error envelope (errorCode null), so that a client sees a clear transport-level failure.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { paramsSchema, type ToolName } from '../api/operations.js';
import { decodeQuery } from '../api/wire.js';
import { type FaultSpec, Faults, faultSpecSchema, RequestCounters } from './faults.js';
import { type Ctx, type Handler, handlers } from './handlers/index.js';
import { type FieldError, SandboxError } from './model.js';
import { matchRoute, type RouteMatch } from './router.js';
import { notOwner, TEXT } from './rules.js';
import { liveShape, SandboxState } from './state.js';

export const API_PREFIX = '/api/v1/';
export const CONTROL_PREFIX = '/__sandbox/';

export interface SandboxOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Multiplies every operation's duration: 0.05 makes them 20× faster, 0 instant. Default 1. */
  timeScale?: number;
  /** Credentials of the default account; default `sandbox` / `sandbox`. */
  clientId?: string;
  apiKey?: string;
  /** Clock in epoch ms (inject one to drive operations deterministically); default Date.now. */
  now?: () => number;
  /** VMs an account may have; default 20. */
  vmQuota?: number;
  /**
   * Shape of the records in responses: `document` (default) as the provider's document prints
   * them, nulls included and `timeAdded` in epoch ms; `live` as the live API answers (null fields
   * left out, `timeAdded` an ISO string; docs/api.md, "Responses").
   */
  responses?: ResponseShape;
}

export type ResponseShape = 'document' | 'live';

export interface Sandbox {
  /** Base URL of the API, e.g. `http://127.0.0.1:40123/api/v1/`. */
  readonly url: string;
  /** Base URL of the control endpoints, e.g. `http://127.0.0.1:40123/__sandbox/`. */
  readonly controlUrl: string;
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly apiKey: string;
  readonly responses: ResponseShape;
  readonly faults: Faults;
  readonly requests: RequestCounters;
  readonly state: SandboxState;
  /** Back to the seed state; clears faults and counters. */
  reset(): void;
  /** Close the server and every connection (keep-alive ones too); leaves no timers. */
  close(): Promise<void>;
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const JSON_TYPE = 'application/json;charset=UTF-8';

function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

function errorEnvelope(errorCode: string | null, errorMessage: string, fieldErrors?: FieldError[]) {
  return fieldErrors
    ? { status: 'ERROR', errorCode, errorMessage, fieldErrors }
    : { status: 'ERROR', errorMessage, errorCode };
}

function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed) return;
  res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(Buffer.byteLength(reply.body)) });
  res.end(reply.body);
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const timeScale = options.timeScale ?? 1;
  if (!Number.isFinite(timeScale) || timeScale < 0) throw new RangeError('timeScale must be a number ≥ 0');
  const responses = options.responses ?? 'document';
  if (responses !== 'document' && responses !== 'live')
    throw new RangeError('responses must be "document" or "live"');
  const vmQuota = options.vmQuota ?? 20;
  if (!Number.isInteger(vmQuota) || vmQuota < 0) throw new RangeError('vmQuota must be an integer ≥ 0');
  const clientId = options.clientId ?? 'sandbox';
  const apiKey = options.apiKey ?? 'sandbox';
  const host = options.host ?? '127.0.0.1';
  const state = new SandboxState({ clientId, apiKey, vmQuota, timeScale, now: options.now ?? Date.now });
  const faults = new Faults();
  const requests = new RequestCounters();

  const sockets = new Set<Socket>();
  const sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let closed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const sleeper = {
        timer: setTimeout(() => {
          sleepers.delete(sleeper);
          resolve();
        }, ms),
        resolve,
      };
      sleepers.add(sleeper);
    });

  /** A routed API call, from credentials to envelope. Synchronous: requests never interleave. */
  function callApi(route: RouteMatch, query: URLSearchParams): Reply {
    try {
      const now = state.clock();
      state.advance(now);
      const account = state.authenticate(query.get('clientId'), query.get('apiKey'));
      if (!account) throw notOwner();
      const decoded = decodeQuery(route.row, query, route.pathValues);
      const parsed = paramsSchema(route.row).safeParse(decoded);
      if (!parsed.success) {
        const fieldErrors = parsed.error.issues.map((issue) => {
          const field = issue.path.map(String).join('.') || '(root)';
          const top = issue.path[0];
          const missing =
            typeof top === 'string' && decoded[top] === undefined && issue.code === 'invalid_type';
          return { field, message: missing ? TEXT.required(field) : issue.message };
        });
        return jsonReply(200, errorEnvelope(null, TEXT.validation, fieldErrors));
      }
      const ctx: Ctx = { state, account, now, row: route.row };
      const handler = handlers[route.tool] as Handler<ToolName>;
      const result = handler(ctx, parsed.data as never) as unknown;
      const returns = route.row.returns;
      if (returns === 'none') return jsonReply(200, { status: 'OK' });
      if (returns === 'operation')
        return jsonReply(200, { status: 'OK', operationId: (result as { id: number }).id });
      if (returns === 'created') {
        const created = result as { vmId: number; operation: { id: number } };
        return jsonReply(200, { status: 'OK', result: created.vmId, operationId: created.operation.id });
      }
      return jsonReply(200, { status: 'OK', result: responses === 'live' ? liveShape(result) : result });
    } catch (err) {
      if (err instanceof SandboxError) {
        return jsonReply(200, errorEnvelope(err.errorCode, err.message, err.fieldErrors));
      }
      const message = err instanceof Error ? err.message : String(err);
      return jsonReply(200, errorEnvelope('unexpected.exception', `Sandbox failure: ${message}`));
    }
  }

  /** Send a fault instead of (or in place of) the real reply. */
  function sendFault(res: ServerResponse, spec: FaultSpec, real: Reply | undefined): void {
    const socket = res.socket;
    switch (spec.kind) {
      case 'delay':
        if (real) send(res, real);
        return;
      case 'http-error': {
        const status = spec.status ?? 500;
        if ((spec.body ?? 'json') === 'empty') send(res, { status, headers: {}, body: '' });
        else
          send(
            res,
            jsonReply(status, errorEnvelope('unexpected.exception', `HTTP ${status} (injected fault)`)),
          );
        return;
      }
      case 'api-error': {
        const code = spec.errorCode ?? 'error.object.not.found';
        send(res, jsonReply(200, errorEnvelope(code, `Injected provider error ${code}`)));
        return;
      }
      case 'rate-limit': {
        const headers = { 'Retry-After': String(spec.retryAfter ?? 1) };
        if ((spec.body ?? 'empty') === 'empty') send(res, { status: 429, headers, body: '' });
        else send(res, jsonReply(429, errorEnvelope(null, 'Too many requests (injected fault)'), headers));
        return;
      }
      case 'reset':
        if (socket && 'resetAndDestroy' in socket && typeof socket.resetAndDestroy === 'function') {
          socket.resetAndDestroy();
        } else socket?.destroy();
        return;
      case 'malformed-json':
        send(res, {
          status: 200,
          headers: { 'Content-Type': JSON_TYPE },
          body: '{"status":"OK","result":{"id":',
        });
        return;
      case 'html': {
        const status = spec.status ?? 502;
        const title = `${status} ${status === 502 ? 'Bad Gateway' : status === 503 ? 'Service Unavailable' : 'Error'}`;
        send(res, {
          status,
          headers: { 'Content-Type': 'text/html' },
          body: `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
        });
        return;
      }
      case 'truncated': {
        const body =
          real?.body ?? JSON.stringify({ status: 'OK', result: { note: 'this body is cut short' } });
        const full = Buffer.from(body);
        const part = full.subarray(0, Math.max(1, Math.floor(full.length / 2)));
        res.writeHead(200, { 'Content-Type': JSON_TYPE, 'Content-Length': String(full.length) });
        res.write(part, () => res.socket?.destroy());
        return;
      }
    }
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const route = matchRoute(url.pathname.slice(API_PREFIX.length));
    requests.hit(route?.tool);
    if (!route) {
      send(res, jsonReply(404, errorEnvelope(null, `Unknown API method: ${url.pathname}`)));
      return;
    }
    if (req.method !== 'GET') {
      send(res, jsonReply(405, errorEnvelope(null, 'Only GET is supported'), { Allow: 'GET' }));
      return;
    }
    const fault = faults.take(route.tool);
    if (fault?.delayMs && !fault.afterHandling) {
      await sleep(fault.delayMs);
      if (closed) return;
    }
    if (fault && fault.kind !== 'delay' && !fault.afterHandling) {
      sendFault(res, fault, undefined);
      return;
    }
    const reply = callApi(route, url.searchParams);
    if (fault?.delayMs && fault.afterHandling) {
      await sleep(fault.delayMs);
      if (closed) return;
    }
    if (fault) sendFault(res, fault, reply);
    else send(res, reply);
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 65_536) throw new SandboxError(null, 'body too large');
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8').trim();
    if (text === '') return {};
    try {
      return JSON.parse(text);
    } catch {
      throw new SandboxError(null, 'body is not JSON');
    }
  }

  async function handleControl(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) {
      send(res, jsonReply(403, { error: 'control endpoints answer on loopback only' }));
      return;
    }
    const path = url.pathname.slice(CONTROL_PREFIX.length).replace(/\/+$/, '');
    const method = req.method ?? 'GET';
    const bad = (status: number, error: string) => send(res, jsonReply(status, { error }));
    try {
      if (path === 'faults' && method === 'POST') {
        const body = await readJson(req);
        const parsed = faultSpecSchema.safeParse(body);
        if (!parsed.success)
          return bad(400, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
        const handle = faults.add(parsed.data as FaultSpec);
        return send(res, jsonReply(201, { id: handle.id, spec: handle.spec }));
      }
      if (path === 'faults' && method === 'GET') {
        return send(
          res,
          jsonReply(
            200,
            faults.list().map((f) => ({
              id: f.id,
              spec: f.spec,
              matched: f.matched,
              fired: f.fired,
              exhausted: f.exhausted,
            })),
          ),
        );
      }
      if (path === 'faults' && method === 'DELETE') {
        faults.clear();
        return send(res, jsonReply(200, { ok: true }));
      }
      const one = /^faults\/(\d+)$/.exec(path);
      if (one && method === 'DELETE') {
        return faults.remove(Number(one[1]))
          ? send(res, jsonReply(200, { ok: true }))
          : bad(404, 'no such fault');
      }
      if (path === 'requests' && method === 'GET') {
        return send(res, jsonReply(200, { total: requests.total, byTool: requests.byTool() }));
      }
      if (path === 'requests' && method === 'DELETE') {
        requests.reset();
        return send(res, jsonReply(200, { ok: true }));
      }
      if (path === 'reset' && method === 'POST') {
        sandbox.reset();
        return send(res, jsonReply(200, { ok: true }));
      }
      if (path === 'finish' && method === 'POST') {
        state.finishAll();
        return send(res, jsonReply(200, { ok: true }));
      }
      if (path === 'funds' && method === 'POST') {
        const body = (await readJson(req)) as { available?: unknown };
        if (typeof body.available !== 'boolean') return bad(400, 'expected {"available": boolean}');
        state.setFunds(body.available);
        return send(res, jsonReply(200, { ok: true }));
      }
      if (path === 'guest' && method === 'POST') {
        const body = (await readJson(req)) as { vmId?: unknown; responsive?: unknown };
        if (
          typeof body.vmId !== 'number' ||
          !(typeof body.responsive === 'boolean' || body.responsive === null)
        ) {
          return bad(400, 'expected {"vmId": number, "responsive": boolean | null}');
        }
        if (!state.vms.has(body.vmId)) return bad(404, 'no such VM');
        state.setGuestResponsive(body.vmId, body.responsive ?? undefined);
        return send(res, jsonReply(200, { ok: true }));
      }
      return bad(404, 'unknown control endpoint');
    } catch (err) {
      return bad(400, err instanceof Error ? err.message : String(err));
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    let work: Promise<void>;
    if (url.pathname.startsWith(API_PREFIX)) work = handleApi(req, res, url);
    else if (url.pathname.startsWith(CONTROL_PREFIX)) work = handleControl(req, res, url);
    else {
      send(
        res,
        jsonReply(404, errorEnvelope(null, `Not found: ${url.pathname}; the API is below ${API_PREFIX}`)),
      );
      return;
    }
    work.catch((err: unknown) => {
      if (!res.headersSent) {
        send(
          res,
          jsonReply(500, errorEnvelope('unexpected.exception', err instanceof Error ? err.message : 'error')),
        );
      } else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A socket destroyed by a fault may emit errors on the client side only; ignore ours.
  server.on('clientError', (_err, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('sandbox: no TCP address');
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${urlHost}:${address.port}`;

  const sandbox: Sandbox = {
    url: `${origin}${API_PREFIX}`,
    controlUrl: `${origin}${CONTROL_PREFIX}`,
    host,
    port: address.port,
    clientId,
    apiKey,
    responses,
    faults,
    requests,
    state,
    reset() {
      state.reset();
      faults.clear();
      requests.reset();
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      for (const sleeper of sleepers) {
        clearTimeout(sleeper.timer);
        sleeper.resolve();
      }
      sleepers.clear();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
    },
  };
  return sandbox;
}
