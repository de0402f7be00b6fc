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
import {
  type CallToolResult,
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequiredResult,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  ProtocolErrorCode,
  type Server,
  type ServerContext,
  type ServerNotification,
  type Tool,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { FlopsClient } from '../api/client.js';
import { FlopsValidationError, isTransportError } from '../api/errors.js';
import { isAsync, type OperationDef, type Toolset, validationIssues } from '../api/operations.js';
import type { Operation, OperationRef, Vm } from '../api/types.js';
import type { ConfirmMode } from '../config.js';
import type { Logger } from '../log.js';
import { observe, type ToolCallEnd, type ToolOutcome } from '../observe.js';
import type { Verdict } from '../shared/limits.js';
import { isRecord } from '../util.js';
import type { AppHook } from './app.js';
import type { AuditEntry, AuditLog } from './audit.js';
import { outputSchema, PLURAL, summarize } from './output.js';
import { buildPlan, type Plan, protectedBy } from './plan.js';
import {
  type Confirmation,
  type ConfirmSeal,
  type ConfirmState,
  confirmDestructive,
  quoted,
  readOnlyRefusal,
} from './policy.js';
import { nameArgIssues, resolveArgs } from './resolve.js';
import {
  errorResult,
  fail,
  OperationTracker,
  ok,
  operationFailure,
  rateLimited,
  refused,
  withNotes,
} from './results.js';
import { WAIT_DEFAULT_SECONDS } from './selection.js';
import {
  type Finishing,
  OperationTaskStore,
  TASKS_EXTENSION,
  type TaskSeal,
  type TaskState,
  UnknownTaskError,
} from './tasks.js';
import { type ToolAnnotations, type ToolSpec, WAIT_TOOL } from './tools.js';
import { BASE_TOOLS, BASE_TOOLSETS, metaTools } from './toolsets.js';
import { WaitTimeoutError, waitForOperation } from './wait.js';

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
  /** The seal of confirmation state (policy.ts). */
  seal: ConfirmSeal;
  /** 2026-07-28 servers: asynchronous tools answer with a task when the client takes tasks. */
  tasks?: TaskSeal | undefined;
  /** FLOPS_PROTECT: VM ids and name patterns no destructive tool may touch. */
  protect?: readonly string[] | undefined;
  /** FLOPS_SAFETY_SNAPSHOT: a restore point before every risky change (row `safetySnapshot`). */
  safetySnapshots?: boolean | undefined;
  /** --dynamic-toolsets: a small first tool list, toolsets enabled on demand (toolsets.ts). */
  dynamicToolsets?: boolean | undefined;
  /**
   * The rate limits of the caller (per user, per provider account: shared/limits.ts), asked once per
   * call before anything is sent. Never throws.
   */
  limit?: ((write: boolean) => Promise<Verdict>) | undefined;
}

/** What the SDK hands a request handler, reduced to what tools use. */
export interface CallExtra {
  signal: AbortSignal;
  progressToken?: string | number | undefined;
  sendNotification: (notification: ServerNotification) => Promise<void>;
  /** The client's capabilities for this request (see clientCapabilities). */
  capabilities: ClientCapabilities | undefined;
  /** Multi-round-trip: this round's answers and verified state (2026, or the 2025 legacy shim). */
  inputResponses: Record<string, unknown> | undefined;
  state: ConfirmState | undefined;
  /** A 2026-07-28 request: the text beside structured data is a summary, not a JSON copy. */
  modern: boolean;
  /** A log notification to the client (2025 sessions; on 2026 only when the request asks for it). */
  log: (level: 'warning' | 'info', data: unknown) => Promise<void>;
  /** The caller's W3C Trace Context: request `_meta` (SEP-414), else the HTTP request's headers. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /** The 2025 session's id, for traces (its first 8 characters only are recorded). */
  session?: string | undefined;
}

/**
 * JSON Schema of a tool's input, trimmed of what costs tokens and says nothing (tools/list is paid
 * in every prompt): zod's ±MAX_SAFE_INTEGER bounds on integers; `minimum: 1` on ids (an id is a
 * positive integer by nature: `vmId`, `keyIds`' items); `minLength: 1` (an empty name or key is
 * refused with a message anyway); `exclusiveMinimum: 0` where `minimum: 1` is shorter; the
 * description of an array's items (the array's own says it); the type beside a `const`. Every
 * property keeps its description and type, and the bounds that tell the model something (memory,
 * disk, cores, lengths); the server validates every bound whether it is listed or not. The regular
 * expression beside a `format` (ipv4) goes, and a choice of constants is one `enum`.
 */
