/**
 * What the raw API makes an agent do by hand, done in one place for every tool:
 *   - `tenantId` left out: taken from the VM (VM-scoped tools), from the key (key-scoped tools),
 *     else `FLOPS_TENANT_ID`, else the account's only tenant;
 *   - `distribution` (+ `bitness`) by name instead of `distributionId`, looked up fresh on every
 *     call because the provider's distribution ids change over time;
 *   - `tariff` by name instead of `tariffId`;
 *   - `snapshotId` / `backup` checked against the VM's own lists before anything is sent: the
 *     provider accepts an id the VM does not have and only fails the operation later (docs/api.md).
 * The rules key on parameter names of the operation table, never on tool names.
 */
import type { z } from 'zod';
import type { FlopsClient } from '../api/client.js';
import type { FieldIssue, OperationDef } from '../api/operations.js';
import type { Distribution, Tariff, Tenant, Vm } from '../api/types.js';

/** A refusal that the agent can act on; becomes an isError tool result, nothing is sent. */
export class ResolveError extends Error {
  override readonly name = 'ResolveError';
  constructor(
    readonly field: string,
    message: string,
    /** What the agent may choose from (ambiguous or unknown names), also in the structured error. */
    readonly candidates?: readonly Record<string, unknown>[],
  ) {
    super(message);
  }
}

