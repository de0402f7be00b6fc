/**
 * Every method of the table against the sandbox: it succeeds and changes the state as the provider
 * would, and it fails its documented ways (validation rules, unknown ids, ownership).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { OPERATIONS, type ToolName } from '../src/api/operations.js';
import { OTHER_ACCOUNT, type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { matchRoute } from '../src/sandbox/router.js';
import {
  api,
  fails,
  invalid,
  type Json,
  KEY_TEXT,
  ok as okCall,
  PASSWORD,
  type Query,
  run as runCall,
  waitOp,
} from './sandbox-helpers.js';

let sb: Sandbox;
const succeeded = new Set<ToolName>();

/** A successful call, recorded for the coverage check at the end. */
async function ok(path: string, params: Query = {}): Promise<Json> {
  const body = await okCall(sb, path, params);
  succeeded.add(matchRoute(path)!.tool);
  return body;
}

/** A successful asynchronous call followed to its end: the finished operation. */
async function run(path: string, params: Query): Promise<Json> {
  const op = await runCall(sb, path, params);
  succeeded.add(matchRoute(path)!.tool);
  return op;
}

const vm = async (id: number): Promise<Json> => (await ok(`vm/${id}/`)).result;

async function install(params: Query = {}): Promise<{ id: number; op: Json }> {
  const body = await ok('vm/install/', { tenantId: 10081, distributionId: 230, tariffId: 3, ...params });
  const op = await waitOp(sb, body.operationId);
  expect(op.status).toBe('DONE');
  return { id: body.result, op };
}

beforeAll(async () => {
  sb = await startSandbox({ port: 0, timeScale: 0.01 });
});
afterAll(() => sb.close());
beforeEach(() => sb.reset());

describe('lists', () => {
  it('tenant_list and vm_list show only the account’s objects', async () => {
    const tenants = (await ok('tenant/')).result.map((t: { id: number }) => t.id);
    expect(tenants).toEqual([10081, 10082, 10100, 111]);
    const vms = (await ok('vm')).result.map((v: { id: number }) => v.id);
    expect(vms).not.toContain(87001);
    const { id } = await install();
    expect((await ok('vm/')).result[0].id).toBe(id);
  });

  it('pubkey_list, distribution_list, software_list, tariff_list', async () => {
    expect((await ok('pubkeys')).result.map((k: { id: number }) => k.id)).toEqual([254, 2]);
    const distributions = (await ok('distribution')).result.map((d: { id: number }) => d.id);
    expect(distributions).not.toContain(216); // retired, still shown on VM 85561
    expect(distributions).not.toContain(221);
    expect((await ok('software')).result).toHaveLength(5);
    const tariffs = (await ok('tariffs')).result.map((t: { id: number }) => t.id);
    expect(tariffs).toEqual([3, 4, 5, 6, 10, 11, 1, 7, 8, 9, 12, 13, 2]);
  });
});

