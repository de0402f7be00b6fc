import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../src/api/operations.js';
import { MAX_SUBSCRIPTIONS } from '../src/mcp/resources.js';
import { buildToolSpecs } from '../src/mcp/tools.js';
import { DESTRUCTIVE_TOOLS, type Harness, harness, modernHarness, type V2Client } from './helpers.js';

/** What both clients offer the way these tests use it. */
type SurfaceClient = Pick<
  V2Client,
  | 'listTools'
  | 'callTool'
  | 'complete'
  | 'getInstructions'
  | 'getPrompt'
  | 'listPrompts'
  | 'listResources'
  | 'listResourceTemplates'
  | 'readResource'
>;

/** The surface as each generation of client sees it: nothing a 2025 client sees may differ. */
const CLIENTS = [
  {
    client: 'the 2025 Client (SDK 1.x, in memory)',
    era: '2025' as const,
    start: async (responses: 'document' | 'live') => {
      const h = await harness({ sandbox: { responses } });
      return { h, mcp: h.mcp as unknown as SurfaceClient };
    },
  },
  {
    client: 'the v2 Client in auto mode (2026-07-28 over HTTP)',
    era: '2026' as const,
    start: async (responses: 'document' | 'live') => {
      const h = await modernHarness({ sandbox: { responses } });
      return { h, mcp: h.mcp as SurfaceClient };
    },
  },
];

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema & { description?: string }>;
  required?: string[];
  additionalProperties?: boolean;
  anyOf?: unknown;
  oneOf?: unknown;
};

/**
 * The surface is the same for both generations of client, and whichever response shape the
 * sandbox gives (docs/api.md, "Responses").
 */
