/**
 * `npm run bench`: what a user of flops-mcp feels, measured side by side in one run against the
 * sandbox, written to bench/results/latest.md and latest.json. The five targets of issue 19:
 *
 *   1. first answer: spawn of the built bin until its answer to `initialize` and to
 *      `server/discover`, against a bare Node process answering the same message, the SDK floor
 *      (an empty server on the same SDK) and DigitalOcean's MCP server (`@digitalocean/mcp`,
 *      installed here with npm into a scratch folder, `--services droplets`, a placeholder token);
 *   2. tools/list: bytes a tool without output schemas (as sent on stdio, the output schemas taken
 *      out), with them, per toolset; DigitalOcean's list measured the same way;
 *   3. throughput at concurrency 64 against raw undici to the same sandbox: over stdio on a 2025
 *      connection (also at 1 and 16), on a 2026-07-28 connection (a per-request envelope), and
 *      over stateless Streamable HTTP;
 *   4. memory: RSS after start-up; the RSS every 1,000 calls up to 10,000 (a curve, and its
 *      plateau against the level after the first 1,000); the live heap after a full GC;
 *   5. tasks: provider reads of one `tasks/get`, and 1,000 tasks polled at their suggested interval
 *      against the waiter (`wait: true`) for the same operations, counted at the sandbox.
 *
 * Also: per-call overhead (in-memory and stdio) and wait_for_operation's polls and lateness.
 * Every timed figure is the median of repeated runs with min and max. Nothing here is asserted:
 * the report says which targets are met and by how much the others are missed.
 * `--quick` runs fewer repetitions and only prints (the committed report is a full run);
 * `--render` writes latest.md again from latest.json, measuring nothing.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { Agent, request } from 'undici';
import { FlopsClient } from '../src/api/client.js';
import { TOOLSETS, type Toolset } from '../src/api/operations.js';
import { startHttpServer } from '../src/http/server.js';
import { silentLogger } from '../src/log.js';
import { createServer } from '../src/mcp/server.js';
import { TASKS_EXTENSION, TaskSeal } from '../src/mcp/tasks.js';
import type { ToolSelection } from '../src/mcp/tools.js';
import { startSandbox } from '../src/sandbox/index.js';
import {
  type ColdStart,
  cli,
  coldStart,
  envelope,
  fmt,
  messagesOf,
  type Opening,
  post2026,
  processCpuMs,
  processRssMb,
  root,
  type SandboxProcess,
  type Stats,
  sleep,
  spawnUntil,
  startSandboxProcess,
  stats,
  throughput,
} from './lib.js';

const quick = process.argv.includes('--quick');
const RUNS = {
  coldStart: quick ? 5 : 40,
  callRounds: quick ? 2 : 5,
  callsPerRound: quick ? 200 : 600,
  throughputRepeats: quick ? 1 : 3,
  throughputMs: quick ? 1000 : 2000,
  /** A fresh server reaches its steady rate after about 3 s of calls at concurrency 64 (V8 compiling its hot paths). */
  throughputWarmupMs: quick ? 1000 : 5000,
  memoryRuns: quick ? 1 : 3,
  memoryCalls: 10_000,
  memoryStep: 1_000,
  waitRepeats: quick ? 1 : 3,
  tasks: quick ? 200 : 1_000,
};
const VM_ID = 85561;
/** vm_rename takes 500 ms in the sandbox before its time scale. */
const RENAME_MS = 500;
const WAIT_SECONDS = [1, 5, 30] as const;
/** How long each of the tasks' operations takes (vm_rename at the matching time scale). */
const TASK_OPERATION_MS = 3_000;
/** DigitalOcean's server wants a token to start; nothing here calls its API. */
const PLACEHOLDER_TOKEN = 'dop_v1_placeholder_for_the_benchmark';

const TARGETS = {
  /** Issue 19, target 1: the first answer (initialize and server/discover) against bare Node… */
  firstAnswerVsBare: 1.1,
  /** …and against DigitalOcean's MCP server. */
  firstAnswerVsDigitalOcean: 1.0,
  /** Target 2: bytes a tool of tools/list without output schemas (DigitalOcean's droplets: 558). */
  toolsListBytesPerTool: 558,
  overheadMs: 0.3,
  /** Target 3: MCP calls per second at concurrency 64 against raw undici. */
  throughputRatio: 0.5,
  waitPolls30s: 15,
  /** Target 4: RSS after start-up, its growth from 1,000 to 10,000 calls, the live heap's. */
  rssStartMb: 55,
  rssPlateau: 0.25,
  /** The live heap after a full GC from 10,000 to 20,000 calls: flat (≤ 5 % or 1 MB). */
  liveHeapGrowth: 0.05,
  /** Target 5: provider reads of one tasks/get. */
  readsPerTaskGet: 1,
  /** The bench's own check: the sandbox's busy share of a core in any MCP throughput run. */
  sandboxBusyMcp: 0.8,
};

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

/** The environment of a user's MCP client: no FLOPS_* settings but the API's. */
function serverEnv(sandbox: SandboxProcess): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('FLOPS_')) env[key] = value;
  return {
    ...env,
    FLOPS_API_URL: sandbox.url,
    FLOPS_CLIENT_ID: sandbox.clientId,
    FLOPS_API_KEY: sandbox.apiKey,
  };
}

const vmGetUrl = (sandbox: SandboxProcess) =>
  `${sandbox.url}vm/${VM_ID}/?clientId=${encodeURIComponent(sandbox.clientId)}&apiKey=${encodeURIComponent(sandbox.apiKey)}`;

// ---------------------------------------------------------------------------------------------

interface DigitalOcean {
  /** What was installed: `@digitalocean/mcp@version`. */
  version?: string;
  /** The package's bin, run with this Node as ours is. */
  entry?: string;
  /** Why there is no DigitalOcean figure (install or start failed), as npm or the server said. */
  error?: string;
  dir: string;
}

/** `npm install @digitalocean/mcp` into a scratch folder (the registry is the only network here). */
function installDigitalOcean(): DigitalOcean {
  const dir = mkdtempSync(join(os.tmpdir(), 'flops-bench-do-'));
  log(`installing @digitalocean/mcp into ${dir}`);
  try {
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', dir, '@digitalocean/mcp'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    const pkgDir = join(dir, 'node_modules/@digitalocean/mcp');
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
      version: string;
      bin: string | Record<string, string>;
    };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : Object.values(pkg.bin)[0]!;
    return { dir, version: `@digitalocean/mcp@${pkg.version}`, entry: join(pkgDir, bin) };
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    const text = (e.stderr?.toString() || e.message).trim().split('\n').slice(-3).join(' ');
    return { dir, error: `npm install @digitalocean/mcp failed: ${text}` };
  }
}

const digitalOceanArgs = (d: DigitalOcean) => [d.entry!, '--services', 'droplets'];
const digitalOceanEnv = (env: NodeJS.ProcessEnv) => ({ ...env, DIGITALOCEAN_API_TOKEN: PLACEHOLDER_TOKEN });

/** A copy of `items` in random order (Fisher–Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Contender {
  name: 'bare' | 'sdk' | 'flops' | 'digitalocean';
  args: string[];
  env: NodeJS.ProcessEnv;
  acceptError?: boolean;
  list?: boolean;
}

async function measureFirstAnswer(sandbox: SandboxProcess, sdkFloor: string, d: DigitalOcean) {
  const env = serverEnv(sandbox);
  // A variable of the machine, not of the contenders: it makes every Node process load that CA
  // bundle as it starts (≈ 65 ms on the benchmark's machine, more than a bare start-up), which a
  // client's usual environment does not, and which would bury the differences measured here.
  delete env['NODE_EXTRA_CA_CERTS'];
  const contenders: Contender[] = [
    { name: 'bare', args: [`${root}bench/bare-server.cjs`], env },
    { name: 'sdk', args: [sdkFloor], env },
    { name: 'flops', args: [cli], env, list: true },
  ];
  if (d.entry) {
    const c: Contender = {
      name: 'digitalocean',
      args: digitalOceanArgs(d),
      env: digitalOceanEnv(env),
      acceptError: true,
    };
    try {
      await coldStart(c.args, c.env, false, 'initialize');
      contenders.push(c);
    } catch (err) {
      d.error = `@digitalocean/mcp did not answer initialize: ${(err as Error).message}`;
    }
  }
  const per = async (opening: Opening) => {
    log(
      `first answer to ${opening}: ${RUNS.coldStart} runs of each of ${contenders.map((c) => c.name).join(', ')}, interleaved`,
    );
    const samples = new Map(contenders.map((c) => [c.name, [] as number[]]));
    const list: number[] = [];
    let listJson = '';
    let doError: ColdStart['error'];
    // One of each first, not counted: the file system cache.
    for (const c of contenders) await coldStart(c.args, c.env, false, opening, c.acceptError);
    for (let i = 0; i < RUNS.coldStart; i++) {
      // A new order each round, so that no contender always starts right after the same other
      // (a turning order would keep each one's predecessor).
      for (const c of shuffled(contenders)) {
        const run = await coldStart(c.args, c.env, c.list ?? false, opening, c.acceptError);
        samples.get(c.name)!.push(run.initialize);
        if (c.list) {
          list.push(run.toolsList!);
          listJson = run.toolsListJson!;
        }
        if (run.error) doError = run.error;
      }
    }
    const s = (name: Contender['name']) =>
      samples.get(name)?.length ? stats(samples.get(name)!) : undefined;
    const bare = s('bare')!;
    const flops = s('flops')!;
    const digitalocean = s('digitalocean');
    /** Each round's flops / bare, taken back to back: less sensitive to the machine's load drifting. */
    const pairedWith = (name: Contender['name']) =>
      samples.get(name)?.length
        ? stats(samples.get('flops')!.map((v, i) => v / samples.get(name)![i]!)).median
        : undefined;
    return {
      bareMs: bare,
      sdkFloorMs: s('sdk')!,
      flopsMs: flops,
      digitalOceanMs: digitalocean,
      /** DigitalOcean's answer was this JSON-RPC error (its server has no server/discover). */
      digitalOceanError: doError,
      toolsListMs: stats(list),
      ratioBare: flops.median / bare.median,
      ratioBarePaired: pairedWith('bare')!,
      ratioSdkFloor: s('sdk')!.median / bare.median,
      ratioDigitalOcean: digitalocean ? flops.median / digitalocean.median : undefined,
      ratioDigitalOceanPaired: pairedWith('digitalocean'),
      toolsListJson: listJson,
    };
  };
  const initialize = await per('initialize');
  const discover = await per('discover');
  return { initialize, discover };
}

// ---------------------------------------------------------------------------------------------