describe('vm_install', () => {
  it('fixed tariff: the tariff’s resources, an address, running when the operation is done', async () => {
    const body = await ok('vm/install/', {
      tenantId: 10081,
      name: 'web',
      distributionId: 230,
      tariffId: 4,
      memory: 4096, // ignored on a fixed tariff
      publicKeyIds: [2, 254],
      softwareIds: [1, 3],
      password: PASSWORD,
      sendPassword: false,
    });
    expect(body.result).toBe(88977);
    const during = await vm(88977);
    expect(during.state).not.toBe('VIR_DOMAIN_RUNNING');
    const op = await waitOp(sb, body.operationId);
    expect(op).toMatchObject({ vmId: 88977, tenantId: 10081, status: 'DONE', operationType: 'VM_INSTALL' });
    const v = await vm(88977);
    expect(v).toMatchObject({
      id: 88977,
      tenantId: 10081,
      name: 'web',
      internalId: 'vm88977',
      memory: 1024,
      disk: 32768,
      cpu: 1,
      bandwidth: 100,
      tariffId: 4,
      state: 'VIR_DOMAIN_RUNNING',
      currentSnapshot: null,
      backupPolicy: { quantity: 1, frequency: 72 },
      distribution: { id: 230, name: 'UBUNTU', description: 'Ubuntu 14.04.1 x64', bitness: 64 },
      ownerUser: null,
      accessUsers: [],
    });
    expect(v.ipAddresses).toHaveLength(1);
    expect(v.ipAddresses[0]).toMatch(/^(198\.51\.100|203\.0\.113)\.\d+$/);
    expect(v.privateIpAddress).toMatch(/^10\.\d+\.\d+\.\d+$/);
    expect(typeof v.timeAdded).toBe('number');
    expect(v.publicKeys.map((k: Json) => [k.id, k.installed, k.tenantId])).toEqual([
      [2, true, 10081],
      [254, true, 10081],
    ]);
    expect((await ok('vm/88977/backups/')).result).toEqual([]);
    expect((await ok('vm/88977/snapshots/')).result).toEqual([]);
  });

  it('onDemand tariff: given resources, or the tariff minimums; addresses never shared', async () => {
    const a = await install({ tariffId: 1, memory: 2048, disk: 20480, cpu: 3, ipCount: 2 });
    expect(await vm(a.id)).toMatchObject({ memory: 2048, disk: 20480, cpu: 3, tariffId: 1 });
    const b = await install({ tariffId: 1 });
    const vb = await vm(b.id);
    expect(vb).toMatchObject({ memory: 512, disk: 8192, cpu: 1, ipAddresses: [] });
    const c = await install({ tariffId: 1, ipCount: 1, openSupportAccess: true });
    const vc = await vm(c.id);
    expect(vc.accessUsers).toEqual(['support@serveroid.com']);
    const all = [...(await vm(a.id)).ipAddresses, ...vc.ipAddresses];
    expect(new Set(all).size).toBe(3);
  });

  it('Windows needs a forWindows tariff and the others a tariff that is not', async () => {
    await invalid(sb, 'vm/install/', { tenantId: 111, distributionId: 220, tariffId: 3 }, 'tariffId');
    await invalid(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 7 }, 'tariffId');
    await invalid(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 2 }, 'tariffId');
    const { id } = await install({ distributionId: 220, tariffId: 7, publicKeyIds: [2] });
    const v = await vm(id);
    expect(v.distribution.name).toBe('WINDOWS_2012');
    expect(v.publicKeys[0].installed).toBe(false); // no authorized_keys on Windows
  });

  it('unknown or retired catalog ids, foreign keys and tenants', async () => {
    const base = { tenantId: 111, distributionId: 230, tariffId: 3 };
    await fails(sb, 'vm/install/', { ...base, distributionId: 999 }, 'error.object.not.found');
    await fails(sb, 'vm/install/', { ...base, distributionId: 216 }, 'error.object.not.found');
    await fails(sb, 'vm/install/', { ...base, tariffId: 999 }, 'error.object.not.found');
    await fails(sb, 'vm/install/', { ...base, tariffId: 20 }, 'error.object.not.found');
    await fails(sb, 'vm/install/', { ...base, publicKeyIds: [2, 999] }, 'error.object.not.found');
    await fails(sb, 'vm/install/', { ...base, publicKeyIds: [67] }, 'error.not.owner');
    await fails(sb, 'vm/install/', { ...base, softwareIds: [99] }, 'error.object.not.found');
    await fails(sb, 'vm/install/', { ...base, tenantId: 20001 }, 'error.not.owner');
    await fails(sb, 'vm/install/', { ...base, tenantId: 99999 }, 'error.object.not.found');
    expect((await ok('vm/')).result).toHaveLength(3);
  });

  it('validation: ranges, password rule, disk ≤ 64 × memory, required parameters', async () => {
    const base = { tenantId: 111, distributionId: 230, tariffId: 1 };
    await invalid(sb, 'vm/install/', { ...base, memory: 511 }, 'memory');
    await invalid(sb, 'vm/install/', { ...base, memory: 16385 }, 'memory');
    await invalid(sb, 'vm/install/', { ...base, disk: 8191 }, 'disk');
    await invalid(sb, 'vm/install/', { ...base, disk: 524289 }, 'disk');
    await invalid(sb, 'vm/install/', { ...base, cpu: 0 }, 'cpu');
    await invalid(sb, 'vm/install/', { ...base, cpu: 13 }, 'cpu');
    await invalid(sb, 'vm/install/', { ...base, ipCount: 3 }, 'ipCount');
    await invalid(sb, 'vm/install/', { ...base, ipCount: -1 }, 'ipCount');
    await invalid(sb, 'vm/install/', { ...base, memory: 1024, disk: 65537 }, 'disk');
    await invalid(sb, 'vm/install/', { ...base, disk: 32769 }, 'disk'); // memory defaults to 512
    await invalid(sb, 'vm/install/', { ...base, memory: 'lots' }, 'memory');
    await invalid(sb, 'vm/install/', { ...base, sendPassword: false }, 'password');
    await invalid(sb, 'vm/install/', { ...base, sendPassword: 'maybe' }, 'sendPassword');
    for (const bad of ['alllowercase1', 'ALLUPPER1', 'NoDigitsOrSpecials', 'Has space1', 'Bad#char1']) {
      await invalid(sb, 'vm/install/', { ...base, password: bad }, 'password');
    }
    const missing = await invalid(sb, 'vm/install/', {}, 'tenantId');
    expect(missing.fieldErrors.map((f: Json) => f.field).sort()).toEqual([
      'distributionId',
      'tariffId',
      'tenantId',
    ]);
    expect(missing.fieldErrors[0].message).toMatch(/required/);
    // Accepted: the limits themselves, and every special character of the rule.
    await ok('vm/install/', {
      ...base,
      memory: 8192,
      disk: 524288,
      cpu: 12,
      ipCount: 2,
      password: 'aB!()[]-.?~`',
    });
    await ok('vm/install/', { ...base, password: 'aB3', sendPassword: false });
  });

  it('the account’s VM quota: vm.limit.exceed', async () => {
    const small = await startSandbox({ port: 0, timeScale: 0, vmQuota: 4 });
    try {
      await okCall(small, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 });
      const body = await fails(
        small,
        'vm/install/',
        { tenantId: 111, distributionId: 230, tariffId: 3 },
        'vm.limit.exceed',
      );
      expect(body.errorMessage).toMatch(/4/);
      await fails(small, 'vm/85561/clone/', { tenantId: 111 }, 'vm.limit.exceed');
    } finally {
      await small.close();
    }
  });
});

