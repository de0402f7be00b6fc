/**
 * Draining on SIGTERM: the built CLI as a child process (`node dist/cli.cjs --http --sandbox`) with
 * a slow provider (the sandbox's delay fault), a real SDK client, and a real OTLP/HTTP receiver
 * for the spans flushed on the way out; and the server's close() in process, for what a client on
 * an open connection sees while it drains. `npm test` builds first.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { Agent, request, Client as UndiciClient } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { V2Client } from './helpers.js';
import { connect, httpSetup, toolJson } from './http-helpers.js';
import { startOtlpReceiver } from './otlp-receiver.js';
import { cleanEnv, eventually, killAll, type Started, startProcess } from './process-helpers.js';

afterAll(killAll);

/** The CLI over HTTP against its own sandbox, and the sandbox's fault control endpoint. */
async function serve(env: Record<string, string>): Promise<{ p: Started; faults: string }> {
  const p = await startProcess(['--http', '--sandbox', '--port', '0', '--time-scale', '0.05'], {
    env: { ...cleanEnv, ...env },
  });
  const api = /simulated Flops API at (http:\/\/\S+?\/)api\/v1\//.exec(p.stderr())?.[1];
  if (!api) throw new Error(`no sandbox URL in:\n${p.stderr()}`);
  return { p, faults: `${api}__sandbox/faults` };
}

async function slowDown(faults: string, tool: string, delayMs: number): Promise<void> {
  const res = await request(faults, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'delay', tool, delayMs }),
  });
  expect(res.statusCode).toBeLessThan(300);
  await res.body.text();
}

describe('SIGTERM (the built CLI)', () => {
  it('stops accepting, lets the call in flight finish, flushes its spans and exits 0 within the deadline', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const { p, faults } = await serve({
        FLOPS_MCP_DRAIN_SECONDS: '8',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        // Spans wait for the exit in the batch: the flush on shutdown sends them.
        OTEL_BSP_SCHEDULE_DELAY: '60000',
      });
      const c = await connect(p.url);
      await slowDown(faults, 'vm_get', 1_500);
      const call = c.call('vm_get', { vmId: 85561 });
      await new Promise((r) => setTimeout(r, 300));
      const signalled = Date.now();
      p.child.kill('SIGTERM');
      await eventually(() => /stopping \(SIGTERM\)/.test(p.stderr()), 3_000, 'the stop');
      // New connections are refused at once (the listener is closed).
      const fresh = new Agent();
      await expect(
        request(p.url.replace(/\/mcp$/, '/healthz'), { dispatcher: fresh }).then((r) => r.body.text()),
      ).rejects.toThrow(/ECONNREFUSED|connect|closed|socket/i);
      await fresh.close();
      // The call in flight finishes with its result.
      const result = await call;
      expect(result.isError).toBeFalsy();
      expect(toolJson(result)).toMatchObject({ vm: { id: 85561 } });
      expect(await p.exited).toBe(0);
      const took = Date.now() - signalled;
      expect(took).toBeGreaterThanOrEqual(1_000);
      expect(took).toBeLessThan(5_000);
      expect(p.stderr()).toMatch(/http draining \{"callsInFlight":1,"deadlineMs":8000\}/);
      // Its spans were exported on the way out.
      const tool = receiver.spans.find((s) => s.name === 'tools/call vm_get');
      expect(tool).toBeDefined();
      expect(receiver.spans.some((s) => s.name === 'flops vm_get' && s.parentSpanId === tool!.spanId)).toBe(
        true,
      );
      await c.mcp.close().catch(() => undefined);
    } finally {
      await receiver.close();
    }
  });

  it('a call longer than the deadline is answered with an error, and the process still exits 0 in time', async () => {
    const { p, faults } = await serve({ FLOPS_MCP_DRAIN_SECONDS: '1' });
    const c = await connect(p.url);
    await slowDown(faults, 'vm_get', 10_000);
    const call = c.call('vm_get', { vmId: 85561 }).then(
      () => 'resolved',
      (err: unknown) => String(err),
    );
    await new Promise((r) => setTimeout(r, 300));
    const signalled = Date.now();
    p.child.kill('SIGTERM');
    expect(await call).toMatch(/shutting down/);
    expect(await p.exited).toBe(0);
    const took = Date.now() - signalled;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(4_000);
    await c.mcp.close().catch(() => undefined);
  });
});

describe('close() while draining (in process)', () => {
  it('closes idle keep-alive connections at once and refuses new ones, while the call in flight finishes', async () => {
    const s = await httpSetup({ shutdownGraceMs: 5_000 });
    const c = await connect(s.url);
    const kept = new UndiciClient(new URL(s.url).origin);
    const health = await kept.request({ path: '/healthz', method: 'GET' });
    expect(health.statusCode).toBe(200);
    await health.body.text();
    s.sandbox.faults.add({ kind: 'delay', tool: 'vm_get', delayMs: 800 });
    const call = c.call('vm_get', { vmId: 85561 });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const closed = s.http.close();
    await expect(kept.request({ path: '/healthz', method: 'GET' })).rejects.toThrow(
      /ECONNREFUSED|closed|socket/i,
    );
    expect(toolJson(await call)).toMatchObject({ vm: { id: 85561 } });
    await closed;
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(s.logs.join('')).toMatch(/http draining/);
    await kept.close().catch(() => undefined);
    await c.mcp.close().catch(() => undefined);
    await s.close();
  });

  it('does not wait for subscriptions/listen streams, which last as long as the client listens', async () => {
    const s = await httpSetup({ shutdownGraceMs: 5_000 });
    const v2 = new V2Client({ name: 'listener', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await v2.connect(new StreamableHTTPClientTransport(new URL(s.url)));
    expect(v2.getProtocolEra()).toBe('modern');
    const subscription = await v2.listen({ resourceSubscriptions: ['flops://vms/85561'] });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await s.http.close();
    expect(Date.now() - started).toBeLessThan(1_500);
    await subscription.close().catch(() => undefined);
    await v2.close().catch(() => undefined);
    await s.close();
  });
});
