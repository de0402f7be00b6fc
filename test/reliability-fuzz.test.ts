/**
 * Bad input through MCP, property-based. For every tool, an arbitrary built from the JSON Schema
 * that tools/list advertises produces mostly invalid and some valid or boundary arguments: wrong
 * types, huge strings, unicode (emoji, RTL, NUL, lone surrogates), negative / huge / fractional /
 * non-finite numbers, unknown keys, missing required fields, nested junk. For every call:
 *   - the server answers with a well-formed result (no crash, no unhandled rejection);
 *   - locally invalid input (the tool's zod schema, the row's cross-field rules and the by-name
 *     rules are the oracle) is an isError result that names each offending field, says nothing
 *     was sent, and no request reaches the sandbox;
 *   - a field the generator made invalid on purpose (or an unknown key it added, or a required
 *     field it removed) is named in the text, independently of the oracle;
 *   - no result carries the apiKey or a password.
 * Valid destructive calls point at unknown ids (vmId 999999, …), so the fuzz destroys nothing real;
 * confirmation is off so that they get as far as the provider.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type FieldIssue, validationIssues } from '../src/api/operations.js';
import { nameArgIssues } from '../src/mcp/resolve.js';
import { buildToolSpecs, type ToolSpec } from '../src/mcp/tools.js';
import { type Harness, harness, text } from './helpers.js';

const API_KEY = 'FUZZ-KEY-1';
const PASSWORD = 'Fuzz-Marker-Pw9';
const SECRETS = [API_KEY, PASSWORD, 'apiKey='];
/** Generated calls per tool: 39 tools × 400 = 15,600 (≥ 5,000 asked), a few seconds in all. */
const RUNS_PER_TOOL = 400;
const MIN_CALLS = 5_000;
/** Ids that exist nowhere in the sandbox: valid calls with them destroy nothing. */
const UNKNOWN_IDS = [999_999, 424_242, 2 ** 31 - 1, 77_777_777];
const ID_FIELDS = new Set(['vmId', 'toVmId', 'keyId', 'snapshotId', 'operationId']);

const SPECS = buildToolSpecs();

let h: Harness;
let schemas: Map<string, Tool['inputSchema']>;
const rejections: unknown[] = [];
const onRejection = (reason: unknown) => rejections.push(reason);
const onException = (err: unknown) => rejections.push(err);
const stats = { calls: 0, invalid: 0, valid: 0, reached: 0, success: 0, raw: 0, ms: 0 };

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  h = await harness({
    // Instant operations: a valid call with wait: true that did start something returns at once.
    timeScale: 0,
    sandbox: { apiKey: API_KEY, clientId: 'fuzz' },
    server: { confirm: 'off' },
  });
  const { tools } = await h.mcp.listTools();
  schemas = new Map(tools.map((t) => [t.name, t.inputSchema]));
});
afterAll(async () => {
  await h?.close();
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
});

// ---------------------------------------------------------------------------------------------
// Arbitraries from JSON Schema.

interface PropSchema {
  type?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  maxItems?: number;
  items?: PropSchema;
  enum?: unknown[];
}

const KB100 = 100 * 1024;
const UNICODE = [
  '😀🚀',
  '👩‍👩‍👧‍👦',
  '\u202Egnp.exe',
  'שלום עולם',
  'مرحبا',
  'a\u0000b',
  '\u0000',
  '\uD800',
  '\uFEFFbom',
  'Z̷̢̛a̶l̸g̵o̴',
  '　',
  '\r\n\t',
  ' ',
  '%00%0a',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE vm; --",
  '$' + '{jndi:ldap://x}',
  '{{7*7}}',
];
const HUGE = [
  'x'.repeat(KB100),
  '😀'.repeat(KB100 / 4),
  `ssh-rsa ${'A'.repeat(KB100)} huge@key`,
  '\u0000'.repeat(KB100),
];
const NUMERIC_LIKE = ['1', '64', '999999', 'NaN', 'Infinity', '-1', '1e3', '0x10', '', ' 1 '];