describe('vm_clone and vm_reinstall', () => {
  it('clone copies all but identity, state, time and addresses', async () => {
    await run('vm/85561/rename/', { tenantId: 111, name: 'ubuntu' });
    const body = await ok('vm/85561/clone/', { tenantId: 111, name: 'copy' });
    const op = await waitOp(sb, body.operationId);
    expect(op).toMatchObject({ vmId: body.result, status: 'DONE', operationType: 'VM_CLONE' });
    const source = await vm(85561);
    const clone = await vm(body.result);
    for (const key of [
      'memory',
      'disk',
      'cpu',
      'bandwidth',
      'tariffId',
      'backupPolicy',
      'distribution',
      'accessUsers',
    ]) {
      expect(clone[key], key).toEqual(source[key]);
    }
    expect(clone.publicKeys.map((k: Json) => k.id)).toEqual(source.publicKeys.map((k: Json) => k.id));
    expect(clone).toMatchObject({
      name: 'copy',
      internalId: `vm${body.result}`,
      state: 'VIR_DOMAIN_RUNNING',
    });
    expect(clone.ipAddresses).toHaveLength(source.ipAddresses.length);
    expect(clone.ipAddresses).not.toEqual(source.ipAddresses);
    expect(clone.privateIpAddress).not.toBe(source.privateIpAddress);
    expect(clone.timeAdded).not.toBe(source.timeAdded);
  });

  it('clone from a snapshot takes the snapshot’s resources; the snapshot must be the VM’s', async () => {
    const { id } = await install({ tariffId: 1, memory: 1024, disk: 10240 });
    await run(`vm/${id}/snapshot_create/`, { tenantId: 10081, name: 'small' });
    const snapshotId = (await vm(id)).currentSnapshot;
    await run(`vm/${id}/memory_change/`, { tenantId: 10081, memory: 4096 });
    const body = await ok(`vm/${id}/clone/`, { tenantId: 10081, snapshotId });
    await waitOp(sb, body.operationId);
    expect(await vm(body.result)).toMatchObject({ memory: 1024, disk: 10240, currentSnapshot: null });
    await fails(sb, `vm/${id}/clone/`, { tenantId: 10081, snapshotId: 2206 }, 'error.object.not.found');
    await fails(sb, 'vm/1/clone/', { tenantId: 111 }, 'error.vm.not.found');
    await fails(sb, 'vm/87001/clone/', { tenantId: 111 }, 'error.not.owner');
    await fails(sb, 'vm/85561/clone/', { tenantId: 20001 }, 'error.not.owner');
  });

  it('reinstall keeps id and addresses, applies distribution and tariff, wipes snapshots', async () => {
    const before = await vm(85561);
    const op = await run('vm/85561/reinstall/', {
      tenantId: 111,
      distributionId: 233,
      tariffId: 5,
      name: 'fresh',
      password: PASSWORD,
    });
    expect(op).toMatchObject({ vmId: 85561, status: 'DONE', operationType: 'VM_REINSTALL' });
    const after = await vm(85561);
    expect(after).toMatchObject({
      id: 85561,
      name: 'fresh',
      ipAddresses: before.ipAddresses,
      privateIpAddress: before.privateIpAddress,
      tariffId: 5,
      memory: 2048,
      disk: 65536,
      cpu: 2,
      currentSnapshot: null,
      state: 'VIR_DOMAIN_RUNNING',
      distribution: { id: 233, name: 'DEBIAN', description: 'Debian 7.6 x64', bitness: 64 },
    });
    expect(after.publicKeys.map((k: Json) => k.id)).toEqual([254, 2, 67]);
    expect((await ok('vm/85561/snapshots/')).result).toEqual([]);
    // Without a password, on an onDemand tariff with resources, and with new keys.
    await run('vm/85561/reinstall/', {
      tenantId: 111,
      tariffId: 1,
      memory: 1024,
      disk: 16384,
      publicKeyIds: [2],
    });
    expect(await vm(85561)).toMatchObject({ tariffId: 1, memory: 1024, disk: 16384, cpu: 2 });
    expect((await vm(85561)).publicKeys.map((k: Json) => k.id)).toEqual([2]);
  });

  it('reinstall refuses what install refuses', async () => {
    await fails(sb, 'vm/85561/reinstall/', { tenantId: 111, distributionId: 999 }, 'error.object.not.found');
    await fails(sb, 'vm/85561/reinstall/', { tenantId: 111, tariffId: 20 }, 'error.object.not.found');
    await invalid(sb, 'vm/85561/reinstall/', { tenantId: 111, distributionId: 219, tariffId: 3 }, 'tariffId');
    await invalid(sb, 'vm/85561/reinstall/', { tenantId: 111, memory: 512, disk: 65536 }, 'disk');
    await invalid(sb, 'vm/85561/reinstall/', { tenantId: 111, disk: 40000 }, 'disk'); // memory stays 512
    await invalid(sb, 'vm/85561/reinstall/', { tenantId: 111, password: 'weak' }, 'password');
    await invalid(sb, 'vm/85561/reinstall/', {}, 'tenantId');
    await fails(sb, 'vm/85561/reinstall/', { tenantId: 10081 }, 'error.not.owner');
    await fails(sb, 'vm/87001/reinstall/', { tenantId: 20001 }, 'error.not.owner');
    await fails(sb, 'vm/5/reinstall/', { tenantId: 111 }, 'error.vm.not.found');
    // The Windows VM on the retired universal tariff 20 reinstalls as it is.
    await run('vm/88534/reinstall/', { tenantId: 111 });
  });
});

describe('vm_get, vm_rename, vm_delete, vm_password_change', () => {
  it('vm_get: unknown id and another account’s VM', async () => {
    await fails(sb, 'vm/12345/', {}, 'error.vm.not.found');
    await fails(sb, 'vm/87001/', {}, 'error.not.owner');
  });

  it('rename takes effect when its operation is done', async () => {
    const op = await run('vm/85561/rename/', { tenantId: 111, name: 'renamed' });
    expect(op).toMatchObject({ vmId: 85561, tenantId: 111, status: 'DONE', operationType: 'VM_UPDATE' });
    expect((await vm(85561)).name).toBe('renamed');
    await invalid(sb, 'vm/85561/rename/', { tenantId: 111, name: 'x'.repeat(256) }, 'name');
    await fails(sb, 'vm/85561/rename/', { tenantId: 10082, name: 'a' }, 'error.not.owner');
    await fails(sb, 'vm/85561/rename/', { tenantId: 31337, name: 'a' }, 'error.object.not.found');
  });

  it('delete: the VM disappears when the operation finishes and its addresses are released', async () => {
    const { id } = await install({ tariffId: 1, ipCount: 2 });
    const ips = (await vm(id)).ipAddresses;
    const op = await run(`vm/${id}/delete/`, { tenantId: 10081 });
    expect(op).toMatchObject({ vmId: id, status: 'DONE', operationType: 'VM_DELETE' });
    await fails(sb, `vm/${id}/`, {}, 'error.vm.not.found');
    await fails(sb, `vm/${id}/delete/`, { tenantId: 10081 }, 'error.vm.not.found');
    expect((await ok('vm/')).result.map((v: Json) => v.id)).not.toContain(id);
    // The operation stays readable.
    expect((await ok(`operation/${op.id}/`)).result.status).toBe('DONE');
    const again = await install({ tariffId: 1, ipCount: 2 });
    expect((await vm(again.id)).ipAddresses.sort()).toEqual([...ips].sort());
  });

  it('password_change checks the password rule', async () => {
    const op = await run('vm/85561/password_change/', {
      tenantId: 111,
      password: PASSWORD,
      sendPassword: true,
    });
    expect(op).toMatchObject({ status: 'DONE', operationType: 'VM_PASSWORD_CHANGE' });
    await invalid(sb, 'vm/85561/password_change/', { tenantId: 111 }, 'password');
    await invalid(sb, 'vm/85561/password_change/', { tenantId: 111, password: 'nouppercase1' }, 'password');
    // The password is not kept anywhere visible.
    expect(JSON.stringify(sb.state.vms.get(85561))).not.toContain(PASSWORD);
  });
});

