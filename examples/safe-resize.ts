/**
 * Example: a safe resize — snapshot, resize, check, and roll back when the check fails.
 *
 * An agent installs a VM on an onDemand tariff (or takes an existing one with --vm), takes a
 * snapshot, raises its memory, disk and CPU, and runs a check on the result. If a resize step or
 * the check fails, it rolls the VM back to the snapshot and verifies that the resources are the
 * ones from before. The check is deterministic: the VM must be running with exactly the requested
 * resources; `--fail-check` makes it fail on purpose, to see the rollback.
 *
 *   npm run example:resize                       # against the sandbox: the resize is kept
 *   npm run example:resize -- --fail-check       # the check fails: rolled back (exit code 3)
 *   npm run example:resize -- --memory 4096 --disk 32768 --cpu 4
 *
 * Against a real account (the VM is billed while it exists; with --vm your VM is resized, and
 * rolled back if the check fails, which loses what changed on it since the snapshot):
 *
 *   FLOPS_CLIENT_ID=… FLOPS_API_KEY=… [FLOPS_TENANT_ID=…] npm run example:resize -- --live [--vm ID]
 *
 * Options: --vm ID (resize this VM; it is not deleted), --memory MB, --disk MB, --cpu N (default:
 * twice the memory, 8 GB more disk, one more core), --fail-check, --keep (keep the VM installed
 * here), --tenant ID, --live. Unknown flags go to flops-mcp. The snapshot is deleted at the end
 * when the VM stays.
 *
 * Exit code 0: resized and kept; 3: the check failed and the VM was rolled back to its former
 * state; 1: something failed (including the rollback); 2: bad usage.
 */
import {
  cleanUp,
  examplePassword,
  intOption,
  type Json,
  pickDistribution,
  runExample,
  type Session,
  say,
  ToolError,
  UsageError,
  vmLine,
} from './lib.js';

const USAGE = `usage: tsx examples/safe-resize.ts [--vm ID] [--memory MB] [--disk MB] [--cpu N] [--fail-check] [--keep] [--tenant ID] [--live] [flops-mcp options]`;
const ROLLED_BACK = 3;

interface Resources {
  memory: number;
  disk: number;
  cpu: number;
}

const resourcesOf = (vm: Json): Resources => ({ memory: vm.memory, disk: vm.disk, cpu: vm.cpu });
const show = (r: Resources) => `${r.memory} MB RAM, ${r.disk} MB disk, ${r.cpu} CPU`;

/**
 * The acceptance check. Deterministic: it looks only at the VM it is given. A real workflow would
 * also probe the service on the VM (an HTTP health endpoint, a smoke test over SSH).
 */
function checkResize(vm: Json, target: Resources, forceFailure: boolean): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (vm.state !== 'VIR_DOMAIN_RUNNING') reasons.push(`the VM is ${vm.state}, not running`);
  for (const key of ['memory', 'disk', 'cpu'] as const) {
    if (vm[key] !== target[key]) reasons.push(`${key} is ${vm[key]}, expected ${target[key]}`);
  }
  if (forceFailure) reasons.push('failure forced by --fail-check');
  return { ok: reasons.length === 0, reasons };
}

/** An onDemand Linux VM to resize: installed here, so it can be deleted at the end. */
async function installVm(s: Session, tenantId: number | undefined): Promise<Json> {
  const { tariffs } = await s.call('tariff_list');
  const tariff = tariffs.find((t: Json) => t.onDemand && !t.forWindows);
  if (!tariff) throw new Error('tariff_list has no onDemand Linux tariff: resources cannot be changed');
  const { distributions } = await s.call('distribution_list');
  const distribution = pickDistribution(distributions);
  say(`installing on "${tariff.name}" (onDemand) with ${distribution.description}`);
  const installed = await s.run('vm_install', {
    ...(tenantId ? { tenantId } : {}),
    name: `resize-example-${Date.now().toString(36)}`,
    distributionId: distribution.id,
    tariffId: tariff.id,
    memory: 1024,
    disk: 16384,
    cpu: 1,
    ipCount: 0,
    password: examplePassword(),
  });
  return installed.vm ?? (await s.call('vm_get', { vmId: installed.operation.vmId })).vm;
}

