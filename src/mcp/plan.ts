/**
 * Dry runs (`dryRun: true` on every write tool): what a call would do, from the validated and
 * resolved arguments and the VM as it is now, without sending anything that changes state. The
 * provider request (secrets masked), each change as before → after, what is lost (the very text
 * the confirmation shows), whether the VM restarts, and how to undo it.
 *
 * Operator policy for destructive tools, also checked in dry runs: FLOPS_PROTECT names VMs (ids
 * and name patterns with * and ?) that no destructive tool may touch.
 */
import { SECRET_PARAMS } from '../api/fields.js';
import { PROFILES } from '../api/operations.js';
import type { Vm } from '../api/types.js';
import { buildPath, encodeQuery } from '../api/wire.js';
import { confirmationMessage } from './policy.js';
import type { ToolSpec } from './tools.js';

export interface Plan {
  tool: string;
  /** The one request that would be sent (every Flops method is a GET). */
  request: { method: 'GET'; path: string; params: Record<string, unknown> };
  changes: { field: string; before: unknown; after: unknown }[];
  /** Destructive tools: what is lost, as the confirmation would say it; else null. */
  destroys: string | null;
  /** Whether the VM restarts: 'always', a condition, or null. */
  restarts: string | null;
  /** The call that undoes it, or null when nothing can. */
  undo: string | null;
  /** Whether the user would be asked first (destructive tools). */
  confirmation: 'asked first' | 'not needed';
}

const MASK = '[masked]';

/** VM fields a parameter changes, with how to read the value before. */
const BEFORE: Record<string, (vm: Vm) => unknown> = {
  name: (vm) => vm.name,
  memory: (vm) => vm.memory,
  disk: (vm) => vm.disk,
  cpu: (vm) => vm.cpu,
  tariffId: (vm) => vm.tariffId,
  distributionId: (vm) => vm.distribution?.id ?? null,
  keyIds: (vm) => vm.publicKeys.filter((k) => k.installed).map((k) => k.id),
  quantity: (vm) => vm.backupPolicy?.quantity ?? null,
  frequency: (vm) => vm.backupPolicy?.frequency ?? null,
  snapshotId: (vm) => vm.currentSnapshot,
  ip: (vm) => vm.ipAddresses,
};

export function buildPlan(spec: ToolSpec, params: Record<string, unknown>, vm: Vm | undefined): Plan {
  const row = spec.row!;
  const query: Record<string, unknown> = {};
  for (const [key, value] of encodeQuery(row, params)) {
    const shown = SECRET_PARAMS.has(key) ? MASK : value;
    const had = query[key];
    query[key] = had === undefined ? shown : Array.isArray(had) ? [...had, shown] : [had, shown];
  }
  const changes: Plan['changes'] = [];
  for (const [field, value] of Object.entries(params)) {
    if (field === 'vmId' || field === 'tenantId') continue;
    if (SECRET_PARAMS.has(field)) {
      changes.push({ field, before: MASK, after: MASK });
      continue;
    }
    const before = vm && BEFORE[field] ? BEFORE[field](vm) : undefined;
    const after = field === 'ip' ? ipAfter(spec.name, value, before as string[] | undefined, params) : value;
    changes.push({ field, before: before ?? null, after });
  }
  const destructive = PROFILES[row.profile].destructive;
  return {
    tool: spec.name,
    request: { method: 'GET', path: buildPath(row, params), params: query },
    changes,
    destroys: destructive ? confirmationMessage(spec, params, vm) : null,
    restarts: row.restarts ?? null,
    undo: row.undo ?? null,
    confirmation: destructive ? 'asked first' : 'not needed',
  };
}

function ipAfter(tool: string, ip: unknown, before: string[] | undefined, params: Record<string, unknown>) {
  if (!before) return ip;
  if (tool === 'vm_ip_delete') return before.filter((a) => a !== ip);
  if (tool === 'vm_ip_move')
    return `${before.filter((a) => a !== ip).join(', ')} (${ip} moves to VM ${params['toVmId']})`;
  return ip;
}

/** The FLOPS_PROTECT rule that protects this VM from destructive tools, if any. */
export function protectedBy(
  rules: readonly string[],
  vm: { id: number; name: string | null },
): string | undefined {
  return rules.find((rule) => {
    if (/^\d+$/.test(rule)) return Number(rule) === vm.id;
    const pattern = new RegExp(
      `^${rule
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
      'i',
    );
    return vm.name !== null && pattern.test(vm.name);
  });
}
