/** Toolset `network`: add, release and move public IPv4 addresses. */
import { invalid, MS, notOwner, objectNotFound, TEXT, vmNotFound } from '../rules.js';
import { fail, liveVm, notBusy, operate, type ToolsetHandlers, writableVm } from './shared.js';

const guestAddError = (ip: string) => fail('error.inet.ip.guest.add', TEXT.guestAdd(ip));
const guestRemoveError = (ip: string) => fail('error.inet.ip.guest.remove', TEXT.guestRemove(ip));

// Network changes reconfigure the guest; an unresponsive guest gives the documented errors, with
// the address change made all the same.
export const network = {
  vm_ip_add: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, MS.network, () => {
      const v = liveVm(ctx.state, vm.id);
      const ip = ctx.state.allocatePublicIp();
      if (!ip) return fail('unexpected.exception', TEXT.noFreeIp);
      v.ipAddresses.push(ip);
      if (!ctx.state.isGuestResponsive(v)) return guestAddError(ip);
      return undefined;
    });
  },

  vm_ip_delete: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    if (!vm.ipAddresses.includes(p.ip)) throw objectNotFound();
    return operate(ctx, vm, MS.network, () => {
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
    if (target.id === vm.id) throw invalid('toVmId', TEXT.sameVm);
    if (!vm.ipAddresses.includes(p.ip)) throw objectNotFound();
    notBusy(ctx, target.id);
    return operate(
      ctx,
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
} satisfies ToolsetHandlers<'network'>;
