/**
 * The operation table: one row per method of the Flops API, in the order of the reference.
 *
 * Everything else is derived from it — the typed client (`client.ts`), the MCP tools, the
 * sandbox's routes and the README's tool table. A row says:
 *   - `tool`     the MCP tool name (fixed: clients depend on it) and the client's method name;
 *   - `path`     the path template below the base URL; `{name}` segments come from `params`;
 *   - `params`   every parameter as a described zod field; required unless `.optional()`;
 *   - `profile`  what the call does to the world, which fixes the MCP annotations and from which
 *                "reads or writes" and "destroys data" are derived (never listed twice);
 *   - `returns`  the envelope: a list or object of an entity, an operation, a created VM + operation,
 *                or nothing;
 *   - `toolset`  the group the tool is enabled or disabled with;
 *   - `operationType` the provider's type of the operation the method starts (sandbox, docs);
 *   - `check`    rules that span several parameters (disk ≤ 64 × memory, …).
 * Writes are never retried by the client: the profile, not the HTTP method (always GET), decides.
 */
import { z } from 'zod';
import { diskRatioProblem, fields } from './fields.js';
import type {
  Backup,
  Distribution,
  EntityName,
  Operation,
  OperationRef,
  PublicKey,
  Snapshot,
  Software,
  Tariff,
  Tenant,
  Vm,
} from './types.js';

export type Toolset =
  | 'catalog'
  | 'vms'
  | 'power'
  | 'config'
  | 'network'
  | 'snapshots'
  | 'backups'
  | 'keys'
  | 'operations';

export const TOOLSETS: readonly Toolset[] = [
  'catalog',
  'vms',
  'power',
  'config',
  'network',
  'snapshots',
  'backups',
  'keys',
  'operations',
];

/**
 * Profiles fix the four MCP hints. `destructive` means the call destroys or overwrites data that
 * cannot be got back; `idempotent` means repeating it with the same arguments changes nothing more.
 * Every Flops method talks to the provider, so `openWorld` is always true.
 */
export const PROFILES = {
  read: { readOnly: true, destructive: false, idempotent: true },
  create: { readOnly: false, destructive: false, idempotent: false },
  update: { readOnly: false, destructive: false, idempotent: true },
  action: { readOnly: false, destructive: false, idempotent: false },
  replace: { readOnly: false, destructive: true, idempotent: true },
  revert: { readOnly: false, destructive: true, idempotent: false },
  delete: { readOnly: false, destructive: true, idempotent: true },
} as const;
export type Profile = keyof typeof PROFILES;

export type Returns =
  | { list: EntityName }
  | { object: EntityName }
  | 'operation' // {"operationId": n}
  | 'created' // {"result": newVmId, "operationId": n}
  | 'none'; // {"status": "OK"}

export interface FieldIssue {
  path: string;
  message: string;
}

export interface OperationDef<
  S extends z.ZodRawShape = z.ZodRawShape,
  N extends string = string,
  R extends Returns = Returns,
  T extends Toolset = Toolset,
> {
  readonly tool: N;
  readonly path: string;
  readonly params: S;
  readonly profile: Profile;
  readonly toolset: T;
  readonly title: string;
  readonly description: string;
  readonly returns: R;
  readonly operationType?: string;
  /** The operation is already DONE when first read (observed for backup_policy_change). */
  readonly instant?: boolean;
  /**
   * Asynchronous rows: what a finished operation produced, read back for the agent (`wait: true`,
   * wait_for_operation, tasks): the VM (default), the VM and its new snapshot, the download link
   * (the operation's result), or nothing (the VM is gone).
   */
  readonly produces?: 'vm' | 'snapshot' | 'link' | 'nothing';
  /** Asynchronous rows: what to do when the operation ends in ERROR, if more than "check the VM". */
  readonly failureHint?: string;
  /** Writes: the call that undoes this one, or null when nothing can (shown in dry runs). */
  readonly undo?: string | null;
  /** Writes that restart the VM: always, or on a condition. */
  readonly restarts?: string;
  /** Power actions: the VM state in which the call would change nothing (nothing is sent then). */
  readonly noOpIn?: string;
  /**
   * Risky changes a restore point can undo: `take` a snapshot first when asked (FLOPS_SAFETY_SNAPSHOT
   * or `safetySnapshot: true`); `lost` where the call deletes the VM's snapshots anyway.
   */
  readonly safetySnapshot?: 'take' | 'lost';
  readonly check?: (params: Partial<z.output<z.ZodObject<S>>>) => FieldIssue[];
  /**
   * Destructive rows: what is lost, in concrete terms, for the confirmation asked of the user.
   * `{name}` placeholders are filled from the call's parameters.
   */
  readonly destroys?: string;
}

