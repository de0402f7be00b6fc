/**
 * What a tool's result holds, declared: the `outputSchema` of every tool whose result is data,
 * derived from the row's `returns` and the entity specs of api/types.ts, and the short text that
 * goes beside the structured result for the model on 2026-07-28 connections (the key facts: ids,
 * names, state, IPs, operation id and status), instead of a second JSON copy of the same data.
 */
import { type OperationDef, PROFILES } from '../api/operations.js';
import { type EntityName, entitySchema } from '../api/types.js';

/** The key under which a list of an entity is returned. */
export const PLURAL: Record<EntityName, string> = {
  tenant: 'tenants',
  vm: 'vms',
  distribution: 'distributions',
  software: 'software',
  tariff: 'tariffs',
  publicKey: 'publicKeys',
  snapshot: 'snapshots',
  backup: 'backups',
  operation: 'operations',
};

type JsonSchema = Record<string, unknown>;

const int = { type: 'integer' };
const str = { type: 'string' };

/**
 * An asynchronous call's result: started (operationId, next), waited for (the operation, and what
 * it produced: the VM read back, the snapshot, the download link), or still running (percentage,
 * next). Kept short: 25 tools declare it, and tools/list is paid in every prompt; the operation
 * and the VM are described by operation_get's and vm_get's own schemas.
 */
function operationResultSchema(withProducts: boolean): JsonSchema {
  return {
    type: 'object',
    properties: {
      operationId: int,
      status: str,
      operation: { type: 'object' },
      ...(withProducts
        ? { vmId: int, vm: { type: ['object', 'null'] }, link: { type: ['string', 'null'] } }
        : {}),
    },
    required: ['operationId', 'status'],
  };
}

const cache = new Map<string, JsonSchema | undefined>();

/** The output schema of an API row's tool, or of wait_for_operation (no row). */
export function outputSchema(row: OperationDef | undefined): JsonSchema | undefined {
  const key = row?.tool ?? '';
  if (cache.has(key)) return cache.get(key);
  let schema: JsonSchema | undefined;
  const returns = row?.returns;
  if (returns === undefined) schema = operationResultSchema(false);
  else if (returns === 'none')
    schema = { type: 'object', properties: { ok: { const: true } }, required: ['ok'] };
  else if (returns === 'operation' || returns === 'created') schema = operationResultSchema(true);
  else if ('list' in returns) {
    const plural = PLURAL[returns.list];
    schema = {
      type: 'object',
      properties: { [plural]: { type: 'array', items: entitySchema(returns.list) } },
      required: [plural],
    };
  } else {
    schema = {
      type: 'object',
      properties: { [returns.object]: entitySchema(returns.object) },
      required: [returns.object],
    };
  }
  if (schema) schema = orError(schema, row !== undefined && returnsWrite(row));
  cache.set(key, schema);
  return schema;
}

/**
 * Either the data, or a dry run's plan, or the one error shape of results.ts (`{ error: { kind,
 * code, message, … } }`): clients of the 1.x SDK validate error results against the output schema
 * too, so nothing is `required` at the top (other keys are allowed: the plan and the error validate
 * as they are, and declaring them as bare objects would say nothing).
 */
function orError(schema: JsonSchema, _write: boolean): JsonSchema {
  const { required: _, ...rest } = schema;
  return rest;
}

const returnsWrite = (row: OperationDef) => !PROFILES[row.profile].readOnly;

// ---------------------------------------------------------------------------------------------
// Summaries for the model.

/** Lines of a list shown in the text; the structured result always has them all. */
const MAX_LINES = 30;

type Rec = Record<string, unknown>;

const q = (value: unknown) =>
  value === null || value === undefined || value === '' ? '' : ` "${String(value)}"`;

function vmLine(vm: Rec): string {
  const ips =
    Array.isArray(vm['ipAddresses']) && vm['ipAddresses'].length ? ` IP ${vm['ipAddresses'].join(', ')}` : '';
  const size = [
    vm['cpu'] != null ? `${vm['cpu']} CPU` : '',
    vm['memory'] != null ? `${vm['memory']} MB RAM` : '',
    vm['disk'] != null ? `${vm['disk']} MB disk` : '',
  ].filter(Boolean);
  return `VM ${vm['id']}${q(vm['name'])}: ${vm['state'] ?? 'state unknown'}${size.length ? `, ${size.join(', ')}` : ''}${ips}${vm['tenantId'] != null ? `, tenant ${vm['tenantId']}` : ''}`;
}

