/**
 * The Redis that replicas share (FLOPS_REDIS_URL): one small factory, for every feature that keeps
 * state across replicas (change notifications, rate limits, and any other store that needs it).
 *
 * ioredis is loaded with `import()` here, only when a URL is configured: stdio and a lone HTTP
 * process never load it. A connection reconnects forever with a capped backoff; while it is down,
 * commands fail at once instead of queueing (no offline queue), so that callers decide what an
 * unreachable Redis means for them (a local budget for reads, a refusal for writes) instead of
 * hanging. Subscriber connections keep their queue: a SUBSCRIBE issued while down is sent, and
 * every channel resubscribed, when the connection comes back.
 *
 * The URL may carry a password: it is never logged, only its host.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export type { Redis } from 'ioredis';

export interface RedisConnection {
  /** For commands and scripts; fails at once while disconnected. */
  readonly command: Redis;
  /** A connection of its own for SUBSCRIBE (a subscribed connection takes no other command). */
  subscriber(): Redis;
  /** Connected and ready for commands now. */
  readonly ready: boolean;
  /** A PING answered within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<boolean>;
  /** Close every connection of this handle; calling it again is harmless. */
  close(): Promise<void>;
}

export interface RedisOptions {
  log: Logger;
  /** Shown in CLIENT LIST, for the operator. */
  name?: string | undefined;
  /** A command that takes longer fails as if Redis were down. Default 1,000 ms. */
  commandTimeoutMs?: number | undefined;
}

/** The host of a Redis URL, for messages: never its password. */
export function redisHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Connect to `url`. Resolves once connected, or after `waitMs` even when Redis cannot be reached
 * (the connection keeps trying in the background; `ready` says when it is there): a replica starts
 * and reports not ready rather than failing to start.
 */
export async function connectRedis(
  url: string,
  options: RedisOptions,
  waitMs = 2_000,
): Promise<RedisConnection> {
  const mod = await import('ioredis');
  const RedisClass = (mod.Redis ?? mod.default) as unknown as typeof import('ioredis').Redis;
  const { log } = options;
  const host = redisHost(url);
  const connections: Redis[] = [];
  const open = (role: string, queue: boolean): Redis => {
    const redis = new RedisClass(url, {
      connectionName: `${options.name ?? 'flops-mcp'}:${role}`,
      enableOfflineQueue: queue,
      maxRetriesPerRequest: queue ? null : 0,
      connectTimeout: 2_000,
      ...(queue ? {} : { commandTimeout: options.commandTimeoutMs ?? 1_000 }),
      // Reconnect forever, at most every 2 s: a replica keeps serving through Redis restarts.
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    });
    let up = false;
    redis.on('ready', () => {
      if (!up) log.info('redis connected', { host, role });
      up = true;
    });
    redis.on('error', (err: Error) => {
      if (up) log.warn('redis unreachable', { host, role, error: err.message });
      up = false;
    });
    redis.on('end', () => {
      up = false;
    });
    connections.push(redis);
    return redis;
  };
  const command = open('command', false);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, waitMs);
    function done() {
      clearTimeout(timer);
      command.off('ready', done);
      resolve();
    }
    command.once('ready', done);
  });
  if (command.status !== 'ready') log.warn('redis not reachable yet: not ready until it is', { host });
  let subscriber: Redis | undefined;
  let closed: Promise<void> | undefined;
  return {
    command,
    subscriber: () => {
      subscriber ??= open('subscriber', true);
      return subscriber;
    },
    get ready() {
      return command.status === 'ready';
    },
    async ping(timeoutMs = 1_000) {
      if (command.status !== 'ready') return false;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      });
      try {
        return await Promise.race([
          command.ping().then(
            (r) => r === 'PONG',
            () => false,
          ),
          late,
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      // disconnect(), not QUIT: it stops the reconnecting too, and never waits on a Redis that is gone.
      closed ??= Promise.resolve().then(() => {
        for (const c of connections) c.disconnect();
      });
      return closed;
    },
  };
}
