/**
 * FlopsClient against injected faults of the real sandbox over loopback HTTP: for each fault kind,
 * a read is retried and then succeeds, or gives up after its retry budget with the right
 * `attempts`; a write is sent exactly once and its error says that it was not retried and may have
 * taken effect. Deadlines, Retry-After, caller cancellation, `close()`, and no secret in any error.
 */
import { Agent } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AttemptEvent, FlopsClient, type FlopsClientOptions } from '../src/api/client.js';
import { FlopsTransportError, isTransportError, type TransportErrorKind } from '../src/api/errors.js';
import { type FaultSpec, type Sandbox, startSandbox } from '../src/sandbox/index.js';

const API_KEY = 'MARKER-KEY-123';
const PASSWORD = 'Marker-Pass-9';
const SECRETS = [API_KEY, PASSWORD, 'apiKey='];
const NOT_RETRIED = 'sent once and not retried';
const MAY_HAVE_TAKEN_EFFECT = 'may have taken effect';

let sandbox: Sandbox;
let client: FlopsClient;
const clients: FlopsClient[] = [];
/** Every error a call produced in this file, for the secret check at the end. */
const errors: unknown[] = [];

function newClient(options: Partial<FlopsClientOptions> = {}): FlopsClient {
  const c = new FlopsClient({
    baseUrl: sandbox.url,
    clientId: sandbox.clientId,
    apiKey: API_KEY,
    retryBaseMs: 10,
    ...options,
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, timeScale: 0.05, apiKey: API_KEY, clientId: 'marker-client' });
  client = newClient();
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await sandbox.close();
});
beforeEach(() => sandbox.reset());

/** The transport error a call ends with (recorded for the secret check). */
async function transportFailure(promise: Promise<unknown>): Promise<FlopsTransportError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, 'the call should fail').toBeInstanceOf(FlopsTransportError);
  errors.push(caught);
  return caught as FlopsTransportError;
}

