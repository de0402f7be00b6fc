/**
 * The built CLI, as a user or an MCP client runs it: `node dist/cli.cjs` over stdio.
 * `npm test` builds first.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { extraNode, requireExternal } from './process-helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli.cjs`;
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FLOPS_')));

async function exitOf(args: string[], env: NodeJS.ProcessEnv = cleanEnv) {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('flops-mcp CLI', () => {
  it('exits 2 without credentials and names the variables and --sandbox', async () => {
    const { code, stdout, stderr } = await exitOf([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/FLOPS_CLIENT_ID/);
    expect(stderr).toMatch(/FLOPS_API_KEY/);
    expect(stderr).toMatch(/--sandbox/);
  });

  it('prints help and version', async () => {
    const help = await exitOf(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--sandbox/);
    const version = await exitOf(['--version']);
    expect(version.stdout.trim()).toBe(pkg.version);
    const bad = await exitOf(['--no-such-flag']);
    expect(bad.code).toBe(2);
  });

  it('serves MCP over stdio against the in-process sandbox', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [cli, '--sandbox', '--time-scale', '0.05'],
      env: { ...cleanEnv, FLOPS_LOG_LEVEL: 'info' } as Record<string, string>,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect(client.getInstructions()).toMatch(/SANDBOX/);
      const tools = (await client.listTools()).tools;
      expect(tools).toHaveLength(39);
      const vm = await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
      expect(JSON.parse((vm.content as { text: string }[])[0]!.text).vm.name).toBe('ubuntu');
      const installed = await client.callTool({
        name: 'vm_install',
        arguments: {
          tenantId: 111,
          distribution: 'debian',
          tariff: 'Облачный 512',
          password: 'Secret-pass1',
          wait: true,
        },
      });
      expect(installed.isError).toBeFalsy();
      expect(stderr).toMatch(/SANDBOX MODE/);
      expect(stderr).not.toContain('Secret-pass1');
    } finally {
      await client.close();
    }
  });

  it('serves from dist/cli.js too, the path the bin had before it became dist/cli.cjs', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [`${root}dist/cli.js`, '--sandbox'],
      env: cleanEnv as Record<string, string>,
      stderr: 'ignore',
    });
    const client = new Client({ name: 'cli-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.version).toBe(pkg.version);
      const vm = await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
      expect(JSON.parse((vm.content as { text: string }[])[0]!.text).vm.name).toBe('ubuntu');
    } finally {
      await client.close();
    }
    expect(pkg.bin['flops-mcp']).toBe('dist/cli.cjs');
  });

  it('ends when stdin closes', async () => {
    const child = spawn(process.execPath, [cli, '--sandbox'], {
      env: cleanEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    await new Promise((resolve) => child.stderr.once('data', resolve));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.stdin.end();
    expect(await exited).toBe(0);
  });

  // The Inspector needs Node >= 22: scripts/extra-tools.sh installs it beside Node 22 in .tools/.
  const inspector = `${root}.tools/node22/node_modules/@modelcontextprotocol/inspector/cli/build/cli.js`;
  const node22 = extraNode(22);
  const inspectorPresent = requireExternal(
    'The MCP Inspector on Node 22',
    existsSync(inspector) && existsSync(node22),
    '`bash scripts/extra-tools.sh`',
  );

  it.skipIf(!inspectorPresent)('works with the MCP Inspector CLI (on Node 22)', async () => {
    const list = await run(
      node22,
      [inspector, '--cli', process.execPath, cli, '--sandbox', '--method', 'tools/list'],
      {
        env: cleanEnv,
      },
    );
    const tools = (JSON.parse(list.stdout) as { tools: { name: string }[] }).tools;
    expect(tools.map((t) => t.name)).toContain('wait_for_operation');
    expect(tools).toHaveLength(39);
    const call = await run(
      node22,
      [
        inspector,
        '--cli',
        process.execPath,
        cli,
        '--sandbox',
        '--method',
        'tools/call',
        '--tool-name',
        'vm_get',
        '--tool-arg',
        'vmId=85561',
      ],
      { env: cleanEnv },
    );
    const result = JSON.parse(call.stdout) as { content: { text: string }[] };
    expect(JSON.parse(result.content[0]!.text).vm.id).toBe(85561);
    const resource = await run(
      node22,
      [
        inspector,
        '--cli',
        process.execPath,
        cli,
        '--sandbox',
        '--method',
        'resources/read',
        '--uri',
        'flops://tariffs',
      ],
      { env: cleanEnv },
    );
    expect(resource.stdout).toContain('Облачный 512');
  });
});
