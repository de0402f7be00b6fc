/**
 * Every tool through a real MCP Client → server → HTTP → sandbox, with success and failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../src/api/operations.js';
import { type Harness, harness, json, text } from './helpers.js';

let h: Harness;
const succeeded = new Set<string>();
const failed = new Set<string>();
/** Everything below runs against both response shapes of the sandbox (docs/api.md, "Responses"). */
describe.each(['document', 'live'] as const)('responses: %s', (responses) => {
  beforeAll(async () => {
    succeeded.clear();
    failed.clear();
    h = await harness({ sandbox: { responses } });
  });
  afterAll(() => h.close());

  /** Call and expect success; returns the JSON. */
  async function okCall(name: string, args: Record<string, unknown> = {}) {
    const result = await h.call(name, args);
    expect(result.isError, `${name}: ${text(result)}`).toBeFalsy();
    succeeded.add(name);
    return json(result);
  }

  async function errCall(name: string, args: Record<string, unknown>, pattern: RegExp) {
    const result = await h.call(name, args);
    expect(result.isError, `${name} should fail: ${text(result)}`).toBe(true);
    expect(text(result)).toMatch(pattern);
    failed.add(name);
    return text(result);
  }

  describe('catalog and reads', () => {
    it('lists tenants, VMs, distributions, software, tariffs, keys', async () => {
      expect((await okCall('tenant_list')).tenants).toEqual(
        expect.arrayContaining([{ id: 10081, description: 'По умолчанию' }]),
      );
      expect(((await okCall('vm_list')).vms as unknown[]).length).toBeGreaterThanOrEqual(3);
      expect(((await okCall('distribution_list')).distributions as unknown[]).length).toBe(21);
      expect(((await okCall('software_list')).software as unknown[]).length).toBe(5);
      expect(((await okCall('tariff_list')).tariffs as unknown[]).length).toBeGreaterThanOrEqual(13);
      expect((await okCall('pubkey_list')).publicKeys).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: 2 })]),
      );
      expect((await okCall('vm_get', { vmId: 85561 })).vm).toMatchObject({
        id: 85561,
        memory: 512,
        disk: 16384,
      });
      expect((await okCall('vm_snapshot_list', { vmId: 85561 })).snapshots).toMatchObject([{ id: 2206 }]);
      expect((await okCall('vm_backup_list', { vmId: 85561 })).backups).toMatchObject([
        { id: 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4' },
      ]);
      expect((await okCall('operation_get', { operationId: 61626 })).operation).toMatchObject({
        status: 'DONE',
      });
    });

    it('refuses unknown arguments on reads without sending anything', async () => {
      const before = h.sandbox.requests.total;
      await errCall('tenant_list', { all: true }, /all: unknown argument/);
      await errCall('vm_get', { vmId: 'x' }, /vmId/);
      await errCall('operation_get', {}, /operationId/);
      expect(h.sandbox.requests.total).toBe(before);
    });

    it('maps provider errors to actionable results', async () => {
      await errCall('vm_get', { vmId: 999999 }, /error\.vm\.not\.found.*vm_list/s);
      await errCall('operation_get', { operationId: 999999 }, /error\.object\.not\.found/);
      await errCall('vm_snapshot_list', { vmId: 424242 }, /not\.found/);
      await errCall('vm_backup_list', { vmId: 424242 }, /not\.found/);
    });
  });

  describe('a VM life cycle through the tools', () => {
    let vmId: number;
    let otherVmId: number;

    it('refuses invalid install input before any request', async () => {
      const before = h.sandbox.requests.total;
      await errCall('vm_install', { distribution: 'debian', tariff: 'x', memory: 100 }, /memory.*512|>=512/i);
      await errCall('vm_install', { distribution: 'debian', tariff: 'x', password: 'short' }, /password/);
      await errCall(
        'vm_install',
        { distribution: 'debian', tariff: 'x', memory: 512, disk: 65536 },
        /disk must be at most 64 × memory/,
      );
      await errCall(
        'vm_install',
        { distribution: 'debian', tariff: 'x', nmae: 'typo' },
        /nmae: unknown argument/,
      );
      expect(h.sandbox.requests.total).toBe(before);
    });

    it('asks for a tenant when the account has several', async () => {
      await errCall(
        'vm_install',
        { distribution: 'debian 7.6', tariff: 'Облачный 1024' },
        /tenants.*10081.*10082/s,
      );
    });

    it('lists candidates for an ambiguous or unknown distribution', async () => {
      await errCall(
        'vm_install',
        { tenantId: 111, distribution: 'win server', tariff: 'Облачный 1024 для Windows' },
        /Several.*2008 R2.*2012 R2.*2016.*2019/s,
      );
      await errCall(
        'vm_install',
        { tenantId: 111, distribution: 'plan9', tariff: 'Облачный 1024' },
        /No distributions match.*DEBIAN/s,
      );
      await errCall('vm_install', { tenantId: 111, distribution: 'debian' }, /tariffId: required/);
    });

    it('installs by distribution and tariff name and waits, with progress', async () => {
      const progress: number[] = [];
      const result = await h.mcp.callTool(
        {
          name: 'vm_install',
          arguments: {
            tenantId: 111,
            name: 'web-1',
            distribution: 'debian',
            tariff: 'Облачный без границ',
            memory: 1024,
            disk: 16384,
            cpu: 1,
            ipCount: 1,
            password: 'Secret-pass1',
            wait: true,
          },
        },
        undefined,
        { onprogress: (p) => void progress.push(p.progress) },
      );
      expect(result.isError, text(result as never)).toBeFalsy();
      const data = json(result as never);
      expect(data.status).toBe('DONE');
      const vm = data.vm as {
        id: number;
        name: string;
        distribution: { description: string };
        state: string;
      };
      expect(vm.name).toBe('web-1');
      // "debian" names six builds of three releases: the newest 64-bit one, and the result says so.
      expect(vm.distribution.description).toBe('Debian 9 x64');
      expect(data.notes).toEqual([
        expect.stringMatching(/"debian" matched 6 builds: took 320 "Debian 9 x64"/),
      ]);
      expect(vm.state).toBe('VIR_DOMAIN_RUNNING');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.at(-1)).toBe(100);
      expect(text(result as never)).not.toContain('Secret-pass1');
      vmId = vm.id;
    });

    it('a fixed tariff ignores the resources given with it, and the result says so', async () => {
      const data = await okCall('vm_install', {
        tenantId: 111,
        distribution: 'Debian 8 x64',
        tariff: 'Облачный 512',
        memory: 2048,
        disk: 16384,
        password: 'Secret-pass1',
        wait: true,
      });
      expect(data.vm).toMatchObject({ memory: 512, disk: 16384, tariffId: 3 });
      expect(data.notes).toEqual([
        'memory, disk ignored: tariff 3 "Облачный 512" is fixed (512 MB RAM, 16384 MB disk, 1 CPU, 1 IP); only an onDemand tariff takes them.',
      ]);
      await okCall('vm_delete', { vmId: (data.vm as { id: number }).id, wait: true });
    });

    it('starts an operation, then waits for it with wait_for_operation', async () => {
      const started = await okCall('vm_snapshot_create', { vmId, name: 'before-resize' });
      expect(started.status).toBe('STARTED');
      expect(started.next).toMatch(/wait_for_operation/);
      await errCall(
        'vm_snapshot_create',
        { vmId, name: 'again' },
        new RegExp(
          `error\\.operation\\.already\\.started.*wait_for_operation with operationId ${started.operationId}`,
          's',
        ),
      );
      const done = await okCall('wait_for_operation', { operationId: started.operationId });
      expect(done.status).toBe('DONE');
    });

    it('resizes without tenantId', async () => {
      const mem = await okCall('vm_memory_change', { vmId, memory: 2048, wait: true });
      expect((mem.vm as { memory: number }).memory).toBe(2048);
      const disk = await okCall('vm_disk_change', { vmId, disk: 32768, wait: true });
      expect((disk.vm as { disk: number }).disk).toBe(32768);
      const cpu = await okCall('vm_cpu_change', { vmId, cpu: 2, wait: true });
      expect((cpu.vm as { cpu: number }).cpu).toBe(2);
      await errCall('vm_disk_change', { vmId, disk: 16384 }, /./);
      await errCall('vm_cpu_change', { vmId, cpu: 13 }, /cpu/);
    });

    it('changes password, keys, backup policy, tariff; renames', async () => {
      await okCall('vm_password_change', { vmId, password: 'New-pass22', wait: true });
      await errCall('vm_password_change', { vmId, password: 'alllowercase1' }, /password/);
      const keys = await okCall('vm_pubkey_change', { vmId, keyIds: [2], wait: true });
      expect((keys.vm as { publicKeys: { id: number }[] }).publicKeys.map((k) => k.id)).toEqual([2]);
      const policy = await okCall('vm_backup_policy_change', {
        vmId,
        quantity: 3,
        frequency: 24,
        wait: true,
      });
      expect((policy.vm as { backupPolicy: unknown }).backupPolicy).toEqual({ quantity: 3, frequency: 24 });
      await errCall('vm_backup_policy_change', { vmId, quantity: 3, frequency: 5 }, /frequency/);
      const renamed = await okCall('vm_rename', { vmId, name: 'web-01', wait: true });
      expect((renamed.vm as { name: string }).name).toBe('web-01');
      const tariff = await okCall('vm_tariff_change', { vmId, tariff: 'Облачный 2048', wait: true });
      expect((tariff.vm as { tariffId: number }).tariffId).toBe(5);
      await errCall('vm_tariff_change', { vmId, tariff: 'Облачный 512' }, /./);
    });

    it('adds, moves and deletes IPs between VMs', async () => {
      const clone = await okCall('vm_clone', { vmId, name: 'web-02', wait: true });
      otherVmId = (clone.vm as { id: number }).id;
      expect(otherVmId).not.toBe(vmId);
      const added = await okCall('vm_ip_add', { vmId, wait: true });
      const ips = (added.vm as { ipAddresses: string[] }).ipAddresses;
      expect(ips.length).toBeGreaterThanOrEqual(2);
      const ip = ips.at(-1)!;
      await okCall('vm_ip_move', { vmId, toVmId: otherVmId, ip, wait: true });
      const other = await okCall('vm_get', { vmId: otherVmId });
      expect((other.vm as { ipAddresses: string[] }).ipAddresses).toContain(ip);
      await okCall('vm_ip_delete', { vmId: otherVmId, ip, wait: true });
      await errCall('vm_ip_delete', { vmId: otherVmId, ip: '999.1.1.1' }, /ip/);
    });

    it('power cycles', async () => {
      const off = await okCall('vm_shutdown', { vmId, wait: true });
      expect((off.vm as { state: string }).state).toBe('VIR_DOMAIN_SHUTOFF');
      const on = await okCall('vm_start', { vmId, wait: true });
      expect((on.vm as { state: string }).state).toBe('VIR_DOMAIN_RUNNING');
      await okCall('vm_reboot', { vmId, wait: true });
      await okCall('vm_reset', { vmId, wait: true });
      const hard = await okCall('vm_poweroff', { vmId, wait: true });
      expect((hard.vm as { state: string }).state).toBe('VIR_DOMAIN_SHUTOFF');
      await okCall('vm_start', { vmId, wait: true });
    });

    it('reports a soft reboot that the guest ignores as an operation error with a hint', async () => {
      const hung = await okCall('vm_install', {
        tenantId: 111,
        name: 'hung-guest',
        distribution: 'debian',
        tariff: 'Облачный 512',
        password: 'Secret-pass1',
        wait: true,
      });
      const hungId = (hung.vm as { id: number }).id;
      h.sandbox.state.timeScale = 0.002; // the guest's 3 minutes, in a moment
      const result = await h.call('vm_reboot', { vmId: hungId, wait: true });
      h.sandbox.state.timeScale = 0.05;
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/VM_REBOOT.*failed.*vm_reset/s);
      await okCall('vm_delete', { vmId: hungId, wait: true });
    });

    it('snapshots, rolls back and deletes snapshots', async () => {
      const snaps = (await okCall('vm_snapshot_list', { vmId })).snapshots as { id: number; name: string }[];
      const first = snaps.find((s) => s.name === 'before-resize')!;
      const created = await okCall('vm_snapshot_create', { vmId, name: 'second', wait: true });
      expect((created.snapshot as { name: string }).name).toBe('second');
      await okCall('vm_snapshot_rollback', { vmId, snapshotId: first.id, wait: true });
      // An id the VM does not have: refused with its snapshots, before anything is sent.
      await errCall(
        'vm_snapshot_rollback',
        { vmId, snapshotId: 999999 },
        /has no snapshot 999999\. Its snapshots: \d+ "before-resize"; \d+ "second"/,
      );
      await okCall('vm_snapshot_delete', { vmId, snapshotId: first.id, deleteChildren: true, wait: true });
      expect((await okCall('vm_snapshot_list', { vmId })).snapshots).toEqual([]);
    });

    it('restores and downloads backups', async () => {
      const backup = 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4';
      const link = await okCall('vm_backup_download', { vmId: 85561, backup, wait: true });
      expect(link.link).toMatch(/^https:\/\//);
      await errCall(
        'vm_backup_download',
        { vmId: 85561, backup: 'nope.lz4' },
        /VM 85561 has no backup "nope\.lz4"\. Its backups: "diff-/,
      );
      await okCall('vm_backup_rollback', { vmId: 85561, backup, wait: true });
      expect((await okCall('vm_snapshot_list', { vmId: 85561 })).snapshots).toEqual([]);
      expect((await okCall('vm_backup_list', { vmId })).backups).toEqual([]);
    });

    it('reinstalls by distribution name, keeping id and IPs', async () => {
      const before = (await okCall('vm_get', { vmId })).vm as { ipAddresses: string[] };
      const done = await okCall('vm_reinstall', {
        vmId,
        distribution: 'centos',
        password: 'Another-1',
        wait: true,
      });
      const vm = done.vm as { id: number; ipAddresses: string[]; distribution: { name: string } };
      expect(vm.id).toBe(vmId);
      expect(vm.ipAddresses).toEqual(before.ipAddresses);
      expect(vm.distribution.name).toBe('CENTOS');
    });

    it('manages account keys', async () => {
      const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbm8z1zT1b2xq3Jx0dJt5Z3l5m2Yc6u2m8b1Vq5Yp3x me@host';
      await errCall('pubkey_add', { name: 'k', publicKey: key }, /tenants/);
      const added = await okCall('pubkey_add', { tenantId: 111, name: 'laptop', publicKey: key });
      const id = (added.publicKey as { id: number }).id;
      expect((added.publicKey as { type: string }).type).toBe('ED25519');
      await errCall('pubkey_add', { tenantId: 111, name: 'bad', publicKey: 'not a key' }, /publicKey/);
      const edited = await okCall('pubkey_edit', { keyId: id, name: 'laptop-2' });
      expect((edited.publicKey as { name: string }).name).toBe('laptop-2');
      await okCall('pubkey_delete', { keyId: id, tenantId: 111 });
      await errCall('pubkey_delete', { keyId: id, tenantId: 111 }, /error\.object\.not\.found/);
      await errCall('pubkey_edit', { keyId: 999999, tenantId: 111, name: 'x' }, /not\.found/);
    });

    it('refuses objects of another account', async () => {
      const vms = (h.sandbox.state as unknown as { vms: Map<number, { id: number; accountId: string }> }).vms;
      const foreign = [...vms.values()].find((vm) => vm.accountId !== 'sandbox');
      expect(foreign).toBeDefined();
      await errCall('vm_get', { vmId: foreign!.id }, /error\.not\.owner.*credentials/s);
      await errCall('vm_reboot', { vmId: 85561, tenantId: 10082 }, /error\.not\.owner/);
    });

    it('deletes the VMs', async () => {
      await okCall('vm_delete', { vmId: otherVmId, wait: true });
      const deleted = await okCall('vm_delete', { vmId, wait: true });
      expect(deleted.status).toBe('DONE');
      expect(deleted.vm).toBeUndefined();
      await errCall('vm_get', { vmId }, /error\.vm\.not\.found/);
    });
  });

  describe('failures of every tool', () => {
    it('fails cleanly for unknown VMs, bad arguments and unknown objects', async () => {
      const vmScoped = [
        'vm_clone',
        'vm_reinstall',
        'vm_rename',
        'vm_reset',
        'vm_poweroff',
        'vm_shutdown',
        'vm_delete',
        'vm_pubkey_change',
        'vm_memory_change',
        'vm_ip_add',
        'vm_ip_move',
        'vm_snapshot_delete',
        'vm_backup_rollback',
        'vm_start',
        'vm_reboot',
      ];
      const extra: Record<string, Record<string, unknown>> = {
        vm_memory_change: { memory: 1024 },
        vm_ip_move: { toVmId: 85561, ip: '198.51.100.77' },
        vm_snapshot_delete: { snapshotId: 2206 },
        vm_backup_rollback: { backup: 'x.lz4' },
      };
      for (const tool of vmScoped) {
        await errCall(tool, { vmId: 999999, ...extra[tool] }, /error\.vm\.not\.found.*vm_list/s);
      }
      for (const tool of ['vm_list', 'pubkey_list', 'distribution_list', 'software_list', 'tariff_list']) {
        await errCall(tool, { vmId: 1 }, /vmId: unknown argument/);
      }
      await errCall('wait_for_operation', { operationId: -1 }, /operationId/);
    });

    it('covered every tool with a success and a failure', () => {
      const all = [...OPERATIONS.map((o) => o.tool), 'wait_for_operation'];
      // wait_for_operation succeeds inside the life cycle
      expect([...all].filter((t) => !succeeded.has(t))).toEqual([]);
      expect([...all].filter((t) => !failed.has(t))).toEqual([]);
    });
  });
});