/** Poll until `check` holds (the effect of an operation appears), or fail after `ms`. */
async function eventually(check: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const vmName = (vmId: number) => sandbox.state.vm(vmId)?.name;

interface KindCase {
  label: string;
  spec: FaultSpec;
  kind: TransportErrorKind;
  httpStatus?: number;
  text: RegExp;
}

/** Every fault kind that fails a request (delay has its own tests: it fails only past a deadline). */
const KINDS: KindCase[] = [
  { label: 'HTTP 500', spec: { kind: 'http-error' }, kind: 'http', httpStatus: 500, text: /HTTP 500/ },
  {
    label: 'HTTP 502 (empty body)',
    spec: { kind: 'http-error', status: 502, body: 'empty' },
    kind: 'http',
    httpStatus: 502,
    text: /HTTP 502/,
  },
  {
    label: 'HTTP 503',
    spec: { kind: 'http-error', status: 503 },
    kind: 'http',
    httpStatus: 503,
    text: /HTTP 503/,
  },
  {
    label: 'HTTP 429 (Retry-After 0)',
    spec: { kind: 'rate-limit', retryAfter: 0 },
    kind: 'http',
    httpStatus: 429,
    text: /HTTP 429.*Retry-After 0 s/,
  },
  { label: 'connection reset', spec: { kind: 'reset' }, kind: 'network', text: /network failure/ },
  { label: 'malformed JSON', spec: { kind: 'malformed-json' }, kind: 'parse', text: /malformed JSON/ },
  {
    label: 'HTML error page',
    spec: { kind: 'html' },
    kind: 'http',
    httpStatus: 502,
    text: /HTTP 502 with an HTML page/,
  },
  {
    label: 'truncated body',
    spec: { kind: 'truncated' },
    kind: 'network',
    text: /network failure, the response was cut short/,
  },
];

describe('reads: each fault kind is retried', () => {
  it.each(KINDS)('$label once: retried, then the read succeeds', async ({ spec, httpStatus }) => {
    const events: AttemptEvent[] = [];
    const c = newClient({ onAttempt: (e) => events.push(e) });
    const fault = sandbox.faults.add({ ...spec, tool: 'vm_get', times: 1 });
    const vm = await c.call('vm_get', { vmId: 85561 });
    expect(vm).toMatchObject({ id: 85561, name: 'ubuntu', memory: 512 });
    expect(fault.fired).toBe(1);
    expect(sandbox.requests.count('vm_get')).toBe(2);
    expect(events.map((e) => [e.attempt, e.willRetry])).toEqual([
      [1, true],
      [2, false],
    ]);
    expect(events[0]!.httpStatus).toBe(httpStatus);
    expect(events[1]).toMatchObject({ method: 'vm_get', outcome: 'ok', httpStatus: 200 });
  });

  it.each(KINDS)(
    '$label every time: gives up after the retry budget ($kind)',
    async ({ spec, kind, httpStatus, text }) => {
      const fault = sandbox.faults.add({ ...spec, tool: 'vm_get', times: 'forever' });
      const err = await transportFailure(client.call('vm_get', { vmId: 85561 }));
      expect(err).toMatchObject({ method: 'vm_get', kind, attempts: 3, httpStatus });
      expect(err.message).toMatch(text);
      expect(err.message).toMatch(/^vm_get: /);
      // A read says nothing about writes.
      expect(err.message).not.toContain(NOT_RETRIED);
      expect(fault.fired).toBe(3);
      expect(sandbox.requests.count('vm_get')).toBe(3);
    },
  );

  it('a provider error is an answer, not a fault: never retried', async () => {
    const events: AttemptEvent[] = [];
    const c = newClient({ onAttempt: (e) => events.push(e) });
    let caught: unknown;
    try {
      await c.call('vm_get', { vmId: 999999 });
    } catch (err) {
      caught = err;
    }
    errors.push(caught);
    expect(caught).toMatchObject({ name: 'FlopsApiError', errorCode: 'error.vm.not.found' });
    expect(sandbox.requests.count('vm_get')).toBe(1);
    expect(events).toEqual([expect.objectContaining({ attempt: 1, outcome: 'api-error', willRetry: false })]);
  });

  it('the retry budget is configurable: retries 0 sends one request', async () => {
    sandbox.faults.add({ kind: 'http-error', tool: 'tenant_list', times: 'forever' });
    const err = await transportFailure(newClient({ retries: 0 }).call('tenant_list', {}));
    expect(err).toMatchObject({ kind: 'http', attempts: 1 });
    expect(sandbox.requests.count('tenant_list')).toBe(1);
    const five = await transportFailure(newClient({ retries: 4 }).call('tenant_list', {}));
    expect(five.attempts).toBe(5);
    expect(sandbox.requests.count('tenant_list')).toBe(6);
  });

  it('429: waits Retry-After seconds, then succeeds', async () => {
    sandbox.faults.add({ kind: 'rate-limit', tool: 'tenant_list', retryAfter: 1, times: 1 });
    const started = performance.now();
    const tenants = await client.call('tenant_list', {});
    const elapsed = performance.now() - started;
    expect(tenants.map((t) => t.id)).toContain(10081);
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(elapsed).toBeLessThan(3000);
    expect(sandbox.requests.count('tenant_list')).toBe(2);
  });

  it('429 with a Retry-After longer than retryMaxDelayMs: gives up at once, reporting it', async () => {
    sandbox.faults.add({ kind: 'rate-limit', tool: 'tenant_list', retryAfter: 30 });
    const started = performance.now();
    const err = await transportFailure(newClient({ retryMaxDelayMs: 500 }).call('tenant_list', {}));
    expect(performance.now() - started).toBeLessThan(500);
    expect(err).toMatchObject({ kind: 'http', httpStatus: 429, retryAfter: 30, attempts: 1 });
    expect(err.message).toContain('Retry-After 30 s');
    expect(sandbox.requests.count('tenant_list')).toBe(1);
  });

  it('5xx retries back off: later attempts wait longer', async () => {
    const events: AttemptEvent[] = [];
    const times: number[] = [];
    sandbox.faults.add({ kind: 'http-error', tool: 'tenant_list', times: 2 });
    const c = newClient({
      retryBaseMs: 100,
      onAttempt: (e) => {
        events.push(e);
        times.push(performance.now());
      },
    });
    await c.call('tenant_list', {});
    expect(events.map((e) => e.outcome)).toEqual(['http', 'http', 'ok']);
    // Backoff with jitter: 50-100 ms after the first failure, 100-200 ms after the second.
    const firstGap = times[1]! - times[0]!;
    const secondGap = times[2]! - times[1]!;
    expect(firstGap).toBeGreaterThanOrEqual(45);
    expect(secondGap).toBeGreaterThanOrEqual(95);
  });
});

describe('writes: each fault kind, sent exactly once and reported clearly', () => {
  it.each(KINDS)('$label: one request, not retried, nothing changed', async ({ spec, kind, httpStatus }) => {
    const fault = sandbox.faults.add({ ...spec, tool: 'vm_rename', times: 'forever' });
    const err = await transportFailure(
      client.call('vm_rename', { vmId: 85561, tenantId: 111, name: 'renamed' }),
    );
    expect(err).toMatchObject({ method: 'vm_rename', kind, attempts: 1, httpStatus });
    expect(err.message).toContain(NOT_RETRIED);
    expect(err.message).toContain(MAY_HAVE_TAKEN_EFFECT);
    expect(fault.fired).toBe(1);
    expect(sandbox.requests.count('vm_rename')).toBe(1);
    // The fault replaced the response before the request was handled: no operation, no change.
    expect(sandbox.state.lockOn(85561)).toBeUndefined();
    expect(vmName(85561)).toBe('ubuntu');
  });

  it.each(KINDS)(
    '$label after handling: the effect happened, the response was lost',
    async ({ spec, kind }) => {
      sandbox.faults.add({ ...spec, tool: 'vm_rename', times: 'forever', afterHandling: true });
      const err = await transportFailure(
        client.call('vm_rename', { vmId: 85561, tenantId: 111, name: 'renamed-anyway' }),
      );
      expect(err).toMatchObject({ kind, attempts: 1 });
      expect(err.message).toContain(MAY_HAVE_TAKEN_EFFECT);
      expect(sandbox.requests.count('vm_rename')).toBe(1);
      // It did take effect: the rename operation runs and the VM gets its new name.
      await eventually(async () => (await client.call('vm_get', { vmId: 85561 })).name === 'renamed-anyway');
      expect(sandbox.requests.count('vm_rename')).toBe(1);
    },
  );

  it('a write that failed once is not repeated by the next call either (no hidden queue)', async () => {
    sandbox.faults.add({ kind: 'reset', tool: 'vm_ip_add' });
    await transportFailure(client.call('vm_ip_add', { vmId: 85561, tenantId: 111 }));
    const ref = await client.call('vm_ip_add', { vmId: 85561, tenantId: 111 });
    expect(ref.operationId).toEqual(expect.any(Number));
    expect(sandbox.requests.count('vm_ip_add')).toBe(2);
  });
});

describe('deadlines', () => {
  it('read: a delay past timeoutMs ends in kind timeout, without retrying', async () => {
    sandbox.faults.add({ kind: 'delay', tool: 'vm_get', delayMs: 1000, times: 'forever' });
    const started = performance.now();
    const err = await transportFailure(client.call('vm_get', { vmId: 85561 }, { timeoutMs: 150 }));
    const elapsed = performance.now() - started;
    expect(err).toMatchObject({ method: 'vm_get', kind: 'timeout', attempts: 1 });
    expect(err.message).toContain('timed out');
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(900);
    expect(sandbox.requests.count('vm_get')).toBe(1);
  });

  it('read: the client-wide timeoutMs applies when the call gives none', async () => {
    sandbox.faults.add({ kind: 'delay', tool: 'tenant_list', delayMs: 1000 });
    const err = await transportFailure(newClient({ timeoutMs: 100 }).call('tenant_list', {}));
    expect(err.kind).toBe('timeout');
  });

  it('read: a delay within the deadline is only latency', async () => {
    sandbox.faults.add({ kind: 'delay', tool: 'vm_get', delayMs: 150 });
    const started = performance.now();
    const vm = await client.call('vm_get', { vmId: 85561 }, { timeoutMs: 2000 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(vm.id).toBe(85561);
    expect(sandbox.requests.count('vm_get')).toBe(1);
  });

  it('read: the deadline covers the retries (no retry that would end past it)', async () => {
    sandbox.faults.add({ kind: 'http-error', tool: 'vm_get', times: 'forever' });
    const started = performance.now();
    const err = await transportFailure(
      newClient({ retryBaseMs: 2000 }).call('vm_get', { vmId: 85561 }, { timeoutMs: 300 }),
    );
    expect(performance.now() - started).toBeLessThan(300);
    expect(err).toMatchObject({ kind: 'http', httpStatus: 500, attempts: 1 });
    expect(sandbox.requests.count('vm_get')).toBe(1);
  });

  it('write: a delay past timeoutMs ends in kind timeout, sent once, may have taken effect', async () => {
    sandbox.faults.add({ kind: 'delay', tool: 'vm_rename', delayMs: 1000, afterHandling: true });
    const err = await transportFailure(
      client.call('vm_rename', { vmId: 85561, tenantId: 111, name: 'slow-rename' }, { timeoutMs: 150 }),
    );
    expect(err).toMatchObject({ method: 'vm_rename', kind: 'timeout', attempts: 1 });
    expect(err.message).toContain('timed out');
    expect(err.message).toContain(NOT_RETRIED);
    expect(err.message).toContain(MAY_HAVE_TAKEN_EFFECT);
    expect(sandbox.requests.count('vm_rename')).toBe(1);
    await eventually(() => vmName(85561) === 'slow-rename');
  });
});

describe('cancellation by the caller', () => {
  it('read: aborting the signal ends the call with kind aborted', async () => {
    sandbox.faults.add({ kind: 'delay', tool: 'vm_get', delayMs: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const err = await transportFailure(
      client.call('vm_get', { vmId: 85561 }, { signal: controller.signal, timeoutMs: 5000 }),
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(err).toMatchObject({ method: 'vm_get', kind: 'aborted', attempts: 1 });
    expect(err.message).toContain('cancelled');
    expect(sandbox.requests.count('vm_get')).toBe(1);
  });

  it('read: aborting during the wait between retries stops at once', async () => {
    sandbox.faults.add({ kind: 'http-error', tool: 'vm_get', times: 'forever' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const err = await transportFailure(
      newClient({ retryBaseMs: 4000 }).call('vm_get', { vmId: 85561 }, { signal: controller.signal }),
    );
    expect(performance.now() - started).toBeLessThan(1000);
    expect(err.kind).toBe('aborted');
    expect(sandbox.requests.count('vm_get')).toBe(1);
  });

  it('a signal aborted before the call: nothing is sent', async () => {
    const err = await transportFailure(
      client.call('tenant_list', {}, { signal: AbortSignal.abort(new Error('caller gave up')) }),
    );
    expect(err.kind).toBe('aborted');
    expect(sandbox.requests.total).toBe(0);
  });

  it('write: aborting says the request may have taken effect', async () => {
    sandbox.faults.add({ kind: 'delay', tool: 'vm_rename', delayMs: 2000, afterHandling: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const err = await transportFailure(
      client.call(
        'vm_rename',
        { vmId: 85561, tenantId: 111, name: 'cancelled-rename' },
        { signal: controller.signal },
      ),
    );
    expect(err).toMatchObject({ method: 'vm_rename', kind: 'aborted', attempts: 1 });
    expect(err.message).toContain(MAY_HAVE_TAKEN_EFFECT);
    expect(sandbox.requests.count('vm_rename')).toBe(1);
    await eventually(() => vmName(85561) === 'cancelled-rename');
  });

  it('isTransportError tells the kinds apart', async () => {
    const controller = new AbortController();
    controller.abort();
    const err = await transportFailure(client.call('tenant_list', {}, { signal: controller.signal }));
    expect(isTransportError(err)).toBe(true);
    expect(isTransportError(err, 'aborted')).toBe(true);
    expect(isTransportError(err, 'timeout', 'network')).toBe(false);
  });
});

describe('close()', () => {
  it('closes the pool: later calls fail without reaching the sandbox', async () => {
    const c = newClient();
    expect((await c.call('tenant_list', {})).length).toBeGreaterThan(0);
    await c.close();
    const before = sandbox.requests.total;
    const err = await transportFailure(c.call('tenant_list', {}));
    expect(err.kind).toBe('network');
    expect(sandbox.requests.total).toBe(before);
    // Closing again is harmless.
    await expect(c.close()).resolves.toBeUndefined();
  });

  it('leaves a dispatcher it was given open', async () => {
    const agent = new Agent();
    try {
      const c = newClient({ dispatcher: agent });
      await c.call('tenant_list', {});
      await c.close();
      expect(agent.closed).toBe(false);
      const again = newClient({ dispatcher: agent });
      expect((await again.call('tenant_list', {})).length).toBeGreaterThan(0);
    } finally {
      await agent.close();
    }
  });
});

describe('no secret in any error text', () => {
  it('a password sent with a faulted write does not appear in its error', async () => {
    for (const kind of ['reset', 'truncated', 'html', 'malformed-json'] as const) {
      sandbox.reset();
      sandbox.faults.add({ kind, tool: 'vm_password_change' });
      await transportFailure(
        client.call('vm_password_change', { vmId: 85561, tenantId: 111, password: PASSWORD }),
      );
    }
    sandbox.faults.add({ kind: 'delay', tool: 'vm_password_change', delayMs: 1000 });
    await transportFailure(
      client.call(
        'vm_password_change',
        { vmId: 85561, tenantId: 111, password: PASSWORD },
        { timeoutMs: 50 },
      ),
    );
  });

  it('no error of this file carries the apiKey or a password, cause included', () => {
    expect(errors.length).toBeGreaterThan(3 * KINDS.length);
    const network = errors.filter((e) => isTransportError(e, 'network'));
    expect(network.length).toBeGreaterThan(4);
    for (const err of errors) {
      const e = err as Error;
      const texts = [String(e), e.message, e.stack ?? '', JSON.stringify(e)];
      const cause = e.cause;
      if (cause !== undefined) {
        texts.push(String(cause), JSON.stringify(cause));
        if (cause instanceof Error) texts.push(cause.message, cause.stack ?? '');
      }
      for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
    }
  });
});