function compactSchema(node: unknown, name = ''): unknown {
  if (Array.isArray(node)) return node.map((item) => compactSchema(item));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  const isItems = name === 'items' || name === 'itemsId';
  for (const [key, value] of Object.entries(node)) {
    if (key === '$schema') continue;
    if (key === 'maximum' && value === Number.MAX_SAFE_INTEGER) continue;
    if (key === 'minimum' && value === Number.MIN_SAFE_INTEGER) continue;
    if (key === 'minLength' && value === 1) continue;
    if (key === 'description' && isItems) continue;
    // `format: ipv4` says what zod's long regular expression beside it says.
    if (key === 'pattern' && 'format' in node) continue;
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, compactSchema(v, k)]));
      continue;
    }
    out[key] = compactSchema(value, key === 'items' ? (/Ids$/.test(name) ? 'itemsId' : 'items') : key);
  }
  if (out['type'] === 'integer' && out['exclusiveMinimum'] === 0) {
    delete out['exclusiveMinimum'];
    out['minimum'] = 1;
  }
  // A choice of numbers (zod writes `anyOf` of `const`s): one `enum`.
  const choices = out['anyOf'];
  if (Array.isArray(choices) && choices.every((c) => Object.keys(c as object).join() === 'const')) {
    delete out['anyOf'];
    out['enum'] = choices.map((c) => (c as { const: unknown }).const);
  }
  const isId = /Id$/.test(name) || name === 'itemsId';
  if (isId && out['type'] === 'integer' && out['minimum'] === 1) delete out['minimum'];
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
    // The API tools and wait_for_operation declare their data; the meta tools of dynamic toolsets do not.
    ...(spec.row || spec.name === WAIT_TOOL
      ? { outputSchema: outputSchema(spec.row) as Tool['outputSchema'] }
      : {}),
    annotations: listedAnnotations(spec.annotations),
  };
}

/**
 * The hints as listed: those that differ from the spec's defaults (readOnlyHint false,
 * destructiveHint true, idempotentHint false, openWorldHint true), and destructiveHint on every tool
 * that writes, true or false, for clients that look for it. destructiveHint and idempotentHint mean
 * nothing on a read-only tool (the spec), so a read says `readOnlyHint: true` alone. Every tool's
 * hints read the same as all four spelled out, for 50 B a tool less in every prompt.
 */
