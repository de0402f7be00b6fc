/**
 * Streamable HTTP transport: stateful sessions (SSE progress, DELETE, idle expiry, the cap),
 * stateless mode, /healthz and shutdown, with real sockets, a real sandbox and the SDK's client.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  DEFAULT_KEY,
  type HttpSetup,
  httpSetup,
  INITIALIZE,
  raw,
  toolJson,
  until,
} from './http-helpers.js';

const INSTALL = {
  tenantId: 111,
  distribution: 'debian',
  tariff: 'Облачный 512',
  password: 'Secret-pass1',
  wait: true,
};

describe('stateful (sessions)', () => {
  let s: HttpSetup;
  beforeAll(async () => {
    s = await httpSetup();
  });
  afterAll(async () => {
    await s.close();
  });

  it('initializes a session, lists the tools and calls them', async () => {
    const c = await connect(s.url);
    expect(c.transport.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(s.http.sessions()).toBe(1);
    expect(c.mcp.getServerVersion()?.name).toBe('flops-mcp');
    const { tools } = await c.mcp.listTools();
    expect(tools).toHaveLength(39);
    const vm = await c.call('vm_get', { vmId: 85561 });
    expect(vm.isError).toBeFalsy();
    expect(toolJson(vm)).toMatchObject({ vm: { id: 85561 } });
    await c.mcp.close();
  });

  it('delivers progress notifications over SSE while vm_install waits', async () => {
    const c = await connect(s.url);
    const progress: { progress: number }[] = [];
    const result = await c.mcp.callTool({ name: 'vm_install', arguments: INSTALL }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
    // Progress only grows.
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i]!.progress).toBeGreaterThanOrEqual(progress[i - 1]!.progress);
    }
    await c.mcp.close();
  });

  it('gives each session its own id; DELETE ends a session', async () => {
    const a = await connect(s.url);
    const b = await connect(s.url);
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    const before = s.http.sessions();
    const id = a.transport.sessionId!;
    await a.transport.terminateSession();
    expect(s.http.sessions()).toBe(before - 1);
    // The ended session is gone: 404, and the other one still works.
    const gone = await raw(s.url, {
      body: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      headers: { 'mcp-session-id': id },
    });
    expect(gone.status).toBe(404);
    expect(gone.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
    expect((await b.mcp.listTools()).tools).toHaveLength(39);
    await a.mcp.close();
    await b.transport.terminateSession();
    await b.mcp.close();
  });

  it('answers a request without a session id that is not an initialize with 400', async () => {
    const r = await raw(s.url, { body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } });
    expect(r.status).toBe(400);
    const g = await raw(s.url, { method: 'GET', headers: { accept: 'text/event-stream' } });
    expect(g.status).toBe(400);
    const p = await raw(s.url, { method: 'PUT', rawBody: '{}' });
    expect(p.status).toBe(405);
    expect(p.headers['allow']).toBe('GET, POST, DELETE');
  });

  it('serves /healthz without a secret, and 404 elsewhere', async () => {
    const base = s.url.replace(/\/mcp$/, '');
    const h = await raw(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(h.json()).toMatchObject({
      status: 'ok',
      version: expect.any(String),
      transport: 'http',
      stateless: false,
      mode: 'sandbox',
      readOnly: false,
    });
    expect(h.text).not.toContain(DEFAULT_KEY);
    const nf = await raw(`${base}/other`);
    expect(nf.status).toBe(404);
    expect(nf.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
  });

  it('never logs a secret, and logs session start and end', () => {
    const all = s.logs.join('');
    expect(all).toContain('http session started');
    expect(all).toContain('http session ended');
    expect(all).not.toContain(DEFAULT_KEY);
    for (const line of s.logs) expect(line).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/);
    // Exactly one end line per session.
    const ended = s.logs
      .filter((l) => l.includes('http session ended'))
      .map((l) => /"session":"(\w+)"/.exec(l)?.[1]);
    expect(new Set(ended).size).toBe(ended.length);
  });
});

describe('session limits', () => {
  it('closes idle sessions (transport, server and own client)', async () => {
    const s = await httpSetup({ sessionIdleMs: 150 });
    try {
      const c = await connect(s.url, {
        'X-Flops-Client-Id': s.userA.clientId,
        'X-Flops-Api-Key': DEFAULT_KEY,
      });
      expect(s.http.sessions()).toBe(1);
      await until(() => s.http.sessions() === 0, 3000);
      await expect(c.mcp.listTools()).rejects.toThrow(/404|not found/i);
      expect(s.logs.join('')).toMatch(/http session ended.*"reason":"idle"/);
      await c.mcp.close();
    } finally {
      await s.close();
    }
  });

  it('keeps a session with a call in flight past its idle time', async () => {
    const s = await httpSetup({ sessionIdleMs: 100, timeScale: 0.2 });
    try {
      const c = await connect(s.url);
      const result = await c.call('vm_install', INSTALL);
      expect(result.isError).toBeFalsy();
      await c.mcp.close();
    } finally {
      await s.close();
    }
  });

  it('refuses sessions past the cap with 503 until one ends', async () => {
    const s = await httpSetup({ maxSessions: 2 });
    try {
      const a = await connect(s.url);
      const b = await connect(s.url);
      const r = await raw(s.url, { body: INITIALIZE });
      expect(r.status).toBe(503);
      expect(r.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
      expect(String(r.json()['error'] && (r.json()['error'] as { message: string }).message)).toMatch(
        /Too many sessions/,
      );
      await expect(connect(s.url)).rejects.toThrow(/503|Too many sessions/);
      await a.transport.terminateSession();
      const c = await connect(s.url);
      expect(s.http.sessions()).toBe(2);
      await Promise.all([a.mcp.close(), b.mcp.close(), c.mcp.close()]);
    } finally {
      await s.close();
    }
  });
});

describe('stateless', () => {
  let s: HttpSetup;
  beforeAll(async () => {
    s = await httpSetup({ stateless: true });
  });
  afterAll(async () => {
    await s.close();
  });

  it('serves the same calls with a server per request, without session ids', async () => {
    const c = await connect(s.url);
    expect(c.transport.sessionId).toBeUndefined();
    // 39 tools and the dashboard's poll: a stateless server cannot know whether the client renders apps.
    expect((await c.mcp.listTools()).tools).toHaveLength(40);
    expect(toolJson(await c.call('vm_get', { vmId: 85561 }))).toMatchObject({ vm: { id: 85561 } });
    const progress: unknown[] = [];
    const result = await c.mcp.callTool({ name: 'vm_install', arguments: INSTALL }, undefined, {
      onprogress: (p) => progress.push(p),
    });
    expect(result.isError).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
    expect(s.http.sessions()).toBe(0);
    await c.mcp.close();
  });

  it('answers a call as one JSON body, or as an SSE stream once it has notifications to send', async () => {
    const call = (id: number, args: Record<string, unknown>, meta?: Record<string, unknown>) =>
      raw(s.url, {
        headers: { 'mcp-protocol-version': '2025-06-18' },
        body: {
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'vm_get', arguments: args, ...(meta ? { _meta: meta } : {}) },
        },
      });
    // Calls of different clients may carry the same id: each gets its own answer.
    const [a, b] = await Promise.all([call(7, { vmId: 85561 }), call(7, { vmId: 1 })]);
    expect(a.headers['content-type']).toBe('application/json');
    expect(a.json()).toMatchObject({
      jsonrpc: '2.0',
      id: 7,
      result: { structuredContent: { vm: { id: 85561 } } },
    });
    expect(b.json()).toMatchObject({ id: 7, result: { isError: true } });
    // Progress asked for: the install's notifications, then its response, on one stream.
    const install = await raw(s.url, {
      body: {
        jsonrpc: '2.0',
        id: 'i',
        method: 'tools/call',
        params: { name: 'vm_install', arguments: INSTALL, _meta: { progressToken: 'p' } },
      },
    });
    expect(install.headers['content-type']).toBe('text/event-stream');
    const frames = install.text
      .split('\n')
      .filter((line) => line.startsWith('data: '))
      .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
    expect(frames.length).toBeGreaterThan(1);
    expect(frames.slice(0, -1).every((f) => f['method'] === 'notifications/progress')).toBe(true);
    expect(frames.at(-1)).toMatchObject({ id: 'i', result: {} });
    // What the fast path does not take (here: no Accept of JSON) is answered by the SDK's transport.
    const refused = await raw(s.url, {
      headers: { accept: 'text/event-stream' },
      body: {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'vm_get', arguments: { vmId: 85561 } },
      },
    });
    expect(refused.status).toBe(406);
  });

  it('a client that goes away cancels its call: the wait stops polling', async () => {
    // timeScale 1: the install runs far longer than this test, so only the cancellation stops the polls.
    const slow = await httpSetup({ stateless: true, timeScale: 1 });
    const aborter = new AbortController();
    const polls = () => slow.sandbox.requests.byTool()['operation_get'] ?? 0;
    const before = polls();
    const pending = request(slow.url, {
      method: 'POST',
      signal: aborter.signal,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'vm_install', arguments: INSTALL },
      }),
    }).catch(() => undefined);
    await until(() => polls() > before + 1);
    aborter.abort();
    await pending;
    await new Promise((r) => setTimeout(r, 300));
    const after = polls();
    await new Promise((r) => setTimeout(r, 600));
    expect(polls()).toBe(after);
    await slow.close();
  });

  it('answers GET and DELETE with 405', async () => {
    const g = await raw(s.url, { method: 'GET', headers: { accept: 'text/event-stream' } });
    expect(g.status).toBe(405);
    expect(g.headers['allow']).toBe('POST');
    expect(g.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    const d = await raw(s.url, { method: 'DELETE' });
    expect(d.status).toBe(405);
  });

  it('reports stateless in /healthz', async () => {
    const h = await raw(s.url.replace(/\/mcp$/, '/healthz'));
    expect(h.json()).toMatchObject({ status: 'ok', transport: 'http', stateless: true });
  });
});

describe('shutdown', () => {
  it('close() lets short calls finish, cancels long ones with an error, ends sessions, closes the port', async () => {
    const s = await httpSetup({ timeScale: 1, shutdownGraceMs: 300 });
    const a = await connect(s.url);
    const b = await connect(s.url);
    const stateless = await httpSetup({ timeScale: 1, stateless: true, shutdownGraceMs: 300 });
    const c = await connect(stateless.url);
    expect(s.http.sessions()).toBe(2);
    // Long waits in flight (timeScale 1: the install takes far longer than the grace period).
    const settle = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: unknown) => String(e),
      );
    const longA = settle(a.call('vm_install', INSTALL));
    const longC = settle(c.call('vm_install', INSTALL));
    // A short call (the API answers after 200 ms) finishes within the grace period.
    s.sandbox.faults.add({ kind: 'delay', tool: 'vm_get', delayMs: 200 });
    const short = b.call('vm_get', { vmId: 85561 });
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await Promise.all([s.http.close(), stateless.http.close()]);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(s.http.sessions()).toBe(0);
    expect(toolJson(await short)).toMatchObject({ vm: { id: 85561 } });
    // The clients learn at once (not after their 60 s request timeout).
    expect(await longA).toMatch(/shutting down/);
    expect(await longC).toMatch(/shutting down/);
    await expect(request(s.url, { method: 'GET' })).rejects.toThrow(/ECONNREFUSED|connect/i);
    await expect(request(stateless.url, { method: 'GET' })).rejects.toThrow(/ECONNREFUSED|connect/i);
    expect(s.logs.join('')).toMatch(/"reason":"shutdown"/);
    await Promise.all([a.mcp.close(), b.mcp.close(), c.mcp.close()]);
    await Promise.all([s.close(), stateless.close()]);
  });

  it('close() with no session and no request is immediate and idempotent', async () => {
    const s = await httpSetup();
    const started = Date.now();
    await Promise.all([s.http.close(), s.http.close()]);
    expect(Date.now() - started).toBeLessThan(200);
    await s.close();
  });
});
