/**
 * What every handler module shares: the context a handler runs in (with the row of the operation
 * table it implements), the handler types derived from the table, and the lookups and checks that
 * several toolsets make. Texts and rules come from ../rules.ts.
 */
import type { z } from 'zod';
import type { AnyOperation, OperationByTool, OperationDef, ToolName, Toolset } from '../../api/operations.js';
import {
  type Account,
  type BackupRecord,
  type DistributionRecord,
  type OperationOutcome,
  type OperationRecord,
  type PublicKeyRecord,
  SandboxError,
  type SnapshotRecord,
  type TariffRecord,
  type TenantRecord,
  type VmConfig,
  type VmKeyRecord,
  type VmRecord,
} from '../model.js';
import { notOwner, objectNotFound, TEXT, vmNotFound } from '../rules.js';
import type { SandboxState } from '../state.js';

export interface Ctx {
  state: SandboxState;
  account: Account;
  now: number;
  /** The row of the operation table being served: its operationType, `instant`, … */
  row: OperationDef;
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

/** The tools of one toolset, from the table. */
export type ToolsOf<S extends Toolset> = Extract<AnyOperation, { toolset: S }>['tool'];
/** A module's handlers: exactly one per tool of its toolset (the compiler checks both ways). */
export type ToolsetHandlers<S extends Toolset> = { [T in ToolsOf<S>]: Handler<T> };

// ---------------------------------------------------------------------------------------------
// Lookups and checks

export function ownTenant(ctx: Ctx, tenantId: number): TenantRecord {
  const tenant = ctx.state.tenants.get(tenantId);
  if (!tenant) throw objectNotFound();
  if (tenant.accountId !== ctx.account.id) throw notOwner();
  return tenant;
}

/** A VM the account may read: its own, or one shared with its user (`accessUsers`). */
export function readableVm(ctx: Ctx, vmId: number): VmRecord {
  const vm = ctx.state.vms.get(vmId);
  if (!vm) throw vmNotFound(vmId);
  if (vm.accountId !== ctx.account.id && !vm.accessUsers.includes(ctx.account.email)) throw notOwner();
  return vm;
}

/** A VM as the account sees it: a VM shared with it names its owner in `ownerUser`. */
export function sharedView(ctx: Ctx, vm: VmRecord) {
  const view = ctx.state.vmView(vm);
  if (vm.accountId !== ctx.account.id) view.ownerUser = ctx.state.accounts.get(vm.accountId)?.email ?? null;
  return view;
}

export function notBusy(ctx: Ctx, vmId: number): void {
  const lock = ctx.state.lockOn(vmId);
  if (!lock) return;
  const { op, code } = lock;
  throw new SandboxError(
    code,
    code === 'error.operation.already.started'
      ? TEXT.busy(vmId, op.id, op.operationType)
      : TEXT.volumeBusy(vmId, op.id, op.operationType),
  );
}

/** A VM the account may change: its own, addressed with its own tenantId, and not busy. */
export function writableVm(ctx: Ctx, vmId: number, tenantId: number): VmRecord {
  const vm = ctx.state.vms.get(vmId);
  if (!vm) throw vmNotFound(vmId);
  if (vm.accountId !== ctx.account.id) throw notOwner();
  ownTenant(ctx, tenantId);
  if (vm.tenantId !== tenantId) throw notOwner();
  notBusy(ctx, vmId);
  return vm;
}

/** A VM that must still exist when an operation's effect is applied (it is locked meanwhile). */
export function liveVm(state: SandboxState, vmId: number): VmRecord {
  const vm = state.vms.get(vmId);
  if (!vm) throw new Error(TEXT.vmGone(vmId));
  return vm;
}

/** Only what distribution/ lists can be installed; retired images exist only on old VMs. */
export function installableDistribution(ctx: Ctx, id: number): DistributionRecord {
  const d = ctx.state.distributions.get(id);
  if (!d?.listed) throw objectNotFound();
  return d;
}

export function offeredTariff(ctx: Ctx, id: number): TariffRecord {
  const t = ctx.state.tariffs.get(id);
  if (!t?.listed) throw objectNotFound();
  return t;
}

export function tariffOf(ctx: Ctx, vm: VmRecord): TariffRecord {
  const t = ctx.state.tariffs.get(vm.tariffId);
  if (!t) throw new Error(`VM ${vm.id} is on unknown tariff ${vm.tariffId}`);
  return t;
}

export function ownKeys(ctx: Ctx, ids: readonly number[]): PublicKeyRecord[] {
  return [...new Set(ids)].map((id) => {
    const key = ctx.state.publicKeys.get(id);
    if (!key) throw objectNotFound();
    if (key.accountId !== ctx.account.id) throw notOwner();
    return key;
  });
}

export function checkSoftware(ctx: Ctx, ids: readonly number[]): void {
  for (const id of ids) if (!ctx.state.software.has(id)) throw objectNotFound();
}

/** Keys as a VM shows them: copies taken now; Windows guests have no authorized_keys to install into. */
export function vmKeys(keys: readonly PublicKeyRecord[], tenantId: number, windows: boolean): VmKeyRecord[] {
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

/** A snapshot of this VM (a VM clones only its own snapshots). */
export function snapshotOf(
  state: SandboxState,
  vm: VmRecord,
  snapshotId: number,
): SnapshotRecord | undefined {
  const s = state.snapshots.get(snapshotId);
  return s?.vmId === vm.id ? s : undefined;
}

export function backupOf(state: SandboxState, vm: VmRecord, backupId: string): BackupRecord | undefined {
  const b = state.backups.get(backupId);
  return b?.vmId === vm.id ? b : undefined;
}

export function applyConfig(vm: VmRecord, config: VmConfig): void {
  vm.tariffId = config.tariffId;
  vm.memory = config.memory;
  vm.disk = config.disk;
  vm.cpu = config.cpu;
}

export function dropSnapshots(state: SandboxState, vm: VmRecord): void {
  for (const s of state.snapshotsOf(vm.id)) state.snapshots.delete(s.id);
  vm.currentSnapshot = null;
}

/** Start the context's row's operation on a VM, which stays busy until it ends. */
export function operate(
  ctx: Ctx,
  vm: { id: number; tenantId: number },
  durationMs: number,
  effect?: (endedAt: number) => OperationOutcome | undefined,
  extraLocks: OperationRecord['locks'] = [],
): OperationRecord {
  const { row } = ctx;
  return ctx.state.startOperation({
    accountId: ctx.account.id,
    vmId: vm.id,
    tenantId: vm.tenantId,
    operationType: row.operationType ?? row.tool.toUpperCase(),
    durationMs: row.instant ? 0 : durationMs,
    locks: [{ vmId: vm.id, code: 'error.operation.already.started' }, ...extraLocks],
    ...(effect ? { effect } : {}),
  });
}

export const fail = (errorCode: string, errorMessage: string): OperationOutcome => ({
  status: 'ERROR',
  errorCode,
  errorMessage,
});
