/**
 * Life cycle of the built CLI as a separate process: SIGTERM and SIGINT stop it cleanly on both
 * transports (exit code 0, "stopping" on stderr, an in-flight call answered with an error and the
 * operation it started named in the log), and an exception that escapes a call does not take the
 * process down. (stdin closing is covered in cli.test.ts.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, describe, expect, it } from 'vitest';
import { connect, toolJson } from './http-helpers.js';
import { cleanEnv, eventually, killAll, startProcess } from './process-helpers.js';

afterAll(killAll);

const INSTALL = {
  tenantId: 111,
  distribution: 'debian',
  tariff: 'Облачный 512',
  password: 'Secret-pass1',
  wait: true,
};

const env = { ...cleanEnv, FLOPS_LOG_LEVEL: 'info' };

describe.each(['SIGTERM', 'SIGINT'] as const)('%s', (signal) => {
  it('stops the HTTP server cleanly: the call in flight gets an error, the log keeps its operationId', async () => {
    // --time-scale 20: the install takes about a minute, far longer than the test and than the
    // drain deadline (1 s here; drain.test.ts covers calls that finish within it).
    const server = await startProcess(['--http', '--sandbox', '--port', '0', '--time-scale', '20'], {
      env: { ...env, FLOPS_MCP_DRAIN_SECONDS: '1' },
    });
    const c = await connect(server.url);
    expect(toolJson(await c.call('vm_get', { vmId: 85561 }))).toMatchObject({ vm: { id: 85561 } });
    let waiting!: () => void;
    const polled = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    const inFlight = c.mcp
      .callTool({ name: 'vm_install', arguments: INSTALL }, undefined, { onprogress: () => waiting() })
      .then(
        () => 'resolved',
        (err: unknown) => String(err),
      );
    // The first progress notification: the write was accepted and the wait has begun.
    await polled;
    const started = Date.now();
    expect(await server.stop(signal)).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await inFlight).toMatch(/shutting down/);
    const log = server.stderr();
    expect(log).toContain(`stopping (${signal})`);
    expect(log).toContain('http stopped');
    expect(log).toMatch(/tool vm_install cancelled \{"operationId":\d+\}/);
    expect(log).not.toContain('Secret-pass1');
    await c.mcp.close();
  });

  it('stops the stdio server cleanly with a call in flight', async () => {
    const server = await startProcess(['--sandbox', '--time-scale', '20'], {
      env,
      pattern: /(ready on stdio)/,
    });
    const stdin = server.child.stdin!;
    const send = (message: Record<string, unknown>) =>
      stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
    send({
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    await eventually(() => server.stdout().includes('"id":1'), 5000, 'initialize response');
    send({ method: 'notifications/initialized' });
    send({
      id: 2,
      method: 'tools/call',
      params: { name: 'vm_install', arguments: INSTALL, _meta: { progressToken: 'p' } },
    });
    await eventually(() => server.stdout().includes('notifications/progress'), 5000, 'progress');
    const started = Date.now();
    expect(await server.stop(signal)).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(server.stderr()).toContain(`stopping (${signal})`);
    expect(server.stderr()).toMatch(/tool vm_install cancelled \{"operationId":\d+\}/);
    // stdout carried only protocol messages.
    for (const line of server.stdout().trim().split('\n')) expect(JSON.parse(line)).toHaveProperty('jsonrpc');
  });
});

describe('an exception that escapes a call', () => {
  it('is logged, and the server keeps serving', async () => {
    // A preloaded module throws from a callback and leaves a rejection unhandled, on demand.
    const fault = `process.on('SIGUSR2', () => {
      setImmediate(() => { throw new Error('boom from a callback'); });
      Promise.reject(new Error('boom from a promise'));
    });`;
    const server = await startProcess(['--http', '--sandbox', '--port', '0'], {
      env,
      nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(fault)}`],
    });
    const c = await connect(server.url);
    server.child.kill('SIGUSR2');
    await eventually(
      () => /uncaught exception, still serving.*boom from a callback/.test(server.stderr()),
      5000,
      'uncaught exception logged',
    );
    await eventually(
      () => /unhandled rejection, still serving.*boom from a promise/.test(server.stderr()),
      5000,
      'unhandled rejection logged',
    );
    await sleep(100);
    expect(server.child.exitCode).toBeNull();
    // The same session and a new one both work.
    expect(toolJson(await c.call('vm_get', { vmId: 85561 }))).toMatchObject({ vm: { id: 85561 } });
    const d = await connect(server.url);
    expect((await d.mcp.listTools()).tools.length).toBeGreaterThan(0);
    const health = await request(server.url.replace(/\/mcp$/, '/healthz'));
    expect(health.statusCode).toBe(200);
    await health.body.text();
    await Promise.all([c.mcp.close(), d.mcp.close()]);
    expect(await server.stop()).toBe(0);
  });
});