/** The exact `tools/list` result a server built with `selection` sends. */
async function toolsListJson(client: FlopsClient, selection: ToolSelection): Promise<string> {
  const server = createServer({ client, selection });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  let json = '';
  const send = serverSide.send.bind(serverSide);
  serverSide.send = async (message: JSONRPCMessage, options) => {
    if ('result' in message && message.result && 'tools' in message.result)
      json = JSON.stringify(message.result);
    return send(message, options);
  };
  const mcp = new Client({ name: 'bench', version: '1' });
  await Promise.all([server.connect(serverSide), mcp.connect(clientSide)]);
  await mcp.listTools();
  await mcp.close();
  await server.close();
  return json;
}

type ListedTool = {
  description?: string;
  outputSchema?: unknown;
  inputSchema: { properties?: Record<string, Record<string, unknown>> };
};

/** The same list with the output schemas taken out. */
function withoutOutputSchemas(json: string): string {
  const list = JSON.parse(json) as { tools: ListedTool[] };
  for (const tool of list.tools) delete tool.outputSchema;
  return JSON.stringify(list);
}

const BOUNDS = ['minimum', 'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems', 'format', 'pattern'];

/** What the list (without output schemas) weighs with every description emptied, and also with no bounds. */
function structureFloor(json: string): { withoutDescriptions: number; withoutDescriptionsOrBounds: number } {
  const list = JSON.parse(withoutOutputSchemas(json)) as { tools: ListedTool[] };
  for (const tool of list.tools) {
    tool.description = '';
    for (const property of Object.values(tool.inputSchema.properties ?? {})) property['description'] = '';
  }
  const withoutDescriptions = Buffer.byteLength(JSON.stringify(list));
  for (const tool of list.tools)
    for (const property of Object.values(tool.inputSchema.properties ?? {}))
      for (const b of BOUNDS) delete property[b];
  return { withoutDescriptions, withoutDescriptionsOrBounds: Buffer.byteLength(JSON.stringify(list)) };
}

async function measureToolsList(sandbox: SandboxProcess, sentOnStdio: string, d: DigitalOcean) {
  log('tools/list size');
  const client = new FlopsClient({
    baseUrl: sandbox.url,
    clientId: sandbox.clientId,
    apiKey: sandbox.apiKey,
  });
  const all = await toolsListJson(client, {});
  const toolsets: { toolset: Toolset; tools: number; bytes: number; bytesWithoutOutput: number }[] = [];
  for (const toolset of TOOLSETS) {
    const json = await toolsListJson(client, { toolsets: [toolset] });
    toolsets.push({
      toolset,
      tools: (JSON.parse(json) as { tools: unknown[] }).tools.length,
      bytes: Buffer.byteLength(json),
      bytesWithoutOutput: Buffer.byteLength(withoutOutputSchemas(json)),
    });
  }
  await client.close();
  const tools = (JSON.parse(sentOnStdio) as { tools: unknown[] }).tools.length;
  const bytes = Buffer.byteLength(sentOnStdio);
  const bytesWithoutOutput = Buffer.byteLength(withoutOutputSchemas(sentOnStdio));
  const floor = structureFloor(sentOnStdio);
  // DigitalOcean's list, as its server sends it on stdio (it has no output schemas).
  let digitalOcean: { tools: number; bytes: number; bytesPerTool: number } | undefined;
  if (d.entry && !d.error) {
    try {
      const run = await coldStart(digitalOceanArgs(d), digitalOceanEnv(serverEnv(sandbox)), true);
      const n = (JSON.parse(run.toolsListJson!) as { tools: unknown[] }).tools.length;
      const b = Buffer.byteLength(run.toolsListJson!);
      digitalOcean = { tools: n, bytes: b, bytesPerTool: b / n };
    } catch (err) {
      d.error = `@digitalocean/mcp did not answer tools/list: ${(err as Error).message}`;
    }
  }
  return {
    tools,
    bytes,
    tokens: Math.round(bytes / 4),
    bytesPerTool: bytes / tools,
    bytesWithoutOutput,
    bytesPerToolWithoutOutput: bytesWithoutOutput / tools,
    sameInMemory: all === sentOnStdio,
    withoutDescriptionsBytes: floor.withoutDescriptions,
    withoutDescriptionsOrBoundsBytes: floor.withoutDescriptionsOrBounds,
    toolsets: toolsets.map((t) => ({ ...t, tokens: Math.round(t.bytes / 4) })),
    digitalOcean,
  };
}

// ---------------------------------------------------------------------------------------------

interface Mode {
  name: string;
  call: () => Promise<unknown>;
}

async function measurePerCall(sandbox: SandboxProcess) {
  log(`per-call latency: ${RUNS.callRounds} rounds of ${RUNS.callsPerRound} sequential vm_get per mode`);
  const flops = new FlopsClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, apiKey: sandbox.apiKey });
  const server = createServer({ client: flops });
  const memory = new Client({ name: 'bench', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), memory.connect(b)]);
  const stdio = new Client({ name: 'bench', version: '1' });
  await stdio.connect(
    new StdioClientTransport({ command: process.execPath, args: [cli], env: serverEnv(sandbox) as never }),
  );
  const agent = new Agent({ connections: 32 });
  const url = vmGetUrl(sandbox);
  const check = (r: Record<string, unknown>) => {
    if (r.isError) throw new Error(`vm_get failed: ${JSON.stringify(r)}`);
  };
  const modes: Mode[] = [
    {
      name: 'raw undici',
      call: async () => {
        const res = await request(url, { dispatcher: agent });
        await res.body.text();
      },
    },
    { name: 'FlopsClient', call: () => flops.call('vm_get', { vmId: VM_ID }) },
    {
      name: 'MCP in-memory',
      call: async () => check(await memory.callTool({ name: 'vm_get', arguments: { vmId: VM_ID } })),
    },
    {
      name: 'MCP stdio',
      call: async () => check(await stdio.callTool({ name: 'vm_get', arguments: { vmId: VM_ID } })),
    },
  ];
  const samples = new Map(modes.map((m) => [m.name, [] as number[]]));
  const roundP50 = new Map(modes.map((m) => [m.name, [] as number[]]));
  for (const mode of modes) for (let i = 0; i < 200; i++) await mode.call(); // warm-up
  for (let round = 0; round < RUNS.callRounds; round++) {
    for (const mode of modes) {
      const these: number[] = [];
      for (let i = 0; i < RUNS.callsPerRound; i++) {
        const t = performance.now();
        await mode.call();
        these.push(performance.now() - t);
      }
      samples.get(mode.name)!.push(...these);
      roundP50.get(mode.name)!.push(stats(these).p50);
    }
  }
  await stdio.close();
  await memory.close();
  await server.close();
  await flops.close();
  await agent.close();
  const result = modes.map((m) => ({
    mode: m.name,
    ms: stats(samples.get(m.name)!),
    p50OfRounds: stats(roundP50.get(m.name)!),
  }));
  const p50 = (name: string) => result.find((r) => r.mode === name)!.ms.p50;
  const p99 = (name: string) => result.find((r) => r.mode === name)!.ms.p99;
  return {
    modes: result,
    overheadInMemoryP50: p50('MCP in-memory') - p50('FlopsClient'),
    overheadInMemoryP99: p99('MCP in-memory') - p99('FlopsClient'),
    overheadStdioP50: p50('MCP stdio') - p50('FlopsClient'),
    overheadStdioP99: p99('MCP stdio') - p99('FlopsClient'),
    ratioInMemory: p50('MCP in-memory') / p50('FlopsClient'),
    ratioStdio: p50('MCP stdio') / p50('FlopsClient'),
    ratioClientToRaw: p50('FlopsClient') / p50('raw undici'),
  };
}

// ---------------------------------------------------------------------------------------------

type Connection = 'stdio 2025' | 'stdio 2026-07-28' | 'HTTP stateless' | 'HTTP stateless, plain client';

/** What serves a connection: flops-mcp, or the floor, a bare relay with no MCP library (bench/bare-relay.mjs). */
type Program = 'flops-mcp' | 'bare relay';
const bareRelay = `${root}bench/bare-relay.mjs`;

/** A connection to a flops-mcp (or bare relay) process and a vm_get through it. */
async function connect(
  sandbox: SandboxProcess,
  kind: Connection,
  program: Program = 'flops-mcp',
): Promise<{ call: () => Promise<void>; pid: number | undefined; close: () => Promise<void> }> {
  const env = serverEnv(sandbox);
  const stdioArgs = [program === 'flops-mcp' ? cli : bareRelay];
  const check = (r: object) => {
    if ('isError' in r && r.isError) throw new Error(JSON.stringify(r));
  };
  if (kind === 'stdio 2025') {
    const client = new Client({ name: 'bench', version: '1' });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: stdioArgs,
      env: env as never,
    });
    await client.connect(transport);
    return {
      call: async () => check(await client.callTool({ name: 'vm_get', arguments: { vmId: VM_ID } })),
      pid: transport.pid ?? undefined,
      close: () => client.close(),
    };
  }
  if (kind === 'stdio 2026-07-28') {
    // The SDK's v2 client in auto mode opens with server/discover and sends every request with
    // the 2026-07-28 envelope (protocol version, client info and capabilities in its _meta).
    const client = new V2Client({ name: 'bench', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    const transport = new V2StdioClientTransport({
      command: process.execPath,
      args: stdioArgs,
      env: env as Record<string, string>,
    });
    await client.connect(transport);
    if (client.getProtocolEra() !== 'modern') throw new Error('the v2 client did not negotiate 2026-07-28');
    return {
      call: async () => check(await client.callTool({ name: 'vm_get', arguments: { vmId: VM_ID } })),
      pid: transport.pid ?? undefined,
      close: () => client.close(),
    };
  }
  // `flops-mcp --http --stateless`: a server per request, as behind a load balancer.
  const http = await spawnUntil(
    program === 'flops-mcp' ? [cli, '--http', '--stateless', '--port', '0'] : [bareRelay, '--http'],
    env,
    /listening on (http:\/\/\S+)/,
  );
  if (kind === 'HTTP stateless, plain client') {
    // The same POST the SDK's client sends for a call (headers, JSON-RPC body) with undici, and the
    // answer read (one JSON body or the SSE frames) and checked: the server's side of the exchange
    // without the SDK client's own cost (its fetch, streams and zod), which shares the two cores.
    const agent = new Agent({ connections: 64 });
    let id = 0;
    const call = async () => {
      const res = await request(http.match, {
        dispatcher: agent,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: ++id,
          method: 'tools/call',
          params: { name: 'vm_get', arguments: { vmId: VM_ID } },
        }),
      });
      const answer = messagesOf(await res.body.text()).at(-1);
      if (!answer || !('result' in answer)) throw new Error(JSON.stringify(answer));
      check(answer['result'] as object);
    };
    return {
      call,
      pid: http.child.pid,
      close: async () => {
        await agent.close();
        await http.stop();
      },
    };
  }
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(http.match)));
  return {
    call: async () => check(await client.callTool({ name: 'vm_get', arguments: { vmId: VM_ID } })),
    pid: http.child.pid,
    close: async () => {
      await client.close();
      await http.stop();
    },
  };
}

