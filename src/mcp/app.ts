/**
 * The fleet dashboard as an MCP App (extension `io.modelcontextprotocol/ui`, spec 2026-01-26).
 *
 * - The view is one self-contained HTML file built from `src/ui/` into `dist/ui/fleet.html`
 *   (`npm run build:ui`), served as the resource `ui://flops/fleet.html`. It is read from disk the
 *   first time a client reads the resource, never at start-up.
 * - Per session, `tools/list` is decided from the client's capabilities: a client that announces the
 *   extension with our mimeType gets `_meta` links on vm_list, vm_get, wait_for_operation and the
 *   asynchronous tools, plus the app-only tool `fleet_status` (hidden from the model by
 *   `_meta.ui.visibility: ['app']`). Any other client gets the list byte for byte as before, and
 *   neither the tool nor the resource exists for it. In stateless HTTP the capabilities are unknown:
 *   the links and the (read-only) tool are always there.
 * - `fleet_status` is what the view polls while an operation runs: the VMs (only the fields the
 *   dashboard shows), the operations this session started (the seam's OperationTracker) or that the
 *   view names, and the buttons the server's tool selection allows. The buttons call the ordinary
 *   tools through the host, so approval, read-only mode and confirmation apply as for the model.
 */
import { readFile } from 'node:fs/promises';
import type { CallToolResult, ClientCapabilities, McpServer, Tool } from '@modelcontextprotocol/server';
import { ProtocolError, ProtocolErrorCode } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { FlopsClient } from '../api/client.js';
import { isAsync } from '../api/operations.js';
import type { Operation, Vm } from '../api/types.js';
import {
  FLEET_ACTIONS,
  FLEET_TOOL,
  FLEET_URI,
  type FleetStatus,
  isFinal,
  type OpRow,
  UI_EXTENSION,
  UI_MIME_TYPE,
  type VmRow,
} from '../shared/fleet.js';
import { trimOldest } from '../util.js';
import { errorResult, type OperationTracker, ok, operationFailure } from './results.js';
import { type ToolSpec, WAIT_TOOL } from './tools.js';

export { FLEET_TOOL, FLEET_URI, UI_EXTENSION, UI_MIME_TYPE } from '../shared/fleet.js';

/** The dashboard proper; every asynchronous tool links to it too, for its progress view. */
const DASHBOARD_TOOLS = new Set(['vm_list', 'vm_get', WAIT_TOOL]);

/** Operations reported at most per poll (newest first), besides the ones the view names. */
const MAX_TRACKED = 50;

export interface AppHook {
  /** This request's tools/list: `plain` itself, or a copy with the links and the app-only tool. */
  list(plain: Tool[], capabilities: ClientCapabilities | undefined): Tool[];
  /**
   * The app-only tool `name` for this client, or undefined: its spec (the seam parses the arguments
   * with it) and what it does with them. Called through the registration seam like every tool.
   */
  tool(name: string, capabilities: ClientCapabilities | undefined): AppTool | undefined;
}

export interface AppTool {
  spec: ToolSpec;
  run(
    input: Record<string, unknown>,
    signal: AbortSignal,
    tracker: OperationTracker,
  ): Promise<CallToolResult>;
}

const fleetSpec: ToolSpec = {
  name: FLEET_TOOL,
  title: 'Fleet status (dashboard)',
  description: 'The fleet dashboard’s poll (app-only).',
  toolset: 'vms',
  profile: 'read',
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  startsOperation: false,
  get input() {
    return fleetInput;
  },
};

/**
 * Does the client render MCP Apps? Decided from its capabilities: the session's (2025) or the
 * request's envelope (2026). Where they cannot be known (stateless 2025 HTTP): assume it may.
 */
export function rendersApps(capabilities: ClientCapabilities | undefined): boolean {
  if (capabilities === undefined) return true;
  const ui = capabilities.extensions?.[UI_EXTENSION] as { mimeTypes?: unknown } | undefined;
  return Array.isArray(ui?.mimeTypes) && ui.mimeTypes.includes(UI_MIME_TYPE);
}