function itemLine(entity: string, item: Rec): string {
  switch (entity) {
    case 'vm':
      return vmLine(item);
    case 'tariff':
      return `${item['id']}${q(item['name'])}: ${item['cpu'] ?? '?'} CPU, ${item['memory'] ?? '?'} MB RAM, ${item['disk'] ?? '?'} MB disk${item['onDemand'] ? ', on demand' : ''}`;
    case 'distribution':
      return `${item['id']}${q(item['name'])}${item['bitness'] ? ` ${item['bitness']}-bit` : ''}`;
    case 'snapshot':
      return `${item['id']}${q(item['name'])}${item['parentSnapshotId'] != null ? ` (parent ${item['parentSnapshotId']})` : ''}`;
    case 'backup':
      return `${item['id']}${item['size'] != null ? ` (${item['size']} bytes)` : ''}`;
    case 'operation':
      return operationLine(item);
    default:
      return `${item['id']}${q(item['name'] ?? item['description'])}`;
  }
}

function operationLine(op: Rec): string {
  return `Operation ${op['id']} (${op['operationType'] ?? 'operation'}${op['vmId'] != null ? ` on VM ${op['vmId']}` : ''}): ${op['status']}${op['percentage'] != null && op['status'] !== 'DONE' ? ` ${op['percentage']}%` : ''}`;
}

/** The text beside a structured result: what the model needs to decide the next step. */
export function summarize(row: OperationDef | undefined, data: Rec): string {
  const plan = data['plan'] as Rec | undefined;
  if (plan) return planText(plan);
  const returns = row?.returns;
  if (returns === 'none') return 'Done.';
  if (returns !== undefined && typeof returns === 'object') {
    if ('list' in returns) {
      const items = (data[PLURAL[returns.list]] as Rec[] | undefined) ?? [];
      const shown = items.slice(0, MAX_LINES).map((item) => `- ${itemLine(returns.list, item)}`);
      const more =
        items.length > MAX_LINES
          ? [`… and ${items.length - MAX_LINES} more (all are in the structured result)`]
          : [];
      return [`${items.length} ${PLURAL[returns.list]}${items.length ? ':' : '.'}`, ...shown, ...more].join(
        '\n',
      );
    }
    const one = data[returns.object] as Rec | undefined;
    return one ? itemLine(returns.object, one) : 'Not found.';
  }
  // An operation: started, still running, or finished with what it produced.
  const lines: string[] = [];
  const operation = data['operation'] as Rec | undefined;
  if (operation) lines.push(operationLine(operation));
  else {
    lines.push(
      `Operation ${data['operationId']}${data['vmId'] != null ? ` on VM ${data['vmId']}` : ''}: ${data['status']}${data['percentage'] != null ? ` ${data['percentage']}%` : ''}`,
    );
  }
  const vm = data['vm'] as Rec | null | undefined;
  if (vm) lines.push(vmLine(vm));
  const snapshot = data['snapshot'] as Rec | null | undefined;
  if (snapshot) lines.push(`Snapshot ${itemLine('snapshot', snapshot)}`);
  if (typeof data['link'] === 'string') lines.push(`Download link: ${data['link']}`);
  for (const key of ['note', 'next'] as const)
    if (typeof data[key] === 'string') lines.push(data[key] as string);
  return lines.join('\n');
}

function planText(plan: Rec): string {
  const request = plan['request'] as { path: string; params: Rec };
  const changes = (plan['changes'] as { field: string; before: unknown; after: unknown }[])
    .map((c) => `- ${c.field}: ${JSON.stringify(c.before)} → ${JSON.stringify(c.after)}`)
    .join('\n');
  return [
    `Dry run of ${plan['tool']}: nothing was sent. It would send GET ${request.path} ${JSON.stringify(request.params)}.`,
    ...(changes ? [`Changes:\n${changes}`] : []),
    ...(plan['destroys'] ? [`Lost: ${plan['destroys']}`] : []),
    `Restarts the VM: ${plan['restarts'] ?? 'no'}. Undo: ${plan['undo'] ?? 'not possible'}. Confirmation: ${plan['confirmation']}.`,
  ].join('\n');
}
