/**
 * The built CLI as separate processes: `node dist/cli.cjs --http …` (waits for its URL on stderr) and
 * `node dist/cli.cjs sandbox` (waits for its URL on stdout). Every process started here is killed by
 * `killAll()` if a test leaves it running. `npm test` builds first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const cli = `${root}dist/cli.cjs`;
/** The environment without the caller's FLOPS_* settings. */
export const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('FLOPS_')),
) as Record<string, string>;

/**
 * Whether an external component a test needs is here (nginx, Chromium, the newer Node of
 * scripts/extra-tools.sh). Missing, the test is skipped with a loud message; in CI (CI set) it
 * fails instead, since .ci/run installs every one of them.
 */
export function requireExternal(what: string, present: boolean, install: string): boolean {
  if (present) return true;
  const message = `${what} is missing: skipping the tests that need it (${install}; CI installs it)`;
  if (process.env['CI']) throw new Error(`${message}: CI must run them`);
  console.warn(`\n*** SKIPPED: ${message} ***\n`);
  return false;
}

/** The Node binaries of scripts/extra-tools.sh (`.tools/`), by major version. */
export function extraNode(major: 22 | 24): string {
  return `${root}.tools/node${major}/node_modules/.bin/node`;
}

const running = new Set<ChildProcess>();

export interface Started {
  child: ChildProcess;
  /** What was matched (the URL). */
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name) once the process has ended. */
  exited: Promise<number | string>;
  /** Send `signal` (default SIGTERM) and wait for the exit. */
  stop: (signal?: NodeJS.Signals) => Promise<number | string>;
}

/**
 * Spawn `node [nodeArgs] dist/cli.cjs args` and wait until `pattern` (group 1: the URL) appears on
 * the stream `on`.
 */
export function startProcess(
  args: string[],
  options: {
    env?: Record<string, string>;
    /** Another Node binary than the one running the tests. */
    execPath?: string;
    nodeArgs?: string[];
    on?: 'stdout' | 'stderr';
    pattern?: RegExp;
    timeoutMs?: number;
  } = {},
): Promise<Started> {
  const on = options.on ?? 'stderr';
  const pattern = options.pattern ?? /listening on (http:\/\/\S+\/mcp)/;
  const child = spawn(options.execPath ?? process.execPath, [...(options.nodeArgs ?? []), cli, ...args], {
    env: options.env ?? cleanEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? -1);
    }),
  );
  const stop = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no "${pattern}" within ${options.timeoutMs ?? 10_000} ms; stderr:\n${err}`));
    }, options.timeoutMs ?? 10_000);
    const check = () => {
      const match = pattern.exec(on === 'stdout' ? out : err);
      if (!match) return;
      clearTimeout(timer);
      (on === 'stdout' ? child.stdout! : child.stderr!).off('data', check);
      resolve({ child, url: match[1]!, stdout: () => out, stderr: () => err, exited, stop });
    };
    (on === 'stdout' ? child.stdout! : child.stderr!).on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before "${pattern}"; stderr:\n${err}`));
    });
  });
}

/** `node dist/cli.cjs sandbox --port 0`: one sandbox API that several servers can share. */
export function startSandboxProcess(args: string[] = []): Promise<Started> {
  return startProcess(['sandbox', '--port', '0', ...args], {
    on: 'stdout',
    pattern: /listening on (http:\/\/\S+\/)/,
  });
}

/** Kill every process still running (afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}

/** Resolves once `check()` holds; rejects after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
