/**
 * Several replicas as one service, for the replicas test and the cluster benchmark: the built CLI
 * (`node dist/cli.cjs --http`) started N times, each with its name (FLOPS_MCP_REPLICA r1, r2, …)
 * and its own audit log, all sharing one Redis (`redis-server` from the distribution's packages, on
 * a loopback port, nothing saved) and one Flops API (a sandbox in this process), behind nginx
 * configured as the README says: 2025 sessions routed by the replica name in `Mcp-Session-Id`,
 * everything else round robin.
 *
 * Ports are chosen once, so that a replica or Redis restarted comes back where it was. Every
 * process is started by the caller's process and killed by `close()` (or test/process-helpers'
 * killAll); files live in one temporary folder, removed by `close()`.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { OTHER_ACCOUNT, type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { cleanEnv, type Started, startProcess } from '../test/process-helpers.js';

/** A second account with working credentials (the sandbox's seed gives it none). */
export const OTHER_USER = { clientId: OTHER_ACCOUNT, apiKey: 'other-user-key-5e1f0a' };
export const DEFAULT_USER = { clientId: 'sandbox', apiKey: 'sandbox-key-93c2d1' };

function which(name: string, sbin = false): string | undefined {
  if (sbin && existsSync(`/usr/sbin/${name}`)) return `/usr/sbin/${name}`;
  if (existsSync(`/usr/bin/${name}`)) return `/usr/bin/${name}`;
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const NGINX = which('nginx', true);
export const REDIS_SERVER = which('redis-server');

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * The nginx configuration of the README, for `replicas` (`host:port`, named r1, r2, … in order):
 * a request whose `Mcp-Session-Id` starts with a replica's name goes to that replica (the others as
 * backups: a session of a replica that is gone is answered 404 by another, and its client opens a
 * new one); any other request (2026-07-28 clients, a 2025 initialize) goes round robin.
 */
