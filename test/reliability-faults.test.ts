/**
 * Provider faults seen through MCP: a real MCP Client → server → FlopsClient → HTTP → sandbox with
 * fault injection. For every fault kind, and for a read (`vm_get`), a write (`vm_rename`) and
 * `wait_for_operation`:
 *   - a read hit once is retried and succeeds; hit every time, it gives up after exactly
 *     1 + retries requests with a clear isError text (unavailable / rate-limited / too slow);
 *   - a write is sent exactly once, whatever the fault, and its error says it was not retried and
 *     may have taken effect — which it did when the fault struck after handling;
 *   - wait_for_operation rides out transient failures while polling and still ends DONE, and says
 *     "unavailable, call again" when the provider never answers before its deadline;
 *   - the server stays up and no result carries the apiKey.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultSpec } from '../src/sandbox/index.js';
import { type Harness, harness, json, text } from './helpers.js';

const API_KEY = 'FAULT-KEY-42';
const VM = 85561;
const TENANT = 111;
/** Extra attempts of a read (the FlopsClient default). */
const RETRIES = 2;
/** Client deadline of the short-deadline harness, and a latency well past it. */
const SHORT_TIMEOUT_MS = 250;
const LATE_MS = 800;

const WRITE_SENT_ONCE = /sent once and NOT retried/;
const MAY_HAVE_TAKEN_EFFECT = /may have taken effect/;

/** Default deadline (30 s); everything but latency. */
let h: Harness;
/** Client deadline of SHORT_TIMEOUT_MS, for latency past the deadline. */
let hs: Harness;
/** Every result text of this file, for the secret check at the end. */
const seen: string[] = [];

beforeAll(async () => {
  [h, hs] = await Promise.all([
    harness({ sandbox: { apiKey: API_KEY, clientId: 'faults' } }),
    harness({ sandbox: { apiKey: API_KEY, clientId: 'faults' }, client: { timeoutMs: SHORT_TIMEOUT_MS } }),
  ]);
});
afterAll(async () => {
  await Promise.all([h?.close(), hs?.close()]);
});
beforeEach(() => {
  h.sandbox.reset();
  hs.sandbox.reset();
});

async function call(hh: Harness, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const result = await hh.call(name, args);
  seen.push(text(result), JSON.stringify(result.structuredContent ?? null));
  return result;
}

/** Poll until `check` holds, or fail after `ms` (no fixed sleeps). */
async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const vmName = (hh: Harness) => hh.sandbox.state.vm(VM)?.name;

interface FaultCase {
  label: string;
  spec: FaultSpec;
  /** What the result says of the provider (the first sentence of the error text). */
  says: RegExp;
  /** Latency past the client's deadline: run on the short-deadline harness; never retried. */
  late?: boolean;
}

const CASES: FaultCase[] = [
  {
    label: 'latency past the deadline',
    spec: { kind: 'delay', delayMs: LATE_MS },
    says: /^The Flops API did not answer in time \(timeout, 1 attempt\)\./,
    late: true,
  },
  {
    label: 'HTTP 500',
    spec: { kind: 'http-error', status: 500 },
    says: /^The Flops API is unavailable \(http 500, \d attempts?\)\./,
  },
  {
    label: 'HTTP 502 (empty body)',
    spec: { kind: 'http-error', status: 502, body: 'empty' },
    says: /^The Flops API is unavailable \(http 502, \d attempts?\)\./,
  },
  {
    label: 'HTTP 503',
    spec: { kind: 'http-error', status: 503 },
    says: /^The Flops API is unavailable \(http 503, \d attempts?\)\./,
  },
  {
    label: 'HTTP 429 with Retry-After',
    spec: { kind: 'rate-limit', retryAfter: 0 },
    says: /^The Flops API is rate-limiting requests \(retry after 0 s\) \(http 429, \d attempts?\)\./,
  },
  {
    label: 'connection reset',
    spec: { kind: 'reset' },
    says: /^The Flops API is unavailable \(network, \d attempts?\)\./,
  },
  {
    label: 'malformed JSON',
    spec: { kind: 'malformed-json' },
    says: /^The Flops API is unavailable \(parse, \d attempts?\)\./,
  },
  {
    label: 'HTML error page',
    spec: { kind: 'html' },
    says: /^The Flops API is unavailable \(http 502, \d attempts?\)\./,
  },
  {
    label: 'truncated body',
    spec: { kind: 'truncated' },
    says: /^The Flops API is unavailable \(network, \d attempts?\)\./,
  },
];

const on = (c: FaultCase) => (c.late ? hs : h);

