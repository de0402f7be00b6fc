/**
 * The sandbox against the provider's document: every example object, field by field and in key
 * order; routing, envelopes, credentials, counters, and a clean close.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../src/api/operations.js';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';
import { api, fails, invalid, ok, rawGet } from './sandbox-helpers.js';

/** Example responses of the provider's document (000_74c82ddb414a514c.txt), verbatim. */
const DOC = {
  tenants: {
    status: 'OK',
    result: [
      { id: 10081, description: 'По умолчанию' },
      { id: 10082, description: 'Проект 1' },
      { id: 10100, description: 'Project 1' },
    ],
  },
  vmList: {
    status: 'OK',
    result: [
      {
        id: 88534,
        tenantId: 111,
        name: 'win server',
        internalId: 'vm88534',
        memory: 1024,
        disk: 24576,
        cpu: 1,
        bandwidth: 100,
        tariffId: 20,
        ipAddresses: [],
        privateIpAddress: '10.7.13.159',
        state: 'VIR_DOMAIN_SHUTOFF',
        timeAdded: 1412089961298,
        currentSnapshot: null,
        backupPolicy: { quantity: 1, frequency: 72 },
        distribution: {
          id: 219,
          name: 'WINDOWS_2008_R2',
          description: 'Win Server 2008 R2 x64',
          bitness: 64,
        },
        ownerUser: null,
        accessUsers: [],
        publicKeys: [
          {
            id: 2,
            tenantId: 111,
            name: '1',
            type: 'DSA',
            publicKey: null,
            timeAdded: null,
            installed: false,
            ownerUser: null,
          },
        ],
      },
      {
        id: 85662,
        tenantId: 111,
        name: 'debian',
        internalId: 'vm85662',
        memory: 1024,
        disk: 32768,
        cpu: 1,
        bandwidth: 100,
        tariffId: 20,
        ipAddresses: ['185.22.60.234'],
        privateIpAddress: '10.7.5.71',
        state: 'VIR_DOMAIN_RUNNING',
        timeAdded: 1400493750635,
        currentSnapshot: null,
        backupPolicy: { quantity: 1, frequency: 72 },
        distribution: { id: 221, name: 'DEBIAN', description: 'Debian 7.5 x64', bitness: 64 },
        ownerUser: null,
        accessUsers: [],
        publicKeys: [
          {
            id: 2,
            tenantId: 111,
            name: '1',
            type: 'DSA',
            publicKey: null,
            timeAdded: null,
            installed: true,
            ownerUser: null,
          },
        ],
      },
      {
        id: 85561,
        tenantId: 111,
        name: 'ubuntu',
        internalId: 'vm85561',
        memory: 512,
        disk: 16384,
        cpu: 1,
        bandwidth: 100,
        tariffId: 20,
        ipAddresses: ['185.22.60.228'],
        privateIpAddress: '10.7.4.234',
        state: 'VIR_DOMAIN_RUNNING',
        timeAdded: 1399367371175,
        currentSnapshot: 1357,
        backupPolicy: { quantity: 10, frequency: 72 },
        distribution: { id: 216, name: 'UBUNTU', description: 'Ubuntu 12.04.4 x64', bitness: 64 },
        ownerUser: null,
        accessUsers: ['user@serveroid.com'],
        publicKeys: [
          {
            id: 2,
            tenantId: 111,
            name: '1',
            type: 'DSA',
            publicKey: null,
            timeAdded: null,
            installed: true,
            ownerUser: null,
          },
          {
            id: 67,
            tenantId: 111,
            name: 'key',
            type: 'DSA',
            publicKey: null,
            timeAdded: null,
            installed: false,
            ownerUser: 'user@serveroid.com',
          },
        ],
      },
    ],
  },
  install: { status: 'OK', result: 88977, operationId: 61566 },
  clone: { status: 'OK', result: 88980, operationId: 61586 },
  vm85561: {
    status: 'OK',
    result: {
      id: 85561,
      tenantId: 111,
      name: 'ubuntu',
      internalId: 'vm85561',
      memory: 512,
      disk: 16384,
      cpu: 1,
      bandwidth: 100,
      tariffId: 20,
      ipAddresses: ['185.22.60.228'],
      privateIpAddress: '10.7.4.234',
      state: 'VIR_DOMAIN_RUNNING',
      timeAdded: 1399367371175,
      currentSnapshot: 1357,
      backupPolicy: { quantity: 10, frequency: 72 },
      distribution: { id: 216, name: 'UBUNTU', description: 'Ubuntu 12.04.4 x64', bitness: 64 },
      ownerUser: null,
      accessUsers: ['user@serveroid.com'],
      publicKeys: [
        {
          id: 254,
          tenantId: 111,
          name: 'my-key',
          type: 'DSA',
          publicKey: null,
          timeAdded: null,
          installed: false,
          ownerUser: null,
        },
        {
          id: 2,
          tenantId: 111,
          name: '1',
          type: 'DSA',
          publicKey: null,
          timeAdded: null,
          installed: true,
          ownerUser: null,
        },
        {
          id: 67,
          tenantId: 111,
          name: 'key',
          type: 'DSA',
          publicKey: null,
          timeAdded: null,
          installed: false,
          ownerUser: 'user@serveroid.com',
        },
      ],
    },
  },
  snapshots: {
    status: 'OK',
    result: [
      {
        id: 2206,
        name: 'my-snapshot',
        description: 'My first snapshot',
        parentSnapshotId: null,
        timeAdded: 1414156778188,
      },
    ],
  },
  backups: {
    status: 'OK',
    result: [
      {
        id: 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4',
        size: 32768,
        timeAdded: 1413928454000,
      },
    ],
  },
  operation106765: {
    status: 'OK',
    result: {
      id: 106765,
      vmId: 92821,
      tenantId: 111,
      status: 'DONE',
      operationType: 'DOWNLOAD_BACKUP',
      percentage: 100,
      errorMessage: null,
      errorCode: null,
      operationResult:
        'https://download2.flops.ru/?p=177fdaa76833b30cff2b9771225b18a7&b=diff-backupsnap20150409090001-backupsnap20150409120002.lz4',
    },
  },
  pubkeys: {
    status: 'OK',
    result: [
      {
        id: 254,
        name: 'my-key2',
        type: 'DSA',
        publicKey: 'ssh-dss AAAAB3NzaC1kc3MAAACBAK5uLwicCrFEpaV...Nt0Q7P45rZjNNTag2c= user@host',
        timeAdded: 1414156464315,
      },
      {
        id: 2,
        tenantId: 111,
        name: 'my-key1',
        type: 'DSA',
        publicKey: 'ssh-dss AAAAB3NzaC1kc3MAAACBAK5uLwicCrFEpaV...Nt0Q7P45rZjNNTag2c= user@host',
        timeAdded: 1351093292416,
      },
    ],
  },
  pubkeyAdd: {
    status: 'OK',
    result: {
      id: 255,
      name: 'my-key1',
      type: 'DSA',
      publicKey: 'ssh-dss AAAAB3NzaC1kc3MAAACBAK5uLwicCrFEpaV...Nt0Q7P45rZjNNTag2c= user@host',
      timeAdded: 1351093292416,
    },
  },
  pubkeyEdit: {
    status: 'OK',
    result: {
      id: 2,
      name: 'my-key1-new',
      type: 'DSA',
      publicKey: 'ssh-dss AAAAB3NzaC1kc3MAAACBAK5uLwicCrFEpaV...Nt0Q7P45rZjNNTag2c= user@host',
      timeAdded: 1351093292416,
    },
  },
  pubkeyDelete: { status: 'OK' },
  operation61626: {
    status: 'OK',
    result: {
      id: 61626,
      vmId: 85662,
      tenantId: 111,
      status: 'DONE',
      operationType: 'VM_DESTROY',
      percentage: 100,
      errorMessage: null,
      errorCode: null,
    },
  },
  operation61625: {
    status: 'OK',
    result: {
      id: 61625,
      vmId: 85662,
      tenantId: 111,
      status: 'PENDING',
      operationType: 'VM_REVERT_TO_BACKUP',
      percentage: 51,
      errorMessage: null,
      errorCode: null,
    },
  },
  distributions: {
    status: 'OK',
    result: [
      { id: 233, name: 'DEBIAN', description: 'Debian 7.6 x64', bitness: 64 },
      { id: 234, name: 'DEBIAN', description: 'Debian 7.6 x86', bitness: 32 },
      { id: 230, name: 'UBUNTU', description: 'Ubuntu 14.04.1 x64', bitness: 64 },
      { id: 232, name: 'UBUNTU', description: 'Ubuntu 12.04.5 x64', bitness: 64 },
      { id: 235, name: 'SUSE', description: 'OpenSuse 13.1 x64', bitness: 64 },
      { id: 231, name: 'CENTOS', description: 'CentOS 6.5 x64', bitness: 64 },
      { id: 219, name: 'WINDOWS_2008_R2', description: 'Win Server 2008 R2 x64', bitness: 64 },
      { id: 236, name: 'FEDORA', description: 'Fedora 20 x64', bitness: 64 },
      { id: 220, name: 'WINDOWS_2012', description: 'Win Server 2012 R2 x64', bitness: 64 },
    ],
  },
  software: {
    status: 'OK',
    result: [
      { id: 1, name: 'mysql' },
      { id: 2, name: 'postgresql' },
      { id: 3, name: 'nginx + php-fpm' },
      { id: 4, name: 'apache' },
      { id: 5, name: 'java' },
    ],
  },
  tariffs: {
    status: 'OK',
    result: [
      {
        id: 3,
        name: 'Облачный 512',
        memory: 512,
        disk: 16384,
        cpu: 1,
        ipCount: 1,
        onDemand: false,
        forWindows: false,
      },
      {
        id: 4,
        name: 'Облачный 1024',
        memory: 1024,
        disk: 32768,
        cpu: 1,
        ipCount: 1,
        onDemand: false,
        forWindows: false,
      },
      {
        id: 5,
        name: 'Облачный 2048',
        memory: 2048,
        disk: 65536,
        cpu: 2,
        ipCount: 1,
        onDemand: false,
        forWindows: false,
      },
      {
        id: 6,
        name: 'Облачный 4096',
        memory: 4096,
        disk: 131072,
        cpu: 2,
        ipCount: 1,
        onDemand: false,
        forWindows: false,
      },
      {
        id: 10,
        name: 'Облачный 8192',
        memory: 8192,
        disk: 262144,
        cpu: 4,
        ipCount: 1,
        onDemand: false,
        forWindows: false,
      },
      {
        id: 11,
        name: 'Облачный 16384',
        memory: 16384,
        disk: 524288,
        cpu: 8,
        ipCount: 1,
        onDemand: false,
        forWindows: false,
      },
      {
        id: 1,
        name: 'Облачный без границ',
        memory: 512,
        disk: 8000,
        cpu: 0,
        ipCount: 0,
        onDemand: true,
        forWindows: false,
      },
      {
        id: 7,
        name: 'Облачный 1024 для Windows',
        memory: 1024,
        disk: 32768,
        cpu: 1,
        ipCount: 1,
        onDemand: false,
        forWindows: true,
      },
      {
        id: 8,
        name: 'Облачный 2048 для Windows',
        memory: 2048,
        disk: 65536,
        cpu: 2,
        ipCount: 1,
        onDemand: false,
        forWindows: true,
      },
      {
        id: 9,
        name: 'Облачный 4096 для Windows',
        memory: 4096,
        disk: 131072,
        cpu: 2,
        ipCount: 1,
        onDemand: false,
        forWindows: true,
      },
      {
        id: 12,
        name: 'Облачный 8192 для Windows',
        memory: 8192,
        disk: 262144,
        cpu: 4,
        ipCount: 1,
        onDemand: false,
        forWindows: true,
      },
      {
        id: 13,
        name: 'Облачный 16384 для Windows',
        memory: 16384,
        disk: 524288,
        cpu: 8,
        ipCount: 1,
        onDemand: false,
        forWindows: true,
      },
      {
        id: 2,
        name: 'Облачный без границ для Windows',
        memory: 512,
        disk: 8000,
        cpu: 0,
        ipCount: 0,
        onDemand: true,
        forWindows: true,
      },
    ],
  },
  errorNotOwner: {
    status: 'ERROR',
    errorMessage: 'Ошибка прав доступа. Обратитесь в службу поддержки.',
    errorCode: 'error.not.owner',
  },
  errorNotFound: {
    status: 'ERROR',
    errorMessage: 'Объект не найден. Обратитесь в службу поддержки.',
    errorCode: 'error.object.not.found',
  },
} as const;

