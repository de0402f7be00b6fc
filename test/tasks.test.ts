/**
 * Provider operations as MCP tasks (Tasks extension, 2026-07-28), driven by the official requester
 * (@modelcontextprotocol/ext-tasks) over the v2 Client in auto mode, against the real HTTP server
 * and the sandbox; and over stdio through the built bin. The requester's raw dispatch is plain
 * HTTP here (or JSON lines on the bin's stdio): the SDK's client does not carry task results yet.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  createTaskSessionFromClient,
  type RawClientDispatch,
  resultFromTaskOutcome,
} from '@modelcontextprotocol/ext-tasks/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { messagesOf } from '../bench/lib.js';
import { FlopsClient } from '../src/api/client.js';
import { OperationTaskStore, TASK_TTL_MS, TASKS_EXTENSION, TaskSeal } from '../src/mcp/tasks.js';
import { modernHarness, readAudit } from './helpers.js';
import { cleanEnv, cli } from './process-helpers.js';

type H = Awaited<ReturnType<typeof modernHarness>>;
type Json = Record<string, unknown>;

const ENVELOPE = (capabilities: Json = { extensions: { [TASKS_EXTENSION]: {} } }) => ({
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'tasks-test', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': capabilities,
});

/** One JSON-RPC request over 2026-07-28 Streamable HTTP, with the standard headers. */
async function post(url: string, request: Json, headers: Record<string, string> = {}): Promise<Json> {
  const params = (request['params'] ?? {}) as Json;
  const name = params['name'] ?? params['taskId'] ?? params['uri'];
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': String(request['method']),
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
      ...headers,
    },
    body: JSON.stringify(request),
  });
  const body = await response.text();
  const messages = messagesOf(body) as Json[];
  return messages.find((m) => m['id'] === request['id']) ?? messages.at(-1)!;
}

let nextId = 0;
/** tools/call or tasks/* as a raw request with the envelope (this test's own client). */
async function raw(
  url: string,
  method: string,
  params: Json,
  headers?: Record<string, string>,
  capabilities?: Json,
) {
  return post(
    url,
    { jsonrpc: '2.0', id: `raw-${++nextId}`, method, params: { ...params, _meta: ENVELOPE(capabilities) } },
    headers,
  );
}

/** The requester's raw dispatch over HTTP. */
const httpDispatch =
  (url: string): RawClientDispatch =>
  async (request) => {
    // The requester hands over method and params; the host numbers the request.
    const message = await post(url, { jsonrpc: '2.0', id: `dispatch-${++nextId}`, ...(request as Json) });
    return 'error' in message
      ? { kind: 'error', error: message['error'] as never }
      : { kind: 'result', result: message['result'] as never };
  };

async function requester(h: H) {
  const framing = {
    protocolVersion: '2026-07-28',
    clientInfo: { name: 'tasks-test', version: '1' },
    clientCapabilities: { extensions: { [TASKS_EXTENSION]: {} } },
  };
  return createTaskSessionFromClient(h.mcp, {
    endpointId: 'flops-test',
    rawDispatch: httpDispatch(h.url),
    v2RequestFraming: framing,
  });
}

