/**
 * FlopsClient: the typed client of the Flops API, built from the operation table.
 *
 * `client.call('vm_get', { vmId })` validates the parameters with the row's schema, encodes them
 * (`wire.ts`), sends one GET over a keep-alive undici pool, parses the envelope and normalises the
 * result (`types.ts`). Reads are retried on transport failures, 5xx and 429 (honouring
 * Retry-After) with backoff and jitter; writes are sent exactly once, because every Flops method is
 * a GET and only the table knows which calls are safe to repeat. Every call has a deadline and
 * takes the caller's AbortSignal.
 */
import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Agent, type Dispatcher } from 'undici';
import type { z } from 'zod';
import { observe, type ProviderCallEnd } from '../observe.js';
import { sleep } from '../util.js';
import {
  type FieldError,
  FlopsApiError,
  FlopsTransportError,
  FlopsValidationError,
  redact,
  type TransportErrorKind,
} from './errors.js';
import {
  getOperation,
  isRead,
  type OperationDef,
  type ParamsOf,
  paramsSchema,
  type ResultOf,
  type ToolName,
  validationIssues,
} from './operations.js';
import { normalize, normalizeList, type Operation } from './types.js';
import { buildPath, encodeQuery } from './wire.js';

export const DEFAULT_BASE_URL = 'https://api.flops.ru/api/v1/';

/** What an operator lets the agent see and touch: VM ids, tenant ids (both optional). */
export interface Scope {
  vms?: readonly number[] | undefined;
  tenants?: readonly number[] | undefined;
}

export interface FlopsClientOptions {
  clientId: string;
  apiKey: string;
  /**
   * Operator scope (FLOPS_ALLOW_VMS / FLOPS_ALLOW_TENANTS): only these VMs, only VMs and keys of these
   * tenants. Others do not appear in lists, and calls on them fail as not found, before any write.
   */
  scope?: Scope | undefined;
  /** Default `https://api.flops.ru/api/v1/`. */
  baseUrl?: string | undefined;
  /** Deadline of one call, retries included (ms). Default 30 000. */
  timeoutMs?: number | undefined;
  /** TCP/TLS connect timeout (ms). Default 10 000. */
  connectTimeoutMs?: number | undefined;
  /** Extra attempts for reads. Default 2 (three requests at most). Writes: never. */
  retries?: number | undefined;
  /** First backoff step (ms), doubled each retry, with jitter. Default 250. */
  retryBaseMs?: number | undefined;
  /** Longest wait between two attempts, Retry-After included (ms). Default 8 000. */
  retryMaxDelayMs?: number | undefined;
  /** Keep-alive connections in the pool. Default 32. */
  connections?: number | undefined;
  /** A dispatcher to use instead of the client's own pool (e.g. undici's MockAgent in tests). */
  dispatcher?: Dispatcher | undefined;
  userAgent?: string | undefined;
  /**
   * The ceiling on requests to the provider (FLOPS_PROVIDER_RATE), asked before every request,
   * retries included: resolves `undefined` to send now, or the ms after which a token will be there,
   * and the call is refused with a `throttled` error (nothing sent). It decides how long a read may
   * wait for its turn; a write is never delayed.
   */
  throttle?:
    | ((read: boolean, signal: AbortSignal | undefined, deadline: number) => Promise<number | undefined>)
    | undefined;
  /** Called after every HTTP attempt; carries no secret and no URL. */
  onAttempt?: ((event: AttemptEvent) => void) | undefined;
}

export interface AttemptEvent {
  method: string;
  attempt: number;
  ms: number;
  httpStatus?: number | undefined;
  outcome: 'ok' | 'api-error' | TransportErrorKind;
  willRetry: boolean;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
}

/** The HTTP response, reduced to what the envelope parser needs. */
interface RawResponse {
  status: number;
  retryAfter: number | undefined;
  body: string;
}

