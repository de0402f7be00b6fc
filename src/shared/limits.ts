/**
 * Rate limits as token buckets: per user (a Flops credential, or a signed-in account), per provider
 * account, and a ceiling on requests to the provider from all replicas together.
 *
 * One interface, two stores: MemoryBuckets (one process) and RedisBuckets (every replica counts in
 * the same buckets, taken atomically by one Lua script with Redis's own clock, so replicas' clocks
 * do not matter). A call takes one token from each of its buckets, all or none; refused, it is told
 * when the slowest of them will have a token again.
 *
 * Redis unreachable: a limit that cannot be seen is not exceeded blindly. A read is counted in a
 * local budget, the shared rate divided by the replicas last seen; a write (`critical`) is refused,
 * with a retry in a few seconds. Nothing ever waits on Redis: its commands time out in 1 s.
 */
import { createHash } from 'node:crypto';
import { sleep } from '../util.js';
import type { Redis } from './redis.js';

/** Tokens a minute, and how many may be taken at once. */
export interface Rate {
  perMinute: number;
  burst: number;
}

export interface Bucket {
  /** What it limits, for messages: `user`, `account`, `provider`. */
  name: string;
  /** Unique per limited thing; never a secret (credentials are hashed). */
  key: string;
  rate: Rate;
}

export type Verdict =
  | { ok: true }
  | {
      ok: false;
      /** When a token will be there again (ms). */
      retryAfterMs: number;
      /** The bucket that refused (`user`, `account`, `provider`); undefined: the shared count is unreachable. */
      bucket: string | undefined;
    };

export interface TokenBuckets {
  /** One token from each bucket, all or none. `critical`: a write, refused when the shared count cannot be read. */
  take(buckets: readonly Bucket[], critical: boolean): Promise<Verdict>;
}

const OK: Verdict = { ok: true };

/** Per-user and per-account defaults when the replicas share Redis (FLOPS_USER_RATE, FLOPS_ACCOUNT_RATE unset). */
export const DEFAULT_RATES = { userPerMinute: 120, accountPerMinute: 600 } as const;

/** When Redis cannot be reached, a write is refused with this retry (ms). */
const UNREACHABLE_RETRY_MS = 5_000;

/** Buckets of one process. Full buckets are forgotten (they are the same as new ones). */
export class MemoryBuckets implements TokenBuckets {
  readonly #state = new Map<string, { tokens: number; at: number }>();

  take(buckets: readonly Bucket[], _critical = false, scale = 1): Promise<Verdict> {
    return Promise.resolve(this.takeNow(buckets, scale));
  }

  /** `scale`: a share of each rate (a replica's part of a shared limit). */
  takeNow(buckets: readonly Bucket[], scale = 1, now = Date.now()): Verdict {
    let wait = 0;
    let refusing: string | undefined;
    const next: { key: string; tokens: number }[] = [];
    for (const b of buckets) {
      const burst = Math.max(1, Math.floor(b.rate.burst * scale));
      const perMs = (b.rate.perMinute * scale) / 60_000;
      const s = this.#state.get(b.key);
      const tokens = s ? Math.min(burst, s.tokens + (now - s.at) * perMs) : burst;
      if (tokens < 1) {
        const w = Math.ceil((1 - tokens) / perMs);
        if (w > wait) {
          wait = w;
          refusing = b.name;
        }
      }
      next.push({ key: b.key, tokens });
    }
    if (wait > 0) return { ok: false, retryAfterMs: wait, bucket: refusing };
    for (const n of next) this.#state.set(n.key, { tokens: n.tokens - 1, at: now });
    if (this.#state.size > 10_000) this.#prune(buckets, now);
    return OK;
  }

  #prune(buckets: readonly Bucket[], now: number): void {
    const rates = new Map(buckets.map((b) => [b.key, b.rate]));
    for (const [key, s] of this.#state) {
      // Without the rate at hand, a bucket untouched for 10 minutes is full at any rate we allow.
      const rate = rates.get(key);
      const full = rate ? s.tokens + ((now - s.at) * rate.perMinute) / 60_000 >= rate.burst : false;
      if (full || now - s.at > 600_000) this.#state.delete(key);
    }
  }
}

/**
 * KEYS: the buckets; ARGV: per bucket its tokens per ms and burst. Returns {0} when taken, else
 * {ms to wait, index of the bucket that refused}. Redis's TIME is the one clock of all replicas.
 */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait, refusing = 0, 0
