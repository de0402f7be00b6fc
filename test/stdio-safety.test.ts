/**
 * The safety options over stdio, through the built CLI as an MCP client starts it: read-only
 * mode, exclusions, confirmation by elicitation, the audit log and marker secrets.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { type CallToolResult, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startSandbox } from '../src/sandbox/index.js';
import { readAudit } from './helpers.js';

const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k, v]) => !k.startsWith('FLOPS_') && v !== undefined),
) as Record<string, string>;

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((close) => close()));
});

async function stdio(args: string[], env: Record<string, string> = {}, elicit?: 'accept' | 'decline') {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, ...args],
    env: { ...baseEnv, FLOPS_LOG_LEVEL: 'debug', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const client = new Client(
    { name: 'stdio-safety', version: '1' },
    { capabilities: elicit ? { elicitation: {} } : {} },
  );
  const asked: string[] = [];
  if (elicit) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params.message);
      return elicit === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
    });
  }
  await client.connect(transport);
  open.push(() => client.close());
  const outputs: string[] = [];
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const r = (await client.callTool({ name, arguments: args })) as CallToolResult;
    outputs.push(JSON.stringify(r));
    return r;
  };
  return { client, call, asked, outputs, stderr: () => stderr };
}

const text = (r: CallToolResult) => (r.content[0] as { text: string }).text;

describe('safety over stdio', () => {
  it('read-only: only reads listed, writes refused', async () => {
    const s = await stdio(['--sandbox', '--read-only']);
    const tools = (await s.client.listTools()).tools;
    expect(tools.every((t) => t.annotations?.readOnlyHint)).toBe(true);
    expect(tools).toHaveLength(11);
    expect(text(await s.call('vm_poweroff', { vmId: 85561 }))).toMatch(/read-only mode/);
    expect(s.client.getInstructions()).toMatch(/READ-ONLY/);
  });

  it('--no-destructive and --exclude-tools', async () => {
    const s = await stdio(['--sandbox', '--no-destructive', '--exclude-tools', 'vm_install,vm_clone']);
    const names = (await s.client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('vm_delete');
    expect(names).not.toContain('vm_install');
    expect(names).toContain('vm_rename');
    expect(names).toHaveLength(39 - 11 - 2);
  });

  it('asks before a destructive call; a decline sends nothing', async () => {
    const s = await stdio(['--sandbox'], {}, 'decline');
    const r = await s.call('vm_delete', { vmId: 85561 });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/declined.*Nothing was sent/s);
    expect(s.asked[0]).toMatch(/VM 85561 \(name "ubuntu", IP 185\.22\.60\.228\).*DELETED/);
    const vm = JSON.parse(text(await s.call('vm_get', { vmId: 85561 }))).vm as { id: number };
    expect(vm.id).toBe(85561);
  });

  it('audits writes and never writes a marker secret', async () => {
    const KEY = 'MARKER-STDIO-KEY-5e1c';
    const PASS = 'Marker-Stdio-77';
    const sandbox = await startSandbox({ port: 0, timeScale: 0.05, apiKey: KEY });
    open.push(() => sandbox.close());
    const dir = mkdtempSync(join(tmpdir(), 'flops-stdio-audit-'));
    const audit = join(dir, 'audit.jsonl');
    const s = await stdio([], {
      FLOPS_API_URL: sandbox.url,
      FLOPS_CLIENT_ID: sandbox.clientId,
      FLOPS_API_KEY: KEY,
      FLOPS_AUDIT_LOG: audit,
      FLOPS_TENANT_ID: '111',
    });
    const installed = await s.call('vm_install', {
      distribution: 'debian',
      tariff: 'Облачный 512',
      password: PASS,
      wait: true,
    });
    const vmId = (JSON.parse(text(installed)).vm as { id: number }).id;
    await s.call('vm_password_change', { vmId, password: PASS, wait: true });
    sandbox.faults.add({ kind: 'http-error', status: 502, tool: 'vm_rename', times: 1 });
    await s.call('vm_rename', { vmId, name: 'x' });
    await s.call('vm_delete', { vmId, wait: true });
    await s.client.close();
    const lines = readAudit(audit);
    expect(lines.map((l) => [l.tool, l.outcome, l.confirmation])).toEqual([
      ['vm_install', 'ok', 'not-asked'],
      ['vm_password_change', 'ok', 'not-asked'],
      ['vm_rename', 'error', 'not-asked'],
      ['vm_delete', 'ok', 'not-asked'],
    ]);
    const everything = [...s.outputs, s.stderr(), readFileSync(audit, 'utf8')].join('\n');
    expect(s.stderr()).toMatch(/tool vm_rename failed/);
    for (const secret of [KEY, PASS]) expect(everything).not.toContain(secret);
  });
});
