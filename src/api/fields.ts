/**
 * Named, described zod fields shared by the rows of the operation table.
 *
 * Every constraint the provider documents lives here once: the client, the MCP tools and the
 * sandbox all validate with these schemas, so a rule cannot drift between them. Descriptions are
 * written for a model reading a tool schema: units, ranges, and where the value comes from.
 */
import { z } from 'zod';

/** Documented resource limits (MB for memory and disk). */
export const LIMITS = {
  memory: { min: 512, max: 16384 },
  disk: { min: 8192, max: 524288 },
  cpu: { min: 1, max: 12 },
  ipCount: { min: 0, max: 2 },
  backupQuantity: { min: 1, max: 10 },
  /** disk ≤ 64 × memory (docs/api.md, decision 1). */
  diskPerMemory: 64,
} as const;

/**
 * The disk/memory rule, with its one message (the client's check, the MCP tools and the sandbox
 * all use it): undefined when `disk` ≤ 64 × `memory`.
 */
export function diskRatioProblem(memory: number, disk: number): string | undefined {
  if (disk <= memory * LIMITS.diskPerMemory) return undefined;
  return `disk must be at most 64 × memory: ${disk} MB of disk needs at least ${Math.ceil(disk / LIMITS.diskPerMemory)} MB of memory (${memory} MB given)`;
}

export const BACKUP_FREQUENCIES = [3, 6, 12, 24, 72] as const;

/** Characters the password may consist of, and the classes it must contain. */
export const PASSWORD_SPECIALS = '!()[]-.?~`';
const PASSWORD_CHARSET = /^[A-Za-z0-9!()[\]\-.?~`]+$/;
const PASSWORD_RULE =
  'Latin letters in both cases plus at least one digit or one of !()[]-.?~` (no other characters)';

export function passwordProblem(value: string): string | undefined {
  if (!PASSWORD_CHARSET.test(value)) return `may contain only ${PASSWORD_RULE}`;
  if (!/[a-z]/.test(value) || !/[A-Z]/.test(value)) return `needs ${PASSWORD_RULE}`;
  if (!/[0-9!()[\]\-.?~`]/.test(value)) return `needs ${PASSWORD_RULE}`;
  return undefined;
}

/** A provider id (a positive integer); `id(what)` says which. */
export const anId = z.number().int().positive();
const id = (what: string) => anId.describe(what);

export const fields = {
  vmId: id('VM id (vm_list)'),
  toVmId: id('VM that receives the IP (vm_list)'),
  tenantId: id('Project (tenant) id (tenant_list)'),
  keyId: id('SSH key id (pubkey_list)'),
  operationId: id('Operation id, from an async tool'),
  distributionId: id('Distribution id (distribution_list); ids change: look it up right before use'),
  tariffId: id('Tariff id (tariff_list)'),
  snapshotId: id('Snapshot id (vm_snapshot_list)'),
  vmName: z.string().min(1).max(255).describe('VM name'),
  memory: z.number().int().min(LIMITS.memory.min).max(LIMITS.memory.max).describe('RAM, MB'),
  disk: z.number().int().min(LIMITS.disk.min).max(LIMITS.disk.max).describe('Disk, MB, ≤ 64 × memory'),
  cpu: z.number().int().min(LIMITS.cpu.min).max(LIMITS.cpu.max).describe('CPU cores'),
  ipCount: z.number().int().min(LIMITS.ipCount.min).max(LIMITS.ipCount.max).describe('Public IPv4 addresses'),
  password: z
    .string()
    .max(128)
    .superRefine((value, ctx) => {
      const problem = passwordProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: `password ${problem}` });
    })
    .describe('Root password: Latin a-z, A-Z, and a digit or one of !()[]-.?~`; nothing else'),
  sendPassword: z.boolean().describe('E-mail the password to the account owner'),
  openSupportAccess: z.boolean().describe("Let the provider's support access the VM"),
  publicKeyIds: z
    .array(id('Public key id'))
    .max(50)
    .describe('SSH key ids for authorized_keys (pubkey_list)'),
  softwareIds: z.array(id('Software id')).max(20).describe('Software to preinstall (software_list)'),
  keyIds: z
    .array(id('Public key id'))
    .max(50)
    .describe('SSH key ids (pubkey_list) for authorized_keys; empty clears it'),
  allowRestart: z.boolean().describe('Allow a restart (needed to decrease memory)'),
  allowMemoryChange: z.boolean().describe('Allow raising memory to ceil(disk / 64) MB if the disk needs it'),
  backupQuantity: z
    .number()
    .int()
    .min(LIMITS.backupQuantity.min)
    .max(LIMITS.backupQuantity.max)
    .describe('Backups kept'),
  backupFrequency: z
    .union(
      BACKUP_FREQUENCIES.map((hours) => z.literal(hours)),
      { error: `frequency must be one of ${BACKUP_FREQUENCIES.join(', ')} (hours)` },
    )
    .describe('Hours between backups'),
  ip: z.ipv4().describe('Public IPv4 of the VM (vm_get ipAddresses)'),
  snapshotName: z.string().min(1).max(255).describe('Snapshot name'),
  snapshotDescription: z.string().max(1024).describe('Snapshot description'),
  deleteChildren: z.boolean().describe('Also delete the snapshots derived from it'),
  backup: z.string().min(1).max(512).describe('Backup id, a string (vm_backup_list)'),
  createBackup: z.boolean().describe('Back up the current state first'),
  keyName: z.string().min(1).max(255).describe('Key name'),
  publicKey: z
    .string()
    .min(16)
    .max(16384)
    .regex(/^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=.]+( .*)?$/, {
      message:
        'publicKey must be one OpenSSH public key line: "ssh-rsa|ssh-ed25519|ssh-dss|ecdsa-… BASE64 [comment]"',
    })
    .describe('OpenSSH public key line'),
} as const;

/** The parameter names whose values are secrets and must never be logged or echoed. */
export const SECRET_PARAMS: ReadonlySet<string> = new Set(['apiKey', 'password']);
