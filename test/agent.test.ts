/**
 * What an agent deciding from results alone needs: dry runs that send nothing, servers the operator
 * protects, no-op power actions that say so, provider refusals explained in English with the way
 * out, and the VM id of an operation that outlives its wait. The sandbox's request counters are the
 * witness that nothing was sent.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlopsClient } from '../src/api/client.js';
import { OPERATIONS } from '../src/api/operations.js';
import { type Harness, harness, text } from './helpers.js';

type Json = Record<string, unknown>;

/** Requests that change something (every method but the reads). */
const writes = (h: Harness) =>
  OPERATIONS.filter((o) => o.profile !== 'read').reduce((n, o) => n + h.sandbox.requests.count(o.tool), 0);

describe('dry runs', () => {
  let h: Harness;
  const asked: string[] = [];
  beforeAll(async () => {
    h = await harness({ capabilities: { elicitation: {} } });
    const { ElicitRequestSchema } = await import('@modelcontextprotocol/sdk/types.js');
    h.mcp.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params.message);
      return { action: 'accept', content: { confirm: true } };
    });
  });
  afterAll(() => h.close());

  it('plan a change as before → after, with the request, restart and undo, and send nothing', async () => {
    const r = await h.call('vm_memory_change', { vmId: 85561, memory: 1024, dryRun: true });
    expect(r.isError, text(r)).toBeFalsy();
    expect(r.structuredContent).toMatchObject({
      dryRun: true,
      plan: {
        tool: 'vm_memory_change',
        request: {
          method: 'GET',
          path: 'vm/85561/memory_change/',
          params: { memory: '1024', tenantId: '111' },
        },
        changes: [{ field: 'memory', before: 512, after: 1024 }],
        destroys: null,
        undo: expect.stringMatching(/vm_memory_change back/),
        confirmation: 'not needed',
      },
    });
    expect(writes(h)).toBe(0);
  });

  it('plan a destructive change with what is lost, without asking; secrets are masked', async () => {
    const r = await h.call('vm_reinstall', {
      vmId: 85561,
      distributionId: 216,
      password: 'Secret-pass1',
      dryRun: true,
    });
    const plan = (r.structuredContent as { plan: Json }).plan;
    expect(plan).toMatchObject({
      destroys: expect.stringMatching(/^Reinstall .*VM 85561 \(name "ubuntu"/),
      restarts: 'always',
      undo: null,
      confirmation: 'asked first',
    });
    expect(JSON.stringify(r)).not.toContain('Secret-pass1');
    expect(asked).toHaveLength(0);
    expect(writes(h)).toBe(0);
  });

  it('is offered on every write tool and on no read tool', async () => {
    const { tools } = await h.mcp.listTools();
    for (const tool of tools) {
      const row = OPERATIONS.find((o) => o.tool === tool.name);
      const properties = (tool.inputSchema as { properties?: Json }).properties ?? {};
      expect('dryRun' in properties, tool.name).toBe(row !== undefined && row.profile !== 'read');
    }
  });
});

