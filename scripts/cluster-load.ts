/**
 * The service under load (scripts/cluster.ts): three `node dist/cli.cjs --http` replicas, Redis and
 * nginx, one sandbox. 100 clients (80 on 2026-07-28, 20 with 2025 sessions) put 2,000 tool calls in
 * flight at once through nginx, one in ten a write (pubkey_add, each with a name of its own);
 * replica r2 is SIGKILLed when 200 of them have been answered. Meanwhile a 2026 listener on r3
 * follows a VM that a probe renames, through r1, every 100 ms.
 *
 * Clients behave as the server's errors tell them: a call whose answer was lost (502, a reset) is
 * repeated if it is a read; a write is repeated only if it did not take effect (checked by its
 * name); a 2025 session whose replica is gone is opened again; a rate-limited call waits
 * `retryAfter`. Then: every call answered, every write exactly once, every write in an audit log.
 *
 * Run: npm run bench:cluster (builds first). Prints one JSON line; `--write` also writes
 * bench/results/cluster.json and cluster.md. Needs nginx and redis-server (Debian packages).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, totalmem } from 'node:os';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startCluster } from './cluster.js';

const CLIENTS = 100;
const LEGACY_CLIENTS = 20;
const CALLS = 2_000;
/** r2 is killed when this many calls have been answered: early enough that every kind of client has calls in flight. */
const KILL_AFTER = 200;
/**
 * The clients' own deadline per call, above the SDK's 60 s: with 2,000 calls queued on two shared
 * cores, the last answers come late, and a client that gave up on a write it sent could only guess
 * whether to repeat it (the server never repeats a write; a client that times out may).
 */
const CALL_TIMEOUT_MS = 180_000;
/**
 * 2025 clients keep the SDK's 60 s: a call whose SSE stream was cut with its replica is never
 * answered (the 1.x client waits for a resumption that cannot come), and only its own deadline
 * ends it. They only read, so that repeating such a call is always safe.
 */
const LEGACY_TIMEOUT_MS = 60_000;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bench@cluster';
const READS: [string, Record<string, unknown>][] = [
  ['vm_get', { vmId: 85561 }],
  ['tariff_list', {}],
  ['vm_list', {}],
  ['distribution_list', {}],
  ['vm_snapshot_list', { vmId: 85561 }],
];

type CallResult = { isError?: boolean; structuredContent?: Record<string, unknown> };

interface AnyClient {
  call(name: string, args: Record<string, unknown>): Promise<CallResult>;
  close(): Promise<void>;
}

async function modernClient(url: string): Promise<AnyClient> {
  const c = new V2Client({ name: 'bench', version: '1' }, { versionNegotiation: { mode: 'auto' } });
  c.onerror = () => undefined;
  await c.connect(new V2Transport(new URL(url)));
  return {
    call: (name, args) =>
      c.callTool({ name, arguments: args }, { timeout: CALL_TIMEOUT_MS }) as Promise<CallResult>,
    close: () => c.close(),
  };
}

/**
 * A 2025 session client that opens a new session when its own is gone (its replica killed: the
 * balancer's backup answers 404, or the connection breaks). `onReopen` counts it.
 */
async function legacyClient(
  url: string,
  onReopen: () => void,
  onOpen: (sessionId: string) => void,
): Promise<AnyClient> {
  const open = async () => {
    const c = new Client({ name: 'bench-2025', version: '1' });
    c.onerror = () => undefined;
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await c.connect(transport);
    onOpen(transport.sessionId ?? '');
    return c;
  };
  let current = open();
  const reopen = (failed: Promise<Client>) => {
    if (current !== failed) return;
    onReopen();
    current = open();
    current.catch(() => undefined);
    void failed.then((c) => c.close()).catch(() => undefined);
  };
  await current;
  return {
    async call(name, args) {
      const mine = current;
      try {
        return (await (
          await mine
        ).callTool({ name, arguments: args }, undefined, {
          timeout: LEGACY_TIMEOUT_MS,
        })) as CallResult;
      } catch (err) {
        if (process.env['BENCH_DEBUG']) process.stderr.write(`legacy: ${String(err).slice(0, 200)}\n`);
        reopen(mine);
        throw err;
      }
    },
    close: async () => (await current).close(),
  };
}

function percentiles(values: number[]): Record<string, number> {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { p50: round(at(50)), p90: round(at(90)), p99: round(at(99)), max: round(sorted.at(-1) ?? 0) };
}

export interface ClusterReport {
  date: string;
  node: string;
  machine: { cpus: number; memoryGiB: number; loadAverageAtEnd: number };
  replicas: number;
  clients: { total: number; modern: number; legacy: number };
  calls: number;
  writes: number;
  failures: number;
  retried: number;
  reopenedSessions: number;
  /** 2025 sessions opened (first ones and reopened), by replica. */
  sessionsOn: Record<string, number>;
  wallMs: number;
  callsPerSecond: number;
  latencyMs: Record<string, number>;
  killedAfterAnswers: number;
  exactlyOnce: {
    writes: number;
    keys: number;
    duplicates: number;
    audited: number;
    missingFromAudit: number;
  };
  notification: { samples: number; msAfterAnswer: Record<string, number> };
  cpuSecondsPerReplica: Record<string, number>;
}

