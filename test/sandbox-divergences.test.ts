/**
 * What independent clients saw the live API do beyond the provider's document, and the document's
 * rules the sandbox models (docs/api.md marks each as documented, observed or decided), over plain
 * HTTP: the raw query strings those clients send, the envelopes they read.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runSandboxCli, type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { fails, invalid, type Json, ok, PASSWORD, type Query, run, waitOp } from './sandbox-helpers.js';

let sb: Sandbox;
beforeAll(async () => {
  sb = await startSandbox({ port: 0, timeScale: 0.01 });
});
afterAll(() => sb.close());
beforeEach(() => sb.reset());

const vm = async (id: number): Promise<Json> => (await ok(sb, `vm/${id}/`)).result;

/** Install from raw query values (strings, as a Python client sends them) and wait for it. */
async function install(params: Query = {}): Promise<number> {
  const body = await ok(sb, 'vm/install/', { tenantId: 10081, distributionId: 230, tariffId: 3, ...params });
  expect((await waitOp(sb, body.operationId)).status).toBe('DONE');
  return body.result;
}

describe('booleans are read as a Spring binder reads them', () => {
  it('true/false/on/off/yes/no/1/0 in any case; Python’s True/False', async () => {
    for (const [text, value] of [
      ['True', true],
      ['FALSE', false],
      ['on', true],
      ['Off', false],
      ['YES', true],
      ['no', false],
      ['1', true],
      ['0', false],
      [' true ', true],
    ] as const) {
      const id = await install({ openSupportAccess: text, sendPassword: 'False', password: PASSWORD });
      expect((await vm(id)).accessUsers, text).toEqual(value ? ['support@serveroid.com'] : []);
    }
  });

  it('False is false where it matters: a memory decrease without a restart is refused', async () => {
    await invalid(
      sb,
      'vm/85662/memory_change/',
      { tenantId: 111, memory: 512, allowRestart: 'False' },
      'allowRestart',
    );
    const op = await run(sb, 'vm/85662/memory_change/', { tenantId: 111, memory: 512, allowRestart: 'True' });
    expect(op.status).toBe('DONE');
    expect((await vm(85662)).memory).toBe(512);
  });

  it('anything else is a field error naming the parameter', async () => {
    for (const text of ['maybe', 'tru', 'y', '2', 'null']) {
      await invalid(
        sb,
        'vm/install/',
        { tenantId: 10081, distributionId: 230, tariffId: 3, sendPassword: text },
        'sendPassword',
      );
    }
  });
});

describe('catalog and history live clients rely on', () => {
  it('distribution 316 "Ubuntu 16.04 x64", 311 and three Debian releases install; tariff 1 is onDemand', async () => {
    const list = (await ok(sb, 'distribution/')).result as Json[];
    expect(list.find((d) => d.id === 316)).toEqual({
      id: 316,
      name: 'UBUNTU',
      description: 'Ubuntu 16.04 x64',
      bitness: 64,
    });
    const debian = list.filter((d) => d.name === 'DEBIAN');
    expect(new Set(debian.map((d) => d.description.split(' ')[1])).size).toBeGreaterThanOrEqual(3);
    for (const name of ['DEBIAN', 'UBUNTU', 'CENTOS']) {
      expect(new Set(list.filter((d) => d.name === name).map((d) => d.bitness))).toEqual(new Set([64, 32]));
    }
    expect(list.filter((d) => d.name.startsWith('WINDOWS')).length).toBeGreaterThanOrEqual(3);
    expect(list.length).toBeLessThanOrEqual(25);
    // The Ansible module's install: 316 on tariff 1 with explicit resources and no address.
    const id = await install({
      distributionId: 316,
      tariffId: 1,
      memory: 512,
      disk: 8192,
      cpu: 1,
      ipCount: 0,
    });
    expect(await vm(id)).toMatchObject({ tariffId: 1, memory: 512, disk: 8192, cpu: 1, ipAddresses: [] });
    await install({ distributionId: 311, tariffId: 1, memory: 512, disk: 8192, cpu: 1, ipCount: 1 });
  });

  it('operation 1 is readable; an id that never existed is not found', async () => {
    expect((await ok(sb, 'operation/1/')).result).toMatchObject({ id: 1, status: 'DONE', percentage: 100 });
    await fails(sb, 'operation/9999999999/', {}, 'error.object.not.found');
  });

  it('ip_add and ip_delete change the address list when accepted, before the operation ends', async () => {
    const add = await ok(sb, 'vm/85561/ip_add/', { tenantId: 111 });
    const ips = (await vm(85561)).ipAddresses;
    expect(ips).toHaveLength(2);
    await waitOp(sb, add.operationId);
    const del = await ok(sb, 'vm/85561/ip_delete/', { tenantId: 111, ip: ips[1] });
    expect((await vm(85561)).ipAddresses).toEqual([ips[0]]);
    expect((await waitOp(sb, del.operationId)).status).toBe('DONE');
  });
});

