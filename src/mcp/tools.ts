/**
 * The MCP tool surface, derived from the operation table: one tool per API method plus
 * `wait_for_operation`. A tool's input schema is the row's parameters with what the server resolves
 * for the agent made optional (`tenantId`, ids that can be given by name) and `wait` on asynchronous
 * tools. Annotations come from the row's profile.
 */
import { z } from 'zod';
import { fields } from '../api/fields.js';
import {
  isAsync,
  OPERATIONS,
  type OperationDef,
  PROFILES,
  type Profile,
  type Toolset,
} from '../api/operations.js';
import { WAIT_DEFAULT_SECONDS, WAIT_MAX_SECONDS } from './wait.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolSpec {
  name: string;
  title: string;
  description: string;
  toolset: Toolset;
  profile: Profile;
  annotations: ToolAnnotations;
  input: z.ZodObject;
  /** The API method behind the tool; absent for wait_for_operation. */
  row?: OperationDef;
}

/** The four hints; the title is the tool's own (not repeated here: tools/list is paid per prompt). */
function annotations(profile: Profile): ToolAnnotations {
  const p = PROFILES[profile];
  return {
    readOnlyHint: p.readOnly,
    destructiveHint: p.destructive,
    idempotentHint: p.idempotent,
    openWorldHint: true,
  };
}

const waitField = z.boolean().optional().describe(`Wait for the end (≤${WAIT_DEFAULT_SECONDS} s)`);

/** The MCP input shape of an API row. */
function inputShape(row: OperationDef): z.ZodRawShape {
  const shape: Record<string, z.ZodType> = { ...(row.params as Record<string, z.ZodType>) };
  if ('tenantId' in shape) {
    const from =
      'vmId' in shape ? "the VM's" : 'keyId' in shape ? "the key's" : 'FLOPS_TENANT_ID or the only one';
    shape['tenantId'] = fields.tenantId.optional().describe(`Default: ${from}`);
  }
  if ('distributionId' in shape) {
    shape['distributionId'] = fields.distributionId
      .optional()
      .describe('Id (distribution_list); ids change: prefer distribution');
    shape['distribution'] = z
      .string()
      .min(1)
      .max(100)
      .optional()
      .describe('Name or description, e.g. "ubuntu 14.04"; looked up fresh');
    shape['bitness'] = z
      .union([z.literal(32), z.literal(64)])
      .optional()
      .describe('With distribution');
  }
  if ('tariffId' in shape) {
    shape['tariffId'] = fields.tariffId.optional().describe('Id (tariff_list), or give tariff');
    shape['tariff'] = z.string().min(1).max(100).optional().describe('Name, e.g. "Облачный 1024"');
  }
  if (isAsync(row)) shape['wait'] = waitField;
  return shape;
}

export const WAIT_TOOL = 'wait_for_operation';

const waitSpec: ToolSpec = {
  name: WAIT_TOOL,
  title: 'Wait for an operation',
  description: `Wait until an operation is DONE or ERROR, with progress notifications. If it still runs after timeoutSeconds (default ${WAIT_DEFAULT_SECONDS}), the result says so: call again.`,
  toolset: 'operations',
  profile: 'read',
  annotations: annotations('read'),
  input: z.strictObject({
    operationId: fields.operationId,
    timeoutSeconds: z
      .number()
      .int()
      .min(1)
      .max(WAIT_MAX_SECONDS)
      .optional()
      .describe(`Seconds, default ${WAIT_DEFAULT_SECONDS}`),
  }),
};

let built: readonly ToolSpec[] | undefined;

/**
 * All 39 tools, in the order of the table, wait_for_operation last. Built once per process: the
 * specs are a pure function of the table, and stateless HTTP creates a server per request.
 */
export function buildToolSpecs(): readonly ToolSpec[] {
  built ??= specsFromTable();
  return built;
}

function specsFromTable(): ToolSpec[] {
  const specs: ToolSpec[] = OPERATIONS.map((row: OperationDef) => {
    let input: z.ZodObject | undefined;
    return {
      name: row.tool,
      title: row.title,
      description: row.description,
      toolset: row.toolset,
      profile: row.profile,
      annotations: annotations(row.profile),
      /** Built on first use: a server starts before any call, and a session calls few tools. */
      get input() {
        input ??= z.strictObject(inputShape(row));
        return input;
      },
      row,
    };
  });
  specs.push(waitSpec);
  return specs;
}

/**
 * The server's instructions for the enabled tools (sent in the answer to `initialize`). Here, not
 * in server.ts, so that the bin can answer `initialize` before the SDK is loaded (mcp/early.ts).
 */
export function instructions(
  tools: readonly ToolSpec[],
  sandbox: boolean,
  defaultTenantId?: number,
  readOnly?: boolean,
): string {
  const names = new Set(tools.map((t) => t.name));
  const has = (name: string) => names.has(name);
  const lines = [
    sandbox
      ? 'SANDBOX MODE: this server talks to a local simulator of the Flops API, not to real servers. Nothing here is billed or real.'
      : 'This server manages real, billed virtual servers at Flops (Serveroid).',
    ...(readOnly ? ['READ-ONLY MODE: only tools that read are available; nothing can be changed.'] : []),
    'Ids come from the list tools: tenant_list, vm_list, distribution_list, tariff_list, pubkey_list, vm_snapshot_list, vm_backup_list.',
  ];
  if (has('vm_install')) {
    lines.push(
      'Before installing, check the catalogs (tariff_list, distribution_list); pass distribution and tariff by name — distribution ids change over time.',
    );
  }
  if (tools.some((t) => t.row && isAsync(t.row))) {
    lines.push(
      'Asynchronous tools return an operationId: call wait_for_operation with it (or pass wait: true) before the next step on the same VM — a VM runs one operation at a time.',
    );
  }
  lines.push(
    `tenantId is optional: VM tools take it from the VM${defaultTenantId ? `; vm_install and pubkey_add use tenant ${defaultTenantId}` : ''}. Memory and disk are in MB.`,
  );
  if (tools.some((t) => t.annotations.destructiveHint)) {
    lines.push('Destructive tools (marked destructiveHint) lose data: confirm with the user first.');
  }
  return lines.join('\n');
}