async function measureThroughput(sandbox: SandboxProcess) {
  const agent = new Agent({ connections: 64 });
  const url = vmGetUrl(sandbox);
  const raw = async () => {
    const res = await request(url, { dispatcher: agent });
    await res.body.text();
  };
  await throughput(64, RUNS.throughputWarmupMs, raw);
  const rows = [];
  const connections: [Connection, number[]][] = [
    ['stdio 2025', [1, 16, 64]],
    ['stdio 2026-07-28', [64]],
    ['HTTP stateless', [64]],
    ['HTTP stateless, plain client', [64]],
  ];
  // Each connection is also measured at concurrency 64 with the floor, a bare relay in flops-mcp's
  // place: what a server that only relays the call gets with the same client and sandbox.
  const plan = connections.flatMap(([connection, concurrencies]): [Connection, number[], Program][] => [
    [connection, concurrencies, 'flops-mcp'],
    [connection, [64], 'bare relay'],
  ]);
  for (const [connection, concurrencies, program] of plan) {
    log(
      `throughput ${connection}, ${program}: ${RUNS.throughputRepeats} × ${RUNS.throughputMs} ms at concurrency ${concurrencies.join(', ')}`,
    );
    const c = await connect(sandbox, connection, program);
    await throughput(64, RUNS.throughputWarmupMs, c.call);
    for (const concurrency of concurrencies) {
      const perSecond = { raw: [] as number[], mcp: [] as number[] };
      const sandboxCpu = { raw: [] as number[], mcp: [] as number[] };
      const serverCpu: number[] = [];
      const clientCpu = { raw: [] as number[], mcp: [] as number[] };
      for (let i = 0; i < RUNS.throughputRepeats; i++) {
        for (const [name, call] of [
          ['raw', raw],
          ['mcp', c.call],
        ] as const) {
          const cpu0 = processCpuMs(sandbox.child.pid);
          const srv0 = processCpuMs(c.pid);
          const own0 = process.cpuUsage();
          const run = await throughput(concurrency, RUNS.throughputMs, call);
          const own = process.cpuUsage(own0);
          clientCpu[name].push((own.user + own.system) / 1000 / run.ms);
          const cpu1 = processCpuMs(sandbox.child.pid);
          const srv1 = processCpuMs(c.pid);
          perSecond[name].push(run.perSecond);
          if (cpu0 !== undefined && cpu1 !== undefined) sandboxCpu[name].push((cpu1 - cpu0) / run.ms);
          if (name === 'mcp' && srv0 !== undefined && srv1 !== undefined)
            serverCpu.push((srv1 - srv0) / run.ms);
        }
      }
      const rawStats = stats(perSecond.raw);
      const mcpStats = stats(perSecond.mcp);
      const serverBusyMcp = serverCpu.length ? stats(serverCpu).median : undefined;
      rows.push({
        connection,
        program,
        concurrency,
        rawPerSecond: rawStats,
        mcpPerSecond: mcpStats,
        ratio: mcpStats.median / rawStats.median,
        sandboxBusyRaw: sandboxCpu.raw.length ? stats(sandboxCpu.raw).median : undefined,
        sandboxBusyMcp: sandboxCpu.mcp.length ? stats(sandboxCpu.mcp).median : undefined,
        serverBusyMcp,
        /** The server's CPU time per call, µs. */
        serverCpuPerCallUs: serverBusyMcp === undefined ? undefined : (serverBusyMcp / mcpStats.median) * 1e6,
        clientBusyRaw: stats(clientCpu.raw).median,
        clientBusyMcp: stats(clientCpu.mcp).median,
      });
    }
    await c.close();
  }
  await agent.close();
  return rows;
}

/**
 * The sandbox alone: raw undici at concurrency 64, with the sandbox's CPU time per request, which
 * bounds what it can serve (requests per CPU-second) whatever the client.
 */
async function measureSandbox(sandbox: SandboxProcess) {
  log('sandbox capacity');
  const agent = new Agent({ connections: 64 });
  const url = vmGetUrl(sandbox);
  const raw = async () => {
    const res = await request(url, { dispatcher: agent });
    await res.body.text();
  };
  await throughput(64, 500, raw);
  const perSecond: number[] = [];
  const cpuPerRequestUs: number[] = [];
  for (let i = 0; i < RUNS.throughputRepeats; i++) {
    const cpu0 = processCpuMs(sandbox.child.pid);
    const run = await throughput(64, RUNS.throughputMs, raw);
    const cpu1 = processCpuMs(sandbox.child.pid);
    perSecond.push(run.perSecond);
    if (cpu0 !== undefined && cpu1 !== undefined) cpuPerRequestUs.push(((cpu1 - cpu0) * 1000) / run.calls);
  }
  await agent.close();
  const cpu = cpuPerRequestUs.length ? stats(cpuPerRequestUs) : undefined;
  return {
    rawPerSecond: stats(perSecond),
    cpuPerRequestUs: cpu,
    /** Requests per second the sandbox can serve with one core, from its CPU time per request. */
    capacityPerSecond: cpu ? 1e6 / cpu.median : undefined,
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * A preload for the memory runs: on SIGUSR2 the server runs a full GC and prints its live heap, so
 * that growth of the heap's size (RSS) can be told from growth of what it holds (a leak).
 */
const HEAP_PROBE =
  'data:text/javascript,process.on("SIGUSR2",()=>{globalThis.gc();process.stderr.write("[heap] "+process.memoryUsage().heapUsed+"\\n")})';

async function liveHeapMb(child: {
  pid: number | undefined;
  stderr: NodeJS.ReadableStream | null;
}): Promise<number> {
  return new Promise((resolve) => {
    const onData = (chunk: Buffer) => {
      const bytes = /\[heap\] (\d+)/.exec(chunk.toString())?.[1];
      if (bytes === undefined) return;
      child.stderr!.off('data', onData);
      resolve(Number(bytes) / 2 ** 20);
    };
    child.stderr!.on('data', onData);
    process.kill(child.pid!, 'SIGUSR2');
  });
}

/** RSS of a stdio server 300 ms after it answered initialize (and tools/list, when asked). */
async function rssAfterStart(args: string[], env: NodeJS.ProcessEnv, list: boolean): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'], env });
  const lines: string[] = [
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'bench', version: '1' },
      },
    }),
    ...(list
      ? [
          JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
          JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
        ]
      : []),
  ];
  await new Promise<void>((resolve) => {
    let buffer = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes(list ? '"id":2' : '"id":1')) resolve();
    });
    child.stdin!.write(`${lines.join('\n')}\n`);
  });
  await sleep(300);
  const rss = processRssMb(child.pid) ?? Number.NaN;
  child.kill('SIGKILL');
  return rss;
}

/** RSS after start-up of bare Node, the SDK floor and flops-mcp, 3 processes each, interleaved. */
async function measureStartRss(sandbox: SandboxProcess, sdkFloor: string) {
  const env = serverEnv(sandbox);
  const bareRss: number[] = [];
  const floorRss: number[] = [];
  const startRss: number[] = [];
  for (let i = 0; i < 3; i++) {
    bareRss.push(await rssAfterStart([`${root}bench/bare-server.cjs`], env, false));
    floorRss.push(await rssAfterStart([sdkFloor], env, true));
    startRss.push(await rssAfterStart([cli], env, true));
  }
  return { bareRss, floorRss, startRss };
}

