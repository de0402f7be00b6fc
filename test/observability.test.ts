/**
 * Observability of the HTTP server: Prometheus metrics at /metrics (behind the token, or on a port
 * of their own) and OpenTelemetry traces exported to a real OTLP/HTTP receiver, with real SDK
 * clients of both protocol generations, the real server and the real sandbox.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMetrics } from '../src/http/metrics.js';
import { observe } from '../src/observe.js';
import { startTracing } from '../src/tracing.js';
import { V2Client } from './helpers.js';
import {
  connect,
  credHeaders,
  DEFAULT_KEY,
  type HttpSetup,
  httpSetup,
  raw,
  TOKEN,
  USER_B,
} from './http-helpers.js';
import { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.js';

/** The value of one sample of the exposition, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

const bearer = { Authorization: `Bearer ${TOKEN}` };
const PASSWORD = 'Tracing-Secret-pass9';

describe('metrics', () => {
  let s: HttpSetup;
  let metrics: ReturnType<typeof startMetrics>;
  beforeAll(async () => {
    metrics = startMetrics();
    s = await httpSetup({ token: TOKEN, metrics });
  });
  afterAll(async () => {
    await s.close();
    metrics.close();
  });

  it('serves /metrics behind the same guards as /mcp: the bearer token, and Host', async () => {
    const metricsUrl = s.url.replace(/\/mcp$/, '/metrics');
    expect(s.http.metricsUrl).toBe(metricsUrl);
    expect((await raw(metricsUrl)).status).toBe(401);
    expect(
      (await raw(metricsUrl, { headers: { Authorization: 'Bearer wrong-token-000000000' } })).status,
    ).toBe(401);
    expect((await raw(metricsUrl, { headers: { ...bearer, Host: 'evil.example:80' } })).status).toBe(403);
    expect((await raw(metricsUrl, { method: 'POST', headers: bearer, body: {} })).status).toBe(405);
    const ok = await raw(metricsUrl, { headers: bearer });
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    // Process metrics come along; ours are all declared with their help.
    expect(ok.text).toMatch(/^process_cpu_user_seconds_total /m);
    for (const name of [
      'flops_mcp_tool_calls_total',
      'flops_mcp_tool_call_duration_seconds',
      'flops_mcp_provider_requests_total',
      'flops_mcp_provider_request_duration_seconds',
      'flops_mcp_provider_retries_total',
      'flops_mcp_waits_total',
      'flops_mcp_tasks_created_total',
      'flops_mcp_task_requests_total',
      'flops_mcp_confirmations_total',
      'flops_mcp_rate_limited_total',
      'flops_mcp_sessions',
      'flops_mcp_sessions_ended_total',
    ]) {
      expect(ok.text).toMatch(new RegExp(`^# HELP ${name} \\S`, 'm'));
    }
  });

  it('counts tool calls by tool and outcome, provider calls, retries, waits, confirmations and sessions', async () => {
    const metricsUrl = s.http.metricsUrl!;
    const c = await connect(s.url, bearer);
    const d = await connect(s.url, { ...bearer, ...credHeaders(USER_B) });
    // One failing read of vm_list: retried, then fine.
    s.sandbox.faults.add({ kind: 'http-error', tool: 'vm_list', status: 503 });
    expect((await c.call('vm_list')).isError).toBeFalsy();
    expect((await c.call('vm_get', { vmId: 85561 })).isError).toBeFalsy();
    expect((await c.call('vm_get', { vmId: 1 })).isError).toBe(true);
    expect((await c.call('vm_get', { vmId: -5 })).isError).toBe(true);
    expect((await c.call('vm_reboot', { vmId: 85561, wait: true })).isError).toBeFalsy();
    // A destructive call: this client cannot be asked (no elicitation), so in elicit mode it goes on.
    expect((await c.call('vm_reset', { vmId: 85561 })).isError).toBeFalsy();
    const text = (await raw(metricsUrl, { headers: bearer })).text;
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_list', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_get', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_get', outcome: 'error' })).toBe(1);
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_get', outcome: 'refused' })).toBe(1);
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_reboot', outcome: 'ok' })).toBe(1);
    expect(
      sample(text, 'flops_mcp_tool_call_duration_seconds_count', { tool: 'vm_reboot', outcome: 'ok' }),
    ).toBe(1);
    expect(sample(text, 'flops_mcp_tool_calls_in_flight')).toBe(0);
    expect(sample(text, 'flops_mcp_provider_requests_total', { method: 'vm_list', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'flops_mcp_provider_retries_total', { method: 'vm_list', reason: 'http' })).toBe(1);
    expect(
      sample(text, 'flops_mcp_provider_requests_total', { method: 'vm_get', outcome: 'api-error' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'flops_mcp_provider_requests_total', { method: 'vm_reboot', outcome: 'ok' })).toBe(1);
    expect(
      sample(text, 'flops_mcp_provider_requests_total', { method: 'operation_get', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'flops_mcp_provider_request_duration_seconds_count', { method: 'vm_reboot' })).toBe(
      1,
    );
    expect(sample(text, 'flops_mcp_waits_total', { outcome: 'done' })).toBe(1);
    expect(sample(text, 'flops_mcp_wait_duration_seconds_count')).toBe(1);
    expect(sample(text, 'flops_mcp_confirmations_total', { outcome: 'not-asked' })).toBe(1);
    expect(sample(text, 'flops_mcp_sessions')).toBe(2);
    // Nothing secret in the exposition: no key, no token, no password, no session id.
    expect(text).not.toContain(DEFAULT_KEY);
    expect(text).not.toContain(USER_B.apiKey);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(c.transport.sessionId!);
    await c.transport.terminateSession();
    await Promise.all([c.mcp.close(), d.mcp.close()]);
    const after = (await raw(metricsUrl, { headers: bearer })).text;
    expect(sample(after, 'flops_mcp_sessions')).toBe(1);
    expect(sample(after, 'flops_mcp_sessions_ended_total', { reason: 'deleted' })).toBe(1);
  });

  it('counts confirmations asked and answered, and rate-limit refusals reported through the hook', async () => {
    // (Refusals by a real limit are counted in test/limits.test.ts.)
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport: Legacy } = await import(
      '@modelcontextprotocol/sdk/client/streamableHttp.js'
    );
    const asking = new Client({ name: 'asks', version: '1' }, { capabilities: { elicitation: {} } });
    asking.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' }));
    await asking.connect(new Legacy(new URL(s.url), { requestInit: { headers: bearer } }));
    const declined = await asking.callTool({ name: 'vm_delete', arguments: { vmId: 85561 } });
    expect(declined.isError).toBe(true);
    observe.rateLimited('credential');
    observe.rateLimited('credential');
    const text = (await raw(s.http.metricsUrl!, { headers: bearer })).text;
    expect(sample(text, 'flops_mcp_confirmations_total', { outcome: 'asked' })).toBe(1);
    expect(sample(text, 'flops_mcp_confirmations_total', { outcome: 'declined' })).toBe(1);
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_delete', outcome: 'input-required' })).toBe(
      1,
    );
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_delete', outcome: 'declined' })).toBe(1);
    expect(sample(text, 'flops_mcp_rate_limited_total', { scope: 'credential' })).toBe(2);
    await asking.close();
  });

  it('counts the calls of a 2026-07-28 client, and tasks created and polled', async () => {
    const v2 = new V2Client({ name: 'v2', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await v2.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: bearer } }));
    expect(v2.getProtocolEra()).toBe('modern');
    await v2.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
    await v2.close();
    // The Tasks extension, by hand: a reboot answered with a task, then polled.
    const rpc = async (method: string, params: Record<string, unknown>) =>
      (
        await raw(s.url, {
          headers: {
            ...bearer,
            'mcp-protocol-version': '2026-07-28',
            'mcp-method': method,
            ...(typeof (params['name'] ?? params['taskId']) === 'string'
              ? { 'mcp-name': String(params['name'] ?? params['taskId']) }
              : {}),
          },
          body: {
            jsonrpc: '2.0',
            id: method,
            method,
            params: {
              ...params,
              _meta: {
                'io.modelcontextprotocol/protocolVersion': '2026-07-28',
                'io.modelcontextprotocol/clientInfo': { name: 'tasks', version: '1' },
                'io.modelcontextprotocol/clientCapabilities': {
                  extensions: { 'io.modelcontextprotocol/tasks': {} },
                },
              },
            },
          },
        })
      ).json()['result'] as Record<string, unknown> | undefined;
    const task = await rpc('tools/call', { name: 'vm_reboot', arguments: { vmId: 85561 } });
    expect(task?.['resultType']).toBe('task');
    expect(await rpc('tasks/get', { taskId: task!['taskId'] })).toMatchObject({ taskId: task!['taskId'] });
    expect(await rpc('tasks/get', { taskId: 'not-a-task' })).toBeUndefined();
    const text = (await raw(s.http.metricsUrl!, { headers: bearer })).text;
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_get', outcome: 'ok' })).toBe(2);
    expect(sample(text, 'flops_mcp_tool_calls_total', { tool: 'vm_reboot', outcome: 'task' })).toBe(1);
    expect(sample(text, 'flops_mcp_tasks_created_total', { tool: 'vm_reboot' })).toBe(1);
    expect(
      (sample(text, 'flops_mcp_task_requests_total', { method: 'tasks/get', status: 'working' }) ?? 0) +
        (sample(text, 'flops_mcp_task_requests_total', { method: 'tasks/get', status: 'completed' }) ?? 0),
    ).toBe(1);
    expect(sample(text, 'flops_mcp_task_requests_total', { method: 'tasks/get', status: 'unknown' })).toBe(1);
  });
});

describe('metrics on a port of their own', () => {
  it('serves GET /metrics there without the token, and nothing else; /metrics is not on the MCP port', async () => {
    const metrics = startMetrics({ defaultMetrics: false });
    const s = await httpSetup({ token: TOKEN, metrics, metricsPort: 0 });
    try {
      const url = s.http.metricsUrl!;
      expect(new URL(url).port).not.toBe(new URL(s.url).port);
      const ok = await raw(url);
      expect(ok.status).toBe(200);
      expect(ok.text).toMatch(/^# HELP flops_mcp_tool_calls_total/m);
      expect(ok.text).not.toMatch(/^process_/m);
      expect((await raw(url.replace(/\/metrics$/, '/mcp'))).status).toBe(404);
      expect((await raw(s.url.replace(/\/mcp$/, '/metrics'), { headers: bearer })).status).toBe(404);
    } finally {
      await s.close();
      metrics.close();
    }
    // Closed with the server.
    await expect(raw(s.http.metricsUrl!)).rejects.toThrow();
  });
});

describe('traces (OTLP/HTTP, JSON)', () => {
  let receiver: OtlpReceiver;
  let tracing: ReturnType<typeof startTracing>;
  let s: HttpSetup;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    tracing = startTracing({ url: `${receiver.endpoint}/v1/traces` });
    s = await httpSetup({ token: TOKEN });
  });
  afterEach(() => {
    receiver.spans.length = 0;
    receiver.bodies.length = 0;
  });
  afterAll(async () => {
    await s.close();
    await tracing.shutdown();
    await receiver.close();
  });

  const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
  const PARENT_ID = '00f067aa0ba902b7';

  it('2025 session: the traceparent header is continued; one span per tool call, a child per provider call', async () => {
    const c = await connect(s.url, {
      ...bearer,
      traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      tracestate: 'vendor=value',
    });
    const result = await c.call('vm_password_change', { vmId: 85561, password: PASSWORD, wait: true });
    await tracing.flush();
    expect(result.isError).toBeFalsy();
    const tool = receiver.spans.find((sp) => sp.name === 'tools/call vm_password_change');
    expect(tool, JSON.stringify(receiver.spans.map((sp) => sp.name))).toBeDefined();
    expect(tool!.traceId).toBe(TRACE_ID);
    expect(tool!.parentSpanId).toBe(PARENT_ID);
    expect(tool!.kind).toBe(2); // SERVER
    expect(tool!.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'vm_password_change',
      'flops_mcp.era': 'legacy',
      'flops_mcp.outcome': result.isError ? 'error' : 'ok',
      'mcp.session.id': c.transport.sessionId!.slice(0, 8),
    });
    expect(tool!.resource['service.name']).toBe('flops-mcp');
    const children = receiver.spans.filter((sp) => sp.parentSpanId === tool!.spanId);
    const names = children.map((sp) => sp.name);
    expect(names).toContain('flops vm_password_change');
    expect(names).toContain('flops operation_get');
    for (const child of children) {
      expect(child.traceId).toBe(TRACE_ID);
      expect(child.kind).toBe(3); // CLIENT
      expect(child.attributes['url.full']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/[^?]*$/);
    }
    const write = children.find((sp) => sp.name === 'flops vm_password_change')!;
    expect(write.attributes).toMatchObject({
      'flops.method': 'vm_password_change',
      'flops.read': false,
      'flops.outcome': 'ok',
      'http.response.status_code': 200,
      'http.request.method': 'GET',
      'url.template': expect.stringMatching(/\/vm\/\{vmId\}\/password_change\/$/),
    });
    // No credential, password, token or key anywhere in what was exported.
    const everything = receiver.bodies.join('\n');
    for (const secret of [PASSWORD, USER_B.apiKey, DEFAULT_KEY, TOKEN, 'apiKey', c.transport.sessionId!]) {
      expect(everything).not.toContain(secret);
    }
    expect(receiver.contentTypes.every((t) => t.startsWith('application/json'))).toBe(true);
    await c.mcp.close();
  });

  it('a provider error is recorded with its code and an error status; no traceparent starts a new trace', async () => {
    const c = await connect(s.url, bearer);
    expect((await c.call('vm_get', { vmId: 1 })).isError).toBe(true);
    await tracing.flush();
    const tool = receiver.spans.find((sp) => sp.name === 'tools/call vm_get')!;
    expect(tool.parentSpanId).toBeUndefined();
    expect(tool.traceId).not.toBe(TRACE_ID);
    expect(tool.attributes['flops_mcp.outcome']).toBe('error');
    expect(tool.status?.code).toBe(2); // ERROR
    const child = receiver.spans.find((sp) => sp.parentSpanId === tool.spanId)!;
    expect(child.attributes).toMatchObject({
      'flops.outcome': 'api-error',
      'flops.error_code': expect.stringMatching(/^error\./),
      'error.type': 'api-error',
    });
    await c.mcp.close();
  });

  it('2026-07-28: the traceparent of the request _meta is continued (it wins over headers)', async () => {
    const v2 = new V2Client({ name: 'v2', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await v2.connect(
      new StreamableHTTPClientTransport(new URL(s.url), {
        requestInit: { headers: { ...bearer, traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` } },
      }),
    );
    expect(v2.getProtocolEra()).toBe('modern');
    const trace = 'a'.repeat(31) + 'b';
    const parent = 'c'.repeat(15) + 'd';
    await v2.callTool({
      name: 'vm_get',
      arguments: { vmId: 85561 },
      _meta: { traceparent: `00-${trace}-${parent}-01`, tracestate: 'k=v' },
    });
    await tracing.flush();
    const tool = receiver.spans.find((sp) => sp.name === 'tools/call vm_get')!;
    expect(tool).toBeDefined();
    expect(tool.traceId).toBe(trace);
    expect(tool.parentSpanId).toBe(parent);
    expect(tool.attributes['flops_mcp.era']).toBe('modern');
    const child = receiver.spans.find((sp) => sp.parentSpanId === tool.spanId)!;
    expect(child.name).toBe('flops vm_get');
    expect(child.traceId).toBe(trace);
    await v2.close();
  });

  it('stateless 2025: the traceparent header of a plain call is continued; without one a new trace starts', async () => {
    const stateless = await httpSetup({ token: TOKEN, stateless: true });
    try {
      const post = (headers: Record<string, string>) =>
        raw(stateless.url, {
          headers: { ...bearer, 'mcp-protocol-version': '2025-11-25', ...headers },
          body: {
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: 'vm_get', arguments: { vmId: 85561 } },
          },
        });
      const traced = await post({
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
        tracestate: 'vendor=value',
      });
      expect(traced.status).toBe(200);
      expect(traced.json()['result']).toBeDefined();
      expect((await post({})).status).toBe(200);
      await tracing.flush();
      const tools = receiver.spans.filter((sp) => sp.name === 'tools/call vm_get');
      expect(tools).toHaveLength(2);
      expect(tools.filter((sp) => sp.traceId === TRACE_ID && sp.parentSpanId === PARENT_ID)).toHaveLength(1);
      expect(tools.filter((sp) => sp.traceId !== TRACE_ID && sp.parentSpanId === undefined)).toHaveLength(1);
    } finally {
      await stateless.close();
    }
  });
});