const fleetInput = z.strictObject({
  operationIds: z
    .array(z.number().int().min(1))
    .max(20)
    .optional()
    .describe('Operations to report besides those started in this session'),
});

const fleetTool: Tool = {
  name: FLEET_TOOL,
  title: 'Fleet status (dashboard)',
  description:
    "The fleet dashboard's poll: VMs, and the progress of operations started in this session or named.",
  inputSchema: {
    type: 'object',
    properties: {
      operationIds: {
        type: 'array',
        items: { type: 'integer', minimum: 1 },
        maxItems: 20,
        description: 'Operations to report besides those started in this session',
      },
    },
    additionalProperties: false,
  },
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
  _meta: { ui: { visibility: ['app'] } },
};

/** Where the built view is: beside a bundle in dist/, one level up from dist/mcp/, or from src/mcp/. */
const HTML_CANDIDATES = ['./ui/fleet.html', '../ui/fleet.html', '../../dist/ui/fleet.html'];
let html: Promise<string> | undefined;

async function readView(): Promise<string> {
  for (const candidate of HTML_CANDIDATES) {
    try {
      return await readFile(new URL(candidate, import.meta.url), 'utf8');
    } catch {
      // next candidate
    }
  }
  throw new Error('dist/ui/fleet.html is missing: build the dashboard with npm run build:ui');
}

/** The fields the dashboard shows: no keys, no users, nothing it does not display. */
function vmRow(vm: Vm): VmRow {
  return {
    id: vm.id,
    name: vm.name,
    tenantId: vm.tenantId,
    state: vm.state,
    cpu: vm.cpu,
    memory: vm.memory,
    disk: vm.disk,
    ipAddresses: vm.ipAddresses,
    privateIpAddress: vm.privateIpAddress,
    tariffId: vm.tariffId,
    distribution: vm.distribution
      ? { name: vm.distribution.name, description: vm.distribution.description }
      : null,
  };
}

function operationRow(op: Operation): OpRow {
  const row: OpRow = {
    id: op.id,
    vmId: op.vmId,
    operationType: op.operationType,
    status: op.status,
    percentage: op.status === 'DONE' ? 100 : op.percentage,
  };
  if (op.status === 'ERROR') {
    row.errorCode = op.errorCode;
    row.errorMessage = op.errorMessage;
    row.hint = (operationFailure(op).structuredContent as { hint: string }).hint;
  }
  return row;
}

/**
 * Register the dashboard resource and the capability, and return the hook the registration seam
 * consults for tools/list and for the app-only tool.
 */
