/**
 * Records the sandbox keeps in memory, and the error a handler throws to answer with the API's
 * error envelope. Records carry the wire fields of the API objects (docs/api.md, "Objects"; serialised in the document's
 * key order by `state.ts`) plus what the API does not show: the owning account, the resources a
 * snapshot or backup was taken with, the locks an operation holds.
 */

export interface Account {
  /** Internal name of the account ('sandbox' for the default one). */
  readonly id: string;
  clientId: string;
  /** null: nobody can sign in as this account. */
  apiKey: string | null;
  /** The e-mail shown as `ownerUser` on what this account shares with others. */
  readonly email: string;
  vmQuota: number;
  /** false: the balance is empty, and what costs money (install, clone, reinstall) is refused. */
  funds: boolean;
}

export interface TenantRecord {
  id: number;
  accountId: string;
  description: string;
}

export interface DistributionRecord {
  id: number;
  name: string;
  description: string;
  bitness: number;
  /** false: retired — absent from `distribution/`, refused by install, still shown on old VMs. */
  listed: boolean;
}

export interface SoftwareRecord {
  id: number;
  name: string;
}

export interface TariffRecord {
  id: number;
  name: string;
  memory: number;
  disk: number;
  cpu: number;
  ipCount: number;
  onDemand: boolean;
  forWindows: boolean;
  /** false: retired — absent from `tariffs/`, refused by install and tariff_change. */
  listed: boolean;
}

export interface PublicKeyRecord {
  id: number;
  accountId: string;
  /** Absent on key 254 of the document's example. */
  tenantId?: number;
  name: string;
  type: string;
  publicKey: string;
  timeAdded: number;
}

/** A key as a VM shows it: a copy taken when it was installed (the document's VMs show other names). */
export interface VmKeyRecord {
  id: number;
  tenantId: number | null;
  name: string;
  type: string;
  publicKey: string | null;
  timeAdded: number | null;
  installed: boolean;
  ownerUser: string | null;
}

/** What a tariff change, a snapshot rollback or a backup rollback restores. */
export interface VmConfig {
  tariffId: number;
  memory: number;
  disk: number;
  cpu: number;
}

export interface VmRecord {
  id: number;
  accountId: string;
  tenantId: number;
  name: string;
  internalId: string;
  memory: number;
  disk: number;
  cpu: number;
  bandwidth: number;
  tariffId: number;
  ipAddresses: string[];
  privateIpAddress: string;
  state: string;
  timeAdded: number;
  currentSnapshot: number | null;
  backupPolicy: { quantity: number; frequency: number };
  distribution: { id: number; name: string; description: string; bitness: number };
  ownerUser: string | null;
  accessUsers: string[];
  publicKeys: VmKeyRecord[];
  /** Programmatic override of guest responsiveness; undefined: a name starting with "hung" hangs. */
  guestResponsive?: boolean;
  /** A new guest boots after its operation is DONE: it answers from this time on (epoch ms). */
  guestReadyAt?: number;
  /** When the provider's scheduler takes the next backup (epoch ms); none while installing. */
  backupDueAt?: number;
}

export interface SnapshotRecord {
  id: number;
  vmId: number;
  name: string;
  description: string | null;
  parentSnapshotId: number | null;
  timeAdded: number;
  config: VmConfig;
}

export interface BackupRecord {
  id: string;
  vmId: number;
  size: number;
  timeAdded: number;
  config: VmConfig;
}

export type LockCode = 'error.operation.already.started' | 'error.vm.volume.under.operation';

export interface OperationOutcome {
  status: 'DONE' | 'ERROR';
  errorCode?: string;
  errorMessage?: string;
  operationResult?: string;
}

export interface OperationRecord {
  id: number;
  accountId: string;
  vmId: number | null;
  tenantId: number | null;
  operationType: string;
  startedAt: number;
  endsAt: number;
  /** Percentage at `startedAt` (51 for the document's seeded pending operation). */
  startPercentage: number;
  /** VMs this operation keeps busy while it runs, and the error a write on them gets. */
  locks: { vmId: number; code: LockCode }[];
  /** Applied once, when the operation's time is up (given that time); returns how it ended (default DONE). */
  effect?: (endedAt: number) => OperationOutcome | undefined;
  /** Set once applied. */
  outcome?: OperationOutcome;
}

export interface FieldError {
  field: string;
  message: string;
}

/** Thrown by handlers; the server turns it into `{"status":"ERROR",...}` with HTTP 200. */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  constructor(
    readonly errorCode: string | null,
    message: string,
    readonly fieldErrors?: FieldError[],
  ) {
    super(message);
  }
}
