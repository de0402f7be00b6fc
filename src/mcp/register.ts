/**
 * The one registration seam. Every tool call passes through `callTool`:
 *
 *   find the tool (unknown → protocol error) → policy (read-only, …) → parse the arguments with the
 *   tool's strict schema and the row's cross-field rules (invalid → isError naming the field, nothing
 *   sent) → resolve (tenant, names → ids) → confirm (destructive tools) → call the API → wait when
 *   asked → shape the result → map errors → log.
 *
 * No handler has its own try/catch; no tool is registered anywhere else. `tools/list` is computed
 * once from the specs.
 */
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type ServerNotification,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { FlopsClient } from '../api/client.js';
import { FlopsValidationError } from '../api/errors.js';
import { isAsync, type OperationDef, validationIssues } from '../api/operations.js';
import type { Operation, OperationRef } from '../api/types.js';
import type { ConfirmMode } from '../config.js';
import type { Logger } from '../log.js';
import type { AppHook } from './app.js';
import type { AuditEntry, AuditLog } from './audit.js';
import { type Confirmation, confirmDestructive, readOnlyRefusal } from './policy.js';
import { nameArgIssues, resolveArgs } from './resolve.js';
import { errorResult, fail, OperationTracker, ok, operationFailure, withNotes } from './results.js';
import type { ToolSpec } from './tools.js';
import { WAIT_DEFAULT_SECONDS, WaitTimeoutError, waitForOperation } from './wait.js';

export interface ToolContext {
  client: FlopsClient;
  log: Logger;
  defaultTenantId?: number | undefined;
  /** Poll schedule of the waiter (tests and benchmarks tune it). */
  waitMinIntervalMs?: number | undefined;
  waitMaxIntervalMs?: number | undefined;
  /** Refuse every tool that is not read-only, even if it is called anyway. */
  readOnly?: boolean | undefined;
  /** Confirmation of destructive tools (FLOPS_CONFIRM); default elicit. */
  confirm?: ConfirmMode | undefined;
  /** Stateless HTTP: the client's capabilities are unknown, it cannot be asked. */
  stateless?: boolean | undefined;
  audit?: AuditLog | undefined;
  /** The clientId acting, for the audit log (per-user credentials over HTTP). */
  actor?: string | undefined;
  /** Told after a successful write, with the VM it concerned (resource subscriptions). */
  onChange?: ((vmId: number | undefined) => void) | undefined;
  /** MCP App (app.ts): per-session links in tools/list and the app-only tool. */
  app?: AppHook | undefined;
}

/** What the SDK hands a request handler, reduced to what tools use. */
export interface CallExtra {
  signal: AbortSignal;
  progressToken?: string | number | undefined;
  sendNotification: (notification: ServerNotification) => Promise<void>;
}

const PLURAL: Record<string, string> = {
  tenant: 'tenants',
  vm: 'vms',
  distribution: 'distributions',
  software: 'software',
  tariff: 'tariffs',
  publicKey: 'publicKeys',
  snapshot: 'snapshots',
  backup: 'backups',
};

/**
 * JSON Schema of a tool's input, trimmed of what costs tokens and says nothing (tools/list is paid
 * in every prompt): zod's ±MAX_SAFE_INTEGER bounds on integers; `exclusiveMinimum: 0` where
 * `minimum: 1` is shorter; the description of an array's items (the array's own says it); the
 * type beside a `const`. Every property keeps its description, type and bounds.
 */
function compactSchema(node: unknown, isItems = false): unknown {
  if (Array.isArray(node)) return node.map((item) => compactSchema(item));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema') continue;
    if (key === 'maximum' && value === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'minimum' && value === Number.MIN_SAFE_INTEGER) continue;
    if (key === 'description' && isItems) continue;
    out[key] = compactSchema(value, key === 'items');
  }
  if (out['type'] === 'integer' && out['exclusiveMinimum'] === 0) {
    delete out['exclusiveMinimum'];
    out['minimum'] = 1;
  }
  if ('const' in out) delete out['type'];
  return out;
}

/**
 * The bundled bin gets every tool's definition computed at build time (scripts/build.mjs, from
 * this very function): its first `tools/list` then costs no JSON Schema generation, which is most
 * of that answer's time and of the heap it grows. Run from source, definitions are computed.
 */
