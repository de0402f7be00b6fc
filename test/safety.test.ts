/**
 * Safety over a real MCP Client (in memory): tool selection and read-only mode, confirmation of
 * destructive tools by elicitation in each mode, the audit log, and secrets that never leak.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { TOOLSETS, type ToolName } from '../src/api/operations.js';
import { parseConfig, UsageError } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { AuditLog } from '../src/mcp/audit.js';
import { buildToolSpecs, selectTools } from '../src/mcp/tools.js';
import { type Harness, harness, json, readAudit, text } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const names = (selection: Parameters<typeof selectTools>[1]) =>
  selectTools(buildToolSpecs(), selection).map((t) => t.name);

describe('tool selection', () => {
  it('selects by toolset, adds tools, and lets exclusions win', () => {
    expect(names({ toolsets: ['catalog'] })).toEqual([
      'tenant_list',
      'distribution_list',
      'software_list',
      'tariff_list',
    ]);
    const power = names({ toolsets: ['power'] });
    expect(power).toEqual([
      'vm_start',
      'vm_reset',
      'vm_reboot',
      'vm_poweroff',
      'vm_shutdown',
      'wait_for_operation',
    ]);
    expect(names({ toolsets: ['catalog'], tools: ['vm_get'] })).toContain('vm_get');
    expect(names({ toolsets: ['power'], tools: ['vm_reset'], excludeTools: ['vm_reset'] })).not.toContain(
      'vm_reset',
    );
    expect(names({ excludeTools: ['wait_for_operation'] })).not.toContain('wait_for_operation');
    expect(names({})).toHaveLength(39);
  });

  it('derives read-only and no-destructive from the annotations', () => {
    const all = buildToolSpecs();
    expect(names({ readOnly: true })).toEqual(
      all.filter((t) => t.annotations.readOnlyHint).map((t) => t.name),
    );
    expect(names({ noDestructive: true })).toEqual(
      all.filter((t) => !t.annotations.destructiveHint).map((t) => t.name),
    );
    expect(names({ readOnly: true, tools: ['vm_delete'] })).not.toContain('vm_delete');
  });

  it('rejects unknown names at startup with the valid ones', () => {
    expect(() => parseConfig(['--toolsets', 'catalog,nope'], {})).toThrow(UsageError);
    expect(() => parseConfig(['--toolsets', 'nope'], {})).toThrow(new RegExp(TOOLSETS.join(', ')));
    expect(() => parseConfig([], { FLOPS_EXCLUDE_TOOLS: 'vm_explode' })).toThrow(
      /unknown tool: vm_explode.*vm_list/,
    );
    expect(() => parseConfig([], { FLOPS_CONFIRM: 'maybe' })).toThrow(/elicit, required or off/);
    const config = parseConfig([], { FLOPS_READ_ONLY: '1', FLOPS_TOOLSETS: 'vms,power' });
    expect(config).toMatchObject({ readOnly: true, toolsets: ['vms', 'power'] });
    expect(parseConfig(['--toolsets', 'keys'], { FLOPS_TOOLSETS: 'vms' })).toMatchObject({
      toolsets: ['keys'],
    });
  });
});

describe('read-only mode', () => {
  it('lists only read tools and refuses writes called anyway, sending nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flops-audit-'));
    const audit = new AuditLog(join(dir, 'audit.jsonl'));
    h = await harness({ server: { selection: { readOnly: true }, audit } });
    const tools = (await h.mcp.listTools()).tools;
    expect(tools.every((t) => t.annotations?.readOnlyHint)).toBe(true);
    expect(tools.map((t) => t.name)).not.toContain('vm_delete');
    const before = h.sandbox.requests.total;
    const result = await h.call('vm_delete', { vmId: 85561 });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/read-only mode/);
    expect(h.sandbox.requests.total).toBe(before);
    expect(h.mcp.getInstructions()).toMatch(/READ-ONLY/);
    expect((await h.call('vm_get', { vmId: 85561 })).isError).toBeFalsy();
    await audit.close();
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toMatchObject([{ tool: 'vm_delete', outcome: 'refused' }]);
  });

  it('refuses a tool outside the enabled toolsets with a reason', async () => {
    h = await harness({ server: { selection: { toolsets: ['catalog'] } } });
    const result = await h.call('vm_get', { vmId: 85561 });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/not enabled/);
  });
});

type Answer = { action: 'accept' | 'decline' | 'cancel'; content?: Record<string, unknown> };

async function withElicitation(confirm: 'elicit' | 'required' | 'off', answer: Answer | undefined) {
  const asked: string[] = [];
  h = await harness({
    server: { confirm },
    ...(answer ? { capabilities: { elicitation: {} } } : {}),
  });
  if (answer) {
    h.mcp.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return answer;
    });
  }
  return asked;
}

async function newVm(hh: Harness): Promise<number> {
  const r = await hh.call('vm_install', {
    tenantId: 111,
    name: 'doomed',
    distribution: 'debian',
    tariff: 'Облачный 512',
    password: 'Secret-pass1',
    wait: true,
  });
  return (json(r).vm as { id: number }).id;
}

describe('confirmation of destructive tools', () => {
  it('elicit: asks with concrete terms and proceeds when the user accepts', async () => {
    const asked = await withElicitation('elicit', { action: 'accept', content: { confirm: true } });
    const vmId = await newVm(h!);
    const result = await h!.call('vm_delete', { vmId, wait: true });
    expect(result.isError, text(result)).toBeFalsy();
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(
      new RegExp(`VM ${vmId} \\(name "doomed", IP \\d+\\.\\d+\\.\\d+\\.\\d+\\).*DELETED`),
    );
  });

  it('shows what a backup rollback and a key change lose', async () => {
    const asked = await withElicitation('elicit', { action: 'decline' });
    await h!.call('vm_backup_rollback', {
      vmId: 85561,
      backup: 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4',
    });
    await h!.call('vm_pubkey_change', { vmId: 85561, keyIds: [2] });
    expect(asked[0]).toMatch(/ALL SNAPSHOTS ARE DELETED/);
    expect(asked[0]).toMatch(/VM 85561 \(name "ubuntu"/);
    expect(asked[1]).toMatch(/authorized_keys is REPLACED by the keys 2/);
  });

  it('a snapshot or backup the VM does not have: its candidates, before any question, nothing sent', async () => {
    const asked = await withElicitation('elicit', { action: 'accept', content: { confirm: true } });
    const cases = [
      {
        tool: 'vm_snapshot_rollback',
        args: { vmId: 85561, snapshotId: 1357 },
        says: /snapshotId: VM 85561 has no snapshot 1357\. Its snapshots: 2206 "my-snapshot"\./,
        candidates: [2206],
      },
      {
        tool: 'vm_snapshot_delete',
        args: { vmId: 85662, snapshotId: 2206 },
        says: /VM 85662 has no snapshot 2206\. It has no snapshots/,
        candidates: [],
      },
      {
        tool: 'vm_backup_rollback',
        args: { vmId: 85561, backup: 'nope.lz4' },
        says: /backup: VM 85561 has no backup "nope\.lz4"\. Its backups: "diff-backupsnap20141019011721/,
        candidates: ['diff-backupsnap20141019011721-backupsnap20141022015414.lz4'],
      },
    ];
    for (const { tool, args, says, candidates } of cases) {
      const result = await h!.call(tool, args);
      expect(result.isError, tool).toBe(true);
      expect(text(result)).toMatch(says);
      const error = (result.structuredContent as { error: { candidates: { id: unknown }[] } }).error;
      expect(error.candidates.map((c) => c.id)).toEqual(candidates);
      expect(h!.sandbox.requests.count(tool as ToolName)).toBe(0);
    }
    expect(asked).toHaveLength(0);
    // The snapshot it has: asked, then sent.
    const ok = await h!.call('vm_snapshot_rollback', { vmId: 85561, snapshotId: 2206, wait: true });
    expect(ok.isError, text(ok)).toBeFalsy();
    expect(asked).toHaveLength(1);
    expect(h!.sandbox.requests.count('vm_snapshot_rollback')).toBe(1);
  });

  for (const action of ['decline', 'cancel'] as const) {
    it(`elicit: ${action} sends nothing to the provider`, async () => {
      await withElicitation('elicit', { action });
      const before = h!.sandbox.requests.count('vm_delete');
      const result = await h!.call('vm_delete', { vmId: 85561 });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(action === 'cancel' ? /cancelled/ : /declined/);
      expect(text(result)).toMatch(/Nothing was sent/);
      expect(h!.sandbox.requests.count('vm_delete')).toBe(before);
    });
  }

  it('elicit: accepting without ticking confirm counts as declining', async () => {
    await withElicitation('elicit', { action: 'accept', content: { confirm: false } });
    const result = await h!.call('vm_reset', { vmId: 85561 });
    expect(text(result)).toMatch(/declined/);
    expect(h!.sandbox.requests.count('vm_reset')).toBe(0);
  });

  it('elicit: a client that cannot ask proceeds (its own approval is the gate)', async () => {
    await withElicitation('elicit', undefined);
    const vmId = await newVm(h!);
    expect((await h!.call('vm_delete', { vmId })).isError).toBeFalsy();
    expect(h!.sandbox.requests.count('vm_delete')).toBe(1);
  });

  it('required: a client that cannot ask is refused, nothing sent', async () => {
    await withElicitation('required', undefined);
    const result = await h!.call('vm_delete', { vmId: 85561 });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/FLOPS_CONFIRM=required/);
    expect(h!.sandbox.requests.count('vm_delete')).toBe(0);
  });

  it('required: a client that can ask is asked', async () => {
    const asked = await withElicitation('required', { action: 'accept', content: { confirm: true } });
    const vmId = await newVm(h!);
    expect((await h!.call('vm_delete', { vmId })).isError).toBeFalsy();
    expect(asked).toHaveLength(1);
  });

  it('off: never asks', async () => {
    const asked = await withElicitation('off', { action: 'decline' });
    const vmId = await newVm(h!);
    expect((await h!.call('vm_delete', { vmId })).isError).toBeFalsy();
    expect(asked).toHaveLength(0);
  });

  it('does not ask for non-destructive writes', async () => {
    const asked = await withElicitation('required', { action: 'decline' });
    expect((await h!.call('vm_rename', { vmId: 85561, name: 'renamed' })).isError).toBeFalsy();
    expect(asked).toHaveLength(0);
  });
});

describe('audit log and secrets', () => {
  it('writes one redacted line per write with confirmation, outcome and operationId; no secret anywhere', async () => {
    const KEY = 'MARKER-APIKEY-7f3a';
    const PASS = 'Marker-Pass-91';
    const PASS2 = 'Marker-Other-82';
    const dir = mkdtempSync(join(tmpdir(), 'flops-audit-'));
    const auditPath = join(dir, 'audit.jsonl');
    const audit = new AuditLog(auditPath);
    const logLines: string[] = [];
    const log = createLogger({ level: 'debug', secrets: [KEY], write: (line) => void logLines.push(line) });
    h = await harness({
      sandbox: { apiKey: KEY, clientId: 'marker-client' },
      server: { audit, log, confirm: 'off' },
    });
    const outputs: string[] = [];
    const record = async (name: string, args: Record<string, unknown>) => {
      const r = await h!.call(name, args);
      outputs.push(JSON.stringify(r));
      return r;
    };
    const installed = json(
      await record('vm_install', {
        tenantId: 111,
        name: 'audited',
        distribution: 'debian',
        tariff: 'Облачный 512',
        password: PASS,
        wait: true,
      }),
    );
    const vmId = (installed.vm as { id: number }).id;
    await record('vm_password_change', { vmId, password: PASS2, wait: true });
    await record('vm_password_change', { vmId, password: 'bad' });
    await record('vm_reinstall', { vmId, distribution: 'centos', password: PASS, wait: true });
    h.sandbox.faults.add({ kind: 'reset', tool: 'vm_password_change', times: 1 });
    await record('vm_password_change', { vmId, password: PASS2 });
    h.sandbox.faults.add({ kind: 'http-error', status: 500, tool: 'vm_get', times: 5 });
    await record('vm_get', { vmId });
    await record('vm_delete', { vmId, wait: true });
    await audit.close();

    const lines = readAudit(auditPath);
    expect(lines.map((l) => [l.tool, l.outcome])).toEqual([
      ['vm_install', 'ok'],
      ['vm_password_change', 'ok'],
      ['vm_password_change', 'refused'],
      ['vm_reinstall', 'ok'],
      ['vm_password_change', 'error'],
      ['vm_delete', 'ok'],
    ]);
    expect(lines[0]).toMatchObject({ vmId, confirmation: 'not-asked', args: { password: '[REDACTED]' } });
    expect(typeof lines[0]!.operationId).toBe('number');
    expect(lines[5]).toMatchObject({ vmId, confirmation: 'off' });
    for (const line of lines) expect(typeof line.time).toBe('string');

    const everything = [...outputs, ...logLines, readFileSync(auditPath, 'utf8')].join('\n');
    expect(logLines.length).toBeGreaterThan(0);
    for (const secret of [KEY, PASS, PASS2]) expect(everything).not.toContain(secret);
  });
});
