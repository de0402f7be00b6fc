/**
 * Example: provision a VM, with live progress.
 *
 * An agent reads the catalogs, picks a distribution (the newest 64-bit Ubuntu unless told) and the
 * smallest fixed Linux tariff (unless told), installs the VM with `wait: true` while the server's
 * progress notifications draw a progress bar, prints the VM, and deletes it again unless `--keep`.
 *
 *   npm run example:provision                                  # against the sandbox: nothing is real
 *   npm run example:provision -- --distribution debian --tariff "Облачный 1024" --keep
 *   npm run example:provision -- --time-scale 0.2              # unknown flags go to flops-mcp
 *
 * Against a real account (the VM is billed while it exists):
 *
 *   FLOPS_CLIENT_ID=… FLOPS_API_KEY=… [FLOPS_TENANT_ID=…] npm run example:provision -- --live
 *
 * Options: --keep (do not delete the VM), --distribution TEXT (matches the description or name),
 * --tariff NAME, --name NAME, --tenant ID, --live. The root password is FLOPS_EXAMPLE_PASSWORD if
 * set, else generated; it is never printed. Exit code 0 done, 1 failed, 2 bad usage.
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
  UsageError,
  vmLine,
} from './lib.js';

const USAGE = `usage: tsx examples/provision.ts [--keep] [--distribution TEXT] [--tariff NAME] [--name NAME] [--tenant ID] [--live] [flops-mcp options]`;

/** The tariff to install on: by name, else the smallest fixed Linux tariff. */
function pickTariff(tariffs: Json[], wanted: string | undefined): Json {
  if (wanted) {
    const lower = wanted.toLowerCase();
    const chosen =
      tariffs.find((t) => String(t.name).toLowerCase() === lower) ??
      tariffs.find((t) => String(t.name).toLowerCase().includes(lower));
    if (!chosen) throw new UsageError(`no tariff named "${wanted}" in tariff_list`);
    return chosen;
  }
  const fixed = tariffs.filter((t) => !t.onDemand && !t.forWindows).sort((a, b) => a.memory - b.memory);
  const chosen = fixed[0] ?? tariffs.find((t) => !t.forWindows);
  if (!chosen) throw new Error('tariff_list has no tariff for Linux');
  return chosen;
}

async function provision(s: Session, options: Record<string, string | boolean | undefined>): Promise<number> {
  const tenantId = intOption(options, 'tenant');
  const { distributions } = await s.call('distribution_list');
  const distribution = pickDistribution(distributions, options['distribution'] as string | undefined);
  say(`distribution: ${distribution.description} (id ${distribution.id})`);
  const { tariffs } = await s.call('tariff_list');
  const tariff = pickTariff(tariffs, options['tariff'] as string | undefined);
  // An onDemand tariff takes explicit resources; a fixed one brings its own.
  const resources = tariff.onDemand ? { memory: 1024, disk: 16384, cpu: 1, ipCount: 1 } : {};
  say(
    `tariff: "${tariff.name}" (id ${tariff.id}, ${tariff.onDemand ? 'onDemand: 1024 MB RAM, 16384 MB disk, 1 CPU, 1 IP' : `${tariff.memory} MB RAM, ${tariff.disk} MB disk, ${tariff.cpu} CPU`})`,
  );

  const name = (options['name'] as string | undefined) ?? `example-${Date.now().toString(36)}`;
  let vmId: number | undefined;
  let failed = true;
  try {
    const progressBefore = s.progressCount;
    const installed = await s
      .run('vm_install', {
        ...(tenantId ? { tenantId } : {}),
        name,
        distributionId: distribution.id,
        tariffId: tariff.id,
        ...resources,
        password: examplePassword(),
      })
      .catch((err: unknown) => {
        // An install that ended in ERROR may still have created the VM: clean it up too.
        vmId = (err as { data?: Json }).data?.['operation']?.vmId;
        throw err;
      });
    vmId = installed.vm?.id ?? installed.operation?.vmId;
    say(`${s.progressCount - progressBefore} progress notifications while installing`);
    const vm = installed.vm ?? (await s.call('vm_get', { vmId })).vm;
    say(`installed: ${vmLine(vm)}`);
    say(
      `distribution ${vm.distribution?.description ?? '?'}, tariff id ${vm.tariffId}, tenant ${vm.tenantId}`,
    );
    failed = false;
  } finally {
    await cleanUp(failed, async () => {
      if (vmId === undefined) return;
      if (failed || options['keep'] !== true) {
        const deleted = await s.run('vm_delete', { vmId });
        say(`VM ${vmId} deleted (operation ${deleted.operationId} ${deleted.status})`);
      } else say(`kept VM ${vmId} (--keep): delete it with vm_delete when done`);
    });
  }
  console.log('\n✓ provisioned');
  return 0;
}

runExample(
  {
    name: 'provision',
    title: 'flops-mcp example: provision a VM',
    usage: USAGE,
    booleans: ['keep'],
    strings: ['distribution', 'tariff', 'name', 'tenant'],
  },
  (session, args) => provision(session, args.options),
);
