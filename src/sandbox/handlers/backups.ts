/** Toolset `backups`: list, restore and download the automatic backups of a VM. */
import { MS } from '../rules.js';
import { hexToken } from '../state.js';
import {
  applyConfig,
  backupOf,
  dropSnapshots,
  liveVm,
  operate,
  readableVm,
  type ToolsetHandlers,
  writableVm,
} from './shared.js';

export const backups = {
  vm_backup_list: (ctx, p) =>
    ctx.state.backupsOf(readableVm(ctx, p.vmId).id).map((b) => ctx.state.backupView(b)),

  vm_backup_rollback: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const backup = backupOf(ctx, vm, p.backup);
    const { state } = ctx;
    return operate(ctx, vm, MS.restore, () => {
      const v = liveVm(state, vm.id);
      if (p.createBackup === true) state.addBackup(v.id);
      dropSnapshots(state, v);
      applyConfig(v, backup.config);
      return undefined;
    });
  },

  vm_backup_download: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const backup = backupOf(ctx, vm, p.backup);
    let link = '';
    const operation = operate(ctx, vm, MS.download, () => ({ status: 'DONE', operationResult: link }));
    link = `https://download.sandbox.invalid/?p=${hexToken(operation.id, backup.id)}&b=${encodeURIComponent(backup.id)}`;
    return operation;
  },
} satisfies ToolsetHandlers<'backups'>;
