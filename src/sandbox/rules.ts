/**
 * The sandbox's rules and every text it answers with, in one place. Handlers, the state and the
 * server take their messages and limits from here; none writes its own. docs/api.md says, for
 * each rule, whether the provider documents it, a client observed it live, or we decided it.
 */
import { diskRatioProblem, LIMITS } from '../api/fields.js';
import { SandboxError } from './model.js';

/** Operation durations before timeScale: everything a responsive guest does ends within 3 s. */
export const MS = {
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

/** The provider's limit for a guest to comply with a soft reboot or shutdown (× timeScale; docs/api.md, "Guests"). */
export const GUEST_TIMEOUT_MS = 180_000;
/** How long a new guest takes to boot after its install or clone is DONE (× timeScale; docs/api.md, decision 8). */
export const GUEST_BOOT_MS = 30_000;

/** As on two of the three example VMs of the provider's document (docs/api.md). */
export const DEFAULT_BACKUP_POLICY = { quantity: 1, frequency: 72 } as const;
/** Who `openSupportAccess` gives access to (shown in `accessUsers`). */
export const SUPPORT_USER = 'support@serveroid.com';

export const TEXT = {
  // The two messages the provider's document gives verbatim (docs/api.md, "Error codes").
  notOwner: 'Ошибка прав доступа. Обратитесь в службу поддержки.',
  objectNotFound: 'Объект не найден. Обратитесь в службу поддержки.',
  validation: 'Validation failed',
  required: (field: string) => `${field} is required`,
  vmNotFound: (id: number) => `VM ${id} not found`,
  busy: (vmId: number, opId: number, type: string) =>
    `Operation ${opId} (${type}) is already running on VM ${vmId}`,
  volumeBusy: (vmId: number, opId: number, type: string) =>
    `The disk of VM ${vmId} is busy with operation ${opId} (${type})`,
  quota: (quota: number) => `VM limit of the account reached (${quota})`,
  notForWindows: (tariffId: number) =>
    `tariff ${tariffId} is not for Windows: a Windows distribution needs a forWindows tariff`,
  windowsOnly: (tariffId: number) =>
    `tariff ${tariffId} is for Windows only: this distribution needs a tariff that is not forWindows`,
  fixedTariff: (resource: 'memory' | 'disk' | 'cpu') => `${resource} cannot be changed on a fixed tariff`,
  memoryDecrease: 'decreasing memory needs a restart: set allowRestart=true',
  diskOnlyGrows: (current: number) => `the disk only grows: give more than the current ${current} MB`,
  allowMemoryChange: (memory: number) => `; set allowMemoryChange=true to raise memory to ${memory} MB`,
  tariffDisk: (tariffId: number, tariffDisk: number, vmDisk: number) =>
    `tariff ${tariffId} has a ${tariffDisk} MB disk, less than the VM's ${vmDisk} MB`,
  sameVm: 'toVmId must be another VM',
  notRunning: (vmId: number) => `VM ${vmId} is not running`,
  guestTimeout: 'The guest OS did not comply within 3 minutes',
  guestAdd: (ip: string) =>
    `IP ${ip} was added but the guest OS could not be reconfigured: configure it by hand`,
  guestRemove: (ip: string) =>
    `IP ${ip} was removed but is still configured in the guest OS: remove it by hand`,
  noFreeIp: 'No free public IP address left',
  noFunds: 'Not enough money on the account balance for this operation',
  cloneUnsupported: (description: string) => `The distribution ${description} does not support cloning`,
  cpuDecrease: (current: number) =>
    `the CPU quota only grows while the VM runs: give more than the current ${current} cores`,
  snapshotMissing: (snapshotId: number, vmId: number) => `VM ${vmId} has no snapshot ${snapshotId}`,
  backupMissing: (backup: string, vmId: number) => `VM ${vmId} has no backup ${backup}`,
  vmGone: (vmId: number) => `VM ${vmId} disappeared while an operation was running`,
} as const;

/** Codes we chose where the document gives none (docs/api.md, "Decisions"). */
export const DECIDED_CODES = {
  guestTimeout: 'error.vm.guest.timeout',
  noFunds: 'error.balance.insufficient',
  cloneUnsupported: 'error.vm.clone.unsupported',
} as const;

export const notOwner = () => new SandboxError('error.not.owner', TEXT.notOwner);
export const objectNotFound = () => new SandboxError('error.object.not.found', TEXT.objectNotFound);
export const vmNotFound = (id: number) => new SandboxError('error.vm.not.found', TEXT.vmNotFound(id));
export const quotaReached = (quota: number) => new SandboxError('vm.limit.exceed', TEXT.quota(quota));
/** What costs money (install, clone, reinstall) needs funds on the account. */
export function checkFunds(account: { funds: boolean }): void {
  if (!account.funds) throw new SandboxError(DECIDED_CODES.noFunds, TEXT.noFunds);
}

/** Windows guests cannot be cloned (decided: a copy would need a new system identity). */
export function checkCloneable(distribution: { name: string; description: string }): void {
  if (isWindows(distribution))
    throw new SandboxError(DECIDED_CODES.cloneUnsupported, TEXT.cloneUnsupported(distribution.description));
}

/** A rule refusal, in the observed validation shape: errorCode null with fieldErrors. */
export const invalid = (field: string, message: string) =>
  new SandboxError(null, TEXT.validation, [{ field, message }]);

const isWindowsName = (name: string) => name.startsWith('WINDOWS');
export const isWindows = (d: { name: string }) => isWindowsName(d.name);

/**
 * Windows images need a `forWindows` tariff and the others a tariff that is not. The retired
 * tariff 20 predates that split (the document shows a Windows and two Linux VMs on it): exempt
 * (docs/api.md, decisions 10 and 11).
 */
export function checkWindows(
  d: { name: string },
  t: { id: number; forWindows: boolean; listed: boolean },
): void {
  if (!t.listed || isWindows(d) === t.forWindows) return;
  throw invalid('tariffId', isWindows(d) ? TEXT.notForWindows(t.id) : TEXT.windowsOnly(t.id));
}

/** disk ≤ 64 × memory (docs/api.md, decision 1), refused on `field`. */
export function checkRatio(memory: number, disk: number, field: 'disk' | 'memory'): void {
  const problem = diskRatioProblem(memory, disk);
  if (problem) throw invalid(field, problem);
}

/** The memory a disk needs under the 64 × rule (what allowMemoryChange raises memory to). */
export const memoryForDisk = (disk: number) => Math.ceil(disk / LIMITS.diskPerMemory);
