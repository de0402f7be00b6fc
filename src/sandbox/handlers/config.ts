/** Toolset `config`: password, SSH keys, memory, disk, CPU, tariff and backup policy of a VM. */
import { diskRatioProblem } from '../../api/fields.js';
import { checkRatio, checkWindows, invalid, isWindows, MS, memoryForDisk, TEXT } from '../rules.js';
import {
  applyConfig,
  liveVm,
  offeredTariff,
  operate,
  ownKeys,
  type ToolsetHandlers,
  tariffOf,
  vmKeys,
  writableVm,
} from './shared.js';

export const config = {
  // The password is checked by the schema and never stored.
  vm_password_change: (ctx, p) => operate(ctx, writableVm(ctx, p.vmId, p.tenantId), MS.config),

  vm_pubkey_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const keys = ownKeys(ctx, p.keyIds ?? []);
    return operate(ctx, vm, MS.config, () => {
      const v = liveVm(ctx.state, vm.id);
      v.publicKeys = vmKeys(keys, v.tenantId, isWindows(v.distribution));
      return undefined;
    });
  },

  vm_memory_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!tariffOf(ctx, vm).onDemand) throw invalid('memory', TEXT.fixedTariff('memory'));
    const decrease = p.memory < vm.memory;
    if (decrease && p.allowRestart !== true) throw invalid('allowRestart', TEXT.memoryDecrease);
    checkRatio(p.memory, vm.disk, 'memory');
    return operate(ctx, vm, decrease ? MS.power * 2 : MS.power, () => {
      liveVm(ctx.state, vm.id).memory = p.memory;
      return undefined;
    });
  },

  vm_disk_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!tariffOf(ctx, vm).onDemand) throw invalid('disk', TEXT.fixedTariff('disk'));
    if (p.disk <= vm.disk) throw invalid('disk', TEXT.diskOnlyGrows(vm.disk));
    // Past 64 × memory the disk needs more memory: raised with allowMemoryChange, refused without.
    const problem = diskRatioProblem(vm.memory, p.disk);
    const memory = problem ? memoryForDisk(p.disk) : vm.memory;
    if (problem && p.allowMemoryChange !== true) {
      throw invalid('disk', problem + TEXT.allowMemoryChange(memory));
    }
    return operate(ctx, vm, MS.resize, () => {
      const v = liveVm(ctx.state, vm.id);
      v.disk = p.disk;
      v.memory = memory;
      return undefined;
    });
  },

  vm_cpu_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!tariffOf(ctx, vm).onDemand) throw invalid('cpu', TEXT.fixedTariff('cpu'));
    // Documented as a hot increase of the CPU quota: a decrease is refused.
    if (p.cpu < vm.cpu) throw invalid('cpu', TEXT.cpuDecrease(vm.cpu));
    return operate(ctx, vm, MS.config, () => {
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
      throw invalid('tariffId', TEXT.tariffDisk(tariff.id, tariff.disk, vm.disk));
    }
    return operate(ctx, vm, MS.resize, () => {
      const v = liveVm(ctx.state, vm.id);
      if (tariff.onDemand) v.tariffId = tariff.id;
      else applyConfig(v, { tariffId: tariff.id, memory: tariff.memory, disk: tariff.disk, cpu: tariff.cpu });
      return undefined;
    });
  },

  vm_backup_policy_change: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, 0, (endedAt) => {
      const v = liveVm(ctx.state, vm.id);
      v.backupPolicy = { quantity: p.quantity, frequency: p.frequency };
      // The schedule starts again from the change (decided).
      ctx.state.scheduleBackups(v, endedAt);
      return undefined;
    });
  },
} satisfies ToolsetHandlers<'config'>;