async function measureMemory(sandbox: SandboxProcess, sdkFloor: string) {
  const env = serverEnv(sandbox);
  const { bareRss, floorRss, startRss } = await measureStartRss(sandbox, sdkFloor);
  const calls = RUNS.memoryCalls;
  const steps = calls / RUNS.memoryStep;
  log(
    `memory: ${RUNS.memoryRuns} × (start-up, ${steps} × ${RUNS.memoryStep} calls at concurrency 16, then ${calls} more)`,
  );
  /** curve[k][run]: RSS after (k + 1) × memoryStep calls. */
  const curve: number[][] = Array.from({ length: steps }, () => []);
  const after2: number[] = [];
  const liveStart: number[] = [];
  const liveAfter: number[] = [];
  const liveAfter2: number[] = [];
  for (let i = 0; i < RUNS.memoryRuns; i++) {
    const client = new Client({ name: 'bench', version: '1' });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: ['--expose-gc', '--import', HEAP_PROBE, cli],
      env: env as never,
      stderr: 'pipe',
    });
    await client.connect(transport);
    const child = {
      pid: transport.pid ?? undefined,
      stderr: transport.stderr as NodeJS.ReadableStream | null,
    };
    child.stderr?.resume();
    await client.listTools();
    const burst = async (n: number) => {
      let left = n;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (left-- > 0) {
            const r = await client.callTool({ name: 'vm_get', arguments: { vmId: VM_ID } });
            if (r.isError) throw new Error(JSON.stringify(r));
          }
        }),
      );
    };
    for (let k = 0; k < steps; k++) {
      await burst(RUNS.memoryStep);
      curve[k]!.push(processRssMb(child.pid) ?? Number.NaN);
    }
    // Live heaps after the curve: a full GC changes how the heap grows afterwards.
    liveAfter.push(await liveHeapMb(child));
    await burst(calls);
    await sleep(300);
    after2.push(processRssMb(child.pid) ?? Number.NaN);
    liveAfter2.push(await liveHeapMb(child));
    await client.close();
    // The live heap right after start-up, in a fresh process.
    const fresh = new Client({ name: 'bench', version: '1' });
    const freshTransport = new StdioClientTransport({
      command: process.execPath,
      args: ['--expose-gc', '--import', HEAP_PROBE, cli],
      env: env as never,
      stderr: 'pipe',
    });
    await fresh.connect(freshTransport);
    await fresh.listTools();
    await sleep(300);
    liveStart.push(
      await liveHeapMb({
        pid: freshTransport.pid ?? undefined,
        stderr: freshTransport.stderr as NodeJS.ReadableStream | null,
      }),
    );
    await fresh.close();
  }
  const points = curve.map((rss, k) => ({ calls: (k + 1) * RUNS.memoryStep, rssMb: stats(rss) }));
  const first = points[0]!.rssMb.median;
  const last = points.at(-1)!.rssMb.median;
  const heap = stats(liveAfter).median;
  const heap2 = stats(liveAfter2).median;
  return {
    bareStartMb: stats(bareRss),
    sdkFloorStartMb: stats(floorRss),
    startMb: stats(startRss),
    curve: points,
    /** RSS after 10,000 calls over RSS after the first 1,000, less one. */
    plateauGrowth: last / first - 1,
    growthFromStart: last / stats(startRss).median - 1,
    after2Mb: stats(after2),
    liveHeapStartMb: stats(liveStart),
    liveHeapAfterMb: stats(liveAfter),
    liveHeapAfter2Mb: stats(liveAfter2),
    liveHeapGrowth: heap2 / heap - 1,
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * Tasks (2026-07-28, the Tasks extension) against the waiter, counted at an in-process sandbox
 * behind the real stateless HTTP server (src/http): `tasks` VMs are installed first (at time scale
 * 0, instantly; on an onDemand tariff without public IPs, of which the sandbox has a few hundred),
 * then each renamed twice, every rename taking TASK_OPERATION_MS:
 *
 *   - as tasks: tools/call from a client that declares the extension returns a task at once; each
 *     is then read with tasks/get after its suggested pollIntervalMs, until it is completed;
 *   - with the waiter: tools/call with `wait: true` (the server polls the operation on its
 *     schedule, then reads back what it produced, as a completed task does).
 *
 * Every provider request the sandbox receives in each phase is counted. Before them, one task is
 * read on its own, request by request, for the provider reads of a single tasks/get.
 */
async function measureTasks() {
  const n = RUNS.tasks;
  log(`tasks: ${n} operations of ${TASK_OPERATION_MS / 1000} s as tasks, then with the waiter`);
  const sandbox = await startSandbox({ port: 0, timeScale: 0, vmQuota: n + 50 });
  const flops = new FlopsClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, apiKey: sandbox.apiKey });
  const seal = new TaskSeal(randomBytes(32));
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    stateless: true,
    log: silentLogger,
    hasDefaultCredentials: true,
    maxConnections: 10 * n,
    clientFor: () => flops,
    serverFor: (client, info) =>
      createServer({
        client,
        sandbox: true,
        defaultTenantId: 10081,
        stateless: info.stateless,
        publish: info.publish,
        era: info.era,
        taskSeal: seal,
      }),
    health: () => ({}),
  });
  const agent = new Agent({ connections: 256 });
  let id = 0;
  const rpc = async (method: string, params: Record<string, unknown>, tasks = false) => {
    const meta = envelope(tasks ? { extensions: { [TASKS_EXTENSION]: {} } } : {});
    const answer = await post2026(http.url, agent, { id: ++id, method, params: { ...params, _meta: meta } });
    if (answer['error']) throw new Error(`${method}: ${JSON.stringify(answer['error'])}`);
    return answer['result'] as Record<string, unknown>;
  };
  /** `worker` over `items`, `limit` at a time. */
  const pool = async <T>(items: T[], limit: number, worker: (item: T) => Promise<void>) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: limit }, async () => {
        while (next < items.length) await worker(items[next++]!);
      }),
    );
  };
  try {
    const vms: number[] = [];
    await pool(
      Array.from({ length: n }, (_, i) => i),
      32,
      async (i) => {
        const r = await rpc('tools/call', {
          name: 'vm_install',
          arguments: {
            distribution: 'Debian 7.6 x64',
            tariff: 'Облачный без границ',
            ipCount: 0,
            name: `task-${i}`,
          },
        });
        const data = r['structuredContent'] as { vmId?: number } | undefined;
        if (r['isError'] || data?.vmId === undefined)
          throw new Error(`vm_install: ${JSON.stringify(r).slice(0, 300)}`);
        vms.push(data.vmId);
      },
    );
    await sleep(50);
    sandbox.state.timeScale = TASK_OPERATION_MS / RENAME_MS;
    const count = () => sandbox.requests.count();
    const byMethod = () => ({
      operation_get: sandbox.requests.count('operation_get'),
      vm_get: sandbox.requests.count('vm_get'),
    });

    // One task on its own: the provider requests of each tasks/get.
    const single = await rpc(
      'tools/call',
      { name: 'vm_rename', arguments: { vmId: vms[0], name: 'single' } },
      true,
    );
    if (single['resultType'] !== 'task') throw new Error(`no task: ${JSON.stringify(single).slice(0, 300)}`);
    const readsWorking: number[] = [];
    let readsCompleting = 0;
    let readingGets = 0;
    for (let state = single; state['status'] === 'working'; ) {
      await sleep(Number(state['pollIntervalMs'] ?? 250));
      const before = count();
      state = await rpc('tasks/get', { taskId: single['taskId'] }, true);
      const reads = count() - before;
      if (state['status'] === 'working') readsWorking.push(reads);
      else readsCompleting = reads;
      // The operation ended: what it produced is read back on the gets that follow.
      if (state['status'] === 'working' && /reading back/.test(String(state['statusMessage']))) readingGets++;
    }
    const readsCompleted = (() => count())();
    const again = await rpc('tasks/get', { taskId: single['taskId'] }, true);
    const readsAfterCompletion = count() - readsCompleted;
    if (again['status'] !== 'completed') throw new Error('a completed task read again is not completed');

    // Phase 1: every VM renamed as a task, each polled at its suggested interval.
    const phase = async (run: () => Promise<void>) => {
      const total0 = count();
      const methods0 = byMethod();
      const t0 = performance.now();
      await run();
      const methods1 = byMethod();
      return {
        requests: count() - total0,
        operationGets: methods1.operation_get - methods0.operation_get,
        vmGets: methods1.vm_get - methods0.vm_get,
        seconds: (performance.now() - t0) / 1000,
      };
    };
    let gets = 0;
    const asTasks = await phase(() =>
      pool(vms, n, async (vmId) => {
        let state = await rpc(
          'tools/call',
          { name: 'vm_rename', arguments: { vmId, name: `t${vmId}` } },
          true,
        );
        if (state['resultType'] !== 'task')
          throw new Error(`no task: ${JSON.stringify(state).slice(0, 300)}`);
        const taskId = state['taskId'];
        while (state['status'] === 'working') {
          await sleep(Number(state['pollIntervalMs'] ?? 250));
          state = await rpc('tasks/get', { taskId }, true);
          gets++;
        }
        if (state['status'] !== 'completed')
          throw new Error(`task ${String(taskId)}: ${String(state['status'])}`);
      }),
    );
    // Phase 2: the same renames, each waited for by the server.
    const waiter = await phase(() =>
      pool(vms, n, async (vmId) => {
        const r = await rpc('tools/call', {
          name: 'vm_rename',
          arguments: { vmId, name: `w${vmId}`, wait: true },
        });
        if (r['isError'] || (r['structuredContent'] as { status?: string })?.status !== 'DONE')
          throw new Error(`wait: ${JSON.stringify(r).slice(0, 300)}`);
      }),
    );
    return {
      tasks: n,
      operationMs: TASK_OPERATION_MS,
      single: {
        readsPerWorkingGet: readsWorking.length ? stats(readsWorking) : undefined,
        readsCompletingGet: readsCompleting,
        readsCompletedGet: readsAfterCompletion,
        readingGets,
        gets: readsWorking.length + 1,
      },
      asTasks: { ...asTasks, gets },
      waiter,
      ratio: asTasks.requests / waiter.requests,
    };
  } finally {
    await agent.close();
    await http.close();
    await flops.close();
    await sandbox.close();
  }
}

// ---------------------------------------------------------------------------------------------

interface WaitRun {
  seconds: number;
  durationMs: number;
  polls: number;
  /** ms from the operation's end to wait_for_operation's answer. */
  lateMs: number;
  status: string;
}

/**
 * One operation of `seconds` (vm_rename with the sandbox's time scale set for it) followed with
 * wait_for_operation through an MCP client, the server on its default poll schedule.
 */
async function waitOnce(seconds: number): Promise<WaitRun> {
  const sandbox = await startSandbox({ port: 0, timeScale: (seconds * 1000) / RENAME_MS });
  const flops = new FlopsClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, apiKey: sandbox.apiKey });
  const server = createServer({ client: flops });
  const mcp = new Client({ name: 'bench', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(a), mcp.connect(b)]);
  try {
    const vm = await flops.call('vm_get', { vmId: VM_ID });
    const { operationId } = await flops.call('vm_rename', {
      vmId: VM_ID,
      tenantId: vm.tenantId ?? 0,
      name: 'bench',
    });
    const op = sandbox.state.operations.get(operationId)!;
    const polls0 = sandbox.requests.count('operation_get');
    const result = await mcp.callTool({ name: 'wait_for_operation', arguments: { operationId } });
    const returned = Date.now();
    const text = (result.content as { type: string; text: string }[])[0]?.text ?? '{}';
    return {
      seconds,
      durationMs: op.endsAt - op.startedAt,
      polls: sandbox.requests.count('operation_get') - polls0,
      lateMs: returned - op.endsAt,
      status: (JSON.parse(text) as { status?: string }).status ?? 'unknown',
    };
  } finally {
    await mcp.close();
    await server.close();
    await flops.close();
    await sandbox.close();
  }
}

async function measureWaiting() {
  log(`waiting: ${WAIT_SECONDS.join(', ')} s operations, ${RUNS.waitRepeats} of each, all at once`);
  const runs = await Promise.all(
    WAIT_SECONDS.flatMap((seconds) => Array.from({ length: RUNS.waitRepeats }, () => waitOnce(seconds))),
  );
  return WAIT_SECONDS.map((seconds) => {
    const these = runs.filter((r) => r.seconds === seconds);
    const allowedLateMs = Math.max(300, 0.1 * seconds * 1000);
    return {
      seconds,
      durationMs: these[0]!.durationMs,
      statuses: [...new Set(these.map((r) => r.status))],
      polls: stats(these.map((r) => r.polls)),
      lateMs: stats(these.map((r) => r.lateMs)),
      allowedLateMs,
    };
  });
}

// ---------------------------------------------------------------------------------------------

type Verdict = { target: string; figure: string; met: boolean; by?: string };

const pct = (value: number, limit: number) => `${fmt(((value - limit) / limit) * 100, 0)} %`;

