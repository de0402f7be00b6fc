/**
 * What the replicas of `flops-mcp --http` share, wired from the configuration: the change-event bus,
 * the rate limits and the readiness check. With FLOPS_REDIS_URL, all three use Redis (the bus over
 * pub/sub, the limits as shared token buckets, readiness includes a PING); without it, everything
 * stays in this process and nothing is limited unless a rate is set.
 */
import { request } from 'undici';
import type { FlopsClient, FlopsClientOptions } from '../api/client.js';
import type { Logger } from '../log.js';
import {
  type Bucket,
  callRates,
  type LimitSettings,
  limitKey,
  MemoryBuckets,
  providerThrottle,
  RedisBuckets,
  type TokenBuckets,
  type Verdict,
} from '../shared/limits.js';
import { connectRedis, type RedisConnection, redisHost } from '../shared/redis.js';
import { ReplicaEventBus } from './bus.js';
import type { Readiness } from './server.js';

export interface SharedState {
  bus: ReplicaEventBus;
  /** FlopsClient's throttle: the provider ceiling (FLOPS_PROVIDER_RATE), if set. */
  throttle: FlopsClientOptions['throttle'];
  /**
   * The rate limits of the calls made with `client`: its credentials are the user unless `user`
   * names a signed-in account; its clientId is the provider account. Undefined: no limit applies.
   */
  limitFor(client: FlopsClient, user?: string): ((write: boolean) => Promise<Verdict>) | undefined;
  ready(): Promise<Readiness>;
  /** The Redis connection, for other features that keep shared state (undefined without Redis). */
  redis: RedisConnection | undefined;
  close(): Promise<void>;
}

/** The key of credential digests for the limits: fixed, so that every replica computes the same. */
const USER_DIGEST_KEY = Buffer.from('flops-mcp rate limits');

export async function sharedState(
  settings: LimitSettings & { redisUrl: string | undefined; apiUrl: string },
  log: Logger,
): Promise<SharedState> {
  const bus = new ReplicaEventBus((err) => log.warn('change listener failed', { error: err.message }));
  let redis: RedisConnection | undefined;
  let buckets: TokenBuckets = new MemoryBuckets();
  let leave = () => {};
  if (settings.redisUrl) {
    redis = await connectRedis(settings.redisUrl, { log, name: 'flops-mcp' });
    leave = bus.join(redis.command, redis.subscriber(), log);
    buckets = new RedisBuckets(redis.command, () => bus.replicas);
  }
  const rates = callRates(settings, redis !== undefined);
  const throttle =
    settings.providerRate && settings.providerRate > 0
      ? providerThrottle(buckets, settings.providerRate)
      : undefined;
  if (rates.user || rates.account || throttle) {
    log.info('rate limits', {
      userPerMinute: rates.user?.perMinute ?? null,
      accountPerMinute: rates.account?.perMinute ?? null,
      providerPerSecond: throttle ? settings.providerRate : null,
      shared: redis !== undefined,
    });
  }
  return {
    bus,
    throttle,
    redis,
    limitFor(client, user) {
      const list: Bucket[] = [];
      if (rates.user) {
        const key = user
          ? limitKey('user', user)
          : limitKey('user', client.credentialsDigest(USER_DIGEST_KEY).toString('hex'));
        list.push({ name: 'user', key, rate: rates.user });
      }
      if (rates.account)
        list.push({ name: 'account', key: limitKey('account', client.clientId), rate: rates.account });
      if (list.length === 0) return undefined;
      return (write) => buckets.take(list, write);
    },
    async ready() {
      const [provider, shared] = await Promise.all([
        probeProvider(settings.apiUrl),
        redis ? redis.ping(1_000).then((up) => (up ? 'ok' : 'unreachable')) : Promise.resolve(undefined),
      ]);
      const checks: Record<string, string> = { provider };
      if (shared !== undefined)
        checks['redis'] = shared === 'ok' ? 'ok' : `unreachable (${redisHost(settings.redisUrl!)})`;
      return { ready: provider === 'ok' && (shared === undefined || shared === 'ok'), checks };
    },
    async close() {
      leave();
      await redis?.close();
    },
  };
}

/**
 * Whether the provider answers: any HTTP answer below 500 to a GET of the API's base URL (no
 * credentials are sent), within 3 s.
 */
async function probeProvider(apiUrl: string): Promise<string> {
  try {
    const res = await request(apiUrl, { method: 'GET', signal: AbortSignal.timeout(3_000) });
    await res.body.dump();
    return res.statusCode < 500 ? 'ok' : `HTTP ${res.statusCode}`;
  } catch (err) {
    const code = (err as { code?: string }).code;
    return `unreachable (${code ?? (err instanceof Error ? err.name : 'error')})`;
  }
}
