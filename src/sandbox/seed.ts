/**
 * The sandbox's initial state: the example objects of the provider's document, same ids, field
 * values and key order, plus the few objects those examples refer to without showing them and the
 * catalog entries live clients used (docs/api.md). Functions, not constants: every sandbox
 * (and every reset) gets fresh, mutable copies.
 */
import type {
  Account,
  BackupRecord,
  DistributionRecord,
  OperationRecord,
  PublicKeyRecord,
  SnapshotRecord,
  SoftwareRecord,
  TariffRecord,
  TenantRecord,
  VmRecord,
} from './model.js';

export const DEFAULT_ACCOUNT = 'sandbox';
/**
 * The second account: the "shared user" of the provider's document (docs/api.md) (user@serveroid.com owns key 67, which is
 * installed on VM 85561 it has shared access to). It owns tenant 20001, VM 87001 and key 67, and has
 * no working credentials unless a test sets some, so the default account gets `error.not.owner` on them.
 */
export const OTHER_ACCOUNT = 'shared-user';
export const OTHER_EMAIL = 'user@serveroid.com';

/** Ids handed out next (the install example returns VM 88977; operations follow the largest seeded). */
export const FIRST_IDS = { vm: 88977, snapshot: 2207, publicKey: 255 } as const;

export function seedAccounts(clientId: string, apiKey: string, vmQuota: number): Account[] {
  return [
    { id: DEFAULT_ACCOUNT, clientId, apiKey, email: 'owner@sandbox.invalid', vmQuota, funds: true },
    { id: OTHER_ACCOUNT, clientId: 'shared-user', apiKey: null, email: OTHER_EMAIL, vmQuota, funds: true },
  ];
}

export function seedTenants(): TenantRecord[] {
  return [
    { id: 10081, accountId: DEFAULT_ACCOUNT, description: 'По умолчанию' },
    { id: 10082, accountId: DEFAULT_ACCOUNT, description: 'Проект 1' },
    { id: 10100, accountId: DEFAULT_ACCOUNT, description: 'Project 1' },
    // The example VMs and keys carry tenantId 111, which the tenant example does not list.
    { id: 111, accountId: DEFAULT_ACCOUNT, description: 'Examples' },
    { id: 20001, accountId: OTHER_ACCOUNT, description: 'Shared user project' },
  ];
}

export function seedDistributions(): DistributionRecord[] {
  const listed = (id: number, name: string, description: string, bitness: number): DistributionRecord => ({
    id,
    name,
    description,
    bitness,
    listed: true,
  });
  return [
    // The provider's document's list, in its order (docs/api.md, "Catalog").
    listed(233, 'DEBIAN', 'Debian 7.6 x64', 64),
    listed(234, 'DEBIAN', 'Debian 7.6 x86', 32),
    listed(230, 'UBUNTU', 'Ubuntu 14.04.1 x64', 64),
    listed(232, 'UBUNTU', 'Ubuntu 12.04.5 x64', 64),
    listed(235, 'SUSE', 'OpenSuse 13.1 x64', 64),
    listed(231, 'CENTOS', 'CentOS 6.5 x64', 64),
    listed(219, 'WINDOWS_2008_R2', 'Win Server 2008 R2 x64', 64),
    listed(236, 'FEDORA', 'Fedora 20 x64', 64),
    listed(220, 'WINDOWS_2012', 'Win Server 2012 R2 x64', 64),
    // What live clients installed later (docs/api.md, "Catalog"): 316 and 311 are their ids; the
    // rest are releases of those years, each Linux one in 64 and 32 bit.
    listed(311, 'DEBIAN', 'Debian 8 x64', 64),
    listed(312, 'DEBIAN', 'Debian 8 x86', 32),
    listed(320, 'DEBIAN', 'Debian 9 x64', 64),
    listed(321, 'DEBIAN', 'Debian 9 x86', 32),
    listed(316, 'UBUNTU', 'Ubuntu 16.04 x64', 64),
    listed(317, 'UBUNTU', 'Ubuntu 16.04 x86', 32),
    listed(313, 'UBUNTU', 'Ubuntu 14.04 x86', 32),
    listed(309, 'CENTOS', 'CentOS 6.8 x64', 64),
    listed(310, 'CENTOS', 'CentOS 6.8 x86', 32),
    listed(314, 'CENTOS', 'CentOS 7 x64', 64),
    listed(318, 'WINDOWS_2016', 'Win Server 2016 x64', 64),
    listed(323, 'WINDOWS_2019', 'Win Server 2019 x64', 64),
    // Retired images the example VMs still run: shown on those VMs, absent from distribution/.
    { id: 216, name: 'UBUNTU', description: 'Ubuntu 12.04.4 x64', bitness: 64, listed: false },
    { id: 221, name: 'DEBIAN', description: 'Debian 7.5 x64', bitness: 64, listed: false },
  ];
}