describe('power', () => {
  it('start, poweroff, shutdown, reboot, reset change the state', async () => {
    expect((await run('vm/85561/poweroff/', { tenantId: 111 })).operationType).toBe('VM_DESTROY');
    expect((await vm(85561)).state).toBe('VIR_DOMAIN_SHUTOFF');
    expect((await run('vm/85561/start/', { tenantId: 111 })).operationType).toBe('VM_START');
    expect((await vm(85561)).state).toBe('VIR_DOMAIN_RUNNING');
    expect(await run('vm/85561/reboot/', { tenantId: 111 })).toMatchObject({
      status: 'DONE',
      operationType: 'VM_REBOOT',
    });
    expect(await run('vm/85561/reset/', { tenantId: 111 })).toMatchObject({
      status: 'DONE',
      operationType: 'VM_RESET',
    });
    expect((await vm(85561)).state).toBe('VIR_DOMAIN_RUNNING');
    expect((await run('vm/85561/shutdown/', { tenantId: 111 })).operationType).toBe('VM_SHUTDOWN');
    expect((await vm(85561)).state).toBe('VIR_DOMAIN_SHUTOFF');
  });

  it('no-ops end DONE; rebooting a stopped VM ends in ERROR', async () => {
    expect((await run('vm/85561/start/', { tenantId: 111 })).status).toBe('DONE'); // already running
    expect((await vm(85561)).state).toBe('VIR_DOMAIN_RUNNING');
    expect((await run('vm/88534/shutdown/', { tenantId: 111 })).status).toBe('DONE'); // already off
    expect((await run('vm/88534/poweroff/', { tenantId: 111 })).status).toBe('DONE');
    expect(await run('vm/88534/reboot/', { tenantId: 111 })).toMatchObject({
      status: 'ERROR',
      errorCode: 'unexpected.exception',
    });
    expect((await run('vm/88534/reset/', { tenantId: 111 })).status).toBe('ERROR');
    expect((await vm(88534)).state).toBe('VIR_DOMAIN_SHUTOFF');
  });

  it('a guest that does not respond: soft reboot and shutdown end in ERROR, hard ones work', async () => {
    const { id } = await install({ name: 'hung-web' });
    sb.state.timeScale = 0.002; // the guest's 3 minutes, in a moment
    onTestFinished(() => {
      sb.state.timeScale = 0.01;
    });
    const reboot = await run(`vm/${id}/reboot/`, { tenantId: 10081 });
    expect(reboot).toMatchObject({ status: 'ERROR', errorCode: 'error.vm.guest.timeout', percentage: 100 });
    expect(reboot.errorMessage).toMatch(/3 minutes/);
    expect((await run(`vm/${id}/shutdown/`, { tenantId: 10081 })).status).toBe('ERROR');
    expect((await vm(id)).state).toBe('VIR_DOMAIN_RUNNING');
    expect((await run(`vm/${id}/reset/`, { tenantId: 10081 })).status).toBe('DONE');
    expect((await run(`vm/${id}/poweroff/`, { tenantId: 10081 })).status).toBe('DONE');
    expect((await vm(id)).state).toBe('VIR_DOMAIN_SHUTOFF');
    // Programmatic switch, both ways.
    sb.state.setGuestResponsive(85561, false);
    expect((await run('vm/85561/shutdown/', { tenantId: 111 })).status).toBe('ERROR');
    sb.state.setGuestResponsive(85561, true);
    expect((await run('vm/85561/shutdown/', { tenantId: 111 })).status).toBe('DONE');
  });

  it('writes on another account’s VM, with a wrong tenant, or on an unknown VM are refused', async () => {
    for (const action of ['start', 'poweroff', 'shutdown', 'reboot', 'reset', 'delete']) {
      await fails(sb, `vm/87001/${action}/`, { tenantId: 20001 }, 'error.not.owner');
      await fails(sb, `vm/87001/${action}/`, { tenantId: 111 }, 'error.not.owner');
      await fails(sb, `vm/85561/${action}/`, { tenantId: 10081 }, 'error.not.owner');
      await fails(sb, `vm/9/${action}/`, { tenantId: 111 }, 'error.vm.not.found');
      await invalid(sb, `vm/85561/${action}/`, {}, 'tenantId');
    }
    expect(sb.state.vms.get(87001)!.state).toBe('VIR_DOMAIN_RUNNING');
  });
});

