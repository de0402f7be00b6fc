/**
 * The example workflows in examples/, run as a user runs them (`tsx examples/X.ts`) against the
 * built CLI in sandbox mode, with operations sped up through FLOPS_SANDBOX_TIME_SCALE, which the
 * examples hand on to the server with the rest of the environment. `npm test` builds first.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const tsx = `${root}node_modules/.bin/tsx`;
const PASSWORD = 'Examples-Secret9';

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function example(
  file: string,
  args: string[] = [],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOPS_'))),
    FLOPS_SANDBOX_TIME_SCALE: '0.1',
    FLOPS_EXAMPLE_PASSWORD: PASSWORD,
    NO_COLOR: '1',
    ...extraEnv,
  };
  try {
    const { stdout, stderr } = await run(tsx, [`examples/${file}`, ...args], {
      cwd: root,
      env,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The tools called, in order, from the "→ tool {…}" lines. */
const calls = (stdout: string) => [...stdout.matchAll(/^→ (\w+) /gm)].map((m) => m[1]);

const progressLines = (stdout: string, type: string) =>
  stdout.split('\n').filter((l) => /\[[#.]+\]\s+\d+%/.test(l) && l.includes(type));

beforeAll(() => {
  if (!existsSync(`${root}dist/cli.cjs`)) throw new Error('dist/cli.cjs is missing: run npm run build first');
});

describe.concurrent('examples/provision.ts', { timeout: 60_000 }, () => {
  it('picks from the catalogs, installs with progress, prints the VM and deletes it', async () => {
    const { code, stdout, stderr } = await example('provision.ts');
    expect(code, stderr).toBe(0);
    expect(calls(stdout)).toEqual(['distribution_list', 'tariff_list', 'vm_install', 'vm_delete']);
    expect(stdout).toMatch(/distribution: Ubuntu 16\.04 x64 \(id 316\)/);
    expect(stdout).toMatch(/tariff: "Облачный 512" \(id 3,/);
    expect(progressLines(stdout, 'VM_INSTALL').length).toBeGreaterThanOrEqual(1);
    expect(stdout).toMatch(/[1-9]\d* progress notifications while installing/);
    expect(stdout).toMatch(/installed: VM \d+ "example-[^"]+" VIR_DOMAIN_RUNNING: 1 CPU, 512 MB RAM/);
    expect(stdout).toMatch(/VM \d+ deleted \(operation \d+ DONE\)/);
    expect(stdout).toMatch(/✓ provisioned/);
    expect(stdout).toContain('"password":"***"');
    expect(stdout + stderr).not.toContain(PASSWORD);
  });

  it('takes a distribution, a tariff and a name, keeps the VM with --keep, and forwards server flags', async () => {
    const { code, stdout, stderr } = await example(
      'provision.ts',
      [
        '--distribution',
        'debian',
        '--tariff',
        'Облачный 1024',
        '--name',
        'kept-web',
        '--keep',
        '--time-scale',
        '0.1',
      ],
      { FLOPS_SANDBOX_TIME_SCALE: undefined },
    );
    expect(code, stderr).toBe(0);
    expect(calls(stdout)).toEqual(['distribution_list', 'tariff_list', 'vm_install']);
    expect(stdout).toMatch(/distribution: Debian 9 x64/);
    expect(stdout).toMatch(
      /installed: VM \d+ "kept-web" VIR_DOMAIN_RUNNING: 1 CPU, 1024 MB RAM, 32768 MB disk/,
    );
    expect(stdout).toMatch(/kept VM \d+ \(--keep\)/);
  });

  it('refuses bad usage with exit code 2: --live without credentials, a bad number', async () => {
    const live = await example('provision.ts', ['--live']);
    expect(live.code).toBe(2);
    expect(live.stderr).toMatch(/FLOPS_CLIENT_ID and FLOPS_API_KEY/);
    expect(calls(live.stdout)).toEqual([]);
    const bad = await example('provision.ts', ['--tenant', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--tenant must be a positive whole number/);
  });

  it('exits 1 and says why when the server does not start', async () => {
    const { code, stderr } = await example('provision.ts', ['--no-such-flag']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/Unknown option '--no-such-flag'/);
    expect(stderr).toMatch(/flops-mcp did not start/);
  });
});

describe.concurrent('examples/safe-resize.ts', { timeout: 60_000 }, () => {
  it('keeps a resize that passes the check, then deletes the VM', async () => {
    const { code, stdout, stderr } = await example('safe-resize.ts');
    expect(code, stderr).toBe(0);
    expect(calls(stdout)).toEqual([
      'tariff_list',
      'distribution_list',
      'vm_install',
      'vm_snapshot_create',
      'vm_memory_change',
      'vm_disk_change',
      'vm_cpu_change',
      'vm_get',
      'vm_delete',
    ]);
    expect(stdout).toMatch(/installing on "Облачный без границ" \(onDemand\)/);
    expect(stdout).toMatch(/before: 1024 MB RAM, 16384 MB disk, 1 CPU/);
    expect(stdout).toMatch(/after: {2}2048 MB RAM, 24576 MB disk, 2 CPU/);
    expect(stdout).toMatch(/check: PASSED/);
    expect(stdout).toMatch(/✓ resize kept: VM \d+ .*2 CPU, 2048 MB RAM, 24576 MB disk/);
    expect(stdout).toMatch(/VM \d+ deleted with its snapshots/);
  });

  it('rolls back to the snapshot when the check fails (exit code 3)', async () => {
    const { code, stdout, stderr } = await example('safe-resize.ts', ['--fail-check']);
    expect(code, stderr).toBe(3);
    const order = calls(stdout);
    expect(order.slice(3)).toEqual([
      'vm_snapshot_create',
      'vm_memory_change',
      'vm_disk_change',
      'vm_cpu_change',
      'vm_get',
      'vm_snapshot_rollback',
      'vm_delete',
    ]);
    expect(stdout).toMatch(/check: FAILED — failure forced by --fail-check/);
    const snapshot = /snapshot (\d+) taken/.exec(stdout)?.[1];
    expect(snapshot).toBeDefined();
    expect(stdout).toContain(`"snapshotId":${snapshot}`);
    expect(stdout).toMatch(
      new RegExp(
        `rolled back to snapshot ${snapshot}: 1024 MB RAM, 16384 MB disk, 1 CPU, as before the resize`,
      ),
    );
    expect(stdout).not.toMatch(/resize kept/);
  });

  it('resizes an existing VM with --vm and given targets, rolls back, and leaves the VM with no extra snapshot', async () => {
    const { code, stdout, stderr } = await example('safe-resize.ts', [
      '--vm',
      '85561',
      '--memory',
      '2048',
      '--disk',
      '32768',
      '--cpu',
      '4',
      '--fail-check',
    ]);
    expect(code, stderr).toBe(3);
    expect(calls(stdout)[0]).toBe('vm_get');
    expect(calls(stdout)).not.toContain('vm_install');
    expect(calls(stdout)).not.toContain('vm_delete');
    expect(stdout).toMatch(/before: 512 MB RAM, 16384 MB disk, 1 CPU/);
    expect(stdout).toMatch(/after: {2}2048 MB RAM, 32768 MB disk, 4 CPU/);
    expect(stdout).toMatch(/rolled back to snapshot \d+: 512 MB RAM, 16384 MB disk, 1 CPU/);
    expect(stdout).toMatch(/snapshot \d+ deleted; VM 85561 stays/);
  });

  it('rolls back when a resize step fails', async () => {
    // 16384 MB memory and 2 TB disk: the disk is beyond the provider's limit, so vm_disk_change fails.
    const { code, stdout, stderr } = await example('safe-resize.ts', ['--disk', '2000000']);
    expect(code, stderr).toBe(3);
    expect(stdout).toMatch(/check: FAILED — a resize step failed: .*disk/);
    expect(calls(stdout)).toContain('vm_snapshot_rollback');
    expect(stdout).toMatch(/rolled back to snapshot \d+: 1024 MB RAM, 16384 MB disk, 1 CPU/);
  });
});

describe.concurrent('examples/backup-link.ts', { timeout: 60_000 }, () => {
  it('finds the VM with a backup and gets a link both ways: wait: true, then start + wait_for_operation', async () => {
    const { code, stdout, stderr } = await example('backup-link.ts');
    expect(code, stderr).toBe(0);
    expect(calls(stdout)).toEqual([
      'vm_list',
      'vm_backup_list',
      'vm_backup_list',
      'vm_backup_list',
      'vm_backup_download',
      'vm_backup_download',
      'wait_for_operation',
    ]);
    expect(stdout).toMatch(/VM 85561 "ubuntu": 1 backup\(s\)/);
    expect(stdout).toMatch(
      /"backup":"diff-backupsnap20141019011721-backupsnap20141022015414\.lz4","wait":true/,
    );
    const first = /link \(wait: true\): (\S+)/.exec(stdout)?.[1];
    const second = /link \(wait_for_operation\): (\S+)/.exec(stdout)?.[1];
    expect(first).toMatch(/^https:\/\/\S+diff-backupsnap20141019011721-backupsnap20141022015414\.lz4$/);
    expect(second).toMatch(/^https:\/\//);
    expect(stdout).toMatch(/← operation \d+ STARTED/);
    expect(progressLines(stdout, 'DOWNLOAD_BACKUP').length).toBeGreaterThanOrEqual(1);
  });

  it('exits 1 when the VM asked for has no backup', async () => {
    const { code, stdout, stderr } = await example('backup-link.ts', ['--vm', '88534', '--once']);
    expect(code).toBe(1);
    expect(calls(stdout)).toEqual(['vm_get', 'vm_backup_list']);
    expect(stderr).toMatch(/VM 88534 has no backups/);
  });
});

describe('examples/demo.ts (npm run demo)', { timeout: 60_000 }, () => {
  it('installs by distribution name with progress, snapshots, resizes, adds an IP, rolls back and deletes', async () => {
    const { code, stdout } = await example('demo.ts');
    expect(code).toBe(0);
    expect(calls(stdout)).toEqual([
      'tenant_list',
      'distribution_list',
      'tariff_list',
      'vm_install',
      'vm_snapshot_create',
      'vm_memory_change',
      'vm_ip_add',
      'vm_snapshot_rollback',
      'vm_delete',
    ]);
    expect(progressLines(stdout, 'VM_INSTALL').length).toBeGreaterThan(0);
    expect(stdout).toMatch(/memory is now 2048 MB/);
    expect(stdout).toMatch(/rolled back to "before-resize": memory 1024 MB again/);
    expect(stdout).not.toContain('Demo-Passw0rd');
  });
});
