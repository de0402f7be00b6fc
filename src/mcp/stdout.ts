/**
 * stdout for the stdio transport, with the messages sent in one turn of the event loop written
 * together. At concurrency, many calls finish in the same turn (their provider answers arrive
 * together); one pipe write for all of them instead of one each saves a system call and a wake-up
 * of the client per message, which the server's profile at concurrency 64 showed as its largest
 * single cost. Order is kept; a message waits at most until the end of the turn (setImmediate).
 */
export function batchedStdout(out: NodeJS.WriteStream): NodeJS.WriteStream {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const text = pending.length === 1 ? pending[0]! : pending.join('');
    pending = [];
    out.write(text);
  };
  const write = (chunk: string | Uint8Array) => {
    pending.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
    // Back-pressure as the real stream reports it: the transport then waits for its 'drain'.
    return !out.writableNeedDrain;
  };
  // The transport calls once/off/write on every message: bind each method once, not per access.
  const bound = new Map<string | symbol, unknown>([['write', write]]);
  return new Proxy(out, {
    get(target, key) {
      const known = bound.get(key);
      if (known !== undefined) return known;
      const value = Reflect.get(target, key, target) as unknown;
      if (typeof value !== 'function') return value;
      const method = value.bind(target);
      bound.set(key, method);
      return method;
    },
  });
}