const { vmId, tenantId } = fields;
/** Optional, keeping the description (zod 4 keeps it on the inner schema only). */
const opt = <T extends z.ZodType>(schema: T) => schema.optional().describe(schema.description ?? '');

/** disk ≤ 64 × memory, when both are given (docs/api.md, decision 1). */
function diskMemoryRatio(p: { memory?: number | undefined; disk?: number | undefined }): FieldIssue[] {
  if (p.memory === undefined || p.disk === undefined) return [];
  const problem = diskRatioProblem(p.memory, p.disk);
  return problem ? [{ path: 'disk', message: problem }] : [];
}

/** A row, keeping its literal name, returns and toolset in its type (handlers are typed by toolset). */
const def = <
  const N extends string,
  S extends z.ZodRawShape,
  const R extends Returns,
  const T extends Toolset,
>(
  row: OperationDef<S, N, R, T>,
): OperationDef<S, N, R, T> => row;

/** Marks the tools that start an operation (the result has its operationId; `wait` waits). */
const ASYNC = 'Async.';

export const OPERATIONS = [
  def({
    tool: 'tenant_list',
    path: 'tenant',
    params: {},
    profile: 'read',
    toolset: 'catalog',
    title: 'List projects (tenants)',
    description: "List the account's projects (tenants) with their ids.",
    returns: { list: 'tenant' },
  }),
  def({
    tool: 'vm_list',
    path: 'vm/',
    params: {},
    profile: 'read',
    toolset: 'vms',
    title: 'List virtual servers',
    description: 'List all VMs, own and shared: id, name, state, resources, IPs, tariff, distribution.',
    returns: { list: 'vm' },
  }),
  def({
    tool: 'vm_install',
    path: 'vm/install/',
    params: {
      name: opt(fields.vmName),
      tenantId,
      distributionId: fields.distributionId,
      tariffId: fields.tariffId,
      memory: opt(fields.memory.describe('RAM, MB (onDemand tariff only)')),
      disk: opt(fields.disk.describe('Disk, MB, ≤ 64 × memory (onDemand tariff only)')),
      cpu: opt(fields.cpu.describe('CPU cores (onDemand tariff only)')),
      ipCount: opt(fields.ipCount.describe('Public IPv4 addresses (onDemand tariff only)')),
      password: opt(fields.password),
      sendPassword: opt(fields.sendPassword),
      openSupportAccess: opt(fields.openSupportAccess),
      publicKeyIds: opt(fields.publicKeyIds),
      softwareIds: opt(fields.softwareIds),
    },
    profile: 'create',
    toolset: 'vms',
    title: 'Install a new VM',
    description: `Create a VM (billed) from a distribution and a tariff; an onDemand tariff takes memory, disk, cpu, ipCount. Returns the new vmId. ${ASYNC}`,
    returns: 'created',
    operationType: 'VM_INSTALL',
    check: (p) => [
      ...diskMemoryRatio(p),
      ...(p.sendPassword === false && p.password === undefined
        ? [{ path: 'password', message: 'password is required when sendPassword is false' }]
        : []),
    ],
    undo: 'vm_delete the new VM (vmId in the result)',
  }),
  def({
    tool: 'vm_clone',
    path: 'vm/{vmId}/clone/',
    params: {
      vmId: fields.vmId.describe('VM to clone (vm_list)'),
      name: opt(fields.vmName.describe('Name of the new VM')),
      tenantId,
      snapshotId: opt(fields.snapshotId.describe('Clone this snapshot (vm_snapshot_list); default: now')),
    },
    profile: 'create',
    toolset: 'vms',
    title: 'Clone a VM',
    description: `Create a VM (billed) as a copy of a VM or of its snapshot, with new IPs. Returns the new vmId. ${ASYNC}`,
    returns: 'created',
    operationType: 'VM_CLONE',
    undo: 'vm_delete the new VM (vmId in the result)',
  }),
  def({
    tool: 'vm_reinstall',
    path: 'vm/{vmId}/reinstall/',
    params: {
      vmId,
      name: opt(fields.vmName),
      tenantId,
      distributionId: opt(fields.distributionId),
      tariffId: opt(fields.tariffId),
      memory: opt(fields.memory),
      disk: opt(fields.disk),
      cpu: opt(fields.cpu),
      password: opt(fields.password),
      sendPassword: opt(fields.sendPassword),
      openSupportAccess: opt(fields.openSupportAccess),
      publicKeyIds: opt(fields.publicKeyIds),
      softwareIds: opt(fields.softwareIds),
    },
    profile: 'revert',
    toolset: 'vms',
    title: 'Reinstall a VM',
    description: `ERASES the VM's disk and installs it anew, optionally with another distribution, tariff or resources; keeps id and IPs. ${ASYNC}`,
    returns: 'operation',
    destroys:
      "all data on the VM's disk is ERASED and the system is installed anew (the id and IPs are kept)",
    operationType: 'VM_REINSTALL',
    check: diskMemoryRatio,
    undo: null,
    restarts: 'always',
    safetySnapshot: 'take',
  }),
  def({
    tool: 'vm_get',
    path: 'vm/{vmId}/',
    params: { vmId },
    profile: 'read',
    toolset: 'vms',
    title: 'Get a VM',
    description: 'Get a VM: state, resources, IPs, tariff, distribution, backup policy, SSH keys.',
    returns: { object: 'vm' },
  }),
  def({
    tool: 'vm_rename',
    path: 'vm/{vmId}/rename/',
    params: { vmId, tenantId, name: opt(fields.vmName.describe('New VM name')) },
    profile: 'update',
    toolset: 'vms',
    title: 'Rename a VM',
    description: `Change the name of a VM. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_UPDATE',
    undo: 'vm_rename back to the name before',
  }),
  def({
    tool: 'vm_start',
    path: 'vm/{vmId}/start/',
    params: { vmId, tenantId },
    profile: 'update',
    toolset: 'power',
    title: 'Start a VM',
    description: `Start (power on) a stopped VM. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_START',
    undo: 'vm_shutdown',
    noOpIn: 'VIR_DOMAIN_RUNNING',
  }),
  def({
    tool: 'vm_reset',
    path: 'vm/{vmId}/reset/',
    params: { vmId, tenantId },
    profile: 'revert',
    toolset: 'power',
    title: 'Hard-reset a VM',
    description: `Hard reset: unsaved data in the guest is lost. Prefer vm_reboot. ${ASYNC}`,
    returns: 'operation',
    destroys: 'the VM is hard-reset: whatever the guest had not written to disk is lost',
    operationType: 'VM_RESET',
    undo: null,
    restarts: 'always',
  }),
  def({
    tool: 'vm_reboot',
    path: 'vm/{vmId}/reboot/',
    params: { vmId, tenantId },
    profile: 'action',
    toolset: 'power',
    title: 'Reboot a VM (soft)',
    description: `Ask the guest OS to reboot; ERROR if it has not within 3 min. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_REBOOT',
    failureHint:
      'The guest OS did not comply within 3 minutes. If it is hung, vm_reset forces it (destructive: unsaved data is lost).',
    undo: null,
    restarts: 'always',
  }),
  def({
    tool: 'vm_poweroff',
    path: 'vm/{vmId}/poweroff/',
    params: { vmId, tenantId },
    profile: 'replace',
    toolset: 'power',
    title: 'Power off a VM (hard)',
    description: `Cut the power: unsaved data in the guest is lost. Prefer vm_shutdown. ${ASYNC}`,
    returns: 'operation',
    destroys: 'the power is cut: whatever the guest had not written to disk is lost',
    operationType: 'VM_DESTROY',
    undo: 'vm_start (what was not written to disk is lost)',
    restarts: 'always',
    noOpIn: 'VIR_DOMAIN_SHUTOFF',
  }),
  def({
    tool: 'vm_shutdown',
    path: 'vm/{vmId}/shutdown/',
    params: { vmId, tenantId },
    profile: 'update',
    toolset: 'power',
    title: 'Shut down a VM (soft)',
    description: `Ask the guest OS to shut down; ERROR if it has not within 3 min. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_SHUTDOWN',
    failureHint:
      'The guest OS did not comply within 3 minutes. If it is hung, vm_poweroff forces it (destructive: unsaved data is lost).',
    undo: 'vm_start',
    restarts: 'always',
    noOpIn: 'VIR_DOMAIN_SHUTOFF',
  }),
  def({
    tool: 'vm_delete',
    path: 'vm/{vmId}/delete/',
    params: { vmId, tenantId },
    profile: 'delete',
    toolset: 'vms',
    title: 'Delete a VM',
    description: `DELETES the VM with its disk, snapshots and backups; releases its IPs. No SMS/e-mail check. ${ASYNC}`,
    returns: 'operation',
    destroys: 'the VM is DELETED with its disk, all snapshots and backups; its IPs are released',
    operationType: 'VM_DELETE',
    produces: 'nothing',
    undo: null,
    safetySnapshot: 'lost',
  }),
  def({
    tool: 'vm_password_change',
    path: 'vm/{vmId}/password_change/',
    params: { vmId, tenantId, password: fields.password, sendPassword: opt(fields.sendPassword) },
    profile: 'update',
    toolset: 'config',
    title: 'Change the root password',
    description: `Set the root (administrator) password of a VM. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_PASSWORD_CHANGE',
    undo: 'vm_password_change again (the old password cannot be restored)',
  }),
  def({
    tool: 'vm_pubkey_change',
    path: 'vm/{vmId}/pubkey_change/',
    params: { vmId, tenantId, keyIds: opt(fields.keyIds) },
    profile: 'replace',
    toolset: 'config',
    title: "Replace a VM's SSH keys",
    description: `REPLACES the VM's authorized_keys with the given account keys; none clears it. ${ASYNC}`,
    returns: 'operation',
    destroys:
      'authorized_keys is REPLACED by the keys {keyIds} (none: it is emptied); other keys lose access',
    operationType: 'VM_PUBLIC_KEY_CHANGE',
    undo: 'vm_pubkey_change with the keys installed before',
    safetySnapshot: 'take',
  }),
  def({
    tool: 'vm_memory_change',
    path: 'vm/{vmId}/memory_change/',
    params: { vmId, tenantId, memory: fields.memory, allowRestart: opt(fields.allowRestart) },
    profile: 'update',
    toolset: 'config',
    title: 'Change VM memory',
    description: `Set the RAM of a VM on an onDemand tariff; decreasing needs allowRestart. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_MEMORY_CHANGE',
    undo: 'vm_memory_change back to the memory before (a decrease needs allowRestart)',
    restarts: 'a decrease, with allowRestart',
  }),
  def({
    tool: 'vm_disk_change',
    path: 'vm/{vmId}/disk_change/',
    params: {
      vmId,
      tenantId,
      disk: fields.disk.describe('New disk, MB, larger than now'),
      allowMemoryChange: opt(fields.allowMemoryChange),
    },
    profile: 'update',
    toolset: 'config',
    title: 'Grow VM disk',
    description: `Grow the disk of a VM on an onDemand tariff, live; never shrinks. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_VOLUME_CHANGE',
    undo: null,
    safetySnapshot: 'take',
  }),
  def({
    tool: 'vm_cpu_change',
    path: 'vm/{vmId}/cpu_change/',
    params: { vmId, tenantId, cpu: fields.cpu },
    profile: 'update',
    toolset: 'config',
    title: 'Change VM CPU cores',
    description: `Set the CPU cores of a VM on an onDemand tariff. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_CPU_CORES_QUOTA_CHANGE',
    undo: null,
  }),
  def({
    tool: 'vm_tariff_change',
    path: 'vm/{vmId}/tariff_change/',
    params: { vmId, tenantId, tariffId: fields.tariffId },
    profile: 'update',
    toolset: 'config',
    title: 'Change VM tariff',
    description: `Move a VM to a tariff whose disk is at least the VM's disk. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_TARIFF_CHANGE',
    undo: 'vm_tariff_change back to the tariff before',
    safetySnapshot: 'take',
  }),
  def({
    tool: 'vm_backup_policy_change',
    path: 'vm/{vmId}/backup_policy_change/',
    params: { vmId, tenantId, quantity: fields.backupQuantity, frequency: fields.backupFrequency },
    profile: 'update',
    toolset: 'config',
    title: 'Change backup policy',
    description: 'Set how many automatic backups a VM keeps and how often. Completes at once.',
    returns: 'operation',
    operationType: 'VM_BACKUP_POLICY_CHANGE',
    instant: true,
    undo: 'vm_backup_policy_change back to the policy before',
  }),
  def({
    tool: 'vm_ip_add',
    path: 'vm/{vmId}/ip_add/',
    params: { vmId, tenantId },
    profile: 'create',
    toolset: 'network',
    title: 'Add a public IP',
    description: `Add a public IPv4 to a VM (billed; see vm_get). Error error.inet.ip.guest.add: added, but configure it in the guest. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_IP_ADD',
    undo: 'vm_ip_delete the new IP (see vm_get)',
  }),
  def({
    tool: 'vm_ip_delete',
    path: 'vm/{vmId}/ip_delete/',
    params: {
      vmId,
      tenantId,
      ip: fields.ip.describe('IPv4 to release (vm_get ipAddresses)'),
    },
    profile: 'delete',
    toolset: 'network',
    title: 'Release a public IP',
    description: `Release a public IP of a VM; the account loses it. ${ASYNC}`,
    returns: 'operation',
    destroys: 'the public IP {ip} is released from the VM and may go to another customer',
    operationType: 'VM_IP_DELETE',
    undo: null,
  }),
  def({
    tool: 'vm_ip_move',
    path: 'vm/{vmId}/ip_move/',
    params: {
      vmId: fields.vmId.describe('VM holding the IP now (vm_list)'),
      tenantId: fields.tenantId.describe('Tenant of the source VM (tenant_list)'),
      toVmId: fields.toVmId,
      ip: fields.ip.describe('IPv4 to move (vm_get ipAddresses)'),
    },
    profile: 'revert',
    toolset: 'network',
    title: 'Move a public IP',
    description: `Move a public IP from one VM to another; the source loses it. ${ASYNC}`,
    returns: 'operation',
    destroys: 'the public IP {ip} is taken from this VM and moved to VM {toVmId}',
    operationType: 'VM_IP_ADD',
    undo: 'vm_ip_move the IP back from the other VM',
  }),
  def({
    tool: 'vm_snapshot_list',
    path: 'vm/{vmId}/snapshots/',
    params: { vmId },
    profile: 'read',
    toolset: 'snapshots',
    title: 'List snapshots',
    description: "List a VM's snapshots: id, name, description, parentSnapshotId (a tree).",
    returns: { list: 'snapshot' },
  }),
  def({
    tool: 'vm_snapshot_create',
    path: 'vm/{vmId}/snapshot_create/',
    params: { vmId, tenantId, name: fields.snapshotName, description: opt(fields.snapshotDescription) },
    profile: 'create',
    toolset: 'snapshots',
    title: 'Create a snapshot',
    description: `Take a snapshot of a VM's current state. ${ASYNC}`,
    returns: 'operation',
    operationType: 'VM_CREATE_SNAPSHOT',
    produces: 'snapshot',
    undo: 'vm_snapshot_delete the new snapshot',
  }),
  def({
    tool: 'vm_snapshot_rollback',
    path: 'vm/{vmId}/snapshot_rollback/',
    params: { vmId, tenantId, snapshotId: fields.snapshotId },
    profile: 'revert',
    toolset: 'snapshots',
    title: 'Roll back to a snapshot',
    description: `Return a VM to a snapshot: everything since is LOST; the tariff reverts too. ${ASYNC}`,
    returns: 'operation',
    destroys:
      "the VM returns to snapshot {snapshotId}: everything since it is LOST, and the tariff reverts to the snapshot's",
    operationType: 'VM_ROLLBACK_SNAPSHOT',
    undo: null,
    restarts: 'always',
    safetySnapshot: 'take',
  }),
  def({
    tool: 'vm_snapshot_delete',
    path: 'vm/{vmId}/snapshot_delete/',
    params: { vmId, tenantId, snapshotId: fields.snapshotId, deleteChildren: opt(fields.deleteChildren) },
    profile: 'delete',
    toolset: 'snapshots',
    title: 'Delete a snapshot',
    description: `Delete a snapshot (with deleteChildren, those derived from it too). ${ASYNC}`,
    returns: 'operation',
    destroys: 'snapshot {snapshotId} is deleted (with deleteChildren, the snapshots derived from it too)',
    operationType: 'VM_DELETE_SNAPSHOT',
    undo: null,
  }),
  def({
    tool: 'vm_backup_list',
    path: 'vm/{vmId}/backups/',
    params: { vmId },
    profile: 'read',
    toolset: 'backups',
    title: 'List backups',
    description: "List a VM's automatic backups: id (a string), size, timeAdded.",
    returns: { list: 'backup' },
  }),
  def({
    tool: 'vm_backup_rollback',
    path: 'vm/{vmId}/backup_rollback/',
    params: { vmId, tenantId, backup: fields.backup, createBackup: opt(fields.createBackup) },
    profile: 'revert',
    toolset: 'backups',
    title: 'Restore a backup',
    description: `Restore a VM from a backup: ALL SNAPSHOTS ARE DELETED, the current disk is LOST, the tariff reverts. ${ASYNC}`,
    returns: 'operation',
    destroys:
      "the VM is restored from backup {backup}: ALL SNAPSHOTS ARE DELETED, the current disk is LOST, and the tariff reverts to the backup's",
    operationType: 'VM_REVERT_TO_BACKUP',
    undo: null,
    restarts: 'always',
    safetySnapshot: 'lost',
  }),
  def({
    tool: 'vm_backup_download',
    path: 'vm/{vmId}/backup_download/',
    params: { vmId, tenantId, backup: fields.backup },
    profile: 'create',
    toolset: 'backups',
    title: 'Get a backup download link',
    description: `Make a download link for a backup (download billed as traffic); the link is the operationResult. ${ASYNC}`,
    returns: 'operation',
    operationType: 'DOWNLOAD_BACKUP',
    produces: 'link',
    undo: null,
  }),
  def({
    tool: 'pubkey_list',
    path: 'pubkeys/',
    params: {},
    profile: 'read',
    toolset: 'keys',
    title: 'List account SSH keys',
    description: "List the account's SSH keys (ids for vm_install, vm_pubkey_change).",
    returns: { list: 'publicKey' },
  }),
  def({
    tool: 'pubkey_add',
    path: 'pubkeys/add/',
    params: { tenantId, name: fields.keyName, publicKey: fields.publicKey },
    profile: 'create',
    toolset: 'keys',
    title: 'Add an SSH key',
    description: 'Add an SSH public key to the account; returns it with its id.',
    returns: { object: 'publicKey' },
    undo: 'pubkey_delete the new key',
  }),
  def({
    tool: 'pubkey_edit',
    path: 'pubkeys/{keyId}/edit/',
    params: { keyId: fields.keyId, tenantId, name: opt(fields.keyName), publicKey: opt(fields.publicKey) },
    profile: 'update',
    toolset: 'keys',
    title: 'Edit an SSH key',
    description: 'Change the name or text of an account SSH key; returns the key.',
    returns: { object: 'publicKey' },
    undo: 'pubkey_edit back to the name before',
  }),
  def({
    tool: 'pubkey_delete',
    path: 'pubkeys/{keyId}/delete/',
    params: { keyId: fields.keyId, tenantId },
    profile: 'delete',
    toolset: 'keys',
    title: 'Delete an SSH key',
    description: 'Delete an SSH key from the account.',
    returns: 'none',
    destroys: 'the SSH key {keyId} is deleted from the account',
    undo: null,
  }),
  def({
    tool: 'operation_get',
    path: 'operation/{operationId}/',
    params: { operationId: fields.operationId },
    profile: 'read',
    toolset: 'operations',
    title: 'Get an operation',
    description:
      'Read an operation once: status PENDING/DONE/ERROR, percentage, error, operationResult. To wait: wait_for_operation.',
    returns: { object: 'operation' },
  }),
  def({
    tool: 'distribution_list',
    path: 'distribution/',
    params: {},
    profile: 'read',
    toolset: 'catalog',
    title: 'List distributions',
    description: 'List OS distributions: id, name (family), description, bitness. Ids change over time.',
    returns: { list: 'distribution' },
  }),
  def({
    tool: 'software_list',
    path: 'software/',
    params: {},
    profile: 'read',
    toolset: 'catalog',
    title: 'List software',
    description: 'List the software vm_install can preinstall (softwareIds).',
    returns: { list: 'software' },
  }),
  def({
    tool: 'tariff_list',
    path: 'tariffs/',
    params: {},
    profile: 'read',
    toolset: 'catalog',
    title: 'List tariffs',
    description:
      'List tariffs: memory, disk (MB), cpu, ipCount; onDemand ones take explicit resources, forWindows ones are for Windows.',
    returns: { list: 'tariff' },
  }),
] as const;

