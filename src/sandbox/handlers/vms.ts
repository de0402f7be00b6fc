/** Toolset `vms`: list, install, clone, reinstall, read, rename and delete VMs. */
import { LIMITS } from '../../api/fields.js';
import type { VmConfig, VmRecord } from '../model.js';
import {
  checkCloneable,
  checkFunds,
  checkRatio,
  checkWindows,
  DEFAULT_BACKUP_POLICY,
  isWindows,
  MS,
  notOwner,
  objectNotFound,
  quotaReached,
  SUPPORT_USER,
  vmNotFound,
} from '../rules.js';
import { configOf, RUNNING, SHUTOFF } from '../state.js';
import {
  applyConfig,
  type Ctx,
  checkSoftware,
  dropSnapshots,
  installableDistribution,
  liveVm,
  notBusy,
  offeredTariff,
  operate,
  ownKeys,
  ownTenant,
  readableVm,
  sharedView,
  snapshotOf,
  type ToolsetHandlers,
  tariffOf,
  vmKeys,
  writableVm,
} from './shared.js';

function checkQuota(ctx: Ctx): void {
  let count = 0;
  for (const vm of ctx.state.vms.values()) if (vm.accountId === ctx.account.id) count++;
  if (count >= ctx.account.vmQuota) throw quotaReached(ctx.account.vmQuota);
}

export const vms = {
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
    // A fixed tariff sets the resources (given values are ignored: docs/api.md, method 3); an onDemand
    // one takes them, defaulting to its minimums (and the lower limits of docs/api.md, "Limits").
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
    checkFunds(ctx.account);
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
    const operation = operate(ctx, vm, MS.install, (endedAt) => {
      state.installed(liveVm(state, id), endedAt);
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
    checkCloneable(source.distribution);
    notBusy(ctx, source.id);
    const snapshot = p.snapshotId === undefined ? undefined : snapshotOf(ctx.state, source, p.snapshotId);
    if (p.snapshotId !== undefined && !snapshot) throw objectNotFound();
    const config = snapshot?.config ?? configOf(source);
    checkQuota(ctx);
    checkFunds(ctx.account);
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
    delete vm.guestReadyAt;
    delete vm.backupDueAt;
    for (const key of vm.publicKeys) key.tenantId = tenant.id;
    state.vms.set(id, vm);
    const operation = operate(
      ctx,
      vm,
      MS.clone,
      (endedAt) => {
        state.installed(liveVm(state, id), endedAt);
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
    checkFunds(ctx.account);
    const { state } = ctx;
    vm.state = SHUTOFF;
    return operate(ctx, vm, MS.reinstall, () => {
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
      // A new disk: the snapshots of the old one go (docs/api.md, decision 5).
      dropSnapshots(state, v);
      v.state = RUNNING;
      return undefined;
    });
  },

  vm_get: (ctx, p) => sharedView(ctx, readableVm(ctx, p.vmId)),

  vm_rename: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, MS.quick, () => {
      if (p.name !== undefined) liveVm(ctx.state, vm.id).name = p.name;
      return undefined;
    });
  },

  vm_delete: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, MS.soft, () => {
      ctx.state.removeVm(vm.id);
      return undefined;
    });
  },
} satisfies ToolsetHandlers<'vms'>;