export interface ResolveContext {
  client: FlopsClient;
  defaultTenantId?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface Resolved {
  /** Parameters for the API call, MCP-only arguments removed. */
  params: Record<string, unknown>;
  /** The VM the call is about, when it had to be read (tenant lookup). */
  vm?: Vm;
  /** Told to the agent with a successful result: choices made for it, arguments the provider ignores. */
  notes: string[];
}

/** Arguments that exist on MCP tools only and never reach the API. */
export const MCP_ONLY_ARGS = [
  'wait',
  'dryRun',
  'safetySnapshot',
  'distribution',
  'bitness',
  'tariff',
] as const;

export async function resolveArgs(
  row: OperationDef,
  args: Record<string, unknown>,
  ctx: ResolveContext,
): Promise<Resolved> {
  const params: Record<string, unknown> = { ...args };
  for (const key of MCP_ONLY_ARGS) delete params[key];
  const out: Resolved = { params, notes: [] };
  const opts = { signal: ctx.signal };

  if ('tenantId' in row.params && params['tenantId'] === undefined) {
    if ('vmId' in row.params && typeof params['vmId'] === 'number') {
      const vm = await ctx.client.call('vm_get', { vmId: params['vmId'] }, opts);
      out.vm = vm;
      if (vm.tenantId === null)
        throw new ResolveError('tenantId', `VM ${vm.id} has no tenantId: pass tenantId.`);
      params['tenantId'] = vm.tenantId;
    } else if ('keyId' in row.params && typeof params['keyId'] === 'number') {
      const keys = await ctx.client.call('pubkey_list', {}, opts);
      const key = keys.find((k) => k.id === params['keyId']);
      params['tenantId'] = key?.tenantId ?? (await defaultTenant(ctx));
    } else {
      params['tenantId'] = await defaultTenant(ctx);
    }
  }

  let distribution: Distribution | undefined;
  if (typeof args['distribution'] === 'string') {
    const list = await ctx.client.call('distribution_list', {}, opts);
    distribution = matchDistribution(
      list,
      args['distribution'],
      args['bitness'] as number | undefined,
      out.notes,
    );
    params['distributionId'] = distribution.id;
  }

  let tariffs: Tariff[] | undefined;
  if (typeof args['tariff'] === 'string') {
    tariffs = await ctx.client.call('tariff_list', {}, opts);
    params['tariffId'] = matchTariff(tariffs, args['tariff'], distribution).id;
  }

  // A fixed tariff ignores the resources given with it (accepted, not refused): say so.
  const given = RESOURCES.filter((r) => r in row.params && params[r] !== undefined);
  if ('tariffId' in row.params && given.length > 0) {
    let tariffId = params['tariffId'] as number | undefined;
    if (tariffId === undefined && typeof params['vmId'] === 'number') {
      out.vm ??= await ctx.client.call('vm_get', { vmId: params['vmId'] }, opts);
      tariffId = out.vm.tariffId ?? undefined;
    }
    tariffs ??= await ctx.client.call('tariff_list', {}, opts);
    const tariff = tariffs.find((t) => t.id === tariffId);
    if (tariff?.onDemand === false) {
      out.notes.push(
        `${given.join(', ')} ignored: tariff ${tariff.id} "${tariff.name ?? ''}" is fixed (${tariff.memory} MB RAM, ${tariff.disk} MB disk, ${tariff.cpu} CPU, ${tariff.ipCount} IP); only an onDemand tariff takes them.`,
      );
    }
  }

  await checkOwnId(params, ctx);
  return out;
}

/** What an onDemand tariff takes and a fixed one ignores. */
const RESOURCES = ['memory', 'disk', 'cpu', 'ipCount'] as const;

/** A snapshot or backup named for a VM must be that VM's: else the candidates, nothing sent. */
async function checkOwnId(params: Record<string, unknown>, ctx: ResolveContext): Promise<void> {
  const vmId = params['vmId'];
  if (typeof vmId !== 'number') return;
  const opts = { signal: ctx.signal };
  const snapshotId = params['snapshotId'];
  if (typeof snapshotId === 'number') {
    const list = await ctx.client.call('vm_snapshot_list', { vmId }, opts);
    if (list.some((s) => s.id === snapshotId)) return;
    const candidates = list.map(({ id, name, description, parentSnapshotId, timeAdded }) => ({
      id,
      name,
      description,
      parentSnapshotId,
      timeAdded,
    }));
    throw new ResolveError(
      'snapshotId',
      `VM ${vmId} has no snapshot ${snapshotId}. ${
        list.length
          ? `Its snapshots: ${list.map((s) => `${s.id} "${s.name ?? ''}"`).join('; ')}.`
          : 'It has no snapshots (vm_snapshot_create makes one).'
      }`,
      candidates,
    );
  }
  const backup = params['backup'];
  if (typeof backup === 'string') {
    const list = await ctx.client.call('vm_backup_list', { vmId }, opts);
    if (list.some((b) => b.id === backup)) return;
    const candidates = list.map(({ id, size, timeAdded }) => ({ id, size, timeAdded }));
    throw new ResolveError(
      'backup',
      `VM ${vmId} has no backup "${backup}". ${
        list.length
          ? `Its backups: ${list.map((b) => `"${b.id}"${b.timeAdded ? ` (${new Date(b.timeAdded).toISOString()})` : ''}`).join('; ')}.`
          : 'It has no backups yet (vm_backup_policy_change sets how often they are taken).'
      }`,
      candidates,
    );
  }
}

/**
 * Rules on the by-name arguments that need no request: run with the other input checks, before
 * anything is sent.
 */
export function nameArgIssues(row: OperationDef, args: Record<string, unknown>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const [byName, idField, example] of [
    ['distribution', 'distributionId', '"debian"'],
    ['tariff', 'tariffId', '"Облачный 1024"'],
  ] as const) {
    const schema = row.params[idField] as z.ZodType | undefined;
    if (!schema) continue;
    const name = args[byName];
    if (typeof name === 'string' && !/[\p{L}\p{N}]/u.test(name)) {
      // A blank or punctuation-only name would match everything: refused, never guessed.
      issues.push({
        path: byName,
        message: `must name a ${byName} (at least one letter or digit), e.g. ${example}`,
      });
    } else if (args[byName] !== undefined && args[idField] !== undefined) {
      issues.push({ path: byName, message: `pass either ${byName} (a name) or ${idField}, not both` });
    } else if (
      args[byName] === undefined &&
      args[idField] === undefined &&
      !schema.safeParse(undefined).success
    ) {
      issues.push({
        path: idField,
        message: `required: pass ${byName} (a name, e.g. ${example}) or ${idField}`,
      });
    }
  }
  if (args['bitness'] !== undefined && args['distribution'] === undefined) {
    issues.push({ path: 'bitness', message: 'only applies together with distribution (a name)' });
  }
  return issues;
}

async function defaultTenant(ctx: ResolveContext): Promise<number> {
  if (ctx.defaultTenantId !== undefined) return ctx.defaultTenantId;
  const tenants: Tenant[] = await ctx.client.call('tenant_list', {}, { signal: ctx.signal });
  if (tenants.length === 1) return tenants[0]!.id;
  if (tenants.length === 0) throw new ResolveError('tenantId', 'The account has no tenant (project).');
  throw new ResolveError(
    'tenantId',
    `The account has ${tenants.length} tenants; pass tenantId (or set FLOPS_TENANT_ID). Tenants: ${tenants
      .map((t) => `${t.id} "${t.description ?? ''}"`)
      .join(', ')}.`,
    tenants.map((t) => ({ id: t.id, description: t.description })),
  );
}