export type OperationTable = typeof OPERATIONS;
export type AnyOperation = OperationTable[number];
export type ToolName = AnyOperation['tool'];
export type OperationByTool<T extends ToolName> = Extract<AnyOperation, { tool: T }>;
export type ParamsOf<T extends ToolName> = z.input<z.ZodObject<OperationByTool<T>['params']>>;

/** Result type of a method, from its `returns`. */
type EntityTypes = {
  tenant: Tenant;
  vm: Vm;
  distribution: Distribution;
  software: Software;
  tariff: Tariff;
  publicKey: PublicKey;
  snapshot: Snapshot;
  backup: Backup;
  operation: Operation;
};
type ResultFor<R> = R extends { list: infer E extends EntityName }
  ? EntityTypes[E][]
  : R extends { object: infer E extends EntityName }
    ? EntityTypes[E]
    : R extends 'operation'
      ? OperationRef
      : R extends 'created'
        ? Required<OperationRef>
        : undefined;
export type ResultOf<T extends ToolName> = ResultFor<OperationByTool<T>['returns']>;

// ---------------------------------------------------------------------------------------------
// Derived facts. Nothing below repeats a list of methods.

export const OPERATIONS_BY_TOOL: ReadonlyMap<string, OperationDef> = new Map(
  OPERATIONS.map((row) => [row.tool, row as OperationDef]),
);

