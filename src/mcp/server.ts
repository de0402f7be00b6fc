/**
 * createServer: an MCP server for one client session, with every tool, resource and the server's
 * instructions derived from the operation table.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { FlopsClient } from '../api/client.js';
import type { ConfirmMode } from '../config.js';
import { type Logger, silentLogger } from '../log.js';
import { VERSION } from '../version.js';
import { registerFleetApp } from './app.js';
import type { AuditLog } from './audit.js';
import { selectTools, type ToolSelection } from './policy.js';
import { registerPrompts } from './prompts.js';
import { installTools } from './register.js';
import { enableSubscriptions, registerResources } from './resources.js';
import { buildToolSpecs, type ToolSpec } from './tools.js';

export interface ServerOptions {
  client: FlopsClient;
  log?: Logger | undefined;
  /** FLOPS_TENANT_ID: the tenant for vm_install and pubkey_add when none is given. */
  defaultTenantId?: number | undefined;
  /** The API behind the client is the sandbox: say so in the instructions. */
  sandbox?: boolean | undefined;
  waitMinIntervalMs?: number | undefined;
  waitMaxIntervalMs?: number | undefined;
  /** Which tools to expose: toolsets, added/excluded tools, read-only, no-destructive. */
  selection?: ToolSelection | undefined;
  /** Confirmation of destructive tools (FLOPS_CONFIRM); default elicit. */
  confirm?: ConfirmMode | undefined;
  /** Stateless HTTP: client capabilities are unknown. */
  stateless?: boolean | undefined;
  audit?: AuditLog | undefined;
  /** The clientId acting for this session, for the audit log. */
  actor?: string | undefined;
}

export function instructions(
  tools: readonly ToolSpec[],
  sandbox: boolean,
  defaultTenantId?: number,
  readOnly?: boolean,
): string {
  const names = new Set(tools.map((t) => t.name));
  const has = (name: string) => names.has(name);
  const lines = [
    sandbox
      ? 'SANDBOX MODE: this server talks to a local simulator of the Flops API, not to real servers. Nothing here is billed or real.'
      : 'This server manages real, billed virtual servers at Flops (Serveroid).',
    ...(readOnly ? ['READ-ONLY MODE: only tools that read are available; nothing can be changed.'] : []),
    'Ids come from the list tools: tenant_list, vm_list, distribution_list, tariff_list, pubkey_list, vm_snapshot_list, vm_backup_list.',
  ];
  if (has('vm_install')) {
    lines.push(
      'Before installing, check the catalogs (tariff_list, distribution_list); pass distribution and tariff by name — distribution ids change over time.',
    );
  }
  if (tools.some((t) => t.row && (t.row.returns === 'operation' || t.row.returns === 'created'))) {
    lines.push(
      'Asynchronous tools return an operationId: call wait_for_operation with it (or pass wait: true) before the next step on the same VM — a VM runs one operation at a time.',
    );
  }
  lines.push(
    `tenantId is optional: VM tools take it from the VM${defaultTenantId ? `; vm_install and pubkey_add use tenant ${defaultTenantId}` : ''}. Memory and disk are in MB.`,
  );
  if (tools.some((t) => t.annotations.destructiveHint)) {
    lines.push('Destructive tools (marked destructiveHint) lose data: confirm with the user first.');
  }
  return lines.join('\n');
}

export function createServer(options: ServerOptions): McpServer {
  const all = buildToolSpecs();
  const selection = options.selection ?? {};
  const tools = selectTools(all, selection);
  const log = options.log ?? silentLogger;
  const server = new McpServer(
    { name: 'flops-mcp', title: 'Flops virtual servers', version: VERSION },
    {
      capabilities: { resources: {}, logging: {} },
      instructions: instructions(
        tools,
        options.sandbox === true,
        options.defaultTenantId,
        selection.readOnly,
      ),
    },
  );
  registerResources(server, options.client);
  registerPrompts(server, options.client);
  const subscriptions = enableSubscriptions(server);
  // MCP App: the fleet dashboard (app.ts).
  const app = registerFleetApp(server, {
    client: options.client,
    tools,
    stateless: options.stateless === true,
  });
  installTools(server.server, tools, all, {
    client: options.client,
    log,
    defaultTenantId: options.defaultTenantId,
    waitMinIntervalMs: options.waitMinIntervalMs,
    waitMaxIntervalMs: options.waitMaxIntervalMs,
    readOnly: selection.readOnly,
    confirm: options.confirm,
    stateless: options.stateless,
    audit: options.audit,
    actor: options.actor,
    onChange: subscriptions.changed,
    app,
  });
  return server;
}