describe('a read (vm_get) under each fault', () => {
  it.each(CASES)(
    '$label once: retried within the budget and succeeds (latency: the deadline covers the call)',
    async (c) => {
      const hh = on(c);
      const fault = hh.sandbox.faults.add({ ...c.spec, tool: 'vm_get', times: 1 });
      const result = await call(hh, 'vm_get', { vmId: VM });
      expect(fault.fired).toBe(1);
      if (c.late) {
        // The deadline covers the whole call, retries included: a timed-out read is not repeated.
        expect(result.isError).toBe(true);
        expect(text(result)).toMatch(c.says);
        expect(text(result)).toMatch(/Try again in a moment\.$/);
        expect(hh.sandbox.requests.count('vm_get')).toBe(1);
        return;
      }
      expect(result.isError, text(result)).toBeFalsy();
      expect(json(result).vm).toMatchObject({ id: VM, name: 'ubuntu' });
      expect(hh.sandbox.requests.count('vm_get')).toBe(2);
    },
  );

  it.each(CASES)('$label every time: exactly 1 + retries requests, then a clear error', async (c) => {
    const hh = on(c);
    const fault = hh.sandbox.faults.add({ ...c.spec, tool: 'vm_get', times: 'forever' });
    const result = await call(hh, 'vm_get', { vmId: VM });
    const attempts = c.late ? 1 : 1 + RETRIES;
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(c.says);
    expect(text(result)).toContain(`${attempts} attempt${attempts > 1 ? 's' : ''})`);
    // A read says to try again, and nothing about writes.
    expect(text(result)).toMatch(/Try again in a moment\.$/);
    expect(text(result)).not.toMatch(WRITE_SENT_ONCE);
    expect(hh.sandbox.requests.count('vm_get')).toBe(attempts);
    expect(fault.fired).toBe(attempts);
  });

  it('429 with Retry-After 1: waits that long, then succeeds', async () => {
    h.sandbox.faults.add({ kind: 'rate-limit', tool: 'vm_get', retryAfter: 1, times: 1 });
    const started = performance.now();
    const result = await call(h, 'vm_get', { vmId: VM });
    expect(result.isError, text(result)).toBeFalsy();
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(h.sandbox.requests.count('vm_get')).toBe(2);
  });

  it('429 with a Retry-After past the retry budget: gives up at once and says when to retry', async () => {
    h.sandbox.faults.add({ kind: 'rate-limit', tool: 'vm_get', retryAfter: 30, times: 'forever' });
    const started = performance.now();
    const result = await call(h, 'vm_get', { vmId: VM });
    expect(performance.now() - started).toBeLessThan(1000);
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/rate-limiting requests \(retry after 30 s\) \(http 429, 1 attempt\)/);
    expect(result.structuredContent).toMatchObject({
      error: { kind: 'unavailable', code: 'http' },
      httpStatus: 429,
      retryAfter: 30,
    });
    expect(h.sandbox.requests.count('vm_get')).toBe(1);
  });
});

describe('a write (vm_rename) under each fault: sent exactly once', () => {
  it.each(CASES)('$label: one request, an error that says it may have taken effect', async (c) => {
    const hh = on(c);
    const name = `renamed-${c.spec.kind}`;
    const fault = hh.sandbox.faults.add({ ...c.spec, tool: 'vm_rename', times: 'forever' });
    const result = await call(hh, 'vm_rename', { vmId: VM, tenantId: TENANT, name });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(c.says);
    expect(text(result)).toContain('1 attempt)');
    expect(text(result)).toMatch(WRITE_SENT_ONCE);
    expect(text(result)).toMatch(MAY_HAVE_TAKEN_EFFECT);
    expect(hh.sandbox.requests.count('vm_rename')).toBe(1);
    expect(fault.fired).toBe(1);
    if (c.late) {
      // Only late, not lost: the provider handles it after the client gave up.
      await eventually(() => vmName(hh) === name);
    } else {
      // The fault replaced the response before handling: nothing changed.
      expect(hh.sandbox.state.lockOn(VM)).toBeUndefined();
      expect(vmName(hh)).toBe('ubuntu');
    }
    expect(hh.sandbox.requests.count('vm_rename')).toBe(1);
  });

  it.each(CASES)('$label after handling: the VM is renamed, the result says it may have been', async (c) => {
    const hh = on(c);
    const name = `applied-${c.spec.kind}`;
    hh.sandbox.faults.add({ ...c.spec, tool: 'vm_rename', times: 'forever', afterHandling: true });
    const result = await call(hh, 'vm_rename', { vmId: VM, tenantId: TENANT, name });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(c.says);
    expect(text(result)).toMatch(WRITE_SENT_ONCE);
    expect(text(result)).toMatch(MAY_HAVE_TAKEN_EFFECT);
    expect(hh.sandbox.requests.count('vm_rename')).toBe(1);
    await eventually(() => vmName(hh) === name);
    expect(hh.sandbox.requests.count('vm_rename')).toBe(1);
  });

  it('a write whose tenant is looked up: the lookup (a read) is retried, the write is not', async () => {
    h.sandbox.faults.add({ kind: 'http-error', status: 503, tool: 'vm_get', times: 1 });
    h.sandbox.faults.add({ kind: 'reset', tool: 'vm_rename', times: 'forever' });
    const result = await call(h, 'vm_rename', { vmId: VM, name: 'with-lookup' });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/unavailable \(network, 1 attempt\).*sent once and NOT retried/s);
    expect(h.sandbox.requests.count('vm_get')).toBe(2);
    expect(h.sandbox.requests.count('vm_rename')).toBe(1);
  });
});

