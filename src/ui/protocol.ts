/**
 * The view's side of MCP Apps (spec 2026-01-26): JSON-RPC 2.0 over postMessage with the host.
 * Hand-written (about 2 KB built) instead of the ext-apps `App` class, which would multiply the
 * HTML's size.
 */

export type Json = Record<string, unknown>;
type Handler = (params: Json) => void;

export interface CallResult {
  content?: { type: string; text?: string }[];
  structuredContent?: Json;
  isError?: boolean;
}

export const PROTOCOL_VERSION = '2026-01-26';

let nextId = 1;
const pending = new Map<number, { resolve: (value: Json) => void; reject: (err: Error) => void }>();
const handlers = new Map<string, Handler>();

function post(message: Json): void {
  window.parent.postMessage({ jsonrpc: '2.0', ...message }, '*');
}

export function request(method: string, params: Json, timeoutMs = 60_000): Promise<Json> {
  const id = nextId++;
  post({ id, method, params });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`${method}: no answer from the host`));
    }, timeoutMs);
    pending.set(id, {
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
  });
}

export function notify(method: string, params: Json = {}): void {
  post({ method, params });
}

/** Host → view notifications (tool-input, tool-result, host-context-changed, …). */
export function on(method: string, handler: Handler): void {
  handlers.set(method, handler);
}

window.addEventListener('message', (event: MessageEvent) => {
  if (event.source !== window.parent) return;
  const m = event.data as Json | null;
  if (!m || typeof m !== 'object' || m['jsonrpc'] !== '2.0') return;
  const id = m['id'] as number | string | undefined;
  const method = m['method'] as string | undefined;
  if (method === undefined && typeof id === 'number') {
    const waiter = pending.get(id);
    pending.delete(id);
    const error = m['error'] as { message?: string } | undefined;
    if (error) waiter?.reject(new Error(error.message ?? 'host error'));
    else waiter?.resolve((m['result'] ?? {}) as Json);
  } else if (method !== undefined && id !== undefined) {
    // Host → view requests: teardown and ping need only an empty answer.
    if (method === 'ui/resource-teardown' || method === 'ping') post({ id, result: {} });
    else post({ id, error: { code: -32601, message: `Method not found: ${method}` } });
  } else if (method !== undefined) {
    handlers.get(method)?.((m['params'] ?? {}) as Json);
  }
});

/** `tools/call` through the host, which applies its own approval and proxies to the server. */
export async function callTool(name: string, args: Json): Promise<CallResult> {
  return (await request('tools/call', { name, arguments: args })) as CallResult;
}

export function resultText(result: CallResult): string {
  return (result.content ?? [])
    .map((c) => (c.type === 'text' ? (c.text ?? '') : ''))
    .join('\n')
    .trim();
}