export function seedSoftware(): SoftwareRecord[] {
  return [
    { id: 1, name: 'mysql' },
    { id: 2, name: 'postgresql' },
    { id: 3, name: 'nginx + php-fpm' },
    { id: 4, name: 'apache' },
    { id: 5, name: 'java' },
  ];
}

export function seedTariffs(): TariffRecord[] {
  const t = (
    id: number,
    name: string,
    memory: number,
    disk: number,
    cpu: number,
    ipCount: number,
    onDemand: boolean,
    forWindows: boolean,
  ): TariffRecord => ({ id, name, memory, disk, cpu, ipCount, onDemand, forWindows, listed: true });
  return [
    t(3, 'Облачный 512', 512, 16384, 1, 1, false, false),
    t(4, 'Облачный 1024', 1024, 32768, 1, 1, false, false),
    t(5, 'Облачный 2048', 2048, 65536, 2, 1, false, false),
    t(6, 'Облачный 4096', 4096, 131072, 2, 1, false, false),
    t(10, 'Облачный 8192', 8192, 262144, 4, 1, false, false),
    t(11, 'Облачный 16384', 16384, 524288, 8, 1, false, false),
    t(1, 'Облачный без границ', 512, 8000, 0, 0, true, false),
    t(7, 'Облачный 1024 для Windows', 1024, 32768, 1, 1, false, true),
    t(8, 'Облачный 2048 для Windows', 2048, 65536, 2, 1, false, true),
    t(9, 'Облачный 4096 для Windows', 4096, 131072, 2, 1, false, true),
    t(12, 'Облачный 8192 для Windows', 8192, 262144, 4, 1, false, true),
    t(13, 'Облачный 16384 для Windows', 16384, 524288, 8, 1, false, true),
    t(2, 'Облачный без границ для Windows', 512, 8000, 0, 0, true, true),
    // Tariff 20 is what the three example VMs run: a Windows VM (88534) and two Linux VMs with
    // different resources on the same tariff, so it must be an old onDemand tariff usable for both.
    // The document's tariffs/ does not offer it (docs/api.md, decision 10): it is retired (not listed; install and tariff_change
    // to it are refused with error.object.not.found) but the VMs on it keep working, and since it is
    // onDemand their memory/disk/cpu can be changed.
    {
      id: 20,
      name: 'Облачный без границ (архивный)',
      memory: 512,
      disk: 8192,
      cpu: 1,
      ipCount: 0,
      onDemand: true,
      forWindows: false,
      listed: false,
    },
  ];
}

export function seedPublicKeys(): PublicKeyRecord[] {
  const text = 'ssh-dss AAAAB3NzaC1kc3MAAACBAK5uLwicCrFEpaV...Nt0Q7P45rZjNNTag2c= user@host';
  return [
    // As in the pubkeys/ example: key 254 has no tenantId there, and keeps none here.
    {
      id: 254,
      accountId: DEFAULT_ACCOUNT,
      name: 'my-key2',
      type: 'DSA',
      publicKey: text,
      timeAdded: 1414156464315,
    },
    {
      id: 2,
      accountId: DEFAULT_ACCOUNT,
      tenantId: 111,
      name: 'my-key1',
      type: 'DSA',
      publicKey: text,
      timeAdded: 1351093292416,
    },
    // The shared user's key, seen only inside VM 85561.
    {
      id: 67,
      accountId: OTHER_ACCOUNT,
      tenantId: 20001,
      name: 'key',
      type: 'DSA',
      publicKey: text,
      timeAdded: 1390000000000,
    },
  ];
}