/** Nested junk: objects and arrays that hold something that is never an integer. */
const nestedJunk: fc.Arbitrary<unknown> = fc.oneof(
  fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), {
    minKeys: 1,
    maxKeys: 5,
  }),
  fc
    .tuple(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }), fc.constantFrom({}, [], { a: [1] }))
    .map(([xs, junk]) => [...xs, junk]),
  fc.nat({ max: 200 }).map((depth) => {
    let v: unknown = { deep: true };
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { v };
    return v;
  }),
);

const wrongTypeFor = (type: string | undefined): fc.Arbitrary<unknown> => {
  const numbers = fc.oneof(fc.integer(), fc.double({ noNaN: true }));
  const strings = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(...NUMERIC_LIKE));
  // Never [] for an array field: an empty list is a valid one.
  const containers = type === 'array' ? [{}, [[]], { value: 1 }] : [{}, [], [[]], { value: 1 }];
  const options: fc.Arbitrary<unknown>[] = [fc.constant(null), fc.constantFrom(...containers)];
  if (type !== 'string') options.push(strings);
  if (type !== 'integer' && type !== 'number' && type !== undefined) options.push(numbers);
  if (type !== 'boolean') options.push(fc.boolean());
  if (type === 'boolean') options.push(fc.constantFrom('true', 'false', 0, 1));
  return fc.oneof(...options);
};

function intArbs(p: PropSchema, field: string): { valid: fc.Arbitrary<unknown>; bad: fc.Arbitrary<unknown> } {
  // Ids are listed without `minimum: 1` (an id is positive by nature: register.ts, compactSchema);
  // the server still refuses one below 1, which the bad values below keep checking.
  const min = p.minimum ?? (/Id$/.test(field) ? 1 : Number.MIN_SAFE_INTEGER);
  const max = p.maximum;
  const valid = ID_FIELDS.has(field)
    ? fc.constantFrom(...UNKNOWN_IDS)
    : field === 'tenantId'
      ? fc.constantFrom(111, 10081, 999_999)
      : fc.oneof(
          fc.integer({ min, max: max ?? min + 100_000 }),
          fc.constantFrom(min, ...(max !== undefined ? [max] : [])),
        );
  const badValues = [
    min - 1,
    min - 0.5,
    min + 0.5,
    -1,
    -1e308,
    1e308,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.EPSILON,
    ...(max !== undefined ? [max + 1, max + 0.25, max * 1000] : []),
  ].filter((v) => !(Number.isInteger(v) && v >= min && (max === undefined || v <= max)));
  const bad = fc.oneof(
    fc.constantFrom(...badValues),
    fc
      .double({ min: min + 0.001, max: (max ?? min + 1e6) - 0.001, noNaN: true })
      .filter((v) => !Number.isInteger(v)),
    fc.integer({ min: -1e9, max: min - 1 }),
    ...(max !== undefined ? [fc.integer({ min: max + 1, max: max + 1e9 })] : []),
    wrongTypeFor('integer'),
  );
  return { valid, bad };
}