export function nginxConfig(dir: string, listen: number, replicas: string[]): string {
  const names = replicas.map((_, i) => `r${i + 1}`);
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  log_format upstream '$request_method $status $upstream_addr $http_mcp_session_id';
  access_log ${dir}/access.log upstream;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_mcp_session_id $flops_upstream {
${names.map((n) => `    ~^${n}\\. flops_${n};`).join('\n')}
    default flops_mcp;
  }
  upstream flops_mcp {
${replicas.map((r) => `    server ${r} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 32;
  }
${replicas
  .map(
    (r, i) => `  upstream flops_${names[i]} {
    server ${r};
${replicas
  .filter((_, j) => j !== i)
  .map((o) => `    server ${o} backup;`)
  .join('\n')}
    keepalive 8;
  }`,
  )
  .join('\n')}
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://$flops_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 120s;
    }
  }
}
`;
}

export interface Replica {
  name: string;
  port: number;
  /** `http://127.0.0.1:port/mcp` */
  url: string;
  audit: string;
  process: Started | undefined;
}

export interface Cluster {
  /** Through nginx: `http://127.0.0.1:port/mcp`. */
  url: string;
  sandbox: Sandbox;
  replicas: Replica[];
  redisPort: number;
  dir: string;
  startRedis(): Promise<void>;
  stopRedis(): Promise<void>;
  /** Start (again) replica `i` with the cluster's environment and `env` on top. */
  startReplica(i: number, env?: Record<string, string>): Promise<void>;
  /** SIGKILL: no drain, no goodbye. */
  killReplica(i: number): Promise<void>;
  /** Every audit line of every replica, parsed. */
  audit(): Record<string, unknown>[];
  /** CPU seconds (user + system) each replica has used so far (Linux /proc). */
  cpuSeconds(): number[];
  close(): Promise<void>;
}

async function waitFor(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const answers = (url: string) =>
  request(url).then(
    async (r) => {
      await r.body.dump();
      return r.statusCode === 200;
    },
    () => false,
  );

export async function startCluster(
  options: { replicas?: number; env?: Record<string, string>; timeScale?: number } = {},
): Promise<Cluster> {
  if (!NGINX || !REDIS_SERVER) throw new Error('nginx and redis-server are needed');
  const count = options.replicas ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'flops-cluster-'));
  chmodSync(dir, 0o755);
  const sandbox = await startSandbox({
    port: 0,
    timeScale: options.timeScale ?? 0.02,
    clientId: DEFAULT_USER.clientId,
    apiKey: DEFAULT_USER.apiKey,
  });
  sandbox.state.accounts.get(OTHER_ACCOUNT)!.apiKey = OTHER_USER.apiKey;
  const [lbPort, redisPort, ...ports] = await Promise.all(
    Array.from({ length: count + 2 }, () => freePort()),
  );
  let redis: ChildProcess | undefined;
  const startRedis = async () => {
    redis = spawn(
      REDIS_SERVER,
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const socket = connect(redisPort!, '127.0.0.1', () => {
            socket.end();
            resolve(true);
          });
          socket.on('error', () => resolve(false));
        }),
      5_000,
      'redis-server',
    );
  };
  const stopRedis = async () => {
    const r = redis;
    if (!r || r.exitCode !== null) return;
    const exited = new Promise((resolve) => r.once('exit', resolve));
    r.kill('SIGKILL');
    await exited;
  };
  await startRedis();

  const env = {
    ...cleanEnv,
    FLOPS_API_URL: sandbox.url,
    FLOPS_CLIENT_ID: DEFAULT_USER.clientId,
    FLOPS_API_KEY: DEFAULT_USER.apiKey,
    FLOPS_REDIS_URL: `redis://127.0.0.1:${redisPort}/0`,
    FLOPS_MCP_ALLOWED_HOSTS: `127.0.0.1:${lbPort}`,
    FLOPS_MCP_AUTH_KEY: randomBytes(32).toString('base64'),
    FLOPS_LOG_LEVEL: 'info',
    ...options.env,
  };
  const replicas: Replica[] = ports.map((port, i) => ({
    name: `r${i + 1}`,
    port: port!,
    url: `http://127.0.0.1:${port}/mcp`,
    audit: join(dir, `audit-r${i + 1}.jsonl`),
    process: undefined,
  }));
  const startReplica = async (i: number, extra: Record<string, string> = {}) => {
    const r = replicas[i]!;
    r.process = await startProcess(['--http', '--port', String(r.port)], {
      env: { ...env, FLOPS_MCP_REPLICA: r.name, FLOPS_AUDIT_LOG: r.audit, ...extra },
      timeoutMs: 20_000,
    });
  };
  const killReplica = async (i: number) => {
    await replicas[i]!.process?.stop('SIGKILL');
  };
  const url = `http://127.0.0.1:${lbPort}/mcp`;
  let nginx: ChildProcess | undefined;
  const close = async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx!.once('exit', resolve));
      nginx.kill('SIGQUIT');
      await exited;
    }
    await Promise.all(replicas.map((r) => r.process?.stop('SIGKILL')));
    await stopRedis();
    await sandbox.close();
    rmSync(dir, { recursive: true, force: true });
  };
  // Whatever fails while starting, nothing started here is left running.
  try {
    await Promise.allSettled(replicas.map((_, i) => startReplica(i))).then((all) => {
      const failed = all.find((a) => a.status === 'rejected');
      if (failed) throw failed.reason;
    });
    nginx = await startNginx();
  } catch (err) {
    await close();
    throw err;
  }

  async function startNginx(): Promise<ChildProcess> {
    writeFileSync(
      join(dir, 'nginx.conf'),
      nginxConfig(
        dir,
        lbPort!,
        replicas.map((r) => `127.0.0.1:${r.port}`),
      ),
    );
    const proxy = spawn(NGINX!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    nginx = proxy;
    let nginxErr = '';
    proxy.stderr!.on('data', (c: Buffer) => {
      nginxErr += c.toString();
    });
    await waitFor(
      async () => {
        if (proxy.exitCode !== null) throw new Error(`nginx exited: ${nginxErr}`);
        return answers(url.replace(/\/mcp$/, '/healthz'));
      },
      10_000,
      'nginx',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${nginxErr}${readIf(join(dir, 'error.log'))}`);
    });
    return proxy;
  }

  return {
    url,
    sandbox,
    replicas,
    redisPort: redisPort!,
    dir,
    startRedis,
    stopRedis,
    startReplica,
    killReplica,
    audit: () =>
      replicas.flatMap((r) =>
        readIf(r.audit)
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      ),
    cpuSeconds: () =>
      replicas.map((r) => {
        const pid = r.process?.child.pid;
        const stat = pid ? readIf(`/proc/${pid}/stat`) : '';
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
      }),
    close,
  };
}

export function readIf(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