function listedAnnotations(a: ToolAnnotations): Partial<ToolAnnotations> {
  if (a.readOnlyHint) return { readOnlyHint: true, ...(a.openWorldHint ? {} : { openWorldHint: false }) };
  return {
    destructiveHint: a.destructiveHint,
    ...(a.idempotentHint ? { idempotentHint: true } : {}),
    ...(a.openWorldHint ? {} : { openWorldHint: false }),
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
  // Dynamic toolsets need a session to remember what was enabled: not in stateless serving.
  const dynamic = ctx.dynamicToolsets === true && ctx.stateless !== true;
  const enabled = new Set<Toolset>(BASE_TOOLSETS);
  const visible = (spec: ToolSpec) => !dynamic || enabled.has(spec.toolset) || BASE_TOOLS.includes(spec.name);
  const meta = dynamic
    ? metaTools(specs, enabled, (toolset) => {
        enabled.add(toolset);
        listed = undefined;
        server.sendToolListChanged().catch(() => undefined);
      })
    : [];
  server.registerCapabilities({ tools: { listChanged: dynamic } });
  server.setRequestHandler('tools/list', (_request, rc) => {
    listed ??= [
      ...specs.filter(visible).map((spec) => PREBUILT?.[spec.name] ?? toolDefinition(spec)),
      ...meta.map((m) => toolDefinition(m.spec)),
    ];
    return { tools: ctx.app ? ctx.app.list(listed, clientCapabilities(server, rc, ctx.stateless)) : listed };
  });
  if (ctx.tasks) installTaskHandlers(server, ctx, ctx.tasks);
  server.setRequestHandler('tools/call', async (request, rc) => {
    const extra = callExtra(server, rc, ctx);
    const { name } = request.params;
    const args = request.params.arguments ?? {};
    const spec = byName.get(name);
    if (spec && visible(spec)) return callTool(spec, args, extra, ctx, tracker);
    if (spec) {
      return callTool(spec, args, extra, ctx, tracker, {
        disabled: `toolset "${spec.toolset}" is not enabled in this session: call toolset_enable with toolset "${spec.toolset}" first`,
      });
    }
    const metaTool = meta.find((m) => m.spec.name === name);
    if (metaTool)
      return callTool(metaTool.spec, args, extra, ctx, tracker, { run: (input) => metaTool.run(input) });
    const app = ctx.app?.tool(name, extra.capabilities);
    if (app) return callTool(app.spec, args, extra, ctx, tracker, { run: app.run });
    // A tool of ours that this server does not offer (read-only, toolsets, exclusions): refused
    // with the reason, through the seam (audited); a name that is no tool at all: protocol error.
    const disabled = known.get(name);
    if (disabled) return callTool(disabled, args, extra, ctx, tracker, { disabled: true });
    throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown tool: ${name}`);
  });
}

/**
 * The client's capabilities for this request: the per-request envelope's on 2026-07-28, the
 * session's on 2025; undefined when they cannot be known (stateless 2025 HTTP).
 */
export function clientCapabilities(
  server: Server,
  rc: ServerContext,
  stateless: boolean | undefined,
): ClientCapabilities | undefined {
  // The envelope's keys are wire-only in the SDK's public types.
  const envelope = (rc.mcpReq.envelope as Record<string, unknown> | undefined)?.[
    CLIENT_CAPABILITIES_META_KEY
  ];
  if (envelope) return envelope as ClientCapabilities;
  return stateless ? undefined : server.getClientCapabilities();
}

/** What the SDK hands a tools/call handler, reduced to what the seam uses. */
function callExtra(server: Server, rc: ServerContext, ctx: ToolContext): CallExtra {
  const meta = rc.mcpReq._meta as Record<string, unknown> | undefined;
  const headers = rc.http?.req?.headers;
  const fromMeta = typeof meta?.['traceparent'] === 'string';
  const traceparent = fromMeta ? (meta?.['traceparent'] as string) : headers?.get('traceparent');
  const tracestate = fromMeta ? meta?.['tracestate'] : headers?.get('tracestate');
  return {
    traceparent: traceparent ?? undefined,
    tracestate: typeof tracestate === 'string' ? tracestate : undefined,
    session: rc.sessionId,
    signal: rc.mcpReq.signal,
    progressToken: rc.mcpReq._meta?.progressToken,
    sendNotification: (n) => rc.mcpReq.notify(n),
    capabilities: clientCapabilities(server, rc, ctx.stateless),
    modern: rc.mcpReq.envelope !== undefined,
    inputResponses: rc.mcpReq.inputResponses,
    state: rc.mcpReq.requestState<ConfirmState>(),
    log: (level, data) => rc.mcpReq.log(level, data, 'flops-mcp'),
  };
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

interface CallHow {
  run?: (
    input: Record<string, unknown>,
    signal: AbortSignal,
    tracker: OperationTracker,
  ) => Promise<CallToolResult>;
  /** Refused with the reason: not offered on this server (true), or a reason of its own. */
  disabled?: boolean | string;
}

/**
 * One tool call, whatever the tool: an API tool, wait_for_operation, an app-only tool (`run`), or
 * one this server does not offer (`disabled`: refused with the reason). Observed (observe.ts): a
 * span that continues the caller's trace, and the call's outcome and duration in the metrics.
 */
export function callTool(
  spec: ToolSpec,
  args: unknown,
  extra: CallExtra,
  ctx: ToolContext,
  tracker: OperationTracker,
  how: CallHow = {},
): Promise<CallToolResult | InputRequiredResult> {
  return observe.toolCall(
    {
      tool: spec.name,
      era: extra.modern ? 'modern' : 'legacy',
      traceparent: extra.traceparent,
      tracestate: extra.tracestate,
      session: extra.session?.slice(0, 8),
    },
    (finish) => runTool(spec, args, extra, ctx, tracker, how, finish),
  );
}

async function runTool(
  spec: ToolSpec,
  args: unknown,
  extra: CallExtra,
  ctx: ToolContext,
  tracker: OperationTracker,
  how: CallHow,
  finish: (end: ToolCallEnd) => void,
): Promise<CallToolResult | InputRequiredResult> {
  const started = performance.now();
  const write = !spec.annotations.readOnlyHint;
  let params: Record<string, unknown> | undefined;
  let confirmation: Confirmation = 'not-asked';
  let outcome: Exclude<AuditEntry['outcome'], 'sent'> | undefined;
  let result: CallToolResult;
  // What a cancelled call must still report: the write went out, and the operation it started.
  let sent = false;
  let operationId: number | undefined;
  /** The task that stands for the operation (Tasks extension), answered instead of the result. */
  let task: TaskState | undefined;
  /** dryRun: true — the plan, and nothing is sent or audited. */
  let dryRun = false;
  let plan: Plan | undefined;
  /** A power action on a VM already in that state: nothing is sent. */
  let noOp: CallToolResult | undefined;
  /** The restore point taken before a risky change, or why none was. */
  let restorePoint: RestorePoint = {};
  // The caller's rate limits, before anything is read or sent (a refused call is not counted).
  const limited = (write && ctx.readOnly) || how.disabled ? undefined : await ctx.limit?.(write);
  try {
    if (write && ctx.readOnly) {
      outcome = 'refused';
      result = readOnlyRefusal(spec);
    } else if (limited && !limited.ok) {
      outcome = 'refused';
      result = rateLimited(spec.name, limited.bucket, limited.retryAfterMs);
    } else if (how.disabled) {
      outcome = 'refused';
      result =
        typeof how.disabled === 'string'
          ? refused(
              `${spec.name} is not available yet: ${how.disabled}. Nothing was sent.`,
              'toolset-not-enabled',
              `${how.disabled}.`,
            )
          : refused(
              `${spec.name} is not enabled on this server (toolsets, --tools, --exclude-tools or --no-destructive). Nothing was sent.`,
              'tool-not-enabled',
              'Use the tools this server lists (tools/list).',
            );
    } else {
      const input = parseArgs(spec, args);
      if (how.run) {
        result = await how.run(input, extra.signal, tracker);
      } else if (!spec.row) {
        operationId = input['operationId'] as number;
        result = await waitTool(input, extra, ctx);
      } else {
        const resolved = await resolveArgs(spec.row, input, {
          client: ctx.client,
          defaultTenantId: ctx.defaultTenantId,
          signal: extra.signal,
        });
        params = resolved.params;
        dryRun = input['dryRun'] === true;
        let refusal: CallToolResult | undefined;
        const destructive = spec.annotations.destructiveHint;
        // The VM as it is now: named in the question (also when tenantId was given and nothing was
        // read yet), checked against FLOPS_PROTECT, and the "before" of a dry run.
        const vmId = params['vmId'];
        const vm =
          resolved.vm ??
          (typeof vmId === 'number' &&
          (dryRun ||
            spec.row.noOpIn !== undefined ||
            (destructive && (ctx.confirm ?? 'elicit') !== 'off') ||
            (destructive && ctx.protect?.length))
            ? await ctx.client.call('vm_get', { vmId }, { signal: extra.signal })
            : undefined);
        const rule = destructive && vm && ctx.protect ? protectedBy(ctx.protect, vm) : undefined;
        if (rule !== undefined) {
          refusal = refused(
            `${spec.name} is refused: VM ${vm!.id} (name ${quoted(vm!.name)}) is protected by the operator's rule "${rule}" (FLOPS_PROTECT). Nothing was sent.`,
            'protected',
            'Destructive tools cannot touch this VM on this server; ask the operator if this is intended.',
            { rule },
          );
          confirmation = 'refused';
        } else if (dryRun) {
          plan = buildPlan(spec, params, vm);
        } else if (spec.row.noOpIn && vm?.state === spec.row.noOpIn) {
          // Starting a running VM or stopping a stopped one changes nothing: say so, send nothing.
          noOp = ok({
            vmId: vm.id,
            status: 'ALREADY',
            state: vm.state,
            next: `VM ${vm.id} is already ${vm.state}: ${spec.name} was not sent.`,
          });
        } else if (destructive) {
          const decided = await confirmDestructive(ctx.confirm ?? 'elicit', {
            spec,
            params,
            vm,
            capabilities: extra.capabilities,
            inputResponses: extra.inputResponses,
            state: extra.state,
            seal: ctx.seal,
            actor: ctx.actor,
          });
          // The question goes out; the call comes back with the answer (nothing sent, nothing audited).
          if (decided.ask) {
            observe.confirmation('asked');
            finish({ outcome: 'input-required' });
            return decided.ask;
          }
          refusal = decided.refusal;
          confirmation = decided.confirmation;
          observe.confirmation(confirmation);
        }
        if (refusal) {
          outcome =
            confirmation === 'cancelled' ? 'cancelled' : confirmation === 'declined' ? 'declined' : 'refused';
          result = refusal;
        } else if (plan) {
          result = withNotes(ok({ dryRun: true, plan }), resolved.notes);
        } else if (noOp) {
          result = noOp;
        } else {
          restorePoint = await safetySnapshot(spec, params, input['safetySnapshot'] === true, extra, ctx);
          if (restorePoint.refusal) {
            outcome = 'refused';
            result = restorePoint.refusal;
          } else {
            if (write && ctx.audit?.sentFirst) {
              await ctx.audit.write({
                tool: spec.name,
                vmId: params['vmId'] as number | undefined,
                args: params,
                confirmation,
                outcome: 'sent',
                clientId: ctx.actor,
              });
            }
            sent = write;
            const value = await ctx.client.call(spec.name as never, params as never, {
              signal: extra.signal,
            });
            if (isAsync(spec.row)) operationId = (value as OperationRef).operationId;
            if (
              isAsync(spec.row) &&
              ctx.tasks &&
              extra.modern &&
              extra.capabilities?.extensions?.[TASKS_EXTENSION]
            ) {
              // The provider accepted it: the operation exists, so a tasks/get on the task resolves.
              const ref = value as OperationRef;
              const vmId = ref.vmId ?? (params['vmId'] as number | undefined);
              tracker.started(vmId, ref.operationId, spec.row.operationType);
              task = taskStore(ctx, ctx.tasks).create(
                { operationId: ref.operationId, tool: spec.name, vmId },
                spec.row.operationType,
              );
              observe.taskCreated(spec.name);
              result = withNotes(
                ok({
                  operationId: ref.operationId,
                  ...(vmId !== undefined ? { vmId } : {}),
                  status: 'STARTED',
                }),
                resolved.notes,
              );
            } else {
              result = withNotes(
                await shape(spec.row, params, value, input['wait'] === true, extra, ctx, tracker),
                resolved.notes,
              );
            }
          }
        }
      }
    }
  } catch (err) {
    // The provider ceiling refused the request before it went out: nothing was sent.
    if (isTransportError(err, 'throttled') && operationId === undefined) sent = false;
    // Sent and accepted (an operation exists) but following it failed: say what was accepted.
    const accepted = sent && operationId !== undefined;
    result = errorResult(err, {
      row: spec.row,
      tool: spec.name,
      params,
      tracker,
      writeSent: sent && !accepted,
    });
    if (accepted)
      result = acceptedThenFailed(spec.name, operationId!, params?.['vmId'] as number | undefined, result);
    if (err instanceof FlopsValidationError || isTransportError(err, 'throttled')) outcome = 'refused';
    else
      ctx.log.warn(`tool ${spec.name} failed`, { error: err instanceof Error ? err.message : String(err) });
  }
  if (restorePoint.note && !result.isError) {
    const data = result.structuredContent as Record<string, unknown> | undefined;
    result = {
      ...result,
      content: [...result.content, { type: 'text', text: restorePoint.note }],
      ...(data ? { structuredContent: { ...data, safetySnapshot: restorePoint.snapshot ?? null } } : {}),
    };
  }
  if (extra.signal.aborted && (sent || operationId !== undefined)) {
    result = await reportCancelled(spec.name, write, operationId, extra, ctx);
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
  if (write && ctx.audit && !plan) {
    const firstText = result.content[0]?.type === 'text' ? result.content[0].text : '';
    const final = outcome ?? (result.isError ? 'error' : 'ok');
    const warning = await ctx.audit.write({
      tool: spec.name,
      vmId,
      args: params ?? (isRecord(args) ? args : {}),
      // Before parsing, anything not of the tool's schema is logged by name only.
      known: params ? undefined : Object.keys(spec.input.shape),
      confirmation,
      outcome: final,
      operationId: (data?.['operationId'] as number | undefined) ?? undefined,
      taskId: task?.taskId,
      error: result.isError ? firstText.slice(0, 500) : undefined,
      clientId: ctx.actor,
      clientVerified: ctx.actor === undefined ? undefined : final === 'ok',
    });
    // The write's real result still goes back (with its operation id); the failure beside it.
    if (warning) {
      result = {
        ...result,
        content: [...result.content, { type: 'text', text: `Warning: ${warning}.` }],
        ...(data ? { structuredContent: { ...data, auditWarning: warning } } : {}),
      };
    }
  }
  const final: ToolOutcome =
    task && !result.isError ? 'task' : (outcome ?? (result.isError ? 'error' : 'ok'));
  finish({ outcome: final, operationId });
  if (task && !result.isError) {
    ctx.log.debug(`tool ${spec.name}`, { ms: Math.round(performance.now() - started), task: true });
    return { resultType: 'task', ...task } as unknown as CallToolResult;
  }
  if (extra.modern) result = forModel(spec.row, result);
  ctx.log.debug(`tool ${spec.name}`, {
    ms: Math.round(performance.now() - started),
    isError: result.isError === true,
  });
  return result;
}