describe('wait_for_operation under each fault', () => {
  /** Start a rename (no fault) and return its operationId. */
  async function startRename(name: string): Promise<number> {
    const started = await call(h, 'vm_rename', { vmId: VM, tenantId: TENANT, name });
    expect(started.isError, text(started)).toBeFalsy();
    return json(started).operationId as number;
  }

  it.each(CASES)('$label three times while polling: ridden out, ends DONE', async (c) => {
    const operationId = await startRename(`waited-${c.spec.kind}`);
    // Latency is only latency here: the waiter gives each poll the time left before its own deadline
    // (at most 15 s), so a slow poll is not a failed one; latency past the deadline is tested below.
    const spec: FaultSpec = c.late ? { kind: 'delay', delayMs: 150 } : c.spec;
    const fault = h.sandbox.faults.add({ ...spec, tool: 'operation_get', times: 3 });
    const result = await call(h, 'wait_for_operation', { operationId, timeoutSeconds: 20 });
    expect(result.isError, text(result)).toBeFalsy();
    expect(json(result)).toMatchObject({
      operationId,
      status: 'DONE',
      operation: { id: operationId, status: 'DONE' },
    });
    if (c.late) {
      // Slow polls are answered polls: the first one may already see DONE.
      expect(fault.fired).toBeGreaterThanOrEqual(1);
    } else {
      expect(fault.fired).toBe(3);
      expect(h.sandbox.requests.count('operation_get')).toBeGreaterThanOrEqual(4);
    }
    expect(vmName(h)).toBe(`waited-${c.spec.kind}`);
  });

  it.each([CASES[0]!, CASES[3]!, CASES[5]!, CASES[6]!])(
    '$label every time: at its deadline, says the provider is unavailable and to call again',
    async (c) => {
      const operationId = await startRename(`lost-${c.spec.kind}`);
      h.sandbox.faults.add({
        ...c.spec,
        ...(c.late ? { delayMs: 3000 } : {}),
        tool: 'operation_get',
        times: 'forever',
      });
      const started = performance.now();
      const result = await call(h, 'wait_for_operation', { operationId, timeoutSeconds: 1 });
      expect(performance.now() - started).toBeLessThan(2500);
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(
        new RegExp(
          `^Could not read operation ${operationId} before the deadline .*the provider is unavailable\\. Call wait_for_operation again with operationId ${operationId}\\.$`,
        ),
      );
      expect(result.structuredContent).toMatchObject({ operationId, status: 'UNKNOWN' });
      expect(h.sandbox.requests.count('operation_get')).toBeGreaterThanOrEqual(1);
    },
  );

  it('a write with wait: true rides out polling faults too, and reports the renamed VM', async () => {
    h.sandbox.faults.add({ kind: 'http-error', status: 502, tool: 'operation_get', times: 3 });
    const result = await call(h, 'vm_rename', {
      vmId: VM,
      tenantId: TENANT,
      name: 'waited-inline',
      wait: true,
    });
    expect(result.isError, text(result)).toBeFalsy();
    expect(json(result)).toMatchObject({ status: 'DONE', vm: { id: VM, name: 'waited-inline' } });
    expect(h.sandbox.requests.count('vm_rename')).toBe(1);
  });
});

describe('after all of that', () => {
  it('the server is still up: vm_get works and tools/list answers', async () => {
    for (const hh of [h, hs]) {
      hh.sandbox.faults.clear();
      const vm = await call(hh, 'vm_get', { vmId: VM });
      expect(vm.isError, text(vm)).toBeFalsy();
      expect(json(vm).vm).toMatchObject({ id: VM });
      const { tools } = await hh.mcp.listTools();
      expect(tools.map((t) => t.name)).toEqual(
        expect.arrayContaining(['vm_get', 'vm_rename', 'wait_for_operation']),
      );
      expect(tools).toHaveLength(39);
      await expect(hh.mcp.ping()).resolves.toBeDefined();
    }
  });

  it('no result of this file carries the apiKey', () => {
    expect(seen.length).toBeGreaterThan(4 * CASES.length);
    for (const t of seen) {
      expect(t).not.toContain(API_KEY);
      expect(t).not.toContain('apiKey=');
    }
  });
});
