/**
 * Which tools a server offers (toolsets, added and excluded tools, read-only, no-destructive) and
 * the instructions that describe them, from the few facts of each tool that the generated index
 * (tool-index.ts) holds: nothing here loads zod, the operation table or the SDK, so the bin answers
 * its first message from them before it loads anything else (mcp/early.ts).
 */
import type { Toolset } from '../api/operations.js';
import { TOOL_INDEX } from './tool-index.js';

/** How long `wait: true` and wait_for_operation wait by default, in seconds. */
export const WAIT_DEFAULT_SECONDS = 45;

export const WAIT_TOOL = 'wait_for_operation';

/** What selection and instructions read of a tool (a ToolSpec has it all). */
export interface ToolFacts {
  name: string;
  toolset: Toolset;
  annotations: { readOnlyHint: boolean; destructiveHint: boolean };
  /** Starts an asynchronous operation (returns an operationId). */
  startsOperation: boolean;
}

/** Every tool's facts, without the table (see tool-index.ts). */
export function toolFacts(): readonly ToolFacts[] {
  return TOOL_INDEX.map(([name, toolset, kind, startsOperation]) => ({
    name,
    toolset,
    annotations: { readOnlyHint: kind === 'read', destructiveHint: kind === 'destructive' },
    startsOperation: startsOperation === 1,
  }));
}

export interface ToolSelection {
  toolsets?: readonly Toolset[] | undefined;
  tools?: readonly string[] | undefined;
  excludeTools?: readonly string[] | undefined;
  readOnly?: boolean | undefined;
  noDestructive?: boolean | undefined;
}

/**
 * The enabled tools. Toolsets select; `tools` adds; read-only keeps only read tools and
 * no-destructive drops destructive ones (both from annotations); `excludeTools` always wins.
 * wait_for_operation comes with any asynchronous tool unless it is excluded by name.
 */
export function selectTools<T extends ToolFacts>(all: readonly T[], s: ToolSelection): T[] {
  const added = new Set(s.tools ?? []);
  const excluded = new Set(s.excludeTools ?? []);
  const inToolsets = (t: T) =>
    s.toolsets === undefined || s.toolsets.includes(t.toolset) || added.has(t.name);
  const allowed = (t: T) =>
    !excluded.has(t.name) &&
    !(s.readOnly && !t.annotations.readOnlyHint) &&
    !(s.noDestructive && t.annotations.destructiveHint);
  const chosen = all.filter((t) => t.name !== WAIT_TOOL && inToolsets(t) && allowed(t));
  const wait = all.find((t) => t.name === WAIT_TOOL);
  const needsWait = chosen.some((t) => t.startsOperation);
  if (wait && allowed(wait) && (inToolsets(wait) || needsWait)) chosen.push(wait);
  return chosen;
}

/**
 * The server's instructions for the enabled tools (sent in the answer to `initialize`). Here, not
 * in server.ts, so that the bin can answer `initialize` before the SDK is loaded (mcp/early.ts).
 */
export function instructions(
  tools: readonly ToolFacts[],
  sandbox: boolean,
  defaultTenantId?: number,
  readOnly?: boolean,
  /** How many FLOPS_PROTECT rules there are (never the rules themselves). */
  protectedRules = 0,
  /** The operator limits the agent to some VMs or tenants (FLOPS_ALLOW_VMS / FLOPS_ALLOW_TENANTS). */
  scoped = false,
): string {
  const names = new Set(tools.map((t) => t.name));
  const has = (name: string) => names.has(name);
  const lines = [
    sandbox
      ? 'SANDBOX MODE: this server talks to a local simulator of the Flops API, not to real servers. Nothing here is billed or real.'
      : 'This server manages real, billed virtual servers at Flops (Serveroid).',
    ...(readOnly ? ['READ-ONLY MODE: only tools that read are available; nothing can be changed.'] : []),
    'Ids come from the list tools: tenant_list, vm_list, distribution_list, tariff_list, pubkey_list, vm_snapshot_list, vm_backup_list.',
    ...(scoped
      ? ['The operator limits this server to some VMs or projects: others are not visible here.']
      : []),
  ];
  if (has('vm_install')) {
    lines.push(
      'Before installing, check the catalogs (tariff_list, distribution_list); pass distribution and tariff by name — distribution ids change over time.',
    );
  }
  if (tools.some((t) => t.startsOperation)) {
    lines.push(
      `Asynchronous tools return an operationId: call wait_for_operation with it (or pass wait: true, which waits up to ${WAIT_DEFAULT_SECONDS} s) before the next step on the same VM — a VM runs one operation at a time.`,
    );
  }
  lines.push(
    `tenantId is optional: VM and SSH key tools take the VM's or the key's${defaultTenantId ? `; vm_install and pubkey_add use tenant ${defaultTenantId}` : ''}. Memory and disk are in MB.`,
  );
  if (tools.some((t) => t.annotations.destructiveHint)) {
    lines.push('Destructive tools (marked destructiveHint) lose data: confirm with the user first.');
    if (protectedRules > 0) {
      lines.push(
        `The operator protects some VMs (${protectedRules} rule${protectedRules > 1 ? 's' : ''}): destructive tools are refused on them.`,
      );
    }
  }
  if (tools.some((t) => !t.annotations.readOnlyHint)) {
    lines.push(
      'Every write tool takes dryRun: true to preview the change (before → after, undo) without sending it.',
    );
  }
  return lines.join('\n');
}
