/**
 * A scripted agent workflow: what an AI agent does through flops-mcp, step by step.
 *
 * It starts the built `flops-mcp --sandbox` over stdio with the MCP SDK's Client, reads the
 * catalogs, installs a VM by distribution name (with a live progress bar), snapshots it, resizes
 * it, adds an IP, rolls back to the snapshot and deletes the VM — printing every tool call and a
 * readable result.
 *
 *   npm run demo                     against the sandbox (nothing is real)
 *   npm run demo -- --time-scale 0.2 faster sandbox operations (passed on to flops-mcp)
 */
import { bold, type Json, runExample, say } from './lib.js';

runExample(
  {
    name: 'demo',
    title: 'flops-mcp demo — an agent managing a server through MCP',
    usage: 'npm run demo [-- flops-mcp options such as --time-scale 0.2]',
  },
  async (session) => {
    const { tenants } = await session.call('tenant_list');
    say(`tenants: ${tenants.map((t: Json) => `${t.id} "${t.description}"`).join(', ')}`);
    const { distributions } = await session.call('distribution_list');
    say(
      `e.g. ${distributions
        .slice(0, 3)
        .map((d: Json) => d.description)
        .join(', ')}`,
    );
    const { tariffs } = await session.call('tariff_list');
    const onDemand = tariffs.find((t: Json) => t.onDemand && !t.forWindows);
    say(`pay-as-you-go tariff: "${onDemand.name}"`);

    const { vm } = await session.run('vm_install', {
      tenantId: tenants[0].id,
      name: 'demo-web',
      distribution: 'ubuntu 14.04',
      tariff: onDemand.name,
      memory: 1024,
      disk: 16384,
      cpu: 1,
      ipCount: 1,
      password: 'Demo-Passw0rd',
    });
    say(`installed by distribution name: ${vm.distribution.description}`);

    const { snapshot } = await session.run('vm_snapshot_create', { vmId: vm.id, name: 'before-resize' });
    const resized = await session.run('vm_memory_change', { vmId: vm.id, memory: 2048 });
    say(`memory is now ${resized.vm.memory} MB (tenantId was taken from the VM)`);
    await session.run('vm_ip_add', { vmId: vm.id });
    const rolledBack = await session.run('vm_snapshot_rollback', { vmId: vm.id, snapshotId: snapshot.id });
    say(`rolled back to "${snapshot.name}": memory ${rolledBack.vm.memory} MB again`);
    await session.run('vm_delete', { vmId: vm.id });

    console.log(bold('\nDone. Next: `npm test`, or add flops-mcp to your MCP client (see README).'));
    return 0;
  },
);
