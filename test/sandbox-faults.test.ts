/**
 * Fault injection observed at the HTTP level, request counters, the control endpoints used by
 * other processes, and the `flops-mcp sandbox` command.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runSandboxCli, type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { api, ok, query, rawGet, waitOp } from './sandbox-helpers.js';

let sb: Sandbox;
const url = (path: string, params = {}) => `${sb.url}${path}?${query(sb, params)}`;
const control = (path: string, init?: RequestInit) => fetch(new URL(`/__sandbox/${path}`, sb.url), init);

beforeAll(async () => {
  sb = await startSandbox({ port: 0, timeScale: 0.01 });
});
afterAll(() => sb.close());
beforeEach(() => sb.reset());

describe('fault kinds at the HTTP level', () => {
  it('delay: the normal answer, later', async () => {
    sb.faults.add({ kind: 'delay', delayMs: 150 });
    const started = Date.now();
    const res = await rawGet(url('tenant'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body!).status).toBe('OK');
  });

  it('http-error: 500 with a JSON envelope, 502/503 with an empty body', async () => {
    sb.faults.add({ kind: 'http-error' });
    const a = await rawGet(url('tenant'));
    expect(a.status).toBe(500);
    expect(a.headers!['content-type']).toMatch(/json/);
    expect(JSON.parse(a.body!)).toMatchObject({ status: 'ERROR', errorCode: 'unexpected.exception' });
    sb.faults.add({ kind: 'http-error', status: 503, body: 'empty' });
    const b = await rawGet(url('tenant'));
    expect(b.status).toBe(503);
    expect(b.body).toBe('');
    sb.faults.add({ kind: 'http-error', status: 502 });
    expect((await rawGet(url('tenant'))).status).toBe(502);
    expect(() => sb.faults.add({ kind: 'http-error', status: 504 })).toThrow();
  });

  it('rate-limit: 429 with Retry-After', async () => {
    sb.faults.add({ kind: 'rate-limit', retryAfter: 7 });
    const res = await rawGet(url('tenant'));
    expect(res.status).toBe(429);
    expect(res.headers!['retry-after']).toBe('7');
    expect(res.body).toBe('');
    sb.faults.add({ kind: 'rate-limit', body: 'json' });
    const json = await rawGet(url('tenant'));
    expect(json.headers!['retry-after']).toBe('1');
    expect(JSON.parse(json.body!).status).toBe('ERROR');
  });

  it('reset: the connection is dropped without a response', async () => {
    sb.faults.add({ kind: 'reset' });
    const res = await rawGet(url('tenant'));
    expect(res.status).toBeUndefined();
    expect(res.error?.code).toMatch(/ECONNRESET|EPIPE|socket hang up/);
  });

  it('malformed-json: 200 application/json that does not parse', async () => {
    sb.faults.add({ kind: 'malformed-json' });
    const res = await rawGet(url('tenant'));
    expect(res.status).toBe(200);
    expect(res.headers!['content-type']).toMatch(/application\/json/);
    expect(() => JSON.parse(res.body!)).toThrow();
  });

  it('html: a proxy’s error page', async () => {
    sb.faults.add({ kind: 'html' });
    const res = await rawGet(url('tenant'));
    expect(res.status).toBe(502);
    expect(res.headers!['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('<html>');
    expect(res.body).toContain('502 Bad Gateway');
    sb.faults.add({ kind: 'html', status: 504 });
    expect((await rawGet(url('tenant'))).status).toBe(504);
  });

  it('truncated: a Content-Length longer than the body, then the socket closes', async () => {
    sb.faults.add({ kind: 'truncated' });
    const res = await rawGet(url('tenant'));
    expect(res.status).toBe(200);
    expect(res.error).toBeDefined();
    expect(Buffer.byteLength(res.body!)).toBeLessThan(Number(res.headers!['content-length']));
    // fetch sees it as a failure too.
    sb.faults.add({ kind: 'truncated', afterHandling: true });
    await expect(fetch(url('vm/85561/')).then((r) => r.json())).rejects.toThrow();
  });
});

describe('which requests a fault hits', () => {
  it('nth, times and forever count matching requests from when the fault was added', async () => {
    const second = sb.faults.add({ kind: 'http-error', nth: 2 });
    const statuses = async (n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await rawGet(url('tenant'))).status!);
      return out;
    };
    expect(await statuses(3)).toEqual([200, 500, 200]);
    expect(second).toMatchObject({ matched: 3, fired: 1, exhausted: true });
    sb.faults.add({ kind: 'http-error', nth: 2, times: 2 });
    expect(await statuses(4)).toEqual([200, 500, 500, 200]);
    const forever = sb.faults.add({ kind: 'http-error', status: 503, times: 'forever' });
    expect(await statuses(3)).toEqual([503, 503, 503]);
    expect(forever.exhausted).toBe(false);
    forever.remove();
    expect(await statuses(1)).toEqual([200]);
  });

  it('a tool filter leaves other methods alone; the first fault added wins', async () => {
    sb.faults.add({ kind: 'http-error', tool: 'vm_get', times: 'forever' });
    sb.faults.add({ kind: 'rate-limit', tool: 'vm_get', times: 'forever' });
    expect((await rawGet(url('tenant'))).status).toBe(200);
    expect((await rawGet(url('vm/85561/'))).status).toBe(500);
    expect((await rawGet(url('vm/85561'))).status).toBe(500);
    sb.faults.clear();
    expect((await rawGet(url('vm/85561/'))).status).toBe(200);
    expect(() => sb.faults.add({ kind: 'reset', tool: 'vm_explode' as never })).toThrow();
  });

  it('a write whose response is replaced is not applied, and was sent exactly once', async () => {
    for (const kind of [
      'http-error',
      'rate-limit',
      'reset',
      'malformed-json',
      'html',
      'truncated',
    ] as const) {
      sb.reset();
      sb.faults.add({ kind, tool: 'vm_rename' });
      const res = await rawGet(url('vm/85561/rename/', { tenantId: 111, name: 'faulted' }));
      expect(res.status === 200 && res.error === undefined && kind !== 'malformed-json', kind).toBe(false);
      sb.state.finishAll();
      expect(sb.state.vm(85561)!.name, kind).toBe('ubuntu');
      expect(sb.requests.count('vm_rename'), kind).toBe(1);
      expect(
        [...sb.state.operations.keys()].filter((id) => id > 106765),
        kind,
      ).toEqual([]);
    }
  });

  it('afterHandling: the write is applied and only the response is lost', async () => {
    sb.faults.add({ kind: 'reset', tool: 'vm_rename', afterHandling: true });
    const res = await rawGet(url('vm/85561/rename/', { tenantId: 111, name: 'applied' }));
    expect(res.error).toBeDefined();
    expect(sb.requests.count('vm_rename')).toBe(1);
    const [opId] = [...sb.state.operations.keys()].filter((id) => id > 106765);
    expect((await waitOp(sb, opId!)).status).toBe('DONE');
    expect((await ok(sb, 'vm/85561/')).result.name).toBe('applied');
    // A slow answer after the effect: a client timeout must not lead to a second write.
    sb.faults.add({ kind: 'delay', delayMs: 200, tool: 'pubkey_add', afterHandling: true });
    const aborted = fetch(
      url('pubkeys/add/', { tenantId: 111, name: 'k', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5' }),
      {
        signal: AbortSignal.timeout(50),
      },
    );
    await expect(aborted).rejects.toThrow();
    expect((await ok(sb, 'pubkeys/')).result).toHaveLength(3);
    expect(sb.requests.count('pubkey_add')).toBe(1);
  });

  it('counters include faulted requests', async () => {
    sb.faults.add({ kind: 'reset', times: 2 });
    await rawGet(url('tenant'));
    await rawGet(url('tenant'));
    await rawGet(url('tenant'));
    expect(sb.requests.count('tenant_list')).toBe(3);
    expect(sb.faults.list()[0]).toMatchObject({ matched: 3, fired: 2, exhausted: true });
  });
});

describe('control endpoints', () => {
  it('POST/GET/DELETE /__sandbox/faults', async () => {
    const added = await control('faults', {
      method: 'POST',
      body: JSON.stringify({ kind: 'http-error', status: 503, tool: 'tenant_list' }),
    });
    expect(added.status).toBe(201);
    const { id } = (await added.json()) as { id: number };
    expect((await rawGet(url('tenant'))).status).toBe(503);
    const listed = (await (await control('faults')).json()) as { id: number; fired: number }[];
    expect(listed).toEqual([expect.objectContaining({ id, fired: 1, exhausted: true })]);
    const bad = await control('faults', { method: 'POST', body: JSON.stringify({ kind: 'explode' }) });
    expect(bad.status).toBe(400);
    await bad.text();
    const notJson = await control('faults', { method: 'POST', body: '{' });
    expect(notJson.status).toBe(400);
    await notJson.text();
    await control('faults', { method: 'POST', body: JSON.stringify({ kind: 'reset', times: 'forever' }) });
    expect((await control(`faults/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await control('faults/999', { method: 'DELETE' })).status).toBe(404);
    expect((await control('faults', { method: 'DELETE' })).status).toBe(200);
    expect(sb.faults.list()).toEqual([]);
  });

  it('GET/DELETE /__sandbox/requests', async () => {
    await api(sb, 'tenant');
    await api(sb, 'vm/85561/');
    await api(sb, 'vm/85561');
    const counts = await (await control('requests')).json();
    expect(counts).toEqual({ total: 3, byTool: { tenant_list: 1, vm_get: 2 } });
    await control('requests', { method: 'DELETE' });
    expect(sb.requests.total).toBe(0);
  });

  it('POST /__sandbox/reset, /__sandbox/finish and /__sandbox/guest', async () => {
    const body = await ok(sb, 'vm/85561/rename/', { tenantId: 111, name: 'changed' });
    expect((await control('finish', { method: 'POST' })).status).toBe(200);
    expect((await ok(sb, `operation/${body.operationId}/`)).result.status).toBe('DONE');
    expect((await ok(sb, 'vm/85561/')).result.name).toBe('changed');
    sb.faults.add({ kind: 'reset', tool: 'software_list' });
    expect((await control('reset', { method: 'POST' })).status).toBe(200);
    expect((await ok(sb, 'vm/85561/')).result.name).toBe('ubuntu');
    expect(sb.faults.list()).toEqual([]);
    expect(sb.requests.total).toBe(1);
    const guest = await control('guest', {
      method: 'POST',
      body: JSON.stringify({ vmId: 85561, responsive: false }),
    });
    expect(guest.status).toBe(200);
    const reboot = await ok(sb, 'vm/85561/reboot/', { tenantId: 111 });
    expect((await waitOp(sb, reboot.operationId)).status).toBe('ERROR');
    expect((await control('guest', { method: 'POST', body: '{"vmId":1,"responsive":true}' })).status).toBe(
      404,
    );
    expect((await control('nothing')).status).toBe(404);
  });
});

describe('flops-mcp sandbox', () => {
  const capture = () => {
    let text = '';
    return { write: (s: string) => (text += s), text: () => text };
  };

  it('prints the URL and credentials, serves until stopped, then closes', async () => {
    const stdout = capture();
    const stop = new AbortController();
    const exit = runSandboxCli(['--port', '0', '--time-scale=0.5', '--host', '127.0.0.1'], {
      stdout,
      signal: stop.signal,
    });
    for (let i = 0; i < 100 && !stdout.text().includes('export'); i++)
      await new Promise((r) => setTimeout(r, 10));
    const printed = stdout.text();
    const base = /listening on (http:\/\/127\.0\.0\.1:\d+\/api\/v1\/)/.exec(printed)?.[1];
    expect(base).toBeDefined();
    expect(printed).toContain('clientId: sandbox');
    expect(printed).toContain('apiKey:   sandbox');
    expect(printed).toContain(`export FLOPS_API_URL=${base} FLOPS_CLIENT_ID=sandbox FLOPS_API_KEY=sandbox`);
    const res = await fetch(`${base}tenant?clientId=sandbox&apiKey=sandbox`);
    expect(((await res.json()) as { status: string }).status).toBe('OK');
    stop.abort();
    expect(await exit).toBe(0);
    expect((await rawGet(`${base}tenant`)).error?.code).toBe('ECONNREFUSED');
  });

  it.each([
    [['--port', 'abc']],
    [['--port', '70000']],
    [['--port']],
    [['--time-scale', '-1']],
    [['--time-scale', 'fast']],
    [['--host', '']],
    [['--responses', 'json']],
    [['--bogus']],
  ])('bad flags %j: a message and exit code 2', async (argv) => {
    const stderr = capture();
    const stdout = capture();
    expect(await runSandboxCli(argv, { stdout, stderr })).toBe(2);
    expect(stderr.text()).toMatch(/^flops-mcp sandbox: /);
    expect(stderr.text()).toContain('Usage:');
    expect(stdout.text()).toBe('');
  });

  it('--help prints the usage; a port in use exits 1', async () => {
    const stdout = capture();
    expect(await runSandboxCli(['--help'], { stdout })).toBe(0);
    expect(stdout.text()).toContain('--time-scale');
    const stderr = capture();
    expect(await runSandboxCli(['--port', String(sb.port)], { stdout: capture(), stderr })).toBe(1);
    expect(stderr.text()).toMatch(/cannot start/);
  });
});
