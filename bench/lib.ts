/**
 * Helpers of the benchmark (bench/run.ts): statistics, processes and their CPU and memory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const cli = `${root}dist/cli.cjs`;

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  p50: number;
  p99: number;
}

/** Median, min, max, p50 and p99 (nearest rank) of samples. */
export function stats(samples: readonly number[]): Stats {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    n: sorted.length,
    median,
    min: sorted[0]!,
    max: sorted.at(-1)!,
    p50: rank(0.5),
    p99: rank(0.99),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); undefined elsewhere. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 per second).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** Resident set size of a process in MB, from /proc (Linux); undefined elsewhere. */
export function processRssMb(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export interface SandboxProcess {
  url: string;
  clientId: string;
  apiKey: string;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/** `node dist/cli.cjs sandbox --port 0`: the API every measurement talks to, in its own process. */
export function startSandboxProcess(args: string[] = []): Promise<SandboxProcess> {
  const child = spawn(process.execPath, [cli, 'sandbox', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stopping = false;
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}: ${out}`)));
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const url = /listening on (http:\/\/\S+\/)/.exec(out)?.[1];
      const creds = /FLOPS_CLIENT_ID=(\S+) FLOPS_API_KEY=(\S+)/.exec(out);
      if (!url || !creds) return;
      child.stdout!.off('data', onData);
      child.stdout!.resume();
      child.removeAllListeners('exit');
      child.once('exit', (code, signal) => {
        if (!stopping) process.stderr.write(`[bench] the sandbox stopped early (${code ?? signal})\n`);
      });
      resolve({
        url,
        clientId: creds[1]!,
        apiKey: creds[2]!,
        child,
        stop: () =>
          new Promise<void>((done) => {
            stopping = true;
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout!.on('data', onData);
  });
}

export interface ColdStart {
  /** ms from spawn until the answer to the opening message (`initialize` or `server/discover`) arrived. */
  initialize: number;
  /** The opening message was answered with this JSON-RPC error (only when `acceptError`). */
  error?: { code: number; message: string };
  /** ms from spawn until the `tools/list` response arrived (when asked). */
  toolsList?: number;
  /** The `tools/list` result exactly as sent on stdout. */
  toolsListJson?: string;
}

/**
 * Spawn a stdio server, send `initialize` at once, then (if `list`) `notifications/initialized`
 * and `tools/list`; time each answer from the spawn, then kill the process.
 */
/** The opening messages of the two generations of MCP: `initialize` (2025), `server/discover` (2026-07-28). */
export type Opening = 'initialize' | 'discover';

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

export function coldStart(
  args: string[],
  env: NodeJS.ProcessEnv,
  list: boolean,
  opening: Opening = 'initialize',
  /** An error answer to the opening message counts as its answer (a server without server/discover). */
  acceptError = false,
): Promise<ColdStart> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'ignore'], env });
    const result: Partial<ColdStart> = {};
    let buffer = '';
    // Settled once the process is gone: the next start-up measured does not share the cores with
    // this one's exit.
    let outcome: Error | undefined;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      outcome = error;
      done = true;
      child.kill('SIGKILL');
    };
    child.once('exit', (code) => {
      if (!done) reject(new Error(`${args.join(' ')} exited with ${code}`));
      else if (outcome) reject(outcome);
      else resolve(result as ColdStart);
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue; // a server that logs on stdout
        const message = JSON.parse(line) as { id?: number; result?: unknown; error?: ColdStart['error'] };
        if (message.error && message.id === 1 && acceptError) {
          result.initialize = performance.now() - started;
          result.error = message.error;
          return finish();
        }
        if (message.error) return finish(new Error(JSON.stringify(message.error)));
        if (message.id === 1) {
          result.initialize = performance.now() - started;
          if (!list) return finish();
          if (opening === 'initialize') {
            child.stdin!.write(
              `${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`,
            );
          }
          const params = opening === 'discover' ? { params: { _meta: ENVELOPE } } : {};
          child.stdin!.write(
            `${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', ...params })}\n`,
          );
        } else if (message.id === 2) {
          result.toolsList = performance.now() - started;
          result.toolsListJson = JSON.stringify(message.result);
          return finish();
        }
      }
    });
    const first =
      opening === 'initialize'
        ? {
            jsonrpc: '2.0',
            id: 1,
            method: 'initialize',
            params: {
              protocolVersion: '2025-06-18',
              capabilities: {},
              clientInfo: { name: 'bench', version: '1' },
            },
          }
        : { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: ENVELOPE } };
    child.stdin!.write(`${JSON.stringify(first)}\n`);
  });
}

/** Run `worker` with `concurrency` loops until `durationMs` has passed; completed calls per second. */
export async function throughput(
  concurrency: number,
  durationMs: number,
  call: () => Promise<unknown>,
): Promise<{ perSecond: number; calls: number; ms: number }> {
  const started = performance.now();
  const deadline = started + durationMs;
  let calls = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await call();
        calls++;
      }
    }),
  );
  const ms = performance.now() - started;
  return { perSecond: (calls * 1000) / ms, calls, ms };
}

export const fmt = (value: number | undefined, digits = 1): string =>
  value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);

export const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

/** A bench process's child: spawned with its stderr scanned until `pattern` matches (group 1 returned). */
export function spawnUntil(
  args: string[],
  env: NodeJS.ProcessEnv,
  pattern: RegExp,
): Promise<{ child: ChildProcess; match: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  return new Promise((resolve, reject) => {
    let err = '';
    const onExit = (code: number | null) =>
      reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`));
    child.once('exit', onExit);
    const onData = (chunk: Buffer) => {
      err += chunk.toString();
      const match = pattern.exec(err)?.[1];
      if (match === undefined) return;
      child.stderr!.off('data', onData);
      child.stderr!.resume();
      child.off('exit', onExit);
      resolve({
        child,
        match,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stderr!.on('data', onData);
  });
}

/** The envelope of a 2026-07-28 request (its `_meta`). */
export function envelope(capabilities: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...ENVELOPE, 'io.modelcontextprotocol/clientCapabilities': capabilities };
}

/**
 * One JSON-RPC request over 2026-07-28 Streamable HTTP with the standard headers, as a plain
 * client sends it (the bench's tasks requester); the answer to it (JSON or the SSE event with its id).
 */
export async function post2026(
  url: string,
  dispatcher: import('undici').Dispatcher,
  message: { id: string | number; method: string; params: Record<string, unknown> },
): Promise<Record<string, unknown>> {
  const { request } = await import('undici');
  const name = message.params['name'] ?? message.params['taskId'];
  const response = await request(url, {
    dispatcher,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': message.method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  const body = await response.body.text();
  const messages = messagesOf(body);
  const answer = messages.find((m) => m['id'] === message.id);
  if (!answer)
    throw new Error(`no answer to ${message.method} (HTTP ${response.statusCode}): ${body.slice(0, 200)}`);
  return answer;
}

/** The JSON-RPC messages of an HTTP answer: one JSON body, or the `data:` lines of an SSE stream. */
export function messagesOf(body: string): Record<string, unknown>[] {
  const lines = body.startsWith('{')
    ? [body]
    : body
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6));
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>);
}
