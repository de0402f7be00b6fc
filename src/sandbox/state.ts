/**
 * The sandbox's in-memory world: accounts, catalogs, VMs, snapshots, backups, keys and operations,
 * plus the engine that runs asynchronous operations.
 *
 * Time is lazy. An operation records when it started and when it ends; nothing runs in the
 * background. Before each request (and before each inspection through the helpers below) `advance()`
 * applies, in order of their end, the effects of operations whose time is up. Reading an operation
 * computes its percentage from the clock. No timers: a closed sandbox leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import type {
  Backup,
  Distribution,
  Operation,
  PublicKey,
  Snapshot,
  Software,
  Tariff,
  Tenant,
  Vm,
} from '../api/types.js';
import { project } from '../api/types.js';
import {
  type Account,
  type BackupRecord,
  type DistributionRecord,
  type LockCode,
  type OperationOutcome,
  type OperationRecord,
  type PublicKeyRecord,
  SandboxError,
  type SnapshotRecord,
  type SoftwareRecord,
  type TariffRecord,
  type TenantRecord,
  type VmConfig,
  type VmRecord,
} from './model.js';
import { GUEST_BOOT_MS, GUEST_TIMEOUT_MS, TEXT } from './rules.js';
import {
  DEFAULT_ACCOUNT,
  FIRST_IDS,
  seedAccounts,
  seedBackups,
  seedDistributions,
  seedOperations,
  seedPublicKeys,
  seedSnapshots,
  seedSoftware,
  seedTariffs,
  seedTenants,
  seedVms,
} from './seed.js';

export const RUNNING = 'VIR_DOMAIN_RUNNING';
export const SHUTOFF = 'VIR_DOMAIN_SHUTOFF';

/** How long the seeded pending operation 61625 takes to finish, before timeScale. */
const HISTORICAL_MS = 1500;
const HOUR_MS = 3_600_000;

const isHung = (vm: VmRecord) => vm.name.toLowerCase().startsWith('hung');

/** Public addresses come from the documentation ranges (RFC 5737), never from real networks. */
const PUBLIC_POOLS = ['198.51.100.', '203.0.113.'] as const;

export interface SandboxStateOptions {
  clientId: string;
  apiKey: string;
  vmQuota: number;
  timeScale: number;
  now: () => number;
}

export interface StartOperation {
  accountId: string;
  vmId: number | null;
  tenantId: number | null;
  operationType: string;
  /** Unscaled duration; 0 or an `instant` row completes at once. */
  durationMs: number;
  locks?: { vmId: number; code: LockCode }[];
  effect?: (endedAt: number) => OperationOutcome | undefined;
}

export class SandboxState {
  readonly accounts = new Map<string, Account>();
  readonly tenants = new Map<number, TenantRecord>();
  readonly distributions = new Map<number, DistributionRecord>();
  readonly software = new Map<number, SoftwareRecord>();
  readonly tariffs = new Map<number, TariffRecord>();
  readonly publicKeys = new Map<number, PublicKeyRecord>();
  readonly vms = new Map<number, VmRecord>();
  readonly snapshots = new Map<number, SnapshotRecord>();
  readonly backups = new Map<string, BackupRecord>();
  readonly operations = new Map<number, OperationRecord>();
  /** Ids of operations whose effect has not been applied yet. */
  private readonly pending = new Set<number>();
  private next = { vm: 0, operation: 0, snapshot: 0, publicKey: 0, privateIp: 0 };
  timeScale: number;
  private readonly options: SandboxStateOptions;

  constructor(options: SandboxStateOptions) {
    this.options = options;
    this.timeScale = options.timeScale;
    this.reset();
  }

  /** Back to the seed (credentials and quota as configured). */
  reset(): void {
    for (const map of [
      this.accounts,
      this.tenants,
      this.distributions,
      this.software,
      this.tariffs,
      this.publicKeys,
      this.vms,
      this.snapshots,
      this.backups,
      this.operations,
    ]) {
      map.clear();
    }
    this.pending.clear();
    const { clientId, apiKey, vmQuota } = this.options;
    for (const a of seedAccounts(clientId, apiKey, vmQuota)) this.accounts.set(a.id, a);
    for (const t of seedTenants()) this.tenants.set(t.id, t);
    for (const d of seedDistributions()) this.distributions.set(d.id, d);
    for (const s of seedSoftware()) this.software.set(s.id, s);
    for (const t of seedTariffs()) this.tariffs.set(t.id, t);
    for (const k of seedPublicKeys()) this.publicKeys.set(k.id, k);
    for (const v of seedVms()) {
      this.vms.set(v.id, v);
      this.scheduleBackups(v, this.clock());
    }
    for (const s of seedSnapshots()) this.snapshots.set(s.id, s);
    for (const b of seedBackups()) this.backups.set(b.id, b);
    for (const o of seedOperations(this.clock(), this.scaled(HISTORICAL_MS))) {
      this.operations.set(o.id, o);
      if (!o.outcome) this.pending.add(o.id);
    }
    this.next = {
      vm: FIRST_IDS.vm,
      operation: Math.max(...this.operations.keys()) + 1,
      snapshot: FIRST_IDS.snapshot,
      publicKey: FIRST_IDS.publicKey,
      privateIp: 10,
    };
  }