export function seedVms(): VmRecord[] {
  const key2 = (installed: boolean) => ({
    id: 2,
    tenantId: 111,
    name: '1',
    type: 'DSA',
    publicKey: null,
    timeAdded: null,
    installed,
    ownerUser: null,
  });
  return [
    {
      id: 88534,
      accountId: DEFAULT_ACCOUNT,
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
      distribution: { id: 219, name: 'WINDOWS_2008_R2', description: 'Win Server 2008 R2 x64', bitness: 64 },
      ownerUser: null,
      accessUsers: [],
      publicKeys: [key2(false)],
    },
    {
      id: 85662,
      accountId: DEFAULT_ACCOUNT,
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
      publicKeys: [key2(true)],
    },
    {
      id: 85561,
      accountId: DEFAULT_ACCOUNT,
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
      // Snapshot 1357 does not appear in the snapshots/ example (only 2206 does): kept as the document has it;
      // a new snapshot of this VM therefore gets parentSnapshotId null.
      currentSnapshot: 1357,
      backupPolicy: { quantity: 10, frequency: 72 },
      distribution: { id: 216, name: 'UBUNTU', description: 'Ubuntu 12.04.4 x64', bitness: 64 },
      ownerUser: null,
      accessUsers: ['user@serveroid.com'],
      // The document is inconsistent: the vm/ list example shows keys 2 and 67 on this VM, the
      // vm/85561/ example shows 254, 2 and 67. The richer vm/85561/ version is used in both places.
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
        key2(true),
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
    {
      id: 87001,
      accountId: OTHER_ACCOUNT,
      tenantId: 20001,
      name: 'shared-user-server',
      internalId: 'vm87001',
      memory: 1024,
      disk: 32768,
      cpu: 1,
      bandwidth: 100,
      tariffId: 4,
      ipAddresses: ['185.22.60.240'],
      privateIpAddress: '10.7.9.12',
      state: 'VIR_DOMAIN_RUNNING',
      timeAdded: 1405000000000,
      currentSnapshot: null,
      backupPolicy: { quantity: 1, frequency: 24 },
      distribution: { id: 233, name: 'DEBIAN', description: 'Debian 7.6 x64', bitness: 64 },
      ownerUser: null,
      accessUsers: [],
      publicKeys: [
        {
          id: 67,
          tenantId: 20001,
          name: 'key',
          type: 'DSA',
          publicKey: null,
          timeAdded: null,
          installed: true,
          ownerUser: null,
        },
      ],
    },
  ];
}

export function seedSnapshots(): SnapshotRecord[] {
  return [
    {
      id: 2206,
      vmId: 85561,
      name: 'my-snapshot',
      description: 'My first snapshot',
      parentSnapshotId: null,
      timeAdded: 1414156778188,
      config: { tariffId: 20, memory: 512, disk: 16384, cpu: 1 },
    },
  ];
}

export function seedBackups(): BackupRecord[] {
  return [
    {
      id: 'diff-backupsnap20141019011721-backupsnap20141022015414.lz4',
      vmId: 85561,
      size: 32768,
      timeAdded: 1413928454000,
      config: { tariffId: 20, memory: 512, disk: 16384, cpu: 1 },
    },
  ];
}

/**
 * The provider's document's operations, readable by id, and operation 1 (docs/api.md, method 35). 61625 is a historical record seen at
 * 51 %: it goes on from there to DONE within `historicalMs` (× timeScale) of the sandbox's start,
 * without locking or changing VM 85662. 106765 concerns VM 92821, which no longer exists.
 */
export function seedOperations(start: number, historicalMs: number): OperationRecord[] {
  const done = (
    id: number,
    vmId: number,
    operationType: string,
    operationResult?: string,
  ): OperationRecord => ({
    id,
    accountId: DEFAULT_ACCOUNT,
    vmId,
    tenantId: 111,
    operationType,
    startedAt: start,
    endsAt: start,
    startPercentage: 100,
    locks: [],
    outcome: operationResult === undefined ? { status: 'DONE' } : { status: 'DONE', operationResult },
  });
  return [
    // A live client reads operation 1 and expects a result (python-flops test_get_operation_status):
    // the account's first operation, long finished.
    { ...done(1, 85561, 'VM_INSTALL'), startedAt: 1399367371175, endsAt: 1399367371175 },
    done(61626, 85662, 'VM_DESTROY'),
    {
      id: 61625,
      accountId: DEFAULT_ACCOUNT,
      vmId: 85662,
      tenantId: 111,
      operationType: 'VM_REVERT_TO_BACKUP',
      startedAt: start,
      endsAt: start + historicalMs,
      startPercentage: 51,
      locks: [],
    },
    done(
      106765,
      92821,
      'DOWNLOAD_BACKUP',
      'https://download2.flops.ru/?p=177fdaa76833b30cff2b9771225b18a7&b=diff-backupsnap20150409090001-backupsnap20150409120002.lz4',
    ),
  ];
}
