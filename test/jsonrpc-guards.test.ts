/**
 * The bin's bundle has the SDK call src/mcp/jsonrpc-guards.ts instead of its zod-based JSON-RPC
 * guards (scripts/build.mjs). They must answer exactly as the SDK's own guards do: checked here
 * against them over valid messages of every kind and each of them broken one field at a time, then
 * over random messages; and the built bin is checked to carry the swap.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
} from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import * as fast from '../src/mcp/jsonrpc-guards.js';
import { root } from './process-helpers.js';

/** Each guard of ours beside the SDK's. */
const GUARDS = [
  ['isJSONRPCRequest', fast.isJSONRPCRequest, isJSONRPCRequest],
  ['isJSONRPCNotification', fast.isJSONRPCNotification, isJSONRPCNotification],
  ['isJSONRPCResultResponse', fast.isJSONRPCResultResponse, isJSONRPCResultResponse],
  ['isJSONRPCErrorResponse', fast.isJSONRPCErrorResponse, isJSONRPCErrorResponse],
] as const;

const RELATED = 'io.modelcontextprotocol/related-task';

/** Values a field may be set to: JSON's kinds and the numbers where a check could slip. */
const ODD: unknown[] = [
  undefined,
  null,
  true,
  0,
  -0,
  1,
  -7,
  1.5,
  2 ** 53,
  -(2 ** 53) + 1,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '',
  '2.0',
  '1',
  [],
  [1],
  {},
  { taskId: 'x' },
  { _meta: {} },
  { code: 1, message: 'm' },
];

const VALID: Record<string, unknown>[] = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call' },
  { jsonrpc: '2.0', id: 'a', method: 'tools/call', params: { name: 'vm_get', arguments: { vmId: 1 } } },
  {
    jsonrpc: '2.0',
    id: 2,
    method: 'tools/call',
    params: {
      name: 'vm_get',
      _meta: {
        progressToken: 5,
        [RELATED]: { taskId: 't', more: 1 },
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      },
    },
  },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p', progress: 1 } },
  {
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { _meta: { progressToken: 't' }, requestId: 3 },
  },
  { jsonrpc: '2.0', id: 3, result: {} },
  { jsonrpc: '2.0', id: 'r', result: { content: [], _meta: { 'io.modelcontextprotocol/serverInfo': 5 } } },
  { jsonrpc: '2.0', id: 4, error: { code: -32602, message: 'bad', data: { x: 1 } } },
  { jsonrpc: '2.0', error: { code: -32700, message: 'parse error' } },
];

/** Every path to a field of a message, down through params, _meta, result and error. */
function paths(value: unknown, prefix: string[] = []): string[][] {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return [];
  return Object.keys(value).flatMap((key) => {
    const path = [...prefix, key];
    return [path, ...paths((value as Record<string, unknown>)[key], path)];
  });
}

/** A copy of `message` with the field at `path` set to `to` (or deleted, for `delete`). */
function withField(message: unknown, path: string[], to: unknown, remove = false): unknown {
  const copy = structuredClone(message) as Record<string, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  const last = path.at(-1)!;
  if (remove) delete at[last];
  else at[last] = to;
  return copy;
}

function corpus(): unknown[] {
  const out: unknown[] = [null, undefined, 1, 'x', [], [VALID[0]], ...ODD];
  for (const message of VALID) {
    out.push(message);
    for (const path of paths(message)) {
      out.push(withField(message, path, undefined, true));
      for (const odd of ODD) out.push(withField(message, path, odd));
    }
    // A key no kind has, at the top and where a progress token or a task id would be.
    for (const extra of ['extra', 'id', 'method', 'params', 'result', 'error', '__proto__'])
      out.push({ ...message, ...JSON.parse(`{"${extra}": 1}`) });
    out.push(withField(message, ['params'], { _meta: { progressToken: 1.5 } }));
    out.push(withField(message, ['params'], { _meta: { [RELATED]: { taskId: 1 } } }));
    out.push(withField(message, ['params'], { _meta: { [RELATED]: null } }));
  }
  return out;
}

/** A random JSON-RPC-ish message from the fields every kind uses and the odd values above. */
function random(seed: number): unknown {
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const message: Record<string, unknown> = {};
  const fields: Record<string, unknown[]> = {
    jsonrpc: ['2.0', '2.0', '2.0', '1.0', 2],
    id: [1, 'a', 1.5, null, -0],
    method: ['tools/call', 'x', 3],
    params: [{}, { _meta: { progressToken: pick([1, 'a', 1.5, null]) } }, [], null, { name: 'x' }],
    result: [{}, { _meta: pick([{}, null, 1, []]) }, [], null],
    error: [{ code: 1, message: 'm' }, { code: 1.5, message: 'm' }, { message: 'm' }, null],
    other: [1],
  };
  for (const [key, values] of Object.entries(fields)) if (next() < 0.45) message[key] = pick(values);
  return message;
}

describe('the bundled JSON-RPC guards', () => {
  it('answer as the SDK zod guards do for every message in the corpus and 20,000 random ones', () => {
    const messages = [...corpus(), ...Array.from({ length: 20_000 }, (_, i) => random(i + 1))];
    expect(messages.length).toBeGreaterThan(20_500);
    const seen = new Map(GUARDS.map(([name]) => [name, { true: 0, false: 0 }]));
    for (const message of messages) {
      for (const [name, ours, theirs] of GUARDS) {
        const expected = theirs(message);
        expect(ours(message), `${name}(${JSON.stringify(message)})`).toBe(expected);
        seen.get(name)![String(expected) as 'true' | 'false']++;
      }
    }
    // Each guard met both answers many times: the corpus tells them apart.
    for (const [name, counts] of seen) {
      expect(counts.true, name).toBeGreaterThan(50);
      expect(counts.false, name).toBeGreaterThan(1000);
    }
  });

  it('are what the built bin calls', () => {
    // `npm test` builds first. Nothing in src/ imports this module: only the build's swap in the
    // SDK's chunk (which fails the build if the SDK's code changed) brings it into the bundle.
    const maps = readdirSync(`${root}dist/chunks`).filter((f) => f.endsWith('.js.map'));
    const bundled = maps.filter((f) =>
      (JSON.parse(readFileSync(`${root}dist/chunks/${f}`, 'utf8')) as { sources: string[] }).sources.some(
        (s) => s.endsWith('src/mcp/jsonrpc-guards.ts'),
      ),
    );
    expect(bundled).toHaveLength(1);
  });
});