local tokens = {}
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local s = redis.call('HMGET', key, 'tokens', 'at')
  local have = tonumber(s[1])
  if have == nil then have = burst else have = math.min(burst, have + math.max(0, now - tonumber(s[2])) * rate) end
  tokens[i] = have
  if have < 1 then
    local w = math.ceil((1 - have) / rate)
    if w > wait then wait, refusing = w, i end
  end
end
if wait > 0 then return {wait, refusing} end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('HSET', key, 'tokens', tokens[i] - 1, 'at', now)
  redis.call('PEXPIRE', key, math.ceil(burst / rate) + 1000)
end
return {0, 0}
`;

type WithTake = Redis & { flopsTake(...args: (string | number)[]): Promise<[number, number]> };

/** Buckets in Redis, shared by every replica; a local budget while Redis is unreachable. */
export class RedisBuckets implements TokenBuckets {
  readonly #redis: WithTake;
  readonly #local = new MemoryBuckets();
  readonly #replicas: () => number;
  readonly #prefix: string;

  /** `replicas`: how many replicas share the limits (last seen), for the local budget. */
  constructor(redis: Redis, replicas: () => number, prefix = 'flops-mcp:rate:') {
    redis.defineCommand('flopsTake', { lua: TAKE_SCRIPT });
    this.#redis = redis as WithTake;
    this.#replicas = replicas;
    this.#prefix = prefix;
  }

  async take(buckets: readonly Bucket[], critical: boolean): Promise<Verdict> {
    if (buckets.length === 0) return OK;
    const args: (string | number)[] = [buckets.length, ...buckets.map((b) => this.#prefix + b.key)];
    for (const b of buckets) args.push(b.rate.perMinute / 60_000, b.rate.burst);
    try {
      if (this.#redis.status !== 'ready') throw new Error('redis not ready');
      const [wait, index] = await this.#redis.flopsTake(...args);
      if (wait <= 0) return OK;
      return { ok: false, retryAfterMs: wait, bucket: buckets[index - 1]?.name };
    } catch {
      if (critical) return { ok: false, retryAfterMs: UNREACHABLE_RETRY_MS, bucket: undefined };
      return this.#local.takeNow(buckets, 1 / Math.max(1, this.#replicas()));
    }
  }
}

/** A key for a limited thing (credentials, an account id): a digest, never the value. */
export function limitKey(kind: string, ...parts: string[]): string {
  const digest = createHash('sha256')
    .update(`${kind}\0${parts.join('\0')}`)
    .digest('base64url')
    .slice(0, 22);
  return `${kind}:${digest}`;
}

export interface LimitSettings {
  userRate: number | undefined;
  userBurst: number;
  accountRate: number | undefined;
  accountBurst: number;
  providerRate: number | undefined;
}

/** The per-call rates in force: the settings, with the defaults when the replicas share Redis. 0: none. */
export function callRates(s: LimitSettings, shared: boolean): { user?: Rate; account?: Rate } {
  const userPerMinute = s.userRate ?? (shared ? DEFAULT_RATES.userPerMinute : 0);
  const accountPerMinute = s.accountRate ?? (shared ? DEFAULT_RATES.accountPerMinute : 0);
  return {
    ...(userPerMinute > 0 ? { user: { perMinute: userPerMinute, burst: s.userBurst } } : {}),
    ...(accountPerMinute > 0 ? { account: { perMinute: accountPerMinute, burst: s.accountBurst } } : {}),
  };
}

/** Longest a read waits for its turn under the provider ceiling. */
export const PROVIDER_READ_WAIT_MS = 2_000;

/**
 * The provider ceiling as FlopsClient's `throttle`: one token a request, all replicas together
 * (FLOPS_PROVIDER_RATE a second, bursts of one second's worth). A read waits up to 2 s (and never
 * past its deadline) for its turn; a write is never delayed (a late write invites a retry, and a
 * duplicate): it goes now or is refused, with when to retry.
 */
export function providerThrottle(
  buckets: TokenBuckets,
  perSecond: number,
): (read: boolean, signal: AbortSignal | undefined, deadline: number) => Promise<number | undefined> {
  const bucket: Bucket = {
    name: 'provider',
    key: 'provider',
    rate: { perMinute: perSecond * 60, burst: Math.max(1, Math.ceil(perSecond)) },
  };
  return async (read, signal, deadline) => {
    const until = Math.min(deadline, Date.now() + PROVIDER_READ_WAIT_MS);
    for (;;) {
      const verdict = await buckets.take([bucket], !read);
      if (verdict.ok) return undefined;
      if (!read || Date.now() + verdict.retryAfterMs > until || signal?.aborted) return verdict.retryAfterMs;
      await sleep(verdict.retryAfterMs, signal).catch(() => undefined);
    }
  };
}
