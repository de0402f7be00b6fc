/**
 * What the example workflows share (examples/demo.ts stands alone and does not use it): starting
 * flops-mcp over stdio with the MCP SDK's `Client`, calling tools while printing each call, its
 * progress notifications and a readable result, and following an operation that outlasts one wait.
 *
 * Every example runs against the sandbox by default: `node dist/cli.cjs --sandbox`, nothing is real.
 * With `--live` it runs against the real Flops API instead, with the account in the environment:
 *
 *   FLOPS_CLIENT_ID=… FLOPS_API_KEY=… [FLOPS_TENANT_ID=…] npx tsx examples/provision.ts --live
 *
 * The whole environment is handed to the server, so FLOPS_* settings apply (FLOPS_API_URL,
 * FLOPS_TENANT_ID, FLOPS_SANDBOX_TIME_SCALE for a faster sandbox, FLOPS_LOG_LEVEL, …). Arguments an
 * example does not know are passed on to the server too (e.g. `--time-scale 0.1`).
 *
 * Exit codes: 0 done, 1 failed, 2 bad usage; an example may define more (safe-resize: 3 rolled back).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

// biome-ignore lint/suspicious/noExplicitAny: the examples read loosely typed JSON results
export type Json = Record<string, any>;

const tty = process.stdout.isTTY === true;
export const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
export const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);

/** A line of the example's own narration, indented under the calls. */
export const say = (line: string) => console.log(`  ${line}`);

/** A tool call that came back with `isError`: its text, and its structured data if any. */
export class ToolError extends Error {
  constructor(
    readonly tool: string,
    readonly text: string,
    readonly data: Json | undefined,
  ) {
    super(`${tool} failed: ${text}`);
  }
}

/** Wrong or missing arguments or environment: exit code 2. */
export class UsageError extends Error {}

/** Keys whose values are never printed. */
const SECRET_KEYS = new Set(['password', 'apiKey', 'token']);

function printable(args: Json): string {
  return JSON.stringify(args, (key, value) => (SECRET_KEYS.has(key) ? '***' : value));
}

function bar(percent: number): string {
  const width = 30;
  const full = Math.max(0, Math.min(width, Math.round((percent / 100) * width)));
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(Math.round(percent)).padStart(3)}%`;
}

export function vmLine(vm: Json): string {
  const ips = vm.ipAddresses?.length ? vm.ipAddresses.join(', ') : 'none';
  return `VM ${vm.id} "${vm.name ?? ''}" ${vm.state ?? '?'}: ${vm.cpu} CPU, ${vm.memory} MB RAM, ${vm.disk} MB disk, IP ${ips}`;
}

/** One line that says what a tool result holds. */
export function summarize(data: Json): string {
  const parts: string[] = [];
  if (data.operationId !== undefined) {
    parts.push(`operation ${data.operationId} ${data.status ?? ''}`.trim());
    if (data.finished === false) parts.push(`still running at ${data.percentage ?? 0}%`);
  }
  if (data.vm) parts.push(vmLine(data.vm));
  if (data.snapshot) parts.push(`snapshot ${data.snapshot.id} "${data.snapshot.name ?? ''}"`);
  if (typeof data.link === 'string') parts.push(`link ${data.link}`);
  else if (typeof data.operation?.operationResult === 'string')
    parts.push(`result ${data.operation.operationResult}`);
  for (const [key, value] of Object.entries(data)) {
    if (Array.isArray(value)) parts.push(`${value.length} ${key}`);
  }
  if (parts.length > 0) return parts.join('; ');
  const text = JSON.stringify(data);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** A connected MCP client that prints what it does. */
export class Session {
  /** Progress notifications seen, over all calls. */
  progressCount = 0;

  constructor(readonly client: Client) {}

  /** Call a tool; print the call, its progress and a summary of the result; throw on `isError`. */
  async call(name: string, args: Json = {}): Promise<Json> {
    console.log(`${bold('→')} ${name} ${dim(printable(args))}`);
    let lastLine = '';
    const result = (await this.client.callTool({ name, arguments: args }, undefined, {
      onprogress: (p) => {
        this.progressCount++;
        const line = `  ${bar(p.total ? (p.progress / p.total) * 100 : p.progress)} ${dim(p.message ?? '')}`;
        if (tty) process.stdout.write(`\r${line}`);
        else if (line !== lastLine) console.log(line);
        lastLine = line;
      },
      // A waiting tool returns within ~50 s (then says the operation is still running).
      timeout: 120_000,
    })) as CallToolResult;
    if (tty && lastLine) process.stdout.write('\n');
    const first = result.content[0];
    const text = first?.type === 'text' ? first.text : '';
    const data = result.structuredContent as Json | undefined;
    if (result.isError) {
      console.log(`${bold('←')} error: ${text}`);
      throw new ToolError(name, text, data);
    }
    const parsed = data ?? (JSON.parse(text) as Json);
    console.log(`${bold('←')} ${summarize(parsed)}`);
    return parsed;
  }

  /**
   * Call an asynchronous tool with `wait: true` and follow the operation until it is finished: one
   * wait ends after ~45 s with `finished: false` (a real install can take longer), then
   * `wait_for_operation` takes over. An operation that ends in ERROR throws a ToolError.
   */
  async run(name: string, args: Json = {}): Promise<Json> {
    let data = await this.call(name, { ...args, wait: true });
    while (data.finished === false) {
      data = { ...data, ...(await this.call('wait_for_operation', { operationId: data.operationId })) };
    }
    return data;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export interface ExampleArgs {
  /** The example's own options: booleans are true when given, strings hold their value. */
  options: Record<string, string | boolean | undefined>;
  live: boolean;
  /** Everything else: passed on to flops-mcp. */
  serverArgs: string[];
}

/**
 * Split the command line into the example's options (`--name` booleans, `--name value` or
 * `--name=value` strings, and `--live`) and the rest, which goes to the server.
 */
export function parseExampleArgs(
  argv: string[],
  spec: { booleans?: string[]; strings?: string[] },
): ExampleArgs {
  const booleans = new Set(['live', 'help', ...(spec.booleans ?? [])]);
  const strings = new Set(spec.strings ?? []);
  const options: ExampleArgs['options'] = {};
  const serverArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([^=]+)(?:=(.*))?$/.exec(arg);
    const key = m?.[1];
    if (key && booleans.has(key) && m[2] === undefined) options[key] = true;
    else if (key && strings.has(key)) {
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${key} needs a value`);
      options[key] = value;
    } else serverArgs.push(arg);
  }
  return { options, live: options['live'] === true, serverArgs };
}

