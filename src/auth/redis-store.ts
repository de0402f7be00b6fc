/**
 * The sign-in store on Redis (FLOPS_REDIS_URL), for replicas on several hosts: the same AuthStore
 * as the embedded one, every key under one prefix, expiry by Redis itself. The connection is the
 * one the replicas already share (shared/redis.ts).
 */
import type { Redis } from 'ioredis';
import type { AuthStore } from './store.js';

/** SADD, and the set lives as long as its longest-lived member (a new set takes the member's). */
const ADD_TO_SET = `local added = redis.call('SADD', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  local ttl = redis.call('TTL', KEYS[1])
  local want = tonumber(ARGV[2])
  if (ttl == -1 and redis.call('SCARD', KEYS[1]) == 1) or (ttl >= 0 and ttl < want) then
    redis.call('EXPIRE', KEYS[1], want)
  end
end
return added`;

/** INCR; the count expires ARGV[1] seconds after it was created. */
const INCR = `local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n`;

export class RedisStore implements AuthStore {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix = 'flops-mcp:auth:') {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const text = await this.#redis.get(this.#key(key));
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  async getWithTtl<T>(key: string): Promise<{ value: T; ttl: number | undefined } | undefined> {
    const [[, text], [, ttl]] = (await this.#redis
      .multi()
      .get(this.#key(key))
      .ttl(this.#key(key))
      .exec()) as [[unknown, string | null], [unknown, number]];
    if (text === null) return undefined;
    return { value: JSON.parse(text) as T, ttl: ttl >= 0 ? ttl : undefined };
  }

  async set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    const text = JSON.stringify(value);
    if (ttlSeconds !== undefined && Number.isFinite(ttlSeconds)) {
      await this.#redis.set(this.#key(key), text, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    } else await this.#redis.set(this.#key(key), text);
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(this.#key(key));
  }

  async addToSet(key: string, member: string, ttlSeconds?: number): Promise<void> {
    const ttl =
      ttlSeconds !== undefined && Number.isFinite(ttlSeconds)
        ? String(Math.max(1, Math.ceil(ttlSeconds)))
        : '';
    await this.#redis.eval(ADD_TO_SET, 1, this.#key(key), member, ttl);
  }

  async removeFromSet(key: string, member: string): Promise<void> {
    await this.#redis.srem(this.#key(key), member);
  }

  async members(key: string): Promise<string[]> {
    return this.#redis.smembers(this.#key(key));
  }

  async incr(key: string, ttlSeconds: number): Promise<number> {
    return Number(
      await this.#redis.eval(INCR, 1, this.#key(key), String(Math.max(1, Math.ceil(ttlSeconds)))),
    );
  }

  async ping(): Promise<boolean> {
    return (await this.#redis.ping().catch(() => '')) === 'PONG';
  }

  async close(): Promise<void> {
    // The connection belongs to the replica (shared/redis.ts), closed with it.
  }
}