function verdicts(r: Report): Verdict[] {
  const out: Verdict[] = [];
  const missBy = (value: number, limit: number, unit = '') =>
    `${fmt(value - limit, unit === '' || unit === '×' ? 2 : 1)}${unit === '×' ? ' ×' : unit} over (${pct(value, limit)})`;
  for (const opening of ['initialize', 'discover'] as const) {
    const f = r.firstAnswer[opening];
    const method = opening === 'initialize' ? 'initialize' : 'server/discover';
    out.push({
      target: `1. First answer to ${method} ≤ ${TARGETS.firstAnswerVsBare} × a bare Node process`,
      figure: `${fmt(f.ratioBare, 2)} × (${fmt(f.flopsMs.median)} ms vs ${fmt(f.bareMs.median)} ms; round by round ${fmt(f.ratioBarePaired, 2)} ×)`,
      met: f.ratioBare <= TARGETS.firstAnswerVsBare,
      by: missBy(f.ratioBare, TARGETS.firstAnswerVsBare, '×'),
    });
    const doFigure = f.digitalOceanMs
      ? `${fmt(f.ratioDigitalOcean, 2)} × (${fmt(f.flopsMs.median)} ms vs ${fmt(f.digitalOceanMs.median)} ms${f.ratioDigitalOceanPaired === undefined ? '' : `; round by round ${fmt(f.ratioDigitalOceanPaired, 2)} ×`}${f.digitalOceanError ? `; DigitalOcean answers with error ${f.digitalOceanError.code} "${f.digitalOceanError.message}"` : ''})`
      : `not measured: ${r.digitalOcean.error ?? 'unknown'}`;
    out.push({
      target: `1. First answer to ${method} ≤ ${TARGETS.firstAnswerVsDigitalOcean} × DigitalOcean's MCP server`,
      figure: doFigure,
      met: f.ratioDigitalOcean !== undefined && f.ratioDigitalOcean <= TARGETS.firstAnswerVsDigitalOcean,
      by:
        f.ratioDigitalOcean === undefined
          ? 'not measured'
          : missBy(f.ratioDigitalOcean, TARGETS.firstAnswerVsDigitalOcean, '×'),
    });
  }
  const tl = r.toolsList;
  out.push({
    target: `2. tools/list without output schemas ≤ ${TARGETS.toolsListBytesPerTool} B a tool`,
    figure: `${fmt(tl.bytesPerToolWithoutOutput, 0)} B a tool (${tl.bytesWithoutOutput} B for ${tl.tools} tools; with output schemas ${fmt(tl.bytesPerTool, 0)} B a tool)${tl.digitalOcean ? `; DigitalOcean ${fmt(tl.digitalOcean.bytesPerTool, 0)} B a tool (${tl.digitalOcean.tools} tools)` : ''}`,
    met: tl.bytesPerToolWithoutOutput <= TARGETS.toolsListBytesPerTool,
    by: `${fmt(tl.bytesPerToolWithoutOutput - TARGETS.toolsListBytesPerTool, 0)} B a tool over (${pct(tl.bytesPerToolWithoutOutput, TARGETS.toolsListBytesPerTool)})`,
  });
  const pc = r.perCall;
  out.push({
    target: `MCP overhead per call (in-memory, p50) ≤ ${TARGETS.overheadMs} ms`,
    figure: `${fmt(pc.overheadInMemoryP50, 3)} ms`,
    met: pc.overheadInMemoryP50 <= TARGETS.overheadMs,
    by: missBy(pc.overheadInMemoryP50, TARGETS.overheadMs, ' ms'),
  });
  // The target is measured with the SDK's clients; the plain client's row is shown beside it, and
  // beside each the floor: a bare relay in flops-mcp's place, with the same client.
  const plain = ours(r).find((row) => row.connection === 'HTTP stateless, plain client');
  for (const t of ours(r).filter((row) => row.concurrency === 64 && row !== plain)) {
    const floor = floorOf(r, t);
    const plainFloor = plain && floorOf(r, plain);
    const beside = [
      floor && `the floor, a bare relay with the same client: ${fmt(floor.ratio, 2)} ×`,
      clientBound(r, t),
      t.connection === 'HTTP stateless' &&
        plain &&
        `with a plain undici client instead of the SDK's: ${fmt(plain.ratio, 2)} ×${plainFloor ? `, the floor ${fmt(plainFloor.ratio, 2)} ×` : ''}`,
    ].filter(Boolean);
    out.push({
      target: `3. Throughput, ${t.connection}, concurrency 64 ≥ ${TARGETS.throughputRatio} × raw undici`,
      figure: `${fmt(t.ratio, 2)} × (${fmt(t.mcpPerSecond.median, 0)} vs ${fmt(t.rawPerSecond.median, 0)} calls/s${beside.map((b) => `; ${b}`).join('')})`,
      met: t.ratio >= TARGETS.throughputRatio,
      by: `${fmt(TARGETS.throughputRatio - t.ratio, 2)} short (${pct(t.ratio, TARGETS.throughputRatio)})`,
    });
  }
  const m = r.memory;
  out.push({
    target: `4. RSS after start-up ≤ ${TARGETS.rssStartMb} MB`,
    figure: `${fmt(m.startMb.median)} MB (the SDK floor ${fmt(m.sdkFloorStartMb.median)} MB, bare Node ${fmt(m.bareStartMb.median)} MB)`,
    met: m.startMb.median <= TARGETS.rssStartMb,
    by: missBy(m.startMb.median, TARGETS.rssStartMb, ' MB'),
  });
  const first = m.curve[0]!;
  const last = m.curve.at(-1)!;
  out.push({
    target: `4. RSS after ${last.calls.toLocaleString('en')} calls within +${TARGETS.rssPlateau * 100} % of its level after ${first.calls.toLocaleString('en')}`,
    figure: `${fmt(last.rssMb.median)} MB vs ${fmt(first.rssMb.median)} MB (${m.plateauGrowth >= 0 ? '+' : ''}${fmt(m.plateauGrowth * 100)} %)`,
    met: m.plateauGrowth <= TARGETS.rssPlateau,
    by: `${fmt((m.plateauGrowth - TARGETS.rssPlateau) * 100)} points over`,
  });
  out.push({
    target: `4. Live heap after a full GC flat from ${last.calls.toLocaleString('en')} to ${(2 * last.calls).toLocaleString('en')} calls (≤ +${TARGETS.liveHeapGrowth * 100} % or 1 MB)`,
    figure: `${fmt(m.liveHeapAfterMb.median, 2)} → ${fmt(m.liveHeapAfter2Mb.median, 2)} MB (${m.liveHeapGrowth >= 0 ? '+' : ''}${fmt(m.liveHeapGrowth * 100)} %; ${fmt(m.liveHeapStartMb.median, 2)} MB after start-up)`,
    met:
      m.liveHeapGrowth <= TARGETS.liveHeapGrowth || m.liveHeapAfter2Mb.median - m.liveHeapAfterMb.median <= 1,
    by: `${fmt((m.liveHeapGrowth - TARGETS.liveHeapGrowth) * 100)} points over`,
  });
  const tk = r.tasks;
  const working = tk.single.readsPerWorkingGet?.max ?? 0;
  const maxReads = Math.max(working, tk.single.readsCompletingGet, tk.single.readsCompletedGet);
  out.push({
    target: `5. One tasks/get ≤ ${TARGETS.readsPerTaskGet} provider read`,
    figure: `while working ${working}; the get that completes it ${tk.single.readsCompletingGet}, and again later ${tk.single.readsCompletedGet} (the operation while it runs, then what it produced, one read a get: ${tk.single.readingGets ?? 0} get more than the operation takes, for the same result as wait: true)`,
    met: maxReads <= TARGETS.readsPerTaskGet,
    by: `${maxReads - TARGETS.readsPerTaskGet} read over`,
  });
  out.push({
    target: `5. ${tk.tasks.toLocaleString('en')} tasks polled at their suggested interval cost ≤ the waiter's provider requests`,
    figure: `${tk.asTasks.requests} vs ${tk.waiter.requests} requests (${fmt(tk.ratio, 2)} ×; operation reads ${tk.asTasks.operationGets} vs ${tk.waiter.operationGets})`,
    met: tk.asTasks.requests <= tk.waiter.requests,
    by: `${tk.asTasks.requests - tk.waiter.requests} requests over (${pct(tk.asTasks.requests, tk.waiter.requests)})`,
  });
  const w30 = r.waiting.find((w) => w.seconds === 30)!;
  out.push({
    target: `30 s operation waited for with ≤ ${TARGETS.waitPolls30s} polls`,
    figure: `${w30.polls.max} polls (max of ${w30.polls.n})`,
    met: w30.polls.max <= TARGETS.waitPolls30s,
    by: `${w30.polls.max - TARGETS.waitPolls30s} polls over`,
  });
  for (const w of r.waiting) {
    out.push({
      target: `${w.seconds} s operation: answer ≤ ${w.allowedLateMs} ms after its end`,
      figure: `${fmt(w.lateMs.max, 0)} ms (max of ${w.lateMs.n}; median ${fmt(w.lateMs.median, 0)} ms)`,
      met: w.lateMs.max <= w.allowedLateMs,
      by: `${fmt(w.lateMs.max - w.allowedLateMs, 0)} ms over`,
    });
  }
  const sb = r.sandbox;
  const best = Math.max(...ours(r).map((t) => t.mcpPerSecond.median));
  // The MCP runs are bound by the server, not by the sandbox: the sandbox never had a core's work
  // in them (raw undici, by design, keeps it busy: that rate is its capacity).
  const sandboxBusiest = Math.max(...ours(r).map((t) => t.sandboxBusyMcp ?? 0));
  const serverBusiest = Math.max(...ours(r).map((t) => t.serverBusyMcp ?? 0));
  out.push({
    target: `The sandbox is not the bottleneck (busy ≤ ${TARGETS.sandboxBusyMcp} of a core in every MCP run)`,
    figure: `at most ${fmt(sandboxBusiest, 2)} of a core (the server up to ${fmt(serverBusiest, 2)}); one core of it serves ${fmt(sb.capacityPerSecond, 0)} req/s, the fastest MCP run ${fmt(best, 0)} calls/s`,
    met: sandboxBusiest <= TARGETS.sandboxBusyMcp,
    by: `busy ${fmt(sandboxBusiest, 2)} of a core`,
  });
  return out;
}

interface Report {
  date: string;
  machine: {
    cpu: string;
    cores: number;
    memoryGb: number;
    node: string;
    platform: string;
    loadavg: number[];
  };
  quick: boolean;
  runs: typeof RUNS;
  targets: typeof TARGETS;
  digitalOcean: Omit<DigitalOcean, 'dir' | 'entry'>;
  firstAnswer: {
    initialize: Omit<Awaited<ReturnType<typeof measureFirstAnswer>>['initialize'], 'toolsListJson'>;
    discover: Omit<Awaited<ReturnType<typeof measureFirstAnswer>>['discover'], 'toolsListJson'>;
  };
  toolsList: Awaited<ReturnType<typeof measureToolsList>>;
  perCall: Awaited<ReturnType<typeof measurePerCall>>;
  throughput: Awaited<ReturnType<typeof measureThroughput>>;
  sandbox: Awaited<ReturnType<typeof measureSandbox>>;
  memory: Awaited<ReturnType<typeof measureMemory>>;
  tasks: Awaited<ReturnType<typeof measureTasks>>;
  waiting: Awaited<ReturnType<typeof measureWaiting>>;
  verdicts?: Verdict[];
  seconds?: number;
}

const range = (s: Stats | undefined, digits = 1) =>
  s ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : '–';

