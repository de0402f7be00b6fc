/**
 * Asynchronous operations in the sandbox: lazy progress from an injected clock, PENDING → DONE or
 * ERROR, timeScale, one operation per VM, instant operations, and no background work.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isAsync, OPERATIONS, type ToolName } from '../src/api/operations.js';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { fails, type Json, ok, PASSWORD, type Query } from './sandbox-helpers.js';

const BACKUP = 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4';
const T0 = 1_750_000_000_000;
let t = T0;
let sb: Sandbox;

const op = async (id: number): Promise<Json> => (await ok(sb, `operation/${id}/`)).result;

/** One call of every asynchronous method, on the seeded VMs. */
const CALLS = {
  vm_install: ['vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 }],
  vm_clone: ['vm/85561/clone/', { tenantId: 111 }],
  vm_reinstall: ['vm/85561/reinstall/', { tenantId: 111 }],
  vm_rename: ['vm/85561/rename/', { tenantId: 111, name: 'x' }],
  vm_start: ['vm/85561/start/', { tenantId: 111 }],
  vm_reset: ['vm/85561/reset/', { tenantId: 111 }],
  vm_reboot: ['vm/85561/reboot/', { tenantId: 111 }],
  vm_poweroff: ['vm/85561/poweroff/', { tenantId: 111 }],
  vm_shutdown: ['vm/85561/shutdown/', { tenantId: 111 }],
  vm_delete: ['vm/85561/delete/', { tenantId: 111 }],
  vm_password_change: ['vm/85561/password_change/', { tenantId: 111, password: PASSWORD }],
  vm_pubkey_change: ['vm/85561/pubkey_change/', { tenantId: 111, keyIds: [2] }],
  vm_memory_change: ['vm/85561/memory_change/', { tenantId: 111, memory: 1024 }],
  vm_disk_change: ['vm/85561/disk_change/', { tenantId: 111, disk: 20480 }],
  vm_cpu_change: ['vm/85561/cpu_change/', { tenantId: 111, cpu: 2 }],
  vm_tariff_change: ['vm/85561/tariff_change/', { tenantId: 111, tariffId: 4 }],
  vm_backup_policy_change: ['vm/85561/backup_policy_change/', { tenantId: 111, quantity: 2, frequency: 24 }],
  vm_ip_add: ['vm/85561/ip_add/', { tenantId: 111 }],
  vm_ip_delete: ['vm/85561/ip_delete/', { tenantId: 111, ip: '185.22.60.228' }],
  vm_ip_move: ['vm/85561/ip_move/', { tenantId: 111, toVmId: 85662, ip: '185.22.60.228' }],
  vm_snapshot_create: ['vm/85561/snapshot_create/', { tenantId: 111, name: 's' }],
  vm_snapshot_rollback: ['vm/85561/snapshot_rollback/', { tenantId: 111, snapshotId: 2206 }],
  vm_snapshot_delete: ['vm/85561/snapshot_delete/', { tenantId: 111, snapshotId: 2206 }],
  vm_backup_rollback: ['vm/85561/backup_rollback/', { tenantId: 111, backup: BACKUP }],
  vm_backup_download: ['vm/85561/backup_download/', { tenantId: 111, backup: BACKUP }],
} satisfies Partial<Record<ToolName, [string, Query]>>;

beforeAll(async () => {
  sb = await startSandbox({ port: 0, now: () => t });
});
afterAll(() => sb.close());
beforeEach(() => {
  t = T0;
  sb.state.timeScale = 1;
  sb.reset();
});

describe('progress', () => {
  it('install: PENDING with a rising percentage, then DONE at 2.5 s; the VM runs from then on', async () => {
    const body = await ok(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 });
    const seen: number[] = [];
    for (const dt of [0, 400, 800, 1250, 2000, 2499]) {
      t = T0 + dt;
      const o = await op(body.operationId);
      expect(o).toMatchObject({ status: 'PENDING', vmId: 88977, errorCode: null, errorMessage: null });
      seen.push(o.percentage);
      expect((await ok(sb, 'vm/88977/')).result.state).toBe('VIR_DOMAIN_SHUTOFF');
    }
    expect(seen[0]).toBe(0);
    expect(seen[3]).toBe(50);
    expect(seen.at(-1)).toBeLessThanOrEqual(99);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    t = T0 + 2500;
    expect(await op(body.operationId)).toMatchObject({ status: 'DONE', percentage: 100 });
    expect((await ok(sb, 'vm/88977/')).result.state).toBe('VIR_DOMAIN_RUNNING');
  });

  it('timeScale multiplies every duration', async () => {
    sb.state.timeScale = 2;
    const body = await ok(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 });
    t = T0 + 4999;
    expect((await op(body.operationId)).status).toBe('PENDING');
    t = T0 + 5000;
    expect((await op(body.operationId)).status).toBe('DONE');
    sb.state.timeScale = 0;
    const instant = await ok(sb, 'vm/85561/rename/', { tenantId: 111, name: 'now' });
    expect((await op(instant.operationId)).status).toBe('DONE');
    expect((await ok(sb, 'vm/85561/')).result.name).toBe('now');
  });

  it.each(Object.entries(CALLS))(
    '%s: a real operation type, pending at first, finished within 3 s',
    async (tool, [path, params]) => {
      const row = OPERATIONS.find((o) => o.tool === tool)!;
      const body = await ok(sb, path, params);
      const first = await op(body.operationId);
      expect(first.operationType).toBe(row.operationType);
      expect(first.vmId).toBe(row.returns === 'created' ? body.result : 85561);
      expect(first.tenantId).toBe(111);
      expect(first.status).toBe('instant' in row && row.instant ? 'DONE' : 'PENDING');
      t = T0 + 3000;
      const last = await op(body.operationId);
      expect(last.status, JSON.stringify(last)).toBe('DONE');
      expect(last.percentage).toBe(100);
    },
  );

  it('the calls above cover every asynchronous method of the table', () => {
    expect(Object.keys(CALLS).sort()).toEqual(
      OPERATIONS.filter(isAsync)
        .map((o) => o.tool)
        .sort(),
    );
  });

  it('a soft reboot of a hung guest is PENDING for 3 minutes, then ERROR with a code and a message', async () => {
    sb.state.setGuestResponsive(85561, false);
    const body = await ok(sb, 'vm/85561/reboot/', { tenantId: 111 });
    t = T0 + 179_999;
    expect(await op(body.operationId)).toMatchObject({ status: 'PENDING', errorCode: null });
    t = T0 + 180_000;
    const done = await op(body.operationId);
    expect(done).toMatchObject({
      status: 'ERROR',
      errorCode: 'error.vm.guest.timeout',
      operationType: 'VM_REBOOT',
    });
    expect(done.errorMessage).toBeTruthy();
  });

  it('the 3 minutes of a soft shutdown scale with timeScale', async () => {
    sb.state.timeScale = 0.1;
    sb.state.setGuestResponsive(85561, false);
    const body = await ok(sb, 'vm/85561/shutdown/', { tenantId: 111 });
    t = T0 + 17_999;
    expect((await op(body.operationId)).status).toBe('PENDING');
    t = T0 + 18_000;
    expect(await op(body.operationId)).toMatchObject({
      status: 'ERROR',
      errorCode: 'error.vm.guest.timeout',
    });
    expect((await ok(sb, 'vm/85561/')).result.state).toBe('VIR_DOMAIN_RUNNING');
  });

  it('a new guest boots for 30 s after DONE: a soft reboot then waits for it, an address change too', async () => {
    const body = await ok(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 });
    t = T0 + 2500;
    expect((await op(body.operationId)).status).toBe('DONE');
    // Booting until T0 + 32.5 s: the reboot is sent then, and takes its 1.5 s after.
    const reboot = await ok(sb, `vm/${body.result}/reboot/`, { tenantId: 111 });
    t = T0 + 33_999;
    expect((await op(reboot.operationId)).status).toBe('PENDING');
    t = T0 + 34_000;
    expect((await op(reboot.operationId)).status).toBe('DONE');
    // Booted: the next one takes 1.5 s.
    const again = await ok(sb, `vm/${body.result}/reboot/`, { tenantId: 111 });
    t = T0 + 35_500;
    expect((await op(again.operationId)).status).toBe('DONE');

    const clone = await ok(sb, `vm/${body.result}/clone/`, { tenantId: 111 });
    t = T0 + 38_000;
    expect((await op(clone.operationId)).status).toBe('DONE');
    const add = await ok(sb, `vm/${clone.result}/ip_add/`, { tenantId: 111 });
    expect((await ok(sb, `vm/${clone.result}/`)).result.ipAddresses).toHaveLength(2);
    t = T0 + 68_999;
    expect((await op(add.operationId)).status).toBe('PENDING');
    t = T0 + 69_000;
    expect((await op(add.operationId)).status).toBe('DONE');
  });

  it('nothing happens between requests: effects are applied lazily, in the order operations end', async () => {
    const a = await ok(sb, 'vm/85561/cpu_change/', { tenantId: 111, cpu: 4 }); // 0.8 s
    const b = await ok(sb, 'vm/85662/memory_change/', { tenantId: 111, memory: 2048 }); // 1 s
    t = T0 + 10_000;
    // The state has not been touched yet; inspection helpers advance first, like a request.
    expect(sb.state.vms.get(85561)!.cpu).toBe(1);
    expect(sb.state.vm(85561)!.cpu).toBe(4);
    expect(sb.state.vms.get(85662)!.memory).toBe(2048);
    expect(sb.state.operation(a.operationId)!.status).toBe('DONE');
    expect(sb.state.operation(b.operationId)!.status).toBe('DONE');
  });

  it('finishAll() completes every running operation at once', async () => {
    const body = await ok(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 });
    sb.state.finishAll();
    expect(await op(body.operationId)).toMatchObject({ status: 'DONE', percentage: 100 });
    expect((await ok(sb, 'vm/88977/')).result.state).toBe('VIR_DOMAIN_RUNNING');
  });
});