export class FlopsClient {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly #apiKey: string;

  /**
   * A keyed digest of this client's credentials, never the key itself: what the server seals for
   * a caller (task ids) is bound to it, so that other credentials cannot open it.
   */
  credentialsDigest(key: Uint8Array): Buffer {
    return createHmac('sha256', key).update(`flops credentials\0${this.clientId}\0${this.#apiKey}`).digest();
  }
  /** The base URL without user info or query, for spans. */
  readonly #publicBase: string;
  /** The base URL's origin and path: a request goes out as origin and path (undici parses no URL). */
  readonly #origin: string;
  readonly #basePath: string;
  readonly #headers: Record<string, string>;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxDelayMs: number;
  readonly #onAttempt: ((event: AttemptEvent) => void) | undefined;
  readonly #throttle: FlopsClientOptions['throttle'];
  readonly #schemas = new Map<string, z.ZodType<Record<string, unknown>>>();
  #closing: Promise<void> | undefined;

  constructor(options: FlopsClientOptions) {
    if (!options.clientId || !options.apiKey) throw new Error('FlopsClient needs clientId and apiKey');
    const base = options.baseUrl ?? DEFAULT_BASE_URL;
    this.baseUrl = base.endsWith('/') ? base : `${base}/`;
    const parsed = new URL(this.baseUrl);
    this.#origin = parsed.origin;
    this.#basePath = parsed.pathname;
    this.#publicBase = this.#origin + this.#basePath;
    this.clientId = options.clientId;
    this.#apiKey = options.apiKey;
    this.#scope = options.scope;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#retries = options.retries ?? 2;
    this.#retryBaseMs = options.retryBaseMs ?? 250;
    this.#retryMaxDelayMs = options.retryMaxDelayMs ?? 8_000;
    this.#headers = { accept: 'application/json', 'user-agent': options.userAgent ?? 'flops-mcp' };
    this.#onAttempt = options.onAttempt;
    this.#throttle = options.throttle;
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      this.#dispatcher = new Agent({
        connections: options.connections ?? 32,
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 60_000,
        // Our own AbortSignal deadline is precise; these are only a safety net.
        headersTimeout: this.#timeoutMs + 5_000,
        bodyTimeout: this.#timeoutMs + 5_000,
        connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      });
      this.#ownsDispatcher = true;
    }
  }

  /** Call one API method by its tool name. */
  async call<T extends ToolName>(
    tool: T,
    params: ParamsOf<T>,
    options: CallOptions = {},
  ): Promise<ResultOf<T>> {
    const row = getOperation(tool);
    const valid = this.validate(row, params as Record<string, unknown>);
    if (this.#scope) await this.#inScope(row, valid, options);
    const target = this.#target(row, valid);
    const result = await this.#send(row, target, options);
    return (this.#scope ? this.#scoped(tool, result) : result) as ResultOf<T>;
  }

  readonly #scope: Scope | undefined;

  /** The client is limited to some VMs or tenants (FLOPS_ALLOW_VMS / FLOPS_ALLOW_TENANTS). */
  /**
   * One read with these credentials (`tenant_list`): accepted, refused by the provider, or not known
   * (the provider could not be reached).
   */
  async probe(): Promise<'ok' | 'refused' | 'unreachable'> {
    try {
      await this.call('tenant_list', {}, { timeoutMs: 10_000 });
      return 'ok';
    } catch (err) {
      return err instanceof FlopsApiError ? 'refused' : 'unreachable';
    }
  }

  get scoped(): boolean {
    return this.#scope !== undefined;
  }

  /** Refuse a call on a VM or tenant outside the operator's scope, as the provider refuses unknown ones. */
  async #inScope(row: OperationDef, params: Record<string, unknown>, options: CallOptions): Promise<void> {
    const scope = this.#scope!;
    const notFound = (what: string) =>
      new FlopsApiError({
        method: row.tool,
        errorCode: 'error.vm.not.found',
        errorMessage: `${what} not found`,
      });
    for (const key of ['vmId', 'toVmId'] as const) {
      const vmId = params[key];
      if (typeof vmId !== 'number') continue;
      if (scope.vms && !scope.vms.includes(vmId)) throw notFound(`VM ${vmId}`);
      if (scope.tenants) {
        const vmRow = getOperation('vm_get');
        const vm = (await this.#send(vmRow, this.#target(vmRow, { vmId }), options)) as {
          tenantId: number | null;
        };
        if (vm.tenantId === null || !scope.tenants.includes(vm.tenantId)) throw notFound(`VM ${vmId}`);
      }
    }
    const tenantId = params['tenantId'];
    if (scope.tenants && typeof tenantId === 'number' && !scope.tenants.includes(tenantId)) {
      throw new FlopsApiError({
        method: row.tool,
        errorCode: 'error.object.not.found',
        errorMessage: `Tenant ${tenantId} not found`,
      });
    }
  }

  #scoped(tool: ToolName, result: unknown): unknown {
    const scope = this.#scope!;
    const vmIn = (vm: { id: number; tenantId: number | null }) =>
      (!scope.vms || scope.vms.includes(vm.id)) &&
      (!scope.tenants || (vm.tenantId !== null && scope.tenants.includes(vm.tenantId)));
    if (tool === 'vm_list') return (result as { id: number; tenantId: number | null }[]).filter(vmIn);
    if (tool === 'tenant_list' && scope.tenants)
      return (result as { id: number }[]).filter((t) => scope.tenants!.includes(t.id));
    if (tool === 'operation_get') {
      // An operation names its VM and tenant: one outside the scope is as unknown as the VM.
      const op = result as Operation;
      const outside =
        (scope.vms && op.vmId !== null && !scope.vms.includes(op.vmId)) ||
        (scope.tenants && op.tenantId !== null && !scope.tenants.includes(op.tenantId));
      if (outside) {
        throw new FlopsApiError({
          method: tool,
          errorCode: 'error.object.not.found',
          errorMessage: `Operation ${op.id} not found`,
        });
      }
    }
    if (tool === 'pubkey_list' && scope.tenants) {
      return (result as { tenantId: number | null }[]).filter(
        (k) => k.tenantId !== null && scope.tenants!.includes(k.tenantId),
      );
    }
    return result;
  }

  /** Validate parameters against a row's schema; throws FlopsValidationError naming each field. */
  validate(row: OperationDef, params: Record<string, unknown>): Record<string, unknown> {
    let schema = this.#schemas.get(row.tool);
    if (!schema) {
      schema = paramsSchema(row);
      this.#schemas.set(row.tool, schema);
    }
    const parsed = schema.safeParse(params ?? {});
    if (parsed.success) return parsed.data;
    throw new FlopsValidationError(row.tool, validationIssues(parsed.error));
  }

  /** Close the client's own pool (not a dispatcher it was given); calling it again is harmless. */
  async close(): Promise<void> {
    if (!this.#ownsDispatcher) return;
    this.#closing ??= this.#dispatcher.close();
    await this.#closing;
  }

  /** A request's target below the base URL: the method's path and its query (credentials in it). */
  #target(row: OperationDef, params: Record<string, unknown>): string {
    const query = encodeQuery(row, params);
    query.append('clientId', this.clientId);
    query.append('apiKey', this.#apiKey);
    return `${buildPath(row, params)}?${query.toString()}`;
  }

  /**
   * Send with the call's deadline and parse the envelope; reads retried, writes once. A 200 whose
   * body is not an envelope (a proxy's page, a cut or garbled body) is retried like a 5xx.
   */
  #send(row: OperationDef, target: string, options: CallOptions): Promise<unknown> {
    // Observed (metrics, a span) when observability is on: the URL without its query string, which
    // carries the credentials and the parameters (passwords among them).
    return observe.providerCall(
      () => ({
        method: row.tool,
        read: isRead(row),
        url: this.#publicBase + target.slice(0, target.indexOf('?')),
        template: this.#publicBase + row.path,
      }),
      (finish) => this.#sendTimed(row, target, options, finish),
    );
  }

  async #sendTimed(
    row: OperationDef,
    target: string,
    options: CallOptions,
    finish: ((end: ProviderCallEnd) => void) | undefined,
  ): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    // The call's deadline and the caller's cancellation, as one signal. A plain timer that is
    // cleared when the call ends (not AbortSignal.timeout/any, which stay alive until they fire:
    // measurable in memory and CPU at thousands of calls per second).
    const signal = new CallSignal();
    const timer = setTimeout(() => signal.abort(), timeoutMs);
    const caller = options.signal;
    const onCallerAbort = () => signal.abort();
    if (caller?.aborted) signal.abort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      return await this.#sendWithin(row, target, options, signal, Date.now() + timeoutMs, finish);
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
    }
  }

  async #sendWithin(
    row: OperationDef,
    target: string,
    options: CallOptions,
    signal: CallSignal,
    deadline: number,
    finish: ((end: ProviderCallEnd) => void) | undefined,
  ): Promise<unknown> {
    const report = (
      attempt: number,
      started: number,
      httpStatus: number | undefined,
      outcome: AttemptEvent['outcome'],
      willRetry: boolean,
      errorCode?: string | null,
    ) => {
      this.#report(row, attempt, started, httpStatus, outcome, willRetry);
      if (willRetry) observe.retry(row.tool, outcome);
      else finish?.({ outcome, httpStatus, errorCode, attempts: attempt });
    };
    const maxAttempts = isRead(row) ? 1 + this.#retries : 1;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let failure: FlopsTransportError;
      try {
        if (this.#throttle) {
          // It waits for a turn no later than the deadline, and stops waiting if the caller cancels.
          const wait = await this.#throttle(isRead(row), options.signal, deadline);
          if (signal.aborted) throw abortError(row, options.signal, attempt, isRead(row));
          if (wait !== undefined) throw throttledError(row, wait, attempt);
        }
        const raw = await this.#attempt(row, target, signal, options.signal, attempt);
        const retryable = raw.status === 429 || raw.status >= 500;
        if (raw.status === 200 || !retryable || attempt >= maxAttempts) {
          if (raw.status !== 200) throw httpError(row, raw, attempt, isRead(row));
          const result = parseEnvelope(row, raw, attempt);
          report(attempt, started, raw.status, 'ok', false);
          return result;
        }
        failure = httpError(row, raw, attempt, isRead(row));
      } catch (err) {
        if (!(err instanceof FlopsTransportError)) {
          if (err instanceof FlopsApiError)
            report(attempt, started, err.httpStatus, 'api-error', false, err.errorCode);
          throw err;
        }
        failure = err;
        const canRetry =
          attempt < maxAttempts &&
          failure.kind !== 'aborted' &&
          failure.kind !== 'timeout' &&
          isRetryable(failure);
        if (!canRetry) {
          report(attempt, started, failure.httpStatus, failure.kind, false);
          throw failure;
        }
      }
      // Wait before the next attempt: Retry-After when given, else exponential backoff with jitter.
      const backoff = Math.min(this.#retryMaxDelayMs, this.#retryBaseMs * 2 ** (attempt - 1));
      const delay =
        failure.retryAfter !== undefined
          ? failure.retryAfter * 1000
          : backoff / 2 + Math.random() * (backoff / 2);
      if (delay > this.#retryMaxDelayMs || Date.now() + delay >= deadline) {
        report(attempt, started, failure.httpStatus, failure.kind, false);
        throw failure;
      }
      report(attempt, started, failure.httpStatus, failure.kind, true);
      // Ends before the deadline (checked above), or when the caller cancels.
      await sleep(delay, options.signal).catch(() => undefined);
      if (signal.aborted) throw abortError(row, options.signal, attempt, isRead(row));
    }
  }

  async #attempt(
    row: OperationDef,
    target: string,
    signal: CallSignal,
    callerSignal: AbortSignal | undefined,
    attempt: number,
  ): Promise<RawResponse> {
    const read = isRead(row);
    let response: Dispatcher.ResponseData;
    try {
      response = await this.#dispatcher.request({
        origin: this.#origin,
        path: this.#basePath + target,
        method: 'GET',
        signal,
        headers: this.#headers,
      });
    } catch (err) {
      if (signal.aborted) throw abortError(row, callerSignal, attempt, read);
      throw networkError(row, err, attempt, read, this.#apiKey, 'no response');
    }
    let body: string;
    try {
      body = await response.body.text();
    } catch (err) {
      if (signal.aborted) throw abortError(row, callerSignal, attempt, read);
      throw networkError(row, err, attempt, read, this.#apiKey, 'the response was cut short');
    }
    return {
      status: response.statusCode,
      retryAfter: parseRetryAfter(response.headers['retry-after']),
      body,
    };
  }

  #report(
    row: OperationDef,
    attempt: number,
    started: number,
    httpStatus: number | undefined,
    outcome: AttemptEvent['outcome'],
    willRetry: boolean,
  ): void {
    this.#onAttempt?.({
      method: row.tool,
      attempt,
      ms: performance.now() - started,
      httpStatus,
      outcome,
      willRetry,
    });
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * A call's deadline and its caller's cancellation, as the signal its requests are given: undici
 * takes an EventEmitter as well as an AbortSignal, and an AbortController with its signal and
 * listeners costs about ten times as much to make and drop (measured: ≈ 11 µs against 1 µs a call).
 */