function markdown(r: Report): string {
  const lines: string[] = [];
  const v = r.verdicts ?? [];
  const met = v.filter((t) => t.met).length;
  lines.push(
    '# flops-mcp benchmark',
    '',
    `${r.date} · ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGb} GB · Node ${r.machine.node} (${r.machine.platform}) · load average at start ${r.machine.loadavg.map((l) => l.toFixed(2)).join(' ')}${r.quick ? ' · QUICK RUN (fewer repetitions)' : ''}`,
    '',
    `Generated by \`npm run bench\` (bench/run.ts) in ${fmt(r.seconds, 0)} s. Figures are the median of repeated runs with (min–max); every comparison was measured side by side in the same run, against the sandbox in its own process (\`flops-mcp sandbox\`). The machine is shared: its load moves the absolute figures, the ratios less so.`,
    '',
    `## Targets: ${met} of ${v.length} met`,
    '',
    '| target | figure | |',
    '|---|---|---|',
    ...v.map((t) => `| ${t.target} | ${t.figure} | ${t.met ? 'met' : `**missed**: ${t.by ?? ''}`} |`),
    '',
  );
  const fa = r.firstAnswer;
  const d = r.digitalOcean;
  lines.push(
    '## 1. First answer',
    '',
    `Spawn of a stdio server until its answer to the opening message arrives, ${fa.initialize.flopsMs.n} runs of each, interleaved (a new random order each round, each process gone before the next starts; NODE_EXTRA_CA_CERTS, which this machine sets and which makes every Node process load a CA bundle as it starts, is left out of their environment): a bare Node process answering with readline (bench/bare-server.cjs), the SDK floor (an empty server on the same SDK, \`@modelcontextprotocol/server\` with serveStdio, bundled the same way: bench/sdk-server.ts), flops-mcp (\`node dist/cli.cjs\`, pointed at the sandbox) and ${d.version ? `DigitalOcean's MCP server (${d.version}, installed by this run with npm into a scratch folder, run as \`node <its bin> --services droplets\` with a placeholder token: a Node launcher that starts its Go binary)` : `DigitalOcean's MCP server: **not measured**, ${d.error ?? ''}`}. flops-mcp's entry (dist/cli.cjs, one file: src/cli.ts, CommonJS as the bare process is: Node 20 runs it without setting up its ES module loader first) answers from build-time data before it loads the SDK, zod or the client; \`tools/list\` is answered once the server is ready.`,
    '',
    '| ms | initialize | server/discover |',
    '|---|---|---|',
    `| bare Node | ${range(fa.initialize.bareMs)} | ${range(fa.discover.bareMs)} |`,
    `| SDK floor | ${range(fa.initialize.sdkFloorMs)} | ${range(fa.discover.sdkFloorMs)} |`,
    `| DigitalOcean | ${range(fa.initialize.digitalOceanMs)} | ${range(fa.discover.digitalOceanMs)}${fa.discover.digitalOceanError ? ` (error ${fa.discover.digitalOceanError.code}: ${fa.discover.digitalOceanError.message})` : ''} |`,
    `| **flops-mcp** | ${range(fa.initialize.flopsMs)} | ${range(fa.discover.flopsMs)} |`,
    `| flops-mcp, then tools/list | ${range(fa.initialize.toolsListMs)} | ${range(fa.discover.toolsListMs)} |`,
    `| flops-mcp / bare Node | ${fmt(fa.initialize.ratioBare, 2)} × (round by round ${fmt(fa.initialize.ratioBarePaired, 2)} ×) | ${fmt(fa.discover.ratioBare, 2)} × (round by round ${fmt(fa.discover.ratioBarePaired, 2)} ×) |`,
    `| flops-mcp / DigitalOcean | ${fmt(fa.initialize.ratioDigitalOcean, 2)} × (round by round ${fmt(fa.initialize.ratioDigitalOceanPaired, 2)} ×) | ${fmt(fa.discover.ratioDigitalOcean, 2)} × (round by round ${fmt(fa.discover.ratioDigitalOceanPaired, 2)} ×) |`,
    `| SDK floor / bare Node | ${fmt(fa.initialize.ratioSdkFloor, 2)} × | ${fmt(fa.discover.ratioSdkFloor, 2)} × |`,
    '',
  );
  const tl = r.toolsList;
  lines.push(
    '## 2. Tool list size',
    '',
    `The \`tools/list\` result as sent on stdio: **${tl.bytesWithoutOutput} bytes without output schemas, ${fmt(tl.bytesPerToolWithoutOutput, 0)} B a tool** (${tl.tools} tools); with them ${tl.bytes} bytes (≈ ${tl.tokens} tokens, bytes / 4), ${fmt(tl.bytesPerTool, 0)} B a tool. ${tl.digitalOcean ? `DigitalOcean's server (\`--services droplets\`) sends ${tl.digitalOcean.bytes} bytes for ${tl.digitalOcean.tools} tools, ${fmt(tl.digitalOcean.bytesPerTool, 0)} B a tool, measured the same way in this run.` : `DigitalOcean's list was not measured: ${d.error ?? ''}`} Without output schemas and with every tool and field description emptied the list would still be ${tl.withoutDescriptionsBytes} bytes (${fmt(tl.withoutDescriptionsBytes / tl.tools, 0)} B a tool: names, titles, the four annotations, strict object schemas, types and bounds), and ${tl.withoutDescriptionsOrBoundsBytes} bytes (${fmt(tl.withoutDescriptionsOrBoundsBytes / tl.tools, 0)} B a tool) without the bounds too.`,
    '',
    '| toolset (`--toolsets`) | tools | bytes | B a tool | with output schemas | ≈ tokens |',
    '|---|---|---|---|---|---|',
    `| all | ${tl.tools} | ${tl.bytesWithoutOutput} | ${fmt(tl.bytesPerToolWithoutOutput, 0)} | ${tl.bytes} | ${tl.tokens} |`,
    ...tl.toolsets.map(
      (t) =>
        `| ${t.toolset} | ${t.tools} | ${t.bytesWithoutOutput} | ${fmt(t.bytesWithoutOutput / t.tools, 0)} | ${t.bytes} | ${t.tokens} |`,
    ),
    '',
    'A toolset with asynchronous tools also lists wait_for_operation. Tokens are counted with the output schemas.',
    '',
  );
  const pc = r.perCall;
  lines.push(
    '## Per-call overhead (vm_get)',
    '',
    `${RUNS.callRounds} rounds × ${RUNS.callsPerRound} sequential calls per mode, the modes taking turns. p50 of each round: median (min–max).`,
    '',
    '| mode | p50 ms | p99 ms | p50 of rounds |',
    '|---|---|---|---|',
    ...pc.modes.map(
      (m) => `| ${m.mode} | ${fmt(m.ms.p50, 3)} | ${fmt(m.ms.p99, 3)} | ${range(m.p50OfRounds, 3)} |`,
    ),
    '',
    `MCP overhead over the client: in-memory **${fmt(pc.overheadInMemoryP50, 3)} ms** at p50 (${fmt(pc.overheadInMemoryP99, 3)} ms at p99), ratio ${fmt(pc.ratioInMemory, 2)} ×; stdio ${fmt(pc.overheadStdioP50, 3)} ms at p50 (${fmt(pc.overheadStdioP99, 3)} ms at p99), ratio ${fmt(pc.ratioStdio, 2)} ×. The client over raw undici: ${fmt(pc.ratioClientToRaw, 2)} ×.`,
    '',
  );
  lines.push(
    '## 3. Throughput',
    '',
    `vm_get calls per second against raw undici requests to the same sandbox at the same concurrency, the two taking turns; ${RUNS.throughputRepeats} runs of ${RUNS.throughputMs} ms each, after ${RUNS.throughputWarmupMs / 1000} s of calls at concurrency 64 through each new connection (a fresh process's rate climbs for its first seconds while V8 compiles its hot paths; raw undici is warmed the same way once). stdio 2025: the SDK's 1.x client over \`node dist/cli.cjs\`; stdio 2026-07-28: the SDK's v2 client in auto mode (server/discover, then every request with its envelope); HTTP stateless: \`flops-mcp --http --stateless\` and the 1.x client over Streamable HTTP; HTTP stateless, plain client: the same server and the same POSTs (headers and JSON-RPC body of a call) sent with undici, the answer read and checked, which measures the server without the SDK client's own cost on the shared cores (the target is judged on the SDK client's row). Server "bare relay": the floor, bench/bare-relay.mjs in flops-mcp's place with the same client, a Node process with no MCP library that parses each call, sends it to the sandbox as one undici request and writes the VM back as the result, with no validation and no tool layer: what a Node server that does nothing but relay the call gets on this machine with these clients. "busy" is CPU time per wall time (1.0 = one core).`,
    '',
    '| connection | server | concurrency | raw undici req/s | MCP calls/s | ratio | server busy | server µs a call | client busy (raw / MCP) | sandbox busy (raw / MCP) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.throughput.map(
      (t) =>
        `| ${t.connection} | ${t.program ?? 'flops-mcp'} | ${t.concurrency} | ${range(t.rawPerSecond, 0)} | ${range(t.mcpPerSecond, 0)} | ${fmt(t.ratio, 2)} | ${fmt(t.serverBusyMcp, 2)} | ${fmt(t.serverCpuPerCallUs, 0)} | ${fmt(t.clientBusyRaw, 2)} / ${fmt(t.clientBusyMcp, 2)} | ${fmt(t.sandboxBusyRaw, 2)} / ${fmt(t.sandboxBusyMcp, 2)} |`,
    ),
    '',
    '### The sandbox is not the bottleneck',
    '',
    `Raw undici at concurrency 64: ${range(r.sandbox.rawPerSecond, 0)} req/s; the sandbox spends ${range(r.sandbox.cpuPerRequestUs, 0)} µs of CPU per vm_get, so one core serves about **${fmt(r.sandbox.capacityPerSecond, 0)} req/s**, against at most ${fmt(Math.max(...ours(r).map((t) => t.mcpPerSecond.median)), 0)} flops-mcp calls/s above. Raw undici at concurrency 16 and 64 keeps the sandbox busy: that rate is the sandbox's capacity on this machine, shared by ${r.machine.cores} cores with the client and the server.`,
    '',
  );
  const m = r.memory;
  lines.push(
    '## 4. Memory',
    '',
    `RSS of the stdio server after start-up (initialize and tools/list answered, 300 ms later; 3 processes each), then in ${RUNS.memoryRuns} processes every ${RUNS.memoryStep.toLocaleString('en')} vm_get calls at concurrency 16 up to ${RUNS.memoryCalls.toLocaleString('en')}, and after as many again; the live heap is heapUsed right after a full GC (a SIGUSR2 probe preloaded with --expose-gc), taken after the curve, at the end, and in a fresh process after start-up. flops-mcp's bin loads with V8's interpreter alone and a young generation that does not grow, and turns Sparkplug, TurboFan and the growth back on once it serves, with the old generation let grow to 1.5 × what the last full GC left instead of up to 4 × (src/cli.ts: start-up code runs once; compiling it and sizing the heap for it left about 10 MB that an idle server kept); the SDK floor, an empty server on the same SDK, is measured as V8 starts it.`,
    '',
    '| RSS after start-up | MB |',
    '|---|---|',
    `| bare Node (baseline) | ${range(m.bareStartMb)} |`,
    `| SDK floor | ${range(m.sdkFloorStartMb)} |`,
    `| **flops-mcp** | ${range(m.startMb)} |`,
    '',
    '| calls | RSS MB | |',
    '|---|---|---|',
    ...m.curve.map(
      (p) =>
        `| ${p.calls.toLocaleString('en')} | ${range(p.rssMb)} | ${'█'.repeat(Math.round(p.rssMb.median / 5))} |`,
    ),
    `| ${(2 * RUNS.memoryCalls).toLocaleString('en')} | ${range(m.after2Mb)} | ${'█'.repeat(Math.round(m.after2Mb.median / 5))} |`,
    '',
    `From ${m.curve[0]!.calls.toLocaleString('en')} to ${m.curve.at(-1)!.calls.toLocaleString('en')} calls: ${m.plateauGrowth >= 0 ? '+' : ''}${fmt(m.plateauGrowth * 100)} % (from start-up: ${m.growthFromStart >= 0 ? '+' : ''}${fmt(m.growthFromStart * 100)} %).`,
    '',
    '| live heap after a full GC | MB |',
    '|---|---|',
    `| after start-up | ${range(m.liveHeapStartMb, 2)} |`,
    `| after ${RUNS.memoryCalls.toLocaleString('en')} calls | ${range(m.liveHeapAfterMb, 2)} |`,
    `| after ${(2 * RUNS.memoryCalls).toLocaleString('en')} calls | ${range(m.liveHeapAfter2Mb, 2)} |`,
    '',
  );
  const tk = r.tasks;
  lines.push(
    '## 5. Tasks',
    '',
    `${tk.tasks.toLocaleString('en')} VMs of an in-process sandbox behind the real stateless HTTP server, each renamed (an operation of ${tk.operationMs / 1000} s) twice: as a task read with tasks/get after each suggested pollIntervalMs until completed, then with \`wait: true\` (the server's waiter). Every provider request the sandbox received in each phase is counted, the renames and the tenant look-ups included (the same in both). A tasks/get reads the operation while it runs; the get that finds it ended answers \`working\` ("reading back what it produced", poll again in 10 ms), and each get after it takes one read of what the operation produced (the VM; a new snapshot is one get more), so that the result is the same as \`wait: true\`'s at one provider read a get; a later get is answered from the process's bounded memory of finished tasks (another replica, or a task pushed out of it, starts again from the operation).`,
    '',
    '| | provider requests | operation reads | VM reads | tasks/get | seconds |',
    '|---|---|---|---|---|---|',
    `| as tasks | ${tk.asTasks.requests} | ${tk.asTasks.operationGets} | ${tk.asTasks.vmGets} | ${tk.asTasks.gets} | ${fmt(tk.asTasks.seconds)} |`,
    `| the waiter (wait: true) | ${tk.waiter.requests} | ${tk.waiter.operationGets} | ${tk.waiter.vmGets} | – | ${fmt(tk.waiter.seconds)} |`,
    '',
    `One task read on its own, request by request: ${tk.single.gets} tasks/get; provider reads of each while it works ${range(tk.single.readsPerWorkingGet, 0)} (${tk.single.readingGets ?? 0} of them after the operation ended, reading back what it produced), of the get that completes it ${tk.single.readsCompletingGet}, of a get after that ${tk.single.readsCompletedGet}.`,
    '',
  );
  lines.push(
    '## Waiting',
    '',
    `wait_for_operation on its default schedule (250 ms ×1.5 up to 5 s, plus a poll at the end predicted from the observed progress) for a vm_rename whose duration is set with the sandbox's time scale; ${RUNS.waitRepeats} of each, all running at once (each with its own sandbox and server).`,
    '',
    '| operation | polls | answered after its end, ms | allowed |',
    '|---|---|---|---|',
    ...r.waiting.map(
      (w) =>
        `| ${w.seconds} s (${w.statuses.join(', ')}) | ${range(w.polls, 0)} | ${range(w.lateMs, 0)} | ${w.allowedLateMs} |`,
    ),
    '',
  );
  lines.push('## Notes: why the missed targets are missed', '', ...notes(r), '');
  return `${lines.join('\n')}\n`;
}

