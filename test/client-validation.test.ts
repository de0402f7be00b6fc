/**
 * FlopsClient input validation against the real sandbox over loopback HTTP: every rule of the
 * operation table is refused locally with a FlopsValidationError naming the field, and the
 * sandbox's request counters prove that nothing was sent. The same parameters sent raw (undici
 * `request`, bypassing the client) are refused by the sandbox with `fieldErrors` naming the same
 * field: both sides agree.
 */
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FlopsClient } from '../src/api/client.js';
import { FlopsApiError, FlopsValidationError } from '../src/api/errors.js';
import { getOperation, type ToolName } from '../src/api/operations.js';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';

const API_KEY = 'MARKER-KEY-123';
const PASSWORD = 'Marker-Pass-9';
const SECRETS = [API_KEY, PASSWORD, 'apiKey='];
const KEY_TEXT = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@host';

let sandbox: Sandbox;
let client: FlopsClient;
/** Every error a call produced in this file, for the secret check at the end. */
const errors: unknown[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, timeScale: 0.05, apiKey: API_KEY, clientId: 'marker-client' });
  client = new FlopsClient({
    baseUrl: sandbox.url,
    clientId: sandbox.clientId,
    apiKey: API_KEY,
    retryBaseMs: 10,
  });
});
afterAll(async () => {
  await client.close();
  await sandbox.close();
});
beforeEach(() => sandbox.reset());

/** Call a method with parameters the types would refuse (that is the point here). */
const callAny = (tool: string, params: Record<string, unknown>) =>
  client.call(tool as ToolName, params as never);

async function refused(tool: string, params: Record<string, unknown>): Promise<FlopsValidationError> {
  const before = sandbox.requests.total;
  let caught: unknown;
  try {
    await callAny(tool, params);
  } catch (err) {
    caught = err;
  }
  expect(caught, `${tool} ${JSON.stringify(params)} should be refused`).toBeInstanceOf(FlopsValidationError);
  errors.push(caught);
  // Refused locally: not one request reached the sandbox.
  expect(sandbox.requests.total).toBe(before);
  const err = caught as FlopsValidationError;
  expect(err.method).toBe(tool);
  return err;
}

/** Raw GET straight to the sandbox, the query built by hand: lists repeated, absent left out. */
async function raw(tool: string, params: Record<string, unknown>) {
  const row = getOperation(tool);
  const query = new URLSearchParams({ clientId: sandbox.clientId, apiKey: API_KEY });
  const inPath = new Set<string>();
  const path = row.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    inPath.add(name);
    return encodeURIComponent(String(params[name]));
  });
  for (const [name, value] of Object.entries(params)) {
    if (inPath.has(name) || value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) query.append(name, String(item));
  }
  const res = await request(`${sandbox.url}${path}?${query}`);
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

const INSTALL = { tenantId: 10081, distributionId: 230, tariffId: 1, password: PASSWORD };
const POLICY = { vmId: 85561, tenantId: 111, quantity: 3, frequency: 24 };

interface Case {
  rule: string;
  tool: ToolName;
  params: Record<string, unknown>;
  field: string;
}

