/**
 * Example: fetch a download link for a backup.
 *
 * An agent lists the VMs, finds one that has backups (in the sandbox: VM 85561), takes its newest
 * backup and asks for a download link twice, the two ways an MCP client can do it:
 *
 *   1. `vm_backup_download` with `wait: true`: one call, the result carries the link;
 *   2. `vm_backup_download` without waiting, which returns an operationId at once, then
 *      `wait_for_operation` (with progress notifications): the finished operation's
 *      `operationResult` is the link. This is how a client follows an operation it started earlier.
 *
 *   npm run example:backup                      # against the sandbox: nothing is real
 *   npm run example:backup -- --vm 85561 --once # one link only (the first way)
 *
 * Against a real account (preparing a link is free; downloading it is billed as outgoing traffic):
 *
 *   FLOPS_CLIENT_ID=… FLOPS_API_KEY=… npm run example:backup -- --live [--vm ID] [--backup ID]
 *
 * Options: --vm ID, --backup ID, --once, --live; unknown flags go to flops-mcp.
 * Exit code 0 done, 1 failed (also: no VM has a backup), 2 bad usage.
 */
import { intOption, type Json, runExample, type Session, say } from './lib.js';

const USAGE = `usage: tsx examples/backup-link.ts [--vm ID] [--backup ID] [--once] [--live] [flops-mcp options]`;

/** The first VM (in list order, or the one asked for) that has backups, with its backups. */
async function findBackups(s: Session, wantedVm: number | undefined): Promise<{ vm: Json; backups: Json[] }> {
  const vms: Json[] = wantedVm
    ? [(await s.call('vm_get', { vmId: wantedVm })).vm]
    : (await s.call('vm_list')).vms;
  for (const vm of vms) {
    // A VM shared with this account may not let it read backups: skip it and look further.
    const listed = await s.call('vm_backup_list', { vmId: vm.id }).catch((err: Error) => {
      say(`VM ${vm.id}: ${err.message}`);
      return { backups: [] };
    });
    say(`VM ${vm.id} "${vm.name ?? ''}": ${listed.backups.length} backup(s)`);
    if (listed.backups.length > 0) return { vm, backups: listed.backups };
  }
  throw new Error(
    wantedVm
      ? `VM ${wantedVm} has no backups`
      : 'no VM has a backup yet: backups are taken automatically by the backup policy (vm_backup_policy_change)',
  );
}

async function backupLink(
  s: Session,
  options: Record<string, string | boolean | undefined>,
): Promise<number> {
  const { vm, backups } = await findBackups(s, intOption(options, 'vm'));
  const wanted = options['backup'] as string | undefined;
  const backup = wanted
    ? backups.find((b) => b.id === wanted)
    : [...backups].sort((a, b) => (b.timeAdded ?? 0) - (a.timeAdded ?? 0))[0];
  if (!backup) throw new Error(`VM ${vm.id} has no backup "${wanted}"`);
  const when = backup.timeAdded ? new Date(backup.timeAdded).toISOString() : 'unknown time';
  say(`backup ${backup.id}: size ${backup.size ?? '?'}, taken ${when}`);

  // 1. One call: wait for the operation inside the tool; the result carries the link.
  const waited = await s.run('vm_backup_download', { vmId: vm.id, backup: backup.id });
  const link = waited.link ?? waited.operation?.operationResult;
  if (typeof link !== 'string') throw new Error('the download operation finished without a link');
  console.log(`\nlink (wait: true): ${link}\n`);
  if (options['once'] === true) return 0;

  // 2. Start it, then follow the operation with wait_for_operation.
  const started = await s.call('vm_backup_download', { vmId: vm.id, backup: backup.id });
  say(`started operation ${started.operationId}; following it with wait_for_operation`);
  let op: Json = await s.call('wait_for_operation', { operationId: started.operationId });
  while (op.finished === false) op = await s.call('wait_for_operation', { operationId: started.operationId });
  const link2 = op.operation?.operationResult;
  if (typeof link2 !== 'string') throw new Error(`operation ${started.operationId} finished without a link`);
  console.log(`\nlink (wait_for_operation): ${link2}`);
  console.log('\n✓ backup links ready (each download is billed as outgoing traffic)');
  return 0;
}

runExample(
  {
    name: 'backup-link',
    title: 'flops-mcp example: a backup download link',
    usage: USAGE,
    booleans: ['once'],
    strings: ['vm', 'backup'],
  },
  (session, args) => backupLink(session, args.options),
);