export function registerFleetApp(
  server: McpServer,
  options: { client: FlopsClient; tools: readonly ToolSpec[]; stateless: boolean },
): AppHook {
  const { client, stateless } = options;
  // The resource has no request at hand: the session's capabilities, or none known.
  const enabled = () => rendersApps(stateless ? undefined : server.server.getClientCapabilities());
  server.server.registerCapabilities({ extensions: { [UI_EXTENSION]: {} } });

  const resource = server.registerResource(
    'fleet-dashboard',
    FLEET_URI,
    {
      title: 'Fleet dashboard',
      description: 'MCP App: the VMs, their resources and live operation progress',
      mimeType: UI_MIME_TYPE,
    },
    async () => {
      html ??= readView().catch((err: unknown) => {
        html = undefined;
        throw new ProtocolError(ProtocolErrorCode.InternalError, (err as Error).message);
      });
      return {
        contents: [
          {
            uri: FLEET_URI,
            mimeType: UI_MIME_TYPE,
            text: await html,
            _meta: { ui: { prefersBorder: true } },
          },
        ],
      };
    },
  );
  // Listed and readable only for a client that renders apps (decided per request: the client's
  // capabilities arrive after the server was built). A plain property would need disable(), which
  // announces a list change.
  Object.defineProperty(resource, 'enabled', { get: enabled, set: () => undefined, configurable: true });

  const names = new Set(options.tools.map((t) => t.name));
  const actions = FLEET_ACTIONS.filter((a) => names.has(a));
  const async = new Set(options.tools.filter((t) => t.row && isAsync(t.row)).map((t) => t.name));
  const linked = (name: string) => DASHBOARD_TOOLS.has(name) || async.has(name);
  const offered = options.tools.some((t) => linked(t.name));
  let withApp: Tool[] | undefined;

  // Catalog names for the table, read once per session (stateless: once per poll, as a server may
  // serve many requests); a failure just leaves the ids.
  let catalog: Promise<{ tariffs: Record<number, string>; tenants: Record<number, string> }> | undefined;
  const readCatalog = (signal: AbortSignal) => {
    if (stateless) catalog = undefined;
    catalog ??= Promise.all([
      client.call('tariff_list', {}, { signal }).catch(() => []),
      client.call('tenant_list', {}, { signal }).catch(() => []),
    ]).then(([tariffs, tenants]) => ({
      tariffs: Object.fromEntries(tariffs.map((t) => [t.id, t.name ?? `#${t.id}`])),
      tenants: Object.fromEntries(tenants.map((t) => [t.id, t.description ?? `#${t.id}`])),
    }));
    return catalog;
  };
  /** Finished operations do not change: never read twice. */
  const finished = new Map<number, OpRow>();
  const readOperation = async (id: number, signal: AbortSignal): Promise<OpRow> => {
    const known = finished.get(id);
    if (known) return known;
    try {
      const row = operationRow(await client.call('operation_get', { operationId: id }, { signal }));
      if (row.status === 'DONE' || row.status === 'ERROR') {
        finished.set(id, row);
        trimOldest(finished, 1000);
      }
      return row;
    } catch (err) {
      signal.throwIfAborted();
      const text = errorResult(err, { tool: 'operation_get' }).content[0];
      return {
        id,
        vmId: null,
        operationType: null,
        status: 'UNKNOWN',
        percentage: null,
        errorMessage: text?.type === 'text' ? text.text : 'cannot be read',
      };
    }
  };

  const fleetStatus = async (
    input: { operationIds?: number[] | undefined },
    signal: AbortSignal,
    tracker: OperationTracker,
  ) => {
    {
      const tracked = tracker
        .recent()
        .sort((a, b) => b.operationId - a.operationId)
        .slice(0, MAX_TRACKED)
        .map((t) => t.operationId);
      const ids = [...new Set([...(input.operationIds ?? []), ...tracked])];
      const [vms, names, operations] = await Promise.all([
        client.call('vm_list', {}, { signal }),
        readCatalog(signal),
        Promise.all(ids.map((id) => readOperation(id, signal))),
      ]);
      const only = (map: Record<number, string>, ids: (number | null)[]) =>
        Object.fromEntries(
          ids.flatMap((id) => (id !== null && map[id] !== undefined ? [[id, map[id]]] : [])),
        );
      const status: FleetStatus = {
        vms: vms.map(vmRow),
        operations,
        running: operations.filter((o) => !isFinal(o)).length,
        actions,
        // Names of the tariffs and tenants in use only: the poll stays small.
        tariffs: only(
          names.tariffs,
          vms.map((vm) => vm.tariffId),
        ),
        tenants: only(
          names.tenants,
          vms.map((vm) => vm.tenantId),
        ),
      };
      return ok(status as unknown as Record<string, unknown>);
    }
  };

  return {
    list(plain, capabilities) {
      if (!offered || !rendersApps(capabilities)) return plain;
      withApp ??= [
        ...plain.map((tool): Tool => {
          if (DASHBOARD_TOOLS.has(tool.name)) {
            // Both spellings: `ui/resourceUri` is the older one, still read by some hosts.
            return { ...tool, _meta: { ui: { resourceUri: FLEET_URI }, 'ui/resourceUri': FLEET_URI } };
          }
          // The progress view; only the current spelling, to keep tools/list small.
          return async.has(tool.name) ? { ...tool, _meta: { ui: { resourceUri: FLEET_URI } } } : tool;
        }),
        fleetTool,
      ];
      return withApp;
    },
    tool(name, capabilities) {
      if (name !== FLEET_TOOL || !offered || !rendersApps(capabilities)) return undefined;
      return { spec: fleetSpec, run: (input, signal, tracker) => fleetStatus(input, signal, tracker) };
    },
  };
}