describe('answers an agent can act on', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ server: { protect: ['prod-*', '88534'] } });
  });
  afterAll(() => h.close());

  it('refuses a destructive tool on a protected VM with the rule, in dry runs too, and sends nothing', async () => {
    const byId = await h.call('vm_delete', { vmId: 88534 });
    expect(byId.structuredContent).toMatchObject({
      error: { kind: 'refused', code: 'protected' },
      rule: '88534',
    });
    await h.call('vm_rename', { vmId: 85561, name: 'prod-web', wait: true });
    const byName = await h.call('vm_reset', { vmId: 85561, dryRun: true });
    expect(byName.structuredContent).toMatchObject({ error: { code: 'protected' }, rule: 'prod-*' });
    expect(text(byName)).toMatch(/protected by the operator's rule "prod-\*"/);
    // Not destructive: allowed.
    expect((await h.call('vm_reboot', { vmId: 85561, dryRun: true })).isError).toBeFalsy();
    expect(h.sandbox.requests.count('vm_delete') + h.sandbox.requests.count('vm_reset')).toBe(0);
    await h.call('vm_rename', { vmId: 85561, name: 'ubuntu', wait: true });
  });

  it('says a VM is already running instead of starting it, and sends nothing', async () => {
    const r = await h.call('vm_start', { vmId: 85561 });
    expect(r.structuredContent).toMatchObject({
      status: 'ALREADY',
      state: 'VIR_DOMAIN_RUNNING',
      vmId: 85561,
    });
    expect(h.sandbox.requests.count('vm_start')).toBe(0);
  });

  it('explains a provider refusal in English, names the tool called, and keeps the provider text as data', async () => {
    const r = await h.call('wait_for_operation', { operationId: 999999 });
    expect(text(r)).toMatch(
      /^wait_for_operation was refused by Flops \(while calling the provider's operation_get\): the object named in the call does not exist/,
    );
    expect(r.structuredContent).toMatchObject({
      error: { kind: 'provider', code: expect.stringMatching(/not\.found/) },
    });
  });

  it('names the way out of a fixed tariff', async () => {
    const fixed = await h.call('vm_tariff_change', { vmId: 85662, tariff: 'Облачный 1024', wait: true });
    expect(fixed.isError, text(fixed)).toBeFalsy();
    const r = await h.call('vm_memory_change', { vmId: 85662, memory: 2048 });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/vm_tariff_change|on-demand/);
  });

  it('returns the VM id with the operation id when an install outlives its wait', async () => {
    const slow = await harness({ timeScale: 50, server: { defaultTenantId: 111 } });
    try {
      const r = await slow.call('wait_for_operation', {
        operationId: (
          (
            await slow.call('vm_install', {
              distribution: 'Debian 7.6 x64',
              tariff: 'Облачный 1024',
              name: 'slow',
            })
          ).structuredContent as Json
        )['operationId'] as number,
        timeoutSeconds: 1,
      });
      expect(r.structuredContent).toMatchObject({
        finished: false,
        operationId: expect.any(Number),
        vmId: expect.any(Number),
      });
    } finally {
      await slow.close();
    }
  });
});

describe('a restore point before a risky change', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ server: { safetySnapshots: true } });
  });
  afterAll(() => h.close());

  it('takes a snapshot named for the change, waits for it, and names the call that undoes it', async () => {
    const r = await h.call('vm_disk_change', { vmId: 85662, disk: 40960, wait: true });
    expect(r.isError, text(r)).toBeFalsy();
    const restore = (r.structuredContent as { safetySnapshot: { id: number; name: string; undo: string } })
      .safetySnapshot;
    expect(restore.name).toMatch(/^before-disk-change-/);
    expect(restore.undo).toBe(`vm_snapshot_rollback with vmId 85662 and snapshotId ${restore.id}`);
    const snapshots = await h.flops.call('vm_snapshot_list', { vmId: 85662 });
    expect(snapshots.map((s) => s.name)).toContain(restore.name);
  });

  it('says so instead where the change deletes the snapshots anyway', async () => {
    const before = h.sandbox.requests.count('vm_snapshot_create');
    const r = await h.call('vm_delete', { vmId: 88534 });
    const all = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
    expect(all).toMatch(/No safety snapshot: vm_delete deletes the VM's snapshots anyway/);
    expect(h.sandbox.requests.count('vm_snapshot_create')).toBe(before);
  });

  it('stops the change when the snapshot cannot be taken', async () => {
    h.sandbox.faults.add({
      kind: 'api-error',
      tool: 'vm_snapshot_create',
      errorCode: 'vm.snapshot.limit.exceed',
    });
    const r = await h.call('vm_tariff_change', { vmId: 85662, tariffId: 20 });
    expect(r.structuredContent).toMatchObject({ error: { kind: 'refused', code: 'safety-snapshot-failed' } });
    expect(h.sandbox.requests.count('vm_tariff_change')).toBe(0);
  });
});