describe('keys and resources', () => {
  it('pubkey_change replaces the keys; none clears them', async () => {
    const op = await run('vm/85662/pubkey_change/', { tenantId: 111, keyIds: [254, 2] });
    expect(op.operationType).toBe('VM_PUBLIC_KEY_CHANGE');
    const keys = (await vm(85662)).publicKeys;
    expect(keys.map((k: Json) => [k.id, k.name, k.installed, k.tenantId])).toEqual([
      [254, 'my-key2', true, 111],
      [2, 'my-key1', true, 111],
    ]);
    await run('vm/85662/pubkey_change/', { tenantId: 111 });
    expect((await vm(85662)).publicKeys).toEqual([]);
    await fails(sb, 'vm/85662/pubkey_change/', { tenantId: 111, keyIds: [404] }, 'error.object.not.found');
    await fails(sb, 'vm/85662/pubkey_change/', { tenantId: 111, keyIds: [67] }, 'error.not.owner');
    await invalid(sb, 'vm/85662/pubkey_change/', { tenantId: 111, keyIds: ['x'] }, 'keyIds.0');
  });

  it('memory_change: onDemand only, decrease needs allowRestart, disk ≤ 64 × memory', async () => {
    const fixed = await install({ tariffId: 3 });
    await invalid(sb, `vm/${fixed.id}/memory_change/`, { tenantId: 10081, memory: 1024 }, 'memory');
    await invalid(sb, 'vm/85662/memory_change/', { tenantId: 111, memory: 512 }, 'allowRestart');
    await invalid(
      sb,
      'vm/85662/memory_change/',
      { tenantId: 111, memory: 511, allowRestart: true },
      'memory',
    );
    await invalid(sb, 'vm/85662/memory_change/', { tenantId: 111, memory: 16385 }, 'memory');
    await invalid(sb, 'vm/85662/memory_change/', { tenantId: 111 }, 'memory');
    // With 65536 MB of disk, 512 MB of memory would break disk ≤ 64 × memory.
    await run('vm/85662/disk_change/', { tenantId: 111, disk: 65536 });
    await invalid(
      sb,
      'vm/85662/memory_change/',
      { tenantId: 111, memory: 512, allowRestart: true },
      'memory',
    );
    const up = await run('vm/85662/memory_change/', { tenantId: 111, memory: 4096 });
    expect(up).toMatchObject({ status: 'DONE', operationType: 'VM_MEMORY_CHANGE' });
    expect((await vm(85662)).memory).toBe(4096);
    await run('vm/85662/memory_change/', { tenantId: 111, memory: 1024, allowRestart: true });
    expect((await vm(85662)).memory).toBe(1024);
  });

  it('disk_change: onDemand only, only grows, allowMemoryChange raises memory to ceil(disk / 64)', async () => {
    const fixed = await install({ tariffId: 3 });
    await invalid(sb, `vm/${fixed.id}/disk_change/`, { tenantId: 10081, disk: 65536 }, 'disk');
    await invalid(sb, 'vm/85561/disk_change/', { tenantId: 111, disk: 16384 }, 'disk'); // not larger
    await invalid(sb, 'vm/85561/disk_change/', { tenantId: 111, disk: 8192 }, 'disk'); // smaller
    await invalid(sb, 'vm/85561/disk_change/', { tenantId: 111, disk: 524289 }, 'disk');
    // 85561: 512 MB memory allows up to 32768 MB of disk.
    const refused = await invalid(sb, 'vm/85561/disk_change/', { tenantId: 111, disk: 40000 }, 'disk');
    expect(refused.fieldErrors[0].message).toMatch(/allowMemoryChange/);
    const op = await run('vm/85561/disk_change/', { tenantId: 111, disk: 32768 });
    expect(op).toMatchObject({ status: 'DONE', operationType: 'VM_VOLUME_CHANGE' });
    expect(await vm(85561)).toMatchObject({ disk: 32768, memory: 512 });
    await run('vm/85561/disk_change/', { tenantId: 111, disk: 40000, allowMemoryChange: true });
    expect(await vm(85561)).toMatchObject({ disk: 40000, memory: 625 });
  });

  it('cpu_change: onDemand only, 1-12', async () => {
    const fixed = await install({ tariffId: 3 });
    await invalid(sb, `vm/${fixed.id}/cpu_change/`, { tenantId: 10081, cpu: 2 }, 'cpu');
    await invalid(sb, 'vm/85561/cpu_change/', { tenantId: 111, cpu: 0 }, 'cpu');
    await invalid(sb, 'vm/85561/cpu_change/', { tenantId: 111, cpu: 13 }, 'cpu');
    await invalid(sb, 'vm/85561/cpu_change/', { tenantId: 111, cpu: 1.5 }, 'cpu');
    const op = await run('vm/85561/cpu_change/', { tenantId: 111, cpu: 12 });
    expect(op).toMatchObject({ status: 'DONE', operationType: 'VM_CPU_CORES_QUOTA_CHANGE' });
    expect((await vm(85561)).cpu).toBe(12);
  });

  it('tariff_change: fixed targets need disk ≥ the VM’s and bring their resources', async () => {
    // 85662: 32768 MB disk. Tariff 3 has 16384: refused. Tariff 4 has 32768: accepted.
    const refused = await invalid(sb, 'vm/85662/tariff_change/', { tenantId: 111, tariffId: 3 }, 'tariffId');
    expect(refused.fieldErrors[0].message).toMatch(/16384/);
    const op = await run('vm/85662/tariff_change/', { tenantId: 111, tariffId: 4 });
    expect(op).toMatchObject({ status: 'DONE', operationType: 'VM_TARIFF_CHANGE' });
    expect(await vm(85662)).toMatchObject({ tariffId: 4, memory: 1024, disk: 32768, cpu: 1 });
    // Now fixed: memory/disk/cpu changes are refused; an onDemand tariff keeps the resources.
    await invalid(sb, 'vm/85662/cpu_change/', { tenantId: 111, cpu: 2 }, 'cpu');
    await run('vm/85662/tariff_change/', { tenantId: 111, tariffId: 1 });
    expect(await vm(85662)).toMatchObject({ tariffId: 1, memory: 1024, disk: 32768 });
    await invalid(sb, 'vm/85662/tariff_change/', { tenantId: 111, tariffId: 7 }, 'tariffId'); // Windows tariff
    await invalid(sb, 'vm/88534/tariff_change/', { tenantId: 111, tariffId: 5 }, 'tariffId'); // Windows VM
    await run('vm/88534/tariff_change/', { tenantId: 111, tariffId: 8 });
    await fails(sb, 'vm/85662/tariff_change/', { tenantId: 111, tariffId: 20 }, 'error.object.not.found');
    await fails(sb, 'vm/85662/tariff_change/', { tenantId: 111, tariffId: 77 }, 'error.object.not.found');
    await invalid(sb, 'vm/85662/tariff_change/', { tenantId: 111 }, 'tariffId');
  });

  it('backup_policy_change: instant, quantity 1-10, frequency 3/6/12/24/72', async () => {
    const body = await ok('vm/85561/backup_policy_change/', { tenantId: 111, quantity: 3, frequency: 6 });
    // DONE at the first read, without waiting.
    expect((await ok(`operation/${body.operationId}/`)).result).toMatchObject({
      status: 'DONE',
      percentage: 100,
      operationType: 'VM_BACKUP_POLICY_CHANGE',
    });
    expect((await vm(85561)).backupPolicy).toEqual({ quantity: 3, frequency: 6 });
    for (const frequency of [3, 6, 12, 24, 72]) {
      await ok('vm/85561/backup_policy_change/', { tenantId: 111, quantity: 10, frequency });
    }
    await invalid(
      sb,
      'vm/85561/backup_policy_change/',
      { tenantId: 111, quantity: 0, frequency: 3 },
      'quantity',
    );
    await invalid(
      sb,
      'vm/85561/backup_policy_change/',
      { tenantId: 111, quantity: 11, frequency: 3 },
      'quantity',
    );
    await invalid(
      sb,
      'vm/85561/backup_policy_change/',
      { tenantId: 111, quantity: 1, frequency: 5 },
      'frequency',
    );
    await invalid(sb, 'vm/85561/backup_policy_change/', { tenantId: 111, quantity: 1 }, 'frequency');
  });
});

