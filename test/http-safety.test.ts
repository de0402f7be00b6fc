/**
 * Safety options end to end over Streamable HTTP, through the built CLI as an operator runs it:
 * tool selection and read-only mode, confirmation by elicitation (stateful and stateless), the
 * bearer token and Origin checks, the audit log, and marker secrets searched for in everything the
 * server wrote.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { readAudit } from './helpers.js';
import { cleanEnv, cli, type Started, startProcess, startSandboxProcess } from './process-helpers.js';

const running: Started[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

/** Start the built CLI (HTTP) and wait for the line that says where it listens. */
async function start(args: string[], env: Record<string, string> = {}): Promise<Started> {
  const s = await startProcess(args, { env: { ...cleanEnv, FLOPS_LOG_LEVEL: 'debug', ...env } });
  running.push(s);
  return s;
}

/** Run the CLI to its exit: the exit code and what it wrote to stderr. */
async function exitOf(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], {
    env: { ...cleanEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stderr };
}

async function connect(
  url: string,
  opts: { elicit?: 'accept' | 'decline' | 'cancel'; headers?: Record<string, string> } = {},
) {
  const client = new Client(
    { name: 'http-safety', version: '1.0.0' },
    { capabilities: opts.elicit ? { elicitation: {} } : {} },
  );
  const asked: string[] = [];
  if (opts.elicit) {
    const action = opts.elicit;
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return action === 'accept' ? { action, content: { confirm: true } } : { action };
    });
  }
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: opts.headers ?? {} } }),
  );
  const call = async (name: string, args: Record<string, unknown> = {}) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  return { client, asked, call };
}

const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;

async function newVm(
  call: (n: string, a: Record<string, unknown>) => Promise<CallToolResult>,
): Promise<number> {
  const r = await call('vm_install', {
    name: 'http-doomed',
    distribution: 'debian',
    tariff: 'Облачный 512',
    password: 'Secret-pass1',
    wait: true,
  });
  expect(r.isError, text(r)).toBeFalsy();
  return (JSON.parse(text(r)).vm as { id: number }).id;
}

describe('selection over HTTP', () => {
  it('read-only: only read tools are listed, writes are refused, /healthz says so', async () => {
    const s = await start(['--http', '--sandbox', '--port', '0', '--read-only', '--time-scale', '0.05']);
    const { client, call } = await connect(s.url);
    const tools = (await client.listTools()).tools;
    expect(tools.length).toBe(11);
    expect(tools.every((t) => t.annotations?.readOnlyHint)).toBe(true);
    const refused = await call('vm_delete', { vmId: 85561 });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/read-only mode/);
    const health = await request(s.url.replace('/mcp', '/healthz'));
    expect(await health.body.json()).toMatchObject({ status: 'ok', readOnly: true, mode: 'sandbox' });
    await client.close();
  });

  it('toolsets and exclusions from the environment, stateless too', async () => {
    const s = await start(['--http', '--stateless', '--sandbox', '--port', '0'], {
      FLOPS_TOOLSETS: 'catalog,power',
      FLOPS_EXCLUDE_TOOLS: 'vm_reset',
    });
    const { client, call } = await connect(s.url);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual([
      'tenant_list',
      'vm_start',
      'vm_reboot',
      'vm_poweroff',
      'vm_shutdown',
      'distribution_list',
      'software_list',
      'tariff_list',
      'wait_for_operation',
      // Stateless: the client's capabilities are unknown, so the dashboard's app-only tool stays.
      'fleet_status',
    ]);
    expect(text(await call('vm_reset', { vmId: 85561 }))).toMatch(/not enabled/);
    await client.close();
  });

  it('an unknown toolset stops the server at start with the valid names', async () => {
    const { code, stderr: err } = await exitOf(['--http', '--sandbox', '--toolsets', 'vms,storage']);
    expect(code).toBe(2);
    expect(err).toMatch(/unknown toolset: storage.*catalog, vms, power/);
  });
});

