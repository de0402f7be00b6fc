/**
 * What each API method does to the sandbox's state: one handler per row of the operation table.
 * The map is checked against `ToolName`, so the compiler proves every method is implemented, and
 * each handler's parameters are the output type of that row's zod schema (already validated).
 *
 * Checks happen when the request arrives (an error is synchronous, as the document says); the
 * effect of an asynchronous method is applied when its operation's time is up.
 */
import type { z } from 'zod';
import { LIMITS } from '../api/fields.js';
import { getOperation, type OperationByTool, type ToolName } from '../api/operations.js';
import {
  type Account,
  type DistributionRecord,
  invalid,
  notOwner,
  type OperationOutcome,
  type OperationRecord,
  objectNotFound,
  type PublicKeyRecord,
  SandboxError,
  type SnapshotRecord,
  type TariffRecord,
  type TenantRecord,
  type VmConfig,
  type VmKeyRecord,
  type VmRecord,
  vmNotFound,
} from './model.js';
import { configOf, hexToken, RUNNING, type SandboxState, SHUTOFF } from './state.js';

export interface Ctx {
  state: SandboxState;
  account: Account;
  now: number;
}

export type ParamsOut<T extends ToolName> = z.output<z.ZodObject<OperationByTool<T>['params']>>;
type ReturnsOf<T extends ToolName> = OperationByTool<T>['returns'];
/** What a handler gives back, by the row's `returns`; the server wraps it in the envelope. */
export type HandlerResult<T extends ToolName> =
  ReturnsOf<T> extends 'operation'
    ? OperationRecord
    : ReturnsOf<T> extends 'created'
      ? { vmId: number; operation: OperationRecord }
      : ReturnsOf<T> extends 'none'
        ? undefined
        : unknown;
export type Handler<T extends ToolName> = (ctx: Ctx, params: ParamsOut<T>) => HandlerResult<T>;

/** Operation durations before timeScale: everything finishes within 3 s. */
const MS = {
  install: 2500,
  reinstall: 2500,
  clone: 2500,
  quick: 500,
  power: 1000,
  soft: 1500,
  config: 800,
  resize: 1200,
  network: 1000,
  snapshot: 1500,
  restore: 2500,
  download: 2000,
} as const;

const DEFAULT_BACKUP_POLICY = { quantity: 1, frequency: 72 } as const; // as on two of the three example VMs
const SUPPORT_USER = 'support@serveroid.com';
const GUEST_TIMEOUT = {
  errorCode: 'error.vm.guest.timeout',
  errorMessage: 'The guest OS did not comply within 3 minutes',
} as const;

// ---------------------------------------------------------------------------------------------
// Lookups and checks shared by the handlers

function ownTenant(ctx: Ctx, tenantId: number): TenantRecord {
  const tenant = ctx.state.tenants.get(tenantId);
  if (!tenant) throw objectNotFound();
  if (tenant.accountId !== ctx.account.id) throw notOwner();
  return tenant;
}

/** A VM the account may read: its own, or one shared with its user (`accessUsers`). */
function readableVm(ctx: Ctx, vmId: number): VmRecord {
  const vm = ctx.state.vms.get(vmId);
  if (!vm) throw vmNotFound(vmId);
  if (vm.accountId !== ctx.account.id && !vm.accessUsers.includes(ctx.account.email)) throw notOwner();
  return vm;
}

function notBusy(ctx: Ctx, vmId: number): void {
  const lock = ctx.state.lockOn(vmId);
  if (!lock) return;
  const { op, code } = lock;
  throw new SandboxError(
    code,
    code === 'error.operation.already.started'
      ? `Operation ${op.id} (${op.operationType}) is already running on VM ${vmId}`
      : `The disk of VM ${vmId} is busy with operation ${op.id} (${op.operationType})`,
  );
}

/** A VM the account may change: its own, addressed with its own tenantId, and not busy. */
function writableVm(ctx: Ctx, vmId: number, tenantId: number): VmRecord {
  const vm = ctx.state.vms.get(vmId);
  if (!vm) throw vmNotFound(vmId);
  if (vm.accountId !== ctx.account.id) throw notOwner();
  ownTenant(ctx, tenantId);
  if (vm.tenantId !== tenantId) throw notOwner();
  notBusy(ctx, vmId);
  return vm;
}