describe('addresses', () => {
  it('ip_add adds one address; an unresponsive guest gives error.inet.ip.guest.add but keeps it', async () => {
    const op = await run('vm/85561/ip_add/', { tenantId: 111 });
    expect(op).toMatchObject({ status: 'DONE', operationType: 'VM_IP_ADD' });
    const ips = (await vm(85561)).ipAddresses;
    expect(ips).toHaveLength(2);
    expect(ips[1]).toMatch(/^198\.51\.100\./);
    sb.state.setGuestResponsive(85561, false);
    const failed = await run('vm/85561/ip_add/', { tenantId: 111 });
    expect(failed).toMatchObject({ status: 'ERROR', errorCode: 'error.inet.ip.guest.add' });
    expect((await vm(85561)).ipAddresses).toHaveLength(3);
  });

  it('ip_delete removes an address of the VM; unresponsive guest: error.inet.ip.guest.remove', async () => {
    await fails(sb, 'vm/85561/ip_delete/', { tenantId: 111, ip: '185.22.60.234' }, 'error.object.not.found');
    await invalid(sb, 'vm/85561/ip_delete/', { tenantId: 111, ip: 'not-an-ip' }, 'ip');
    await invalid(sb, 'vm/85561/ip_delete/', { tenantId: 111 }, 'ip');
    const op = await run('vm/85561/ip_delete/', { tenantId: 111, ip: '185.22.60.228' });
    expect(op).toMatchObject({ status: 'DONE', operationType: 'VM_IP_DELETE' });
    expect((await vm(85561)).ipAddresses).toEqual([]);
    sb.state.setGuestResponsive(85662, false);
    const failed = await run('vm/85662/ip_delete/', { tenantId: 111, ip: '185.22.60.234' });
    expect(failed).toMatchObject({ status: 'ERROR', errorCode: 'error.inet.ip.guest.remove' });
    expect((await vm(85662)).ipAddresses).toEqual([]);
  });

  it('ip_move moves an address between the account’s VMs', async () => {
    const op = await run('vm/85561/ip_move/', { tenantId: 111, toVmId: 88534, ip: '185.22.60.228' });
    expect(op).toMatchObject({ vmId: 85561, status: 'DONE', operationType: 'VM_IP_ADD' });
    expect((await vm(85561)).ipAddresses).toEqual([]);
    expect((await vm(88534)).ipAddresses).toEqual(['185.22.60.228']);
    await fails(
      sb,
      'vm/85662/ip_move/',
      { tenantId: 111, toVmId: 87001, ip: '185.22.60.234' },
      'error.not.owner',
    );
    await fails(
      sb,
      'vm/85662/ip_move/',
      { tenantId: 111, toVmId: 4, ip: '185.22.60.234' },
      'error.vm.not.found',
    );
    await fails(
      sb,
      'vm/87001/ip_move/',
      { tenantId: 20001, toVmId: 85662, ip: '185.22.60.240' },
      'error.not.owner',
    );
    await fails(
      sb,
      'vm/85662/ip_move/',
      { tenantId: 111, toVmId: 85561, ip: '203.0.113.9' },
      'error.object.not.found',
    );
    await invalid(sb, 'vm/85662/ip_move/', { tenantId: 111, toVmId: 85662, ip: '185.22.60.234' }, 'toVmId');
    await invalid(sb, 'vm/85662/ip_move/', { tenantId: 111, ip: '185.22.60.234' }, 'toVmId');
    sb.state.setGuestResponsive(85561, false);
    const failed = await run('vm/85662/ip_move/', { tenantId: 111, toVmId: 85561, ip: '185.22.60.234' });
    expect(failed).toMatchObject({ status: 'ERROR', errorCode: 'error.inet.ip.guest.add' });
    expect((await vm(85561)).ipAddresses).toEqual(['185.22.60.234']);
  });
});

