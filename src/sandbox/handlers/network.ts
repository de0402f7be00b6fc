/** Toolset `network`: add, release and move public IPv4 addresses. */
import { SandboxError } from '../model.js';
import { invalid, MS, notOwner, objectNotFound, TEXT, vmNotFound } from '../rules.js';
import { fail, liveVm, notBusy, operate, type ToolsetHandlers, writableVm } from './shared.js';

const guestAddError = (ip: string) => fail('error.inet.ip.guest.add', TEXT.guestAdd(ip));
const guestRemoveError = (ip: string) => fail('error.inet.ip.guest.remove', TEXT.guestRemove(ip));

// The address lists change when the request is accepted (observed: a live client reads the new
// address right after ip_add, without waiting); the operation then reconfigures the guest, which
// may be booting (it waits, at most 3 minutes) or hung (the guest errors of docs/api.md, methods
// 21-23; the address change kept).
export const network = {
  vm_ip_add: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const ip = ctx.state.allocatePublicIp();
    if (!ip) throw new SandboxError('unexpected.exception', TEXT.noFreeIp);
    vm.ipAddresses.push(ip);
    return operate(ctx, vm, ctx.state.guestDurationMs(vm, MS.network), (endedAt) => {
      const v = liveVm(ctx.state, vm.id);
      if (!ctx.state.isGuestResponsive(v, endedAt)) return guestAddError(ip);
      return undefined;
    });
  },

  vm_ip_delete: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!vm.ipAddresses.includes(p.ip)) throw objectNotFound();
    vm.ipAddresses = vm.ipAddresses.filter((ip) => ip !== p.ip);
    return operate(ctx, vm, ctx.state.guestDurationMs(vm, MS.network), (endedAt) => {
      const v = liveVm(ctx.state, vm.id);
      if (!ctx.state.isGuestResponsive(v, endedAt)) return guestRemoveError(p.ip);
      return undefined;
    });
  },

  vm_ip_move: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const target = ctx.state.vms.get(p.toVmId);
    if (!target) throw vmNotFound(p.toVmId);
    if (target.accountId !== ctx.account.id) throw notOwner();
    if (target.id === vm.id) throw invalid('toVmId', TEXT.sameVm);
    if (!vm.ipAddresses.includes(p.ip)) throw objectNotFound();
    notBusy(ctx, target.id);
    vm.ipAddresses = vm.ipAddresses.filter((ip) => ip !== p.ip);
    target.ipAddresses.push(p.ip);
    const base = MS.network + MS.quick;
    const duration = Math.max(ctx.state.guestDurationMs(vm, base), ctx.state.guestDurationMs(target, base));
    return operate(
      ctx,
      vm,
      duration,
      (endedAt) => {
        const from = liveVm(ctx.state, vm.id);
        const to = liveVm(ctx.state, target.id);
        if (!ctx.state.isGuestResponsive(to, endedAt)) return guestAddError(p.ip);
        if (!ctx.state.isGuestResponsive(from, endedAt)) return guestRemoveError(p.ip);
        return undefined;
      },
      [{ vmId: target.id, code: 'error.operation.already.started' }],
    );
  },
} satisfies ToolsetHandlers<'network'>;