  // ------------------------------------------------------------------------------------------
  // Clock and operations

  clock(): number {
    return this.options.now();
  }

  scaled(ms: number): number {
    return Math.round(ms * this.timeScale);
  }

  /**
   * Apply the effects of every operation whose time is up, in the order they end; then take the
   * scheduled backups that are due.
   */
  advance(now: number = this.clock()): void {
    if (this.pending.size > 0) {
      const due = [...this.pending]
        .map((id) => this.operations.get(id)!)
        .filter((op) => op.endsAt <= now)
        .sort((a, b) => a.endsAt - b.endsAt || a.id - b.id);
      for (const op of due) this.complete(op);
    }
    if (now !== Number.POSITIVE_INFINITY)
      for (const vm of this.vms.values()) this.takeScheduledBackups(vm, now);
  }

  /** Finish every running operation now (tests and benchmarks that do not want to wait). */
  finishAll(): void {
    const now = this.clock();
    for (const id of this.pending) {
      const op = this.operations.get(id)!;
      if (op.endsAt > now) op.endsAt = Math.max(now, op.startedAt);
    }
    this.advance(Number.POSITIVE_INFINITY);
  }

  private complete(op: OperationRecord): void {
    this.pending.delete(op.id);
    let outcome: OperationOutcome | undefined;
    try {
      outcome = op.effect?.(op.endsAt);
    } catch (err) {
      outcome = {
        status: 'ERROR',
        errorCode: 'unexpected.exception',
        errorMessage: err instanceof Error ? err.message : String(err),
      };
    }
    op.outcome = outcome ?? { status: 'DONE' };
    delete op.effect;
  }

  startOperation(spec: StartOperation): OperationRecord {
    const now = this.clock();
    const duration = this.scaled(spec.durationMs);
    const op: OperationRecord = {
      id: this.next.operation++,
      accountId: spec.accountId,
      vmId: spec.vmId,
      tenantId: spec.tenantId,
      operationType: spec.operationType,
      startedAt: now,
      endsAt: now + duration,
      startPercentage: 0,
      locks: spec.locks ?? [],
    };
    if (spec.effect) op.effect = spec.effect;
    this.operations.set(op.id, op);
    if (duration <= 0) this.complete(op);
    else this.pending.add(op.id);
    return op;
  }

  /** The running operation that keeps a VM busy, if any. */
  lockOn(vmId: number): { op: OperationRecord; code: LockCode } | undefined {
    for (const id of this.pending) {
      const op = this.operations.get(id)!;
      const lock = op.locks.find((l) => l.vmId === vmId);
      if (lock) return { op, code: lock.code };
    }
    return undefined;
  }

  // ------------------------------------------------------------------------------------------
  // Accounts, ids, addresses

  authenticate(clientId: string | null, apiKey: string | null): Account | undefined {
    if (!clientId || !apiKey) return undefined;
    for (const account of this.accounts.values()) {
      if (account.apiKey !== null && account.clientId === clientId && account.apiKey === apiKey)
        return account;
    }
    return undefined;
  }

  nextId(kind: 'vm' | 'snapshot' | 'publicKey'): number {
    return this.next[kind]++;
  }

  /** A free address of the documentation ranges; undefined when both are exhausted. */
  allocatePublicIp(taken: ReadonlySet<string> = new Set()): string | undefined {
    const used = new Set<string>(taken);
    for (const vm of this.vms.values()) for (const ip of vm.ipAddresses) used.add(ip);
    for (const prefix of PUBLIC_POOLS) {
      for (let host = 1; host <= 254; host++) {
        const ip = prefix + host;
        if (!used.has(ip)) return ip;
      }
    }
    return undefined;
  }

  allocatePublicIps(count: number): string[] {
    const out = new Set<string>();
    for (let i = 0; i < count; i++) {
      const ip = this.allocatePublicIp(out);
      if (!ip) throw new SandboxError('unexpected.exception', TEXT.noFreeIp);
      out.add(ip);
    }
    return [...out];
  }

