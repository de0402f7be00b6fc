/** Toolset `snapshots`: list, create, roll back to and delete snapshots (a tree per VM). */
import type { SnapshotRecord } from '../model.js';
import { MS, TEXT } from '../rules.js';
import { configOf } from '../state.js';
import {
  applyConfig,
  fail,
  liveVm,
  operate,
  readableVm,
  snapshotOf,
  type ToolsetHandlers,
  writableVm,
} from './shared.js';

const missing = (snapshotId: number, vmId: number) =>
  fail('error.object.not.found', TEXT.snapshotMissing(snapshotId, vmId));

export const snapshots = {
  vm_snapshot_list: (ctx, p) =>
    ctx.state.snapshotsOf(readableVm(ctx, p.vmId).id).map((s) => ctx.state.snapshotView(s)),

  vm_snapshot_create: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const { state } = ctx;
    return operate(ctx, vm, MS.snapshot, () => {
      const v = liveVm(state, vm.id);
      const parent = v.currentSnapshot === null ? undefined : state.snapshots.get(v.currentSnapshot);
      const snapshot: SnapshotRecord = {
        id: state.nextId('snapshot'),
        vmId: v.id,
        name: p.name,
        description: p.description ?? null,
        parentSnapshotId: parent && parent.vmId === v.id ? parent.id : null,
        timeAdded: state.clock(),
        config: configOf(v),
      };
      state.snapshots.set(snapshot.id, snapshot);
      v.currentSnapshot = snapshot.id;
      return undefined;
    });
  },

  // An id the VM does not have is accepted and its operation ends in ERROR, the list unchanged
  // (observed live); the MCP tools check the id before sending.
  vm_snapshot_rollback: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    return operate(ctx, vm, MS.restore - MS.quick, () => {
      const v = liveVm(ctx.state, vm.id);
      const snapshot = snapshotOf(ctx.state, v, p.snapshotId);
      if (!snapshot) return missing(p.snapshotId, v.id);
      applyConfig(v, snapshot.config);
      v.currentSnapshot = snapshot.id;
      return undefined;
    });
  },

  vm_snapshot_delete: (ctx, p) => {
    const vm = writableVm(ctx, p.vmId, p.tenantId);
    const { state } = ctx;
    return operate(ctx, vm, MS.power, () => {
      const v = liveVm(state, vm.id);
      const snapshot = snapshotOf(state, v, p.snapshotId);
      if (!snapshot) return missing(p.snapshotId, v.id);
      const all = state.snapshotsOf(v.id);
      const removed = new Set([snapshot.id]);
      if (p.deleteChildren === true) {
        // The whole subtree: repeat until no snapshot's parent is newly removed.
        for (let grew = true; grew; ) {
          grew = false;
          for (const s of all) {
            if (!removed.has(s.id) && s.parentSnapshotId !== null && removed.has(s.parentSnapshotId)) {
              removed.add(s.id);
              grew = true;
            }
          }
        }
      } else {
        for (const s of all)
          if (s.parentSnapshotId === snapshot.id) s.parentSnapshotId = snapshot.parentSnapshotId;
      }
      for (const id of removed) state.snapshots.delete(id);
      if (v.currentSnapshot !== null && removed.has(v.currentSnapshot))
        v.currentSnapshot = snapshot.parentSnapshotId;
      return undefined;
    });
  },
} satisfies ToolsetHandlers<'snapshots'>;
