/**
 * The stdio server starts lean (cli.ts: no Sparkplug or TurboFan, a young generation that does not
 * grow, while it loads) and has V8's compilers and growth back once it serves. Observed from inside the real
 * bin by a preloaded probe (test/fixtures/v8-probe.mjs); what it saves in RSS is the benchmark's.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cleanEnv, killAll, root, type Started, startProcess } from './process-helpers.js';

const probe = ['--allow-natives-syntax', '--import', `${root}test/fixtures/v8-probe.mjs`];

/** Start the bin with the probe, open a session, and read the probe once the server serves. */
async function probed(env: Record<string, string>): Promise<{ newSpaceBytes: number; optimized: boolean }> {
  const server: Started = await startProcess(['--sandbox'], {
    env,
    nodeArgs: probe,
    pattern: /(ready on stdio)/,
  });
  server.child.stdin!.write(
    `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } })}\n`,
  );
  // The server answers the session it was handed, then warms (a macrotask after "ready").
  await new Promise((resolve) => setTimeout(resolve, 200));
  server.child.kill('SIGUSR2');
  const deadline = Date.now() + 5000;
  const read = () => /v8-probe (\{.*\})/.exec(server.stderr());
  while (!read() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  const match = read();
  await server.stop();
  expect(match, server.stderr()).not.toBeNull();
  return JSON.parse(match![1]!) as { newSpaceBytes: number; optimized: boolean };
}

describe('lean start-up of the stdio server', () => {
  afterAll(killAll);

  it('loads without growing the young generation, then optimizes again', async () => {
    const lean = await probed(cleanEnv);
    // The young generation stayed small through start-up (16 MB when V8 is left alone, below), and
    // TurboFan is back on.
    expect(lean.newSpaceBytes).toBeLessThanOrEqual(4 * 2 ** 20);
    expect(lean.optimized).toBe(true);
  });

  it('leaves V8 alone when the user sets its flags', async () => {
    const given = await probed({ ...cleanEnv, NODE_OPTIONS: '--max-semi-space-size=16' });
    expect(given.optimized).toBe(true);
    // Start-up grew its young generation, as V8 does by default.
    expect(given.newSpaceBytes).toBeGreaterThanOrEqual(8 * 2 ** 20);
  });
});