  /** Private addresses 10.9.x.y, never reused. */
  allocatePrivateIp(): string {
    for (;;) {
      const n = this.next.privateIp++;
      const low = n & 255;
      if (low === 0 || low === 255) continue;
      return `10.9.${(n >> 8) & 255}.${low}`;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Guests, backups

  /**
   * Whether the VM's guest OS answers soft reboot/shutdown and network reconfiguration at `at`: not
   * while a new guest boots, never for a hung one (a name starting with "hung", or set so).
   */
  isGuestResponsive(vm: VmRecord, at: number = this.clock()): boolean {
    if (vm.guestResponsive !== undefined) return vm.guestResponsive;
    if (isHung(vm)) return false;
    return (vm.guestReadyAt ?? 0) <= at;
  }

  /**
   * How long (unscaled ms) an operation that needs the guest takes, given what it takes with a
   * guest that answers: a booting guest delays it until it answers, and one that has not answered
   * after 3 minutes fails it then (docs/api.md, "Guests").
   */
  guestDurationMs(vm: VmRecord, baseMs: number): number {
    const now = this.clock();
    if (this.isGuestResponsive(vm, now)) return baseMs;
    const hung = vm.guestResponsive === false || (vm.guestResponsive === undefined && isHung(vm));
    if (hung || this.timeScale === 0) return GUEST_TIMEOUT_MS;
    const bootLeft = ((vm.guestReadyAt ?? now) - now) / this.timeScale;
    return Math.min(GUEST_TIMEOUT_MS, bootLeft + baseMs);
  }

  /** A VM whose installation just finished: running, its guest booting, its backups scheduled. */
  installed(vm: VmRecord, at: number): void {
    vm.state = RUNNING;
    vm.guestReadyAt = at + this.scaled(GUEST_BOOT_MS);
    this.scheduleBackups(vm, at);
  }

  /** The next scheduled backup `frequency` hours (× timeScale) from `from`; none at timeScale 0. */
  scheduleBackups(vm: VmRecord, from: number): void {
    const period = this.scaled(vm.backupPolicy.frequency * HOUR_MS);
    if (period > 0) vm.backupDueAt = from + period;
    else delete vm.backupDueAt;
  }

  /** Backups due by `now`, at their own times; only the newest `quantity` are kept. */
  private takeScheduledBackups(vm: VmRecord, now: number): void {
    const due = vm.backupDueAt;
    if (due === undefined || due > now) return;
    const period = this.scaled(vm.backupPolicy.frequency * HOUR_MS);
    if (period <= 0) {
      delete vm.backupDueAt;
      return;
    }
    const { quantity } = vm.backupPolicy;
    const slots = Math.floor((now - due) / period) + 1;
    // Older slots would be deleted at once: take only the last `quantity`.
    for (let i = Math.max(0, slots - quantity); i < slots; i++) this.addBackup(vm.id, due + i * period);
    vm.backupDueAt = due + slots * period;
    const kept = this.backupsOf(vm.id);
    for (const old of kept.slice(0, Math.max(0, kept.length - quantity))) this.backups.delete(old.id);
  }

  /** Give the default account (or another) money, or take it all (docs/api.md, "Funds"). */
  setFunds(available: boolean, accountId: string = DEFAULT_ACCOUNT): void {
    const account = this.accounts.get(accountId);
    if (!account) throw new Error(`No account ${accountId}`);
    account.funds = available;
  }

  /** Make a VM's guest hang (false) or answer (true); undefined goes back to the name rule. */
  setGuestResponsive(vmId: number, responsive: boolean | undefined): void {
    const vm = this.vms.get(vmId);
    if (!vm) throw new Error(`No VM ${vmId}`);
    if (responsive === undefined) delete vm.guestResponsive;
    else vm.guestResponsive = responsive;
  }

  /** Take a backup of a VM's current state (what the provider's scheduler does); returns its id. */
  addBackup(vmId: number, time: number = this.clock()): BackupRecord {
    const vm = this.vms.get(vmId);
    if (!vm) throw new Error(`No VM ${vmId}`);
    const previous = this.backupsOf(vmId).at(-1);
    let t = Math.max(time, (previous?.timeAdded ?? 0) + 1000);
    let id: string;
    for (;;) {
      const stamp = `backupsnap${backupStamp(t)}`;
      const prevStamp = previous?.id.match(/backupsnap\d{14}(?=\.lz4$)/)?.[0];
      id = prevStamp ? `diff-${prevStamp}-${stamp}.lz4` : `full-${stamp}.lz4`;
      if (!this.backups.has(id)) break;
      t += 1000;
    }
    const backup: BackupRecord = {
      id,
      vmId,
      // A diff is small, a full backup about a tenth of the disk (the unit is not documented: KB here; docs/api.md, "Objects").
      size: previous ? 32768 : Math.round((vm.disk * 1024) / 10),
      timeAdded: time,
      config: configOf(vm),
    };
    this.backups.set(id, backup);
    return backup;
  }

  backupsOf(vmId: number): BackupRecord[] {
    return [...this.backups.values()]
      .filter((b) => b.vmId === vmId)
      .sort((a, b) => a.timeAdded - b.timeAdded);
  }

  snapshotsOf(vmId: number): SnapshotRecord[] {
    return [...this.snapshots.values()].filter((s) => s.vmId === vmId).sort((a, b) => a.id - b.id);
  }

  /** Remove a VM with everything that hangs off it; its addresses return to the pool. */
  removeVm(vmId: number): void {
    this.vms.delete(vmId);
    for (const s of this.snapshotsOf(vmId)) this.snapshots.delete(s.id);
    for (const b of this.backupsOf(vmId)) this.backups.delete(b.id);
  }

  // ------------------------------------------------------------------------------------------
  // Views: the wire objects, in the key order of the provider's document (docs/api.md, "Responses").

  tenantView(t: TenantRecord): Tenant {
    return project('tenant', t);
  }

  distributionView(d: { id: number; name: string; description: string; bitness: number }): Distribution {
    return project('distribution', d);
  }

  softwareView(s: SoftwareRecord): Software {
    return project('software', s);
  }

  tariffView(t: TariffRecord): Tariff {
    return project('tariff', t);
  }

  /**
   * A key as pubkeys/ shows it; `tenantId` is left out when the key has none (key 254). The
   * document's pubkeys/add and pubkeys/{id}/edit examples show no tenantId at all: `withTenant`
   * false reproduces them.
   */
  publicKeyView(k: PublicKeyRecord, withTenant = true): PublicKey {
    const view: Record<string, unknown> = { id: k.id };
    if (withTenant && k.tenantId !== undefined) view['tenantId'] = k.tenantId;
    Object.assign(view, { name: k.name, type: k.type, publicKey: k.publicKey, timeAdded: k.timeAdded });
    return view as PublicKey;
  }

  vmView(vm: VmRecord): Vm {
    return project('vm', vm);
  }

  snapshotView(s: SnapshotRecord): Snapshot {
    return project('snapshot', s);
  }

  backupView(b: BackupRecord): Backup {
    return project('backup', b);
  }

  operationView(op: OperationRecord, now: number = this.clock()): Operation {
    let status: string;
    let percentage: number;
    if (op.outcome) {
      status = op.outcome.status;
      percentage = 100;
    } else {
      const span = op.endsAt - op.startedAt;
      const fraction = span <= 0 ? 1 : Math.min(1, Math.max(0, (now - op.startedAt) / span));
      status = 'PENDING';
      percentage = Math.min(99, Math.floor(op.startPercentage + (100 - op.startPercentage) * fraction));
    }
    const view: Operation = {
      id: op.id,
      vmId: op.vmId,
      tenantId: op.tenantId,
      status,
      operationType: op.operationType,
      percentage,
      errorMessage: op.outcome?.errorMessage ?? null,
      errorCode: op.outcome?.errorCode ?? null,
    };
    // Present only where the method yields a value (backup_download; docs/api.md, "Asynchronous operations").
    if (op.outcome?.operationResult !== undefined) view.operationResult = op.outcome.operationResult;
    return view;
  }

  // ------------------------------------------------------------------------------------------
  // Inspection helpers for tests (they advance the clock first, like a request would).

  vm(id: number): Vm | undefined {
    this.advance();
    const vm = this.vms.get(id);
    return vm && this.vmView(vm);
  }

  operation(id: number): Operation | undefined {
    this.advance();
    const op = this.operations.get(id);
    return op && this.operationView(op);
  }

  /** VMs of the default account (or another), as vm/ lists them. */
  vmsOf(accountId: string = DEFAULT_ACCOUNT): Vm[] {
    this.advance();
    return [...this.vms.values()]
      .filter((v) => v.accountId === accountId)
      .sort((a, b) => b.id - a.id)
      .map((v) => this.vmView(v));
  }
}

/**
 * A record as the live API answers it: null fields left out (nested objects and lists of objects
 * too), `timeAdded` as an ISO string with a numeric zone (`2018-06-08T19:52:44.665+0000`); empty
 * strings and empty lists stay.
 */
export function liveShape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(liveShape);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === null || v === undefined) continue;
    out[key] = key === 'timeAdded' && typeof v === 'number' ? isoTime(v) : liveShape(v);
  }
  return out;
}

/** Epoch ms as Java's `yyyy-MM-dd'T'HH:mm:ss.SSSZ` in UTC. */
export const isoTime = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');

export function configOf(vm: VmRecord): VmConfig {
  return { tariffId: vm.tariffId, memory: vm.memory, disk: vm.disk, cpu: vm.cpu };
}

/** yyyyMMddHHmmss in UTC, as in the document's backup ids (docs/api.md, "Scheduled backups"). */
function backupStamp(time: number): string {
  return new Date(time).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** A stable, opaque hex token (the `p` of a download link). */
export function hexToken(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);
}
