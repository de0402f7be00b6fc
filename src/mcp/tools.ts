/**
 * The MCP tool surface, derived from the operation table: one tool per API method plus
 * `wait_for_operation`. A tool's input schema is the row's parameters with what the server resolves
 * for the agent made optional (`tenantId`, ids that can be given by name) and `wait` on asynchronous
 * tools. Annotations come from the row's profile.
 */
import { z } from 'zod';
import { anId, fields } from '../api/fields.js';
import {
  isAsync,
  OPERATIONS,
  type OperationDef,
  PROFILES,
  type Profile,
  type Toolset,
} from '../api/operations.js';
import { type ToolFacts, WAIT_DEFAULT_SECONDS, WAIT_TOOL } from './selection.js';
import { WAIT_MAX_SECONDS } from './wait.js';

export { instructions, selectTools, type ToolSelection, WAIT_TOOL } from './selection.js';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface ToolSpec extends ToolFacts {
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

// The fields most tools share: the instructions say once what wait, dryRun and tenantId do
// (selection.ts), so tools/list, paid in every prompt, does not repeat it on 28 tools.
const waitField = z.boolean().optional();
const dryRunField = z.boolean().optional();
const safetySnapshotField = z.boolean().optional().describe('Snapshot the VM first');

/** The MCP input shape of an API row. */
function inputShape(row: OperationDef): z.ZodRawShape {
  const shape: Record<string, z.ZodType> = { ...(row.params as Record<string, z.ZodType>) };
  // The plain VM id: its name says what it is, and the instructions where ids come from (on 22 tools).
  if (shape['vmId'] === fields.vmId) shape['vmId'] = anId;
  if ('tenantId' in shape) {
    // A VM's or a key's own project is the default (the instructions say so); elsewhere it is not
    // to be guessed.
    const tenantId = anId.optional();
    shape['tenantId'] =
      'vmId' in shape || 'keyId' in shape
        ? tenantId
        : tenantId.describe('Default: FLOPS_TENANT_ID or the only one');
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
  if (!PROFILES[row.profile].readOnly) shape['dryRun'] = dryRunField;
  if (row.safetySnapshot) shape['safetySnapshot'] = safetySnapshotField;
  return shape;
}

const waitSpec: ToolSpec = {
  name: WAIT_TOOL,
  title: 'Wait for an operation',
  description: `Wait until an operation is DONE or ERROR, with progress notifications. If it still runs after timeoutSeconds (default ${WAIT_DEFAULT_SECONDS}), the result says so: call again.`,
  toolset: 'operations',
  profile: 'read',
  annotations: annotations('read'),
  startsOperation: false,
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
      startsOperation: isAsync(row),
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