declare const __FLOPS_TOOL_DEFINITIONS__: Readonly<Record<string, Tool>> | undefined;
const PREBUILT = typeof __FLOPS_TOOL_DEFINITIONS__ === 'undefined' ? undefined : __FLOPS_TOOL_DEFINITIONS__;

export function toolDefinition(spec: ToolSpec): Tool {
  const inputSchema = compactSchema(z.toJSONSchema(spec.input, { io: 'input' }));
  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    inputSchema: inputSchema as Tool['inputSchema'],
    annotations: spec.annotations,
  };
}

/**
 * Register the enabled tools. A tool of `all` that is not enabled is refused with a reason when
 * called anyway (read-only mode, toolsets, exclusions); a name that is no tool at all is a protocol
 * error.
 */
export function installTools(
  server: Server,
  specs: readonly ToolSpec[],
  all: readonly ToolSpec[],
  ctx: ToolContext,
): void {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const known = new Map(all.map((s) => [s.name, s]));
  let listed: Tool[] | undefined;
  const tracker = new OperationTracker();
  server.registerCapabilities({ tools: { listChanged: false } });
  server.setRequestHandler(ListToolsRequestSchema, () => {
    listed ??= specs.map((spec) => PREBUILT?.[spec.name] ?? toolDefinition(spec));
    return { tools: ctx.app ? ctx.app.list(listed) : listed };
  });
  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const spec = byName.get(request.params.name);
    if (!spec) {
      const app = ctx.app?.call(request.params.name, request.params.arguments, extra.signal, tracker);
      if (app) return app;
      const disabled = known.get(request.params.name);
      if (!disabled) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`);
      const refusal =
        ctx.readOnly && !disabled.annotations.readOnlyHint
          ? readOnlyRefusal(disabled)
          : fail(
              `${disabled.name} is not enabled on this server (toolsets, --tools, --exclude-tools or --no-destructive). Nothing was sent.`,
            );
      if (!disabled.annotations.readOnlyHint) {
        await ctx.audit?.write({
          tool: disabled.name,
          args: (request.params.arguments ?? {}) as Record<string, unknown>,
          confirmation: 'not-asked',
          outcome: 'refused',
          error: 'tool not enabled',
          clientId: ctx.actor,
        });
      }
      return refusal;
    }
    const callExtra: CallExtra = {
      signal: extra.signal,
      progressToken: request.params._meta?.progressToken,
      sendNotification: extra.sendNotification,
    };
    return callTool(spec, request.params.arguments ?? {}, callExtra, ctx, server, tracker);
  });
}

/** Parse arguments: strict schema, then the row's cross-field rules. */
export function parseArgs(spec: ToolSpec, args: unknown): Record<string, unknown> {
  const parsed = spec.input.safeParse(args);
  const issues = parsed.success ? [] : validationIssues(parsed.error);
  if (parsed.success && spec.row) {
    issues.push(...(spec.row.check?.(parsed.data as never) ?? []), ...nameArgIssues(spec.row, parsed.data));
  }
  if (issues.length > 0) throw new FlopsValidationError(spec.name, issues);
  return parsed.data as Record<string, unknown>;
}

export async function callTool(
  spec: ToolSpec,
  args: unknown,
  extra: CallExtra,
  ctx: ToolContext,
  server: Server,
  tracker: OperationTracker,
): Promise<CallToolResult> {
  const started = performance.now();
  const write = !spec.annotations.readOnlyHint;
  let params: Record<string, unknown> | undefined;
  let confirmation: Confirmation = 'not-asked';
  let outcome: AuditEntry['outcome'] | undefined;
  let result: CallToolResult;
  // What a cancelled call must still report: the write went out, and the operation it started.
  let sent = false;
  let operationId: number | undefined;
  try {
    if (write && ctx.readOnly) {
      outcome = 'refused';
      result = readOnlyRefusal(spec);
    } else {
      const input = parseArgs(spec, args);
      if (!spec.row) {
        operationId = input['operationId'] as number;
        result = await waitTool(input, extra, ctx);
      } else {
        const resolved = await resolveArgs(spec.row, input, {
          client: ctx.client,
          defaultTenantId: ctx.defaultTenantId,
          signal: extra.signal,
        });
        params = resolved.params;
        let refusal: CallToolResult | undefined;
        if (spec.annotations.destructiveHint) {
          ({ refusal, confirmation } = await confirmDestructive(ctx.confirm ?? 'elicit', {
            spec,
            params,
            vm: resolved.vm,
            server,
            stateless: ctx.stateless === true,
            signal: extra.signal,
          }));
        }
        if (refusal) {
          outcome =
            confirmation === 'cancelled' ? 'cancelled' : confirmation === 'declined' ? 'declined' : 'refused';
          result = refusal;
        } else {
          sent = write;
          const value = await ctx.client.call(spec.name as never, params as never, { signal: extra.signal });
          if (isAsync(spec.row)) operationId = (value as OperationRef).operationId;
          result = withNotes(
            await shape(spec.row, params, value, input['wait'] === true, extra, ctx, tracker),
            resolved.notes,
          );
        }
      }
    }
  } catch (err) {
    result = errorResult(err, { row: spec.row, tool: spec.name, params, tracker });
    if (err instanceof FlopsValidationError) outcome = 'refused';
    else
      ctx.log.warn(`tool ${spec.name} failed`, { error: err instanceof Error ? err.message : String(err) });
  }
  if (extra.signal.aborted && (sent || operationId !== undefined)) {
    result = await reportCancelled(spec.name, write, operationId, server, ctx);
    outcome = 'cancelled';
  }
  const data = result.structuredContent as Record<string, unknown> | undefined;
  const vmId = (params?.['vmId'] ??
    (args as Record<string, unknown> | undefined)?.['vmId'] ??
    data?.['vmId'] ??
    (data?.['vm'] as { id?: number } | undefined)?.id) as number | undefined;
  // Subscribers re-read after any write that went out: also one that failed in transit or was
  // cancelled may have changed the VM.
  if (sent) ctx.onChange?.(vmId);
  if (write && ctx.audit) {
    const firstText = result.content[0]?.type === 'text' ? result.content[0].text : '';
    await ctx.audit.write({
      tool: spec.name,
      vmId,
      args: params ?? ((args ?? {}) as Record<string, unknown>),
      confirmation,
      outcome: outcome ?? (result.isError ? 'error' : 'ok'),
      operationId: (data?.['operationId'] as number | undefined) ?? undefined,
      error: result.isError ? firstText.slice(0, 500) : undefined,
      clientId: ctx.actor,
    });
  }
  ctx.log.debug(`tool ${spec.name}`, {
    ms: Math.round(performance.now() - started),
    isError: result.isError === true,
  });
  return result;
}

/**
 * A call cancelled (by the client, or by a shutdown) after its write was sent, or while it waited:
 * MCP sends no response to a cancelled request, so what it started goes out as a
 * `notifications/message` warning, to the log and (through the result's data) to the audit entry.
 */
async function reportCancelled(
  tool: string,
  write: boolean,
  operationId: number | undefined,
  server: Server,
  ctx: ToolContext,
): Promise<CallToolResult> {
  const message = !write
    ? `${tool} was cancelled; operation ${operationId} is not affected and may still be running: call wait_for_operation with operationId ${operationId} to follow it.`
    : operationId !== undefined
      ? `${tool} was cancelled after the provider accepted it: operation ${operationId} was started and may still be running. Follow it with wait_for_operation (operationId ${operationId}) before repeating ${tool}.`
      : `${tool} was cancelled after its request was sent: it may have taken effect. Check with vm_get or the list tools before repeating it.`;
  const data = { tool, operationId: operationId ?? null, status: 'CANCELLED', message };
  ctx.log.warn(`tool ${tool} cancelled`, { operationId: operationId ?? null });
  await server
    .sendLoggingMessage({ level: 'warning', logger: 'flops-mcp', data }, server.transport?.sessionId)
    .catch(() => undefined);
  return fail(message, data);
}

async function shape(
  row: OperationDef,
  params: Record<string, unknown>,
  value: unknown,
  wait: boolean,
  extra: CallExtra,
  ctx: ToolContext,
  tracker: OperationTracker,
): Promise<CallToolResult> {
  const { returns } = row;
  if (returns === 'none') return ok({ ok: true });
  if (!isAsync(row)) {
    return typeof returns === 'object' && 'list' in returns
      ? ok({ [PLURAL[returns.list] ?? returns.list]: value })
      : ok({ [(returns as { object: string }).object]: value });
  }
  const ref = value as OperationRef;
  const vmId = ref.vmId ?? (params['vmId'] as number | undefined);
  tracker.started(vmId, ref.operationId, row.operationType);
  if (!wait) {
    return ok({
      operationId: ref.operationId,
      ...(ref.vmId !== undefined ? { vmId: ref.vmId } : {}),
      status: 'STARTED',
      next: `Asynchronous: call wait_for_operation with operationId ${ref.operationId} to follow it.`,
    });
  }
  const outcome = await waitAndReport(ref.operationId, WAIT_DEFAULT_SECONDS * 1000, extra, ctx);
  if (outcome.isError || !outcome.done) return outcome.result;
  return ok({ ...outcome.data, ...(await producedBy(row, outcome.operation, vmId, extra, ctx)) });
}

/** What a finished operation produced or changed, read back for the agent. */
async function producedBy(
  row: OperationDef,
  operation: Operation,
  vmId: number | undefined,
  extra: CallExtra,
  ctx: ToolContext,
): Promise<Record<string, unknown>> {
  if (row.operationType === 'DOWNLOAD_BACKUP') return { link: operation.operationResult ?? null };
  if (row.operationType === 'VM_DELETE' || vmId === undefined) return {};
  try {
    const vm = await ctx.client.call('vm_get', { vmId: operation.vmId ?? vmId }, { signal: extra.signal });
    const out: Record<string, unknown> = { vm };
    if (row.operationType === 'VM_CREATE_SNAPSHOT' && vm.currentSnapshot !== null) {
      const snapshots = await ctx.client.call('vm_snapshot_list', { vmId: vm.id }, { signal: extra.signal });
      out['snapshot'] = snapshots.find((s) => s.id === vm.currentSnapshot) ?? null;
    }
    return out;
  } catch (err) {
    extra.signal.throwIfAborted();
    return { vm: null, note: `The operation is DONE but reading the VM failed: ${(err as Error).message}` };
  }
}

interface WaitReport {
  done: boolean;
  isError: boolean;
  result: CallToolResult;
  operation: Operation;
  data: Record<string, unknown>;
}

async function waitAndReport(
  operationId: number,
  timeoutMs: number,
  extra: CallExtra,
  ctx: ToolContext,
): Promise<WaitReport> {
  const { progressToken } = extra;
  // Notifications are chained and awaited before the result goes out: a progress notification
  // that arrives after its request's response is dropped by the client.
  let notified: Promise<void> = Promise.resolve();
  let outcome: Awaited<ReturnType<typeof waitForOperation>>;
  try {
    outcome = await waitForOperation(ctx.client, operationId, {
      timeoutMs,
      signal: extra.signal,
      minIntervalMs: ctx.waitMinIntervalMs ?? 250,
      maxIntervalMs: ctx.waitMaxIntervalMs ?? 5_000,
      onProgress:
        progressToken === undefined
          ? undefined
          : (percentage, op) => {
              const notification = {
                method: 'notifications/progress' as const,
                params: {
                  progressToken,
                  progress: percentage,
                  total: 100,
                  message: `${op.operationType ?? 'operation'} ${op.status} ${percentage}%`,
                },
              };
              notified = notified.then(() => extra.sendNotification(notification)).catch(() => undefined);
            },
    });
    await notified;
  } catch (err) {
    if (err instanceof WaitTimeoutError) {
      const result = fail(err.message, { operationId, status: 'UNKNOWN' });
      return { done: false, isError: true, result, operation: undefined as never, data: {} };
    }
    throw err;
  }
  const { operation } = outcome;
  if (!outcome.finished) {
    const data = {
      operationId,
      status: operation.status,
      percentage: operation.percentage,
      finished: false,
      next: `Still running after ${Math.round(outcome.elapsedMs / 1000)} s: call wait_for_operation again with operationId ${operationId}.`,
    };
    return { done: false, isError: false, result: ok(data), operation, data };
  }
  if (operation.status === 'ERROR') {
    return { done: true, isError: true, result: operationFailure(operation), operation, data: {} };
  }
  const data = { operationId, status: operation.status, operation };
  return { done: true, isError: false, result: ok(data), operation, data };
}

async function waitTool(
  input: Record<string, unknown>,
  extra: CallExtra,
  ctx: ToolContext,
): Promise<CallToolResult> {
  const operationId = input['operationId'] as number;
  const seconds = (input['timeoutSeconds'] as number | undefined) ?? WAIT_DEFAULT_SECONDS;
  return (await waitAndReport(operationId, seconds * 1000, extra, ctx)).result;
}