interface RestorePoint {
  /** Why the change does not go ahead (the snapshot could not be taken). */
  refusal?: CallToolResult;
  /** Told with the result: the snapshot and the call that undoes the change, or why none. */
  note?: string;
  snapshot?: { id: number | null; name: string; undo: string };
}

/**
 * A restore point before a risky change (row `safetySnapshot`), when the operator
 * (FLOPS_SAFETY_SNAPSHOT) or the call asks: a snapshot named for the change, waited for. A quota or
 * a failure stops the change with the reason; where the call deletes the snapshots anyway, it says so.
 */
async function safetySnapshot(
  spec: ToolSpec,
  params: Record<string, unknown>,
  asked: boolean,
  extra: CallExtra,
  ctx: ToolContext,
): Promise<RestorePoint> {
  const kind = spec.row?.safetySnapshot;
  if (!kind || !(asked || ctx.safetySnapshots)) return {};
  if (kind === 'lost') {
    return { note: `No safety snapshot: ${spec.name} deletes the VM's snapshots anyway.` };
  }
  const vmId = params['vmId'] as number;
  const name = `before-${spec.name.replace(/^vm_/, '').replace(/_/g, '-')}-${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}`;
  const stop = (why: string): RestorePoint => ({
    refusal: refused(
      `${spec.name} was NOT run: the safety snapshot of VM ${vmId} could not be taken (${why}). Nothing else was sent.`,
      'safety-snapshot-failed',
      'Free a snapshot slot (vm_snapshot_list, vm_snapshot_delete) or call without the safety snapshot if the user agrees.',
    ),
  });
  try {
    const ref = await ctx.client.call(
      'vm_snapshot_create',
      { vmId, tenantId: params['tenantId'] as number, name },
      { signal: extra.signal },
    );
    const done = await waitForOperation(ctx.client, ref.operationId, {
      timeoutMs: WAIT_DEFAULT_SECONDS * 1000,
      signal: extra.signal,
      minIntervalMs: ctx.waitMinIntervalMs ?? 250,
      maxIntervalMs: ctx.waitMaxIntervalMs ?? 5_000,
    });
    if (!done.finished)
      return stop(`operation ${ref.operationId} still running after ${WAIT_DEFAULT_SECONDS} s`);
    if (done.operation.status === 'ERROR') {
      return stop(`${done.operation.errorCode ?? 'error'}: ${done.operation.errorMessage ?? 'no message'}`);
    }
    const vm = await ctx.client.call('vm_get', { vmId }, { signal: extra.signal });
    const undo = `vm_snapshot_rollback with vmId ${vmId} and snapshotId ${vm.currentSnapshot}`;
    return {
      note: `Safety snapshot ${vm.currentSnapshot} "${name}" was taken first; to undo the change: ${undo}.`,
      snapshot: { id: vm.currentSnapshot, name, undo },
    };
  } catch (err) {
    extra.signal.throwIfAborted();
    const text = errorResult(err, { tool: 'vm_snapshot_create' }).content[0];
    return stop(text?.type === 'text' ? text.text : String(err));
  }
}