/** Same values and the same key order. */
function expectExactly(actual: unknown, expected: unknown): void {
  expect(actual).toEqual(expected);
  expect(JSON.stringify(actual)).toBe(JSON.stringify(expected));
}

describe('document examples', () => {
  const T0 = 1_700_000_000_000;
  let t = T0;
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ port: 0, now: () => t });
  });
  afterAll(() => sb.close());

  it('tenant: the three documented projects, then tenant 111 of the examples', async () => {
    const body = await ok(sb, 'tenant');
    expectExactly(body.result.slice(0, 3), DOC.tenants.result);
    expect(body.result[3]).toEqual({ id: 111, description: 'Examples' });
    expect(body.result).toHaveLength(4);
  });

  it('vm/: 88534 and 85662 verbatim; 85561 as in the richer vm/85561/ example', async () => {
    const { result } = await ok(sb, 'vm/');
    expect(result.map((v: { id: number }) => v.id)).toEqual([88534, 85662, 85561]);
    expectExactly(result[0], DOC.vmList.result[0]);
    expectExactly(result[1], DOC.vmList.result[1]);
    // The list example shows keys 2 and 67 only; the VM example adds 254 (see seed.ts).
    expectExactly(result[2], DOC.vm85561.result);
    const { publicKeys: listKeys, ...listRest } = DOC.vmList.result[2];
    const { publicKeys, ...rest } = result[2];
    expectExactly(rest, listRest);
    expect(publicKeys.filter((k: { id: number }) => k.id !== 254)).toEqual(listKeys);
  });

  it('vm/85561/ verbatim', async () => {
    expectExactly(await ok(sb, 'vm/85561/'), DOC.vm85561);
  });

  it('snapshots, backups, pubkeys, distributions, software, tariffs verbatim', async () => {
    expectExactly(await ok(sb, 'vm/85561/snapshots/'), DOC.snapshots);
    expectExactly(await ok(sb, 'vm/85561/backups/'), DOC.backups);
    expectExactly(await ok(sb, 'pubkeys/'), DOC.pubkeys);
    // The document's distributions, verbatim, come first; then what live clients used.
    const distributions = await ok(sb, 'distribution/');
    expectExactly(
      { ...distributions, result: distributions.result.slice(0, DOC.distributions.result.length) },
      DOC.distributions,
    );
    expect(
      distributions.result.map((d: { id: number }) => d.id).slice(DOC.distributions.result.length),
    ).toEqual([311, 312, 320, 321, 316, 317, 313, 309, 310, 314, 318, 323]);
    expectExactly(await ok(sb, 'software/'), DOC.software);
    expectExactly(await ok(sb, 'tariffs/'), DOC.tariffs);
  });

  it('operations 61626, 61625 (51 % at start) and 106765 verbatim', async () => {
    expectExactly(await ok(sb, 'operation/61626/'), DOC.operation61626);
    expectExactly(await ok(sb, 'operation/61625/'), DOC.operation61625);
    expectExactly(await ok(sb, 'operation/106765/'), DOC.operation106765);
  });

  it('the historical pending operation finishes within seconds without touching VM 85662', async () => {
    const before = (await ok(sb, 'vm/85662/')).result;
    t = T0 + 750;
    const half = (await ok(sb, 'operation/61625/')).result;
    expect(half.status).toBe('PENDING');
    expect(half.percentage).toBeGreaterThan(51);
    expect(half.percentage).toBeLessThan(100);
    // Not a lock: VM 85662 accepts writes meanwhile.
    const renamed = await ok(sb, 'vm/85662/backup_policy_change/', {
      tenantId: 111,
      quantity: 1,
      frequency: 72,
    });
    expect(renamed.operationId).toBeGreaterThan(106765);
    t = T0 + 5000;
    expect((await ok(sb, 'operation/61625/')).result).toMatchObject({ status: 'DONE', percentage: 100 });
    expectExactly((await ok(sb, 'vm/85662/')).result, before);
  });

  it('pubkeys/add and pubkeys/{id}/edit answer like the examples', async () => {
    t = DOC.pubkeyAdd.result.timeAdded;
    const added = await ok(sb, 'pubkeys/add/', {
      tenantId: 111,
      name: DOC.pubkeyAdd.result.name,
      publicKey: DOC.pubkeyAdd.result.publicKey,
    });
    expectExactly(added, DOC.pubkeyAdd);
    const edited = await ok(sb, 'pubkeys/2/edit/', { tenantId: 111, name: 'my-key1-new' });
    expectExactly(edited, DOC.pubkeyEdit);
    expectExactly(await ok(sb, 'pubkeys/255/delete/', { tenantId: 111 }), DOC.pubkeyDelete);
  });

  it('install answers with the example VM id 88977 and a new operation; clone follows', async () => {
    const body = await ok(sb, 'vm/install/', { tenantId: 10081, distributionId: 230, tariffId: 3 });
    expect(Object.keys(body)).toEqual(Object.keys(DOC.install));
    expect(body.result).toBe(DOC.install.result);
    expect(body.operationId).toBeGreaterThan(106765);
    t += 10_000;
    const clone = await ok(sb, 'vm/88977/clone/', { tenantId: 10081 });
    expect(Object.keys(clone)).toEqual(Object.keys(DOC.clone));
    expect(clone.result).toBe(88978);
  });

  it('errors carry the documented messages', async () => {
    expectExactly((await api(sb, 'vm/87001/')).body, DOC.errorNotOwner);
    expectExactly((await api(sb, 'operation/9999999999/')).body, DOC.errorNotFound);
  });
});

