/**
 * The objects the Flops API returns, and the lenient normalisation applied to every response:
 * unknown fields are kept, a known field that is absent becomes null, and `timeAdded` becomes epoch
 * milliseconds whether the provider sent a number or an ISO string.
 */
import { perObject } from '../util.js';

export interface Tenant {
  id: number;
  description: string | null;
  [extra: string]: unknown;
}

export interface Distribution {
  id: number;
  name: string | null;
  description: string | null;
  bitness: number | null;
  [extra: string]: unknown;
}

export interface Software {
  id: number;
  name: string | null;
  [extra: string]: unknown;
}

export interface Tariff {
  id: number;
  name: string | null;
  memory: number | null;
  disk: number | null;
  cpu: number | null;
  ipCount: number | null;
  onDemand: boolean | null;
  forWindows: boolean | null;
  [extra: string]: unknown;
}

export interface PublicKey {
  id: number;
  tenantId: number | null;
  name: string | null;
  type: string | null;
  publicKey: string | null;
  timeAdded: number | null;
  [extra: string]: unknown;
}

export interface VmPublicKey extends PublicKey {
  installed: boolean | null;
  ownerUser: string | null;
}

export interface BackupPolicy {
  quantity: number | null;
  frequency: number | null;
  [extra: string]: unknown;
}

export interface Vm {
  id: number;
  tenantId: number | null;
  name: string | null;
  internalId: string | null;
  memory: number | null;
  disk: number | null;
  cpu: number | null;
  bandwidth: number | null;
  tariffId: number | null;
  ipAddresses: string[];
  privateIpAddress: string | null;
  state: string | null;
  timeAdded: number | null;
  currentSnapshot: number | null;
  backupPolicy: BackupPolicy | null;
  distribution: Distribution | null;
  ownerUser: string | null;
  accessUsers: string[];
  publicKeys: VmPublicKey[];
  [extra: string]: unknown;
}

export interface Snapshot {
  id: number;
  name: string | null;
  description: string | null;
  parentSnapshotId: number | null;
  timeAdded: number | null;
  [extra: string]: unknown;
}

export interface Backup {
  id: string;
  size: number | null;
  timeAdded: number | null;
  [extra: string]: unknown;
}

export type OperationStatus = 'PENDING' | 'DONE' | 'ERROR' | (string & {});

export interface Operation {
  id: number;
  vmId: number | null;
  tenantId: number | null;
  status: OperationStatus;
  operationType: string | null;
  percentage: number | null;
  errorMessage: string | null;
  errorCode: string | null;
  operationResult?: string | null;
  [extra: string]: unknown;
}

/** What an asynchronous call returns: the operation to follow, and for install/clone the new VM id. */
export interface OperationRef {
  operationId: number;
  /** New VM id (install, clone). */
  vmId?: number;
}

// ---------------------------------------------------------------------------------------------
// Normalisation. A spec lists an object's known fields: null-filled when absent; nested objects
// and lists of objects are normalised by their own spec.

/**
 * A field's kind: its JSON type (null allowed for every scalar: the API leaves fields out or null),
 * `time` (epoch ms after normalisation), a list of strings, or a nested entity.
 */
type Scalar = 'int' | 'num' | 'str' | 'bool';
type Kind = Scalar | 'time' | 'list' | { one: Spec } | { many: Spec };
type Spec = Readonly<Record<string, Kind>>;

const distribution: Spec = { id: 'int', name: 'str', description: 'str', bitness: 'int' };
const publicKey: Spec = {
  id: 'int',
  tenantId: 'int',
  name: 'str',
  type: 'str',
  publicKey: 'str',
  timeAdded: 'time',
};

export const SPECS = {
  tenant: { id: 'int', description: 'str' },
  distribution,
  software: { id: 'int', name: 'str' },
  tariff: {
    id: 'int',
    name: 'str',
    memory: 'int',
    disk: 'int',
    cpu: 'int',
    ipCount: 'int',
    onDemand: 'bool',
    forWindows: 'bool',
  },
  publicKey,
  vm: {
    id: 'int',
    tenantId: 'int',
    name: 'str',
    internalId: 'str',
    memory: 'int',
    disk: 'int',
    cpu: 'int',
    bandwidth: 'int',
    tariffId: 'int',
    ipAddresses: 'list',
    privateIpAddress: 'str',
    state: 'str',
    timeAdded: 'time',
    currentSnapshot: 'int',
    backupPolicy: { one: { quantity: 'int', frequency: 'int' } },
    distribution: { one: distribution },
    ownerUser: 'str',
    accessUsers: 'list',
    publicKeys: { many: { ...publicKey, installed: 'bool', ownerUser: 'str' } },
  },
  snapshot: {
    id: 'int',
    name: 'str',
    description: 'str',
    parentSnapshotId: 'int',
    timeAdded: 'time',
  },
  backup: { id: 'str', size: 'num', timeAdded: 'time' },
  operation: {
    id: 'int',
    vmId: 'int',
    tenantId: 'int',
    status: 'str',
    operationType: 'str',
    percentage: 'int',
    errorMessage: 'str',
    errorCode: 'str',
  },
} as const satisfies Record<string, Spec>;

