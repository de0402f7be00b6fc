/**
 * The OAuth scope each MCP request needs (`--auth oauth`), from the tool index: a read tool and
 * every other method need `flops:read`, a tool that changes something `flops:write`, a destructive
 * one `flops:destroy`. A request beyond its token's scopes gets `403 insufficient_scope` before it
 * reaches MCP, so that the client can ask the user for more (step-up).
 */
import { TOOL_INDEX } from '../mcp/tool-index.js';

export const READ = 'flops:read';
const BY_KIND = { read: READ, write: 'flops:write', destructive: 'flops:destroy' } as const;
const SCOPE_OF_TOOL = new Map(TOOL_INDEX.map(([name, , kind]) => [name, BY_KIND[kind]]));

function scopeOf(message: unknown): string {
  if (typeof message !== 'object' || message === null) return READ;
  const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
  if (method !== 'tools/call' || typeof params?.name !== 'string') return READ;
  return SCOPE_OF_TOOL.get(params.name) ?? READ;
}

/** The scopes a request body (one message or a batch) needs that `held` lacks. */
export function missingScopes(body: unknown, held: readonly string[]): string[] {
  const needed = new Set([READ, ...(Array.isArray(body) ? body : [body]).map(scopeOf)]);
  return [...needed].filter((s) => !held.includes(s));
}
