/**
 * The operation waiter, used by `wait_for_operation` and by every asynchronous tool called with
 * `wait: true`.
 *
 * It polls `operation/{id}/` with backoff (250 ms growing ×1.5 to 5 s) and, once progress has been
 * seen to move, also at the moment the operation should finish by its observed rate, so that a
 * long operation costs few polls and the wait returns soon after the end. Transient failures while
 * polling (network, 5xx, provider hiccups) do not end the wait; an unknown operation id does. The
 * wait is bounded: at the deadline it returns the current state (`finished: false`), never an error.
 * It stops at once when the caller's signal aborts.
 */
import type { FlopsClient } from '../api/client.js';
import { FlopsApiError, FlopsTransportError, FlopsValidationError } from '../api/errors.js';
import type { Operation } from '../api/types.js';
import { observe, type WaitEnd } from '../observe.js';
import { sleep } from '../util.js';

export const WAIT_MAX_SECONDS = 55;

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** Called when the percentage rises (never with a lower value than before). */
  onProgress?: ((percentage: number, operation: Operation) => void) | undefined;
  /** Polling schedule; tests and benchmarks may tune it. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
}

export interface WaitOutcome {
  operation: Operation;
  /** DONE or ERROR reached. */
  finished: boolean;
  polls: number;
  /** Transient failures ridden out while polling. */
  transientErrors: number;
  elapsedMs: number;
}

const FINAL = new Set(['DONE', 'ERROR']);

export function isFinished(operation: Operation): boolean {
  return FINAL.has(operation.status);
}

export async function waitForOperation(
  client: FlopsClient,
  operationId: number,
  options: WaitOptions,
): Promise<WaitOutcome> {
  const started = Date.now();
  let end: WaitEnd = 'failed';
  try {
    const outcome = await poll(client, operationId, options, started);
    end = !outcome.finished ? 'still-running' : outcome.operation.status === 'ERROR' ? 'error' : 'done';
    return outcome;
  } catch (err) {
    end = options.signal?.aborted ? 'cancelled' : err instanceof WaitTimeoutError ? 'unreadable' : 'failed';
    throw err;
  } finally {
    observe.wait(end, (Date.now() - started) / 1000);
  }
}

async function poll(
  client: FlopsClient,
  operationId: number,
  options: WaitOptions,
  started: number,
): Promise<WaitOutcome> {
  const deadline = started + options.timeoutMs;
  const minInterval = options.minIntervalMs ?? 250;
  const maxInterval = options.maxIntervalMs ?? 5_000;
  let interval = minInterval;
  let polls = 0;
  let transientErrors = 0;
  let lastPercentage = -1;
  let last: Operation | undefined;
  // First sighting of progress above zero, to estimate the rate.
  let rateFrom: { at: number; percentage: number } | undefined;

  for (;;) {
    options.signal?.throwIfAborted();
    let operation: Operation | undefined;
    try {
      polls++;
      const remaining = Math.max(1, deadline - Date.now());
      operation = await client.call(
        'operation_get',
        { operationId },
        { signal: options.signal, timeoutMs: Math.min(remaining, 15_000) },
      );
    } catch (err) {
      options.signal?.throwIfAborted();
      if (!isTransient(err)) throw err;
      transientErrors++;
    }
    const now = Date.now();
    if (operation) {
      last = operation;
      const pct = operation.percentage ?? 0;
      if (pct > lastPercentage) {
        lastPercentage = pct;
        options.onProgress?.(pct, operation);
      }
      if (isFinished(operation)) {
        return { operation, finished: true, polls, transientErrors, elapsedMs: now - started };
      }
      if (pct > 0 && !rateFrom) rateFrom = { at: now, percentage: pct };
    }
    if (now >= deadline) {
      if (!last) throw new WaitTimeoutError(operationId, polls, transientErrors);
      return { operation: last, finished: false, polls, transientErrors, elapsedMs: now - started };
    }
    let delay = interval;
    interval = Math.min(maxInterval, interval * 1.5);
    // Poll when the operation should end by its observed rate, if that is sooner.
    if (rateFrom && operation && (operation.percentage ?? 0) > rateFrom.percentage) {
      const pct = operation.percentage ?? 0;
      const msPerPercent = (now - rateFrom.at) / (pct - rateFrom.percentage);
      const eta = (100 - pct) * msPerPercent;
      delay = Math.max(minInterval / 2, Math.min(delay, eta + 30));
    }
    delay = Math.min(delay, Math.max(0, deadline - now));
    await sleep(delay, options.signal);
  }
}

/**
 * The waiter's schedule as a pure function, for clients that poll for themselves (tasks): how long
 * to wait before the next read of an operation that has run `elapsedMs` and shows `percentage`.
 * The waiter's backoff (×1.5 from `min`) puts its interval at about elapsed / 2 + min, capped at
 * `max`; once progress shows a rate, no later than the estimated end.
 */
export function suggestedPollMs(elapsedMs: number, percentage: number, min = 250, max = 5_000): number {
  const backoff = Math.min(max, Math.max(min, elapsedMs / 2 + min));
  if (percentage <= 0 || percentage >= 100 || elapsedMs <= 0) return Math.round(backoff);
  const eta = ((100 - percentage) * elapsedMs) / percentage;
  return Math.round(Math.max(min / 2, Math.min(backoff, eta + 30)));
}

/** The deadline passed without a single successful read of the operation. */
export class WaitTimeoutError extends Error {
  constructor(
    readonly operationId: number,
    readonly polls: number,
    readonly transientErrors: number,
  ) {
    super(
      `Could not read operation ${operationId} before the deadline (${polls} attempts, all failed transiently): the provider is unavailable. Call wait_for_operation again with operationId ${operationId}.`,
    );
  }
}

/** Failures that polling should ride out: everything but a provider answer that the id is bad. */
function isTransient(err: unknown): boolean {
  if (err instanceof FlopsTransportError) return err.kind !== 'aborted';
  if (err instanceof FlopsApiError) return err.errorCode === 'unexpected.exception';
  if (err instanceof FlopsValidationError) return false;
  return false;
}