describe('confirmation over HTTP', () => {
  it('stateful: the user is asked; accept runs, decline and cancel send nothing', async () => {
    const s = await start(['--http', '--sandbox', '--port', '0', '--time-scale', '0.05']);
    const yes = await connect(s.url, { elicit: 'accept' });
    const vmId = await newVm(yes.call);
    expect((await yes.call('vm_delete', { vmId, wait: true })).isError).toBeFalsy();
    expect(yes.asked[0]).toMatch(new RegExp(`VM ${vmId} \\(name "http-doomed".*DELETED`));
    for (const action of ['decline', 'cancel'] as const) {
      const c = await connect(s.url, { elicit: action });
      const r = await c.call('vm_reset', { vmId: 85561 });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/Nothing was sent to the provider/);
      expect(c.asked).toHaveLength(1);
      await c.client.close();
    }
    const vm = JSON.parse(text(await yes.call('vm_get', { vmId: 85561 }))).vm as { state: string };
    expect(vm.state).toBe('VIR_DOMAIN_RUNNING');
    await yes.client.close();
  });

  it('required: refused for a client that cannot ask, and always in stateless mode', async () => {
    const stateful = await start(['--http', '--sandbox', '--port', '0', '--confirm', 'required']);
    const mute = await connect(stateful.url);
    expect(text(await mute.call('vm_delete', { vmId: 85561 }))).toMatch(/FLOPS_CONFIRM=required/);
    await mute.client.close();
    const stateless = await start(['--http', '--stateless', '--sandbox', '--port', '0'], {
      FLOPS_CONFIRM: 'required',
    });
    const asker = await connect(stateless.url, { elicit: 'accept' });
    expect(text(await asker.call('vm_delete', { vmId: 85561 }))).toMatch(/cannot ask its user/);
    expect(asker.asked).toHaveLength(0);
    await asker.client.close();
  });

  it('elicit in stateless mode proceeds (the client approval is the gate)', async () => {
    const s = await start(['--http', '--stateless', '--sandbox', '--port', '0', '--time-scale', '0.05']);
    const c = await connect(s.url, { elicit: 'decline' });
    const vmId = await newVm(c.call);
    expect((await c.call('vm_delete', { vmId })).isError).toBeFalsy();
    expect(c.asked).toHaveLength(0);
    await c.client.close();
  });
});

describe('exposed beyond loopback', () => {
  it('refuses to start on 0.0.0.0 without FLOPS_MCP_TOKEN', async () => {
    const { code, stderr: err } = await exitOf(['--http', '--sandbox', '--host', '0.0.0.0', '--port', '0']);
    expect(code).toBe(2);
    expect(err).toMatch(/FLOPS_MCP_TOKEN/);
  });

  it('--auth oauth refuses to start without its key, without --http, or beyond loopback without a public URL', async () => {
    const key = { FLOPS_MCP_AUTH_KEY: Buffer.alloc(32, 9).toString('base64') };
    const noKey = await exitOf(['--http', '--auth', 'oauth', '--port', '0']);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/FLOPS_MCP_AUTH_KEY/);
    const noHttp = await exitOf(['--auth', 'oauth', '--sandbox'], key);
    expect(noHttp.code).toBe(2);
    expect(noHttp.stderr).toMatch(/--http/);
    const noUrl = await exitOf(['--http', '--auth', 'oauth', '--host', '0.0.0.0', '--port', '0'], key);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/FLOPS_MCP_PUBLIC_URL/);
    const badUrl = await exitOf(['--http', '--auth', 'oauth', '--port', '0'], {
      ...key,
      FLOPS_MCP_PUBLIC_URL: 'https://mcp.example.com/some/path',
    });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/origin or its \/mcp/);
  });

  it('with a token: no or wrong bearer → 401, foreign Origin → 403, right bearer works', async () => {
    const token = 'tok-3f9a1c7e5b2d4608';
    const s = await start(['--http', '--sandbox', '--host', '0.0.0.0', '--port', '0'], {
      FLOPS_MCP_TOKEN: token,
    });
    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    });
    const post = (headers: Record<string, string>) =>
      request(s.url, {
        method: 'POST',
        body: init,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      });
    const none = await post({});
    expect(none.statusCode).toBe(401);
    await none.body.text();
    const wrong = await post({ authorization: `Bearer ${token.replace('f', 'e')}` });
    expect(wrong.statusCode).toBe(401);
    await wrong.body.text();
    const foreign = await post({ authorization: `Bearer ${token}`, origin: 'https://evil.example' });
    expect(foreign.statusCode).toBe(403);
    await foreign.body.text();
    const c = await connect(s.url, { headers: { authorization: `Bearer ${token}` } });
    expect((await c.client.listTools()).tools).toHaveLength(39);
    await c.client.close();
    expect(s.stderr()).not.toContain(token);
  });
});

