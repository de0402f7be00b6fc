/**
 * The change events of the HTTP server (a write changed a VM: `resources/updated` for its URIs),
 * as the SDK's `ServerEventBus`: the 2026 `subscriptions/listen` streams (createMcpHandler) and
 * the 2025 sessions' subscriptions listen on the same bus.
 *
 * Alone, it delivers in process. Joined to Redis (`join`), an event published on any replica is
 * also sent over Redis pub/sub and delivered by every other replica to its own listeners, so a
 * subscriber is told of a write made through another replica. Local listeners are told at once,
 * before Redis, and an event a replica receives back from Redis is not delivered twice. With Redis
 * unreachable, events still reach this replica's subscribers; the others miss them until it is back.
 *
 * Events carry the provider account they concern (a digest of its clientId): a 2025 session hears
 * only about its own account. (2026 listen streams filter by URI only, as the SDK's router does.)
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import type { Logger } from '../log.js';
import type { Redis } from '../shared/redis.js';

export type ChangeEvent = ServerEvent & { account?: string | undefined };

/** The Redis channel of change events. */
export const EVENTS_CHANNEL = 'flops-mcp:events';

const KINDS = new Set([
  'tools_list_changed',
  'prompts_list_changed',
  'resources_list_changed',
  'resource_updated',
]);

/** The account tag of a provider clientId: a digest, so that no clientId travels through Redis. */
export function accountTag(clientId: string): string {
  return createHash('sha256').update(`account\0${clientId}`).digest('base64url').slice(0, 16);
}

/** An event received from Redis, checked: anything else is dropped. */
function parseEvent(text: string): { from: string; event: ChangeEvent } | undefined {
  try {
    const m = JSON.parse(text) as { from?: unknown; event?: Record<string, unknown> };
    const e = m.event;
    if (typeof m.from !== 'string' || !e || typeof e['kind'] !== 'string' || !KINDS.has(e['kind']))
      return undefined;
    if (e['kind'] === 'resource_updated' && (typeof e['uri'] !== 'string' || e['uri'].length > 256))
      return undefined;
    const account = typeof e['account'] === 'string' ? e['account'] : undefined;
    const event = (
      e['kind'] === 'resource_updated'
        ? { kind: e['kind'], uri: e['uri'], account }
        : { kind: e['kind'], account }
    ) as ChangeEvent;
    return { from: m.from, event };
  } catch {
    return undefined;
  }
}

export class ReplicaEventBus implements ServerEventBus {
  readonly #listeners = new Set<(event: ChangeEvent) => void>();
  /** This process, so that its own events coming back from Redis are not delivered twice. */
  readonly #id = randomUUID();
  #publisher: Redis | undefined;
  #replicas = 1;
  readonly #onError: (err: Error) => void;

  constructor(onError: (err: Error) => void = () => {}) {
    this.#onError = onError;
  }

  /**
   * Join the replicas sharing `publisher`'s Redis (`subscriber`: a connection of its own). Also
   * counts them (the channel's subscribers), every few seconds: the local budget of the rate limits
   * while Redis is down is a share of the shared one. Returns what stops it.
   */
  join(publisher: Redis, subscriber: Redis, log: Logger): () => void {
    this.#publisher = publisher;
    const onMessage = (channel: string, text: string) => {
      if (channel !== EVENTS_CHANNEL) return;
      const parsed = parseEvent(text);
      if (parsed && parsed.from !== this.#id) this.#deliver(parsed.event);
    };
    subscriber.on('message', onMessage);
    subscriber
      .subscribe(EVENTS_CHANNEL)
      .catch((err: Error) => log.warn('redis subscribe failed', { error: err.message }));
    const count = () => {
      if (publisher.status !== 'ready') return;
      (publisher.call('PUBSUB', 'NUMSUB', EVENTS_CHANNEL) as Promise<[string, number]>).then(
        (reply) => {
          this.#replicas = Math.max(1, Number(reply[1]) || 1);
        },
        () => undefined,
      );
    };
    count();
    const timer = setInterval(count, 5_000);
    timer.unref();
    return () => {
      clearInterval(timer);
      subscriber.off('message', onMessage);
      this.#publisher = undefined;
    };
  }

  /** Replicas listening on the shared channel, last seen (1 when alone). */
  get replicas(): number {
    return this.#replicas;
  }

  publish(event: ChangeEvent): void {
    this.#deliver(event);
    const publisher = this.#publisher;
    if (publisher?.status === 'ready') {
      publisher.publish(EVENTS_CHANNEL, JSON.stringify({ from: this.#id, event })).catch(() => undefined);
    }
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  #deliver(event: ChangeEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.#onError(err instanceof Error ? err : new Error(String(err)));
      }
    }
  }
}