class CallSignal extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

/** undici's errors for a pool that was closed or destroyed: retrying cannot help. */
const CLOSED_POOL = new Set(['UND_ERR_DESTROYED', 'UND_ERR_CLOSED']);

function isRetryable(err: FlopsTransportError): boolean {
  if (err.kind === 'network')
    return !CLOSED_POOL.has((err.cause as { code?: string } | undefined)?.code ?? '');
  if (err.kind === 'parse') return true;
  return (
    err.kind === 'http' && err.httpStatus !== undefined && (err.httpStatus === 429 || err.httpStatus >= 500)
  );
}

/** What a failed write must tell the caller: it was sent once and may have taken effect. */
const WRITE_NOTE =
  ' The request was sent once and not retried (it changes state); it may have taken effect: check before repeating it.';

function networkError(
  row: OperationDef,
  err: unknown,
  attempts: number,
  read: boolean,
  apiKey: string,
  what: string,
): FlopsTransportError {
  const code = (err as { code?: string } | null)?.code;
  const detail = redact(err instanceof Error ? err.message : String(err), [apiKey]);
  return new FlopsTransportError({
    method: row.tool,
    kind: 'network',
    message: `network failure, ${what} (${code ?? 'error'}: ${detail}).${read ? '' : WRITE_NOTE}`,
    attempts,
    // The cause is kept only as code and redacted text: undici errors can hold the request URL.
    cause: { code, message: detail },
  });
}