/** A VM that must still exist when an operation's effect is applied (it is locked meanwhile). */
function liveVm(state: SandboxState, vmId: number): VmRecord {
  const vm = state.vms.get(vmId);
  if (!vm) throw new Error(`VM ${vmId} disappeared while an operation was running`);
  return vm;
}

/** Only what distribution/ lists can be installed; retired images exist only on old VMs. */
function installableDistribution(ctx: Ctx, id: number): DistributionRecord {
  const d = ctx.state.distributions.get(id);
  if (!d?.listed) throw objectNotFound();
  return d;
}

function offeredTariff(ctx: Ctx, id: number): TariffRecord {
  const t = ctx.state.tariffs.get(id);
  if (!t?.listed) throw objectNotFound();
  return t;
}

function tariffOf(ctx: Ctx, vm: VmRecord): TariffRecord {
  const t = ctx.state.tariffs.get(vm.tariffId);
  if (!t) throw new Error(`VM ${vm.id} is on unknown tariff ${vm.tariffId}`);
  return t;
}

function ownKeys(ctx: Ctx, ids: readonly number[]): PublicKeyRecord[] {
  return [...new Set(ids)].map((id) => {
    const key = ctx.state.publicKeys.get(id);
    if (!key) throw objectNotFound();
    if (key.accountId !== ctx.account.id) throw notOwner();
    return key;
  });
}

function checkSoftware(ctx: Ctx, ids: readonly number[]): void {
  for (const id of ids) if (!ctx.state.software.has(id)) throw objectNotFound();
}

const isWindows = (d: { name: string }) => d.name.startsWith('WINDOWS');

/**
 * Windows images need a `forWindows` tariff and the others a tariff that is not. The retired
 * tariff 20 predates that split (the document shows a Windows and two Linux VMs on it): exempt.
 */
function checkWindows(d: { name: string }, t: TariffRecord): void {
  if (!t.listed || isWindows(d) === t.forWindows) return;
  throw invalid(
    'tariffId',
    isWindows(d)
      ? `tariff ${t.id} is not for Windows: a Windows distribution needs a forWindows tariff`
      : `tariff ${t.id} is for Windows only: this distribution needs a tariff that is not forWindows`,
  );
}

function checkRatio(memory: number, disk: number, field: 'disk' | 'memory'): void {
  if (disk <= memory * LIMITS.diskPerMemory) return;
  throw invalid(
    field,
    `disk must be at most 64 × memory (${disk} MB disk needs at least ${Math.ceil(disk / 64)} MB memory)`,
  );
}

function checkQuota(ctx: Ctx): void {
  let count = 0;
  for (const vm of ctx.state.vms.values()) if (vm.accountId === ctx.account.id) count++;
  if (count >= ctx.account.vmQuota) {
    throw new SandboxError('vm.limit.exceed', `VM limit of the account reached (${ctx.account.vmQuota})`);
  }
}

/** Keys as a VM shows them: copies taken now; Windows guests have no authorized_keys to install into. */
function vmKeys(keys: readonly PublicKeyRecord[], tenantId: number, windows: boolean): VmKeyRecord[] {
  return keys.map((k) => ({
    id: k.id,
    tenantId,
    name: k.name,
    type: k.type,
    publicKey: null,
    timeAdded: null,
    installed: !windows,
    ownerUser: null,
  }));
}

export function keyType(publicKey: string): string {
  if (publicKey.startsWith('ssh-rsa')) return 'RSA';
  if (publicKey.startsWith('ssh-dss')) return 'DSA';
  if (publicKey.startsWith('ssh-ed25519')) return 'ED25519';
  if (publicKey.startsWith('ecdsa-')) return 'ECDSA';
  return 'UNKNOWN';
}

function snapshotOf(ctx: Ctx, vm: VmRecord, snapshotId: number): SnapshotRecord {
  const s = ctx.state.snapshots.get(snapshotId);
  if (!s || s.vmId !== vm.id) throw objectNotFound();
  return s;
}

function backupOf(ctx: Ctx, vm: VmRecord, backupId: string) {
  const b = ctx.state.backups.get(backupId);
  if (!b || b.vmId !== vm.id) throw objectNotFound();
  return b;
}

function applyConfig(vm: VmRecord, config: VmConfig): void {
  vm.tariffId = config.tariffId;
  vm.memory = config.memory;
  vm.disk = config.disk;
  vm.cpu = config.cpu;
}

