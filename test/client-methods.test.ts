/**
 * FlopsClient against the real sandbox over loopback HTTP: a life cycle in which every one of the
 * 38 methods succeeds with normalised results; the documented failures of every method as
 * FlopsApiError; operations going to DONE and to ERROR; busy VMs; the wire encoding of booleans,
 * lists and absent values; and no secret in any error text.
 */
import { Agent, request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { FlopsClient } from '../src/api/client.js';
import { FlopsApiError, FlopsTransportError, isFlopsError } from '../src/api/errors.js';
import { OPERATIONS, type ParamsOf, type ResultOf, type ToolName } from '../src/api/operations.js';
import type { Distribution, Operation, PublicKey, Tariff } from '../src/api/types.js';
import { waitForOperation } from '../src/mcp/wait.js';
import { RUNNING, type Sandbox, SHUTOFF, startSandbox } from '../src/sandbox/index.js';

const API_KEY = 'MARKER-KEY-123';
const PASSWORD = 'Marker-Pass-9';
const SECRETS = [API_KEY, PASSWORD, 'apiKey='];
const KEY_TEXT = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@host';
const BACKUP_ID = 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4';
const WAIT = { timeoutMs: 5000, minIntervalMs: 5, maxIntervalMs: 25 };

let sandbox: Sandbox;
let client: FlopsClient;
const extra: { close(): Promise<void> }[] = [];
/** Every error a call produced in this file, for the secret check at the end. */
const errors: unknown[] = [];
/** Methods that succeeded through `client.call` in the life cycle. */
const succeeded = new Set<string>();

const newClient = (apiKey = API_KEY, clientId = 'marker-client') => {
  const c = new FlopsClient({ baseUrl: sandbox.url, clientId, apiKey, retryBaseMs: 10 });
  extra.push(c);
  return c;
};

/** Everything below runs against both response shapes of the sandbox (docs/api.md, "Responses"). */
const RESPONSES = ['document', 'live'] as const;

describe.each(RESPONSES)('responses: %s', (responses) => {
  beforeAll(async () => {
    succeeded.clear();
    sandbox = await startSandbox({
      port: 0,
      timeScale: 0.05,
      apiKey: API_KEY,
      clientId: 'marker-client',
      responses,
    });
    client = newClient();
  });
  afterAll(async () => {
    for (const c of extra) await c.close();
    await sandbox.close();
  });

  /** A successful call, recorded in `succeeded`. */
  async function ok<T extends ToolName>(tool: T, params: ParamsOf<T>): Promise<ResultOf<T>> {
    const result = await client.call(tool, params);
    succeeded.add(tool);
    return result;
  }

  /** Wait for an operation to finish (DONE or ERROR) through the waiter the MCP tools use. */
  async function finish(ref: { operationId: number }): Promise<Operation> {
    const { operation, finished } = await waitForOperation(client, ref.operationId, WAIT);
    expect(finished, JSON.stringify(operation)).toBe(true);
    return operation;
  }

  async function done(ref: { operationId: number }): Promise<Operation> {
    const operation = await finish(ref);
    expect(operation, JSON.stringify(operation)).toMatchObject({
      id: ref.operationId,
      status: 'DONE',
      percentage: 100,
      errorCode: null,
      errorMessage: null,
    });
    return operation;
  }

  /** The FlopsApiError a call ends with (recorded for the secret check). */
  async function apiFailure(
    promise: Promise<unknown>,
    errorCode: string | null,
    method: string,
  ): Promise<FlopsApiError> {
    let caught: unknown;
    try {
      await promise;
    } catch (err) {
      caught = err;
    }
    expect(caught, `${method} should fail with ${errorCode}`).toBeInstanceOf(FlopsApiError);
    errors.push(caught);
    const err = caught as FlopsApiError;
    expect({ method: err.method, errorCode: err.errorCode }).toEqual({ method, errorCode });
    expect(err.httpStatus).toBe(200);
    expect(err.message).toContain(`${method} failed: `);
    expect(typeof err.errorMessage).toBe('string');
    expect(isFlopsError(err)).toBe(true);
    if (errorCode) expect(isFlopsError(err, errorCode)).toBe(true);
    return err;
  }

  const callAny = (c: FlopsClient, tool: string, params: Record<string, unknown>) =>
    c.call(tool as ToolName, params as never);

  const near = (ms: number | null) => {
    expect(typeof ms).toBe('number');
    expect(Math.abs((ms as number) - Date.now())).toBeLessThan(60_000);
  };

  // ---------------------------------------------------------------------------------------------

  describe('life cycle: every one of the 38 methods succeeds, results normalised', () => {
    let ubuntu: Distribution;
    let debian: Distribution;
    let onDemand: Tariff;
    let fixed: Tariff;
    let mysql: number;
    let key: PublicKey;
    let a: number; // the installed VM
    let b: number; // its clone
    const tenantId = 10081;

    beforeAll(() => sandbox.reset());

    it('catalog and account reads', async () => {
      const tenants = await ok('tenant_list', {});
      expect(tenants).toContainEqual({ id: 10081, description: 'По умолчанию' });

      const distributions = await ok('distribution_list', {});
      ubuntu = distributions.find((d) => d.description === 'Ubuntu 14.04.1 x64' && d.bitness === 64)!;
      debian = distributions.find((d) => d.description === 'Debian 7.6 x64' && d.bitness === 64)!;
      expect(ubuntu).toMatchObject({ name: 'UBUNTU', id: expect.any(Number) });
      expect(debian).toMatchObject({ name: 'DEBIAN', id: expect.any(Number) });

      const software = await ok('software_list', {});
      mysql = software.find((s) => s.name === 'mysql')!.id;
      expect(mysql).toEqual(expect.any(Number));

      const tariffs = await ok('tariff_list', {});
      for (const t of tariffs) {
        expect(t).toMatchObject({ memory: expect.any(Number), disk: expect.any(Number) });
        expect(typeof t.onDemand).toBe('boolean');
        expect(typeof t.forWindows).toBe('boolean');
      }
      onDemand = tariffs.find((t) => t.onDemand && !t.forWindows)!;
      fixed = tariffs.find((t) => !t.onDemand && !t.forWindows && t.disk === 16384)!;
      expect(onDemand).toBeDefined();
      expect(fixed).toBeDefined();

      const vms = await ok('vm_list', {});
      expect(vms.map((v) => v.id)).toEqual(expect.arrayContaining([88534, 85662, 85561]));
      for (const vm of vms) {
        expect(typeof vm.timeAdded).toBe('number');
        expect(Array.isArray(vm.ipAddresses)).toBe(true);
        expect(Array.isArray(vm.publicKeys)).toBe(true);
      }
      expect(vms.find((v) => v.id === 85561)).toMatchObject({
        timeAdded: 1399367371175,
        currentSnapshot: 1357,
        backupPolicy: { quantity: 10, frequency: 72 },
        accessUsers: ['user@serveroid.com'],
      });
    });

    it('pubkey_list: a field absent on the wire comes back as null', async () => {
      // Key 254 has no tenantId in the document's pubkeys/ example, and the sandbox leaves it out.
      const rawRes = await request(`${sandbox.url}pubkeys/?clientId=marker-client&apiKey=${API_KEY}`);
      const wire = ((await rawRes.body.json()) as { result: Record<string, unknown>[] }).result;
      expect(Object.keys(wire.find((k) => k['id'] === 254)!)).not.toContain('tenantId');

      const keys = await ok('pubkey_list', {});
      expect(keys.find((k) => k.id === 254)).toEqual({
        id: 254,
        tenantId: null,
        name: 'my-key2',
        type: 'DSA',
        publicKey: expect.stringMatching(/^ssh-dss /),
        timeAdded: 1414156464315,
      });
    });

    it('pubkey_add, pubkey_edit', async () => {
      key = await ok('pubkey_add', { tenantId, name: 'life-key', publicKey: KEY_TEXT });
      // The add response shows no tenantId (as in the document's example): normalised to null.
      expect(key).toMatchObject({ name: 'life-key', type: 'ED25519', publicKey: KEY_TEXT, tenantId: null });
      near(key.timeAdded);
      const edited = await ok('pubkey_edit', { keyId: key.id, tenantId, name: 'life-key-2' });
      expect(edited).toMatchObject({ id: key.id, name: 'life-key-2', publicKey: KEY_TEXT });
    });

    it('vm_install on an onDemand tariff: new VM id, its operation carries that id', async () => {
      const ref = await ok('vm_install', {
        name: 'life',
        tenantId,
        distributionId: ubuntu.id,
        tariffId: onDemand.id,
        memory: 1024,
        disk: 16384,
        cpu: 1,
        ipCount: 1,
        password: PASSWORD,
        sendPassword: false,
        publicKeyIds: [key.id],
        softwareIds: [mysql],
      });
      expect(ref).toEqual({ operationId: expect.any(Number), vmId: expect.any(Number) });
      a = ref.vmId;
      const first = await ok('operation_get', { operationId: ref.operationId });
      expect(first).toMatchObject({ vmId: a, tenantId, operationType: 'VM_INSTALL', status: 'PENDING' });
      const operation = await done(ref);
      expect(operation.vmId).toBe(a);

      const vm = await ok('vm_get', { vmId: a });
      expect(vm).toMatchObject({
        id: a,
        tenantId,
        name: 'life',
        internalId: `vm${a}`,
        memory: 1024,
        disk: 16384,
        cpu: 1,
        tariffId: onDemand.id,
        state: RUNNING,
        currentSnapshot: null,
        distribution: { id: ubuntu.id, name: 'UBUNTU', description: 'Ubuntu 14.04.1 x64', bitness: 64 },
        publicKeys: [expect.objectContaining({ id: key.id, installed: true })],
      });
      expect(vm.ipAddresses).toHaveLength(1);
      near(vm.timeAdded);
      // A new VM has no backups.
      expect(await ok('vm_backup_list', { vmId: a })).toEqual([]);
    });

    it('vm_rename', async () => {
      await done(await ok('vm_rename', { vmId: a, tenantId, name: 'life-2' }));
      expect((await ok('vm_get', { vmId: a })).name).toBe('life-2');
    });

    it('snapshots, and memory/disk/cpu changes on the onDemand tariff', async () => {
      await done(
        await ok('vm_snapshot_create', { vmId: a, tenantId, name: 'before', description: '1024/16384/1' }),
      );
      const snapshots = await ok('vm_snapshot_list', { vmId: a });
      expect(snapshots).toEqual([
        {
          id: expect.any(Number),
          name: 'before',
          description: '1024/16384/1',
          parentSnapshotId: null,
          timeAdded: expect.any(Number),
        },
      ]);
      const snapshotId = snapshots[0]!.id;
      expect((await ok('vm_get', { vmId: a })).currentSnapshot).toBe(snapshotId);

      await done(await ok('vm_memory_change', { vmId: a, tenantId, memory: 2048 }));
      await done(await ok('vm_disk_change', { vmId: a, tenantId, disk: 65536 }));
      await done(await ok('vm_cpu_change', { vmId: a, tenantId, cpu: 4 }));
      expect(await ok('vm_get', { vmId: a })).toMatchObject({ memory: 2048, disk: 65536, cpu: 4 });
      await done(await ok('vm_memory_change', { vmId: a, tenantId, memory: 1024, allowRestart: true }));
      expect((await ok('vm_get', { vmId: a })).memory).toBe(1024);

      await done(await ok('vm_snapshot_rollback', { vmId: a, tenantId, snapshotId }));
      expect(await ok('vm_get', { vmId: a })).toMatchObject({ memory: 1024, disk: 16384, cpu: 1 });

      await done(await ok('vm_snapshot_delete', { vmId: a, tenantId, snapshotId, deleteChildren: true }));
      expect(await ok('vm_snapshot_list', { vmId: a })).toEqual([]);
      expect((await ok('vm_get', { vmId: a })).currentSnapshot).toBeNull();
    });

    it('vm_password_change, vm_pubkey_change', async () => {
      const op = await done(
        await ok('vm_password_change', { vmId: a, tenantId, password: PASSWORD, sendPassword: false }),
      );
      expect(op.operationType).toBe('VM_PASSWORD_CHANGE');
      await done(await ok('vm_pubkey_change', { vmId: a, tenantId, keyIds: [key.id, 2] }));
      expect((await ok('vm_get', { vmId: a })).publicKeys.map((k) => k.id)).toEqual([key.id, 2]);
    });

    it('vm_ip_add, vm_ip_delete', async () => {
      const before = (await ok('vm_get', { vmId: a })).ipAddresses;
      await done(await ok('vm_ip_add', { vmId: a, tenantId }));
      const after = (await ok('vm_get', { vmId: a })).ipAddresses;
      expect(after).toHaveLength(before.length + 1);
      const added = after.find((ip) => !before.includes(ip))!;
      await done(await ok('vm_ip_delete', { vmId: a, tenantId, ip: added }));
      expect((await ok('vm_get', { vmId: a })).ipAddresses).toEqual(before);
    });

    it('vm_clone: the operation carries the new VM id; vm_ip_move to the clone', async () => {
      const source = await ok('vm_get', { vmId: a });
      const ref = await ok('vm_clone', { vmId: a, tenantId, name: 'life-clone' });
      b = ref.vmId;
      expect(b).not.toBe(a);
      expect((await done(ref)).vmId).toBe(b);
      const clone = await ok('vm_get', { vmId: b });
      expect(clone).toMatchObject({
        name: 'life-clone',
        memory: source.memory,
        disk: source.disk,
        cpu: source.cpu,
        tariffId: source.tariffId,
        distribution: source.distribution,
      });
      expect(clone.publicKeys.map((k) => k.id)).toEqual([key.id, 2]);
      expect(clone.ipAddresses).toHaveLength(1);
      expect(clone.ipAddresses).not.toEqual(source.ipAddresses);

      const ip = source.ipAddresses[0]!;
      await done(await ok('vm_ip_move', { vmId: a, tenantId, toVmId: b, ip }));
      expect((await ok('vm_get', { vmId: a })).ipAddresses).toEqual([]);
      expect((await ok('vm_get', { vmId: b })).ipAddresses).toContain(ip);
    });

    it('power: shutdown, start, reboot, reset, poweroff', async () => {
      const state = async () => (await ok('vm_get', { vmId: a })).state;
      await done(await ok('vm_shutdown', { vmId: a, tenantId }));
      expect(await state()).toBe(SHUTOFF);
      await done(await ok('vm_start', { vmId: a, tenantId }));
      expect(await state()).toBe(RUNNING);
      expect((await done(await ok('vm_reboot', { vmId: a, tenantId }))).operationType).toBe('VM_REBOOT');
      expect((await done(await ok('vm_reset', { vmId: a, tenantId }))).operationType).toBe('VM_RESET');
      expect(await state()).toBe(RUNNING);
      await done(await ok('vm_poweroff', { vmId: a, tenantId }));
      expect(await state()).toBe(SHUTOFF);
    });

    it('vm_reinstall with another distribution keeps the id and the keys', async () => {
      await done(
        await ok('vm_reinstall', {
          vmId: a,
          tenantId,
          name: 'life-debian',
          distributionId: debian.id,
          password: PASSWORD,
        }),
      );
      const vm = await ok('vm_get', { vmId: a });
      expect(vm).toMatchObject({
        id: a,
        name: 'life-debian',
        state: RUNNING,
        distribution: { id: debian.id },
      });
      expect(vm.publicKeys.map((k) => k.id)).toEqual([key.id, 2]);
    });

    it('vm_tariff_change to a fixed tariff; vm_backup_policy_change completes at once', async () => {
      await done(await ok('vm_tariff_change', { vmId: a, tenantId, tariffId: fixed.id }));
      expect(await ok('vm_get', { vmId: a })).toMatchObject({
        tariffId: fixed.id,
        memory: fixed.memory,
        disk: fixed.disk,
      });
      const ref = await ok('vm_backup_policy_change', { vmId: a, tenantId, quantity: 3, frequency: 24 });
      const first = await ok('operation_get', { operationId: ref.operationId });
      expect(first).toMatchObject({
        status: 'DONE',
        percentage: 100,
        operationType: 'VM_BACKUP_POLICY_CHANGE',
      });
      expect((await ok('vm_get', { vmId: a })).backupPolicy).toEqual({ quantity: 3, frequency: 24 });
    });

    it('backups of VM 85561: list, download link, roll back', async () => {
      const backups = await ok('vm_backup_list', { vmId: 85561 });
      expect(backups).toEqual([{ id: BACKUP_ID, size: expect.any(Number), timeAdded: 1413928454000 }]);

      const download = await done(
        await ok('vm_backup_download', { vmId: 85561, tenantId: 111, backup: BACKUP_ID }),
      );
      expect(download.operationType).toBe('DOWNLOAD_BACKUP');
      expect(download.operationResult).toMatch(/^https:\/\/.*\.lz4$/);

      await done(
        await ok('vm_backup_rollback', { vmId: 85561, tenantId: 111, backup: BACKUP_ID, createBackup: true }),
      );
      expect(await ok('vm_backup_list', { vmId: 85561 })).toHaveLength(2);
      // A backup rollback deletes every snapshot.
      expect(await ok('vm_snapshot_list', { vmId: 85561 })).toEqual([]);
    });

    it('vm_delete, pubkey_delete', async () => {
      await done(await ok('vm_delete', { vmId: b, tenantId }));
      await done(await ok('vm_delete', { vmId: a, tenantId }));
      await apiFailure(client.call('vm_get', { vmId: a }), 'error.vm.not.found', 'vm_get');
      expect((await ok('vm_list', {})).map((v) => v.id)).not.toContain(a);

      expect(await ok('pubkey_delete', { keyId: key.id, tenantId })).toBeUndefined();
      expect((await ok('pubkey_list', {})).map((k) => k.id)).not.toContain(key.id);
    });

    it('the set of methods that succeeded is the whole table', () => {
      const all = OPERATIONS.map((o) => o.tool);
      expect(all).toHaveLength(38);
      expect([...succeeded].sort()).toEqual([...all].sort());
    });
  });

  // ---------------------------------------------------------------------------------------------

  /** A call of every method that succeeds on the seeded state; the failures below change one thing. */
  const VALID: { [T in ToolName]: ParamsOf<T> } = {
    tenant_list: {},
    vm_list: {},
    vm_install: { tenantId: 10081, distributionId: 230, tariffId: 3, password: PASSWORD },
    vm_clone: { vmId: 85561, tenantId: 111 },
    vm_reinstall: { vmId: 85561, tenantId: 111, password: PASSWORD },
    vm_get: { vmId: 85561 },
    vm_rename: { vmId: 85561, tenantId: 111, name: 'x' },
    vm_start: { vmId: 85561, tenantId: 111 },
    vm_reset: { vmId: 85561, tenantId: 111 },
    vm_reboot: { vmId: 85561, tenantId: 111 },
    vm_poweroff: { vmId: 85561, tenantId: 111 },
    vm_shutdown: { vmId: 85561, tenantId: 111 },
    vm_delete: { vmId: 85561, tenantId: 111 },
    vm_password_change: { vmId: 85561, tenantId: 111, password: PASSWORD },
    vm_pubkey_change: { vmId: 85561, tenantId: 111, keyIds: [2] },
    vm_memory_change: { vmId: 85561, tenantId: 111, memory: 1024 },
    vm_disk_change: { vmId: 85561, tenantId: 111, disk: 20480 },
    vm_cpu_change: { vmId: 85561, tenantId: 111, cpu: 2 },
    vm_tariff_change: { vmId: 85561, tenantId: 111, tariffId: 4 },
    vm_backup_policy_change: { vmId: 85561, tenantId: 111, quantity: 2, frequency: 24 },
    vm_ip_add: { vmId: 85561, tenantId: 111 },
    vm_ip_delete: { vmId: 85561, tenantId: 111, ip: '185.22.60.228' },
    vm_ip_move: { vmId: 85561, tenantId: 111, toVmId: 85662, ip: '185.22.60.228' },
    vm_snapshot_list: { vmId: 85561 },
    vm_snapshot_create: { vmId: 85561, tenantId: 111, name: 's' },
    vm_snapshot_rollback: { vmId: 85561, tenantId: 111, snapshotId: 2206 },
    vm_snapshot_delete: { vmId: 85561, tenantId: 111, snapshotId: 2206 },
    vm_backup_list: { vmId: 85561 },
    vm_backup_rollback: { vmId: 85561, tenantId: 111, backup: BACKUP_ID },
    vm_backup_download: { vmId: 85561, tenantId: 111, backup: BACKUP_ID },
    pubkey_list: {},
    pubkey_add: { tenantId: 10081, name: 'k', publicKey: KEY_TEXT },
    pubkey_edit: { keyId: 2, tenantId: 111, name: 'k' },
    pubkey_delete: { keyId: 2, tenantId: 111 },
    operation_get: { operationId: 61626 },
    distribution_list: {},
    software_list: {},
    tariff_list: {},
  };
  const TOOLS = OPERATIONS.map((o) => o.tool);
  const VM_TOOLS = TOOLS.filter((t) => 'vmId' in VALID[t]);
  /** Writes on a VM, addressed with its tenant (a clone goes to the given tenant: see below). */
  const WRITE_VM_TOOLS = VM_TOOLS.filter((t) => 'tenantId' in VALID[t] && t !== 'vm_clone');

  describe('documented failures of every method, as FlopsApiError', () => {
    beforeEach(() => sandbox.reset());

    it.each(TOOLS)('%s: the baseline call succeeds on the seeded state', async (tool) => {
      await expect(callAny(client, tool, VALID[tool])).resolves.not.toBeInstanceOf(Error);
    });

    it.each(TOOLS)('%s: wrong credentials → error.not.owner, sent once', async (tool) => {
      const wrong = newClient(`${API_KEY}-wrong`);
      await apiFailure(callAny(wrong, tool, VALID[tool]), 'error.not.owner', tool);
      expect(sandbox.requests.count(tool)).toBe(1);
    });

    it('a wrong clientId with the right apiKey → error.not.owner', async () => {
      await apiFailure(
        newClient(API_KEY, 'someone-else').call('tenant_list', {}),
        'error.not.owner',
        'tenant_list',
      );
    });

    it.each(VM_TOOLS)('%s: a VM that does not exist → error.vm.not.found', async (tool) => {
      await apiFailure(callAny(client, tool, { ...VALID[tool], vmId: 999999 }), 'error.vm.not.found', tool);
    });

    it.each(VM_TOOLS)("%s: another account's VM → error.not.owner", async (tool) => {
      const params = { ...VALID[tool], vmId: 87001 };
      if ('ip' in params) params.ip = '185.22.60.240';
      await apiFailure(callAny(client, tool, params), 'error.not.owner', tool);
    });

    it.each(WRITE_VM_TOOLS)("%s: an own tenant that is not the VM's → error.not.owner", async (tool) => {
      await apiFailure(callAny(client, tool, { ...VALID[tool], tenantId: 10081 }), 'error.not.owner', tool);
    });

    it("vm_clone: the clone goes to the tenant given, any of the account's", async () => {
      const ref = await client.call('vm_clone', { ...VALID.vm_clone, tenantId: 10081 });
      await done(ref);
      expect((await client.call('vm_get', { vmId: ref.vmId })).tenantId).toBe(10081);
    });

    it('tenants: unknown → error.object.not.found, another account’s → error.not.owner', async () => {
      for (const tool of ['vm_install', 'pubkey_add', 'vm_clone'] as const) {
        await apiFailure(
          callAny(client, tool, { ...VALID[tool], tenantId: 424242 }),
          'error.object.not.found',
          tool,
        );
        await apiFailure(callAny(client, tool, { ...VALID[tool], tenantId: 20001 }), 'error.not.owner', tool);
      }
    });

    it('objects that do not exist → error.object.not.found', async () => {
      const cases: [ToolName, Record<string, unknown>][] = [
        ['operation_get', { operationId: 999999 }],
        ['pubkey_edit', { ...VALID.pubkey_edit, keyId: 9999 }],
        ['pubkey_delete', { ...VALID.pubkey_delete, keyId: 9999 }],
        ['vm_clone', { ...VALID.vm_clone, snapshotId: 9999 }],
        ['vm_backup_download', { ...VALID.vm_backup_download, backup: 'full-nope.lz4' }],
        ['vm_ip_delete', { ...VALID.vm_ip_delete, ip: '203.0.113.250' }],
        ['vm_ip_move', { ...VALID.vm_ip_move, ip: '203.0.113.250' }],
        ['vm_pubkey_change', { ...VALID.vm_pubkey_change, keyIds: [9999] }],
        ['vm_install', { ...VALID.vm_install, distributionId: 216 }], // retired image
        ['vm_install', { ...VALID.vm_install, tariffId: 20 }], // retired tariff
        ['vm_install', { ...VALID.vm_install, softwareIds: [99] }],
        ['vm_tariff_change', { ...VALID.vm_tariff_change, tariffId: 20 }],
      ];
      for (const [tool, params] of cases)
        await apiFailure(callAny(client, tool, params), 'error.object.not.found', tool);
      // A snapshot or backup the VM does not have is accepted; its operation ends in ERROR.
      for (const [tool, params] of [
        ['vm_snapshot_rollback', { ...VALID.vm_snapshot_rollback, snapshotId: 9999 }],
        ['vm_snapshot_delete', { ...VALID.vm_snapshot_delete, snapshotId: 9999 }],
        ['vm_backup_rollback', { ...VALID.vm_backup_rollback, backup: 'full-nope.lz4' }],
      ] as const) {
        const operation = await finish((await callAny(client, tool, params)) as { operationId: number });
        expect(operation, tool).toMatchObject({ status: 'ERROR', errorCode: 'error.object.not.found' });
      }
      // A key deleted twice: the second time it is gone.
      await client.call('pubkey_delete', VALID.pubkey_delete);
      await apiFailure(
        client.call('pubkey_delete', VALID.pubkey_delete),
        'error.object.not.found',
        'pubkey_delete',
      );
    });

    it("another account's key → error.not.owner", async () => {
      await apiFailure(
        client.call('pubkey_edit', { ...VALID.pubkey_edit, keyId: 67 }),
        'error.not.owner',
        'pubkey_edit',
      );
      await apiFailure(
        client.call('pubkey_delete', { ...VALID.pubkey_delete, keyId: 67 }),
        'error.not.owner',
        'pubkey_delete',
      );
      await apiFailure(
        client.call('vm_install', { ...VALID.vm_install, publicKeyIds: [67] }),
        'error.not.owner',
        'vm_install',
      );
    });

    it('a busy VM → error.operation.already.started, then free again once its operation is done', async () => {
      const rename = await client.call('vm_rename', { vmId: 85561, tenantId: 111, name: 'busy' });
      const err = await apiFailure(
        client.call('vm_snapshot_create', { vmId: 85561, tenantId: 111, name: 'later' }),
        'error.operation.already.started',
        'vm_snapshot_create',
      );
      expect(err.errorMessage).toContain(String(rename.operationId));
      // Reads are not blocked.
      expect((await client.call('vm_get', { vmId: 85561 })).id).toBe(85561);
      await done(rename);
      await done(await client.call('vm_snapshot_create', { vmId: 85561, tenantId: 111, name: 'later' }));
    });

    it("a clone keeps the source's disk busy → error.vm.volume.under.operation", async () => {
      const clone = await client.call('vm_clone', { vmId: 85561, tenantId: 111 });
      await apiFailure(
        client.call('vm_rename', { vmId: 85561, tenantId: 111, name: 'x' }),
        'error.vm.volume.under.operation',
        'vm_rename',
      );
      await done(clone);
    });

    it('an IP move keeps both VMs busy', async () => {
      const move = await client.call('vm_ip_move', VALID.vm_ip_move);
      await apiFailure(
        client.call('vm_start', { vmId: 85662, tenantId: 111 }),
        'error.operation.already.started',
        'vm_start',
      );
      await done(move);
      expect((await client.call('vm_get', { vmId: 85662 })).ipAddresses).toContain('185.22.60.228');
    });

    it('the VM quota → vm.limit.exceed', async () => {
      const small = await startSandbox({
        port: 0,
        timeScale: 0,
        apiKey: API_KEY,
        clientId: 'marker-client',
        vmQuota: 3,
      });
      const c = new FlopsClient({ baseUrl: small.url, clientId: small.clientId, apiKey: API_KEY });
      try {
        await apiFailure(c.call('vm_install', VALID.vm_install), 'vm.limit.exceed', 'vm_install');
      } finally {
        await c.close();
        await small.close();
      }
    });

    describe('rule refusals: errorCode null with fieldErrors', () => {
      async function ruleRefusal(tool: ToolName, params: Record<string, unknown>, field: string) {
        const err = await apiFailure(callAny(client, tool, params), null, tool);
        expect(err.errorMessage).toBe('Validation failed');
        expect(err.fieldErrors.map((f) => f.field)).toEqual([field]);
        expect(err.fieldErrors[0]!.message.length).toBeGreaterThan(5);
        expect(err.message).toContain(`(${field}: `);
        return err;
      }

      it('memory/disk/cpu changes on a fixed tariff', async () => {
        await done(await client.call('vm_tariff_change', { vmId: 85662, tenantId: 111, tariffId: 4 }));
        const vm = { vmId: 85662, tenantId: 111 };
        await ruleRefusal('vm_memory_change', { ...vm, memory: 2048 }, 'memory');
        await ruleRefusal('vm_disk_change', { ...vm, disk: 40960 }, 'disk');
        await ruleRefusal('vm_cpu_change', { ...vm, cpu: 2 }, 'cpu');
      });

      it('memory decrease without allowRestart; disk that shrinks or outgrows 64 × memory', async () => {
        const vm = { vmId: 85662, tenantId: 111 };
        await ruleRefusal('vm_memory_change', { ...vm, memory: 512 }, 'allowRestart');
        await ruleRefusal('vm_memory_change', { ...vm, memory: 512, allowRestart: false }, 'allowRestart');
        await ruleRefusal('vm_disk_change', { ...vm, disk: 16384 }, 'disk');
        await ruleRefusal('vm_disk_change', { ...vm, disk: 131072 }, 'disk');
      });

      it('tariff with a smaller disk; Windows image on a Linux tariff; IP moved to its own VM', async () => {
        await ruleRefusal('vm_tariff_change', { vmId: 85662, tenantId: 111, tariffId: 3 }, 'tariffId');
        await ruleRefusal('vm_install', { ...VALID.vm_install, distributionId: 220 }, 'tariffId');
        await ruleRefusal('vm_ip_move', { ...VALID.vm_ip_move, toVmId: 85561 }, 'toVmId');
      });
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('operations', () => {
    beforeEach(() => sandbox.reset());

    it('PENDING with a rising percentage, then DONE', async () => {
      const ref = await client.call('vm_install', { ...VALID.vm_install, name: 'watched' });
      const seen: Operation[] = [];
      const deadline = Date.now() + 5000;
      for (;;) {
        const op = await client.call('operation_get', { operationId: ref.operationId });
        seen.push(op);
        if (op.status !== 'PENDING' || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const pending = seen.filter((o) => o.status === 'PENDING');
      const last = seen.at(-1)!;
      expect(last).toMatchObject({ status: 'DONE', percentage: 100, vmId: ref.vmId, errorCode: null });
      expect(seen[0]!.status).toBe('PENDING');
      const percentages = pending.map((o) => o.percentage!);
      expect(new Set(percentages).size).toBeGreaterThanOrEqual(2);
      for (let i = 1; i < percentages.length; i++)
        expect(percentages[i]).toBeGreaterThanOrEqual(percentages[i - 1]!);
      expect(Math.max(...percentages)).toBeLessThan(100);
      for (const op of seen)
        expect(op).toMatchObject({ id: ref.operationId, vmId: ref.vmId, operationType: 'VM_INSTALL' });
      expect(sandbox.state.vm(ref.vmId)!.state).toBe(RUNNING);
    });

    it('a hung guest: soft reboot and shutdown end in ERROR, an added IP needs configuring by hand', async () => {
      await done(await client.call('vm_rename', { vmId: 85662, tenantId: 111, name: 'hung-debian' }));
      const vm = { vmId: 85662, tenantId: 111 };
      // The guest is given 3 minutes: scaled down here so that they pass in a moment.
      sandbox.state.timeScale = 0.002;
      onTestFinished(() => {
        sandbox.state.timeScale = 0.05;
      });

      const reboot = await finish(await client.call('vm_reboot', vm));
      expect(reboot).toMatchObject({
        status: 'ERROR',
        operationType: 'VM_REBOOT',
        errorCode: 'error.vm.guest.timeout',
      });
      expect(reboot.errorMessage).toMatch(/3 minutes/);

      const shutdown = await finish(await client.call('vm_shutdown', vm));
      expect(shutdown).toMatchObject({ status: 'ERROR', errorCode: 'error.vm.guest.timeout' });
      expect((await client.call('vm_get', { vmId: 85662 })).state).toBe(RUNNING);

      const ipAdd = await finish(await client.call('vm_ip_add', vm));
      expect(ipAdd).toMatchObject({ status: 'ERROR', errorCode: 'error.inet.ip.guest.add' });
      expect((await client.call('vm_get', { vmId: 85662 })).ipAddresses).toHaveLength(2);

      // An operation in ERROR no longer keeps the VM busy; a hard reset works.
      await done(await client.call('vm_reset', vm));
    });

    it('backup_policy_change is DONE when first read; other operations are not', async () => {
      const policy = await client.call('vm_backup_policy_change', VALID.vm_backup_policy_change);
      expect(await client.call('operation_get', { operationId: policy.operationId })).toMatchObject({
        status: 'DONE',
        percentage: 100,
      });
      const rename = await client.call('vm_rename', VALID.vm_rename);
      expect((await client.call('operation_get', { operationId: rename.operationId })).status).toBe(
        'PENDING',
      );
    });

    it('clone: the operation names the new VM, not the source', async () => {
      const ref = await client.call('vm_clone', { vmId: 85561, tenantId: 111, name: 'copy' });
      expect(ref.vmId).not.toBe(85561);
      const first = await client.call('operation_get', { operationId: ref.operationId });
      expect(first).toMatchObject({ vmId: ref.vmId, operationType: 'VM_CLONE' });
      await done(ref);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('encoding on the wire', () => {
    const paths: string[] = [];
    let agent: Agent;
    let recording: FlopsClient;

    beforeAll(() => {
      agent = new Agent();
      const dispatcher = agent.compose((dispatch) => (opts, handler) => {
        paths.push(String(opts.path));
        return dispatch(opts, handler);
      });
      recording = new FlopsClient({
        baseUrl: sandbox.url,
        clientId: sandbox.clientId,
        apiKey: API_KEY,
        dispatcher,
      });
    });
    afterAll(() => agent.close());
    beforeEach(() => {
      sandbox.reset();
      paths.length = 0;
    });

    const lastQuery = () => {
      expect(paths.length).toBeGreaterThan(0);
      return new URL(paths.at(-1)!, 'http://sandbox.invalid');
    };

    it('booleans true/false, lists as repeated keys, absent values and empty lists left out', async () => {
      const ref = await recording.call('vm_install', {
        tenantId: 10081,
        distributionId: 230,
        tariffId: 1,
        memory: 1024,
        disk: 16384,
        password: PASSWORD,
        sendPassword: false,
        openSupportAccess: true,
        publicKeyIds: [254, 2],
        softwareIds: [],
        name: undefined,
      });
      const url = lastQuery();
      expect(url.pathname).toBe('/api/v1/vm/install/');
      expect(url.search).toContain('publicKeyIds=254&publicKeyIds=2');
      expect(url.searchParams.get('sendPassword')).toBe('false');
      expect(url.searchParams.get('openSupportAccess')).toBe('true');
      expect(url.searchParams.getAll('clientId')).toEqual(['marker-client']);
      expect(url.searchParams.getAll('apiKey')).toEqual([API_KEY]);
      for (const absent of ['softwareIds', 'name', 'cpu', 'ipCount'])
        expect(url.searchParams.has(absent)).toBe(false);
      expect([...url.searchParams.keys()].sort()).toEqual(
        [
          'apiKey',
          'clientId',
          'disk',
          'distributionId',
          'memory',
          'openSupportAccess',
          'password',
          'publicKeyIds',
          'publicKeyIds',
          'sendPassword',
          'tariffId',
          'tenantId',
        ].sort(),
      );

      // The sandbox understood it: both keys installed, support access given, the default name.
      await done(ref);
      const vm = await recording.call('vm_get', { vmId: ref.vmId });
      expect(vm.publicKeys.map((k) => [k.id, k.installed])).toEqual([
        [254, true],
        [2, true],
      ]);
      expect(vm.accessUsers).toContain('support@serveroid.com');
      expect(vm).toMatchObject({ name: `vm${ref.vmId}`, memory: 1024, disk: 16384 });
    });

    it('keyIds: [] is left out and clears the keys; path parameters stay out of the query', async () => {
      await done(await recording.call('vm_pubkey_change', { vmId: 85561, tenantId: 111, keyIds: [] }));
      const cleared = paths.find((p) => p.includes('/pubkey_change'))!;
      const url = new URL(cleared, 'http://sandbox.invalid');
      expect(url.pathname).toBe('/api/v1/vm/85561/pubkey_change/');
      expect(url.searchParams.has('keyIds')).toBe(false);
      expect(url.searchParams.has('vmId')).toBe(false);
      expect((await recording.call('vm_get', { vmId: 85561 })).publicKeys).toEqual([]);

      await done(await recording.call('vm_pubkey_change', { vmId: 85561, tenantId: 111, keyIds: [2] }));
      expect((await recording.call('vm_get', { vmId: 85561 })).publicKeys.map((k) => k.id)).toEqual([2]);
    });

    it('allowMemoryChange=true raises memory; allowRestart=false is read as false', async () => {
      await done(
        await recording.call('vm_disk_change', {
          vmId: 85561,
          tenantId: 111,
          disk: 65536,
          allowMemoryChange: true,
        }),
      );
      expect(lastQuery().searchParams.get('allowMemoryChange')).toBe('true');
      expect(sandbox.state.vm(85561)).toMatchObject({ disk: 65536, memory: 1024 });
      const err = await apiFailure(
        recording.call('vm_memory_change', { vmId: 85662, tenantId: 111, memory: 512, allowRestart: false }),
        null,
        'vm_memory_change',
      );
      expect(lastQuery().searchParams.get('allowRestart')).toBe('false');
      expect(err.fieldErrors.map((f) => f.field)).toEqual(['allowRestart']);
    });

    it('text with spaces, reserved and non-Latin characters arrives unchanged', async () => {
      const name = 'web & db #1 / тест ?=+%';
      await done(await recording.call('vm_rename', { vmId: 85561, tenantId: 111, name }));
      expect(lastQuery().searchParams.get('name')).toBe(name);
      expect((await recording.call('vm_get', { vmId: 85561 })).name).toBe(name);
      const backup = await recording.call('vm_backup_download', {
        vmId: 85561,
        tenantId: 111,
        backup: BACKUP_ID,
      });
      expect((await done(backup)).operationResult).toContain(BACKUP_ID);
    });
  });

  // ---------------------------------------------------------------------------------------------

  describe('no secret in any error text', () => {
    it('a refused password change does not echo the password', async () => {
      sandbox.reset();
      // Long enough that the next call finds the VM busy however loaded the machine is.
      const scale = sandbox.state.timeScale;
      sandbox.state.timeScale = 2;
      const rename = await client.call('vm_rename', VALID.vm_rename).finally(() => {
        sandbox.state.timeScale = scale;
      });
      await apiFailure(
        client.call('vm_password_change', { vmId: 85561, tenantId: 111, password: PASSWORD }),
        'error.operation.already.started',
        'vm_password_change',
      );
      await apiFailure(
        newClient(`${API_KEY}-wrong`).call('vm_password_change', {
          vmId: 85561,
          tenantId: 111,
          password: PASSWORD,
        }),
        'error.not.owner',
        'vm_password_change',
      );
      await done(rename);
    });

    it('a network failure of a call carrying the apiKey does not reveal it', async () => {
      sandbox.faults.add({ kind: 'reset', tool: 'vm_install' });
      let caught: unknown;
      try {
        await client.call('vm_install', VALID.vm_install);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(FlopsTransportError);
      errors.push(caught);
    });

    it('no error of this file carries the apiKey or a password, cause included', () => {
      expect(errors.length).toBeGreaterThan(2 * TOOLS.length);
      for (const err of errors) {
        const e = err as Error;
        const texts = [String(e), e.message, e.stack ?? '', JSON.stringify(e)];
        if (e.cause !== undefined) texts.push(String(e.cause), JSON.stringify(e.cause));
        for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
      }
    });
  });
});