function stringArbs(
  p: PropSchema,
  field: string,
): { valid: fc.Arbitrary<unknown>; bad: fc.Arbitrary<unknown> } {
  const min = p.minLength ?? 0;
  const max = p.maxLength ?? Number.POSITIVE_INFINITY;
  // An address is listed as `format: ipv4` alone (register.ts, compactSchema): zod's own regex.
  const pattern = p.pattern ? new RegExp(p.pattern, 'u') : p.format === 'ipv4' ? z.regexes.ipv4 : undefined;
  const fits = (s: string) => s.length >= min && s.length <= max && (!pattern || pattern.test(s));
  let valid: fc.Arbitrary<string>;
  if (p.format === 'ipv4') valid = fc.ipV4();
  else if (field === 'publicKey')
    valid = fc
      .tuple(
        fc.constantFrom('ssh-ed25519', 'ssh-rsa', 'ecdsa-sha2-nistp256'),
        fc.base64String({ minLength: 16, maxLength: 200 }),
        fc.string({ maxLength: 30 }),
      )
      .map(
        ([kind, body, comment]) =>
          `${kind} ${body}${comment && !/[\n\r]/.test(comment) ? ` ${comment}` : ''}`,
      );
  else if (field === 'password')
    valid = fc.oneof(
      fc.constantFrom(PASSWORD, `Ab1-${PASSWORD}`, `${PASSWORD}()`),
      fc.string({ maxLength: 40 }).map((s) => `${PASSWORD}${s}`),
    );
  else
    valid = fc.oneof(
      fc.string({ minLength: Math.max(min, 1), maxLength: Math.min(max, 60) }),
      fc.string({ unit: 'grapheme', minLength: Math.max(min, 1), maxLength: Math.min(max, 30) }),
      fc.constantFrom(...UNICODE).filter(fits),
      fc.constant('y'.repeat(Math.min(max, 300))),
    );
  const bad = fc.oneof(
    fc
      .oneof(
        fc.constantFrom(...HUGE, ...UNICODE, '', 'x'.repeat(Number.isFinite(max) ? max + 1 : 1)),
        fc.string({ unit: 'binary', maxLength: 80 }),
      )
      .filter((s) => !fits(s)),
    wrongTypeFor('string'),
  );
  return { valid: valid.filter(fits), bad };
}

function valueArbs(
  p: PropSchema,
  field: string,
): { valid: fc.Arbitrary<unknown>; bad: fc.Arbitrary<unknown> } {
  if (p.enum) {
    const consts = p.enum as number[];
    return {
      valid: fc.constantFrom(...consts),
      bad: fc.oneof(
        fc.integer({ min: -100, max: 1000 }).filter((n) => !consts.includes(n)),
        fc.constantFrom(...consts.map((c) => String(c)), ...consts.map((c) => c + 0.5)),
        wrongTypeFor('number'),
      ),
    };
  }
  switch (p.type) {
    case 'integer':
      return intArbs(p, field);
    case 'string':
      return stringArbs(p, field);
    case 'boolean':
      return { valid: fc.boolean(), bad: wrongTypeFor('boolean') };
    case 'array': {
      const maxItems = p.maxItems ?? 50;
      return {
        valid: fc.array(fc.integer({ min: 1, max: 100_000 }), { maxLength: Math.min(maxItems, 8) }),
        bad: fc.oneof(
          fc.array(fc.integer({ min: 1, max: 100 }), { minLength: maxItems + 1, maxLength: maxItems + 40 }),
          fc
            .tuple(
              fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 3 }),
              fc.constantFrom(0, -1, 1.5, 'x', null, true, [1], { id: 1 }, Number.NaN),
            )
            .map(([xs, junk]) => [...xs, junk]),
          wrongTypeFor('array'),
        ),
      };
    }
    default:
      throw new Error(`no arbitrary for ${field}: ${JSON.stringify(p)}`);
  }
}

/** Values whose validity is left to the oracle: edges, -0, unsafe integers, numeric strings. */
const boundaryArb = (p: PropSchema): fc.Arbitrary<unknown> =>
  fc.constantFrom(
    0,
    -0,
    1,
    p.minimum ?? 0,
    p.maximum ?? 2 ** 31,
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 64,
    '',
    ' ',
    'a',
    'x'.repeat(p.maxLength ?? 255),
    'x'.repeat((p.maxLength ?? 255) + 1),
    true,
    [],
    [1, 1, 1],
  );

const UNKNOWN_KEYS = [
  'foo',
  'VmId',
  'vmid',
  'vm_id',
  'vmId ',
  'tenant_id',
  'id',
  'apiKey',
  'clientId',
  'constructor',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '__proto__',
  'prototype',
  '😀',
  '\u202Ekey',
  'a\u0000b',
  'k'.repeat(300),
  '$ref',
  'wait',
  'distribution',
  'tariff',
  'bitness',
  'password',
  'name',
  'timeoutSeconds',
  'ip',
  '0',
  'операция',
];

