/**
 * The deployment recommended for teams: two replicas of `flops-mcp --http --stateless` behind a
 * real load balancer (nginx from Debian's packages, with the README's configuration: scripts/cluster.ts), both
 * talking to one Flops API (here one sandbox process, so that they share its state). One client's
 * calls are spread over both replicas and none fails — progress over SSE included.
 *
 * `.ci/run` installs nginx; where it is absent locally this file is skipped with a message (in CI
 * it fails instead).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, NGINX, nginxConfig, readIf } from '../scripts/cluster.js';
import { connect, toolJson } from './http-helpers.js';
import {
  cleanEnv,
  eventually,
  killAll,
  requireExternal,
  type Started,
  startProcess,
  startSandboxProcess,
} from './process-helpers.js';

const nginx = NGINX;
requireExternal('nginx', nginx !== undefined, '`apt-get install -y nginx`');

const INSTALL = {
  tenantId: 111,
  name: 'behind-nginx',
  distribution: 'debian',
  tariff: 'Облачный 512',
  password: 'Secret-pass1',
  wait: true,
};

describe.skipIf(!nginx)('two stateless replicas behind nginx', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flops-lb-'));
  let sandbox: Started;
  let replicas: Started[];
  let proxy: ChildProcess;
  let url: string;
  /** Tool calls made through nginx. */
  let calls = 0;

  beforeAll(async () => {
    chmodSync(dir, 0o755);
    sandbox = await startSandboxProcess(['--time-scale', '0.05']);
    const port = await freePort();
    const env = {
      ...cleanEnv,
      FLOPS_API_URL: sandbox.url,
      FLOPS_CLIENT_ID: 'sandbox',
      FLOPS_API_KEY: 'sandbox',
      FLOPS_LOG_LEVEL: 'debug',
      // nginx forwards the client's Host (the balancer's address): the replicas must accept it.
      FLOPS_MCP_ALLOWED_HOSTS: `127.0.0.1:${port}`,
      // One key for the replicas: a task id sealed by one opens on the other.
      FLOPS_MCP_AUTH_KEY: randomBytes(32).toString('base64'),
    };
    replicas = await Promise.all(
      [1, 2].map(() => startProcess(['--http', '--stateless', '--port', '0'], { env })),
    );
    const upstreams = replicas.map((r) => new URL(r.url).host);
    writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, upstreams));
    proxy = spawn(nginx!, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let nginxErr = '';
    proxy.stderr!.on('data', (c: Buffer) => {
      nginxErr += c.toString();
    });
    url = `http://127.0.0.1:${port}/mcp`;
    const started = Date.now();
    for (;;) {
      const up = await request(url.replace(/\/mcp$/, '/healthz')).then(
        async (r) => {
          await r.body.text();
          return r.statusCode === 200;
        },
        () => false,
      );
      if (up) break;
      if (proxy.exitCode !== null || Date.now() - started > 10_000) {
        throw new Error(`nginx did not start: ${nginxErr}${readIf(join(dir, 'error.log'))}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((resolve) => proxy.once('exit', resolve));
      proxy.kill('SIGQUIT');
      await exited;
    }
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves one client: sequential and concurrent calls, a wait with progress over SSE, shared state', async () => {
    const c = await connect(url);
    expect(c.transport.sessionId).toBeUndefined();
    expect((await c.mcp.listTools()).tools.length).toBeGreaterThan(30);
    for (let i = 0; i < 10; i++) {
      const vm = await c.call('vm_get', { vmId: 85561 });
      calls++;
      expect(vm.isError, JSON.stringify(vm)).toBeFalsy();
    }
    const names = ['vm_list', 'tariff_list', 'distribution_list', 'tenant_list', 'pubkey_list'];
    const concurrent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => c.call(names[i % names.length]!)),
    );
    calls += concurrent.length;
    for (const r of concurrent) expect(r.isError, JSON.stringify(r)).toBeFalsy();
    // A write that waits: progress notifications stream through nginx unbuffered.
    const progress: number[] = [];
    const installed = await c.mcp.callTool({ name: 'vm_install', arguments: INSTALL }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    calls++;
    expect(installed.isError, JSON.stringify(installed)).toBeFalsy();
    expect(progress.length).toBeGreaterThan(0);
    const vmId = (toolJson(installed as never)['vm'] as { id: number }).id;
    // Whichever replica answers, it sees the VM the other may have created: one API, one state.
    for (let i = 0; i < 4; i++) {
      const vm = await c.call('vm_get', { vmId });
      calls++;
      expect(toolJson(vm)).toMatchObject({ vm: { id: vmId, name: 'behind-nginx' } });
    }
    await c.mcp.close();
  });

  it('a 2026-07-28 client: a task created through the balancer is read by either replica', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'lb', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } },
    };
    const post = async (to: string, method: string, params: Record<string, unknown>, name: string) => {
      const response = await request(to, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': method,
          'mcp-name': name,
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: meta } }),
      });
      const text = await response.body.text();
      const json = text.startsWith('{')
        ? text
        : text
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .at(-1)!
            .slice(6);
      return (JSON.parse(json) as { result: Record<string, unknown> }).result;
    };
    const task = await post(
      url,
      'tools/call',
      { name: 'vm_rename', arguments: { vmId: 85561, name: 'ubuntu' } },
      'vm_rename',
    );
    expect(task).toMatchObject({ resultType: 'task', status: 'working' });
    const taskId = task['taskId'] as string;
    await new Promise((r) => setTimeout(r, 300));
    for (const replica of replicas) {
      // Each replica reads the ended operation on its first get, and the renamed VM on the next.
      const first = await post(replica.url, 'tasks/get', { taskId }, taskId);
      expect(first, replica.url).toMatchObject({ taskId, status: 'working' });
      const got = await post(replica.url, 'tasks/get', { taskId }, taskId);
      expect(got, replica.url).toMatchObject({
        taskId,
        status: 'completed',
        result: { structuredContent: { status: 'DONE' } },
      });
    }
  });

  it('spread the calls over both replicas, and nothing failed anywhere', async () => {
    const toolLines = (r: Started) => r.stderr().match(/DEBUG tool \w+ \{[^\n]*"isError":false/g) ?? [];
    const counts = () => replicas.map((r) => toolLines(r).length);
    // stderr arrives asynchronously: the last lines may trail the last answer a little.
    await eventually(() => counts()[0]! + counts()[1]! === calls, 3000, `${calls} tool calls logged`);
    expect(Math.min(...counts()), `calls per replica: ${counts().join(', ')}`).toBeGreaterThan(0);
    for (const r of replicas) {
      expect(r.stderr()).not.toMatch(/"isError":true|ERROR|WARN/);
      expect(r.stderr()).not.toContain('Secret-pass1');
    }
    // nginx's own record: every POST was answered 2xx, by both upstreams.
    await eventually(() => readIf(join(dir, 'access.log')).includes('POST'), 2000, 'access log');
    const lines = readIf(join(dir, 'access.log')).trim().split('\n');
    const posts = lines.filter((l) => l.startsWith('POST '));
    expect(
      posts.every((l) => / 2\d\d /.test(l)),
      posts.join('\n'),
    ).toBe(true);
    for (const r of replicas) {
      expect(posts.some((l) => l.includes(` ${new URL(r.url).host}`))).toBe(true);
    }
    // The replicas stop cleanly.
    for (const r of replicas) expect(await r.stop()).toBe(0);
  });
});