const words = (text: string) =>
  text
    .toLowerCase()
    .replace(/[_\s]+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);

/** Every word of the query appears at the start of a word of the target ("14.04" matches "14.04.1"). */
function matchesWords(query: string, target: string): boolean {
  const have = words(target);
  return words(query).every((w) => have.some((h) => h.startsWith(w)));
}

const describeDistribution = (d: Distribution) => `${d.id} ${d.name} "${d.description}" ${d.bitness}-bit`;

/** The release numbers of a description: "Ubuntu 14.04.1 x64" → [14, 4, 1]. */
const release = (d: Distribution) =>
  (/\d+(?:\.\d+)*/.exec(d.description ?? '')?.[0] ?? '').split('.').filter(Boolean).map(Number);

function compareReleases(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * A distribution by name or description. Without `bitness`, 64-bit builds are preferred; when the
 * query names a family ("debian") and several releases of it remain, the newest is taken and
 * `notes` says so. Anything else that stays ambiguous is refused with the candidates.
 */
export function matchDistribution(
  list: Distribution[],
  query: string,
  bitness: number | undefined,
  notes?: string[],
): Distribution {
  const q = query.trim().toLowerCase();
  let candidates = list.filter((d) => `${d.description ?? ''}`.toLowerCase() === q);
  if (candidates.length === 0) {
    candidates = list.filter((d) => matchesWords(q, `${d.name ?? ''} ${d.description ?? ''}`));
  }
  if (bitness !== undefined) candidates = candidates.filter((d) => d.bitness === bitness);
  const matched = candidates.length;
  if (bitness === undefined && candidates.some((d) => d.bitness === 64)) {
    candidates = candidates.filter((d) => d.bitness === 64);
  }
  if (candidates.length > 1 && new Set(candidates.map((d) => d.name)).size === 1) {
    const [newest, next] = [...candidates].sort((a, b) => compareReleases(release(b), release(a)));
    if (compareReleases(release(newest!), release(next!)) > 0) candidates = [newest!];
  }
  if (candidates.length === 1) {
    const chosen = candidates[0]!;
    if (matched > 1) {
      notes?.push(
        `distribution "${query}" matched ${matched} builds: took ${chosen.id} "${chosen.description}" (the newest release${bitness ? '' : ', 64-bit'}); name another release (e.g. its description) or pass bitness for a different one.`,
      );
    }
    return chosen;
  }
  const shown = candidates.length > 1 ? candidates : list;
  throw new ResolveError(
    'distribution',
    `${candidates.length === 0 ? 'No' : 'Several'} distributions match "${query}"${bitness ? ` (${bitness}-bit)` : ''}; ${
      candidates.length === 0 ? 'available' : 'candidates'
    }: ${shown.map(describeDistribution).join('; ')}. Pass a more specific name (e.g. the description) or bitness.`,
    shown.map((d) => ({ id: d.id, name: d.name, description: d.description, bitness: d.bitness })),
  );
}

export function matchTariff(list: Tariff[], query: string, distribution: Distribution | undefined): Tariff {
  const q = query.trim().toLowerCase();
  let candidates = list.filter((t) => (t.name ?? '').toLowerCase() === q);
  if (candidates.length === 0) candidates = list.filter((t) => matchesWords(q, t.name ?? ''));
  if (candidates.length > 1 && distribution) {
    // A Windows distribution needs a Windows tariff, and the other way round.
    const windows = /windows|win /i.test(`${distribution.name} ${distribution.description}`);
    const fitting = candidates.filter((t) => t.forWindows === windows);
    if (fitting.length > 0) candidates = fitting;
  }
  if (candidates.length === 1) return candidates[0]!;
  const shown = candidates.length > 1 ? candidates : list;
  throw new ResolveError(
    'tariff',
    `${candidates.length === 0 ? 'No' : 'Several'} tariffs match "${query}"; ${
      candidates.length === 0 ? 'available' : 'candidates'
    }: ${shown
      .map(
        (t) =>
          `${t.id} "${t.name}" (${t.onDemand ? 'onDemand' : `${t.memory} MB RAM, ${t.disk} MB disk, ${t.cpu} CPU`}${t.forWindows ? ', Windows' : ''})`,
      )
      .join('; ')}. Pass the exact name or tariffId.`,
    shown.map((t) => ({
      id: t.id,
      name: t.name,
      memory: t.memory,
      disk: t.disk,
      cpu: t.cpu,
      onDemand: t.onDemand,
    })),
  );
}
