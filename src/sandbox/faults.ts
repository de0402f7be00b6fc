/**
 * Fault injection: make chosen requests fail the way networks and proxies fail, so that a client's
 * retries, timeouts and "never repeat a write" rules can be tested against real HTTP.
 *
 * A fault matches requests of one method (`tool`) or of any (`'*'`, the default). Each fault counts
 * its matching requests from the moment it was added and fires on the `nth` of them (default the
 * first) and the `times - 1` that follow (default 1 in all; `'forever'` never stops). When several
 * faults fire on a request, the one added first wins. Unless `afterHandling` is set, the fault
 * replaces the response before the request is handled, so a faulted write changes nothing; with
 * `afterHandling: true` the request is handled (its effect applied) and only the response is lost.
 */
import { z } from 'zod';
import { OPERATIONS_BY_TOOL, type ToolName } from '../api/operations.js';

export type FaultKind =
  /** Only the added latency (`delayMs`), then the normal response. */
  | 'delay'
  /** HTTP `status` (500, 502 or 503; default 500) with a JSON error envelope or an empty body. */
  | 'http-error'
  /** HTTP 429 with `Retry-After: retryAfter` (seconds, default 1). */
  | 'rate-limit'
  /** The connection is reset (TCP RST where the platform allows it) without any response. */
  | 'reset'
  /** HTTP 200, `application/json`, a body that does not parse. */
  | 'malformed-json'
  /** An HTML error page from a proxy (status default 502, `text/html`). */
  | 'html'
  /** Headers promise a longer body than is sent; then the socket is destroyed. */
  | 'truncated'
  /** HTTP 200 with the provider's error envelope: `errorCode` (default error.object.not.found). */
  | 'api-error';

export interface FaultSpec {
  kind: FaultKind;
  /** Method (tool name) to match, or '*' (default) for every API request. */
  tool?: ToolName | '*';
  /** Fire on the n-th matching request (1-based), counted from when the fault was added. Default 1. */
  nth?: number;
  /** Number of consecutive matching requests to fire on, from the nth. Default 1. */
  times?: number | 'forever';
  /** Latency added before responding (or before the fault, for other kinds). */
  delayMs?: number;
  /** For 'http-error' (500/502/503) and 'html' (any 4xx/5xx). */
  status?: number;
  /** For 'http-error' (default 'json') and 'rate-limit' (default 'empty'). */
  body?: 'json' | 'empty';
  /** Seconds, for 'rate-limit'. */
  retryAfter?: number;
  /** Handle the request (apply its effect), then lose or spoil the response. */
  afterHandling?: boolean;
  /** For 'api-error': the provider's code. */
  errorCode?: string;
}

export const faultSpecSchema = z.strictObject({
  kind: z.enum([
    'delay',
    'http-error',
    'rate-limit',
    'reset',
    'malformed-json',
    'html',
    'truncated',
    'api-error',
  ]),
  tool: z
    .string()
    .refine((t) => t === '*' || OPERATIONS_BY_TOOL.has(t), { message: 'unknown tool name' })
    .optional(),
  nth: z.number().int().min(1).optional(),
  times: z.union([z.number().int().min(1), z.literal('forever')]).optional(),
  delayMs: z.number().int().min(0).max(600_000).optional(),
  status: z.number().int().min(400).max(599).optional(),
  body: z.enum(['json', 'empty']).optional(),
  retryAfter: z.number().int().min(0).max(86_400).optional(),
  afterHandling: z.boolean().optional(),
  errorCode: z.string().max(100).optional(),
});

export interface FaultHandle {
  readonly id: number;
  readonly spec: Readonly<FaultSpec>;
  /** Matching requests seen since the fault was added. */
  readonly matched: number;
  /** Requests it fired on. */
  readonly fired: number;
  /** It will not fire again. */
  readonly exhausted: boolean;
  remove(): void;
}

interface Entry {
  id: number;
  spec: FaultSpec;
  matched: number;
  fired: number;
}

export class Faults {
  private entries: Entry[] = [];
  private nextId = 1;

  /** Add a fault; throws on an invalid spec. */
  add(spec: FaultSpec): FaultHandle {
    const parsed = faultSpecSchema.parse(spec) as FaultSpec;
    if (
      parsed.kind === 'http-error' &&
      parsed.status !== undefined &&
      ![500, 502, 503].includes(parsed.status)
    ) {
      throw new Error('http-error status must be 500, 502 or 503');
    }
    const entry: Entry = { id: this.nextId++, spec: parsed, matched: 0, fired: 0 };
    this.entries.push(entry);
    return this.handle(entry);
  }

  remove(id: number): boolean {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.id !== id);
    return this.entries.length !== before;
  }

  clear(): void {
    this.entries = [];
  }

  list(): FaultHandle[] {
    return this.entries.map((e) => this.handle(e));
  }

  /** Count a request against every fault and return the one that fires on it, if any. */
  take(tool: ToolName | undefined): FaultSpec | undefined {
    let chosen: Entry | undefined;
    for (const entry of this.entries) {
      const want = entry.spec.tool ?? '*';
      if (want !== '*' && want !== tool) continue;
      entry.matched++;
      if (!chosen && firesOn(entry.spec, entry.matched)) {
        chosen = entry;
        entry.fired++;
      }
    }
    return chosen?.spec;
  }

  private handle(entry: Entry): FaultHandle {
    return {
      id: entry.id,
      spec: entry.spec,
      get matched() {
        return entry.matched;
      },
      get fired() {
        return entry.fired;
      },
      get exhausted() {
        const { nth = 1, times = 1 } = entry.spec;
        return times !== 'forever' && entry.matched >= nth + times - 1;
      },
      remove: () => {
        this.remove(entry.id);
      },
    };
  }
}

function firesOn(spec: FaultSpec, index: number): boolean {
  const { nth = 1, times = 1 } = spec;
  return index >= nth && (times === 'forever' || index < nth + times);
}

/** Per-method request counters, counted before faults (so a test can prove a write was sent once). */
export class RequestCounters {
  private readonly counts = new Map<string, number>();
  private all = 0;

  hit(tool: ToolName | undefined): void {
    this.all++;
    if (tool) this.counts.set(tool, (this.counts.get(tool) ?? 0) + 1);
  }

  /** Requests of one method, or of all when omitted. */
  count(tool?: ToolName): number {
    return tool === undefined ? this.all : (this.counts.get(tool) ?? 0);
  }

  /** Every request below the API prefix, routed or not. */
  get total(): number {
    return this.all;
  }

  byTool(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.counts.clear();
    this.all = 0;
  }
}
