/**
 * Sign-in state shared by replicas: two `flops-mcp --http --auth oauth` processes with one store
 * and one FLOPS_MCP_AUTH_KEY behind one public URL. A user signs in through one, works through the
 * other, refreshes there; a restart keeps everyone signed in; the operator's `flops-mcp auth
 * revoke` ends the access on both at once.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, REDIS_SERVER } from '../scripts/cluster.js';
import { INITIALIZE, raw } from './http-helpers.js';
import { Browser, csrfOf, pkcePair } from './oauth-helpers.js';
import {
  cleanEnv,
  cli,
  eventually,
  killAll,
  requireExternal,
  type Started,
  startProcess,
  startSandboxProcess,
} from './process-helpers.js';

const haveRedis = requireExternal(
  'redis-server',
  REDIS_SERVER !== undefined,
  '`apt-get install -y redis-server`',
);

const run = promisify(execFile);

/** The browser's part of the flow, scripted: authorize, the sign-in form, the redirect; the code. */
async function signIn(
  origin: string,
  clientId: string,
  redirectUri: string,
  challenge: string,
): Promise<string> {
  const browser = new Browser();
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    scope: 'flops:read flops:write',
    resource: `${origin}/mcp`,
    state: 'replicas',
  });
  const page = await browser.follow(origin, `/oauth/authorize?${query}`);
  const form = new URLSearchParams({
    csrf: csrfOf(await page.res.text()),
    action: 'allow',
    flops_client_id: 'sandbox',
    flops_api_key: 'sandbox',
    scope: 'flops:write',
  });
  const { away } = await browser.follow(origin, page.url, { form });
  const code = away?.searchParams.get('code');
  expect(code).toBeTruthy();
  return code!;
}

async function token(endpoint: string, form: Record<string, string>) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  expect(response.headers.get('cache-control')).toContain('no-store');
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

async function listVms(url: string, accessToken: string): Promise<number> {
  const client = new Client({ name: 'replicas', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
    }),
  );
  const result = await client.callTool({ name: 'vm_list', arguments: {} });
  await client.close();
  expect(result.isError).toBeFalsy();
  return (result.structuredContent as { vms: unknown[] }).vms.length;
}

async function status(url: string, accessToken: string): Promise<number> {
  return (await raw(url, { headers: { Authorization: `Bearer ${accessToken}` }, body: INITIALIZE })).status;
}

/** A redis-server of the test's own on a free port; resolves once it accepts connections. */
async function startRedis(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    REDIS_SERVER!,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  let up = false;
  const probe = () =>
    new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        up = true;
        socket.end();
        resolve();
      });
      socket.on('error', () => resolve());
    });
  await eventually(
    () => {
      void probe();
      return up;
    },
    5_000,
    'redis-server',
  );
  return { url: `redis://127.0.0.1:${port}/0`, child };
}

describe.each([
  ['the embedded store (one host)', false],
  ['Redis (several hosts)', true],
])('replicas sharing the sign-in store: %s', (_name, withRedis) => {
  let env: Record<string, string>;
  let redis: ChildProcess | undefined;
  let portA: number;
  let a: Started;
  let b: Started;
  const origin = () => `http://127.0.0.1:${portA}`;
  const replica = (port: number) =>
    startProcess(['--http', '--port', String(port), '--auth', 'oauth'], { env });

  beforeAll(async () => {
    if (withRedis && !haveRedis) return;
    const sandbox = await startSandboxProcess();
    portA = await freePort();
    env = {
      ...cleanEnv,
      FLOPS_API_URL: sandbox.url,
      FLOPS_MCP_AUTH_KEY: randomBytes(32).toString('base64'),
      FLOPS_MCP_AUTH_STORE: mkdtempSync(join(tmpdir(), 'flops-auth-replicas-')),
      FLOPS_MCP_PUBLIC_URL: `http://127.0.0.1:${portA}/mcp`,
    };
    if (withRedis) {
      const started = await startRedis();
      redis = started.child;
      env['FLOPS_REDIS_URL'] = started.url;
    }
    [a, b] = await Promise.all([replica(portA), replica(0)]);
  }, 30_000);

  afterAll(async () => {
    redis?.kill('SIGKILL');
    await killAll();
  });

  it.skipIf(withRedis && !haveRedis)(
    'signs in on one, works and refreshes on the other, survives a restart, and is revoked by the operator on both',
    async () => {
      const redirectUri = 'http://127.0.0.1:9/callback';
      const registered = (await (
        await fetch(`${origin()}/oauth/register`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            client_name: 'Replica test',
            redirect_uris: [redirectUri],
            token_endpoint_auth_method: 'none',
          }),
        })
      ).json()) as { client_id: string };
      const { verifier, challenge } = pkcePair();
      const code = await signIn(origin(), registered.client_id, redirectUri, challenge);
      const first = await token(`${origin()}/oauth/token`, {
        grant_type: 'authorization_code',
        code,
        redirect_uri: redirectUri,
        code_verifier: verifier,
        client_id: registered.client_id,
        resource: `${origin()}/mcp`,
      });
      expect(first.status).toBe(200);
      expect(first.body['scope']).toBe('flops:read flops:write');

      // Replica B never saw the sign-in: the token and the kept key work there.
      expect(await listVms(b.url, first.body['access_token']!)).toBeGreaterThan(0);
      // The refresh goes to B's token endpoint; the rotated token works on A.
      const bOrigin = new URL(b.url).origin;
      const refreshed = await token(`${bOrigin}/oauth/token`, {
        grant_type: 'refresh_token',
        refresh_token: first.body['refresh_token']!,
        client_id: registered.client_id,
      });
      expect(refreshed.status).toBe(200);
      expect(refreshed.body['refresh_token']).not.toBe(first.body['refresh_token']);
      expect(await listVms(a.url, refreshed.body['access_token']!)).toBeGreaterThan(0);
      // A restart keeps everyone signed in.
      await a.stop();
      a = await replica(portA);
      expect(await status(a.url, refreshed.body['access_token']!)).toBe(200);

      // The operator lists and revokes, while both replicas run.
      const listed = await run(process.execPath, [cli, 'auth', 'list'], { env });
      expect(listed.stdout).toContain('Flops client sandbox');
      expect(listed.stdout).toContain('Replica test');
      expect(listed.stdout).not.toContain('sandbox:');
      const revoked = await run(process.execPath, [cli, 'auth', 'revoke', 'sandbox'], { env });
      expect(revoked.stdout).toMatch(/1 connection\(s\) revoked/);
      expect(await status(a.url, refreshed.body['access_token']!)).toBe(401);
      expect(await status(b.url, refreshed.body['access_token']!)).toBe(401);
      const afterRevoke = await token(`${origin()}/oauth/token`, {
        grant_type: 'refresh_token',
        refresh_token: refreshed.body['refresh_token']!,
        client_id: registered.client_id,
      });
      expect(afterRevoke.body['error']).toBe('invalid_grant');
    },
    60_000,
  );
});
