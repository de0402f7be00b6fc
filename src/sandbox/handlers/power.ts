/** Toolset `power`: start, hard reset, soft reboot, hard power-off, soft shutdown. */

import type { VmRecord } from '../model.js';
import { DECIDED_CODES, MS, TEXT } from '../rules.js';
import { RUNNING, SHUTOFF } from '../state.js';
import { type Ctx, fail, liveVm, operate, type ToolsetHandlers, writableVm } from './shared.js';

const guestTimeout = () => fail(DECIDED_CODES.guestTimeout, TEXT.guestTimeout);

/**
 * A soft reboot or shutdown asks the guest: it takes as long as the guest needs to answer, and
 * fails after 3 minutes (× timeScale) if it does not. A stopped VM has no guest to wait for.
 */
const soft = (ctx: Ctx, vm: VmRecord) =>
  vm.state === RUNNING ? ctx.state.guestDurationMs(vm, MS.soft) : MS.soft;

// Starting a running VM, and powering off or shutting down a stopped one, end DONE and change nothing.
// Hard and soft reboots of a stopped VM end in ERROR: there is nothing to reboot.
export const power = {
  vm_start: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, MS.power, () => {
      liveVm(ctx.state, vm.id).state = RUNNING;
      return undefined;
    });
  },

  vm_reset: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, MS.power, () => {
      const v = liveVm(ctx.state, vm.id);
      if (v.state !== RUNNING) return fail('unexpected.exception', TEXT.notRunning(v.id));
      return undefined;
    });
  },

  vm_reboot: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, soft(ctx, vm), (endedAt) => {
      const v = liveVm(ctx.state, vm.id);
      if (v.state !== RUNNING) return fail('unexpected.exception', TEXT.notRunning(v.id));
      if (!ctx.state.isGuestResponsive(v, endedAt)) return guestTimeout();
      return undefined;
    });
  },

  vm_poweroff: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, MS.power, () => {
      liveVm(ctx.state, vm.id).state = SHUTOFF;
      return undefined;
    });
  },

  vm_shutdown: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, soft(ctx, vm), (endedAt) => {
      const v = liveVm(ctx.state, vm.id);
      if (v.state !== RUNNING) return undefined;
      if (!ctx.state.isGuestResponsive(v, endedAt)) return guestTimeout();
      v.state = SHUTOFF;
      return undefined;
    });
  },
} satisfies ToolsetHandlers<'power'>;
