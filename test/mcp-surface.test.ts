import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../src/api/operations.js';
import { DESTRUCTIVE_TOOLS, type Harness, harness } from './helpers.js';

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema & { description?: string }>;
  required?: string[];
  additionalProperties?: boolean;
  anyOf?: unknown;
  oneOf?: unknown;
};

/** The surface is the same whichever response shape the sandbox gives (docs/api.md, "Responses"). */
describe.each(['document', 'live'] as const)('tool surface (responses: %s)', (responses) => {
  let h: Harness;
  let tools: Awaited<ReturnType<Harness['mcp']['listTools']>>['tools'];
  beforeAll(async () => {
    h = await harness({ sandbox: { responses } });
    tools = (await h.mcp.listTools()).tools;
  });
  afterAll(() => h.close());

  it('lists the 38 API tools in table order plus wait_for_operation', () => {
    expect(tools.map((t) => t.name)).toEqual([...OPERATIONS.map((o) => o.tool), 'wait_for_operation']);
  });

  it('gives every tool a title, a description and all four annotations', () => {
    for (const tool of tools) {
      expect(tool.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description?.length, tool.name).toBeGreaterThan(30);
      const a = tool.annotations ?? {};
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof a[hint], `${tool.name}.${hint}`).toBe('boolean');
      }
    }
  });

  it('marks reads read-only and exactly the documented tools destructive', () => {
    expect(tools.filter((t) => t.annotations?.destructiveHint).map((t) => t.name)).toEqual(DESTRUCTIVE_TOOLS);
    const reads = tools.filter((t) => t.annotations?.readOnlyHint).map((t) => t.name);
    expect(reads).toEqual([
      'tenant_list',
      'vm_list',
      'vm_get',
      'vm_snapshot_list',
      'vm_backup_list',
      'pubkey_list',
      'operation_get',
      'distribution_list',
      'software_list',
      'tariff_list',
      'wait_for_operation',
    ]);
    for (const t of tools) if (t.annotations?.readOnlyHint) expect(t.annotations.destructiveHint).toBe(false);
  });

  it('has strict object schemas whose every field is described, and no top-level unions', () => {
    for (const tool of tools) {
      const schema = tool.inputSchema as JsonSchema;
      expect(schema.type, tool.name).toBe('object');
      expect(schema.additionalProperties, tool.name).toBe(false);
      expect(schema.anyOf ?? schema.oneOf, tool.name).toBeUndefined();
      for (const [field, prop] of Object.entries(schema.properties ?? {})) {
        expect(prop.description, `${tool.name}.${field}`).toBeTruthy();
      }
    }
  });

  it('makes tenantId optional everywhere and offers wait on asynchronous tools only', () => {
    for (const tool of tools) {
      const schema = tool.inputSchema as JsonSchema;
      expect(schema.required ?? [], tool.name).not.toContain('tenantId');
      const row = OPERATIONS.find((o) => o.tool === tool.name);
      const async = row?.returns === 'operation' || row?.returns === 'created';
      expect('wait' in (schema.properties ?? {}), tool.name).toBe(async);
    }
    const install = tools.find((t) => t.name === 'vm_install')!.inputSchema as JsonSchema;
    expect(Object.keys(install.properties ?? {})).toEqual(
      expect.arrayContaining(['distribution', 'bitness', 'tariff']),
    );
  });

  it('matches the recorded tool surface snapshot', async () => {
    await expect(JSON.stringify(tools, null, 2)).toMatchFileSnapshot('__snapshots__/tools.json');
  });

  it('keeps tools/list small', () => {
    const bytes = Buffer.byteLength(JSON.stringify({ tools }));
    // A guard against growth (26.4 KB for the 39 tools); `npm run bench` reports the exact figure.
    expect(bytes).toBeLessThan(27 * 1024);
  });

  it('lists resources and templates', async () => {
    const resources = (await h.mcp.listResources()).resources.map((r) => r.uri);
    expect(resources).toEqual(
      expect.arrayContaining([
        'flops://tenants',
        'flops://vms',
        'flops://distributions',
        'flops://tariffs',
        'flops://software',
        'flops://pubkeys',
        'flops://vms/85561',
      ]),
    );
    const templates = (await h.mcp.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toEqual([
      'flops://vms/{vmId}',
      'flops://vms/{vmId}/snapshots',
      'flops://vms/{vmId}/backups',
      'flops://operations/{operationId}',
    ]);
  });

  it('reads resources and completes vmId', async () => {
    const vm = await h.mcp.readResource({ uri: 'flops://vms/85561' });
    const first = vm.contents[0] as { text: string; mimeType: string };
    expect(first.mimeType).toBe('application/json');
    expect(JSON.parse(first.text)).toMatchObject({ id: 85561, name: 'ubuntu' });
    const snaps = await h.mcp.readResource({ uri: 'flops://vms/85561/snapshots' });
    expect(JSON.parse((snaps.contents[0] as { text: string }).text)).toMatchObject([{ id: 2206 }]);
    const tariffs = await h.mcp.readResource({ uri: 'flops://tariffs' });
    expect(JSON.parse((tariffs.contents[0] as { text: string }).text).length).toBeGreaterThanOrEqual(13);
    const completion = await h.mcp.complete({
      ref: { type: 'ref/resource', uri: 'flops://vms/{vmId}' },
      argument: { name: 'vmId', value: '855' },
    });
    expect(completion.completion.values).toEqual(expect.arrayContaining(['85561']));
    await expect(h.mcp.readResource({ uri: 'flops://vms/999999' })).rejects.toThrow(/not found|error\.vm/i);
  });

  it('notifies subscribers when a write changes a VM', async () => {
    const updated: string[] = [];
    h.mcp.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
    await h.mcp.subscribeResource({ uri: 'flops://vms/85561' });
    await h.mcp.subscribeResource({ uri: 'flops://vms/88534' });
    const r = await h.mcp.callTool({
      name: 'vm_rename',
      arguments: { vmId: 85561, name: 'ubuntu', wait: true },
    });
    expect(r.isError).toBeFalsy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(updated).toEqual(['flops://vms/85561']);
    await h.mcp.unsubscribeResource({ uri: 'flops://vms/85561' });
    await h.mcp.callTool({ name: 'vm_rename', arguments: { vmId: 85561, name: 'ubuntu', wait: true } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(updated).toHaveLength(1);
  });

  it('offers prompts for the common workflows, with completion from live data', async () => {
    const prompts = (await h.mcp.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toEqual(['deploy_server', 'resize_safely', 'restore_from_backup']);
    const deploy = await h.mcp.getPrompt({
      name: 'deploy_server',
      arguments: { distribution: 'debian', name: 'web' },
    });
    const body = (deploy.messages[0]!.content as { text: string }).text;
    expect(body).toMatch(/vm_install with distribution "debian".*name "web"/s);
    const resize = await h.mcp.getPrompt({
      name: 'resize_safely',
      arguments: { vm: '85561', memory: '1024' },
    });
    expect((resize.messages[0]!.content as { text: string }).text).toMatch(
      /vm_memory_change.*vm_snapshot_create.*vm_snapshot_rollback/s,
    );
    const complete = (name: string, argument: string, value: string) =>
      h.mcp.complete({ ref: { type: 'ref/prompt', name }, argument: { name: argument, value } });
    expect((await complete('resize_safely', 'vm', '855')).completion.values).toEqual(['85561']);
    expect((await complete('restore_from_backup', 'vm', 'ubu')).completion.values).toEqual(['ubuntu']);
    expect((await complete('deploy_server', 'distribution', 'deb')).completion.values).toEqual(
      expect.arrayContaining(['Debian 7.6 x64', 'debian']),
    );
    expect((await complete('deploy_server', 'tariff', 'Облачный 10')).completion.values).toContain(
      'Облачный 1024',
    );
    await expect(h.mcp.getPrompt({ name: 'deploy_server', arguments: {} })).rejects.toThrow(/distribution/);
  });

  it('answers an unknown tool with a protocol error', async () => {
    await expect(h.mcp.callTool({ name: 'vm_explode', arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  it('says in its instructions that it is a sandbox and how to chain calls', () => {
    const text = h.mcp.getInstructions() ?? '';
    expect(text).toMatch(/SANDBOX/);
    expect(text).toMatch(/wait_for_operation/);
  });
});
