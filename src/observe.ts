/**
 * The one hook between the code that does the work and what observes it: the seam (register.ts),
 * the API client, the waiter, the tasks and the HTTP server report here; metrics (http/metrics.ts,
 * prom-client) and traces (tracing.ts, OpenTelemetry) attach here when they are switched on.
 *
 * This module imports nothing and holds nothing but two slots: with neither filled (stdio, and HTTP
 * without metrics or traces) every report is one empty check, and no observability library is
 * loaded. Everything reported is bounded and free of secrets by construction: tool and method names
 * from the operation table, outcomes from closed sets, never arguments, URLs with credentials,
 * passwords or keys.
 */

/** How a tool call ended, as metrics label it and spans record it. */
export type ToolOutcome =
  /** Answered without error. */
  | 'ok'
  /** An error result (provider, transport, validation after the call went out…). */
  | 'error'
  /** Refused before anything was sent: read-only, not enabled, protected, invalid arguments… */
  | 'refused'
  /** The user declined or cancelled the confirmation. */
  | 'declined'
  | 'cancelled'
  /** The call asked the user first (input_required / elicitation); the answer comes as another call. */
  | 'input-required'
  /** Answered with a task (Tasks extension) that stands for the running operation. */
  | 'task';

export interface ToolCallStart {
  tool: string;
  /** The protocol generation of the request: 2026-07-28 (`modern`) or 2025 (`legacy`). */
  era: 'modern' | 'legacy';
  /** W3C Trace Context of the caller: request `_meta` (SEP-414), else the HTTP request's headers. */
  traceparent?: string | undefined;
  tracestate?: string | undefined;
  /** The 2025 session (its first 8 characters only, as in the logs). */
  session?: string | undefined;
}

export interface ToolCallEnd {
  outcome: ToolOutcome;
  /** Set when the provider accepted a write: the operation it started. */
  operationId?: number | undefined;
}

export interface ProviderCallStart {
  /** The API method (tool name of the operation table). */
  method: string;
  read: boolean;
  /** Base URL and path, no query string: ids only, never credentials or parameters. */
  url: string;
  /** The path template of the table (`vm/{vmId}/reboot/`). */
  template: string;
}

export interface ProviderCallEnd {
  /** `ok`, `api-error` (the provider's error envelope), or the transport failure's kind. */
  outcome: string;
  httpStatus?: number | undefined;
  /** The provider's error code (`error.vm.not.found`…) for an api-error. */
  errorCode?: string | null | undefined;
  /** HTTP attempts made (reads are retried). */
  attempts: number;
}

export type WaitEnd = 'done' | 'error' | 'still-running' | 'unreadable' | 'cancelled' | 'failed';

/** Counters and gauges (http/metrics.ts): plain calls, after the fact. */
export interface MetricsSink {
  toolCall(start: ToolCallStart, end: ToolCallEnd, seconds: number): void;
  toolCallStarted(start: ToolCallStart): void;
  providerCall(start: ProviderCallStart, end: ProviderCallEnd, seconds: number): void;
  retry(method: string, reason: string): void;
  wait(end: WaitEnd, seconds: number): void;
  taskCreated(tool: string): void;
  taskRequest(method: string, outcome: string): void;
  confirmation(outcome: string): void;
  rateLimited(scope: string): void;
  sessionEnded(reason: string): void;
}

/** Spans (tracing.ts): they wrap the work so that what it calls becomes their child. */
export interface TraceSink {
  toolCall<T>(start: ToolCallStart, run: () => Promise<T>, end: () => ToolCallEnd): Promise<T>;
  providerCall<T>(start: ProviderCallStart, run: () => Promise<T>, end: () => ProviderCallEnd): Promise<T>;
}

/**
 * Whether the environment asks for traces: an OTLP endpoint is set, and the SDK is not disabled
 * (cli.ts loads tracing.ts, and OpenTelemetry with it, only then).
 */
export function tracesWanted(env: Record<string, string | undefined>): boolean {
  const disabled = (env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true';
  return (
    !disabled && Boolean(env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_ENDPOINT'])
  );
}

let metrics: MetricsSink | undefined;
let traces: TraceSink | undefined;

/** Attach (or with undefined, detach) the metrics and the traces of this process. */
export function attachMetrics(sink: MetricsSink | undefined): void {
  metrics = sink;
}
export function attachTraces(sink: TraceSink | undefined): void {
  traces = sink;
}

/**
 * Run one tool call observed: `run` reports how it ended through `finish` (a call that throws, or
 * never says, ends as `error`).
 */
async function toolCall<T>(
  start: ToolCallStart,
  run: (finish: (end: ToolCallEnd) => void) => Promise<T>,
): Promise<T> {
  if (!metrics && !traces) return run(() => undefined);
  let end: ToolCallEnd = { outcome: 'error' };
  const finish = (e: ToolCallEnd) => {
    end = e;
  };
  const started = performance.now();
  metrics?.toolCallStarted(start);
  try {
    return await (traces
      ? traces.toolCall(
          start,
          () => run(finish),
          () => end,
        )
      : run(finish));
  } finally {
    metrics?.toolCall(start, end, (performance.now() - started) / 1000);
  }
}

/** Run one provider call (retries included) observed; `finish` is told how its last attempt ended. */
async function providerCall<T>(
  start: () => ProviderCallStart,
  run: (finish: ((end: ProviderCallEnd) => void) | undefined) => Promise<T>,
): Promise<T> {
  if (!metrics && !traces) return run(undefined);
  const s = start();
  let end: ProviderCallEnd = { outcome: 'error', attempts: 0 };
  const finish = (e: ProviderCallEnd) => {
    end = e;
  };
  const started = performance.now();
  try {
    return await (traces
      ? traces.providerCall(
          s,
          () => run(finish),
          () => end,
        )
      : run(finish));
  } finally {
    metrics?.providerCall(s, end, (performance.now() - started) / 1000);
  }
}

/** The reports, each a no-op until something is attached. */
export const observe = {
  toolCall,
  providerCall,
  retry: (method: string, reason: string) => metrics?.retry(method, reason),
  wait: (end: WaitEnd, seconds: number) => metrics?.wait(end, seconds),
  taskCreated: (tool: string) => metrics?.taskCreated(tool),
  /** tasks/get, tasks/update, tasks/cancel: the task's status, or `unknown` for an id that does not open. */
  taskRequest: (method: string, outcome: string) => metrics?.taskRequest(method, outcome),
  /** A destructive call's confirmation: asked, accepted, declined, cancelled, refused, off. */
  confirmation: (outcome: string) => metrics?.confirmation(outcome),
  /** A request refused by a rate limit (`scope`: what was limited, e.g. `credential`, `address`). */
  rateLimited: (scope: string) => metrics?.rateLimited(scope),
  sessionEnded: (reason: string) => metrics?.sessionEnded(reason),
};
