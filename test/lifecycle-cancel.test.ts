/**
 * Nothing lost: a wait that times out or is cancelled still reports the operationId, and a write
 * cancelled after its request was sent says so — MCP sends no response to a cancelled request, so
 * the server tells the client with a `notifications/message` warning, and writes it to its log and
 * to the audit log, each with the operationId it got.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/log.js';
import { AuditLog } from '../src/mcp/audit.js';
import { type Harness, harness, json, readAudit, text } from './helpers.js';
import { connect, type HttpSetup, httpSetup, toolJson } from './http-helpers.js';
import { eventually } from './process-helpers.js';

const INSTALL = { tenantId: 111, distribution: 'debian', tariff: 'Облачный 512', password: 'Secret-pass1' };

const dir = mkdtempSync(join(tmpdir(), 'flops-cancel-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Watched extends Harness {
  /** `data` of every notifications/message the client received. */
  messages: Record<string, unknown>[];
  logs: string[];
  auditPath: string;
  audit: () => Record<string, unknown>[];
}

let h: Watched | undefined;
let s: HttpSetup | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await h?.close();
  await s?.close();
  h = undefined;
  s = undefined;
});

async function watched(timeScale: number): Promise<Watched> {
  const logs: string[] = [];
  const auditPath = join(dir, `audit-${Math.random().toString(36).slice(2)}.jsonl`);
  const auditLog = new AuditLog(auditPath);
  const base = await harness({
    timeScale,
    server: { log: createLogger({ level: 'debug', write: (l) => logs.push(l) }), audit: auditLog },
  });
  const messages: Record<string, unknown>[] = [];
  base.mcp.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    messages.push({ level: n.params.level, ...(n.params.data as Record<string, unknown>) });
  });
  return {
    ...base,
    messages,
    logs,
    auditPath,
    audit: () => readAudit(auditPath),
    close: async () => {
      await base.close();
      await auditLog.close();
    },
  };
}

/** Start a call, abort it once `when()` holds, and expect the client to see it rejected. */
async function cancelWhen(
  mcp: Client,
  name: string,
  args: Record<string, unknown>,
  when: () => boolean,
): Promise<void> {
  const controller = new AbortController();
  const pending = mcp.callTool({ name, arguments: args }, undefined, { signal: controller.signal });
  const settled = pending.then(
    () => 'resolved',
    (e: unknown) => String(e),
  );
  await eventually(when, 5000, 'call under way');
  controller.abort('the user pressed stop');
  expect(await settled).toMatch(/stop|abort|cancel/i);
}

describe('a wait that times out reports the operationId', () => {
  it('wait_for_operation at its deadline: finished false, the operationId in the data', async () => {
    h = await watched(5);
    const { operationId } = json(await h.call('vm_install', INSTALL)) as { operationId: number };
    const result = await h.call('wait_for_operation', { operationId, timeoutSeconds: 1 });
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ operationId, finished: false });
  });

  it('wait_for_operation while the provider never answers: an error that still names the operationId', async () => {
    h = await watched(5);
    const { operationId } = json(await h.call('vm_install', INSTALL)) as { operationId: number };
    h.sandbox.faults.add({ kind: 'http-error', status: 503, tool: 'operation_get', times: 'forever' });
    const result = await h.call('wait_for_operation', { operationId, timeoutSeconds: 1 });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ operationId, status: 'UNKNOWN' });
    expect(text(result)).toContain(`operationId ${operationId}`);
  });

  it('vm_install with wait: true that cannot finish in time returns its operationId', async () => {
    // The built-in wait is 45 s: move the clock past it instead of waiting (Date only; timers are real).
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    h = await watched(100);
    const hh = h;
    const call = hh.call('vm_install', { ...INSTALL, wait: true });
    await eventually(() => hh.sandbox.requests.count('operation_get') > 0, 5000, 'first poll');
    vi.setSystemTime(Date.now() + 50_000);
    const result = await call;
    expect(result.isError, text(result)).toBeFalsy();
    const data = json(result);
    expect(data).toMatchObject({ operationId: expect.any(Number), finished: false });
    expect(data['next']).toMatch(`call wait_for_operation again with operationId ${data['operationId']}`);
    expect(hh.audit().at(-1)).toMatchObject({
      tool: 'vm_install',
      outcome: 'ok',
      operationId: data['operationId'],
    });
  });
});