describe('operator scope (FLOPS_ALLOW_VMS / FLOPS_ALLOW_TENANTS)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ client: { scope: { vms: [85561, 85662] } } });
  });
  afterAll(() => h.close());

  it('shows only the allowed VMs in lists, resources and completions, and refuses others as not found', async () => {
    const list = await h.call('vm_list');
    expect((list.structuredContent as { vms: { id: number }[] }).vms.map((v) => v.id).sort()).toEqual([
      85561, 85662,
    ]);
    const resources = (await h.mcp.listResources()).resources.map((r) => r.uri);
    expect(resources).not.toContain('flops://vms/88534');
    const completion = await h.mcp.complete({
      ref: { type: 'ref/resource', uri: 'flops://vms/{vmId}' },
      argument: { name: 'vmId', value: '8' },
    });
    expect(completion.completion.values.sort()).toEqual(['85561', '85662']);
    const outside = await h.call('vm_reboot', { vmId: 88534 });
    expect(outside.structuredContent).toMatchObject({
      error: { kind: 'provider', code: 'error.vm.not.found' },
    });
    expect(h.sandbox.requests.count('vm_reboot')).toBe(0);
    await expect(h.mcp.readResource({ uri: 'flops://vms/88534' })).rejects.toThrow(/not found/);
  });

  it('does not show an operation on a VM outside the scope', async () => {
    // Another agent of the same account, without the scope, reboots a VM outside it.
    const other = new FlopsClient({
      baseUrl: h.sandbox.url,
      clientId: h.sandbox.clientId,
      apiKey: h.sandbox.apiKey,
    });
    const { operationId } = (await other.call('vm_reboot', { vmId: 88534, tenantId: 111 })) as {
      operationId: number;
    };
    await other.close();
    const read = await h.call('operation_get', { operationId });
    expect(read.structuredContent).toMatchObject({
      error: { kind: 'provider', code: 'error.object.not.found' },
    });
    const inside = await h.call('vm_reboot', { vmId: 85561 });
    const own = (inside.structuredContent as { operationId: number }).operationId;
    expect((await h.call('operation_get', { operationId: own })).isError).toBeFalsy();
  });
});

describe('dynamic toolsets', () => {
  it('starts with a small tool list, enables a toolset on demand and announces it', async () => {
    const { ToolListChangedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    const h = await harness({ server: { dynamicToolsets: true } });
    try {
      let changed = 0;
      h.mcp.setNotificationHandler(ToolListChangedNotificationSchema, () => {
        changed++;
      });
      const first = await h.mcp.listTools();
      expect(first.tools.map((t) => t.name)).toEqual(
        expect.arrayContaining(['tenant_list', 'tariff_list', 'toolsets_list', 'toolset_enable']),
      );
      expect(first.tools.map((t) => t.name)).not.toContain('vm_reboot');
      // The four catalog tools with their output schemas and the two meta tools: 3.0 KB.
      expect(Buffer.byteLength(JSON.stringify(first))).toBeLessThan(3 * 1024);
      const refused = await h.call('vm_reboot', { vmId: 85561 });
      expect(refused.structuredContent).toMatchObject({ error: { code: 'toolset-not-enabled' } });
      expect(h.sandbox.requests.count('vm_reboot')).toBe(0);
      const enable = await h.call('toolset_enable', { toolset: 'power' });
      expect(enable.structuredContent).toMatchObject({
        toolset: 'power',
        tools: expect.arrayContaining(['vm_reboot']),
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(changed).toBe(1);
      expect((await h.mcp.listTools()).tools.map((t) => t.name)).toContain('vm_reboot');
      expect((await h.call('vm_reboot', { vmId: 85561 })).isError).toBeFalsy();
    } finally {
      await h.close();
    }
  });
});