const isScalar = (kind: Kind): kind is Scalar =>
  kind === 'int' || kind === 'num' || kind === 'str' || kind === 'bool';

const JSON_TYPE: Record<Scalar, string> = { int: 'integer', num: 'number', str: 'string', bool: 'boolean' };

/**
 * The JSON Schema of an entity as the server returns it (after normalisation): its known fields,
 * scalars nullable, unknown fields allowed (the API adds fields over time).
 */
export function entitySchema(entity: EntityName): Record<string, unknown> {
  return schemaOf(SPECS[entity]);
}

function schemaOf(spec: Spec): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(spec)) {
    // An entity's own id is never null.
    if (isScalar(kind))
      properties[key] = { type: key === 'id' ? JSON_TYPE[kind] : [JSON_TYPE[kind], 'null'] };
    else if (kind === 'time') properties[key] = { type: ['integer', 'null'] };
    else if (kind === 'list') properties[key] = { type: 'array', items: { type: 'string' } };
    else if ('one' in kind) properties[key] = { anyOf: [schemaOf(kind.one), { type: 'null' }] };
    else properties[key] = { type: 'array', items: schemaOf(kind.many) };
  }
  // Every known field is present after normalisation; `required` is left out: tools/list is paid
  // in every prompt.
  return { type: 'object', properties };
}

export type EntityName = keyof typeof SPECS;

/** `timeAdded` as epoch ms: numbers pass, ISO strings ("2018-06-08T19:52:44.665+0000") are parsed. */
export function toEpochMs(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value !== '') {
    const asNumber = Number(value);
    if (Number.isFinite(asNumber)) return asNumber;
    // Java's numeric zone "+0000" becomes the standard "+00:00" before parsing.
    const parsed = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
    return Number.isNaN(parsed) ? null : parsed;
  }
  return null;
}

/** A spec's fields as entries, worked out once a spec (normalisation runs on every answer). */
const entriesOf = perObject((spec: Spec) => Object.entries(spec));

/**
 * Normalised in place: the value is the provider's answer just parsed (parseEnvelope), which nothing
 * else holds. Missing fields are added after the ones the answer has, as a copy would have them.
 */
function normalizeWith(spec: Spec, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value ?? null;
  const out = value as Record<string, unknown>;
  for (const [key, kind] of entriesOf(spec)) {
    const v = out[key];
    if (isScalar(kind)) out[key] = v ?? null;
    else if (kind === 'time') out[key] = toEpochMs(v);
    else if (kind === 'list') out[key] = Array.isArray(v) ? v : [];
    else if ('one' in kind) out[key] = v == null ? null : normalizeWith(kind.one, v);
    else out[key] = Array.isArray(v) ? v.map((item) => normalizeWith(kind.many, item)) : [];
  }
  return out;
}

export function normalize<T>(entity: EntityName, value: unknown): T {
  return normalizeWith(SPECS[entity], value) as T;
}

export function normalizeList<T>(entity: EntityName, value: unknown): T[] {
  if (!Array.isArray(value)) return [];
  const spec = SPECS[entity];
  return value.map((item) => normalizeWith(spec, item)) as T[];
}

/**
 * The wire object of an entity taken from a record that may hold more (the sandbox's records keep
 * owners, locks, history): exactly the spec's fields, in the spec's (the provider's document's, docs/api.md) key order,
 * lists copied, nested objects projected by their own spec.
 */
export function project<T>(entity: EntityName, record: object): T {
  return projectWith(SPECS[entity], record) as T;
}

function projectWith(spec: Spec, record: object): Record<string, unknown> {
  const source = record as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(spec)) {
    const v = source[key];
    if (isScalar(kind) || kind === 'time') out[key] = v ?? null;
    else if (kind === 'list') out[key] = Array.isArray(v) ? [...v] : [];
    else if ('one' in kind) out[key] = v == null ? null : projectWith(kind.one, v as object);
    else out[key] = Array.isArray(v) ? v.map((item: object) => projectWith(kind.many, item)) : [];
  }
  return out;
}
