/**
 * MCP prompts for the common workflows: deploy a server, resize safely, restore from a backup.
 * Each returns one user message that walks the agent through the tool calls, with the arguments
 * filled in. Arguments complete from live data: VM ids and names, distribution names, tariffs.
 */

import type { GetPromptResult, McpServer } from '@modelcontextprotocol/server';
import { completable } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { FlopsClient } from '../api/client.js';

const MAX_COMPLETIONS = 100;

const startsWith = (prefix: string) => {
  const p = prefix.trim().toLowerCase();
  return (value: string) => value.toLowerCase().startsWith(p) || value.toLowerCase().includes(` ${p}`);
};

/** Completion must never fail the request: a provider error completes nothing. */
async function safely(fn: () => Promise<string[]>): Promise<string[]> {
  try {
    return (await fn()).slice(0, MAX_COMPLETIONS);
  } catch {
    return [];
  }
}

const message = (text: string): GetPromptResult => ({
  messages: [{ role: 'user', content: { type: 'text', text } }],
});

export function registerPrompts(server: McpServer, client: FlopsClient): void {
  /** VM by id or name: completes ids and names. */
  const vmArg = (description: string) =>
    completable(z.string().describe(description), (value) =>
      safely(async () => {
        const vms = await client.call('vm_list', {});
        const match = startsWith(value);
        return vms.flatMap((vm) => [String(vm.id), ...(vm.name ? [vm.name] : [])]).filter(match);
      }),
    );
  const distributionArg = completable(
    z.string().describe('Distribution by name or description, e.g. "debian" or "Ubuntu 14.04.1 x64"'),
    (value) =>
      safely(async () => {
        const list = await client.call('distribution_list', {});
        return [...new Set(list.flatMap((d) => [d.description ?? '', (d.name ?? '').toLowerCase()]))].filter(
          (v) => v && startsWith(value)(v),
        );
      }),
  );
  const tariffArg = completable(z.string().describe('Tariff name (tariff_list)'), (value) =>
    safely(async () =>
      (await client.call('tariff_list', {})).map((t) => t.name ?? '').filter(startsWith(value ?? '')),
    ),
  ).optional();

  server.registerPrompt(
    'deploy_server',
    {
      title: 'Deploy a server',
      description: 'Install a new VM from a distribution and tariff, wait for it and report how to reach it.',
      argsSchema: z.object({
        distribution: distributionArg,
        tariff: tariffArg,
        name: z.string().describe('Name of the new VM').optional(),
      }),
    },
    ({ distribution, tariff, name }) =>
      message(
        [
          `Deploy a new server${name ? ` named "${name}"` : ''} running ${distribution}.`,
          '1. Call tariff_list and distribution_list to confirm the choice' +
            (tariff ? ` (tariff "${tariff}")` : '; pick the smallest tariff that fits, and tell me which') +
            '. Tell me the monthly implications if you know them.',
          '2. If I have SSH keys (pubkey_list), pass their ids as publicKeyIds; otherwise set a strong password (Latin letters in both cases and a digit).',
          `3. Call vm_install with distribution "${distribution}"${tariff ? `, tariff "${tariff}"` : ''}${name ? `, name "${name}"` : ''} and wait: true.`,
          '4. Report the VM id, state, public IP addresses and how to connect (ssh root@IP).',
        ].join('\n'),
      ),
  );

  server.registerPrompt(
    'resize_safely',
    {
      title: 'Resize a server safely',
      description: 'Snapshot a VM, change its memory/disk/cpu, check it, and roll back if the check fails.',
      argsSchema: z.object({
        vm: vmArg('VM id or name'),
        memory: z.string().describe('New RAM in MB, 512-16384').optional(),
        disk: z.string().describe('New disk in MB (can only grow), 8192-524288').optional(),
        cpu: z.string().describe('New CPU cores, 1-12').optional(),
      }),
    },
    ({ vm, memory, disk, cpu }) => {
      const changes = [
        memory && `memory ${memory} MB (vm_memory_change; allowRestart if it shrinks)`,
        disk && `disk ${disk} MB (vm_disk_change; disks only grow)`,
        cpu && `cpu ${cpu} cores (vm_cpu_change)`,
      ].filter(Boolean);
      return message(
        [
          `Resize VM ${vm} safely${changes.length ? ` to: ${changes.join(', ')}` : ' (ask me for the new sizes)'}.`,
          `1. Find the VM (vm_list if "${vm}" is a name; then vm_get). Resizing needs an onDemand tariff: if it is on a fixed tariff, propose vm_tariff_change instead and stop.`,
          '2. Create a snapshot named "before-resize" (vm_snapshot_create, wait: true).',
          '3. Apply each change with wait: true, one at a time (a VM runs one operation at a time).',
          '4. Check: vm_get shows the new sizes and the state is VIR_DOMAIN_RUNNING.',
          '5. If the check fails, roll back with vm_snapshot_rollback to "before-resize" (wait: true) and report what failed. If it passes, ask me whether to delete the snapshot.',
        ].join('\n'),
      );
    },
  );

  server.registerPrompt(
    'restore_from_backup',
    {
      title: 'Restore a server from a backup',
      description: 'Choose a backup of a VM and restore it, after spelling out what will be lost.',
      argsSchema: z.object({ vm: vmArg('VM id or name') }),
    },
    ({ vm }) =>
      message(
        [
          `Restore VM ${vm} from a backup.`,
          `1. Find the VM (vm_list if "${vm}" is a name) and list its backups (vm_backup_list). Show me them with dates and sizes and let me choose; if there are none, say so and stop.`,
          '2. Before restoring, tell me plainly: ALL snapshots of the VM are deleted, the current disk is lost, and the tariff reverts to the one at backup time. Offer createBackup: true to keep a backup of the current state first.',
          '3. Only after I confirm, call vm_backup_rollback with the chosen backup id and wait: true.',
          '4. Report the VM state afterwards (vm_get). To download a backup instead, use vm_backup_download (the link is in the result).',
        ].join('\n'),
      ),
  );
}
