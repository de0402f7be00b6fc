/** Resolve after `ms`, or reject with the signal's reason as soon as it aborts (no timer left). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A plain JSON object (not null, not an array). */
export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Forget the oldest entries of a map or set (insertion order) beyond `max`: a bounded memory. */
export function trimOldest<K>(kept: Map<K, unknown> | Set<K>, max: number): void {
  for (const key of kept.keys()) {
    if (kept.size <= max) return;
    kept.delete(key);
  }
}

/**
 * `derive` worked out once an object and kept while the object lives (a WeakMap): for what hot
 * paths derive from long-lived objects (an operation row, a spec, a client).
 */
export function perObject<K extends object, V>(derive: (key: K) => V): (key: K) => V {
  const kept = new WeakMap<K, V>();
  return (key) => {
    let value = kept.get(key);
    if (value === undefined) {
      value = derive(key);
      kept.set(key, value);
    }
    return value;
  };
}
