/**
 * Streamable HTTP security: DNS-rebinding protection (Host, Origin), the bearer token, per-user
 * credentials (two users at once, no fallback to the server's), refusals (query-string secrets,
 * mixed credentials, oversized bodies).
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpConfigError, isLoopbackHost, startHttpServer } from '../src/http/server.js';
import { silentLogger } from '../src/log.js';
import {
  connect,
  credHeaders,
  DEFAULT_KEY,
  type HttpSetup,
  httpSetup,
  INITIALIZE,
  raw,
  TOKEN,
  toolJson,
  USER_B,
} from './http-helpers.js';

const errorMessage = (body: Record<string, unknown>) => (body['error'] as { message: string }).message;

describe('isLoopbackHost', () => {
  it('takes 127.0.0.0/8 written as net.isIPv4 does, ::1, localhost and IPv4-mapped loopback', () => {
    for (const host of [
      '127.0.0.1',
      '127.255.255.255',
      ' 127.1.2.3 ',
      '::ffff:127.0.0.1',
      '[::1]',
      'localhost',
      'a.LOCALHOST',
    ]) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [
      '127.256.0.1',
      '127.0.0.01',
      '127.1',
      '127.0.0.1.',
      '0127.0.0.1',
      '128.0.0.1',
      '0.0.0.0',
      '::',
      'localhost.example.com',
      '127.0.0.1.nip.io',
    ]) {
      expect(isLoopbackHost(host), host).toBe(false);
    }
  });
});

describe('DNS-rebinding protection', () => {
  let s: HttpSetup;
  let port: number;
  beforeAll(async () => {
    s = await httpSetup({
      allowedHosts: ['mcp.example.com'],
      allowedOrigins: ['https://app.example.com'],
      maxSessions: 1000,
    });
    port = s.http.port;
  });
  afterAll(async () => {
    await s.close();
  });

  it('refuses a Host that is not on the allow-list with 403 and a JSON-RPC error', async () => {
    for (const host of [
      `evil.example:${port}`,
      `127.0.0.1:${port + 1}`,
      'localhost',
      `attacker.localhost.evil:${port}`,
    ]) {
      const r = await raw(s.url, { body: INITIALIZE, headers: { host } });
      expect(r.status, host).toBe(403);
      expect(r.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 }, id: null });
      expect(errorMessage(r.json())).toMatch(/Host/);
    }
  });

  it('accepts the loopback names with the port, the bound host and the extra hosts', async () => {
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `LOCALHOST:${port}`,
      `[::1]:${port}`,
      'mcp.example.com',
      `mcp.example.com:443`,
    ]) {
      const r = await raw(s.url, { body: INITIALIZE, headers: { host } });
      expect(r.status, host).toBe(200);
      expect(r.headers['mcp-session-id']).toBeTruthy();
    }
  });

  it('refuses a foreign Origin with 403, accepts loopback and listed origins and none at all', async () => {
    for (const origin of [
      'http://evil.example',
      `http://evil.example:${port}`,
      'null',
      `https://127.0.0.1:${port}`,
    ]) {
      const r = await raw(s.url, { body: INITIALIZE, headers: { origin } });
      expect(r.status, origin).toBe(403);
      expect(errorMessage(r.json())).toMatch(/Origin/);
    }
    for (const origin of [
      `http://127.0.0.1:${port}`,
      `http://localhost:${port}`,
      'https://app.example.com',
    ]) {
      const r = await raw(s.url, { body: INITIALIZE, headers: { origin } });
      expect(r.status, origin).toBe(200);
    }
  });

  it('checks GET and DELETE of a session too', async () => {
    const init = await raw(s.url, { body: INITIALIZE });
    const id = String(init.headers['mcp-session-id']);
    const del = await raw(s.url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': id, origin: 'http://evil.example' },
    });
    expect(del.status).toBe(403);
    const ok = await raw(s.url, { method: 'DELETE', headers: { 'mcp-session-id': id } });
    expect(ok.status).toBe(200);
  });
});

describe('bearer token', () => {
  it('refuses to bind beyond loopback without a token', async () => {
    const options = {
      host: '0.0.0.0',
      port: 0,
      stateless: false,
      log: silentLogger,
      hasDefaultCredentials: false,
      clientFor: () => {
        throw new Error('unused');
      },
      serverFor: () => {
        throw new Error('unused');
      },
      health: () => ({}),
    };
    await expect(startHttpServer(options)).rejects.toThrow(HttpConfigError);
    await expect(startHttpServer(options)).rejects.toThrow(/0\.0\.0\.0.*FLOPS_MCP_TOKEN/);
    await expect(startHttpServer({ ...options, host: '192.0.2.10' })).rejects.toThrow(HttpConfigError);
  });

  it('binds beyond loopback with a token', async () => {
    const s = await httpSetup({ host: '0.0.0.0', token: TOKEN });
    try {
      expect(s.url).toBe(`http://127.0.0.1:${s.http.port}/mcp`);
      const c = await connect(s.url, { Authorization: `Bearer ${TOKEN}` });
      expect((await c.mcp.listTools()).tools).toHaveLength(39);
      await c.mcp.close();
    } finally {
      await s.close();
    }
  });

  describe('with a token on loopback', () => {
    let s: HttpSetup;
    beforeAll(async () => {
      s = await httpSetup({ token: TOKEN });
    });
    afterAll(async () => {
      await s.close();
    });

    it('answers a missing or wrong bearer with 401 and WWW-Authenticate: Bearer', async () => {
      for (const authorization of [
        undefined,
        `Bearer ${TOKEN}x`,
        `Bearer ${TOKEN.slice(0, -1)}`,
        'Bearer ',
        `Basic ${TOKEN}`,
        TOKEN,
      ]) {
        const r = await raw(s.url, {
          body: INITIALIZE,
          headers: authorization === undefined ? {} : { authorization },
        });
        expect(r.status, authorization).toBe(401);
        expect(String(r.headers['www-authenticate'])).toMatch(/^Bearer/);
        expect(r.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
        expect(r.text).not.toContain(TOKEN);
      }
      await expect(connect(s.url)).rejects.toThrow(/401|Unauthorized/);
    });

    it('serves a client with the right bearer', async () => {
      const c = await connect(s.url, { Authorization: `Bearer ${TOKEN}` });
      expect(toolJson(await c.call('vm_get', { vmId: 85561 }))).toMatchObject({ vm: { id: 85561 } });
      await c.transport.terminateSession();
      await c.mcp.close();
    });

    it('serves /healthz without the token, and without revealing it', async () => {
      const h = await raw(s.url.replace(/\/mcp$/, '/healthz'));
      expect(h.status).toBe(200);
      expect(h.text).not.toContain(TOKEN);
      expect(h.text).not.toContain(DEFAULT_KEY);
    });

    it('never logs the token', () => {
      expect(s.logs.join('')).not.toContain(TOKEN);
    });
  });
});

describe('per-user credentials', () => {
  let s: HttpSetup;
  beforeAll(async () => {
    s = await httpSetup();
  });
  afterAll(async () => {
    await s.close();
  });

  const vmIds = (result: Parameters<typeof toolJson>[0]) =>
    (toolJson(result)['vms'] as { id: number }[]).map((v) => v.id);

  it('serves two users at once, each with their own credentials and never the server’s', async () => {
    const made = s.clientsMade.length;
    const [a, b] = await Promise.all([
      connect(s.url, credHeaders(s.userA)),
      connect(s.url, credHeaders(USER_B)),
    ]);
    const before = s.sandbox.requests.count('vm_list');
    const rounds = await Promise.all(
      [1, 2, 3].flatMap(() => [a.call('vm_list'), b.call('vm_list'), a.call('vm_get', { vmId: 87001 })]),
    );
    for (let i = 0; i < rounds.length; i += 3) {
      const listA = vmIds(rounds[i]!);
      const listB = vmIds(rounds[i + 1]!);
      // A owns 85561 and others, not B's 87001; B sees its own 87001 and 85561 (shared with B).
      expect(listA).toContain(85561);
      expect(listA).not.toContain(87001);
      expect(listB.sort()).toEqual([85561, 87001]);
      // A may not read B's VM.
      expect(rounds[i + 2]!.isError).toBe(true);
    }
    expect(s.sandbox.requests.count('vm_list')).toBe(before + 6);
    // One client per session, each with the session's credentials: never the server's own.
    expect(s.clientsMade.slice(made)).toEqual(expect.arrayContaining([s.userA, USER_B]));
    expect(s.clientsMade.slice(made)).toHaveLength(2);
    expect(s.clientsMade.slice(made)).not.toContain(undefined);
    const all = s.logs.join('');
    expect(all).not.toContain(USER_B.apiKey);
    expect(all).not.toContain(DEFAULT_KEY);
    await Promise.all([a.transport.terminateSession(), b.transport.terminateSession()]);
    await Promise.all([a.mcp.close(), b.mcp.close()]);
  });

  it('refuses a request whose credentials differ from its session’s with 403', async () => {
    const a = await connect(s.url, credHeaders(s.userA));
    const id = a.transport.sessionId!;
    const list = { jsonrpc: '2.0', id: 5, method: 'tools/list' };
    const other = await raw(s.url, { body: list, headers: { 'mcp-session-id': id, ...credHeaders(USER_B) } });
    expect(other.status).toBe(403);
    expect(other.text).not.toContain(USER_B.apiKey);
    // The same credentials are the session's; none is not (whoever holds the id is not the user).
    const same = await raw(s.url, { body: list, headers: { 'mcp-session-id': id, ...credHeaders(s.userA) } });
    expect(same.status).toBe(200);
    const none = await raw(s.url, { body: list, headers: { 'mcp-session-id': id } });
    expect(none.status).toBe(403);
    // A session on the server's credentials does not take a user's later.
    const d = await connect(s.url);
    const late = await raw(s.url, {
      body: list,
      headers: { 'mcp-session-id': d.transport.sessionId!, ...credHeaders(USER_B) },
    });
    expect(late.status).toBe(403);
    await Promise.all([a.transport.terminateSession(), d.transport.terminateSession()]);
    await Promise.all([a.mcp.close(), d.mcp.close()]);
  });

  it('refuses credentials in the query string with 400, and only half a pair of headers', async () => {
    for (const query of [
      `?apiKey=${USER_B.apiKey}`,
      '?clientId=shared-user',
      '?client_id=x&api_key=y',
      '?baseUrl=http://127.0.0.1:1/',
    ]) {
      const r = await raw(`${s.url}${query}`, { body: INITIALIZE });
      expect(r.status, query).toBe(400);
      expect(errorMessage(r.json())).toMatch(/query string/);
      expect(r.text).not.toContain(USER_B.apiKey);
    }
    const half = await raw(s.url, { body: INITIALIZE, headers: { 'X-Flops-Api-Key': USER_B.apiKey } });
    expect(half.status).toBe(400);
    expect(s.logs.join('')).not.toContain(USER_B.apiKey);
  });

  it('lets no header change the provider URL', async () => {
    const before = s.sandbox.requests.count('vm_get');
    const c = await connect(s.url, {
      ...credHeaders(USER_B),
      'X-Flops-Base-Url': 'http://127.0.0.1:1/api/v1/',
      'X-Flops-Api-Url': 'http://127.0.0.1:1/api/v1/',
      'X-Forwarded-Host': 'evil.example',
    });
    expect(toolJson(await c.call('vm_get', { vmId: 87001 }))).toMatchObject({ vm: { id: 87001 } });
    expect(s.sandbox.requests.count('vm_get')).toBe(before + 1);
    await c.transport.terminateSession();
    await c.mcp.close();
  });

  it('uses the headers on every request in stateless mode', async () => {
    const st = await httpSetup({ stateless: true });
    try {
      const [a, b] = await Promise.all([
        connect(st.url, credHeaders(st.userA)),
        connect(st.url, credHeaders(USER_B)),
      ]);
      const [la, lb] = await Promise.all([a.call('vm_list'), b.call('vm_list')]);
      expect(vmIds(la)).not.toContain(87001);
      expect(vmIds(lb).sort()).toEqual([85561, 87001]);
      expect(st.clientsMade).not.toContain(undefined);
      await Promise.all([a.mcp.close(), b.mcp.close()]);
    } finally {
      await st.close();
    }
  });
});

describe('a server without credentials of its own', () => {
  for (const stateless of [false, true]) {
    it(`answers a request without credential headers with 401 (${stateless ? 'stateless' : 'stateful'})`, async () => {
      const s = await httpSetup({ hasDefaultCredentials: false, stateless });
      try {
        const r = await raw(s.url, { body: INITIALIZE });
        expect(r.status).toBe(401);
        expect(errorMessage(r.json())).toMatch(/X-Flops-Client-Id.*X-Flops-Api-Key/);
        await expect(connect(s.url)).rejects.toThrow(/send X-Flops-Client-Id and X-Flops-Api-Key/);
        expect(s.clientsMade).toEqual([]);
        // With the headers, it works.
        const c = await connect(s.url, credHeaders(USER_B));
        expect(toolJson(await c.call('vm_get', { vmId: 87001 }))).toMatchObject({ vm: { id: 87001 } });
        await c.mcp.close();
      } finally {
        await s.close();
      }
    });
  }
});

describe('request bodies', () => {
  let s: HttpSetup;
  beforeAll(async () => {
    s = await httpSetup({ maxBodyBytes: 1024 });
  });
  afterAll(async () => {
    await s.close();
  });

  it('answers a body over the limit with 413, declared or streamed', async () => {
    const big = JSON.stringify({ ...INITIALIZE, params: { ...INITIALIZE.params, pad: 'x'.repeat(4096) } });
    const declared = await raw(s.url, { rawBody: big });
    expect(declared.status).toBe(413);
    expect(declared.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32000 } });
    const streamed = await raw(s.url, {
      rawBody: Readable.from([Buffer.from(big.slice(0, 800)), Buffer.from(big.slice(800))]),
    });
    expect(streamed.status).toBe(413);
    // Within the limit, fine.
    const ok = await raw(s.url, { body: INITIALIZE });
    expect(ok.status).toBe(200);
  });

  it('answers a body that is not JSON with 400 and a parse error', async () => {
    const r = await raw(s.url, { rawBody: '{"jsonrpc":' });
    expect(r.status).toBe(400);
    expect(r.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
  });
});