export async function runClusterLoad(): Promise<ClusterReport> {
  const cluster = await startCluster({
    replicas: 3,
    timeScale: 0.02,
    env: {
      FLOPS_USER_RATE: '1000000',
      FLOPS_USER_BURST: '100000',
      FLOPS_ACCOUNT_RATE: '1000000',
      FLOPS_ACCOUNT_BURST: '100000',
    },
  });
  try {
    const run = `bench-${Date.now()}`;
    const keys = () =>
      [...cluster.sandbox.state.publicKeys.values()].map((k) => k.name).filter((n) => n.startsWith(run));
    let reopened = 0;
    /** 2025 sessions opened, by the replica that holds them (the prefix of their id). */
    const sessionsOn: Record<string, number> = {};
    const opened = (id: string) => {
      const owner = id.split('.')[0] ?? '?';
      sessionsOn[owner] = (sessionsOn[owner] ?? 0) + 1;
    };
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        i < LEGACY_CLIENTS ? legacyClient(cluster.url, () => reopened++, opened) : modernClient(cluster.url),
      ),
    );
    let retried = 0;
    let failures = 0;
    let answered = 0;
    const latencies: number[] = [];
    const call = async (c: AnyClient, name: string, args: Record<string, unknown>, write?: string) => {
      const started = performance.now();
      for (let attempt = 1; attempt <= 8; attempt++) {
        let wait = 100;
        try {
          const r = await c.call(name, args);
          if (!r.isError) break;
          const error = r.structuredContent?.['error'] as { kind?: string } | undefined;
          if (error?.kind === 'rate-limited') wait = Number(r.structuredContent?.['retryAfter'] ?? 1) * 1000;
          else if (error?.kind !== 'unavailable') {
            failures++;
            break;
          }
        } catch {
          // The answer was lost (502, reset, session gone with its replica).
        }
        retried++;
        // A write whose answer was lost is repeated only if it did not take effect.
        if (write && keys().includes(write)) break;
        if (attempt === 8) failures++;
        else await new Promise((resolve) => setTimeout(resolve, wait));
      }
      latencies.push(performance.now() - started);
      answered++;
    };

    // The notification probe: renames through r1, a listener on r3.
    const uri = 'flops://vms/85561';
    const listener = new V2Client(
      { name: 'listener', version: '1' },
      { versionNegotiation: { mode: 'auto' } },
    );
    await listener.connect(new V2Transport(new URL(cluster.replicas[2]!.url)));
    let notifiedAt = 0;
    listener.setNotificationHandler('notifications/resources/updated', (n) => {
      if (n.params.uri === uri && notifiedAt === 0) notifiedAt = performance.now();
    });
    const subscription = await listener.listen({ resourceSubscriptions: [uri] });
    const writer = await modernClient(cluster.replicas[0]!.url);
    const delays: number[] = [];
    let loading = true;
    const probe = (async () => {
      for (let i = 0; loading; i++) {
        notifiedAt = 0;
        const r = await writer.call('vm_rename', { vmId: 85561, name: i % 2 ? 'ubuntu' : 'ubuntu-probe' });
        const answeredAt = performance.now();
        if (r.isError) continue;
        const until = Date.now() + 2_000;
        while (notifiedAt === 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 2));
        delays.push(notifiedAt === 0 ? 2_000 : Math.max(0, notifiedAt - answeredAt));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    let cpuAtKill = 0;
    const killer = (async () => {
      while (answered < KILL_AFTER) await new Promise((resolve) => setTimeout(resolve, 5));
      cpuAtKill = cluster.cpuSeconds()[1]!;
      await cluster.killReplica(1);
    })();
    const cpuBefore = cluster.cpuSeconds();
    const started = performance.now();
    const perClient = CALLS / CLIENTS;
    // Interleaved (every client's first call, then every client's second…): answers come back in
    // about that order, so that the kill finds calls of every client in flight.
    await Promise.all(
      Array.from({ length: perClient }, (_, i) =>
        clients.map((c, k) => {
          const n = k * perClient + i;
          // Writes from the 2026 clients only (see LEGACY_TIMEOUT_MS): 200 of their 1,600 calls.
          if (k >= LEGACY_CLIENTS && n % 8 === 7) {
            const name = `${run}-${n}`;
            return call(c, 'pubkey_add', { tenantId: 111, name, publicKey: KEY }, name);
          }
          const [name, args] = READS[n % READS.length]!;
          return call(c, name, args);
        }),
      ).flat(),
    );
    const wallMs = performance.now() - started;
    await killer;
    loading = false;
    await probe;
    const cpuAfter = cluster.cpuSeconds();
    await subscription.close();
    await Promise.all([
      listener.close(),
      writer.close(),
      ...clients.map((c) => c.close().catch(() => undefined)),
    ]);

    const names = keys();
    const audited = new Set(
      cluster
        .audit()
        .filter((e) => e['tool'] === 'pubkey_add' && (e['outcome'] === 'ok' || e['outcome'] === 'sent'))
        .map((e) => (e['args'] as { name: string }).name)
        .filter((n) => n.startsWith(run)),
    );
    const writes = ((CLIENTS - LEGACY_CLIENTS) * perClient) / 8;
    const cpu = Object.fromEntries(
      cluster.replicas.map((r, i) => {
        const end = i === 1 ? cpuAtKill : cpuAfter[i]!;
        return [r.name, Math.round((end - cpuBefore[i]!) * 100) / 100];
      }),
    );
    return {
      date: new Date().toISOString(),
      node: process.version,
      machine: {
        cpus: availableParallelism(),
        memoryGiB: Math.round(totalmem() / 1024 ** 3),
        loadAverageAtEnd: Math.round(loadavg()[0]! * 100) / 100,
      },
      replicas: cluster.replicas.length,
      clients: { total: CLIENTS, modern: CLIENTS - LEGACY_CLIENTS, legacy: LEGACY_CLIENTS },
      calls: CALLS,
      writes,
      failures,
      retried,
      reopenedSessions: reopened,
      sessionsOn,
      wallMs: Math.round(wallMs),
      callsPerSecond: Math.round(CALLS / (wallMs / 1000)),
      latencyMs: percentiles(latencies),
      killedAfterAnswers: KILL_AFTER,
      exactlyOnce: {
        writes,
        keys: names.length,
        duplicates: names.length - new Set(names).size,
        audited: audited.size,
        missingFromAudit: names.filter((n) => !audited.has(n)).length,
      },
      notification: { samples: delays.length, msAfterAnswer: percentiles(delays) },
      cpuSecondsPerReplica: cpu,
    };
  } finally {
    await cluster.close();
  }
}