describe('secrets and the audit log over HTTP', () => {
  it('never writes a marker secret anywhere, and audits every write', async () => {
    const KEY = 'MARKER-KEY-c41d7a';
    const TOKEN = 'MARKER-TOKEN-9be2f0a1';
    const PASS = 'Marker-Pass-33';
    const dir = mkdtempSync(join(tmpdir(), 'flops-http-audit-'));
    const audit = join(dir, 'audit.jsonl');
    const sandbox = await startSandboxProcess(['--time-scale', '0.05', '--api-key', KEY]);
    running.push(sandbox);
    const s = await start(['--http', '--port', '0'], {
      FLOPS_API_URL: sandbox.url,
      FLOPS_CLIENT_ID: 'sandbox',
      FLOPS_API_KEY: KEY,
      FLOPS_MCP_TOKEN: TOKEN,
      FLOPS_AUDIT_LOG: audit,
      FLOPS_TENANT_ID: '111',
      FLOPS_CONFIRM: 'off',
    });
    const c = await connect(s.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    const seen: string[] = [];
    const progress: string[] = [];
    const call = async (name: string, args: Record<string, unknown>) => {
      const r = (await c.client.callTool({ name, arguments: args }, undefined, {
        onprogress: (p) => void progress.push(JSON.stringify(p)),
      })) as CallToolResult;
      seen.push(JSON.stringify(r));
      return r;
    };
    const vmId = await newVm((n, a) => call(n, { ...a, password: PASS }));
    await call('vm_password_change', { vmId, password: PASS, wait: true });
    await call('vm_password_change', { vmId, password: 'nope' });
    await call('vm_reinstall', { vmId, password: PASS, distribution: 'ubuntu 14.04', wait: true });
    await call('vm_delete', { vmId, wait: true });
    await c.client.close();
    expect(progress.length).toBeGreaterThan(0);
    await s.stop();
    await sandbox.stop();

    const lines = readAudit(audit);
    expect(lines.map((l) => [l.tool, l.outcome])).toEqual([
      ['vm_install', 'ok'],
      ['vm_password_change', 'ok'],
      ['vm_password_change', 'refused'],
      ['vm_reinstall', 'ok'],
      ['vm_delete', 'ok'],
    ]);
    for (const line of lines) {
      expect(line).toMatchObject({ vmId, clientId: 'sandbox' });
      if (line.outcome === 'ok') expect(typeof line.operationId).toBe('number');
    }
    expect(lines[0]!.args).toMatchObject({ password: '[REDACTED]' });
    // The sandbox prints its own credentials by design; everything flops-mcp wrote is searched.
    const everything = [...seen, ...progress, s.stderr(), readFileSync(audit, 'utf8')].join('\n');
    expect(s.stderr()).toMatch(/tool vm_install/);
    for (const secret of [KEY, TOKEN, PASS]) expect(everything).not.toContain(secret);
  });
});
