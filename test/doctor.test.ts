/**
 * `flops-mcp doctor` with good, bad and missing credentials, against a real sandbox over HTTP.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../src/doctor.js';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';

const KEY = 'DOCTOR-MARKER-KEY-88';
let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, apiKey: KEY, clientId: 'doc' });
});
afterAll(() => sandbox.close());

async function doctor(argv: string[], env: Record<string, string>) {
  const lines: string[] = [];
  const code = await runDoctor(argv, env, (line) => void lines.push(line));
  return { code, out: lines.join('\n') };
}

describe('flops-mcp doctor', () => {
  it('passes with good credentials, lists the tenants and the latency, never shows the key', async () => {
    const { code, out } = await doctor([], {
      FLOPS_API_URL: sandbox.url,
      FLOPS_CLIENT_ID: 'doc',
      FLOPS_API_KEY: KEY,
      FLOPS_TENANT_ID: '10081',
    });
    expect(code).toBe(0);
    expect(out).toMatch(/✓ credentials present — clientId doc, API key set \(20 characters, not shown\)/);
    expect(out).toMatch(/✓ provider reachable, credentials accepted \(\d+ ms\)/);
    expect(out).toMatch(/4 tenants — 10081 "По умолчанию"/);
    expect(out).toMatch(/All good/);
    expect(out).not.toContain(KEY);
  });

  it('fails on rejected credentials with a fix', async () => {
    const { code, out } = await doctor([], {
      FLOPS_API_URL: sandbox.url,
      FLOPS_CLIENT_ID: 'doc',
      FLOPS_API_KEY: 'wrong-key',
    });
    expect(code).toBe(1);
    expect(out).toMatch(
      /✗ credentials rejected by the provider \(error\.not\.owner\)\n {4}fix: check FLOPS_CLIENT_ID/,
    );
    expect(out).not.toContain('wrong-key');
  });

  it('fails on missing credentials, naming the variables', async () => {
    const { code, out } = await doctor([], {});
    expect(code).toBe(1);
    expect(out).toMatch(/✗ credentials missing: FLOPS_CLIENT_ID, FLOPS_API_KEY not set/);
    expect(out).toMatch(/--sandbox/);
  });

  it('flags a tenant that is not the account’s, an unwritable audit log, and bad flags', async () => {
    const env = { FLOPS_API_URL: sandbox.url, FLOPS_CLIENT_ID: 'doc', FLOPS_API_KEY: KEY };
    const tenant = await doctor([], { ...env, FLOPS_TENANT_ID: '424242' });
    expect(tenant.code).toBe(1);
    expect(tenant.out).toMatch(
      /FLOPS_TENANT_ID 424242 is not a tenant of this account\n {4}fix: set it to one of 10081/,
    );
    const audit = await doctor(['--audit-log', '/nonexistent-dir/audit.jsonl'], env);
    expect(audit.out).toMatch(/✗ audit log not writable/);
    const flags = await doctor(['--toolsets', 'nope'], env);
    expect(flags.code).toBe(1);
    expect(flags.out).toMatch(/configuration is invalid — unknown toolset: nope/);
  });

  it('reports the safety mode and tools', async () => {
    const { out } = await doctor(['--sandbox', '--read-only'], {});
    expect(out).toMatch(/✓ 11 tools enabled/);
    expect(out).toMatch(/safety: read-only/);
    const off = await doctor(['--sandbox', '--confirm', 'off'], {});
    expect(off.out).toMatch(/! safety: .*confirmed: off\n {4}fix: FLOPS_CONFIRM=off/);
    expect(off.code).toBe(0);
  });

  it('runs from the built CLI', async () => {
    const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOPS_')));
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'doctor', '--sandbox'], { env });
    expect(stdout).toMatch(/✓ sandbox mode/);
    expect(stdout).toMatch(/All good/);
  });
});