describe('snapshots', () => {
  it('form a tree rooted at the current snapshot; rollback restores the tariff and resources', async () => {
    const { id } = await install({ tariffId: 1, memory: 1024, disk: 10240, cpu: 1 });
    const t = { tenantId: 10081 };
    const a = await run(`vm/${id}/snapshot_create/`, { ...t, name: 'A', description: 'first' });
    expect(a).toMatchObject({ status: 'DONE', operationType: 'VM_CREATE_SNAPSHOT' });
    const idA = (await vm(id)).currentSnapshot;
    expect(idA).toBe(2207);
    await run(`vm/${id}/cpu_change/`, { ...t, cpu: 4 });
    await run(`vm/${id}/snapshot_create/`, { ...t, name: 'B' });
    const idB = (await vm(id)).currentSnapshot;
    let list = (await ok(`vm/${id}/snapshots/`)).result;
    expect(list).toEqual([
      { id: idA, name: 'A', description: 'first', parentSnapshotId: null, timeAdded: expect.any(Number) },
      { id: idB, name: 'B', description: null, parentSnapshotId: idA, timeAdded: expect.any(Number) },
    ]);
    const back = await run(`vm/${id}/snapshot_rollback/`, { ...t, snapshotId: idA });
    expect(back).toMatchObject({ status: 'DONE', operationType: 'VM_ROLLBACK_SNAPSHOT' });
    expect(await vm(id)).toMatchObject({ currentSnapshot: idA, cpu: 1, tariffId: 1 });
    await run(`vm/${id}/snapshot_create/`, { ...t, name: 'C' });
    const idC = (await vm(id)).currentSnapshot;
    await run(`vm/${id}/snapshot_create/`, { ...t, name: 'D' });
    const idD = (await vm(id)).currentSnapshot;
    list = (await ok(`vm/${id}/snapshots/`)).result;
    expect(list.map((s: Json) => [s.id, s.parentSnapshotId])).toEqual([
      [idA, null],
      [idB, idA],
      [idC, idA],
      [idD, idC],
    ]);
    // Without deleteChildren the children move up to the deleted one's parent.
    const del = await run(`vm/${id}/snapshot_delete/`, { ...t, snapshotId: idA });
    expect(del).toMatchObject({ status: 'DONE', operationType: 'VM_DELETE_SNAPSHOT' });
    list = (await ok(`vm/${id}/snapshots/`)).result;
    expect(list.map((s: Json) => [s.id, s.parentSnapshotId])).toEqual([
      [idB, null],
      [idC, null],
      [idD, idC],
    ]);
    // With deleteChildren the subtree goes, and the current snapshot falls back to the parent.
    await run(`vm/${id}/snapshot_delete/`, { ...t, snapshotId: idC, deleteChildren: true });
    expect((await ok(`vm/${id}/snapshots/`)).result.map((s: Json) => s.id)).toEqual([idB]);
    expect((await vm(id)).currentSnapshot).toBeNull();
  });

  it('rollback or delete of an unknown snapshot, or of another VM’s: accepted, then ERROR', async () => {
    const before = (await ok('vm/85561/snapshots/')).result;
    for (const [path, snapshotId] of [
      ['vm/85561/snapshot_rollback/', 1357],
      ['vm/85662/snapshot_rollback/', 2206],
      ['vm/85662/snapshot_delete/', 2206],
    ] as const) {
      const op = await run(path, { tenantId: 111, snapshotId });
      expect(op, path).toMatchObject({
        status: 'ERROR',
        percentage: 100,
        errorCode: 'error.object.not.found',
        errorMessage: expect.stringMatching(new RegExp(`^VM \\d+ has no snapshot ${snapshotId}$`)),
      });
    }
    expect((await ok('vm/85561/snapshots/')).result).toEqual(before);
    expect((await vm(85561)).currentSnapshot).toBe(1357);
    await fails(sb, 'vm/85561/clone/', { tenantId: 111, snapshotId: 1357 }, 'error.object.not.found');
    await invalid(sb, 'vm/85561/snapshot_create/', { tenantId: 111 }, 'name');
    await invalid(sb, 'vm/85561/snapshot_rollback/', { tenantId: 111 }, 'snapshotId');
    await fails(sb, 'vm/87001/snapshots/', {}, 'error.not.owner');
    // 85561's current snapshot 1357 is not in its list: a new snapshot is a root.
    await run('vm/85561/snapshot_create/', { tenantId: 111, name: 'n' });
    const list = (await ok('vm/85561/snapshots/')).result;
    expect(list.at(-1)).toMatchObject({ name: 'n', parentSnapshotId: null });
    await run('vm/85561/snapshot_rollback/', { tenantId: 111, snapshotId: 2206 });
    expect((await vm(85561)).currentSnapshot).toBe(2206);
  });
});

describe('backups', () => {
  const BACKUP = 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4';

  it('backup_rollback deletes the snapshots and restores the backup’s tariff and resources', async () => {
    await run('vm/85561/tariff_change/', { tenantId: 111, tariffId: 5 });
    expect((await vm(85561)).memory).toBe(2048);
    const op = await run('vm/85561/backup_rollback/', { tenantId: 111, backup: BACKUP });
    expect(op).toMatchObject({ status: 'DONE', operationType: 'VM_REVERT_TO_BACKUP' });
    expect(await vm(85561)).toMatchObject({
      tariffId: 20,
      memory: 512,
      disk: 16384,
      cpu: 1,
      currentSnapshot: null,
    });
    expect((await ok('vm/85561/snapshots/')).result).toEqual([]);
    expect((await ok('vm/85561/backups/')).result).toHaveLength(1);
  });

  it('createBackup=true takes a backup of the current state first', async () => {
    await run('vm/85561/cpu_change/', { tenantId: 111, cpu: 6 });
    await run('vm/85561/backup_rollback/', { tenantId: 111, backup: BACKUP, createBackup: true });
    const backups = (await ok('vm/85561/backups/')).result;
    expect(backups).toHaveLength(2);
    expect(backups[1].id).toMatch(/^diff-backupsnap20141022015414-backupsnap\d{14}\.lz4$/);
    expect((await vm(85561)).cpu).toBe(1);
    await run('vm/85561/backup_rollback/', { tenantId: 111, backup: backups[1].id });
    expect((await vm(85561)).cpu).toBe(6);
  });

  it('backup_download ends with a link in operationResult', async () => {
    const op = await run('vm/85561/backup_download/', { tenantId: 111, backup: BACKUP });
    expect(op).toMatchObject({
      vmId: 85561,
      status: 'DONE',
      operationType: 'DOWNLOAD_BACKUP',
      percentage: 100,
    });
    expect(op.operationResult).toMatch(
      /^https:\/\/download\.sandbox\.invalid\/\?p=[0-9a-f]{32}&b=diff-backupsnap/,
    );
    expect(op.operationResult.endsWith(BACKUP)).toBe(true);
  });

  it('restoring a backup the VM does not have: accepted, then ERROR; a download of one is refused', async () => {
    await run('vm/85561/cpu_change/', { tenantId: 111, cpu: 3 });
    const op = await run('vm/85561/backup_rollback/', {
      tenantId: 111,
      backup: 'nope.lz4',
      createBackup: true,
    });
    expect(op).toMatchObject({
      status: 'ERROR',
      errorCode: 'error.object.not.found',
      errorMessage: 'VM 85561 has no backup nope.lz4',
    });
    // Nothing happened: no backup taken first, snapshots and resources kept.
    expect((await ok('vm/85561/backups/')).result).toHaveLength(1);
    expect((await ok('vm/85561/snapshots/')).result).toHaveLength(1);
    expect((await vm(85561)).cpu).toBe(3);
    const other = await run('vm/85662/backup_rollback/', { tenantId: 111, backup: BACKUP });
    expect(other).toMatchObject({ status: 'ERROR', errorCode: 'error.object.not.found' });
    await fails(sb, 'vm/85662/backup_download/', { tenantId: 111, backup: BACKUP }, 'error.object.not.found');
    await invalid(sb, 'vm/85561/backup_download/', { tenantId: 111 }, 'backup');
    await fails(sb, 'vm/87001/backups/', {}, 'error.not.owner');
    const { id } = await install();
    expect((await ok(`vm/${id}/backups/`)).result).toEqual([]);
    const backup = sb.state.addBackup(id);
    expect(backup.id).toMatch(/^full-backupsnap\d{14}\.lz4$/);
    expect((await ok(`vm/${id}/backups/`)).result).toEqual([
      { id: backup.id, size: backup.size, timeAdded: backup.timeAdded },
    ]);
  });
});