/**
 * The provider accepted the write (operation `operationId` runs) and something after it failed
 * (following the operation, reading the VM back): the result says what was accepted first, so that
 * the agent follows the operation instead of repeating a billed or destructive call.
 */
function acceptedThenFailed(
  tool: string,
  operationId: number,
  vmId: number | undefined,
  failure: CallToolResult,
): CallToolResult {
  const first = failure.content[0];
  const detail = first?.type === 'text' ? first.text : 'an error';
  const text = `${tool} was accepted by the provider: operation ${operationId}${vmId !== undefined ? ` on VM ${vmId}` : ''} was started and may still be running. Following it then failed: ${detail} Do not repeat ${tool}: call wait_for_operation with operationId ${operationId}.`;
  const data = failure.structuredContent as { error?: Record<string, unknown> } | undefined;
  return {
    ...failure,
    content: [{ type: 'text', text }],
    structuredContent: {
      ...data,
      error: {
        ...data?.error,
        next: `Call wait_for_operation with operationId ${operationId}; do not repeat ${tool}.`,
      },
      accepted: true,
      operationId,
      ...(vmId !== undefined ? { vmId } : {}),
    },
  };
}

/**
 * 2026-07-28: the model reads a summary; the data is in structuredContent (declared by
 * outputSchema). 2025 clients keep the JSON text they have always had.
 */
