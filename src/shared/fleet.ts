/**
 * The fleet dashboard's contract, declared once for both sides: the server (src/mcp/app.ts) and
 * the view (src/ui/). The extension and resource, the app-only tool and the payload of its poll,
 * the actions the view's buttons may call, and the states an operation row ends in.
 */

export const UI_EXTENSION = 'io.modelcontextprotocol/ui';
export const UI_MIME_TYPE = 'text/html;profile=mcp-app';
export const FLEET_URI = 'ui://flops/fleet.html';
/** The app-only tool the view polls while an operation runs. */
export const FLEET_TOOL = 'fleet_status';

/** The view's buttons: nothing destructive (per the annotations), nothing that loses data. */
export const FLEET_ACTIONS = ['vm_start', 'vm_shutdown', 'vm_reboot', 'vm_snapshot_create'] as const;
export type FleetAction = (typeof FLEET_ACTIONS)[number];

/** A VM as the dashboard shows it: no keys, no users, nothing it does not display. */
export interface VmRow {
  id: number;
  name: string | null;
  tenantId: number | null;
  state: string | null;
  cpu: number | null;
  memory: number | null;
  disk: number | null;
  ipAddresses: string[];
  privateIpAddress: string | null;
  tariffId: number | null;
  distribution: { name: string | null; description: string | null } | null;
}

/** An operation row; UNKNOWN when it could not be read. */
export interface OpRow {
  id: number;
  vmId: number | null;
  operationType: string | null;
  status: string;
  percentage: number | null;
  errorCode?: string | null;
  errorMessage?: string | null;
  hint?: string;
}

/** The states after which an operation row no longer changes. */
export const FINAL_STATES = ['DONE', 'ERROR', 'UNKNOWN'] as const;

export const isFinal = (op: OpRow): boolean => (FINAL_STATES as readonly string[]).includes(op.status);

/** What fleet_status returns (its structuredContent). */
export interface FleetStatus {
  vms: VmRow[];
  operations: OpRow[];
  /** Operations not yet final. */
  running: number;
  actions: FleetAction[];
  /** Names of the tariffs and tenants in use, by id. */
  tariffs: Record<number, string>;
  tenants: Record<number, string>;
}