describe('public keys', () => {
  it('add derives the type from the prefix; edit and delete; delete twice → not found', async () => {
    const types: [string, string][] = [
      ['ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ', 'RSA'],
      ['ssh-dss AAAAB3NzaC1kc3MAAACBAK5u', 'DSA'],
      [KEY_TEXT, 'ED25519'],
      ['ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=', 'ECDSA'],
    ];
    for (const [publicKey, type] of types) {
      const { result } = await ok('pubkeys/add/', { tenantId: 10082, name: type, publicKey });
      expect(result).toMatchObject({ name: type, type, publicKey });
    }
    const list = (await ok('pubkeys/')).result;
    expect(list.map((k: Json) => k.id)).toEqual([258, 257, 256, 255, 254, 2]);
    expect(list[0]).toMatchObject({ id: 258, tenantId: 10082, type: 'ECDSA' });
    const edited = (await ok('pubkeys/255/edit/', { tenantId: 10082, publicKey: KEY_TEXT })).result;
    expect(edited).toMatchObject({ id: 255, name: 'RSA', type: 'ED25519', publicKey: KEY_TEXT });
    expect(await ok('pubkeys/255/delete/', { tenantId: 10082 })).toEqual({ status: 'OK' });
    await fails(sb, 'pubkeys/255/delete/', { tenantId: 10082 }, 'error.object.not.found');
    await fails(sb, 'pubkeys/255/edit/', { tenantId: 10082, name: 'x' }, 'error.object.not.found');
    // Key 254 has no tenant: any of the account's tenants may address it.
    await ok('pubkeys/254/edit/', { tenantId: 10100, name: 'renamed' });
  });

  it('validation and ownership', async () => {
    await invalid(sb, 'pubkeys/add/', { tenantId: 111, name: 'k', publicKey: 'not a key' }, 'publicKey');
    await invalid(sb, 'pubkeys/add/', { tenantId: 111, publicKey: KEY_TEXT }, 'name');
    await invalid(sb, 'pubkeys/add/', { name: 'k', publicKey: KEY_TEXT }, 'tenantId');
    await invalid(sb, 'pubkeys/add/', { tenantId: 111, name: '', publicKey: KEY_TEXT }, 'name');
    await fails(sb, 'pubkeys/add/', { tenantId: 20001, name: 'k', publicKey: KEY_TEXT }, 'error.not.owner');
    await fails(sb, 'pubkeys/67/edit/', { tenantId: 111, name: 'mine' }, 'error.not.owner');
    await fails(sb, 'pubkeys/67/delete/', { tenantId: 111 }, 'error.not.owner');
    await fails(sb, 'pubkeys/2/delete/', { tenantId: 10081 }, 'error.not.owner'); // key 2 is tenant 111's
    await fails(sb, 'pubkeys/2/edit/', { tenantId: 404, name: 'x' }, 'error.object.not.found');
    expect((await ok('pubkeys/')).result).toHaveLength(2);
  });
});

describe('operations and the other account', () => {
  it('operation_get: unknown → not found, another account’s → not owner; shared VMs are readable', async () => {
    await fails(sb, 'operation/999999/', {}, 'error.object.not.found');
    await invalid(sb, 'operation/0/', {}, 'operationId');
    // Let the second account sign in and start an operation of its own.
    sb.state.accounts.get(OTHER_ACCOUNT)!.apiKey = 'other-key';
    const other = { clientId: 'shared-user', apiKey: 'other-key' };
    const started = await api(sb, 'vm/87001/reboot/', { ...other, tenantId: 20001 }, false);
    expect(started.body.status).toBe('OK');
    await fails(sb, `operation/${started.body.operationId}/`, {}, 'error.not.owner');
    // user@serveroid.com has shared access to 85561: it sees it with its owner named.
    const shared = await api(sb, 'vm/', other, false);
    expect(shared.body.result.map((v: Json) => v.id)).toEqual([87001, 85561]);
    expect(shared.body.result[1].ownerUser).toBe('owner@sandbox.invalid');
    const write = await api(sb, 'vm/85561/start/', { ...other, tenantId: 111 }, false);
    expect(write.body.errorCode).toBe('error.not.owner');
  });

  it('every method of the table succeeded at least once in this file', () => {
    const missing = OPERATIONS.map((o) => o.tool).filter((tool) => !succeeded.has(tool));
    expect(missing).toEqual([]);
  });
});