export function getOperation(tool: string): OperationDef {
  const row = OPERATIONS_BY_TOOL.get(tool);
  if (!row) throw new Error(`Unknown Flops operation: ${tool}`);
  return row;
}

export const isRead = (row: OperationDef): boolean => PROFILES[row.profile].readOnly;
export const isDestructive = (row: OperationDef): boolean => PROFILES[row.profile].destructive;
/** Returns an operationId that can be followed. */
export const isAsync = (row: OperationDef): boolean =>
  row.returns === 'operation' || row.returns === 'created';

/** The row that starts operations of a type (for an operation read on its own: its hint). */
export const rowOfOperationType = (type: string | null | undefined): OperationDef | undefined =>
  type ? OPERATIONS.find((row) => row.operationType === type) : undefined;

/** Names of the `{placeholders}` of a path template, in order. */
export function pathParams(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
}

/** zod issues as field/message pairs; an unknown key is named as its own field. */
export function validationIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: key, message: 'unknown argument (not in the schema)' }))
      : [{ path: issue.path.join('.') || '(arguments)', message: issue.message }],
  );
}

/** The strict object schema of a row's parameters, with its cross-field rules. */
export function paramsSchema(row: OperationDef): z.ZodType<Record<string, unknown>> {
  const base = z.strictObject(row.params);
  const check = row.check;
  if (!check) return base as z.ZodType<Record<string, unknown>>;
  return base.superRefine((value, ctx) => {
    for (const issue of check(value as never)) {
      ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
    }
  }) as z.ZodType<Record<string, unknown>>;
}
