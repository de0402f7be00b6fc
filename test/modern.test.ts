/**
 * The 2026-07-28 revision as an agent's client sees it: the v2 Client in auto mode over HTTP against
 * the real server and the sandbox. Structured results are validated by the client against each
 * tool's outputSchema; the text beside them is a summary; destructive tools confirm with
 * input_required and a sealed state that cannot be altered or replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modernHarness, text } from './helpers.js';

type H = Awaited<ReturnType<typeof modernHarness>>;

describe('2026-07-28: structured results and summaries', () => {
  let h: H;
  beforeAll(async () => {
    h = await modernHarness();
    await h.mcp.listTools(); // the client validates every later result against these schemas
  });
  afterAll(() => h.close());

  it('returns data that validates, with a summary of the key facts instead of a JSON copy', async () => {
    const vm = await h.mcp.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
    expect(vm.structuredContent).toMatchObject({ vm: { id: 85561, name: 'ubuntu' } });
    expect(text(vm)).toMatch(/^VM 85561 "ubuntu": VIR_DOMAIN_RUNNING, .*MB RAM.*IP 185\.22\.60\.228/);
    expect(() => JSON.parse(text(vm))).toThrow();
    for (const name of [
      'vm_list',
      'tenant_list',
      'distribution_list',
      'tariff_list',
      'software_list',
      'pubkey_list',
    ]) {
      const r = await h.mcp.callTool({ name, arguments: {} });
      expect(r.isError, name).toBeFalsy();
      expect(text(r), name).toMatch(/^\d+ \w+[:.]/);
    }
    const snaps = await h.mcp.callTool({ name: 'vm_snapshot_list', arguments: { vmId: 85561 } });
    expect(text(snaps)).toMatch(/^1 snapshots:\n- 2206/);
  });

  it('summarizes an operation started, and one waited for with what it produced', async () => {
    const started = await h.mcp.callTool({ name: 'vm_rename', arguments: { vmId: 85561, name: 'ubuntu' } });
    const { operationId } = started.structuredContent as { operationId: number };
    expect(text(started)).toMatch(
      new RegExp(`^Operation ${operationId} on VM 85561: STARTED\\n.*wait_for_operation`, 's'),
    );
    const waited = await h.mcp.callTool({ name: 'wait_for_operation', arguments: { operationId } });
    expect(text(waited)).toMatch(new RegExp(`^Operation ${operationId} \\(VM_UPDATE on VM 85561\\): DONE`));
    const snap = await h.mcp.callTool({
      name: 'vm_snapshot_create',
      arguments: { vmId: 85561, name: 'before', wait: true },
    });
    expect(snap.isError).toBeFalsy();
    expect(text(snap)).toMatch(/DONE\nVM 85561 "ubuntu".*\nSnapshot \d+ "before"/s);
  });

  it('answers every failure with one structured error shape', async () => {
    const invalid = await h.mcp.callTool({ name: 'vm_memory_change', arguments: { vmId: 85561, memory: 3 } });
    expect(invalid.structuredContent).toMatchObject({
      error: {
        kind: 'invalid',
        code: 'invalid-arguments',
        issues: [{ field: 'memory' }],
        next: expect.any(String),
      },
    });
    const provider = await h.mcp.callTool({ name: 'vm_get', arguments: { vmId: 999999 } });
    expect(provider.structuredContent).toMatchObject({
      error: { kind: 'provider', code: 'error.vm.not.found', message: expect.any(String), next: /vm_list/ },
    });
    const ambiguous = await h.mcp.callTool({
      name: 'vm_install',
      arguments: { distribution: 'ubuntu', tariff: 'Облачный 1024', name: 'x' },
    });
    const error = (ambiguous.structuredContent as { error: { code: string; candidates: { id: number }[] } })
      .error;
    expect(error.code).toBe('unresolved');
    expect(error.candidates.length).toBeGreaterThan(1);
  });
});

describe('2026-07-28: confirmation with input_required', () => {
  let h: H;
  const asked: string[] = [];
  let answer: 'accept' | 'decline' = 'decline';
  beforeAll(async () => {
    h = await modernHarness({ capabilities: { elicitation: {} } });
    h.mcp.setRequestHandler('elicitation/create', async (request) => {
      asked.push((request.params as { message: string }).message);
      return answer === 'accept' ? { action: 'accept', content: { confirm: true } } : { action: 'decline' };
    });
  });
  afterAll(() => h.close());

  it('asks through input_required; a decline sends nothing, an accept runs', async () => {
    const declined = await h.mcp.callTool({ name: 'vm_reset', arguments: { vmId: 85561 } });
    expect(declined.isError).toBe(true);
    expect(h.sandbox.requests.count('vm_reset')).toBe(0);
    expect(text(declined)).toMatch(/declined.*Nothing was sent/s);
    expect(asked.at(-1)).toMatch(/^Hard-reset a VM — VM 85561 \(name "ubuntu", IP 185\.22\.60\.228\)/);
    answer = 'accept';
    const accepted = await h.mcp.callTool({ name: 'vm_reset', arguments: { vmId: 85561, wait: true } });
    expect(accepted.isError, text(accepted)).toBeFalsy();
    expect(asked).toHaveLength(2);
    expect(h.sandbox.requests.count('vm_reset')).toBe(1);
  });

  it('refuses an altered or replayed confirmation state without sending anything', async () => {
    const raw = rawCall(h);
    const first = await raw({ name: 'vm_reset', arguments: { vmId: 85561 } });
    expect(first.resultType).toBe('input_required');
    const state = first.requestState as string;
    const inputResponses = { confirm: { action: 'accept', content: { confirm: true } } };
    // Altered: the seal no longer matches.
    const altered = `${state.slice(0, -4)}${state.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    const sent = h.sandbox.requests.count('vm_reset');
    const tampered = await raw({
      name: 'vm_reset',
      arguments: { vmId: 85561 },
      inputResponses,
      requestState: altered,
    });
    expect(tampered.error?.code).toBe(-32602);
    // Moved to another call: the state names the call it was minted for.
    const moved = await raw({
      name: 'vm_reset',
      arguments: { vmId: 88534 },
      inputResponses,
      requestState: state,
    });
    expect(moved.isError).toBe(true);
    expect(JSON.stringify(moved.content)).toMatch(/does not belong to this call/);
    // The right call once; replayed, refused.
    const once = await raw({
      name: 'vm_reset',
      arguments: { vmId: 85561 },
      inputResponses,
      requestState: state,
    });
    expect(once.isError).toBeFalsy();
    const replay = await raw({
      name: 'vm_reset',
      arguments: { vmId: 85561 },
      inputResponses,
      requestState: state,
    });
    expect(replay.isError).toBe(true);
    expect(JSON.stringify(replay.content)).toMatch(/already used/);
    expect(h.sandbox.requests.count('vm_reset')).toBe(sent + 1);
  });
});

interface RawResult {
  resultType?: string;
  requestState?: string;
  isError?: boolean;
  content?: unknown;
  error?: { code: number; message: string };
}

/**
 * tools/call as raw 2026-07-28 HTTP requests (the SDK client fulfils input_required itself): the
 * envelope and the standard headers by hand.
 */
function rawCall(h: H) {
  let id = 0;
  return async (params: Record<string, unknown>): Promise<RawResult> => {
    const body = {
      jsonrpc: '2.0',
      id: ++id,
      method: 'tools/call',
      params: {
        ...params,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
        },
      },
    };
    const response = await fetch(h.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': String(params['name']),
      },
      body: JSON.stringify(body),
    });
    const textBody = await response.text();
    const json = textBody.startsWith('{')
      ? JSON.parse(textBody)
      : JSON.parse(
          textBody
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .at(-1)!
            .slice(6),
        );
    return json.error ? { error: json.error } : json.result;
  };
}