function abortError(
  row: OperationDef,
  callerSignal: AbortSignal | undefined,
  attempts: number,
  read: boolean,
): FlopsTransportError {
  const cancelled = callerSignal?.aborted === true;
  return new FlopsTransportError({
    method: row.tool,
    kind: cancelled ? 'aborted' : 'timeout',
    message: `${cancelled ? 'cancelled' : 'timed out waiting for the provider'}.${read ? '' : WRITE_NOTE}`,
    attempts,
  });
}

function throttledError(row: OperationDef, waitMs: number, attempts: number): FlopsTransportError {
  return new FlopsTransportError({
    method: row.tool,
    kind: 'throttled',
    retryAfter: Math.max(1, Math.ceil(waitMs / 1000)),
    message: `not sent: this server's ceiling on requests to the provider is reached (retry after ${Math.ceil(waitMs / 1000)} s).`,
    attempts: attempts - 1,
  });
}

function httpError(
  row: OperationDef,
  raw: RawResponse,
  attempts: number,
  read: boolean,
): FlopsTransportError {
  const excerpt = raw.body.trim().startsWith('<') ? 'an HTML page' : JSON.stringify(raw.body.slice(0, 120));
  return new FlopsTransportError({
    method: row.tool,
    kind: 'http',
    httpStatus: raw.status,
    retryAfter: raw.retryAfter,
    message: `provider answered HTTP ${raw.status} with ${excerpt}${raw.retryAfter !== undefined ? ` (Retry-After ${raw.retryAfter} s)` : ''}.${read ? '' : WRITE_NOTE}`,
    attempts,
  });
}

