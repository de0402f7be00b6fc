/**
 * Tool results: compact JSON for successes, and for failures a text the model can act on — the
 * provider's code and message plus what to do next. Transport failures say "provider unavailable,
 * try again"; their detail goes to the log, not to the model.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import {
  FlopsApiError,
  FlopsTransportError,
  FlopsValidationError,
  type KnownFlopsErrorCode,
} from '../api/errors.js';
import { type OperationDef, rowOfOperationType } from '../api/operations.js';
import type { Operation } from '../api/types.js';
import { observe } from '../observe.js';
import { trimOldest } from '../util.js';
import { ResolveError } from './resolve.js';

/**
 * A successful result: the data, and as text the same data as JSON. A 2026-07-28 call gets a
 * summary as its text instead (register.ts forModel), so the JSON is written the first time the
 * text is read, not before.
 */
export function ok(data: Record<string, unknown>): CallToolResult {
  let json: string | undefined;
  const text = {
    type: 'text' as const,
    get text(): string {
      json ??= JSON.stringify(data);
      return json;
    },
  };
  return { content: [text], structuredContent: data };
}

/** A successful result with what the server decided for the agent (resolve.ts `notes`) added. */
export function withNotes(result: CallToolResult, notes: readonly string[]): CallToolResult {
  if (notes.length === 0 || result.isError || !result.structuredContent) return result;
  return ok({ ...result.structuredContent, notes: [...notes] });
}

/**
 * The one structured shape of every failed tool call, whatever the tool: what kind of failure it
 * is (the agent's next step depends on it), the provider's or our code, the message, the fields at
 * fault, what to choose from, and what to do next. The text says the same in words.
 */
export interface ToolError {
  kind:
    | 'invalid' // the arguments: fix them (issues, candidates); nothing was sent
    | 'refused' // policy or the user: read-only, not enabled, declined; nothing was sent
    | 'provider' // the provider refused or failed the request (code, message)
    | 'unavailable' // the provider could not be reached or answered in time
    | 'rate-limited' // a rate limit of this server refused the call: wait retryAfter seconds; nothing was sent
    | 'operation-failed' // the asynchronous operation ended in ERROR
    | 'cancelled'
    | 'timeout'
    | 'internal';
  code: string | null;
  message: string;
  issues?: readonly { field: string; message: string }[] | undefined;
  candidates?: readonly Record<string, unknown>[] | undefined;
  next: string;
}

/** A call refused before anything was sent (policy, confirmation): nothing to undo. */
export function refused(
  text: string,
  code: string,
  next: string,
  extra?: Record<string, unknown>,
): CallToolResult {
  return fail(text, { kind: 'refused', code, message: text, next }, { notRun: true, ...extra });
}

export function fail(text: string, error: ToolError, extra?: Record<string, unknown>): CallToolResult {
  return {
    content: [{ type: 'text', text }],
    isError: true,
    structuredContent: {
      error: Object.fromEntries(Object.entries(error).filter(([, v]) => v !== undefined)),
      ...extra,
    },
  };
}

const LIMITED: Record<string, string> = {
  user: 'your rate limit (tool calls a minute per user)',
  account: "the provider account's rate limit (tool calls a minute for all its users)",
  provider: "this server's ceiling on requests to the provider",
};

/**
 * A call a rate limit refused before anything was sent: which limit, and when to retry. `bucket`
 * undefined: the shared limits cannot be read now (Redis unreachable), and a write is not risked.
 */
export function rateLimited(tool: string, bucket: string | undefined, retryAfterMs: number): CallToolResult {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  observe.rateLimited(bucket ?? 'unavailable');
  const why =
    bucket === undefined
      ? 'the rate limits shared by the replicas of this server cannot be checked right now, and a write is not sent unchecked'
      : `${LIMITED[bucket] ?? `the ${bucket} rate limit`} is reached`;
  const text = `${tool} was not run: ${why}. Nothing was sent to the provider. Retry after ${seconds} s.`;
  return fail(
    text,
    {
      kind: 'rate-limited',
      code: bucket === undefined ? 'limits-unavailable' : `${bucket}-limit`,
      message: text,
      next: `Wait ${seconds} s, then call ${tool} again${bucket === 'user' ? '; space out calls, or batch reads with the list tools' : ''}.`,
    },
    { notRun: true, retryAfter: seconds },
  );
}