function forModel(row: OperationDef | undefined, result: CallToolResult): CallToolResult {
  const data = result.structuredContent as Record<string, unknown> | undefined;
  if (result.isError || !data) return result;
  return { ...result, content: [{ type: 'text', text: summarize(row, data) }] };
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
  extra: CallExtra,
  ctx: ToolContext,
): Promise<CallToolResult> {
  const message = !write
    ? `${tool} was cancelled; operation ${operationId} is not affected and may still be running: call wait_for_operation with operationId ${operationId} to follow it.`
    : operationId !== undefined
      ? `${tool} was cancelled after the provider accepted it: operation ${operationId} was started and may still be running. Follow it with wait_for_operation (operationId ${operationId}) before repeating ${tool}.`
      : `${tool} was cancelled after its request was sent: it may have taken effect. Check with vm_get or the list tools before repeating it.`;
  const data = { tool, operationId: operationId ?? null, status: 'CANCELLED', message };
  ctx.log.warn(`tool ${tool} cancelled`, { operationId: operationId ?? null });
  await extra.log('warning', data).catch(() => undefined);
  return fail(
    message,
    {
      kind: 'cancelled',
      code: null,
      message,
      next:
        operationId !== undefined
          ? `Follow operation ${operationId} with wait_for_operation.`
          : 'Check with vm_get or the list tools before repeating it.',
    },
    { tool, operationId: operationId ?? null, status: 'CANCELLED' },
  );
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
      ? ok({ [PLURAL[returns.list]]: value })
      : ok({ [(returns as { object: string }).object]: value });
  }
  const ref = value as OperationRef;
  const vmId = ref.vmId ?? (params['vmId'] as number | undefined);
  tracker.started(vmId, ref.operationId, row.operationType);
  if (!wait) {
    return ok({
      operationId: ref.operationId,
      ...(vmId !== undefined ? { vmId } : {}),
      status: 'STARTED',
      next: `Asynchronous: call wait_for_operation with operationId ${ref.operationId} to follow it.`,
    });
  }
  const outcome = await waitAndReport(ref.operationId, WAIT_DEFAULT_SECONDS * 1000, extra, ctx);
  if (outcome.isError || !outcome.done) return outcome.result;
  return finishedResult(row, outcome.operation, vmId, extra.signal, ctx);
}

