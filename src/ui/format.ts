/** Pure helpers of the fleet view: units, labels, sorting. No DOM here (unit-tested in node). */

import { isFinal, type OpRow, type VmRow } from '../shared/fleet.js';

export { isFinal, type OpRow, type VmRow } from '../shared/fleet.js';

/** MB as the API counts them, in the largest unit that reads well: 512 MB, 1 GB, 1.5 GB, 2 TB. */
export function megabytes(mb: number | null | undefined): string {
  if (mb === null || mb === undefined || !Number.isFinite(mb)) return '—';
  const units = ['MB', 'GB', 'TB'];
  let value = mb;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = value >= 100 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(1);
  return `${text.replace(/\.0$/, '')} ${units[unit]}`;
}

export type Tone = 'success' | 'neutral' | 'warning' | 'danger' | 'info';

/** libvirt states as a person says them, with the label's colour. */
export function stateLabel(state: string | null | undefined): { text: string; tone: Tone } {
  switch (state) {
    case 'VIR_DOMAIN_RUNNING':
      return { text: 'Running', tone: 'success' };
    case 'VIR_DOMAIN_SHUTOFF':
      return { text: 'Stopped', tone: 'neutral' };
    case 'VIR_DOMAIN_PAUSED':
      return { text: 'Paused', tone: 'warning' };
    case 'VIR_DOMAIN_SHUTDOWN':
      return { text: 'Shutting down', tone: 'warning' };
    case 'VIR_DOMAIN_CRASHED':
      return { text: 'Crashed', tone: 'danger' };
    case null:
    case undefined:
    case '':
      return { text: 'Unknown', tone: 'warning' };
    default:
      return {
        text: capital(
          state
            .replace(/^VIR_DOMAIN_/, '')
            .replace(/_/g, ' ')
            .toLowerCase(),
        ),
        tone: 'warning',
      };
  }
}

/** VM_CREATE_SNAPSHOT → "Create snapshot". */
export function operationLabel(type: string | null | undefined): string {
  if (!type) return 'Operation';
  return capital(type.replace(/^VM_/, '').replace(/_/g, ' ').toLowerCase());
}

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function percent(op: OpRow): number {
  if (op.status === 'DONE') return 100;
  return Math.max(0, Math.min(100, Math.round(op.percentage ?? 0)));
}

export type SortKey =
  | 'name'
  | 'state'
  | 'cpu'
  | 'memory'
  | 'disk'
  | 'address'
  | 'tariff'
  | 'distribution'
  | 'operation';

export interface SortContext {
  tariffs: Record<string, string>;
  ops: (vmId: number) => OpRow | undefined;
}

function sortValue(vm: VmRow, key: SortKey, ctx: SortContext): string | number {
  switch (key) {
    case 'name':
      return (vm.name ?? '').toLowerCase() || `~${vm.id}`;
    case 'state':
      return stateLabel(vm.state).text;
    case 'cpu':
      return vm.cpu ?? -1;
    case 'memory':
      return vm.memory ?? -1;
    case 'disk':
      return vm.disk ?? -1;
    case 'address':
      return ipKey(vm.ipAddresses[0] ?? vm.privateIpAddress ?? '');
    case 'tariff':
      return vm.tariffId === null ? '' : (ctx.tariffs[vm.tariffId] ?? `#${vm.tariffId}`).toLowerCase();
    case 'distribution':
      return (vm.distribution?.description ?? vm.distribution?.name ?? '').toLowerCase();
    case 'operation': {
      const op = ctx.ops(vm.id);
      return op && !isFinal(op) ? percent(op) : -1;
    }
  }
}

/** Addresses sort by their numbers, not as text: 10.0.0.9 before 10.0.0.10. */
const ipKey = (ip: string) =>
  /^\d+\.\d+\.\d+\.\d+$/.test(ip)
    ? ip
        .split('.')
        .map((p) => p.padStart(3, '0'))
        .join('.')
    : ip;

export function sortVms(vms: readonly VmRow[], key: SortKey, dir: 1 | -1, ctx: SortContext): VmRow[] {
  return [...vms].sort((a, b) => {
    const x = sortValue(a, key, ctx);
    const y = sortValue(b, key, ctx);
    const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
    return c === 0 ? a.id - b.id : c * dir;
  });
}

export function matches(vm: VmRow, text: string): boolean {
  const q = text.trim().toLowerCase();
  if (!q) return true;
  return [vm.name ?? '', String(vm.id), ...vm.ipAddresses, vm.privateIpAddress ?? ''].some((f) =>
    f.toLowerCase().includes(q),
  );
}

/** A default snapshot name: dashboard-2026-11-27-1403 (local time). */
export function snapshotName(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `dashboard-${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}`;
}
