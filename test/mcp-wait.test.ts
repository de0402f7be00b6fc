/**
 * wait_for_operation: DONE, ERROR, deadline, cancellation, progress, unknown id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, harness, json, text } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function install(hh: Harness, name: string): Promise<{ vmId: number; operationId: number }> {
  const r = await hh.call('vm_install', {
    tenantId: 111,
    name,
    distribution: 'debian',
    tariff: 'Облачный 512',
    password: 'Secret-pass1',
  });
  expect(r.isError, text(r)).toBeFalsy();
  return json(r) as { vmId: number; operationId: number };
}

describe('wait_for_operation', () => {
  it('waits until DONE, sending rising progress notifications', async () => {
    h = await harness({ timeScale: 0.2 });
    const { operationId, vmId } = await install(h, 'w1');
    const progress: number[] = [];
    const result = await h.mcp.callTool(
      { name: 'wait_for_operation', arguments: { operationId } },
      undefined,
      {
        onprogress: (p) => void progress.push(p.progress),
      },
    );
    const data = json(result as never);
    expect(data.status).toBe('DONE');
    expect((data.operation as { vmId: number; operationType: string }).vmId).toBe(vmId);
    expect((data.operation as { operationType: string }).operationType).toBe('VM_INSTALL');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBe(progress.length);
    expect(progress.at(-1)).toBe(100);
  });

  it('reports ERROR as an isError result with the code and a hint', async () => {
    h = await harness();
    const { operationId, vmId } = await install(h, 'hung-w2');
    await h.call('wait_for_operation', { operationId });
    h.sandbox.state.timeScale = 0.002; // the guest's 3 minutes, in a moment
    const shutdown = json(await h.call('vm_shutdown', { vmId }));
    const result = await h.call('wait_for_operation', { operationId: shutdown.operationId });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/VM_SHUTDOWN.*failed.*vm_poweroff/s);
  });

  it('returns the current state at the deadline, not an error', async () => {
    h = await harness({ timeScale: 5 });
    const { operationId } = await install(h, 'slow');
    const result = await h.call('wait_for_operation', { operationId, timeoutSeconds: 1 });
    expect(result.isError).toBeFalsy();
    const data = json(result);
    expect(data.finished).toBe(false);
    expect(data.status).toBe('PENDING');
    expect(data.next).toMatch(new RegExp(`call wait_for_operation again with operationId ${operationId}`));
  });

  it('stops polling at once when the call is cancelled', async () => {
    h = await harness({ timeScale: 20 });
    const { operationId } = await install(h, 'cancel-me');
    const controller = new AbortController();
    const pending = h.mcp.callTool({ name: 'wait_for_operation', arguments: { operationId } }, undefined, {
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    await expect(pending).rejects.toThrow();
    const polls = h.sandbox.requests.count('operation_get');
    await new Promise((r) => setTimeout(r, 600));
    expect(h.sandbox.requests.count('operation_get')).toBe(polls);
  });

  it('treats an unknown operation id as an error', async () => {
    h = await harness();
    const result = await h.call('wait_for_operation', { operationId: 987654 });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/error\.object\.not\.found/);
    const bad = await h.call('wait_for_operation', { operationId: 1, timeoutSeconds: 56 });
    expect(text(bad)).toMatch(/timeoutSeconds/);
  });
});