/**
 * The result of a finished operation, the same for `wait: true`, wait_for_operation's caller and a
 * task: the operation and what it produced, read back; an operation that ended in ERROR is a tool
 * error with the provider's code and message and our hint.
 */
async function finishedResult(
  row: OperationDef,
  operation: Operation,
  vmId: number | undefined,
  signal: AbortSignal | undefined,
  ctx: ToolContext,
): Promise<CallToolResult> {
  const { reads, result } = finishing(row, operation, vmId, ctx);
  const out: Record<string, unknown> = {};
  try {
    for (const read of reads) await read(out, signal);
  } catch (err) {
    signal?.throwIfAborted();
    return result(out, err as Error);
  }
  return result(out);
}

/**
 * How a finished operation's result is made: the reads of what it produced (the VM, then the new
 * snapshot), one provider read each, and the result from them. A task takes them one get at a time.
 */
function finishing(
  row: OperationDef,
  operation: Operation,
  vmId: number | undefined,
  ctx: ToolContext,
): Finishing {
  const data = { operationId: operation.id, status: operation.status, operation };
  const produces = row.produces ?? 'vm';
  const reads: Finishing['reads'] = [];
  if (operation.status !== 'ERROR' && (produces === 'vm' || produces === 'snapshot') && vmId !== undefined) {
    reads.push(async (out, signal) => {
      out['vm'] = await ctx.client.call('vm_get', { vmId: operation.vmId ?? vmId }, { signal });
    });
    if (produces === 'snapshot')
      reads.push(async (out, signal) => {
        const vm = out['vm'] as Vm;
        if (vm.currentSnapshot === null) return;
        const snapshots = await ctx.client.call('vm_snapshot_list', { vmId: vm.id }, { signal });
        out['snapshot'] = snapshots.find((s) => s.id === vm.currentSnapshot) ?? null;
      });
  }
  return {
    reads,
    result: (out, failure) => {
      if (operation.status === 'ERROR') return operationFailure(operation);
      if (produces === 'link') return ok({ ...data, link: operation.operationResult ?? null });
      if (failure)
        return ok({
          ...data,
          vm: null,
          note: `The operation is DONE but reading the VM failed: ${failure.message}`,
        });
      return ok({ ...data, ...out });
    },
  };
}

