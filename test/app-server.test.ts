/**
 * The fleet dashboard's server side (src/mcp/app.ts), without a browser: what a client with and
 * without the MCP Apps extension is offered, the app-only tool, the resource, and the built file
 * found from the built CLI and in the npm tarball. The view itself is tested in app-view.test.ts.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_URI, UI_EXTENSION, UI_MIME_TYPE } from '../src/mcp/app.js';
import { megabytes, operationLabel, sortVms, stateLabel, type VmRow } from '../src/ui/format.js';
import { type Harness, harness, json, text } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const APP_CAPABILITIES = { extensions: { [UI_EXTENSION]: { mimeTypes: [UI_MIME_TYPE] } } };
const bytes = (tools: Tool[]) => Buffer.byteLength(JSON.stringify({ tools }));
const withoutMeta = (tools: Tool[]) => tools.map(({ _meta, ...rest }) => rest);

describe('a client without the MCP Apps extension', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(() => h.close());

  it('gets tools/list byte for byte as recorded before the dashboard', async () => {
    const { tools } = await h.mcp.listTools();
    const recorded = readFileSync(`${root}test/__snapshots__/tools.json`, 'utf8');
    expect(JSON.stringify(tools, null, 2)).toBe(recorded);
    expect(tools.some((t) => t._meta !== undefined)).toBe(false);
    expect(tools.map((t) => t.name)).not.toContain('fleet_status');
  });

  it('is offered neither the app-only tool nor the dashboard resource', async () => {
    await expect(h.mcp.callTool({ name: 'fleet_status', arguments: {} })).rejects.toThrow(/Unknown tool/);
    const uris = (await h.mcp.listResources()).resources.map((r) => r.uri);
    expect(uris.filter((u) => u.startsWith('ui://'))).toEqual([]);
    await expect(h.mcp.readResource({ uri: FLEET_URI })).rejects.toThrow();
  });
});

describe('a client with the MCP Apps extension', () => {
  let h: Harness;
  let plain: Harness;
  let tools: Tool[];
  let plainTools: Tool[];
  beforeAll(async () => {
    [h, plain] = await Promise.all([harness({ capabilities: APP_CAPABILITIES }), harness()]);
    tools = (await h.mcp.listTools()).tools;
    plainTools = (await plain.mcp.listTools()).tools;
  });
  afterAll(async () => {
    await h.close();
    await plain.close();
  });

  it('sees the server declare the extension', () => {
    expect(h.mcp.getServerCapabilities()?.extensions?.[UI_EXTENSION]).toEqual({});
  });

  it('gets the same tools with links to the dashboard, and the app-only tool last', () => {
    expect(withoutMeta(tools.slice(0, -1))).toEqual(plainTools);
    const linked = (name: string) => tools.find((t) => t.name === name)?._meta;
    for (const name of ['vm_list', 'vm_get', 'wait_for_operation']) {
      expect(linked(name), name).toEqual({ ui: { resourceUri: FLEET_URI }, 'ui/resourceUri': FLEET_URI });
    }
    for (const name of ['vm_install', 'vm_start', 'vm_reboot', 'vm_snapshot_create', 'vm_delete']) {
      expect(linked(name), name).toEqual({ ui: { resourceUri: FLEET_URI } });
    }
    for (const name of ['tenant_list', 'tariff_list', 'operation_get', 'vm_snapshot_list']) {
      expect(linked(name), name).toBeUndefined();
    }
    const fleet = tools.at(-1)!;
    expect(fleet.name).toBe('fleet_status');
    expect(fleet._meta).toEqual({ ui: { visibility: ['app'] } });
    expect(fleet.annotations).toEqual({
      readOnlyHint: true,
      destructiveHint: false,
      idempotentHint: true,
      openWorldHint: true,
    });
    expect(fleet.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
    expect(fleet.description!.length).toBeGreaterThan(30);
  });

  it('pays a small, bounded price in tools/list for the dashboard', () => {
    const added = bytes(tools) - bytes(plainTools);
    // Links on 31 tools and one tool; the figure is in the report of the dashboard's change.
    expect(added).toBeLessThan(2400);
  });

  it('gets the same results as any client', async () => {
    for (const [name, args] of [
      ['vm_list', {}],
      ['vm_get', { vmId: 85561 }],
    ] as const) {
      const [a, b] = await Promise.all([h.call(name, args), plain.call(name, args)]);
      expect(text(a)).toBe(text(b));
    }
  });

  it('reads the dashboard: one self-contained HTML file that loads nothing from the network', async () => {
    const listed = (await h.mcp.listResources()).resources.find((r) => r.uri === FLEET_URI);
    expect(listed).toMatchObject({ mimeType: UI_MIME_TYPE, name: 'fleet-dashboard' });
    const read = await h.mcp.readResource({ uri: FLEET_URI });
    const content = read.contents[0] as { uri: string; mimeType: string; text: string; _meta?: unknown };
    expect(content.uri).toBe(FLEET_URI);
    expect(content.mimeType).toBe(UI_MIME_TYPE);
    expect(content.text).toMatch(/^<!doctype html>/i);
    expect(content.text).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/(?!www\.w3\.org)/i);
    expect(Buffer.byteLength(content.text)).toBeLessThan(40 * 1024);
  });

  it('reports the fleet and the operations this session started, read-only and trimmed', async () => {
    const started = json(await h.call('vm_snapshot_create', { vmId: 85662, name: 'app-test' }));
    const result = await h.call('fleet_status');
    expect(result.isError).toBeFalsy();
    const data = result.structuredContent as {
      vms: Record<string, unknown>[];
      operations: { id: number; status: string; vmId: number }[];
      actions: string[];
      tariffs: Record<string, string>;
      tenants: Record<string, string>;
    };
    expect(data.vms.map((vm) => vm['id'])).toEqual(
      expect.arrayContaining([85561, 85662, 88534].map((id) => id)),
    );
    expect(Object.keys(data.vms[0]!).sort()).toEqual(
      [
        'cpu',
        'disk',
        'distribution',
        'id',
        'ipAddresses',
        'memory',
        'name',
        'privateIpAddress',
        'state',
        'tariffId',
        'tenantId',
      ].sort(),
    );
    expect(data.operations).toEqual([
      expect.objectContaining({
        id: started['operationId'],
        vmId: 85662,
        operationType: 'VM_CREATE_SNAPSHOT',
      }),
    ]);
    expect(data.actions).toEqual(['vm_start', 'vm_shutdown', 'vm_reboot', 'vm_snapshot_create']);
    expect(data.tenants['111']).toBe('Examples');
    // Operations it names (from a tool result) are reported too; one that does not exist says so.
    const named = await h.call('fleet_status', { operationIds: [61625, 999999] });
    const ops = (named.structuredContent as typeof data).operations;
    expect(ops.find((o) => o.id === 61625)).toMatchObject({ vmId: expect.any(Number) });
    expect(ops.find((o) => o.id === 999999)).toMatchObject({ status: 'UNKNOWN' });
  });

  it('refuses bad input to the app-only tool like any tool', async () => {
    const bad = await h.call('fleet_status', { vmId: 1 });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toMatch(/vmId: unknown argument/);
    const big = await h.call('fleet_status', { operationIds: Array.from({ length: 21 }, (_, i) => i + 1) });
    expect(big.isError).toBe(true);
  });
});

describe('the dashboard follows the server configuration', () => {
  it('offers no buttons in read-only mode', async () => {
    const h = await harness({ capabilities: APP_CAPABILITIES, server: { selection: { readOnly: true } } });
    try {
      const data = (await h.call('fleet_status')).structuredContent as { actions: string[] };
      expect(data.actions).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('is not offered when no linked tool is enabled', async () => {
    const h = await harness({
      capabilities: APP_CAPABILITIES,
      server: { selection: { toolsets: ['catalog'] } },
    });
    try {
      const { tools } = await h.mcp.listTools();
      expect(tools.some((t) => t._meta !== undefined || t.name === 'fleet_status')).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('is offered in stateless HTTP mode, where the client capabilities are unknown', async () => {
    const h = await harness({ server: { stateless: true } });
    try {
      const { tools } = await h.mcp.listTools();
      expect(tools.at(-1)?.name).toBe('fleet_status');
      expect(tools.find((t) => t.name === 'vm_list')?._meta).toBeDefined();
      expect((await h.call('fleet_status')).isError).toBeFalsy();
    } finally {
      await h.close();
    }
  });
});

describe('the built dashboard file', () => {
  it('is found by the built CLI over stdio', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [`${root}dist/cli.cjs`, '--sandbox', '--time-scale', '0.05'],
      env: Object.fromEntries(
        Object.entries(process.env).filter(([k, v]) => !k.startsWith('FLOPS_') && v !== undefined),
      ) as Record<string, string>,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'app-test', version: '1.0.0' }, { capabilities: APP_CAPABILITIES });
    await client.connect(transport);
    try {
      const read = await client.readResource({ uri: FLEET_URI });
      expect((read.contents[0] as { text: string }).text).toMatch(/^<!doctype html>/i);
      const vmList = (await client.listTools()).tools.find((t) => t.name === 'vm_list');
      expect(vmList?._meta).toMatchObject({ ui: { resourceUri: FLEET_URI } });
    } finally {
      await client.close();
    }
  });

  it('is in the npm package', async () => {
    const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
    });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/ui/fleet.html');
    expect(files.filter((f) => f.startsWith('src/'))).toEqual([]);
  });
});

describe('the view formats', () => {
  it('shows sizes in human units', () => {
    expect([512, 1024, 1536, 16384, 32768, 524288, 2097152, null].map(megabytes)).toEqual([
      '512 MB',
      '1 GB',
      '1.5 GB',
      '16 GB',
      '32 GB',
      '512 GB',
      '2 TB',
      '—',
    ]);
  });

  it('names states and operations', () => {
    expect(stateLabel('VIR_DOMAIN_RUNNING')).toEqual({ text: 'Running', tone: 'success' });
    expect(stateLabel('VIR_DOMAIN_SHUTOFF')).toEqual({ text: 'Stopped', tone: 'neutral' });
    expect(stateLabel('VIR_DOMAIN_PMSUSPENDED').text).toBe('Pmsuspended');
    expect(stateLabel(null).text).toBe('Unknown');
    expect(operationLabel('VM_CREATE_SNAPSHOT')).toBe('Create snapshot');
    expect(operationLabel('VM_INSTALL')).toBe('Install');
  });

  it('sorts addresses by number and sizes as numbers', () => {
    const vm = (id: number, ip: string, memory: number): VmRow => ({
      id,
      name: `vm${id}`,
      tenantId: 1,
      state: null,
      cpu: 1,
      memory,
      disk: 1,
      ipAddresses: [ip],
      privateIpAddress: null,
      tariffId: null,
      distribution: null,
    });
    const vms = [vm(1, '10.0.0.10', 2048), vm(2, '10.0.0.9', 512), vm(3, '9.1.1.1', 16384)];
    const ctx = { tariffs: {}, ops: () => undefined };
    expect(sortVms(vms, 'address', 1, ctx).map((v) => v.id)).toEqual([3, 2, 1]);
    expect(sortVms(vms, 'memory', -1, ctx).map((v) => v.id)).toEqual([3, 1, 2]);
  });
});