/** The plain client's HTTP stateless row, with the SDK client's busy figure and bound (clientBound) on the same server. */
function plainOf(r: Report) {
  const plain = ours(r).find((t) => t.connection === 'HTTP stateless, plain client');
  const sdk = ours(r).find((t) => t.connection === 'HTTP stateless');
  const bound = sdk && sdk.concurrency === 64 ? clientBound(r, sdk) : undefined;
  return plain && { ...plain, sdkClientBusy: sdk?.clientBusyMcp, sdkBound: bound };
}

type ThroughputRow = Report['throughput'][number];

/**
 * Where a row misses because of its client: the client's own CPU a call times the target's rate is
 * more than the machine has, so no server could meet the target with that client here.
 */
function clientBound(r: Report, t: ThroughputRow): string | undefined {
  const clientUs = (1e6 * t.clientBusyMcp) / t.mcpPerSecond.median;
  const rate = TARGETS.throughputRatio * t.rawPerSecond.median;
  const cores = (clientUs * rate) / 1e6;
  if (t.ratio >= TARGETS.throughputRatio || cores < r.machine.cores) return undefined;
  return `the client alone spends ${fmt(clientUs, 0)} µs of CPU a call: ${fmt(rate, 0)} calls/s would take ${fmt(cores, 1)} cores of client CPU on this ${r.machine.cores}-core machine`;
}

/** The floors of the rows at concurrency 64, and how much of each flops-mcp reaches. */
function floors(r: Report): string {
  const pairs = ours(r)
    .filter((t) => t.concurrency === 64)
    .flatMap((t) => {
      const floor = floorOf(r, t);
      return floor ? [{ t, floor }] : [];
    });
  if (pairs.length === 0) return '';
  return ` The floor, a bare relay with no MCP library in flops-mcp's place and the same client (bench/bare-relay.mjs), bounds every row: ${pairs
    .map(
      ({ t, floor }) =>
        `${t.connection} ${fmt(floor.ratio, 2)} × (${fmt(floor.serverCpuPerCallUs, 0)} µs of CPU a call), of which flops-mcp reaches ${fmt((100 * t.mcpPerSecond.median) / floor.mcpPerSecond.median, 0)} %`,
    )
    .join(
      '; ',
    )}. Where the floor itself is below ${TARGETS.throughputRatio} ×, the target is out of reach with that client on this machine: the client, the sandbox and a server that only relays the call already share its ${r.machine.cores} cores.`;
}

/** flops-mcp's throughput rows (a report from before the floor was measured has no `program`). */
const ours = (r: Report) => r.throughput.filter((t) => (t.program ?? 'flops-mcp') === 'flops-mcp');

/** The floor of a row: the bare relay measured with the same connection and concurrency. */
const floorOf = (r: Report, row: ThroughputRow) =>
  r.throughput.find(
    (t) => t.program === 'bare relay' && t.connection === row.connection && t.concurrency === row.concurrency,
  );