async function safeResize(
  s: Session,
  options: Record<string, string | boolean | undefined>,
): Promise<number> {
  const existing = intOption(options, 'vm');
  const vm = existing
    ? (await s.call('vm_get', { vmId: existing })).vm
    : await installVm(s, intOption(options, 'tenant'));
  const ours = existing === undefined;
  const vmId: number = vm.id;
  let failed = true;
  let snapshotId: number | undefined;
  try {
    const before = resourcesOf(vm);
    const target: Resources = {
      memory: intOption(options, 'memory') ?? Math.min(before.memory * 2, 16384),
      disk: intOption(options, 'disk') ?? before.disk + 8192,
      cpu: intOption(options, 'cpu') ?? Math.min(before.cpu + 1, 12),
    };
    say(`before: ${show(before)}`);
    say(`target: ${show(target)}`);

    const snap = await s.run('vm_snapshot_create', {
      vmId,
      name: `before-resize-${Date.now().toString(36)}`,
      description: `safe-resize example: ${show(before)}`,
    });
    snapshotId = snap.snapshot?.id ?? snap.vm?.currentSnapshot;
    if (snapshotId === undefined) throw new Error('the snapshot was taken but its id is unknown');
    say(`snapshot ${snapshotId} taken`);

    let resized: Json = vm;
    let stepError: string | undefined;
    try {
      if (target.memory !== before.memory) {
        const allowRestart = target.memory < before.memory ? { allowRestart: true } : {};
        resized =
          (await s.run('vm_memory_change', { vmId, memory: target.memory, ...allowRestart })).vm ?? resized;
      }
      if (target.disk > before.disk) {
        resized = (await s.run('vm_disk_change', { vmId, disk: target.disk })).vm ?? resized;
      } else if (target.disk < before.disk) say('disks never shrink: the disk stays as it is');
      if (target.cpu !== before.cpu) {
        resized = (await s.run('vm_cpu_change', { vmId, cpu: target.cpu })).vm ?? resized;
      }
      resized = (await s.call('vm_get', { vmId })).vm;
    } catch (err) {
      if (!(err instanceof ToolError)) throw err;
      stepError = err.text;
    }

    const check = stepError
      ? { ok: false, reasons: [`a resize step failed: ${stepError}`] }
      : checkResize(
          resized,
          { ...target, disk: Math.max(target.disk, before.disk) },
          options['fail-check'] === true,
        );
    say(`after:  ${show(resourcesOf(resized))}`);
    say(`check: ${check.ok ? 'PASSED' : `FAILED — ${check.reasons.join('; ')}`}`);

    if (check.ok) {
      console.log(`\n✓ resize kept: ${vmLine(resized)}`);
      failed = false;
      return 0;
    }
    const rolledBack = await s.run('vm_snapshot_rollback', { vmId, snapshotId });
    const now = resourcesOf(rolledBack.vm ?? (await s.call('vm_get', { vmId })).vm);
    const same = now.memory === before.memory && now.disk === before.disk && now.cpu === before.cpu;
    if (!same)
      throw new Error(
        `rolled back to snapshot ${snapshotId} but the VM has ${show(now)}, not ${show(before)}`,
      );
    console.log(`\n↺ rolled back to snapshot ${snapshotId}: ${show(now)}, as before the resize`);
    failed = false;
    return ROLLED_BACK;
  } finally {
    await cleanUp(failed, async () => {
      if (ours && options['keep'] !== true) {
        const deleted = await s.run('vm_delete', { vmId });
        say(`VM ${vmId} deleted with its snapshots (operation ${deleted.operationId} ${deleted.status})`);
        return;
      }
      if (snapshotId !== undefined) {
        await s.run('vm_snapshot_delete', { vmId, snapshotId });
        say(`snapshot ${snapshotId} deleted; VM ${vmId} stays`);
      }
    });
  }
}

runExample(
  {
    name: 'safe-resize',
    title: 'flops-mcp example: a safe resize',
    usage: USAGE,
    booleans: ['fail-check', 'keep'],
    strings: ['vm', 'memory', 'disk', 'cpu', 'tenant'],
  },
  async (session, args) => {
    if (args.options['vm'] !== undefined && args.options['keep'] === true)
      throw new UsageError('--keep is for a VM installed here; with --vm the VM always stays');
    return safeResize(session, args.options);
  },
);