describe('rules from the document', () => {
  it('a fixed tariff ignores memory, disk, cpu and ipCount: accepted, the tariff’s resources', async () => {
    const id = await install({ tariffId: 3, memory: 4096, disk: 65536, cpu: 4, ipCount: 2 });
    const v = await vm(id);
    expect(v).toMatchObject({ tariffId: 3, memory: 512, disk: 16384, cpu: 1 });
    expect(v.ipAddresses).toHaveLength(1);
  });

  it('cpu_change is a hot increase: a decrease is a field error', async () => {
    const id = await install({ tariffId: 1, memory: 1024, disk: 16384, cpu: 4 });
    const body = await invalid(sb, `vm/${id}/cpu_change/`, { tenantId: 10081, cpu: 2 }, 'cpu');
    expect(body.fieldErrors[0].message).toMatch(/only grows.*4 cores/);
    expect((await run(sb, `vm/${id}/cpu_change/`, { tenantId: 10081, cpu: 6 })).status).toBe('DONE');
    expect((await vm(id)).cpu).toBe(6);
  });

  it('no funds: install, clone and reinstall are refused with error.balance.insufficient', async () => {
    const control = (available: boolean) =>
      fetch(`${sb.controlUrl}funds`, { method: 'POST', body: JSON.stringify({ available }) });
    expect((await control(false)).status).toBe(200);
    const base = { tenantId: 10081, distributionId: 230, tariffId: 3 };
    await fails(sb, 'vm/install/', base, 'error.balance.insufficient');
    await fails(sb, 'vm/85561/clone/', { tenantId: 111 }, 'error.balance.insufficient');
    await fails(sb, 'vm/85561/reinstall/', { tenantId: 111 }, 'error.balance.insufficient');
    // What is already paid for goes on.
    expect((await run(sb, 'vm/85561/rename/', { tenantId: 111, name: 'still-here' })).status).toBe('DONE');
    expect((await control(true)).status).toBe(200);
    await install();
  });

  it('a distribution that cannot be cloned (Windows): refused with error.vm.clone.unsupported', async () => {
    const body = await fails(sb, 'vm/88534/clone/', { tenantId: 111 }, 'error.vm.clone.unsupported');
    expect(body.errorMessage).toMatch(/Win Server 2008 R2 x64/);
  });
});

describe('scheduled backups', () => {
  const H = 3_600_000;
  let t = 1_760_000_000_000;
  let timed: Sandbox;
  beforeAll(async () => {
    timed = await startSandbox({ port: 0, now: () => t });
  });
  afterAll(() => timed.close());

  it('every `frequency` hours from install or policy change, keeping the newest `quantity`', async () => {
    const body = await ok(timed, 'vm/install/', { tenantId: 10081, distributionId: 230, tariffId: 3 });
    const installedAt = t + 2500;
    t = installedAt;
    const id = body.result;
    const backups = async () => (await ok(timed, `vm/${id}/backups/`)).result as Json[];
    expect(await backups()).toEqual([]);
    // Default policy: one backup every 72 hours.
    t = installedAt + 72 * H - 1;
    expect(await backups()).toEqual([]);
    t = installedAt + 72 * H;
    expect((await backups()).map((b) => b.timeAdded)).toEqual([installedAt + 72 * H]);
    // Three every 3 hours, from the change on.
    const changedAt = t;
    await ok(timed, `vm/${id}/backup_policy_change/`, { tenantId: 10081, quantity: 3, frequency: 3 });
    t = changedAt + 10 * 3 * H + 5;
    const kept = await backups();
    expect(kept.map((b) => b.timeAdded)).toEqual([8, 9, 10].map((n) => changedAt + n * 3 * H));
    expect(kept[0].id).toMatch(/^(full|diff)-backupsnap\d{14}/);
    expect(kept[2].id).toMatch(/^diff-backupsnap\d{14}-backupsnap\d{14}\.lz4$/);
  });
});