/** Rules that travel on the wire unchanged: the client and the sandbox must both refuse them. */
const WIRE_CASES: Case[] = [
  { rule: 'memory below 512', tool: 'vm_install', params: { ...INSTALL, memory: 511 }, field: 'memory' },
  {
    rule: 'memory above 16384',
    tool: 'vm_install',
    params: { ...INSTALL, memory: 16385 },
    field: 'memory',
  },
  {
    rule: 'memory_change below 512',
    tool: 'vm_memory_change',
    params: { vmId: 85561, tenantId: 111, memory: 256 },
    field: 'memory',
  },
  {
    rule: 'disk below 8192',
    tool: 'vm_install',
    params: { ...INSTALL, memory: 1024, disk: 8191 },
    field: 'disk',
  },
  {
    rule: 'disk above 524288',
    tool: 'vm_disk_change',
    params: { vmId: 85561, tenantId: 111, disk: 524289 },
    field: 'disk',
  },
  { rule: 'cpu below 1', tool: 'vm_install', params: { ...INSTALL, cpu: 0 }, field: 'cpu' },
  {
    rule: 'cpu above 12',
    tool: 'vm_cpu_change',
    params: { vmId: 85561, tenantId: 111, cpu: 13 },
    field: 'cpu',
  },
  { rule: 'ipCount below 0', tool: 'vm_install', params: { ...INSTALL, ipCount: -1 }, field: 'ipCount' },
  { rule: 'ipCount above 2', tool: 'vm_install', params: { ...INSTALL, ipCount: 3 }, field: 'ipCount' },
  {
    rule: 'backup quantity below 1',
    tool: 'vm_backup_policy_change',
    params: { ...POLICY, quantity: 0 },
    field: 'quantity',
  },
  {
    rule: 'backup quantity above 10',
    tool: 'vm_backup_policy_change',
    params: { ...POLICY, quantity: 11 },
    field: 'quantity',
  },
  {
    rule: 'backup frequency not one of 3/6/12/24/72',
    tool: 'vm_backup_policy_change',
    params: { ...POLICY, frequency: 48 },
    field: 'frequency',
  },
  {
    rule: 'password without an upper-case letter',
    tool: 'vm_password_change',
    params: { vmId: 85561, tenantId: 111, password: 'marker-pass-9' },
    field: 'password',
  },
  {
    rule: 'password without a digit or special character',
    tool: 'vm_password_change',
    params: { vmId: 85561, tenantId: 111, password: 'MarkerPass' },
    field: 'password',
  },
  {
    rule: 'password with a character outside the set',
    tool: 'vm_install',
    params: { ...INSTALL, password: `${PASSWORD}$` },
    field: 'password',
  },
  {
    rule: 'disk above 64 × memory (install)',
    tool: 'vm_install',
    params: { ...INSTALL, memory: 512, disk: 32769 },
    field: 'disk',
  },
  {
    rule: 'disk above 64 × memory (reinstall)',
    tool: 'vm_reinstall',
    params: { vmId: 85561, tenantId: 111, memory: 1024, disk: 131072 },
    field: 'disk',
  },
  {
    rule: 'install with sendPassword=false needs a password',
    tool: 'vm_install',
    params: { tenantId: 10081, distributionId: 230, tariffId: 1, sendPassword: false },
    field: 'password',
  },
  {
    rule: 'required tenantId',
    tool: 'vm_rename',
    params: { vmId: 85561, name: 'x' },
    field: 'tenantId',
  },
  {
    rule: 'required memory',
    tool: 'vm_memory_change',
    params: { vmId: 85561, tenantId: 111 },
    field: 'memory',
  },
  {
    rule: 'required publicKey',
    tool: 'pubkey_add',
    params: { tenantId: 10081, name: 'k' },
    field: 'publicKey',
  },
  {
    rule: 'required backup',
    tool: 'vm_backup_download',
    params: { vmId: 85561, tenantId: 111 },
    field: 'backup',
  },
  {
    rule: 'required ip',
    tool: 'vm_ip_move',
    params: { vmId: 85561, tenantId: 111, toVmId: 85662 },
    field: 'ip',
  },
  {
    rule: 'publicKey not an OpenSSH key line',
    tool: 'pubkey_add',
    params: { tenantId: 10081, name: 'k', publicKey: 'not really a public key' },
    field: 'publicKey',
  },
  {
    rule: 'ip not an IPv4 address',
    tool: 'vm_ip_delete',
    params: { vmId: 85561, tenantId: 111, ip: '185.22.60.999' },
    field: 'ip',
  },
  {
    rule: 'ids are positive',
    tool: 'vm_snapshot_rollback',
    params: { vmId: 85561, tenantId: 111, snapshotId: 0 },
    field: 'snapshotId',
  },
  {
    rule: 'ids are integers (wrong type on the wire)',
    tool: 'vm_clone',
    params: { vmId: 85561, tenantId: 111, snapshotId: 'latest' },
    field: 'snapshotId',
  },
  {
    rule: 'boolean a Spring binder does not read (not true/false/on/off/yes/no/1/0)',
    tool: 'vm_memory_change',
    params: { vmId: 85561, tenantId: 111, memory: 1024, allowRestart: 'maybe' },
    field: 'allowRestart',
  },
];

/** Rules that only the client can see (the wire has no types and no unknown-key check). */
const LOCAL_CASES: Case[] = [
  { rule: 'vmId given as a string', tool: 'vm_get', params: { vmId: '85561' }, field: 'vmId' },
  { rule: 'vmId fractional', tool: 'vm_get', params: { vmId: 85561.5 }, field: 'vmId' },
  { rule: 'required vmId', tool: 'vm_snapshot_list', params: {}, field: 'vmId' },
  {
    rule: 'boolean given as a string',
    tool: 'vm_install',
    params: { ...INSTALL, sendPassword: 'false' },
    field: 'sendPassword',
  },
  {
    rule: 'list given as a single value',
    tool: 'vm_install',
    params: { ...INSTALL, publicKeyIds: 254 },
    field: 'publicKeyIds',
  },
  {
    rule: 'list item of the wrong type',
    tool: 'vm_pubkey_change',
    params: { vmId: 85561, tenantId: 111, keyIds: [254, 'two'] },
    field: 'keyIds.1',
  },
  {
    rule: 'memory fractional',
    tool: 'vm_install',
    params: { ...INSTALL, memory: 1024.5 },
    field: 'memory',
  },
  { rule: 'name empty', tool: 'vm_rename', params: { vmId: 85561, tenantId: 111, name: '' }, field: 'name' },
];