/** A whole number from an option, or undefined when it was not given. */
export function intOption(options: ExampleArgs['options'], name: string): number | undefined {
  const value = options[name];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${name} must be a positive whole number, got "${String(value)}"`);
  return n;
}

/** Start flops-mcp (sandbox unless live) over stdio and connect a Client to it. */
export async function connect(clientName: string, args: ExampleArgs): Promise<Session> {
  const cli = process.env['FLOPS_MCP_CLI'] || fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
  if (!existsSync(cli)) throw new UsageError(`${cli} does not exist: run \`npm run build\` first`);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  // The server's info lines would interleave with the narration; warnings and errors still show.
  env['FLOPS_LOG_LEVEL'] ??= 'warn';
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, ...(args.live ? [] : ['--sandbox']), ...args.serverArgs],
    env,
    stderr: 'inherit',
  });
  const client = new Client({ name: clientName, version: '1.0.0' });
  try {
    await client.connect(transport);
  } catch (err) {
    const passed = args.serverArgs.length ? ` (arguments passed on to it: ${args.serverArgs.join(' ')})` : '';
    throw new Error(
      `flops-mcp did not start${passed}: ${err instanceof Error ? err.message : String(err)}; its own message, if any, is above`,
    );
  }
  return new Session(client);
}

/**
 * Run an example: parse its arguments, connect, run the body, close, and set the exit code — the
 * body's own code, 0 when it returns nothing, 1 on an error, 2 on bad usage.
 */
export function runExample(
  meta: { name: string; title: string; usage: string; booleans?: string[]; strings?: string[] },
  body: (session: Session, args: ExampleArgs) => Promise<number | undefined>,
): void {
  const main = async (): Promise<number> => {
    const args = parseExampleArgs(process.argv.slice(2), meta);
    if (args.options['help']) {
      console.log(meta.usage);
      return 0;
    }
    if (args.live && !(process.env['FLOPS_CLIENT_ID'] && process.env['FLOPS_API_KEY'])) {
      throw new UsageError('--live needs FLOPS_CLIENT_ID and FLOPS_API_KEY in the environment');
    }
    console.log(
      bold(
        `${meta.title} — ${args.live ? 'LIVE: the real Flops API, resources created here are billed' : 'sandbox: nothing is real'}\n`,
      ),
    );
    const session = await connect(meta.name, args);
    try {
      return (await body(session, args)) ?? 0;
    } finally {
      await session.close().catch(() => undefined);
    }
  };
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        console.error(`${meta.name}: ${err.message}\n\n${meta.usage}`);
        process.exitCode = 2;
        return;
      }
      console.error(`${bold('✗')} ${meta.name} failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}

/** A password that meets the provider's rule; it is never printed. */
export function examplePassword(): string {
  const fromEnv = process.env['FLOPS_EXAMPLE_PASSWORD'];
  if (fromEnv) return fromEnv;
  return `Ex-${randomBytes(9).toString('hex')}Z9`;
}

/** Distributions the examples install: not Windows; `wanted` matches the description or name. */
export function pickDistribution(distributions: Json[], wanted?: string): Json {
  const linux = distributions.filter((d) => !/windows/i.test(`${d.name} ${d.description}`));
  const matching = wanted
    ? linux.filter((d) => `${d.name} ${d.description}`.toLowerCase().includes(wanted.toLowerCase()))
    : linux.filter((d) => /ubuntu/i.test(d.name)).length > 0
      ? linux.filter((d) => /ubuntu/i.test(d.name))
      : linux;
  // The newest release first: "Ubuntu 14.04.1 x64" before "Ubuntu 12.04.5 x64".
  const sorted = [...matching].sort((a, b) =>
    String(b.description).localeCompare(String(a.description), 'en', { numeric: true }),
  );
  const chosen = sorted.find((d) => d.bitness === 64) ?? sorted[0];
  if (!chosen) throw new UsageError(`no distribution matches "${wanted ?? 'linux'}" in distribution_list`);
  return chosen;
}

/**
 * A clean-up step in a `finally`: when the workflow already failed, a failing clean-up is reported
 * and swallowed so that the first error is the one that ends the example.
 */
export async function cleanUp(alreadyFailed: boolean, step: () => Promise<void>): Promise<void> {
  try {
    await step();
  } catch (err) {
    if (!alreadyFailed) throw err;
    console.error(`clean-up failed too: ${err instanceof Error ? err.message : String(err)}`);
  }
}
