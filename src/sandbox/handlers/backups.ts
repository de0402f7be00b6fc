/** Toolset `backups`: list, restore and download the automatic backups of a VM. */
import { MS, objectNotFound, TEXT } from '../rules.js';
import { hexToken } from '../state.js';
import {
  applyConfig,
  backupOf,
  dropSnapshots,
  fail,
  liveVm,
  operate,
  readableVm,
  type ToolsetHandlers,
  writableVm,
} from './shared.js';

export const backups = {
  vm_backup_list: (ctx, p) =>
    ctx.state.backupsOf(readableVm(ctx, p.vmId).id).map((b) => ctx.state.backupView(b)),

  // A backup the VM does not have is accepted and its operation ends in ERROR, nothing changed
  // (observed live); the MCP tools check the id before sending.
  vm_backup_rollback: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const { state } = ctx;
    return operate(ctx, vm, MS.restore, () => {
      const v = liveVm(state, vm.id);
      const backup = backupOf(state, v, p.backup);
      if (!backup) return fail('error.object.not.found', TEXT.backupMissing(p.backup, v.id));
      if (p.createBackup === true) state.addBackup(v.id);
      dropSnapshots(state, v);
      applyConfig(v, backup.config);
      return undefined;
    });
  },

  // Nothing was observed for a download of a backup the VM does not have: refused at once.
  vm_backup_download: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const backup = backupOf(ctx.state, vm, p.backup);
    if (!backup) throw objectNotFound();
    let link = '';
    const operation = operate(ctx, vm, MS.download, () => ({ status: 'DONE', operationResult: link }));
    link = `https://download.sandbox.invalid/?p=${hexToken(operation.id, backup.id)}&b=${encodeURIComponent(backup.id)}`;
    return operation;
  },
} satisfies ToolsetHandlers<'backups'>;