type Mutation =
  | { kind: 'bad' | 'junk' | 'boundary'; field: string; value: unknown }
  | { kind: 'missing'; field: string }
  | { kind: 'unknown'; key: string; value: unknown };

interface Case {
  args: Record<string, unknown>;
  /** Fields the generator made invalid on purpose, and unknown keys it added: all must be named. */
  expectNamed: string[];
  /** Send the object as is (NaN, -0, undefined survive) instead of as JSON would carry it. */
  raw: boolean;
}

function caseArb(tool: Tool): fc.Arbitrary<Case> {
  const props = (tool.inputSchema.properties ?? {}) as Record<string, PropSchema>;
  const required = tool.inputSchema.required ?? [];
  const names = Object.keys(props);
  const arbs = Object.fromEntries(names.map((n) => [n, valueArbs(props[n]!, n)]));
  const valid = fc.record(Object.fromEntries(names.map((n) => [n, arbs[n]!.valid])), {
    requiredKeys: required,
  }) as fc.Arbitrary<Record<string, unknown>>;
  const junkValue = fc.oneof(fc.jsonValue({ maxDepth: 2 }), nestedJunk, fc.constant(PASSWORD));
  const mutation: fc.Arbitrary<Mutation>[] = [
    fc.record({
      kind: fc.constant('unknown' as const),
      key: fc.constantFrom(...UNKNOWN_KEYS),
      value: junkValue,
    }),
    fc.record({
      kind: fc.constant('unknown' as const),
      key: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
      value: junkValue,
    }),
  ];
  if (names.length > 0) {
    const field = fc.constantFrom(...names);
    mutation.push(
      field.chain((f) => arbs[f]!.bad.map((value) => ({ kind: 'bad' as const, field: f, value }))),
      field.chain((f) => arbs[f]!.bad.map((value) => ({ kind: 'bad' as const, field: f, value }))),
      field.chain((f) => nestedJunk.map((value) => ({ kind: 'junk' as const, field: f, value }))),
      field.chain((f) =>
        boundaryArb(props[f]!).map((value) => ({ kind: 'boundary' as const, field: f, value })),
      ),
    );
  }
  if (required.length > 0) {
    mutation.push(fc.record({ kind: fc.constant('missing' as const), field: fc.constantFrom(...required) }));
  }
  return fc
    .tuple(
      valid,
      fc.oneof(
        { weight: 1, arbitrary: fc.constant([] as Mutation[]) },
        { weight: 4, arbitrary: fc.array(fc.oneof(...mutation), { minLength: 1, maxLength: 3 }) },
      ),
      fc.boolean(),
      fc.nat({ max: 4 }),
    )
    .map(([base, mutations, raw, rawRoll]) => {
      const args: Record<string, unknown> = { ...base };
      const named = new Set<string>();
      for (const m of mutations) {
        if (m.kind === 'missing') {
          delete args[m.field];
          named.add(m.field);
          continue;
        }
        const key = m.kind === 'unknown' ? m.key : m.field;
        // The marker password goes under unknown keys and password fields only: a real field such as
        // name may rightly echo what it was given.
        const value =
          m.kind === 'unknown' && m.value === PASSWORD && key !== 'password' && Object.hasOwn(props, key)
            ? 'not-a-secret'
            : m.value;
        // An own property even for "__proto__" (an assignment would set the prototype).
        Object.defineProperty(args, key, { value, enumerable: true, writable: true, configurable: true });
        if (m.kind === 'boundary') named.delete(key);
        else if (Object.hasOwn(props, key)) {
          // An "unknown" key that is a real field of this tool: junk there is a bad value.
          if (m.kind !== 'unknown' || isCertainlyBad(props[key]!, value)) named.add(key);
          else named.delete(key);
        } else if (key !== '__proto__') named.add(key);
      }
      return { args, expectNamed: [...named], raw: raw && rawRoll === 0 };
    });
}