function dropSnapshots(state: SandboxState, vm: VmRecord): void {
  for (const s of state.snapshotsOf(vm.id)) state.snapshots.delete(s.id);
  vm.currentSnapshot = null;
}

/** Start the row's operation on a VM, which stays busy until it ends. */
function operate(
  ctx: Ctx,
  tool: ToolName,
  vm: { id: number; tenantId: number },
  durationMs: number,
  effect?: () => OperationOutcome | undefined,
  extraLocks: OperationRecord['locks'] = [],
): OperationRecord {
  const row = getOperation(tool);
  return ctx.state.startOperation({
    accountId: ctx.account.id,
    vmId: vm.id,
    tenantId: vm.tenantId,
    operationType: row.operationType ?? tool.toUpperCase(),
    durationMs: row.instant ? 0 : durationMs,
    locks: [{ vmId: vm.id, code: 'error.operation.already.started' }, ...extraLocks],
    ...(effect ? { effect } : {}),
  });
}

const fail = (errorCode: string, errorMessage: string): OperationOutcome => ({
  status: 'ERROR',
  errorCode,
  errorMessage,
});

// ---------------------------------------------------------------------------------------------

export const handlers = {
  tenant_list: (ctx) =>
    [...ctx.state.tenants.values()]
      .filter((t) => t.accountId === ctx.account.id)
      .map((t) => ctx.state.tenantView(t)),

  vm_list: (ctx) =>
    [...ctx.state.vms.values()]
      .filter((v) => v.accountId === ctx.account.id || v.accessUsers.includes(ctx.account.email))
      .sort((a, b) => b.id - a.id)
      .map((v) => sharedView(ctx, v)),

  vm_install: (ctx, p) => {
    const tenant = ownTenant(ctx, p.tenantId);
    const distribution = installableDistribution(ctx, p.distributionId);
    const tariff = offeredTariff(ctx, p.tariffId);
    const keys = ownKeys(ctx, p.publicKeyIds ?? []);
    checkSoftware(ctx, p.softwareIds ?? []);
    checkWindows(distribution, tariff);
    // A fixed tariff sets the resources (given values are ignored, as documented); an onDemand one
    // takes them, defaulting to its minimums (and the documented lower limits).
    const resources = tariff.onDemand
      ? {
          memory: p.memory ?? Math.max(tariff.memory, LIMITS.memory.min),
          disk: p.disk ?? Math.max(tariff.disk, LIMITS.disk.min),
          cpu: p.cpu ?? Math.max(tariff.cpu, LIMITS.cpu.min),
          ipCount: p.ipCount ?? tariff.ipCount,
        }
      : { memory: tariff.memory, disk: tariff.disk, cpu: tariff.cpu, ipCount: tariff.ipCount };
    checkRatio(resources.memory, resources.disk, 'disk');
    checkQuota(ctx);
    const { state } = ctx;
    const id = state.nextId('vm');
    const vm: VmRecord = {
      id,
      accountId: ctx.account.id,
      tenantId: tenant.id,
      name: p.name ?? `vm${id}`,
      internalId: `vm${id}`,
      memory: resources.memory,
      disk: resources.disk,
      cpu: resources.cpu,
      bandwidth: 100,
      tariffId: tariff.id,
      ipAddresses: state.allocatePublicIps(resources.ipCount),
      privateIpAddress: state.allocatePrivateIp(),
      state: SHUTOFF, // not running until the installation is done
      timeAdded: ctx.now,
      currentSnapshot: null,
      backupPolicy: { ...DEFAULT_BACKUP_POLICY },
      distribution: state.distributionView(distribution) as VmRecord['distribution'],
      ownerUser: null,
      accessUsers: p.openSupportAccess ? [SUPPORT_USER] : [],
      publicKeys: vmKeys(keys, tenant.id, isWindows(distribution)),
    };
    state.vms.set(id, vm);
    const operation = operate(ctx, 'vm_install', vm, MS.install, () => {
      liveVm(state, id).state = RUNNING;
      return undefined;
    });
    return { vmId: id, operation };
  },

  vm_clone: (ctx, p) => {
    const source = ctx.state.vms.get(p.vmId);
    if (!source) throw vmNotFound(p.vmId);
    if (source.accountId !== ctx.account.id) throw notOwner();
    // The document calls tenantId "the project": the clone goes to that project, any of the account's.
    const tenant = ownTenant(ctx, p.tenantId);
    notBusy(ctx, source.id);
    const config =
      p.snapshotId === undefined ? configOf(source) : snapshotOf(ctx, source, p.snapshotId).config;
    checkQuota(ctx);
    const { state } = ctx;
    const id = state.nextId('vm');
    const vm: VmRecord = {
      ...structuredClone(source),
      id,
      tenantId: tenant.id,
      name: p.name ?? `vm${id}`,
      internalId: `vm${id}`,
      ...config,
      ipAddresses: state.allocatePublicIps(source.ipAddresses.length),
      privateIpAddress: state.allocatePrivateIp(),
      state: SHUTOFF,
      timeAdded: ctx.now,
      // Snapshots are per VM: the clone starts without any.
      currentSnapshot: null,
    };
    delete vm.guestResponsive;
    for (const key of vm.publicKeys) key.tenantId = tenant.id;
    state.vms.set(id, vm);
    const operation = operate(
      ctx,
      'vm_clone',
      vm,
      MS.clone,
      () => {
        liveVm(state, id).state = RUNNING;
        return undefined;
      },
      // The source's disk is read meanwhile.
      [{ vmId: source.id, code: 'error.vm.volume.under.operation' }],
    );
    return { vmId: id, operation };
  },

  vm_reinstall: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const distribution =
      p.distributionId === undefined ? vm.distribution : installableDistribution(ctx, p.distributionId);
    const tariff = p.tariffId === undefined ? tariffOf(ctx, vm) : offeredTariff(ctx, p.tariffId);
    const keys = p.publicKeyIds === undefined ? undefined : ownKeys(ctx, p.publicKeyIds);
    checkSoftware(ctx, p.softwareIds ?? []);
    checkWindows(distribution, tariff);
    // A new disk is made: on an onDemand tariff any size within the limits, default the current ones.
    const config: VmConfig = tariff.onDemand
      ? { tariffId: tariff.id, memory: p.memory ?? vm.memory, disk: p.disk ?? vm.disk, cpu: p.cpu ?? vm.cpu }
      : { tariffId: tariff.id, memory: tariff.memory, disk: tariff.disk, cpu: tariff.cpu };
    checkRatio(config.memory, config.disk, 'disk');
    const { state } = ctx;
    vm.state = SHUTOFF;
    return operate(ctx, 'vm_reinstall', vm, MS.reinstall, () => {
      const v = liveVm(state, vm.id);
      if (p.name !== undefined) v.name = p.name;
      v.distribution = state.distributionView(distribution) as VmRecord['distribution'];
      applyConfig(v, config);
      const windows = isWindows(distribution);
      // Without publicKeyIds the VM's current keys are installed again.
      v.publicKeys = keys
        ? vmKeys(keys, v.tenantId, windows)
        : v.publicKeys.map((k) => ({ ...k, installed: !windows }));
      if (p.openSupportAccess && !v.accessUsers.includes(SUPPORT_USER)) v.accessUsers.push(SUPPORT_USER);
      dropSnapshots(state, v);
      v.state = RUNNING;
      return undefined;
    });
  },

  vm_get: (ctx, p) => sharedView(ctx, readableVm(ctx, p.vmId)),

  vm_rename: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_rename', vm, MS.quick, () => {
      if (p.name !== undefined) liveVm(ctx.state, vm.id).name = p.name;
      return undefined;
    });
  },

  // Starting a running VM, and powering off or shutting down a stopped one, end DONE and change nothing.
  vm_start: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_start', vm, MS.power, () => {
      liveVm(ctx.state, vm.id).state = RUNNING;
      return undefined;
    });
  },

  // Hard and soft reboots of a stopped VM end in ERROR: there is nothing to reboot.
  vm_reset: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_reset', vm, MS.power, () => {
      const v = liveVm(ctx.state, vm.id);
      if (v.state !== RUNNING) return fail('unexpected.exception', `VM ${v.id} is not running`);
      return undefined;
    });
  },

  vm_reboot: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_reboot', vm, MS.soft, () => {
      const v = liveVm(ctx.state, vm.id);
      if (v.state !== RUNNING) return fail('unexpected.exception', `VM ${v.id} is not running`);
      if (!ctx.state.isGuestResponsive(v)) return fail(GUEST_TIMEOUT.errorCode, GUEST_TIMEOUT.errorMessage);
      return undefined;
    });
  },

  vm_poweroff: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_poweroff', vm, MS.power, () => {
      liveVm(ctx.state, vm.id).state = SHUTOFF;
      return undefined;
    });
  },

  vm_shutdown: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_shutdown', vm, MS.soft, () => {
      const v = liveVm(ctx.state, vm.id);
      if (v.state !== RUNNING) return undefined;
      if (!ctx.state.isGuestResponsive(v)) return fail(GUEST_TIMEOUT.errorCode, GUEST_TIMEOUT.errorMessage);
      v.state = SHUTOFF;
      return undefined;
    });
  },

  vm_delete: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_delete', vm, MS.soft, () => {
      ctx.state.removeVm(vm.id);
      return undefined;
    });
  },

  // The password is checked by the schema and never stored.
  vm_password_change: (ctx, p) =>
    operate(ctx, 'vm_password_change', writableVm(ctx, p.vmId, p.tenantId), MS.config),

  vm_pubkey_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const keys = ownKeys(ctx, p.keyIds ?? []);
    return operate(ctx, 'vm_pubkey_change', vm, MS.config, () => {
      const v = liveVm(ctx.state, vm.id);
      v.publicKeys = vmKeys(keys, v.tenantId, isWindows(v.distribution));
      return undefined;
    });
  },

  vm_memory_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!tariffOf(ctx, vm).onDemand) throw invalid('memory', 'memory cannot be changed on a fixed tariff');
    const decrease = p.memory < vm.memory;
    if (decrease && p.allowRestart !== true) {
      throw invalid('allowRestart', 'decreasing memory needs a restart: set allowRestart=true');
    }
    checkRatio(p.memory, vm.disk, 'memory');
    return operate(ctx, 'vm_memory_change', vm, decrease ? MS.power * 2 : MS.power, () => {
      liveVm(ctx.state, vm.id).memory = p.memory;
      return undefined;
    });
  },

  vm_disk_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!tariffOf(ctx, vm).onDemand) throw invalid('disk', 'disk cannot be changed on a fixed tariff');
    if (p.disk <= vm.disk)
      throw invalid('disk', `the disk only grows: give more than the current ${vm.disk} MB`);
    let memory = vm.memory;
    if (p.disk > vm.memory * LIMITS.diskPerMemory) {
      if (p.allowMemoryChange !== true) {
        throw invalid(
          'disk',
          `disk must be at most 64 × memory (${vm.memory * LIMITS.diskPerMemory} MB for ${vm.memory} MB); set allowMemoryChange=true to raise memory to ${Math.ceil(p.disk / 64)} MB`,
        );
      }
      memory = Math.ceil(p.disk / LIMITS.diskPerMemory);
    }
    return operate(ctx, 'vm_disk_change', vm, MS.resize, () => {
      const v = liveVm(ctx.state, vm.id);
      v.disk = p.disk;
      v.memory = memory;
      return undefined;
    });
  },

  vm_cpu_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!tariffOf(ctx, vm).onDemand) throw invalid('cpu', 'cpu cannot be changed on a fixed tariff');
    return operate(ctx, 'vm_cpu_change', vm, MS.config, () => {
      liveVm(ctx.state, vm.id).cpu = p.cpu;
      return undefined;
    });
  },

  vm_tariff_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const tariff = offeredTariff(ctx, p.tariffId);
    checkWindows(vm.distribution, tariff);
    // A fixed tariff brings its own disk, which must not be smaller than the VM's; an onDemand
    // tariff keeps the VM's resources (its disk figure is a minimum, which they always meet).
    if (!tariff.onDemand && tariff.disk < vm.disk) {
      throw invalid(
        'tariffId',
        `tariff ${tariff.id} has a ${tariff.disk} MB disk, less than the VM's ${vm.disk} MB`,
      );
    }
    return operate(ctx, 'vm_tariff_change', vm, MS.resize, () => {
      const v = liveVm(ctx.state, vm.id);
      if (tariff.onDemand) v.tariffId = tariff.id;
      else applyConfig(v, { tariffId: tariff.id, memory: tariff.memory, disk: tariff.disk, cpu: tariff.cpu });
      return undefined;
    });
  },

  vm_backup_policy_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_backup_policy_change', vm, 0, () => {
      liveVm(ctx.state, vm.id).backupPolicy = { quantity: p.quantity, frequency: p.frequency };
      return undefined;
    });
  },

  // Network changes reconfigure the guest; an unresponsive guest gives the documented errors, with
  // the address change made all the same.
  vm_ip_add: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, 'vm_ip_add', vm, MS.network, () => {
      const v = liveVm(ctx.state, vm.id);
      const ip = ctx.state.allocatePublicIp();
      if (!ip) return fail('unexpected.exception', 'No free public IP address left');
      v.ipAddresses.push(ip);
      if (!ctx.state.isGuestResponsive(v)) return guestAddError(ip);
      return undefined;
    });
  },

  vm_ip_delete: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!vm.ipAddresses.includes(p.ip)) throw objectNotFound();
    return operate(ctx, 'vm_ip_delete', vm, MS.network, () => {
      const v = liveVm(ctx.state, vm.id);
      v.ipAddresses = v.ipAddresses.filter((ip) => ip !== p.ip);
      if (!ctx.state.isGuestResponsive(v)) return guestRemoveError(p.ip);
      return undefined;
    });
  },

  vm_ip_move: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const target = ctx.state.vms.get(p.toVmId);
    if (!target) throw vmNotFound(p.toVmId);
    if (target.accountId !== ctx.account.id) throw notOwner();
    if (target.id === vm.id) throw invalid('toVmId', 'toVmId must be another VM');
    if (!vm.ipAddresses.includes(p.ip)) throw objectNotFound();
    notBusy(ctx, target.id);
    return operate(
      ctx,
      'vm_ip_move',
      vm,
      MS.network + MS.quick,
      () => {
        const from = liveVm(ctx.state, vm.id);
        const to = liveVm(ctx.state, target.id);
        from.ipAddresses = from.ipAddresses.filter((ip) => ip !== p.ip);
        to.ipAddresses.push(p.ip);
        if (!ctx.state.isGuestResponsive(to)) return guestAddError(p.ip);
        if (!ctx.state.isGuestResponsive(from)) return guestRemoveError(p.ip);
        return undefined;
      },
      [{ vmId: target.id, code: 'error.operation.already.started' }],
    );
  },

  vm_snapshot_list: (ctx, p) =>
    ctx.state.snapshotsOf(readableVm(ctx, p.vmId).id).map((s) => ctx.state.snapshotView(s)),

  vm_snapshot_create: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const { state } = ctx;
    return operate(ctx, 'vm_snapshot_create', vm, MS.snapshot, () => {
      const v = liveVm(state, vm.id);
      const parent = v.currentSnapshot === null ? undefined : state.snapshots.get(v.currentSnapshot);
      const snapshot: SnapshotRecord = {
        id: state.nextId('snapshot'),
        vmId: v.id,
        name: p.name,
        description: p.description ?? null,
        parentSnapshotId: parent && parent.vmId === v.id ? parent.id : null,
        timeAdded: state.clock(),
        config: configOf(v),
      };
      state.snapshots.set(snapshot.id, snapshot);
      v.currentSnapshot = snapshot.id;
      return undefined;
    });
  },

  vm_snapshot_rollback: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const snapshot = snapshotOf(ctx, vm, p.snapshotId);
    return operate(ctx, 'vm_snapshot_rollback', vm, MS.restore - MS.quick, () => {
      const v = liveVm(ctx.state, vm.id);
      applyConfig(v, snapshot.config);
      v.currentSnapshot = snapshot.id;
      return undefined;
    });
  },

  vm_snapshot_delete: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const snapshot = snapshotOf(ctx, vm, p.snapshotId);
    const { state } = ctx;
    return operate(ctx, 'vm_snapshot_delete', vm, MS.power, () => {
      const v = liveVm(state, vm.id);
      const all = state.snapshotsOf(v.id);
      const removed = new Set([snapshot.id]);
      if (p.deleteChildren === true) {
        // The whole subtree: repeat until no snapshot's parent is newly removed.
        for (let grew = true; grew; ) {
          grew = false;
          for (const s of all) {
            if (!removed.has(s.id) && s.parentSnapshotId !== null && removed.has(s.parentSnapshotId)) {
              removed.add(s.id);
              grew = true;
            }
          }
        }
      } else {
        for (const s of all)
          if (s.parentSnapshotId === snapshot.id) s.parentSnapshotId = snapshot.parentSnapshotId;
      }
      for (const id of removed) state.snapshots.delete(id);
      if (v.currentSnapshot !== null && removed.has(v.currentSnapshot))
        v.currentSnapshot = snapshot.parentSnapshotId;
      return undefined;
    });
  },

  vm_backup_list: (ctx, p) =>
    ctx.state.backupsOf(readableVm(ctx, p.vmId).id).map((b) => ctx.state.backupView(b)),

  vm_backup_rollback: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const backup = backupOf(ctx, vm, p.backup);
    const { state } = ctx;
    return operate(ctx, 'vm_backup_rollback', vm, MS.restore, () => {
      const v = liveVm(state, vm.id);
      if (p.createBackup === true) state.addBackup(v.id);
      dropSnapshots(state, v);
      applyConfig(v, backup.config);
      return undefined;
    });
  },

  vm_backup_download: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const backup = backupOf(ctx, vm, p.backup);
    let link = '';
    const operation = operate(ctx, 'vm_backup_download', vm, MS.download, () => ({
      status: 'DONE',
      operationResult: link,
    }));
    link = `https://download.sandbox.invalid/?p=${hexToken(operation.id, backup.id)}&b=${encodeURIComponent(backup.id)}`;
    return operation;
  },

  pubkey_list: (ctx) =>
    [...ctx.state.publicKeys.values()]
      .filter((k) => k.accountId === ctx.account.id)
      .sort((a, b) => b.id - a.id)
      .map((k) => ctx.state.publicKeyView(k)),

  pubkey_add: (ctx, p) => {
    const tenant = ownTenant(ctx, p.tenantId);
    const key: PublicKeyRecord = {
      id: ctx.state.nextId('publicKey'),
      accountId: ctx.account.id,
      tenantId: tenant.id,
      name: p.name,
      type: keyType(p.publicKey),
      publicKey: p.publicKey,
      timeAdded: ctx.now,
    };
    ctx.state.publicKeys.set(key.id, key);
    return ctx.state.publicKeyView(key, false);
  },

  pubkey_edit: (ctx, p) => {
    const key = ownKey(ctx, p.keyId, p.tenantId);
    if (p.name !== undefined) key.name = p.name;
    if (p.publicKey !== undefined) {
      key.publicKey = p.publicKey;
      key.type = keyType(p.publicKey);
    }
    return ctx.state.publicKeyView(key, false);
  },

  pubkey_delete: (ctx, p) => {
    ctx.state.publicKeys.delete(ownKey(ctx, p.keyId, p.tenantId).id);
    return undefined;
  },

  operation_get: (ctx, p) => {
    const op = ctx.state.operations.get(p.operationId);
    if (!op) throw objectNotFound();
    if (op.accountId !== ctx.account.id) throw notOwner();
    return ctx.state.operationView(op, ctx.now);
  },

  distribution_list: (ctx) =>
    [...ctx.state.distributions.values()].filter((d) => d.listed).map((d) => ctx.state.distributionView(d)),

  software_list: (ctx) => [...ctx.state.software.values()].map((s) => ctx.state.softwareView(s)),

  tariff_list: (ctx) =>
    [...ctx.state.tariffs.values()].filter((t) => t.listed).map((t) => ctx.state.tariffView(t)),
} satisfies { [T in ToolName]: Handler<T> };

/** A VM as the account sees it: a VM shared with it names its owner in `ownerUser`. */
function sharedView(ctx: Ctx, vm: VmRecord) {
  const view = ctx.state.vmView(vm);
  if (vm.accountId !== ctx.account.id) view.ownerUser = ctx.state.accounts.get(vm.accountId)?.email ?? null;
  return view;
}

function ownKey(ctx: Ctx, keyId: number, tenantId: number): PublicKeyRecord {
  ownTenant(ctx, tenantId);
  const key = ctx.state.publicKeys.get(keyId);
  if (!key) throw objectNotFound();
  if (key.accountId !== ctx.account.id) throw notOwner();
  if (key.tenantId !== undefined && key.tenantId !== tenantId) throw notOwner();
  return key;
}

const guestAddError = (ip: string) =>
  fail(
    'error.inet.ip.guest.add',
    `IP ${ip} was added but the guest OS could not be reconfigured: configure it by hand`,
  );
const guestRemoveError = (ip: string) =>
  fail(
    'error.inet.ip.guest.remove',
    `IP ${ip} was removed but is still configured in the guest OS: remove it by hand`,
  );