describe.each(
  CLIENTS.flatMap((c) => (['document', 'live'] as const).map((responses) => ({ ...c, responses }))),
)('tool surface, $client, responses: $responses', ({ era, start, responses }) => {
  let h: Omit<Harness, 'mcp'> & { mcp: unknown };
  let mcp: SurfaceClient;
  let tools: Awaited<ReturnType<SurfaceClient['listTools']>>['tools'];
  beforeAll(async () => {
    ({ h, mcp } = await start(responses));
    tools = (await mcp.listTools()).tools;
  });
  afterAll(() => h.close());

  it('lists the 38 API tools in table order plus wait_for_operation', () => {
    expect(tools.map((t) => t.name)).toEqual([...OPERATIONS.map((o) => o.tool), 'wait_for_operation']);
  });

  it('gives every tool a title, a description and its annotations, the defaults as the spec sets them', () => {
    for (const tool of tools) {
      expect(tool.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description?.length, tool.name).toBeGreaterThan(30);
      const a = tool.annotations ?? {};
      // A read says so alone; a write always says whether it destroys.
      if (a.readOnlyHint) expect(Object.keys(a), tool.name).toEqual(['readOnlyHint']);
      else expect(typeof a.destructiveHint, tool.name).toBe('boolean');
      // What a client reads, with the spec's defaults, is what the table says.
      const spec = buildToolSpecs().find((t) => t.name === tool.name)!;
      const read = a.readOnlyHint ?? false;
      expect(
        {
          readOnlyHint: read,
          destructiveHint: read ? false : (a.destructiveHint ?? true),
          idempotentHint: read ? true : (a.idempotentHint ?? false),
          openWorldHint: a.openWorldHint ?? true,
        },
        tool.name,
      ).toEqual(spec.annotations);
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
    for (const t of tools)
      if (t.annotations?.readOnlyHint) expect(t.annotations.destructiveHint).toBeUndefined();
  });

  it('has strict object schemas whose every field is described but the shared ones the instructions explain, and no top-level unions', async () => {
    const shared = ['vmId', 'tenantId', 'wait', 'dryRun'];
    for (const tool of tools) {
      const schema = tool.inputSchema as JsonSchema;
      expect(schema.type, tool.name).toBe('object');
      expect(schema.additionalProperties, tool.name).toBe(false);
      expect(schema.anyOf ?? schema.oneOf, tool.name).toBeUndefined();
      for (const [field, prop] of Object.entries(schema.properties ?? {})) {
        if (!shared.includes(field)) expect(prop.description, `${tool.name}.${field}`).toBeTruthy();
      }
    }
    const instructions = mcp.getInstructions() ?? '';
    expect(instructions).toMatch(/pass wait: true, which waits up to 45 s/);
    expect(instructions).toMatch(/dryRun: true to preview/);
    expect(instructions).toMatch(/tenantId is optional: VM and SSH key tools take the VM's or the key's/);
    expect(instructions).toMatch(/Ids come from the list tools: tenant_list, vm_list/);
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
    const withoutOutput = Buffer.byteLength(
      JSON.stringify({ tools: tools.map(({ outputSchema: _, ...t }) => t) }),
    );
    // The benchmark's target: at most 558 B a tool without output schemas (547 now); with them
    // 33.1 KB for the 39 tools. `npm run bench` reports the exact figures per toolset.
    expect(withoutOutput / tools.length).toBeLessThanOrEqual(558);
    expect(bytes).toBeLessThan(34 * 1024);
  });

  it('declares an output schema on every tool, which its results satisfy (the clients validate)', () => {
    for (const tool of tools) {
      expect(tool.outputSchema?.type, tool.name).toBe('object');
    }
  });

  it('lists resources and templates', async () => {
    const resources = (await mcp.listResources()).resources.map((r) => r.uri);
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
    const templates = (await mcp.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toEqual([
      'flops://vms/{vmId}',
      'flops://vms/{vmId}/snapshots',
      'flops://vms/{vmId}/backups',
      'flops://operations/{operationId}',
    ]);
  });

  it('reads resources and completes vmId', async () => {
    const vm = await mcp.readResource({ uri: 'flops://vms/85561' });
    const first = vm.contents[0] as { text: string; mimeType: string };
    expect(first.mimeType).toBe('application/json');
    expect(JSON.parse(first.text)).toMatchObject({ id: 85561, name: 'ubuntu' });
    const snaps = await mcp.readResource({ uri: 'flops://vms/85561/snapshots' });
    expect(JSON.parse((snaps.contents[0] as { text: string }).text)).toMatchObject([{ id: 2206 }]);
    const tariffs = await mcp.readResource({ uri: 'flops://tariffs' });
    expect(JSON.parse((tariffs.contents[0] as { text: string }).text).length).toBeGreaterThanOrEqual(13);
    const completion = await mcp.complete({
      ref: { type: 'ref/resource', uri: 'flops://vms/{vmId}' },
      argument: { name: 'vmId', value: '855' },
    });
    expect(completion.completion.values).toEqual(expect.arrayContaining(['85561']));
    await expect(mcp.readResource({ uri: 'flops://vms/999999' })).rejects.toThrow(/not found|error\.vm/i);
  });

  it.runIf(era === '2025')(
    'notifies subscribers when a write changes a VM (resources/subscribe)',
    async () => {
      const v1 = (h as Harness).mcp;
      const updated: string[] = [];
      v1.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
      await v1.subscribeResource({ uri: 'flops://vms/85561' });
      await v1.subscribeResource({ uri: 'flops://vms/88534' });
      const r = await v1.callTool({
        name: 'vm_rename',
        arguments: { vmId: 85561, name: 'ubuntu', wait: true },
      });
      expect(r.isError).toBeFalsy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(updated).toEqual(['flops://vms/85561']);
      await v1.unsubscribeResource({ uri: 'flops://vms/85561' });
      await v1.callTool({ name: 'vm_rename', arguments: { vmId: 85561, name: 'ubuntu', wait: true } });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(updated).toHaveLength(1);
    },
  );

  it.runIf(era === '2025')(
    'takes subscriptions to its own resources only, and a bounded number',
    async () => {
      const v1 = (h as Harness).mcp;
      for (const uri of ['test://watched', `flops://vms/${'9'.repeat(1_000_000)}`, 'flops://vms/0x159d6']) {
        await expect(v1.subscribeResource({ uri }), uri.slice(0, 20)).rejects.toThrow(
          /not a resource of this server/,
        );
      }
      for (let i = 1; i < MAX_SUBSCRIPTIONS; i++) await v1.subscribeResource({ uri: `flops://vms/${i}` });
      await expect(v1.subscribeResource({ uri: 'flops://vms/999999' })).rejects.toThrow(
        /Too many subscriptions/,
      );
      // Subscribing again to a URI already held is not a new one; unsubscribing makes room.
      await v1.subscribeResource({ uri: 'flops://vms/1' });
      await v1.unsubscribeResource({ uri: 'flops://vms/1' });
      await v1.subscribeResource({ uri: 'flops://vms/999999' });
      for (let i = 2; i < MAX_SUBSCRIPTIONS; i++) await v1.unsubscribeResource({ uri: `flops://vms/${i}` });
      await v1.unsubscribeResource({ uri: 'flops://vms/999999' });
    },
  );

  it.runIf(era === '2026')(
    'notifies listeners when a write changes a VM (subscriptions/listen)',
    async () => {
      const v2 = h.mcp as V2Client;
      const updated: string[] = [];
      v2.setNotificationHandler('notifications/resources/updated', (n) => void updated.push(n.params.uri));
      const subscription = await v2.listen({ resourceSubscriptions: ['flops://vms/85561'] });
      const r = await v2.callTool({
        name: 'vm_rename',
        arguments: { vmId: 85561, name: 'ubuntu', wait: true },
      });
      expect(r.isError).toBeFalsy();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(updated).toEqual(['flops://vms/85561']);
      await v2.callTool({ name: 'vm_rename', arguments: { vmId: 88534, name: 'debian', wait: true } });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(updated).toHaveLength(1);
      await subscription.close();
    },
  );

  it('offers prompts for the common workflows, with completion from live data', async () => {
    const prompts = (await mcp.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toEqual(['deploy_server', 'resize_safely', 'restore_from_backup']);
    const deploy = await mcp.getPrompt({
      name: 'deploy_server',
      arguments: { distribution: 'debian', name: 'web' },
    });
    const body = (deploy.messages[0]!.content as { text: string }).text;
    expect(body).toMatch(/vm_install with distribution "debian".*name "web"/s);
    const resize = await mcp.getPrompt({
      name: 'resize_safely',
      arguments: { vm: '85561', memory: '1024' },
    });
    expect((resize.messages[0]!.content as { text: string }).text).toMatch(
      /vm_memory_change.*vm_snapshot_create.*vm_snapshot_rollback/s,
    );
    const complete = (name: string, argument: string, value: string) =>
      mcp.complete({ ref: { type: 'ref/prompt', name }, argument: { name: argument, value } });
    expect((await complete('resize_safely', 'vm', '855')).completion.values).toEqual(['85561']);
    expect((await complete('restore_from_backup', 'vm', 'ubu')).completion.values).toEqual(['ubuntu']);
    expect((await complete('deploy_server', 'distribution', 'deb')).completion.values).toEqual(
      expect.arrayContaining(['Debian 7.6 x64', 'debian']),
    );
    expect((await complete('deploy_server', 'tariff', 'Облачный 10')).completion.values).toContain(
      'Облачный 1024',
    );
    await expect(mcp.getPrompt({ name: 'deploy_server', arguments: {} })).rejects.toThrow(/distribution/);
  });

  it('answers an unknown tool with a protocol error', async () => {
    await expect(mcp.callTool({ name: 'vm_explode', arguments: {} })).rejects.toThrow(/Unknown tool/);
  });

  it('says in its instructions that it is a sandbox and how to chain calls', () => {
    const text = mcp.getInstructions() ?? '';
    expect(text).toMatch(/SANDBOX/);
    expect(text).toMatch(/wait_for_operation/);
  });
});