describe('every validation rule is refused locally, and nothing is sent', () => {
  it.each([...WIRE_CASES, ...LOCAL_CASES])('$tool: $rule → $field', async ({ tool, params, field }) => {
    const err = await refused(tool, params);
    expect(err.issues.map((i) => i.path)).toContain(field);
    expect(err.message).toContain(`${field}:`);
    expect(err.message).toContain(tool);
  });

  it.each([
    { tool: 'vm_get' as const, params: { vmId: 85561, verbose: true }, key: 'verbose' },
    { tool: 'vm_rename' as const, params: { vmId: 85561, tenantID: 111, name: 'x' }, key: 'tenantID' },
    { tool: 'tenant_list' as const, params: { apiKey: 'x' }, key: 'apiKey' },
  ])('$tool: unknown key $key is refused, naming it', async ({ tool, params, key }) => {
    const err = await refused(tool, params);
    expect(err.issues).toContainEqual({ path: key, message: expect.stringMatching(/unknown argument/) });
    expect(err.message).toContain(`${key}: unknown argument`);
  });

  it('reports every problem of a call at once', async () => {
    const err = await refused('vm_install', { ...INSTALL, memory: 100, cpu: 99, ipCount: 5 });
    expect(err.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['memory', 'cpu', 'ipCount']));
  });

  it('accepts the limits themselves (the sandbox then handles the call)', async () => {
    // Lowest and highest values of each range, and every backup frequency, pass validation.
    const before = sandbox.requests.count('vm_backup_policy_change');
    for (const frequency of [3, 6, 12, 24, 72] as const) {
      for (const quantity of [1, 10]) {
        const ref = await client.call('vm_backup_policy_change', { ...POLICY, quantity, frequency });
        expect(ref.operationId).toEqual(expect.any(Number));
      }
    }
    expect(sandbox.requests.count('vm_backup_policy_change')).toBe(before + 10);
    expect(sandbox.state.vm(85561)!.backupPolicy).toEqual({ quantity: 10, frequency: 72 });
    const ref = await client.call('vm_install', {
      ...INSTALL,
      memory: 512,
      disk: 32768, // exactly 64 × memory
      cpu: 12,
      ipCount: 0,
      password: 'aB1',
    });
    expect(sandbox.state.vm(ref.vmId)).toMatchObject({ memory: 512, disk: 32768, cpu: 12, ipAddresses: [] });
  });

  it('a valid key line and the other rules of pubkey_add pass', async () => {
    const key = await client.call('pubkey_add', { tenantId: 10081, name: 'k', publicKey: KEY_TEXT });
    expect(key).toMatchObject({ name: 'k', type: 'ED25519', publicKey: KEY_TEXT });
  });
});

describe('the sandbox refuses the same rules when a raw request bypasses the client', () => {
  it.each(WIRE_CASES)('$tool: $rule → fieldErrors names $field', async ({ tool, params, field }) => {
    const local = await refused(tool, params);
    const before = sandbox.requests.count(tool);
    const { status, body } = await raw(tool, params);
    expect(sandbox.requests.count(tool)).toBe(before + 1);
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ERROR', errorCode: null, errorMessage: 'Validation failed' });
    const fields = (body['fieldErrors'] as { field: string }[]).map((f) => f.field);
    expect(fields).toContain(field);
    // Both sides name the same fields.
    expect(new Set(fields)).toEqual(new Set(local.issues.map((i) => i.path)));
  });

  it('the client turns the sandbox refusal into a FlopsApiError with fieldErrors', async () => {
    // A rule only the provider can check (the VM's current disk): the call is sent, and refused.
    let caught: unknown;
    try {
      await client.call('vm_disk_change', { vmId: 85561, tenantId: 111, disk: 8192 });
    } catch (err) {
      caught = err;
    }
    errors.push(caught);
    expect(caught).toBeInstanceOf(FlopsApiError);
    const err = caught as FlopsApiError;
    expect(err).toMatchObject({
      method: 'vm_disk_change',
      errorCode: null,
      errorMessage: 'Validation failed',
    });
    expect(err.fieldErrors).toEqual([{ field: 'disk', message: expect.stringContaining('only grows') }]);
    expect(err.message).toContain('disk: the disk only grows');
    expect(sandbox.requests.count('vm_disk_change')).toBe(1);
  });
});

describe('no secret in any error text', () => {
  it('no error of this file carries the apiKey or a password', () => {
    expect(errors.length).toBeGreaterThan(WIRE_CASES.length);
    for (const err of errors) {
      const e = err as Error;
      const texts = [String(e), e.message, e.stack ?? '', JSON.stringify(e), JSON.stringify(e.cause ?? null)];
      for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
    }
  });
});
