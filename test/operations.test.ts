import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  isDestructive,
  isRead,
  OPERATIONS,
  paramsSchema,
  pathParams,
  TOOLSETS,
} from '../src/api/operations.js';
import { wireType } from '../src/api/wire.js';
import { DESTRUCTIVE_TOOLS } from './helpers.js';

describe('operation table', () => {
  it('has the 38 methods of the reference, in order, with unique names and paths', () => {
    expect(OPERATIONS.map((o) => o.tool)).toEqual([
      'tenant_list',
      'vm_list',
      'vm_install',
      'vm_clone',
      'vm_reinstall',
      'vm_get',
      'vm_rename',
      'vm_start',
      'vm_reset',
      'vm_reboot',
      'vm_poweroff',
      'vm_shutdown',
      'vm_delete',
      'vm_password_change',
      'vm_pubkey_change',
      'vm_memory_change',
      'vm_disk_change',
      'vm_cpu_change',
      'vm_tariff_change',
      'vm_backup_policy_change',
      'vm_ip_add',
      'vm_ip_delete',
      'vm_ip_move',
      'vm_snapshot_list',
      'vm_snapshot_create',
      'vm_snapshot_rollback',
      'vm_snapshot_delete',
      'vm_backup_list',
      'vm_backup_rollback',
      'vm_backup_download',
      'pubkey_list',
      'pubkey_add',
      'pubkey_edit',
      'pubkey_delete',
      'operation_get',
      'distribution_list',
      'software_list',
      'tariff_list',
    ]);
    expect(new Set(OPERATIONS.map((o) => o.path)).size).toBe(38);
  });

  it('marks exactly the documented methods as destructive', () => {
    expect(OPERATIONS.filter(isDestructive).map((o) => o.tool)).toEqual(DESTRUCTIVE_TOOLS);
  });

  it.each(OPERATIONS.map((o) => [o.tool, o] as const))('%s is well formed', (_tool, row) => {
    expect(TOOLSETS).toContain(row.toolset);
    for (const name of pathParams(row.path)) expect(Object.keys(row.params)).toContain(name);
    for (const [name, schema] of Object.entries(row.params) as [string, z.ZodType][]) {
      expect(schema.description, `${row.tool}.${name} is described`).toBeTruthy();
      expect(wireType(schema), `${row.tool}.${name} has a wire type`).not.toBe('other');
    }
    // every write names its tenant; reads of the account take no tenant
    if (!isRead(row)) expect(Object.keys(row.params)).toContain('tenantId');
    expect(row.description.length).toBeGreaterThan(20);
    if (row.returns === 'operation' || row.returns === 'created')
      expect(row.operationType).toMatch(/^[A-Z_]+$/);
  });

  it('applies cross-field rules', () => {
    const install = paramsSchema(OPERATIONS[2]);
    const base = { tenantId: 1, distributionId: 2, tariffId: 1 };
    expect(install.safeParse({ ...base, memory: 512, disk: 32768 }).success).toBe(true);
    const tooBig = install.safeParse({ ...base, memory: 512, disk: 32769 });
    expect(tooBig.success).toBe(false);
    expect(tooBig.error?.issues[0]?.path).toEqual(['disk']);
    const noPassword = install.safeParse({ ...base, sendPassword: false });
    expect(noPassword.error?.issues[0]?.path).toEqual(['password']);
    expect(install.safeParse({ ...base, password: 'abcdef1' }).success).toBe(false);
    expect(install.safeParse({ ...base, password: 'Abcdef~' }).success).toBe(true);
    expect(install.safeParse({ ...base, password: 'Abcdef1@' }).success).toBe(false);
    expect(install.safeParse({ ...base, nmae: 'typo' }).success).toBe(false);
  });
});