function parseError(row: OperationDef, what: string, attempts: number): FlopsTransportError {
  return new FlopsTransportError({
    method: row.tool,
    kind: 'parse',
    message: `the provider's response is not a valid Flops envelope (${what}).${isRead(row) ? '' : WRITE_NOTE}`,
    attempts,
  });
}

function parseRetryAfter(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

/** Normalise a provider `fieldErrors` value (shape unknown: list or map) to a list. */
function toFieldErrors(value: unknown): FieldError[] {
  if (Array.isArray(value)) {
    return value.map((item) => {
      if (item && typeof item === 'object') {
        const o = item as Record<string, unknown>;
        return {
          ...o,
          field: String(o['field'] ?? o['name'] ?? o['path'] ?? ''),
          message: String(o['message'] ?? o['errorMessage'] ?? o['error'] ?? o['code'] ?? ''),
        };
      }
      return { field: '', message: String(item) };
    });
  }
  if (value && typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([field, message]) => ({
      field,
      message: Array.isArray(message) ? message.join('; ') : String(message),
    }));
  }
  return [];
}

/** Parse the envelope of a 200 response into the row's result, or throw what the provider said. */
export function parseEnvelope(row: OperationDef, raw: RawResponse, attempts = 1): unknown {
  let envelope: unknown;
  try {
    envelope = JSON.parse(raw.body);
  } catch {
    throw parseError(row, raw.body.trim().startsWith('<') ? 'an HTML page' : 'malformed JSON', attempts);
  }
  if (!envelope || typeof envelope !== 'object' || Array.isArray(envelope))
    throw parseError(row, 'not an object', attempts);
  const e = envelope as Record<string, unknown>;
  if (e['status'] === 'ERROR') {
    throw new FlopsApiError({
      method: row.tool,
      errorCode: typeof e['errorCode'] === 'string' ? e['errorCode'] : null,
      errorMessage: typeof e['errorMessage'] === 'string' ? e['errorMessage'] : 'no message',
      fieldErrors: toFieldErrors(e['fieldErrors']),
      httpStatus: raw.status,
    });
  }
  if (e['status'] !== 'OK') throw parseError(row, `status ${JSON.stringify(e['status'])}`, attempts);
  const { returns } = row;
  if (returns === 'none') return undefined;
  if (returns === 'operation' || returns === 'created') {
    const operationId = e['operationId'];
    if (typeof operationId !== 'number') throw parseError(row, 'no operationId', attempts);
    if (returns === 'operation') return { operationId };
    if (typeof e['result'] !== 'number') throw parseError(row, 'no new VM id in result', attempts);
    return { operationId, vmId: e['result'] };
  }
  if ('list' in returns) return normalizeList(returns.list, e['result']);
  if (e['result'] == null || typeof e['result'] !== 'object')
    throw parseError(row, 'no result object', attempts);
  return normalize(returns.object, e['result']);
}
