/**
 * Catalog resources (JSON): the account's lists, and templates for one VM, its snapshots and
 * backups, and an operation. Each reads through the same client as the tools; a failed read of a
 * templated resource is a protocol error (the resource does not exist or cannot be read).
 */
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  McpError,
  type ReadResourceResult,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { FlopsClient } from '../api/client.js';
import { errorResult } from './results.js';

const json = (uri: string, value: unknown): ReadResourceResult => ({
  contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(value) }],
});

/** Static lists: the read tools without parameters, by URI. */
const LISTS = [
  ['tenants', 'tenant_list', 'Projects (tenants) of the account'],
  ['vms', 'vm_list', 'All VMs of the account, own and shared'],
  ['distributions', 'distribution_list', 'Installable distributions (ids change over time)'],
  ['tariffs', 'tariff_list', 'Tariffs with memory/disk in MB, cpu, ipCount, onDemand'],
  ['software', 'software_list', 'Software that can be preinstalled'],
  ['pubkeys', 'pubkey_list', 'SSH public keys registered in the account'],
] as const;

/**
 * Resource subscriptions: a client subscribes to URIs; after a write that changed a VM, the seam
 * calls `changed(vmId)` and subscribers of that VM, its snapshots/backups and the VM list are told.
 */
export function enableSubscriptions(server: McpServer): { changed: (vmId: number | undefined) => void } {
  const subscribed = new Set<string>();
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, (request) => {
    subscribed.add(request.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });
  return {
    changed: (vmId) => {
      if (subscribed.size === 0) return;
      const uris = [
        'flops://vms',
        ...(vmId === undefined ? [] : ['', '/snapshots', '/backups'].map((s) => `flops://vms/${vmId}${s}`)),
      ];
      for (const uri of uris) {
        if (subscribed.has(uri)) server.server.sendResourceUpdated({ uri }).catch(() => undefined);
      }
    },
  };
}

export function registerResources(server: McpServer, client: FlopsClient): void {
  const read = async <T>(uri: string, fn: () => Promise<T>): Promise<ReadResourceResult> => {
    try {
      return json(uri, await fn());
    } catch (err) {
      const text = errorResult(err, { tool: `resource ${uri}` }).content[0];
      throw new McpError(-32002 as ErrorCode, text?.type === 'text' ? text.text : `Cannot read ${uri}`);
    }
  };

  for (const [name, tool, description] of LISTS) {
    const uri = `flops://${name}`;
    server.registerResource(
      name,
      uri,
      { title: description, description, mimeType: 'application/json' },
      () => read(uri, () => client.call(tool, {})),
    );
  }

  const vmIdOf = (value: string | string[] | undefined): number => {
    const id = Number(Array.isArray(value) ? value[0] : value);
    if (!Number.isInteger(id) || id <= 0)
      throw new McpError(ErrorCode.InvalidParams, `Invalid VM id: ${value}`);
    return id;
  };
  const listVms = async () => {
    const vms = await client.call('vm_list', {});
    return {
      resources: vms.map((vm) => ({
        uri: `flops://vms/${vm.id}`,
        name: `${vm.name ?? vm.id}`,
        description: `VM ${vm.id} ${vm.name ?? ''} (${vm.state ?? 'unknown state'})`,
        mimeType: 'application/json',
      })),
    };
  };
  const completeVmId = async (value: string) => {
    const vms = await client.call('vm_list', {});
    return vms.map((vm) => String(vm.id)).filter((id) => id.startsWith(value));
  };

  server.registerResource(
    'vm',
    new ResourceTemplate('flops://vms/{vmId}', { list: listVms, complete: { vmId: completeVmId } }),
    { title: 'One VM', description: 'A VM by id', mimeType: 'application/json' },
    (uri, { vmId }) => read(uri.href, () => client.call('vm_get', { vmId: vmIdOf(vmId) })),
  );
  server.registerResource(
    'vm-snapshots',
    new ResourceTemplate('flops://vms/{vmId}/snapshots', {
      list: undefined,
      complete: { vmId: completeVmId },
    }),
    { title: 'Snapshots of a VM', description: 'Snapshots of a VM (a tree)', mimeType: 'application/json' },
    (uri, { vmId }) => read(uri.href, () => client.call('vm_snapshot_list', { vmId: vmIdOf(vmId) })),
  );
  server.registerResource(
    'vm-backups',
    new ResourceTemplate('flops://vms/{vmId}/backups', { list: undefined, complete: { vmId: completeVmId } }),
    { title: 'Backups of a VM', description: 'Automatic backups of a VM', mimeType: 'application/json' },
    (uri, { vmId }) => read(uri.href, () => client.call('vm_backup_list', { vmId: vmIdOf(vmId) })),
  );
  server.registerResource(
    'operation',
    new ResourceTemplate('flops://operations/{operationId}', { list: undefined }),
    { title: 'An operation', description: 'An asynchronous operation by id', mimeType: 'application/json' },
    (uri, { operationId }) =>
      read(uri.href, () => client.call('operation_get', { operationId: Number(operationId) })),
  );
}