/** Operations started through this server, per VM: lets a "busy" error name what to wait for. */
export class OperationTracker {
  readonly #byVm = new Map<number, { operationId: number; operationType: string | undefined }>();
  started(vmId: number | undefined, operationId: number, operationType: string | undefined): void {
    if (vmId === undefined) return;
    this.#byVm.set(vmId, { operationId, operationType });
    trimOldest(this.#byVm, 1000);
  }
  lastFor(vmId: number | undefined): { operationId: number; operationType: string | undefined } | undefined {
    return vmId === undefined ? undefined : this.#byVm.get(vmId);
  }
  /** The latest operation started on each VM (a copy, for the fleet dashboard's poll). */
  recent(): { vmId: number; operationId: number; operationType: string | undefined }[] {
    return [...this.#byVm].map(([vmId, op]) => ({ vmId, ...op }));
  }
}

/** Which list tool yields the ids a row takes, for "not found" hints. */
function listToolsFor(row: OperationDef | undefined): string {
  if (!row) return 'the list tools';
  const from: Record<string, string> = {
    vmId: 'vm_list',
    toVmId: 'vm_list',
    snapshotId: 'vm_snapshot_list',
    backup: 'vm_backup_list',
    keyId: 'pubkey_list',
    publicKeyIds: 'pubkey_list',
    keyIds: 'pubkey_list',
    distributionId: 'distribution_list',
    tariffId: 'tariff_list',
    softwareIds: 'software_list',
    tenantId: 'tenant_list',
  };
  const tools = [...new Set(Object.keys(row.params).flatMap((p) => (from[p] ? [from[p]] : [])))];
  if ('operationId' in row.params) return 'the operationId returned by the asynchronous call';
  return tools.length ? tools.join(' / ') : 'the list tools';
}

export interface ErrorContext {
  row?: OperationDef | undefined;
  tool: string;
  params?: Record<string, unknown> | undefined;
  tracker?: OperationTracker | undefined;
  /**
   * The failure came from the write itself, sent once: it may have taken effect. A read that
   * failed before the write (resolving names, the VM for the confirmation) never says so.
   */
  writeSent?: boolean | undefined;
}

/** Map any failure of a tool call to an isError result. Returns the text for logs too. */
export function errorResult(err: unknown, ctx: ErrorContext): CallToolResult {
  if (err instanceof FlopsValidationError) {
    return fail(`${err.message}. Nothing was sent to the provider.`, {
      kind: 'invalid',
      code: 'invalid-arguments',
      message: err.message,
      issues: err.issues.map((i) => ({ field: i.path, message: i.message })),
      next: 'Fix the fields named in issues and call again.',
    });
  }
  if (err instanceof ResolveError) {
    return fail(`${ctx.tool}: ${err.field}: ${err.message} Nothing was changed.`, {
      kind: 'invalid',
      code: 'unresolved',
      message: err.message,
      issues: [{ field: err.field, message: err.message }],
      candidates: err.candidates,
      next: err.candidates?.length
        ? `Call again with ${err.field} set to one of the candidates (by id or exact name).`
        : 'Call again with the field named in issues.',
    });
  }
  if (err instanceof FlopsApiError) {
    const hint = apiHint(err, ctx);
    const fields = err.fieldErrors.map((f) => `${f.field}: ${f.message}`).join('; ');
    // In English, naming the tool the agent called; the provider's own text (often Russian) and
    // code are kept as data.
    const via = err.method === ctx.tool ? '' : ` (while calling the provider's ${err.method})`;
    return fail(
      `${ctx.tool} was refused by Flops${via}: ${explain(err)}${fields ? ` (${fields})` : ''}. Provider's code ${err.errorCode ?? '(validation)'}, message: "${err.errorMessage}". ${hint}`,
      {
        kind: 'provider',
        code: err.errorCode,
        message: err.errorMessage,
        issues: err.fieldErrors.length ? err.fieldErrors : undefined,
        next: hint,
      },
    );
  }
  if (err instanceof FlopsTransportError && err.kind === 'throttled') {
    return rateLimited(ctx.tool, 'provider', (err.retryAfter ?? 1) * 1000);
  }
  if (err instanceof FlopsTransportError) {
    const write = ctx.writeSent === true;
    if (err.kind === 'aborted') {
      const text = `${ctx.tool} was cancelled.${write ? WRITE_MAYBE : ''}`;
      return fail(text, {
        kind: 'cancelled',
        code: null,
        message: text,
        next: write
          ? 'Check with vm_get or the list tools before repeating it.'
          : 'Call again if still needed.',
      });
    }
    const what =
      err.kind === 'timeout'
        ? 'did not answer in time'
        : err.kind === 'http' && err.httpStatus === 429
          ? `is rate-limiting requests${err.retryAfter !== undefined ? ` (retry after ${Math.ceil(err.retryAfter)} s)` : ''}`
          : 'is unavailable';
    const text = `The Flops API ${what} (${err.kind}${err.httpStatus ? ` ${err.httpStatus}` : ''}, ${err.attempts} attempt${err.attempts > 1 ? 's' : ''}).${
      write ? WRITE_MAYBE : ' Try again in a moment.'
    }`;
    return fail(
      text,
      {
        kind: 'unavailable',
        code: err.kind,
        message: `The Flops API ${what}`,
        next: write
          ? 'It may have taken effect: check with vm_get or the list tools before repeating it.'
          : 'Try again in a moment.',
      },
      { httpStatus: err.httpStatus ?? null, retryAfter: err.retryAfter ?? null },
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return fail(`${ctx.tool} failed inside the server: ${message}`, {
    kind: 'internal',
    code: null,
    message,
    next: 'Report this; try again in a moment.',
  });
}

const WRITE_MAYBE =
  ' The request was sent once and NOT retried because it changes state; it may have taken effect. Check with vm_get or the list tools before repeating it.';

/**
 * What each provider error code means, in English (the provider's message may be Russian): one
 * entry for every code errors.ts names, checked by the compiler.
 */
const MEANING = {
  'error.not.owner': 'these credentials have no rights on the object (or are wrong)',
  'error.object.not.found': 'the object named in the call does not exist',
  'error.vm.not.found': 'the VM does not exist',
  'error.operation.already.started': 'the VM is busy with another operation',
  'error.vm.volume.under.operation': "the VM's disk is busy with another operation",
  'vm.limit.exceed': "the account's VM quota is reached",
  'unexpected.exception': 'a failure on the provider side',
  'error.inet.ip.guest.add': 'the IP was added but the guest OS could not be reconfigured',
  'error.inet.ip.guest.remove': 'the IP was removed but is still configured in the guest OS',
  'error.vm.guest.timeout': 'the guest OS did not answer in time',
  'error.balance.insufficient': "the account's balance is empty",
  'error.vm.clone.unsupported': "this VM's distribution cannot be cloned",
} satisfies Record<KnownFlopsErrorCode, string>;

function explain(err: FlopsApiError): string {
  if (err.errorCode === null) return 'some fields were refused';
  return (MEANING as Record<string, string>)[err.errorCode] ?? `error ${err.errorCode}`;
}

function apiHint(err: FlopsApiError, ctx: ErrorContext): string {
  const vmId = ctx.params?.['vmId'] as number | undefined;
  switch (err.errorCode) {
    case 'error.operation.already.started':
    case 'error.vm.volume.under.operation': {
      const fromMessage = /operation\D{0,20}(\d+)/i.exec(err.errorMessage)?.[1];
      const known = ctx.tracker?.lastFor(vmId);
      const id = fromMessage ?? known?.operationId;
      return id
        ? `VM ${vmId ?? ''} is busy with operation ${id}${known?.operationType && !fromMessage ? ` (${known.operationType})` : ''}: call wait_for_operation with operationId ${id}, then retry.`
        : `VM ${vmId ?? ''} is busy with another operation: wait a little (or use wait_for_operation on the operation you started), then retry.`;
    }
    case 'error.vm.not.found':
    case 'error.object.not.found':
      return `Check the ids: get them from ${listToolsFor(ctx.row)}.`;
    case 'error.not.owner':
      return 'The credentials have no rights on this object: check FLOPS_CLIENT_ID / FLOPS_API_KEY, and that tenantId is the tenant that owns the object (tenant_list, vm_get).';
    case 'vm.limit.exceed':
      return "The account's VM quota is reached: delete a VM you no longer need or ask the provider's support for a larger quota.";
    case 'error.inet.ip.guest.add':
      return 'The address was added to the VM but the guest OS could not be reconfigured: configure it inside the guest by hand (see vm_get for the address).';
    case 'error.inet.ip.guest.remove':
      return 'The address was removed from the VM but is still configured in the guest OS: remove it there by hand.';
    case 'error.balance.insufficient':
      return "The account's balance is empty: top it up with the provider, then retry.";
    case 'error.vm.clone.unsupported':
      return "This VM's distribution cannot be cloned: install a new VM (vm_install) instead.";
    case 'unexpected.exception':
      return 'A failure on the provider side: try again in a moment; if it persists, contact support.';
    case null:
      if (err.fieldErrors.some((f) => /fixed tariff/i.test(f.message))) {
        return 'The VM has a fixed tariff, whose memory, disk and CPU come with it: pick another tariff with vm_tariff_change (tariff_list shows them), or move the VM to an on-demand tariff (onDemand: true) to size it freely.';
      }
      return 'The provider refused the fields named above: fix them (rules that depend on the VM, such as its tariff, show in vm_get and tariff_list) and call again.';
    default:
      return 'See the provider message above.';
  }
}

/** Text for an operation that ended in ERROR, with a hint by operation type. */
export function operationFailure(operation: Operation): CallToolResult {
  const type = operation.operationType ?? 'operation';
  let hint =
    rowOfOperationType(operation.operationType)?.failureHint ?? 'Check the VM with vm_get before retrying.';
  if (
    operation.errorCode === 'error.inet.ip.guest.add' ||
    operation.errorCode === 'error.inet.ip.guest.remove'
  ) {
    hint =
      operation.errorCode === 'error.inet.ip.guest.add'
        ? 'The IP was added but must be configured in the guest OS by hand.'
        : 'The IP was removed but is still configured in the guest OS: remove it there by hand.';
  }
  return fail(
    `Operation ${operation.id} (${type}${operation.vmId ? ` on VM ${operation.vmId}` : ''}) failed: ${operation.errorCode ?? 'error'}: ${operation.errorMessage ?? 'no message'}. ${hint}`,
    {
      kind: 'operation-failed',
      code: operation.errorCode,
      message: operation.errorMessage ?? 'no message',
      next: hint,
    },
    { operationId: operation.id, vmId: operation.vmId, operation, hint },
  );
}
