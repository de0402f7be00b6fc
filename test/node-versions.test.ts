/**
 * Smoke run of the built CLI on the newer Node lines (22 and 24, from the npm registry's `node`
 * package, installed by scripts/extra-tools.sh): start over stdio, open each generation of the
 * protocol (server/discover with the v2 Client in auto mode, initialize with the 1.x Client), list
 * the tools and call one.
 */
import { existsSync } from 'node:fs';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2Stdio } from '@modelcontextprotocol/client/stdio';
import { Client as V1Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as V1Stdio } from '@modelcontextprotocol/sdk/client/stdio.js';
import { describe, expect, it } from 'vitest';
import { cleanEnv, cli, extraNode, requireExternal } from './process-helpers.js';

const lines = ([22, 24] as const).map((major) => ({ major, node: extraNode(major) }));
const present = requireExternal(
  'Node 22 and 24',
  lines.every((l) => existsSync(l.node)),
  '`bash scripts/extra-tools.sh`',
);

const vmName = (result: unknown) =>
  ((result as { structuredContent?: { vm?: { name?: string } } }).structuredContent?.vm?.name ??
    '') as string;

describe.skipIf(!present).each(lines)('on Node $major', ({ node }) => {
  const params = { command: node, args: [cli, '--sandbox'], env: cleanEnv, stderr: 'ignore' as const };

  it('serves 2026-07-28 (server/discover) and a tool call', { timeout: 30_000 }, async () => {
    const client = new V2Client({ name: 'smoke', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new V2Stdio(params));
    expect(client.getProtocolEra()).toBe('modern');
    expect((await client.listTools()).tools).toHaveLength(39);
    expect(vmName(await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } }))).toBe('ubuntu');
    await client.close();
  });

  it('serves 2025 (initialize) and a tool call', { timeout: 30_000 }, async () => {
    const client = new V1Client({ name: 'smoke', version: '1' });
    await client.connect(new V1Stdio(params));
    expect(client.getServerVersion()?.name).toBe('flops-mcp');
    expect((await client.listTools()).tools).toHaveLength(39);
    expect(vmName(await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } }))).toBe('ubuntu');
    await client.close();
  });
});