describe('routing, envelopes and credentials', () => {
  let sb: Sandbox;
  beforeAll(async () => {
    sb = await startSandbox({ port: 0, timeScale: 0 });
  });
  afterAll(() => sb.close());
  afterEach(() => sb.reset());

  it('routes every method of the table, with or without the trailing slash', async () => {
    const sample: Record<string, string> = {
      vmId: '85561',
      keyId: '2',
      operationId: '61626',
    };
    for (const row of OPERATIONS) {
      const path = row.path.replace(/\{(\w+)\}/g, (_, name: string) => sample[name]!);
      for (const p of [path.replace(/\/$/, ''), path.endsWith('/') ? path : `${path}/`]) {
        sb.requests.reset();
        await api(sb, p);
        expect(sb.requests.count(row.tool), `${p} → ${row.tool}`).toBe(1);
      }
    }
  });

  it('vm/install is install, not vm/{vmId}/ with vmId "install"', async () => {
    await invalid(sb, 'vm/install', {}, 'tenantId');
    expect(sb.requests.count('vm_install')).toBe(1);
    expect(sb.requests.count('vm_get')).toBe(0);
  });

  it('a non-numeric path id is a validation error', async () => {
    await invalid(sb, 'vm/abc/', {}, 'vmId');
  });

  it('ignores unknown query keys', async () => {
    const body = await ok(sb, 'vm/85561/', { foo: 'bar', tenantId: 1 });
    expect(body.result.id).toBe(85561);
    await ok(sb, 'vm/85561/rename/', { tenantId: 111, name: 'x', bogus: true });
  });

  it('unknown path: HTTP 404 with a JSON error envelope; other HTTP methods: 405', async () => {
    const unknown = await api(sb, 'vm/85561/explode/');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ status: 'ERROR', errorCode: null });
    const outside = await fetch(new URL('/index.html', sb.url));
    expect(outside.status).toBe(404);
    await outside.text();
    const post = await fetch(`${sb.url}tenant?clientId=sandbox&apiKey=sandbox`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(await post.json()).toMatchObject({ status: 'ERROR' });
  });

  it('answers JSON with the documented envelopes', async () => {
    const list = await api(sb, 'tenant');
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
    expect(Object.keys(list.body)).toEqual(['status', 'result']);
    const op = await ok(sb, 'vm/85561/start/', { tenantId: 111 });
    expect(Object.keys(op)).toEqual(['status', 'operationId']);
    const created = await ok(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 });
    expect(Object.keys(created)).toEqual(['status', 'result', 'operationId']);
    const none = await ok(sb, 'pubkeys/2/delete/', { tenantId: 111 });
    expect(none).toEqual({ status: 'OK' });
    const error = await fails(sb, 'vm/1/', {}, 'error.vm.not.found');
    expect(Object.keys(error)).toEqual(['status', 'errorMessage', 'errorCode']);
    const validation = await invalid(sb, 'vm/85561/memory_change/', { tenantId: 111, memory: 1 }, 'memory');
    expect(Object.keys(validation)).toEqual(['status', 'errorCode', 'errorMessage', 'fieldErrors']);
  });

  it('wrong, partial or missing credentials: HTTP 200 error.not.owner, on reads and writes', async () => {
    for (const [clientId, apiKey] of [
      ['sandbox', 'wrong'],
      ['wrong', 'sandbox'],
      ['sandbox', undefined],
      [undefined, undefined],
      ['shared-user', ''],
    ] as const) {
      for (const path of ['tenant', 'vm/85561/delete/']) {
        const { status, body } = await api(sb, `${path}`, { clientId, apiKey, tenantId: 111 }, false);
        expect(status).toBe(200);
        expect(body).toEqual(DOC.errorNotOwner);
      }
    }
    expect(sb.state.vms.has(85561)).toBe(true);
  });

  it('takes other credentials when configured', async () => {
    const other = await startSandbox({ clientId: '4242', apiKey: 'k3y' });
    try {
      expect(other.clientId).toBe('4242');
      expect(other.apiKey).toBe('k3y');
      await ok(other, 'tenant');
      const { body } = await api(other, 'tenant', { clientId: 'sandbox', apiKey: 'sandbox' }, false);
      expect(body.errorCode).toBe('error.not.owner');
    } finally {
      await other.close();
    }
  });

  it('counts every request per method, before credentials and validation', async () => {
    sb.requests.reset();
    await api(sb, 'tenant');
    await api(sb, 'tenant/', {}, false);
    await api(sb, 'vm/install', { tenantId: 'x' });
    await api(sb, 'nowhere');
    expect(sb.requests.count('tenant_list')).toBe(2);
    expect(sb.requests.count('vm_install')).toBe(1);
    expect(sb.requests.count('vm_get')).toBe(0);
    expect(sb.requests.total).toBe(4);
    expect(sb.requests.count()).toBe(4);
    expect(sb.requests.byTool()).toEqual({ tenant_list: 2, vm_install: 1 });
    sb.requests.reset();
    expect(sb.requests.total).toBe(0);
    expect(sb.requests.count('tenant_list')).toBe(0);
  });

  it('url, clientId and apiKey describe the running sandbox', () => {
    expect(sb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/$/);
    expect(sb.url).toContain(`:${sb.port}/`);
    expect(sb.clientId).toBe('sandbox');
    expect(sb.apiKey).toBe('sandbox');
  });
});

