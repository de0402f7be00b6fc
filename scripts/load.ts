/**
 * Load over Streamable HTTP with the sandbox, in one process (the server wired as the CLI wires it,
 * real sockets on loopback, the SDK's client):
 *
 *   A. 50 sessions, then 500 tool calls in flight at once (10 per session), latency per call;
 *   B. 1,000 sessions opened and closed (25 at a time), each with one call;
 *   then: no session left, the process's active resources (sockets, timers…) back to what they were
 *   before any client came, and the heap after a full GC back close to where it was after warm-up.
 *
 * Run: node --expose-gc --import tsx scripts/load.ts [--write]
 * Prints one JSON line; `--write` also writes bench/results/load.json and bench/results/load.md.
 * Traffic goes to 127.0.0.1 only; every loop is bounded.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { Agent, fetch as undiciFetch } from 'undici';
import { FlopsClient } from '../src/api/client.js';
import { startHttpServer } from '../src/http/server.js';
import { silentLogger } from '../src/log.js';
import { createServer } from '../src/mcp/server.js';
import { startSandbox } from '../src/sandbox/index.js';

const SESSIONS = 50;
const CALLS_PER_SESSION = 10;
const CYCLED_SESSIONS = 1000;
const CYCLE_CONCURRENCY = 25;
const READS: [string, Record<string, unknown>][] = [
  ['vm_get', { vmId: 85561 }],
  ['vm_list', {}],
  ['tariff_list', {}],
  ['distribution_list', {}],
  ['tenant_list', {}],
  ['pubkey_list', {}],
  ['vm_snapshot_list', { vmId: 85561 }],
];

const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  })();

async function fullGc(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].every((k) => (a[k] ?? 0) === (b[k] ?? 0));
}

function percentiles(values: number[]): Record<string, number> {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted.at(-1) ?? 0) };
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!check() && Date.now() - start < timeoutMs) await new Promise((r) => setTimeout(r, 50));
  return Date.now() - start;
}

export interface LoadReport {
  date: string;
  node: string;
  machine: { cpus: number; memoryGiB: number };
  concurrent: {
    sessions: number;
    calls: number;
    failures: number;
    wallMs: number;
    callsPerSecond: number;
    latencyMs: Record<string, number>;
  };
  cycled: {
    sessions: number;
    concurrency: number;
    failures: number;
    wallMs: number;
    sessionsPerSecond: number;
    openMs: Record<string, number>;
    cycleMs: Record<string, number>;
    peakSessions: number;
  };
  after: {
    sessionsLeft: number;
    resourcesBefore: Record<string, number>;
    resourcesAfter: Record<string, number>;
    resourcesBack: boolean;
    drainMs: number;
  };
  memory: {
    baselineHeapMB: number;
    peakHeapMB: number;
    afterHeapMB: number;
    heapDeltaMB: number;
    baselineRssMB: number;
    peakRssMB: number;
    afterRssMB: number;
  };
}

export async function runLoad(): Promise<LoadReport> {
  const sandbox = await startSandbox({ port: 0, host: '127.0.0.1', timeScale: 0.01 });
  const shared = new FlopsClient({
    baseUrl: sandbox.url,
    clientId: sandbox.clientId,
    apiKey: sandbox.apiKey,
  });
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    stateless: false,
    log: silentLogger,
    hasDefaultCredentials: true,
    clientFor: () => shared,
    serverFor: (client) => createServer({ client, sandbox: true, defaultTenantId: 10081 }),
    health: () => ({ mode: 'sandbox' }),
  });
  const resourcesBefore = resources();

  let agent = new Agent({ connections: 1024 });
  const fetchVia = (): FetchLike => {
    const dispatcher = agent;
    return ((url: string | URL, init?: RequestInit) =>
      undiciFetch(url, { ...(init as object), dispatcher } as never)) as unknown as FetchLike;
  };
  const open = async () => {
    const transport = new StreamableHTTPClientTransport(new URL(http.url), { fetch: fetchVia() });
    const client = new Client({ name: 'load', version: '1.0.0' });
    client.onerror = () => undefined;
    await client.connect(transport);
    return { client, transport };
  };
  const close = async (s: { client: Client; transport: StreamableHTTPClientTransport }) => {
    await s.transport.terminateSession();
    await s.client.close();
  };
  const call = async (client: Client, i: number): Promise<{ ms: number; ok: boolean }> => {
    const [name, args] = READS[i % READS.length]!;
    const started = performance.now();
    try {
      const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
      return { ms: performance.now() - started, ok: !result.isError };
    } catch {
      return { ms: performance.now() - started, ok: false };
    }
  };

  // Warm-up: compile, cache, grow pools; then the memory baseline.
  for (let round = 0; round < 3; round++) {
    const warm = await Promise.all(Array.from({ length: 10 }, open));
    await Promise.all(warm.flatMap((s, i) => [call(s.client, i), call(s.client, i + 1)]));
    await Promise.all(warm.map(close));
  }
  await fullGc();
  const baseline = process.memoryUsage();

  // A. 50 sessions, 500 calls in flight at once.
  const sessions = await Promise.all(Array.from({ length: SESSIONS }, open));
  const startedA = performance.now();
  const outcomes = await Promise.all(
    sessions.flatMap((s, k) =>
      Array.from({ length: CALLS_PER_SESSION }, (_, i) => call(s.client, k * CALLS_PER_SESSION + i)),
    ),
  );
  const wallA = performance.now() - startedA;
  const peak = process.memoryUsage();
  await Promise.all(sessions.map(close));

  // B. 1,000 sessions opened and closed.
  const openMs: number[] = [];
  const cycleMs: number[] = [];
  let failuresB = 0;
  let peakSessions = 0;
  let next = 0;
  const startedB = performance.now();
  await Promise.all(
    Array.from({ length: CYCLE_CONCURRENCY }, async () => {
      while (next < CYCLED_SESSIONS) {
        const i = next++;
        const t0 = performance.now();
        try {
          const s = await open();
          openMs.push(performance.now() - t0);
          peakSessions = Math.max(peakSessions, http.sessions());
          if (!(await call(s.client, i)).ok) failuresB++;
          await close(s);
        } catch {
          failuresB++;
        }
        cycleMs.push(performance.now() - t0);
      }
    }),
  );
  const wallB = performance.now() - startedB;

  // Nothing behind: sessions, sockets, timers. Idle keep-alive sockets to the sandbox expire on
  // their own (the sandbox closes them after 5 s); the client side is closed here.
  await agent.close();
  agent = new Agent();
  const drainMs = await eventually(
    () => http.sessions() === 0 && sameCounts(resources(), resourcesBefore),
    15_000,
  );
  const resourcesAfter = resources();
  const sessionsLeft = http.sessions();
  await fullGc();
  const after = process.memoryUsage();

  await http.close();
  await shared.close();
  await sandbox.close();
  await agent.close();

  const calls = outcomes.length;
  return {
    date: new Date().toISOString(),
    node: process.version,
    machine: { cpus: availableParallelism(), memoryGiB: Math.round(totalmem() / 1024 ** 3) },
    concurrent: {
      sessions: SESSIONS,
      calls,
      failures: outcomes.filter((o) => !o.ok).length,
      wallMs: Math.round(wallA),
      callsPerSecond: Math.round(calls / (wallA / 1000)),
      latencyMs: percentiles(outcomes.map((o) => o.ms)),
    },
    cycled: {
      sessions: cycleMs.length,
      concurrency: CYCLE_CONCURRENCY,
      failures: failuresB,
      wallMs: Math.round(wallB),
      sessionsPerSecond: Math.round(cycleMs.length / (wallB / 1000)),
      openMs: percentiles(openMs),
      cycleMs: percentiles(cycleMs),
      peakSessions,
    },
    after: {
      sessionsLeft,
      resourcesBefore,
      resourcesAfter,
      resourcesBack: sameCounts(resourcesAfter, resourcesBefore),
      drainMs,
    },
    memory: {
      baselineHeapMB: mb(baseline.heapUsed),
      peakHeapMB: mb(peak.heapUsed),
      afterHeapMB: mb(after.heapUsed),
      heapDeltaMB: mb(after.heapUsed - baseline.heapUsed),
      baselineRssMB: mb(baseline.rss),
      peakRssMB: mb(peak.rss),
      afterRssMB: mb(after.rss),
    },
  };
}

function markdown(r: LoadReport): string {
  const l = (p: Record<string, number>) =>
    `p50 ${p['p50']} · p90 ${p['p90']} · p99 ${p['p99']} · max ${p['max']}`;
  return `# Load over Streamable HTTP (sandbox)

${r.date.slice(0, 10)}, Node ${r.node}, ${r.machine.cpus} cores, one process (server, sandbox and clients), loopback.
Produced by \`npm run bench:load\` (scripts/load.ts); checked on every \`npm test\` by test/load.test.ts.

| | |
|---|---|
| ${r.concurrent.calls} tool calls in flight at once from ${r.concurrent.sessions} sessions | ${r.concurrent.failures} failed; ${r.concurrent.wallMs} ms wall, ${r.concurrent.callsPerSecond} calls/s |
| latency per call (ms) | ${l(r.concurrent.latencyMs)} |
| ${r.cycled.sessions} sessions opened, used once and closed, ${r.cycled.concurrency} at a time | ${r.cycled.failures} failed; ${r.cycled.wallMs} ms wall, ${r.cycled.sessionsPerSecond} sessions/s |
| session open, initialize to ready (ms) | ${l(r.cycled.openMs)} |
| whole session: open, one call, DELETE (ms) | ${l(r.cycled.cycleMs)} |
| left behind | ${r.after.sessionsLeft} sessions; active resources ${r.after.resourcesBack ? 'back to the state before any client' : 'NOT back'} (${JSON.stringify(r.after.resourcesAfter)}) after ${r.after.drainMs} ms |
| heap used after a full GC (MB) | warm ${r.memory.baselineHeapMB} → with 50 sessions busy ${r.memory.peakHeapMB} → after ${r.memory.afterHeapMB} (Δ ${r.memory.heapDeltaMB}) |
| RSS (MB) | warm ${r.memory.baselineRssMB} → peak ${r.memory.peakRssMB} → after ${r.memory.afterRssMB} |
`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const report = await runLoad();
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (process.argv.includes('--write')) {
    const dir = new URL('../bench/results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL('load.json', dir), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(new URL('load.md', dir), markdown(report));
  }
}
