/**
 * Rate limits (src/shared/limits.ts) through the real seam and the real FlopsClient against the
 * sandbox, in one process (the in-memory buckets; the Redis ones are proven across replicas by
 * test/replicas.test.ts):
 *
 * - the per-user limit refuses a call beyond the burst as a `rate-limited` tool error with
 *   `retryAfter`, before anything is sent, and serves again once a token is back;
 * - the provider ceiling lets reads (retries included) wait for their turn, up to 2 s, and refuses
 *   a write at once rather than delay it, sending nothing.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startMetrics } from '../src/http/metrics.js';
import { type Bucket, MemoryBuckets, providerThrottle } from '../src/shared/limits.js';
import { type Harness, harness } from './helpers.js';

const errorOf = (r: CallToolResult) =>
  (r.structuredContent as { error?: Record<string, unknown>; retryAfter?: number } | undefined) ?? {};

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('rate limits', () => {
  it('a user beyond the burst is refused with when to retry, nothing sent; served again once a token is back', async () => {
    const buckets = new MemoryBuckets();
    const metrics = startMetrics({ defaultMetrics: false });
    const user: Bucket[] = [{ name: 'user', key: 'user:a', rate: { perMinute: 120, burst: 3 } }];
    const sent: string[] = [];
    h = await harness({
      server: { limit: (write) => buckets.take(user, write) },
      client: { onAttempt: (e) => sent.push(e.method) },
    });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await h.call('vm_get', { vmId: 85561 }));
    expect(results.map((r) => r.isError === true)).toEqual([false, false, false, true, true]);
    expect(errorOf(results[3]!)).toMatchObject({
      error: { kind: 'rate-limited', code: 'user-limit' },
      notRun: true,
      retryAfter: 1,
    });
    expect(sent).toHaveLength(3);
    // A write is refused the same way, and never reaches the provider.
    const write = await h.call('vm_rename', { vmId: 85561, name: 'limited' });
    expect(errorOf(write)).toMatchObject({ error: { kind: 'rate-limited' } });
    expect(h.sandbox.state.vms.get(85561)!.name).not.toBe('limited');
    // Each refusal is counted in /metrics, by the limit that refused it.
    expect(await metrics.render()).toMatch(/flops_mcp_rate_limited_total\{scope="user"\} 3/);
    metrics.close();
    // 120 a minute: a token every 500 ms.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await h.call('vm_get', { vmId: 85561 })).isError).toBeFalsy();
  });

  it('the provider ceiling: reads wait for their turn, a write is refused at once rather than delayed', async () => {
    const buckets = new MemoryBuckets();
    const sent: { method: string; outcome: string }[] = [];
    h = await harness({
      // 4 requests a second, bursts of 4.
      client: {
        throttle: providerThrottle(buckets, 4),
        onAttempt: (e) => sent.push({ method: e.method, outcome: e.outcome }),
      },
    });
    const started = Date.now();
    const reads = await Promise.all(Array.from({ length: 6 }, () => h!.call('tariff_list')));
    for (const r of reads) expect(r.isError, JSON.stringify(r)).toBeFalsy();
    // Four at once, then one every 250 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // The bucket is empty now: a write does not wait for a token, it is refused with nothing sent.
    const before = sent.length;
    const write = await h.call('vm_rename', { vmId: 85561, name: 'ceiling' });
    expect(errorOf(write)).toMatchObject({ error: { kind: 'rate-limited', code: 'provider-limit' } });
    expect(errorOf(write).retryAfter).toBeGreaterThanOrEqual(1);
    // The one vm_rename attempt reported is the refusal itself: it never went out.
    expect(sent.slice(before).filter((s) => s.method === 'vm_rename')).toEqual([
      { method: 'vm_rename', outcome: 'throttled' },
    ]);
    expect(h.sandbox.state.vms.get(85561)!.name).not.toBe('ceiling');
  });

  it('a read that would wait more than 2 s for its turn is refused instead', async () => {
    const buckets = new MemoryBuckets();
    // One request every 5 s.
    h = await harness({ client: { throttle: providerThrottle(buckets, 0.2) } });
    expect((await h.call('tariff_list')).isError).toBeFalsy();
    const started = Date.now();
    const refused = await h.call('tariff_list');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(errorOf(refused)).toMatchObject({ error: { kind: 'rate-limited', code: 'provider-limit' } });
    expect(errorOf(refused).retryAfter).toBeGreaterThanOrEqual(4);
  });
});
