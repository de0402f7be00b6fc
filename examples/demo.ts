/**
 * A scripted agent workflow: what an AI agent does through flops-mcp, step by step.
 *
 * It starts the built `flops-mcp --sandbox` over stdio with the MCP SDK's Client, reads the
 * catalogs, installs a VM by distribution name (with a live progress bar), snapshots it, resizes
 * it, adds an IP, rolls back to the snapshot and deletes the VM — printing every tool call.
 *
 *   npm run demo
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const tty = process.stdout.isTTY === true;
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);

// biome-ignore lint/suspicious/noExplicitAny: the demo reads loosely typed JSON results
type Json = Record<string, any>;

function bar(percent: number): string {
  const width = 30;
  const full = Math.round((percent / 100) * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${String(percent).padStart(3)}%`;
}

async function main(): Promise<void> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [cli, '--sandbox', ...process.argv.slice(2)],
    stderr: 'inherit',
  });
  const client = new Client({ name: 'flops-demo', version: '1.0.0' });
  await client.connect(transport);
  console.log(bold('flops-mcp demo — an agent managing a server through MCP (sandbox: nothing is real)\n'));

  async function call(name: string, args: Json = {}): Promise<Json> {
    // The demo's own password is shown masked, as a client should.
    const shown = 'password' in args ? { ...args, password: '***' } : args;
    console.log(`${bold('→')} ${name} ${dim(JSON.stringify(shown))}`);
    let lastLine = '';
    const result = (await client.callTool({ name, arguments: args }, undefined, {
      onprogress: (p) => {
        const line = `  ${bar(Math.round(p.progress))} ${dim(p.message ?? '')}`;
        if (tty) process.stdout.write(`\r${line}`);
        else if (line !== lastLine) console.log(line);
        lastLine = line;
      },
      timeout: 120_000,
    })) as CallToolResult;
    if (tty && lastLine) process.stdout.write('\n');
    const first = result.content[0];
    const text = first?.type === 'text' ? first.text : '';
    if (result.isError) throw new Error(`${name} failed: ${text}`);
    return JSON.parse(text) as Json;
  }
  const show = (line: string) => console.log(`  ${line}`);

  const { tenants } = await call('tenant_list');
  show(`${tenants.length} tenants: ${tenants.map((t: Json) => `${t.id} "${t.description}"`).join(', ')}`);
  const { distributions } = await call('distribution_list');
  show(
    `${distributions.length} distributions, e.g. ${distributions
      .slice(0, 3)
      .map((d: Json) => d.description)
      .join(', ')}`,
  );
  const { tariffs } = await call('tariff_list');
  const onDemand = tariffs.find((t: Json) => t.onDemand && !t.forWindows);
  show(`${tariffs.length} tariffs; pay-as-you-go: "${onDemand.name}"`);

  const tenantId = tenants[0].id;
  const installed = await call('vm_install', {
    tenantId,
    name: 'demo-web',
    distribution: 'ubuntu 14.04',
    tariff: onDemand.name,
    memory: 1024,
    disk: 16384,
    cpu: 1,
    ipCount: 1,
    password: 'Demo-Passw0rd',
    wait: true,
  });
  const vm = installed.vm;
  show(
    `VM ${vm.id} "${vm.name}" is ${vm.state}: ${vm.distribution.description}, ${vm.cpu} CPU, ${vm.memory} MB RAM, ${vm.disk} MB disk, IP ${vm.ipAddresses.join(', ')}`,
  );

  const snap = await call('vm_snapshot_create', { vmId: vm.id, name: 'before-resize', wait: true });
  show(`snapshot ${snap.snapshot.id} "${snap.snapshot.name}" taken`);

  const resized = await call('vm_memory_change', { vmId: vm.id, memory: 2048, wait: true });
  show(`memory is now ${resized.vm.memory} MB (tenantId was taken from the VM)`);

  const withIp = await call('vm_ip_add', { vmId: vm.id, wait: true });
  show(`IPs now: ${withIp.vm.ipAddresses.join(', ')}`);

  const rolledBack = await call('vm_snapshot_rollback', {
    vmId: vm.id,
    snapshotId: snap.snapshot.id,
    wait: true,
  });
  show(`rolled back to "${snap.snapshot.name}": memory ${rolledBack.vm.memory} MB`);

  const deleted = await call('vm_delete', { vmId: vm.id, wait: true });
  show(`VM ${vm.id} deleted (operation ${deleted.operationId} ${deleted.status})`);

  await client.close();
  console.log(bold('\nDone. Next: `npm test`, or add flops-mcp to your MCP client (see README).'));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