/** For junk put under a real field's name: bad when it is not even of the field's type. */
function isCertainlyBad(p: PropSchema, value: unknown): boolean {
  if (value === null || typeof value === 'object')
    return !(p.type === 'array' && Array.isArray(value) && value.length === 0);
  if (p.type === 'integer' || p.enum) return typeof value !== 'number';
  return typeof value !== p.type;
}

// ---------------------------------------------------------------------------------------------
// The oracle: what the server must refuse before sending anything.

/** The arguments as the server receives them: the SDK's record parse drops a "__proto__" key. */
function received(c: Case): Record<string, unknown> {
  const wire = c.raw ? { ...c.args } : (JSON.parse(JSON.stringify(c.args)) as Record<string, unknown>);
  if (Object.hasOwn(wire, '__proto__')) {
    const copy: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(wire)) if (k !== '__proto__') copy[k] = v;
    return copy;
  }
  return wire;
}

function localIssues(spec: ToolSpec, args: Record<string, unknown>): FieldIssue[] {
  const parsed = spec.input.safeParse(args);
  if (!parsed.success) return validationIssues(parsed.error);
  if (!spec.row) return [];
  const data = parsed.data as Record<string, unknown>;
  return [...(spec.row.check?.(data as never) ?? []), ...nameArgIssues(spec.row, data)];
}

/** The text names a field as the validation error does: "…: field: message" or "; field.3: …". */
function names(t: string, field: string): boolean {
  return [': ', '; '].some((before) => [':', '.'].some((after) => t.includes(`${before}${field}${after}`)));
}

const failures: string[] = [];
function check(ok: boolean, what: string, c: Case, t: string): void {
  if (!ok && failures.length < 20) {
    failures.push(`${what}\n  args: ${JSON.stringify(c.args).slice(0, 400)}\n  text: ${t.slice(0, 400)}`);
  }
  expect(ok, `${what}: ${t.slice(0, 300)}`).toBe(true);
}