describe('response shapes: document (default) and live', () => {
  let live: Sandbox;
  beforeAll(async () => {
    live = await startSandbox({ port: 0, timeScale: 0.01, responses: 'live' });
  });
  afterAll(() => live.close());
  beforeEach(() => live.reset());

  it('live records leave null fields out and give timeAdded as an ISO string', async () => {
    expect(sb.responses).toBe('document');
    const doc = (await ok(sb, 'vm/85561/')).result;
    expect(doc).toMatchObject({ ownerUser: null, timeAdded: 1399367371175 });
    const v = (await ok(live, 'vm/85561/')).result;
    expect(v.timeAdded).toBe('2014-05-06T09:09:31.175+0000');
    expect('ownerUser' in v).toBe(false);
    expect(v.publicKeys[0]).toEqual({
      id: 254,
      tenantId: 111,
      name: 'my-key',
      type: 'DSA',
      installed: false,
    });
    expect(v.publicKeys[2].ownerUser).toBe('user@serveroid.com');
    // Everything else is the document's record: the same keys, in the same order, minus the nulls.
    const withoutNulls = Object.keys(doc).filter((k) => doc[k] !== null);
    expect(Object.keys(v)).toEqual(withoutNulls);
    expect((await ok(live, 'vm/85561/snapshots/')).result).toEqual([
      {
        id: 2206,
        name: 'my-snapshot',
        description: 'My first snapshot',
        timeAdded: '2014-10-24T13:19:38.188+0000',
      },
    ]);
    expect((await ok(live, 'vm/85561/backups/')).result[0].timeAdded).toBe('2014-10-21T21:54:14.000+0000');
  });

  it('live operations leave out errorCode and errorMessage until there is one', async () => {
    const body = await ok(live, 'vm/85561/rename/', { tenantId: 111, name: 'x' });
    const pending = (await ok(live, `operation/${body.operationId}/`)).result;
    expect(Object.keys(pending)).toEqual(['id', 'vmId', 'tenantId', 'status', 'operationType', 'percentage']);
    const done = await waitOp(live, body.operationId);
    expect(done).not.toHaveProperty('errorMessage');
    live.state.setGuestResponsive(85561, false);
    live.state.timeScale = 0;
    const failed = await run(live, 'vm/85561/reboot/', { tenantId: 111 });
    expect(failed).toMatchObject({ status: 'ERROR', errorCode: 'error.vm.guest.timeout' });
  });

  it('an empty snapshot description stays "" (python-flops sends description=)', async () => {
    for (const box of [sb, live]) {
      await run(box, 'vm/85561/snapshot_create/', { tenantId: 111, name: 'empty', description: '' });
      const created = (await ok(box, 'vm/85561/snapshots/')).result.at(-1);
      expect(created).toMatchObject({ name: 'empty', description: '' });
    }
  });

  it('flops-mcp sandbox --responses live serves the live shapes', async () => {
    let printed = '';
    const stop = new AbortController();
    const exit = runSandboxCli(['--port', '0', '--responses', 'live'], {
      stdout: { write: (s: string) => (printed += s) },
      signal: stop.signal,
    });
    for (let i = 0; i < 100 && !printed.includes('export'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(printed).toContain('responses: live');
    const base = /listening on (\S+)/.exec(printed)![1]!;
    const res = await fetch(`${base}vm/85561/?clientId=sandbox&apiKey=sandbox`);
    const body = (await res.json()) as { result: Json };
    expect(body.result.timeAdded).toBe('2014-05-06T09:09:31.175+0000');
    stop.abort();
    expect(await exit).toBe(0);
  });
});