describe('a cancelled call reports what it started', () => {
  it('vm_install with wait: true cancelled during the wait: warning, log and audit carry the operationId', async () => {
    h = await watched(20);
    const hh = h;
    await cancelWhen(
      hh.mcp,
      'vm_install',
      { ...INSTALL, wait: true },
      () => hh.sandbox.requests.count('operation_get') > 0,
    );
    await eventually(() => hh.messages.length > 0, 3000, 'log notification');
    const [message] = hh.messages;
    expect(message).toMatchObject({ level: 'warning', tool: 'vm_install', status: 'CANCELLED' });
    const operationId = message!['operationId'] as number;
    expect(operationId).toEqual(expect.any(Number));
    expect(message!['message']).toMatch(
      new RegExp(`cancelled after the provider accepted it: operation ${operationId} .*wait_for_operation`),
    );
    expect(hh.logs.join('')).toContain(`tool vm_install cancelled {"operationId":${operationId}}`);
    await eventually(() => hh.audit().some((e) => e['outcome'] === 'cancelled'), 3000, 'audit entry');
    expect(hh.audit().at(-1)).toMatchObject({ tool: 'vm_install', outcome: 'cancelled', operationId });
    // The operation was not lost: it is still there to follow.
    const followed = await hh.call('wait_for_operation', { operationId, timeoutSeconds: 1 });
    expect(followed.structuredContent).toMatchObject({ operationId });
    expect(JSON.stringify(hh.messages) + hh.logs.join('')).not.toContain('Secret-pass1');
  });

  it('a write cancelled while its request was in flight: says it may have taken effect', async () => {
    h = await watched(0.05);
    const hh = h;
    hh.sandbox.faults.add({ kind: 'delay', tool: 'vm_rename', delayMs: 500 });
    const before = hh.sandbox.requests.count('vm_rename');
    await cancelWhen(hh.mcp, 'vm_rename', { vmId: 85561, name: 'renamed' }, () => {
      return hh.sandbox.requests.count('vm_rename') > before;
    });
    await eventually(() => hh.messages.length > 0, 3000, 'log notification');
    expect(hh.messages[0]).toMatchObject({ level: 'warning', tool: 'vm_rename', operationId: null });
    expect(hh.messages[0]!['message']).toMatch(
      /vm_rename was cancelled after its request was sent: it may have taken effect/,
    );
    await eventually(() => hh.audit().some((e) => e['outcome'] === 'cancelled'), 3000, 'audit entry');
    expect(hh.audit().at(-1)).toMatchObject({ tool: 'vm_rename', vmId: 85561, outcome: 'cancelled' });
  });

  it('wait_for_operation cancelled: the warning names the operation to follow', async () => {
    h = await watched(20);
    const hh = h;
    const { operationId } = json(await hh.call('vm_install', INSTALL)) as { operationId: number };
    const polls = hh.sandbox.requests.count('operation_get');
    await cancelWhen(
      hh.mcp,
      'wait_for_operation',
      { operationId },
      () => hh.sandbox.requests.count('operation_get') > polls,
    );
    await eventually(() => hh.messages.length > 0, 3000, 'log notification');
    expect(hh.messages[0]).toMatchObject({ level: 'warning', tool: 'wait_for_operation', operationId });
    expect(hh.messages[0]!['message']).toMatch(`call wait_for_operation with operationId ${operationId}`);
  });

  it('a read cancelled reports nothing (nothing was started)', async () => {
    h = await watched(0.05);
    const hh = h;
    hh.sandbox.faults.add({ kind: 'delay', tool: 'vm_get', delayMs: 300 });
    const before = hh.sandbox.requests.count('vm_get');
    await cancelWhen(hh.mcp, 'vm_get', { vmId: 85561 }, () => hh.sandbox.requests.count('vm_get') > before);
    await new Promise((r) => setTimeout(r, 400));
    expect(hh.messages).toEqual([]);
  });

  it('over Streamable HTTP the warning reaches the client that cancelled', async () => {
    s = await httpSetup({ timeScale: 20 });
    const ss = s;
    const c = await connect(ss.url);
    const messages: Record<string, unknown>[] = [];
    c.mcp.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      messages.push(n.params.data as Record<string, unknown>);
    });
    await cancelWhen(
      c.mcp,
      'vm_install',
      { ...INSTALL, wait: true },
      () => ss.sandbox.requests.count('operation_get') > 0,
    );
    await eventually(() => messages.length > 0, 3000, 'log notification over SSE');
    expect(messages[0]).toMatchObject({
      tool: 'vm_install',
      operationId: expect.any(Number),
      status: 'CANCELLED',
    });
    // The session is still usable.
    expect(toolJson(await c.call('vm_get', { vmId: 85561 }))).toMatchObject({ vm: { id: 85561 } });
    await c.mcp.close();
  });
});