export function clusterMarkdown(r: ClusterReport): string {
  const l = (p: Record<string, number>) =>
    `p50 ${p['p50']} · p90 ${p['p90']} · p99 ${p['p99']} · max ${p['max']}`;
  return `# Three replicas behind nginx with Redis (sandbox)

${r.date.slice(0, 10)}, Node ${r.node}, ${r.machine.cpus} cores shared by everything: three replicas
(\`node dist/cli.cjs --http\`), nginx, redis-server, and one process with the sandbox and every client
(1-minute load average at the end: ${r.machine.loadAverageAtEnd}; other work shared the machine).
Produced by \`npm run bench:cluster\` (scripts/cluster-load.ts); a lighter run (200 calls, a replica
killed) is part of \`npm test\` (test/replicas.test.ts).

| | |
|---|---|
| ${r.calls} tool calls in flight at once, from ${r.clients.total} clients (${r.clients.modern} on 2026-07-28, ${r.clients.legacy} with 2025 sessions), through nginx | ${r.failures} failed; ${r.wallMs} ms wall, ${r.callsPerSecond} calls/s |
| latency per call, retries included (ms) | ${l(r.latencyMs)} |
| replica r2 SIGKILLed after ${r.killedAfterAnswers} answers | ${r.retried} calls repeated by their clients, ${r.reopenedSessions} 2025 sessions opened again (2025 sessions by replica: ${Object.entries(
    r.sessionsOn,
  )
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')}) |
| writes (pubkey_add, one name each) | ${r.exactlyOnce.writes} made, ${r.exactlyOnce.keys} keys at the provider, ${r.exactlyOnce.duplicates} duplicates; ${r.exactlyOnce.audited} in the audit logs, ${r.exactlyOnce.missingFromAudit} missing |
| a write through r1 told to a listener on r3, under the load (ms after the write's answer, ${r.notification.samples} writes) | ${l(r.notification.msAfterAnswer)} |
| CPU seconds per replica during the load | ${Object.entries(r.cpuSecondsPerReplica)
    .map(([k, v]) => `${k} ${v}`)
    .join(' · ')} (r2 until killed) |

All 2,000 calls are queued at once, so the latency is mostly waiting in line: p50 is about half the
wall time. The p99 is a few 2025 calls that were in flight on r2 when it died: their SSE response
stream was cut with the replica, the 1.x client did not fail them, and only its own 60 s deadline
ended them (then they were repeated on another replica). 2026 calls in flight there got a 502 from
nginx at once and were repeated.
`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const report = await runClusterLoad();
  process.stdout.write(`${JSON.stringify(report)}\n`);
  if (process.argv.includes('--write')) {
    const dir = new URL('../bench/results/', import.meta.url);
    mkdirSync(dir, { recursive: true });
    writeFileSync(new URL('cluster.json', dir), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(new URL('cluster.md', dir), clusterMarkdown(report));
  }
  process.exit(0);
}