describe('close()', () => {
  const handles = () =>
    process
      .getActiveResourcesInfo()
      .filter((r) => r === 'Timeout' || r.startsWith('TCP'))
      .sort();

  it('closes the server and keep-alive connections, and leaves no timers', async () => {
    await new Promise((r) => setTimeout(r, 100)); // let earlier suites' sockets finish closing
    const baseline = handles();
    const sb = await startSandbox({ port: 0, timeScale: 1 });
    const { port } = sb;
    await ok(sb, 'vm/install/', { tenantId: 111, distributionId: 230, tariffId: 3 }); // an operation in flight
    sb.faults.add({ kind: 'delay', delayMs: 60_000 });
    const hanging = rawGet(`${sb.url}tenant?clientId=sandbox&apiKey=sandbox`);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await sb.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect((await hanging).error).toBeDefined();
    // Nothing more than before it started (polling: closed handles are released asynchronously).
    const excess = () => {
      const now = handles();
      return [...new Set(now)].filter(
        (k) => now.filter((h) => h === k).length > baseline.filter((h) => h === k).length,
      );
    };
    for (let i = 0; i < 50 && excess().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(excess()).toEqual([]);
    const refused = await rawGet(`http://127.0.0.1:${port}/api/v1/tenant`);
    expect(refused.error?.code).toBe('ECONNREFUSED');
    await sb.close(); // idempotent
  });
});
