/**
 * What an agent may do, decided from the tools' annotations — never from a second list of names:
 *   - `selectTools`: toolsets, added and excluded tools, read-only and no-destructive modes;
 *   - `confirmDestructive`: ask the user (MCP elicitation) before a destructive call, showing what
 *     will be lost in concrete terms; a declined or cancelled call never reaches the provider;
 *   - `readOnlyRefusal`: read-only mode also refuses writes at call time.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Toolset } from '../api/operations.js';
import type { Vm } from '../api/types.js';
import type { ConfirmMode } from '../config.js';
import { fail } from './results.js';
import type { ToolSpec } from './tools.js';

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
export function selectTools(all: readonly ToolSpec[], s: ToolSelection): ToolSpec[] {
  const added = new Set(s.tools ?? []);
  const excluded = new Set(s.excludeTools ?? []);
  const inToolsets = (t: ToolSpec) =>
    s.toolsets === undefined || s.toolsets.includes(t.toolset) || added.has(t.name);
  const allowed = (t: ToolSpec) =>
    !excluded.has(t.name) &&
    !(s.readOnly && !t.annotations.readOnlyHint) &&
    !(s.noDestructive && t.annotations.destructiveHint);
  const chosen = all.filter((t) => t.row && inToolsets(t) && allowed(t));
  const wait = all.find((t) => !t.row);
  const needsWait = chosen.some((t) => t.row?.returns === 'operation' || t.row?.returns === 'created');
  if (wait && allowed(wait) && (inToolsets(wait) || needsWait)) chosen.push(wait);
  return chosen;
}

export function readOnlyRefusal(spec: ToolSpec): CallToolResult {
  return fail(
    `${spec.name} is refused: this server runs in read-only mode (--read-only / FLOPS_READ_ONLY), so nothing that changes state can be called.`,
  );
}

export type Confirmation = 'accepted' | 'declined' | 'cancelled' | 'not-asked' | 'off' | 'refused';

export interface ConfirmRequest {
  spec: ToolSpec;
  params: Record<string, unknown>;
  vm: Vm | undefined;
  server: Server;
  /** In stateless HTTP the client's capabilities are unknown: it cannot be asked. */
  stateless: boolean;
  signal: AbortSignal;
}

/** The confirmation text: the tool, the object in concrete terms, and what will be lost. */
export function confirmationMessage(
  spec: ToolSpec,
  params: Record<string, unknown>,
  vm: Vm | undefined,
): string {
  const destroys = (spec.row?.destroys ?? 'data may be lost').replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = params[key];
    if (Array.isArray(value)) return value.length ? value.join(', ') : '(none)';
    return value === undefined ? '(none)' : String(value);
  });
  const target = vm
    ? `VM ${vm.id} "${vm.name ?? ''}"${vm.ipAddresses.length ? ` (IP ${vm.ipAddresses.join(', ')})` : ''}`
    : params['vmId'] !== undefined
      ? `VM ${params['vmId']}`
      : params['keyId'] !== undefined
        ? `key ${params['keyId']}`
        : 'the account';
  return `${spec.title} — ${target}: ${destroys}. This cannot be undone. Proceed?`;
}

/**
 * Ask the user before a destructive call. Returns the refusal to send back instead of the call,
 * or undefined to go on, together with how it was decided (for the audit log).
 */
export async function confirmDestructive(
  mode: ConfirmMode,
  req: ConfirmRequest,
): Promise<{ refusal?: CallToolResult; confirmation: Confirmation }> {
  if (mode === 'off') return { confirmation: 'off' };
  const canAsk = !req.stateless && req.server.getClientCapabilities()?.elicitation !== undefined;
  if (!canAsk) {
    if (mode === 'elicit') return { confirmation: 'not-asked' };
    return {
      confirmation: 'refused',
      refusal: fail(
        `${req.spec.name} was NOT run: this server requires the user's confirmation for destructive actions (FLOPS_CONFIRM=required) and this client cannot ask its user (no elicitation support). Nothing was sent to the provider. Use a client that supports elicitation, or have the operator set FLOPS_CONFIRM=elicit or off.`,
      ),
    };
  }
  const message = confirmationMessage(req.spec, req.params, req.vm);
  const answer = await req.server.elicitInput(
    {
      message,
      requestedSchema: {
        type: 'object',
        properties: {
          confirm: {
            type: 'boolean',
            title: 'Proceed',
            description: 'Yes, do it: I accept what will be lost.',
          },
        },
        required: ['confirm'],
      },
    },
    { signal: req.signal },
  );
  if (answer.action === 'accept' && answer.content?.['confirm'] === true) return { confirmation: 'accepted' };
  const confirmation: Confirmation = answer.action === 'cancel' ? 'cancelled' : 'declined';
  return {
    confirmation,
    refusal: fail(
      `${req.spec.name} was NOT run: the user ${confirmation === 'cancelled' ? 'cancelled the confirmation' : 'declined'}. Nothing was sent to the provider. Do not retry unless the user asks for it.`,
      { notRun: true, confirmation },
    ),
  };
}
