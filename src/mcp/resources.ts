/**
 * Catalog resources (JSON): the account's lists, and templates for one VM, its snapshots and
 * backups, and an operation. Each reads through the same client as the tools; a failed read of a
 * templated resource is a protocol error (the resource does not exist or cannot be read).
 */

import type { McpServer, ReadResourceResult } from '@modelcontextprotocol/server';
import {
  ProtocolError,
  ProtocolErrorCode,
  ResourceNotFoundError,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
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

/** Subscriptions one 2025 session may hold; each URI is one of ours, so short. */
export const MAX_SUBSCRIPTIONS = 100;

/** A URI that names one of our resources: the lists, or a VM's resources by a decimal id. */
export function isKnownResourceUri(uri: string): boolean {
  return (
    uri.length <= 64 &&
    (LISTS.some(([name]) => uri === `flops://${name}`) ||
      /^flops:\/\/vms\/[1-9]\d{0,9}(?:\/snapshots|\/backups)?$/.test(uri) ||
      /^flops:\/\/operations\/[1-9]\d{0,9}$/.test(uri))
  );
}

/**
 * Resource subscriptions. After a write that changed a VM, the seam calls `changed(vmId)` and the
 * VM, its snapshots/backups and the VM list are announced as updated:
 * - 2025 sessions subscribe with `resources/subscribe` (only URIs of our resources, at most
 *   MAX_SUBSCRIPTIONS a session) and are told of their own URIs: over stdio by this instance; over
 *   HTTP (`listen`) through the event bus, so that a write made in another session of the same
 *   provider account, or through another replica, reaches them too;
 * - 2026-07-28 clients listen with `subscriptions/listen`, served by the SDK's entries: over stdio
 *   the notification this instance sends is routed to the listen streams; over HTTP `publish` puts
 *   it on the process's event bus, which also reaches listeners of other requests.
 */
export function enableSubscriptions(
  server: McpServer,
  publish?: (uri: string) => void,
  listen?: (onUpdated: (uri: string) => void) => () => void,
): { changed: (vmId: number | undefined) => void } {
  const subscribed = new Set<string>();
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler('resources/subscribe', (request) => {
    const { uri } = request.params;
    if (!isKnownResourceUri(uri)) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Cannot subscribe to ${uri.slice(0, 64)}${uri.length > 64 ? '…' : ''}: not a resource of this server (flops://vms, flops://vms/{vmId}, …/snapshots, …/backups, the catalog lists)`,
      );
    }
    if (!subscribed.has(uri) && subscribed.size >= MAX_SUBSCRIPTIONS) {
      throw new ProtocolError(
        ProtocolErrorCode.InvalidParams,
        `Too many subscriptions (${MAX_SUBSCRIPTIONS} per session): unsubscribe from some first`,
      );
    }
    subscribed.add(uri);
    return {};
  });
  server.server.setRequestHandler('resources/unsubscribe', (request) => {
    subscribed.delete(request.params.uri);
    return {};
  });
  // A 2025 HTTP session: told of the updates published on the bus, wherever the write was made
  // (this session, another one, another replica); its own writes reach it the same way.
  listen?.((uri) => {
    if (subscribed.has(uri)) server.server.sendResourceUpdated({ uri }).catch(() => undefined);
  });
  return {
    changed: (vmId) => {
      const uris = [
        'flops://vms',
        ...(vmId === undefined ? [] : ['', '/snapshots', '/backups'].map((s) => `flops://vms/${vmId}${s}`)),
      ];
      // A 2026-07-28 stdio connection (no publish): its listen streams filter what is sent.
      const modernStdio = publish === undefined && isModern(server);
      for (const uri of uris) {
        publish?.(uri);
        if (listen) continue;
        if (subscribed.has(uri) || modernStdio)
          server.server.sendResourceUpdated({ uri }).catch(() => undefined);
      }
    },
  };
}

/** The instance serves the 2026-07-28 revision (no initialize, per-request envelope). */
export function isModern(server: McpServer): boolean {
  return (server.server.getNegotiatedProtocolVersion() ?? '') >= '2026';
}

export function registerResources(server: McpServer, client: FlopsClient): void {
  const read = async <T>(uri: string, fn: () => Promise<T>): Promise<ReadResourceResult> => {
    try {
      return json(uri, await fn());
    } catch (err) {
      const text = errorResult(err, { tool: `resource ${uri}` }).content[0];
      const message = text?.type === 'text' ? text.text : `Cannot read ${uri}`;
      // 2026-07-28: a missing resource is -32602 with its uri; 2025 sessions keep -32002, as before.
      if (isModern(server)) throw new ResourceNotFoundError(uri, message);
      throw new ProtocolError(-32002 as ProtocolErrorCode, message, { uri });
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

  // Decimal ids only: Number() would also take `0x159d6` or `1e5`.
  const idOf = (what: string, value: string | string[] | undefined): number => {
    const text = String(Array.isArray(value) ? value[0] : value);
    if (!/^[1-9]\d{0,9}$/.test(text))
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Invalid ${what} id: ${text.slice(0, 20)}`);
    return Number(text);
  };
  const vmIdOf = (value: string | string[] | undefined) => idOf('VM', value);
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
      read(uri.href, () => client.call('operation_get', { operationId: idOf('operation', operationId) })),
  );
}