/** The store of this server's tasks (tasks.ts), over its client. */
function taskStore(ctx: ToolContext, seal: TaskSeal): OperationTaskStore {
  return new OperationTaskStore(seal, ctx.client, (row, operation, vmId) =>
    finishing(row, operation, vmId, ctx),
  );
}

/** The params of tasks/get, tasks/update and tasks/cancel (built once: a server is built for every stateless request). */
const TASK_PARAMS = z.looseObject({ taskId: z.string() });

/**
 * tasks/get, tasks/update and tasks/cancel (2026-07-28, Tasks extension). An id that does not open
 * (other credentials, altered, expired) is unknown: -32602, and nothing is read.
 */
function installTaskHandlers(server: Server, ctx: ToolContext, seal: TaskSeal): void {
  server.registerCapabilities({ extensions: { [TASKS_EXTENSION]: {} } });
  const unknown =
    (method: string) =>
    (err: unknown): never => {
      observe.taskRequest(method, err instanceof UnknownTaskError ? 'unknown' : 'error');
      if (err instanceof UnknownTaskError)
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message);
      throw err;
    };
  /** Only for a request that declares the extension: -32021 otherwise, as the extension says. */
  const declared = (rc: ServerContext) => {
    if (!clientCapabilities(server, rc, true)?.extensions?.[TASKS_EXTENSION]) {
      throw new MissingRequiredClientCapabilityError({
        requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
      });
    }
  };
  server.setRequestHandler('tasks/get', { params: TASK_PARAMS }, async (p, rc) => {
    declared(rc);
    const state = await taskStore(ctx, seal).get(p.taskId, rc.mcpReq.signal).catch(unknown('tasks/get'));
    observe.taskRequest('tasks/get', state.status);
    const { vmId, row, result, ...task } = state;
    // A finished task's VM changed: subscribers re-read it (repeated reads of it say so again).
    if (state.status === 'completed') ctx.onChange?.(vmId);
    // The inner result is a 2026-07-28 CallToolResult: it carries its own resultType.
    return result ? { ...task, result: { ...forModel(row, result), resultType: 'complete' } } : task;
  });
  // tasks/update (nothing is ever asked during a task) and tasks/cancel (the provider cannot stop
  // an operation): acknowledged for a task of this caller.
  for (const method of ['tasks/update', 'tasks/cancel'] as const) {
    server.setRequestHandler(method, { params: TASK_PARAMS }, (p, rc) => {
      declared(rc);
      const store = taskStore(ctx, seal);
      try {
        if (method === 'tasks/cancel') store.cancel(p.taskId);
        else store.update(p.taskId);
        observe.taskRequest(method, 'ok');
      } catch (err) {
        unknown(method)(err);
      }
      return {};
    });
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
      const result = fail(
        err.message,
        {
          kind: 'timeout',
          code: null,
          message: err.message,
          next: `Call wait_for_operation again with operationId ${operationId}.`,
        },
        { operationId, status: 'UNKNOWN' },
      );
      return { done: false, isError: true, result, operation: undefined as never, data: {} };
    }
    throw err;
  }
  const { operation } = outcome;
  if (!outcome.finished) {
    const data = {
      operationId,
      // The VM it concerns (for install and clone, the new one): the agent needs it to go on.
      ...(operation.vmId !== null ? { vmId: operation.vmId } : {}),
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
