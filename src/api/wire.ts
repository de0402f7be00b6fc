/**
 * How parameters travel: every method is a GET with a query string. Our client sends booleans as
 * `true`/`false`; lists are repeated keys, absent values and empty lists are left out (docs/api.md,
 * "Transport").
 * Path placeholders (`{vmId}`) are filled from the same parameters and removed from the query.
 *
 * `encodeQuery` is the client's side; `decodeQuery` is the sandbox's, turning the query back into
 * the types the row's zod fields expect so that both sides validate with the same schemas.
 */
import { z } from 'zod';
import { perObject } from '../util.js';
import { type OperationDef, pathParams } from './operations.js';

export type WireType = 'number' | 'string' | 'boolean' | 'array' | 'other';

/** The JSON type a zod field carries, looking through optional/default/nullable/pipe wrappers. */
export function wireType(schema: z.ZodType): WireType {
  let inner: z.ZodType = schema;
  for (;;) {
    if (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable || inner instanceof z.ZodDefault) {
      inner = inner.unwrap() as z.ZodType;
    } else if (inner instanceof z.ZodPipe) {
      inner = inner.in as z.ZodType;
    } else break;
  }
  // `type` is zod's public name of the JSON type (string formats such as ipv4 are 'string').
  if (
    inner.type === 'number' ||
    inner.type === 'string' ||
    inner.type === 'boolean' ||
    inner.type === 'array'
  ) {
    return inner.type;
  }
  // A union of numeric literals (backup frequency) travels as a number.
  if (
    inner instanceof z.ZodUnion &&
    inner.options.every((o) => o instanceof z.ZodLiteral && [...o.values].every((v) => typeof v === 'number'))
  ) {
    return 'number';
  }
  return 'other';
}

/** A row's path template split at its placeholders: literals at even indexes, names at odd ones. */
const pathParts = perObject((row: OperationDef): readonly string[] => row.path.split(/\{(\w+)\}/));

/** Fill the path template; throws if a placeholder has no value (validation runs first). */
export function buildPath(row: OperationDef, params: Readonly<Record<string, unknown>>): string {
  const parts = pathParts(row);
  let path = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i]!;
    const value = params[name];
    if (value === undefined || value === null) throw new Error(`${row.tool}: missing path parameter ${name}`);
    path += encodeURIComponent(String(value)) + parts[i + 1]!;
  }
  return path;
}

/** A row's parameters that travel in the query (not in its path), worked out once a row. */
const queryNames = perObject((row: OperationDef): readonly string[] => {
  const inPath = new Set(pathParams(row.path));
  return Object.keys(row.params).filter((name) => !inPath.has(name));
});

/** Query string for a row's parameters (path parameters excluded). Credentials are added by the caller. */
export function encodeQuery(row: OperationDef, params: Readonly<Record<string, unknown>>): URLSearchParams {
  const query = new URLSearchParams();
  for (const name of queryNames(row)) {
    const value = params[name];
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      for (const item of value) query.append(name, String(item));
    } else {
      query.append(name, String(value));
    }
  }
  return query;
}

/**
 * Turn a query string (and matched path values) back into typed values for a row's schema.
 * Values that do not convert are passed through as strings so that the schema reports them.
 * Unknown query keys are ignored, as a web API does; `clientId`/`apiKey` are never included.
 */
export function decodeQuery(
  row: OperationDef,
  query: URLSearchParams,
  pathValues: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(row.params) as [string, z.ZodType][]) {
    const type = wireType(schema);
    const raw = name in pathValues ? [pathValues[name]!] : query.getAll(name);
    if (raw.length === 0) continue;
    if (type === 'array') {
      out[name] = raw.filter((v) => v !== '').map(toNumberIfNumeric);
      continue;
    }
    const value = raw[raw.length - 1]!;
    // An empty value is an absent one, except for text that may be empty (a snapshot description).
    if (value === '' && !(type === 'string' && schema.safeParse('').success)) continue;
    if (type === 'number') out[name] = toNumberIfNumeric(value);
    else if (type === 'boolean') out[name] = parseBoolean(value) ?? value;
    else out[name] = value;
  }
  return out;
}

const TRUE = new Set(['true', 'on', 'yes', '1']);
const FALSE = new Set(['false', 'off', 'no', '0']);

/**
 * A boolean as a Java/Spring binder reads one: true/on/yes/1 and false/off/no/0 in any case
 * (Python clients send `True`/`False`; docs/api.md, "Transport"); anything else is undefined and
 * becomes a field error.
 */
export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  return TRUE.has(v) ? true : FALSE.has(v) ? false : undefined;
}

function toNumberIfNumeric(value: string): number | string {
  return /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}