describe('tasks over HTTP with the official requester', () => {
  let h: H;
  const key = randomBytes(32);
  let audit: string;
  beforeAll(async () => {
    audit = `${process.env['TMPDIR'] ?? '/tmp'}/flops-tasks-audit-${process.pid}.jsonl`;
    const { AuditLog } = await import('../src/mcp/audit.js');
    h = await modernHarness({
      timeScale: 0.005,
      server: { taskSeal: new TaskSeal(key), audit: new AuditLog(audit) },
    });
  });
  afterAll(() => h.close());

  /** tasks/get of `taskId` with another account's credentials. */
  const asOtherAccount = (taskId: string) =>
    raw(h.url, 'tasks/get', { taskId }, { 'x-flops-client-id': 'sandbox-b', 'x-flops-api-key': 'other-key' });

  /** tasks/get every 20 ms until the task no longer works: its last state, and each get's provider requests and status. */
  async function settle(taskId: string) {
    const costs: number[] = [];
    const messages: string[] = [];
    let state: Json = { status: 'working' };
    for (let i = 0; i < 200 && state['status'] === 'working'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const before = h.sandbox.requests.count();
      state = (await raw(h.url, 'tasks/get', { taskId }))['result'] as Json;
      costs.push(h.sandbox.requests.count() - before);
      messages.push(String(state['statusMessage']));
    }
    return { state, costs, messages };
  }

  it('advertises the extension in server/discover', () => {
    expect(h.mcp.getServerCapabilities()?.extensions?.[TASKS_EXTENSION]).toEqual({});
  });

  it('installs a VM as a task: working, then completed with the VM read back', async () => {
    const session = await requester(h);
    const { kind, outcome } = await session
      .callTool('vm_install', {
        tenantId: 111,
        distribution: 'Debian 7.6 x64',
        tariff: 'Облачный 1024',
        name: 'task-vm',
      })
      .then(async (execution) => ({ kind: execution.kind, ...(await execution.settle()) }))
      .finally(() => session.close());
    expect(kind).toBe('task');
    expect(outcome.status).toBe('completed');
    const result = resultFromTaskOutcome(outcome) as {
      isError?: boolean;
      structuredContent: Json;
      content: Json[];
    };
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ status: 'DONE', vm: { name: 'task-vm' } });
    expect(String(result.content[0]?.['text'])).toMatch(/^Operation \d+ \(VM_INSTALL on VM \d+\): DONE/);
    // The audit log names the task beside the operation.
    const entry = readAudit(audit).find((e) => e['tool'] === 'vm_install');
    expect(entry).toMatchObject({
      outcome: 'ok',
      operationId: expect.any(Number),
      taskId: expect.any(String),
    });
    await session.close();
  });

  it("ends a hung guest's reboot as a completed task carrying the error result", async () => {
    await h.mcp.callTool({ name: 'vm_rename', arguments: { vmId: 85662, name: 'hung-debian', wait: true } });
    const session = await requester(h);
    const { outcome } = await session
      .callTool('vm_reboot', { vmId: 85662 })
      .then((execution) => execution.settle())
      .finally(() => session.close());
    expect(outcome.status).toBe('completed');
    const result = resultFromTaskOutcome(outcome) as { isError?: boolean; structuredContent: Json };
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({
      error: { kind: 'operation-failed', next: expect.stringMatching(/vm_reset/) },
      operation: { status: 'ERROR', operationType: 'VM_REBOOT' },
    });
    await h.mcp.callTool({ name: 'vm_rename', arguments: { vmId: 85662, name: 'debian', wait: true } });
  });

  it('reads a task back from a fresh connection, refuses it with other credentials, an altered or expired id', async () => {
    const started = await raw(h.url, 'tools/call', {
      name: 'vm_rename',
      arguments: { vmId: 85561, name: 'ubuntu' },
    });
    const task = started['result'] as Json;
    expect(task).toMatchObject({ resultType: 'task', status: 'working', ttlMs: TASK_TTL_MS });
    const taskId = task['taskId'] as string;
    // A fresh connection (no session exists in 2026-07-28): it resolves at once.
    const again = await raw(h.url, 'tasks/get', { taskId });
    expect(again['result']).toMatchObject({ taskId, resultType: 'complete' });
    expect(['working', 'completed']).toContain((again['result'] as Json)['status']);
    const reads = h.sandbox.requests.count('operation_get');
    // Another account's credentials: unknown, and nothing is read at the provider.
    const other = await asOtherAccount(taskId);
    expect(other['error']).toMatchObject({ code: -32602 });
    const altered = `${taskId.slice(0, -2)}${taskId.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await raw(h.url, 'tasks/get', { taskId: altered }))['error']).toMatchObject({ code: -32602 });
    // An id past its time to live (sealed with the same key and credentials, made a day ago).
    const flops = new FlopsClient({
      baseUrl: h.sandbox.url,
      clientId: h.sandbox.clientId,
      apiKey: h.sandbox.apiKey,
    });
    const seal = new TaskSeal(key);
    const expired = seal.seal(
      { operationId: 1, tool: 'vm_rename', vmId: 85561, createdAt: Date.now() - TASK_TTL_MS - 1000 },
      seal.binding(flops),
    );
    await flops.close();
    expect((await raw(h.url, 'tasks/get', { taskId: expired }))['error']).toMatchObject({ code: -32602 });
    expect(h.sandbox.requests.count('operation_get')).toBe(reads);
  });

  it('answers a later tasks/get of a finished task without reading the provider again, to its own credentials only', async () => {
    const started = await raw(h.url, 'tools/call', {
      name: 'vm_rename',
      arguments: { vmId: 85561, name: 'ubuntu' },
    });
    const taskId = (started['result'] as Json)['taskId'] as string;
    const { state } = await settle(taskId);
    expect(state).toMatchObject({ status: 'completed', result: { structuredContent: { status: 'DONE' } } });
    const requests = h.sandbox.requests.count();
    const later = (await raw(h.url, 'tasks/get', { taskId }))['result'] as Json;
    expect(later).toMatchObject({ taskId, status: 'completed', result: state['result'] as Json });
    expect(h.sandbox.requests.count()).toBe(requests);
    // Other credentials still open nothing, finished or not.
    const other = await asOtherAccount(taskId);
    expect(other['error']).toMatchObject({ code: -32602 });
  });

  it('costs at most one provider read a tasks/get, up to the new snapshot read back', async () => {
    const started = await raw(h.url, 'tools/call', {
      name: 'vm_snapshot_create',
      arguments: { vmId: 85561, name: 'one-read' },
    });
    const taskId = (started['result'] as Json)['taskId'] as string;
    const { state, costs, messages } = await settle(taskId);
    expect(state).toMatchObject({
      status: 'completed',
      result: { structuredContent: { status: 'DONE', vm: { id: 85561 }, snapshot: { name: 'one-read' } } },
    });
    expect(Math.max(...costs), `provider requests of each get: ${costs.join(', ')}`).toBe(1);
    // The operation ended, then the VM and the new snapshot were read on the two gets after it.
    expect(costs.slice(-3)).toEqual([1, 1, 1]);
    expect(messages.at(-2)).toMatch(/ended DONE; reading back what it produced/);
  });

  it('acknowledges a cancel and says the operation goes on at the provider', async () => {
    // Slow enough to be running when it is read back, however fast the test runs.
    const scale = h.sandbox.state.timeScale;
    h.sandbox.state.timeScale = 1;
    const started = await raw(h.url, 'tools/call', {
      name: 'vm_snapshot_create',
      arguments: { vmId: 85561, name: 'c' },
    }).finally(() => {
      h.sandbox.state.timeScale = scale;
    });
    const taskId = (started['result'] as Json)['taskId'] as string;
    const cancel = await raw(h.url, 'tasks/cancel', { taskId });
    expect(cancel['result']).toMatchObject({ resultType: 'complete' });
    const after = (await raw(h.url, 'tasks/get', { taskId }))['result'] as Json;
    expect(after['status']).not.toBe('cancelled');
    expect(after['status']).toBe('working');
    expect(after['statusMessage']).toMatch(/cannot stop a running operation/);
    // It goes on at the provider and completes: the next tests need the VM free.
    const status = async () => ((await raw(h.url, 'tasks/get', { taskId }))['result'] as Json)['status'];
    for (let i = 0; i < 50 && (await status()) !== 'completed'; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await status()).toBe('completed');
    expect((await raw(h.url, 'tasks/cancel', { taskId: 'nope' }))['error']).toMatchObject({ code: -32602 });
  });

  it('gives a client without the extension exactly the result it always had', async () => {
    const plain = await raw(
      h.url,
      'tools/call',
      { name: 'vm_rename', arguments: { vmId: 85561, name: 'ubuntu' } },
      {},
      {},
    );
    const result = plain['result'] as Json;
    expect(result['resultType']).toBe('complete');
    expect(result['structuredContent']).toMatchObject({ operationId: expect.any(Number), status: 'STARTED' });
    const waited = await h.mcp.callTool({
      name: 'vm_rename',
      arguments: { vmId: 85561, name: 'ubuntu', wait: true },
    });
    expect(waited.structuredContent).toMatchObject({ status: 'DONE' });
  });

  it('asks before a destructive task and creates none when the user declines', async () => {
    const before = h.sandbox.requests.count('vm_reset');
    const ask = await raw(
      h.url,
      'tools/call',
      { name: 'vm_reset', arguments: { vmId: 85561 } },
      {},
      {
        elicitation: {},
        extensions: { [TASKS_EXTENSION]: {} },
      },
    );
    const result = ask['result'] as Json;
    expect(result['resultType']).toBe('input_required');
    const declined = await raw(
      h.url,
      'tools/call',
      {
        name: 'vm_reset',
        arguments: { vmId: 85561 },
        inputResponses: { confirm: { action: 'decline' } },
        requestState: result['requestState'],
      },
      {},
      { elicitation: {}, extensions: { [TASKS_EXTENSION]: {} } },
    );
    expect(declined['result']).toMatchObject({ resultType: 'complete', isError: true });
    expect(h.sandbox.requests.count('vm_reset')).toBe(before);
  });
});

describe('many tasks finishing at once', () => {
  it('all complete at one provider read a get, with more of them than the read-backs kept at once', async () => {
    // More tasks than the process keeps read-backs for: pushing one out for another would start
    // that one again from the operation, and at this many none would ever complete.
    const n = OperationTaskStore.READING_KEPT + 100;
    const { startSandbox } = await import('../src/sandbox/index.js');
    const sandbox = await startSandbox({ port: 0, timeScale: 0, vmQuota: n + 50 });
    const client = new FlopsClient({
      baseUrl: sandbox.url,
      clientId: sandbox.clientId,
      apiKey: sandbox.apiKey,
    });
    try {
      const installed: { operationId: number; vmId: number }[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next++ < n) {
            installed.push(
              await client.call('vm_install', {
                tenantId: 10081,
                distributionId: 233,
                tariffId: 1,
                ipCount: 0,
                password: 'Many-tasks-9',
              }),
            );
          }
        }),
      );
      // The result of a finished install: the new VM, read back (one read, as register.ts's own).
      const store = new OperationTaskStore(
        new TaskSeal(randomBytes(32)),
        client,
        (_row, operation, vmId) => ({
          reads: [
            async (out) => {
              out['vm'] = await client.call('vm_get', { vmId: vmId! });
            },
          ],
          result: (out) => ({ content: [], structuredContent: { status: operation.status, vm: out['vm'] } }),
        }),
      );
      const tasks = installed.map((op) =>
        store.create({ operationId: op.operationId, tool: 'vm_install', vmId: op.vmId }, 'VM_INSTALL'),
      );
      // Every operation has ended (time scale 0): the gets go round the tasks, one get each a round.
      let open = tasks.map((t) => t.taskId);
      let last: string | undefined;
      const rounds: { gets: number; reads: number; waiting: number }[] = [];
      while (open.length > 0 && rounds.length < 6) {
        const before = sandbox.requests.count();
        const states = [];
        for (const taskId of open) states.push(await store.get(taskId));
        rounds.push({
          gets: open.length,
          reads: sandbox.requests.count() - before,
          waiting: states.filter((st) => st.status === 'working' && st.pollIntervalMs === 250).length,
        });
        open = states.filter((st) => st.status !== 'completed').map((st) => st.taskId);
        last = states.at(-1)?.taskId;
      }
      // Round 1 reads each operation and keeps as many read-backs as there are places (other tests
      // of this process may hold a few): the rest wait; round 2 completes those kept and keeps the
      // rest, which round 3 completes.
      expect(open).toEqual([]);
      const waited = rounds[0]!.waiting;
      expect(waited).toBeGreaterThanOrEqual(100);
      expect(rounds.map((r) => r.gets)).toEqual([n, n, waited]);
      expect(rounds.map((r) => r.waiting)).toEqual([waited, 0, 0]);
      expect(rounds.every((r) => r.reads === r.gets)).toBe(true);
      // The last to complete is answered again from the process's memory, without a read.
      const requests = sandbox.requests.count();
      const done = await store.get(last);
      expect(done).toMatchObject({ status: 'completed', result: { structuredContent: { status: 'DONE' } } });
      expect(sandbox.requests.count()).toBe(requests);
    } finally {
      await client.close();
      await sandbox.close();
    }
  }, 120_000);
});

describe('tasks over stdio (the built bin)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill('SIGKILL'));

  it('answers with a task and completes it, readable by a second process holding the key', async () => {
    const sandbox = await import('../src/sandbox/index.js').then((m) =>
      m.startSandbox({ port: 0, timeScale: 0.005 }),
    );
    const env = {
      ...cleanEnv,
      FLOPS_API_URL: sandbox.url,
      FLOPS_CLIENT_ID: sandbox.clientId,
      FLOPS_API_KEY: sandbox.apiKey,
      FLOPS_MCP_AUTH_KEY: randomBytes(32).toString('base64'),
    };
    const stdio = (input: Json[]) =>
      new Promise<Json[]>((resolve) => {
        const c = spawn(process.execPath, [cli], { env, stdio: ['pipe', 'pipe', 'ignore'] });
        child = c;
        const out: Json[] = [];
        let buffer = '';
        // One message at a time: each is sent once the one before it is answered.
        const send = () => c.stdin!.write(`${JSON.stringify(input[out.length])}\n`);
        c.stdout!.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
            out.push(JSON.parse(buffer.slice(0, nl)) as Json);
            buffer = buffer.slice(nl + 1);
            if (out.length === input.length) {
              c.kill();
              resolve(out);
            } else send();
          }
        });
        send();
      });
    const rpc = (id: number, method: string, params: Json = {}) => ({
      jsonrpc: '2.0',
      id,
      method,
      params: { ...params, _meta: ENVELOPE() },
    });
    const [discover, call] = await stdio([
      rpc(1, 'server/discover'),
      rpc(2, 'tools/call', { name: 'vm_reboot', arguments: { vmId: 85561 } }),
    ]);
    expect(discover?.['result']).toMatchObject({ capabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    const task = call?.['result'] as Json;
    expect(task).toMatchObject({ resultType: 'task', status: 'working' });
    await new Promise((r) => setTimeout(r, 500));
    // The second process reads the ended operation, then the VM it renamed: one read a get.
    const get = (id: number) => rpc(id, 'tasks/get', { taskId: task['taskId'] });
    const [, ended, got] = await stdio([rpc(1, 'server/discover'), get(3), get(4)]);
    expect(ended?.['result']).toMatchObject({ status: 'working', pollIntervalMs: 10 });
    expect(got?.['result']).toMatchObject({
      status: 'completed',
      result: { structuredContent: { status: 'DONE' } },
    });
    await sandbox.close();
  });
});