/** Why each missed target is missed, with this run's figures (the causes were found by profiling). */
function notes(r: Report): string[] {
  const missed = (prefix: string) => (r.verdicts ?? []).some((v) => !v.met && v.target.startsWith(prefix));
  const out: string[] = [];
  const fa = r.firstAnswer;
  if (missed('1.')) {
    const doDiscover = fa.discover.digitalOceanError
      ? ` DigitalOcean's server has no server/discover: what is timed for it there is its error answer (${fa.discover.digitalOceanError.code}), after which a 2026 client has to start over with initialize.`
      : '';
    out.push(
      `- **First answer.** The entry, dist/cli.cjs, is one file (${fmt(statSync(cli).size / 1024, 0)} kB: the settings table, the configuration, the tool index and the early answer; scripts/build.mjs refuses to bundle zod, the SDK or undici into it) that reads stdin and answers from build-time data; what it costs beyond a bare Node process is reading and compiling that file and parsing the configuration: ${fmt(fa.initialize.flopsMs.median - fa.initialize.bareMs.median)} ms for initialize and ${fmt(fa.discover.flopsMs.median - fa.discover.bareMs.median)} ms for server/discover in this run, where one Node start-up takes ${fmt(fa.initialize.bareMs.median)} ms (${fmt(fa.initialize.bareMs.min)}–${fmt(fa.initialize.bareMs.max)} ms) on a machine shared with other work: that spread is far larger than the differences between the contenders. DigitalOcean's server is a Node launcher that spawns a Go binary: one Node start-up plus a Go process (${fmt(fa.initialize.digitalOceanMs?.median)} ms for initialize here).${doDiscover}`,
    );
  }
  const tl = r.toolsList;
  if (missed('2.')) {
    out.push(
      `- **tools/list size.** Without output schemas and with every description emptied the list still weighs ${fmt(tl.withoutDescriptionsBytes / tl.tools, 0)} B a tool, and ${fmt(tl.withoutDescriptionsOrBoundsBytes / tl.tools, 0)} B a tool without the bounds as well: the ${tl.tools} names and titles, the four annotations of every tool (${Buffer.byteLength('"annotations":{"readOnlyHint":false,"destructiveHint":false,"idempotentHint":false,"openWorldHint":true}')} B each), \`additionalProperties: false\` and ${fmt(tl.tools && 144 / tl.tools, 1)} typed properties a tool (the optional tenantId of 28 tools, dryRun of every write tool, wait of every asynchronous one). That leaves ${fmt(TARGETS.toolsListBytesPerTool - tl.withoutDescriptionsOrBoundsBytes / tl.tools, 0)} B a tool for the tool's description and all its field descriptions together, against ${fmt((tl.bytesWithoutOutput - tl.withoutDescriptionsBytes) / tl.tools, 0)} B now: ${TARGETS.toolsListBytesPerTool} B would take descriptions cut to the bone or fields, annotations or titles dropped, which the issue keeps. DigitalOcean's tools have ${tl.digitalOcean ? `${fmt(tl.digitalOcean.bytesPerTool, 0)} B on average, ` : ''}no titles, one or two fields and one-line descriptions. This round took the ids' \`minimum: 1\`, \`minLength: 1\` and the long descriptions of the shared fields (wait, dryRun, safetySnapshot) out (the instructions say what they do): 761 → ${fmt(tl.bytesPerToolWithoutOutput, 0)} B a tool.`,
    );
  }
  const t64 = ours(r).filter((t) => t.concurrency === 64 && t.ratio < TARGETS.throughputRatio);
  if (t64.length) {
    out.push(
      `- **Throughput.** ${t64.map((t) => `${t.connection}: ${fmt(t.ratio, 2)} ×, the server busy ${fmt(t.serverBusyMcp, 2)} of a core, ${fmt(t.serverCpuPerCallUs, 0)} µs of CPU a call`).join('; ')}; the sandbox spends ${fmt(r.sandbox.cpuPerRequestUs?.median, 0)} µs a request, and raw undici is bound by it. On this 2-core machine the server, the benchmark's own MCP client and the sandbox share two cores with other work (busy ${t64.map((t) => `${fmt(t.serverBusyMcp, 2)} + ${fmt(t.clientBusyMcp, 2)} + ${fmt(t.sandboxBusyMcp, 2)} = ${fmt((t.serverBusyMcp ?? 0) + t.clientBusyMcp + (t.sandboxBusyMcp ?? 0), 2)}`).join('; ')} of the 2 cores), and each call crosses all three (the client's pipe or socket, the server, the sandbox's socket), waiting for a core at each hand-off: the MCP rate falls with the CPU a call of each of them, most of all the server's, which is the largest: the SDK's per-message work (parsing and validating the JSON-RPC message with zod, the 2026 envelope, the result), the tool's argument validation, the undici request, and the result written twice (text and structuredContent, as the tools' contract says). A CPU profile of the stdio server on a 2026-07-28 connection at concurrency 64 shows the tool layer and the API client (src/) ≈ 15 %, the SDK's protocol code ≈ 14 % and zod ≈ 6 % (the 2026 envelope, the request validated twice and the result once, the tools' arguments), undici ≈ 10 %, the writes to the client's pipe ≈ 7 % and to the sandbox's socket ≈ 5 % (system calls that wake the other process), garbage collection ≈ 6 %, and the abort signals the SDK and the client made for each call ≈ 5 % (the client's is now an EventEmitter, about a tenth of that cost). The SDK's four JSON-RPC guards, which it runs about ten times a call as zod parses that mostly fail, took ≈ 9 % before the bin had them as plain checks (src/mcp/jsonrpc-guards.ts). Stateless HTTP: a 2025 \`tools/call\` with the server's own credentials goes to one long-lived server through a light transport (src/http/calls.ts; a server and the SDK's web-standard transport per request, as before, cost ≈ 2–3 ms of CPU a call), answered as one JSON body unless the call streams; what remains is Node's HTTP server and its socket writes, the SDK's classification and validation of the message, the tool and its undici request. The row with the SDK's 1.x client is bound by that client (busy ${fmt(plainOf(r)?.sdkClientBusy, 2)} of a core: fetch, web streams and zod for every call, and each fetch leaves an abort listener on the transport's one AbortSignal until garbage collection, hence Node's MaxListenersExceededWarning during that row${plainOf(r)?.sdkBound ? `; ${plainOf(r)?.sdkBound}, so no server reaches the target with it here` : ''}); the plain client's row (undici posting the same requests) measures the server: ${fmt(plainOf(r)?.ratio, 2)} ×, ${fmt(plainOf(r)?.serverCpuPerCallUs, 0)} µs of CPU a call. CPU profiles of the HTTP server and of the bare relay below, each with the plain client at concurrency 64, put the socket writes (≈ 75 µs a call: the answer to the client, the request to the sandbox) and undici (≈ 54 µs) the same in both; flops-mcp's extra is the SDK's protocol code and zod (≈ 55 µs: the message, the request validated twice, the result), the abort signals the SDK and the API client made for each call (≈ 30 µs; the relay makes none; the API client's has since become an EventEmitter, about a tenth of the cost), garbage collection (≈ 18 µs more) and the tool layer, the API client and the HTTP guards (≈ 45 µs beyond the relay's own JSON parsing and writing).${floors(r)}`,
    );
  }
  const m = r.memory;
  if (missed('4. RSS after start')) {
    out.push(
      `- **RSS after start-up.** An empty server on the same SDK (v2, both eras) takes ${fmt(m.sdkFloorStartMb.median)} MB here and bare Node ${fmt(m.bareStartMb.median)} MB: ${TARGETS.rssStartMb} MB is below the SDK's own floor, and flops-mcp adds ${fmt(m.startMb.median - m.sdkFloorStartMb.median)} MB to it (zod and the operation table, the server, the tool definitions).`,
    );
  }
  if (missed('4. RSS after') && !missed('4. RSS after start')) {
    out.push(
      `- **RSS over calls.** ${m.curve.map((p) => fmt(p.rssMb.median, 0)).join(' → ')} MB every ${RUNS.memoryStep.toLocaleString('en')} calls; the live heap after a full GC ${fmt(m.liveHeapAfterMb.median, 1)} → ${fmt(m.liveHeapAfter2Mb.median, 1)} MB: V8 sizes its young generation to the allocation rate.`,
    );
  }
  if (missed('5.')) {
    out.push(
      `- **Tasks.** A tasks/get took more than one provider read: while working ${range(r.tasks.single.readsPerWorkingGet, 0)}, the get that completes it ${r.tasks.single.readsCompletingGet}, a later one ${r.tasks.single.readsCompletedGet}. Each get should take one read at most: the operation while it runs, then one read of what it produced a get.`,
    );
  }
  if (out.length === 0) out.push('Every target is met.');
  return out;
}

async function main(): Promise<void> {
  if (process.argv.includes('--render')) {
    // The report of the last run written again from its JSON (after a change of the text only).
    // The verdicts' texts are derived from the figures: derived again with the current text.
    const report = JSON.parse(readFileSync(`${root}bench/results/latest.json`, 'utf8')) as Report;
    report.verdicts = verdicts(report);
    writeFileSync(`${root}bench/results/latest.json`, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(`${root}bench/results/latest.md`, markdown(report));
    return;
  }
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  if (only) {
    // One section alone, printed and never recorded: `--only first`, `throughput`, `rss`, `memory` or `tasks`.
    await section(only);
    return;
  }
  const started = performance.now();
  const cpus = os.cpus();
  const report: Partial<Report> = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus[0]?.model.trim() ?? 'unknown',
      cores: cpus.length,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      node: process.versions.node,
      platform: `${os.platform()} ${os.arch()}`,
      loadavg: os.loadavg(),
    },
    quick,
    runs: RUNS,
    targets: TARGETS,
  };
  const floorDir = mkdtempSync(join(os.tmpdir(), 'flops-bench-'));
  const sdkFloor = sdkFloorIn(floorDir);
  const digitalOcean = installDigitalOcean();
  const sandbox = await startSandboxProcess();
  try {
    const first = await measureFirstAnswer(sandbox, sdkFloor, digitalOcean);
    const { toolsListJson: sent, ...initialize } = first.initialize;
    const { toolsListJson: _, ...discover } = first.discover;
    report.firstAnswer = { initialize, discover };
    report.toolsList = await measureToolsList(sandbox, sent, digitalOcean);
    report.perCall = await measurePerCall(sandbox);
    report.throughput = await measureThroughput(sandbox);
    report.sandbox = await measureSandbox(sandbox);
    report.memory = await measureMemory(sandbox, sdkFloor);
  } finally {
    await sandbox.stop();
    rmSync(floorDir, { recursive: true, force: true });
    rmSync(digitalOcean.dir, { recursive: true, force: true });
  }
  report.digitalOcean = {
    ...(digitalOcean.version ? { version: digitalOcean.version } : {}),
    ...(digitalOcean.error ? { error: digitalOcean.error } : {}),
  };
  report.tasks = await measureTasks();
  report.waiting = await measureWaiting();
  report.seconds = (performance.now() - started) / 1000;
  report.verdicts = verdicts(report as Report);
  process.stdout.write(markdown(report as Report));
  if (quick) return; // a quick run is for trying things out: printed, never recorded
  const dir = `${root}bench/results`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/latest.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${dir}/latest.md`, markdown(report as Report));
  log('wrote bench/results/latest.md and latest.json');
}

/** The SDK floor (bench/sdk-server.ts) bundled into `dir` the way the bin is; its path. */
function sdkFloorIn(dir: string): string {
  execFileSync(process.execPath, [
    `${root}scripts/build.mjs`,
    '--entry',
    'bench/sdk-server.ts',
    '--outdir',
    dir,
  ]);
  return join(dir, 'sdk-server.js');
}

/** `--only throughput|rss|memory|tasks`: one section of the report, measured as in a full run. */
async function section(name: string): Promise<void> {
  if (name === 'tasks') {
    // Its own in-process sandbox and server.
    const t = await measureTasks();
    process.stdout.write(
      `as tasks ${t.asTasks.requests} requests (${t.asTasks.gets} gets, ${fmt(t.asTasks.seconds)} s); waiter ${t.waiter.requests} (${fmt(t.waiter.seconds)} s)\n`,
    );
    return;
  }
  const sandbox = await startSandboxProcess();
  const floorDir = mkdtempSync(join(os.tmpdir(), 'flops-bench-'));
  try {
    if (name === 'first') {
      const digitalOcean = installDigitalOcean();
      try {
        const f = await measureFirstAnswer(sandbox, sdkFloorIn(floorDir), digitalOcean);
        for (const [opening, a] of Object.entries(f)) {
          process.stdout.write(
            `${opening}: flops-mcp ${fmt(a.flopsMs.median)} ms, bare ${fmt(a.bareMs.median)} ms (${fmt(a.ratioBare, 2)} ×, round by round ${fmt(a.ratioBarePaired, 2)} ×), DigitalOcean ${fmt(a.digitalOceanMs?.median)} ms (${fmt(a.ratioDigitalOcean, 2)} ×, round by round ${fmt(a.ratioDigitalOceanPaired, 2)} ×)\n`,
          );
        }
      } finally {
        rmSync(digitalOcean.dir, { recursive: true, force: true });
      }
    } else if (name === 'throughput') {
      const rows = await measureThroughput(sandbox);
      for (const t of rows) {
        process.stdout.write(
          `${t.connection}, ${t.program} c${t.concurrency}: raw ${fmt(t.rawPerSecond.median, 0)} mcp ${fmt(t.mcpPerSecond.median, 0)} (${fmt(t.mcpPerSecond.min, 0)}–${fmt(t.mcpPerSecond.max, 0)}) ratio ${fmt(t.ratio, 2)} server busy ${fmt(t.serverBusyMcp, 2)} µs/call ${fmt(t.serverCpuPerCallUs, 0)} client busy ${fmt(t.clientBusyMcp, 2)}\n`,
        );
      }
    } else if (name === 'rss') {
      const { bareRss, floorRss, startRss } = await measureStartRss(sandbox, sdkFloorIn(floorDir));
      const line = (label: string, xs: number[]) => {
        const s = stats(xs);
        return `${label} ${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)}) MB\n`;
      };
      process.stdout.write(
        line('bare Node', bareRss) + line('SDK floor', floorRss) + line('flops-mcp', startRss),
      );
    } else if (name === 'memory') {
      const m = await measureMemory(sandbox, sdkFloorIn(floorDir));
      process.stdout.write(
        `start ${fmt(m.startMb.median)} MB; curve ${m.curve.map((p) => fmt(p.rssMb.median, 0)).join(' → ')} MB; 20,000: ${fmt(m.after2Mb.median, 0)} MB; live heap ${fmt(m.liveHeapAfterMb.median, 2)} → ${fmt(m.liveHeapAfter2Mb.median, 2)} MB\n`,
      );
    } else throw new Error(`--only: no section ${name} (throughput, rss, memory, tasks)`);
  } finally {
    await sandbox.stop();
    rmSync(floorDir, { recursive: true, force: true });
  }
}

await main();