describe('one operation per VM', () => {
  it('another write on a busy VM: error.operation.already.started naming the operation; reads are allowed', async () => {
    const running = await ok(sb, 'vm/85561/reboot/', { tenantId: 111 });
    const refused = await fails(
      sb,
      'vm/85561/rename/',
      { tenantId: 111, name: 'x' },
      'error.operation.already.started',
    );
    expect(refused.errorMessage).toContain(String(running.operationId));
    expect(refused.errorMessage).toContain('VM_REBOOT');
    await fails(sb, 'vm/85561/reboot/', { tenantId: 111 }, 'error.operation.already.started');
    await fails(sb, 'vm/85561/clone/', { tenantId: 111 }, 'error.operation.already.started');
    await ok(sb, 'vm/85561/');
    await ok(sb, 'vm/85561/snapshots/');
    await ok(sb, 'vm/85561/backups/');
    await ok(sb, 'vm/');
    // Other VMs are free.
    await ok(sb, 'vm/85662/rename/', { tenantId: 111, name: 'y' });
    // A refused write started nothing.
    const ops = [...sb.state.operations.keys()].filter((id) => id > 106765);
    expect(ops).toHaveLength(2);
    t = T0 + 1500;
    await ok(sb, 'vm/85561/rename/', { tenantId: 111, name: 'x' });
  });

  it('validation and ownership errors come before the busy check', async () => {
    await ok(sb, 'vm/85561/reboot/', { tenantId: 111 });
    await fails(sb, 'vm/85561/rename/', { tenantId: 10081, name: 'x' }, 'error.not.owner');
    await fails(sb, 'vm/85561/cpu_change/', { tenantId: 111, cpu: 99 }, null);
  });

  it('a new VM is busy while it installs; a deleted VM while it is deleted, then gone', async () => {
    const body = await ok(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 });
    await fails(sb, `vm/${body.result}/start/`, { tenantId: 111 }, 'error.operation.already.started');
    t = T0 + 2500;
    const del = await ok(sb, `vm/${body.result}/delete/`, { tenantId: 111 });
    t = T0 + 3000;
    expect((await ok(sb, `vm/${body.result}/`)).result.id).toBe(body.result);
    await fails(sb, `vm/${body.result}/start/`, { tenantId: 111 }, 'error.operation.already.started');
    t = T0 + 5000;
    expect((await op(del.operationId)).status).toBe('DONE');
    await fails(sb, `vm/${body.result}/`, {}, 'error.vm.not.found');
  });

  it('a clone keeps its source’s disk busy: error.vm.volume.under.operation', async () => {
    const clone = await ok(sb, 'vm/85561/clone/', { tenantId: 111 });
    const refused = await fails(
      sb,
      'vm/85561/disk_change/',
      { tenantId: 111, disk: 20480 },
      'error.vm.volume.under.operation',
    );
    expect(refused.errorMessage).toContain(String(clone.operationId));
    await fails(
      sb,
      `vm/${clone.result}/rename/`,
      { tenantId: 111, name: 'c' },
      'error.operation.already.started',
    );
    t = T0 + 2500;
    await ok(sb, 'vm/85561/disk_change/', { tenantId: 111, disk: 20480 });
  });

  it('ip_move keeps both VMs busy, and needs a target that is not busy', async () => {
    await ok(sb, 'vm/85561/ip_move/', { tenantId: 111, toVmId: 85662, ip: '185.22.60.228' });
    await fails(sb, 'vm/85662/start/', { tenantId: 111 }, 'error.operation.already.started');
    t = T0 + 5000;
    await ok(sb, 'vm/88534/start/', { tenantId: 111 });
    await fails(
      sb,
      'vm/85662/ip_move/',
      { tenantId: 111, toVmId: 88534, ip: '185.22.60.234' },
      'error.operation.already.started',
    );
  });

  it('an instant operation never blocks the VM', async () => {
    await ok(sb, 'vm/85561/backup_policy_change/', { tenantId: 111, quantity: 2, frequency: 12 });
    await ok(sb, 'vm/85561/backup_policy_change/', { tenantId: 111, quantity: 3, frequency: 12 });
    await ok(sb, 'vm/85561/rename/', { tenantId: 111, name: 'free' });
  });
});
