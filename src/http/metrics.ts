/**
 * Prometheus metrics of the HTTP server (prom-client), served at `GET /metrics` (behind the same
 * guards and bearer token as `/mcp`) or on a port of their own (FLOPS_MCP_METRICS_PORT). Loaded only
 * when metrics are switched on (cli.ts imports it then): stdio never loads prom-client.
 *
 * The registry is this module's own (not prom-client's global one). Every label value comes from a
 * closed set: tool and API method names from the operation table, outcomes, statuses and reasons
 * from the code; never an argument, an id, a credential or a URL. Each metric is documented by its
 * `help` text, which /metrics shows.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { attachMetrics, type MetricsSink } from '../observe.js';

/** Seconds: from a cached read to a long wait (the waiter returns before 55 s). */
const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const PROVIDER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Metrics {
  registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8` */
  contentType: string;
  /** The exposition text. */
  render(): Promise<string>;
  /** Read the open sessions' count when scraped. */
  countSessions(read: () => number): void;
  /** Stop reporting (tests, shutdown): the hook is detached, the registry cleared. */
  close(): void;
}

/** Create the registry and its metrics, and attach them to the hook (observe.ts). */
export function startMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const toolCalls = new Counter({
    name: 'flops_mcp_tool_calls_total',
    help: 'Tool calls by tool and outcome (ok, error, refused, declined, cancelled, input-required, task)',
    labelNames: ['tool', 'outcome'] as const,
    registers,
  });
  const toolDuration = new Histogram({
    name: 'flops_mcp_tool_call_duration_seconds',
    help: 'Duration of tool calls, waits for operations included, by tool and outcome',
    labelNames: ['tool', 'outcome'] as const,
    buckets: TOOL_BUCKETS,
    registers,
  });
  const inFlight = new Gauge({
    name: 'flops_mcp_tool_calls_in_flight',
    help: 'Tool calls being served now',
    registers,
  });
  const providerRequests = new Counter({
    name: 'flops_mcp_provider_requests_total',
    help: 'Calls to the Flops API by method and outcome (ok, api-error, or the transport failure: network, timeout, http, parse, aborted), retries included in one call',
    labelNames: ['method', 'outcome'] as const,
    registers,
  });
  const providerDuration = new Histogram({
    name: 'flops_mcp_provider_request_duration_seconds',
    help: 'Duration of calls to the Flops API by method, retries and their backoff included',
    labelNames: ['method'] as const,
    buckets: PROVIDER_BUCKETS,
    registers,
  });
  const retries = new Counter({
    name: 'flops_mcp_provider_retries_total',
    help: 'Retried attempts of reads of the Flops API by method and the failure retried (writes are never retried)',
    labelNames: ['method', 'reason'] as const,
    registers,
  });
  const waits = new Counter({
    name: 'flops_mcp_waits_total',
    help: 'Waits for provider operations by how they ended (done, error, still-running, unreadable, cancelled, failed)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const waitDuration = new Histogram({
    name: 'flops_mcp_wait_duration_seconds',
    help: 'Duration of waits for provider operations',
    buckets: [0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60],
    registers,
  });
  const tasksCreated = new Counter({
    name: 'flops_mcp_tasks_created_total',
    help: 'Tasks created (Tasks extension, 2026-07-28) by the tool that started the operation',
    labelNames: ['tool'] as const,
    registers,
  });
  const taskRequests = new Counter({
    name: 'flops_mcp_task_requests_total',
    help: 'tasks/get, tasks/update and tasks/cancel by method and the task status answered (working, completed; ok; unknown; error)',
    labelNames: ['method', 'status'] as const,
    registers,
  });
  const confirmations = new Counter({
    name: 'flops_mcp_confirmations_total',
    help: 'Confirmations of destructive tools by outcome (asked, accepted, declined, cancelled, refused, off)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const rateLimited = new Counter({
    name: 'flops_mcp_rate_limited_total',
    help: 'Requests refused by a rate limit, by the scope limited',
    labelNames: ['scope'] as const,
    registers,
  });
  let readSessions: () => number = () => 0;
  new Gauge({
    name: 'flops_mcp_sessions',
    help: 'Open MCP sessions (2025 era, stateful HTTP)',
    registers,
    collect() {
      this.set(readSessions());
    },
  });
  const sessionsEnded = new Counter({
    name: 'flops_mcp_sessions_ended_total',
    help: 'Sessions ended by reason (deleted, idle, shutdown, closed, failed)',
    labelNames: ['reason'] as const,
    registers,
  });

  const sink: MetricsSink = {
    toolCallStarted: () => inFlight.inc(),
    toolCall(start, end, seconds) {
      inFlight.dec();
      toolCalls.inc({ tool: start.tool, outcome: end.outcome });
      toolDuration.observe({ tool: start.tool, outcome: end.outcome }, seconds);
    },
    providerCall(start, end, seconds) {
      providerRequests.inc({ method: start.method, outcome: end.outcome });
      providerDuration.observe({ method: start.method }, seconds);
    },
    retry: (method, reason) => retries.inc({ method, reason }),
    wait(end, seconds) {
      waits.inc({ outcome: end });
      waitDuration.observe(seconds);
    },
    taskCreated: (tool) => tasksCreated.inc({ tool }),
    taskRequest: (method, status) => taskRequests.inc({ method, status }),
    confirmation: (outcome) => confirmations.inc({ outcome }),
    rateLimited: (scope) => rateLimited.inc({ scope }),
    sessionEnded: (reason) => sessionsEnded.inc({ reason }),
  };
  attachMetrics(sink);
  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    countSessions(read) {
      readSessions = read;
    },
    close() {
      attachMetrics(undefined);
      registry.clear();
    },
  };
}