async function runCase(spec: ToolSpec, c: Case): Promise<void> {
  const args = received(c);
  const issues = localIssues(spec, args);
  const before = h.sandbox.requests.total;
  const started = performance.now();
  const result = (await h.mcp.callTool({
    name: spec.name,
    arguments: c.raw ? c.args : (JSON.parse(JSON.stringify(c.args)) as Record<string, unknown>),
  })) as CallToolResult;
  stats.ms += performance.now() - started;
  stats.calls++;
  if (c.raw) stats.raw++;
  const sent = h.sandbox.requests.total - before;
  const t = text(result);

  check(Array.isArray(result.content) && result.content[0]?.type === 'text', 'a text result', c, t);
  for (const secret of SECRETS) {
    check(!t.includes(secret), `no secret in the text (${secret})`, c, t);
    check(
      !JSON.stringify(result.structuredContent ?? null).includes(secret),
      `no secret in the structured content (${secret})`,
      c,
      t,
    );
  }
  // Fields made invalid on purpose are invalid for the oracle too, and named by the server.
  if (c.expectNamed.length > 0) {
    check(issues.length > 0, `the oracle refuses ${c.expectNamed.join(', ')}`, c, t);
    check(result.isError === true, 'an invalid call is an isError result', c, t);
    for (const field of c.expectNamed)
      check(names(t, field), `the text names ${JSON.stringify(field)}`, c, t);
  }
  if (issues.length > 0) {
    stats.invalid++;
    check(result.isError === true, 'locally invalid: isError', c, t);
    check(t.startsWith(`Invalid arguments for ${spec.name}: `), 'locally invalid: a validation text', c, t);
    check(t.endsWith('Nothing was sent to the provider.'), 'locally invalid: says nothing was sent', c, t);
    check(sent === 0, `locally invalid: no request reached the sandbox (${sent})`, c, t);
    for (const issue of issues) {
      const field = issue.path.split('.')[0]!;
      if (field !== '') check(names(t, field), `the text names ${JSON.stringify(field)}`, c, t);
    }
    return;
  }
  stats.valid++;
  if (sent > 0) stats.reached++;
  if (!result.isError) stats.success++;
  // Valid for the tool's schema: never refused as invalid input afterwards by the client's stricter
  // per-method schema (the two must agree), and "nothing was sent" must then be true.
  check(!t.includes('Invalid arguments for'), 'locally valid: not refused as invalid input', c, t);
  if (t.includes('Nothing was sent')) check(sent === 0, 'says nothing was sent: nothing was', c, t);
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing every tool through MCP', () => {
  it('fuzzes the tools that tools/list advertises', () => {
    expect([...schemas.keys()]).toEqual(SPECS.map((s) => s.name));
    expect(SPECS.length * RUNS_PER_TOOL).toBeGreaterThanOrEqual(MIN_CALLS);
  });

  it.each(SPECS.map((s) => s.name))('%s: bad, boundary and valid arguments', async (name) => {
    const spec = SPECS.find((s) => s.name === name)!;
    const tool = { name, inputSchema: schemas.get(name)! } as Tool;
    await fc.assert(
      fc.asyncProperty(caseArb(tool), (c) => runCase(spec, c)),
      { numRuns: RUNS_PER_TOOL, endOnFailure: true },
    );
    // Still answering after this tool's fuzz.
    await expect(h.mcp.ping()).resolves.toBeDefined();
  });

  it('arguments that are not an object at all: refused, nothing sent', async () => {
    const before = h.sandbox.requests.total;
    for (const junk of [[], [1, 2], 'vmId=1', 42, true, null]) {
      stats.calls++;
      const outcome = await h.mcp
        .callTool({ name: 'vm_get', arguments: junk as never })
        .then((r) => ({ result: r as CallToolResult }))
        .catch((err: unknown) => ({ error: err as Error }));
      if ('error' in outcome) expect(outcome.error.message).toMatch(/invalid|arguments|expected/i);
      else expect(outcome.result.isError, text(outcome.result)).toBe(true);
    }
    expect(h.sandbox.requests.total).toBe(before);
  });

  it('a "__proto__" argument pollutes nothing', async () => {
    const args = JSON.parse('{"vmId": 999999, "__proto__": {"polluted": true, "vmId": 1}}') as Record<
      string,
      unknown
    >;
    const result = (await h.mcp.callTool({ name: 'vm_get', arguments: args })) as CallToolResult;
    stats.calls++;
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/error\.vm\.not\.found/);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('after the fuzz', () => {
  it('the server still answers, no rejection went unhandled, and enough calls were made', async () => {
    const vm = (await h.mcp.callTool({ name: 'vm_get', arguments: { vmId: 85561 } })) as CallToolResult;
    expect(vm.isError, text(vm)).toBeFalsy();
    expect((await h.mcp.listTools()).tools).toHaveLength(SPECS.length);
    // Valid destructive calls pointed at unknown ids: the seed VMs and keys are all still there.
    const world = h.sandbox.state;
    for (const id of [85561, 85662, 88534]) expect(world.vm(id), `VM ${id}`).toBeDefined();
    await expect(h.mcp.ping()).resolves.toBeDefined();
    expect(rejections).toEqual([]);
    expect(failures).toEqual([]);
    expect(stats.calls).toBeGreaterThanOrEqual(MIN_CALLS);
    // The mix: mostly invalid, some valid that reached the sandbox.
    expect(stats.invalid).toBeGreaterThan(stats.calls / 2);
    expect(stats.valid).toBeGreaterThan(stats.calls / 20);
    expect(stats.reached).toBeGreaterThan(0);
    console.info(
      `fuzz: ${stats.calls} calls (${stats.invalid} locally invalid, ${stats.valid} valid of which ${stats.reached} reached the sandbox and ${stats.success} succeeded; ${stats.raw} sent raw) in ${Math.round(stats.ms)} ms of calls`,
    );
  });
});
