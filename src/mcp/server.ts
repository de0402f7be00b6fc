/**
 * createServer: an MCP server for one client session, with every tool, resource and the server's
 * instructions derived from the operation table.
 */

import { randomBytes } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/server';
import type { SkillCatalog } from '@modelcontextprotocol/server/ext/skills';
import type { FlopsClient } from '../api/client.js';
import type { ConfirmMode } from '../config.js';
import { type Logger, silentLogger } from '../log.js';
import { VERSION } from '../version.js';
import { registerFleetApp } from './app.js';
import type { AuditLog } from './audit.js';
import { ConfirmSeal } from './policy.js';
import { registerPrompts } from './prompts.js';
import { installTools, type ToolContext } from './register.js';
import { enableSubscriptions, registerResources } from './resources.js';
import { TaskSeal } from './tasks.js';
import { buildToolSpecs, instructions, selectTools, type ToolSelection } from './tools.js';

export { instructions } from './tools.js';

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
  /** The seal of confirmation state; one per process (or one key for all replicas). */
  seal?: ConfirmSeal | undefined;
  /** HTTP: publish a resource update on the process's event bus (2026 `subscriptions/listen`). */
  publish?: ((uri: string) => void) | undefined;
  /** HTTP 2025 sessions: hear the updates published on the bus (resources.ts enableSubscriptions). */
  listen?: ((onUpdated: (uri: string) => void) => () => void) | undefined;
  /** The caller's rate limits (shared/limits.ts), checked by the seam before every call. */
  limit?: ToolContext['limit'];
  /**
   * The generation this server instance serves (the SDK's serving entries say, per instance):
   * 2026-07-28 instances offer provider operations as tasks (Tasks extension).
   */
  era?: 'modern' | 'legacy' | undefined;
  /** The seal of task ids; one per process (or one key for all replicas). */
  taskSeal?: TaskSeal | undefined;
  /** FLOPS_PROTECT: VM ids and name patterns no destructive tool may touch. */
  protect?: readonly string[] | undefined;
  /** FLOPS_SAFETY_SNAPSHOT: a restore point before every risky change. */
  safetySnapshots?: boolean | undefined;
  /** The workflows as MCP Skills (skills.ts, loaded once per process). */
  skills?: SkillCatalog | undefined;
  /** --dynamic-toolsets: a small first tool list, toolsets enabled on demand. */
  dynamicToolsets?: boolean | undefined;
  /**
   * Stateless HTTP, a request that is one `tools/call` message: the server answers that call and
   * nothing else, so the prompts, the resources' handlers and the skills are not registered (the
   * call's result is the same; they cost most of building a server for every request).
   */
  toolCallOnly?: boolean | undefined;
}

/** The seals for the servers of a process that were not given one (tests), under one random key. */
let processSeals: { confirm: ConfirmSeal; tasks: TaskSeal } | undefined;

export function sealsFor(key: Uint8Array = randomBytes(32)): { confirm: ConfirmSeal; tasks: TaskSeal } {
  return { confirm: new ConfirmSeal(key), tasks: new TaskSeal(key) };
}

/**
 * Cache hints for the 2026-07-28 revision's list results (2025 answers never carry them). The tool,
 * prompt and template lists depend only on the server's configuration; the resource list names the
 * account's VMs, so it is private and short-lived.
 */
const CACHE_HINTS = {
  'server/discover': { ttlMs: 300_000, cacheScope: 'private' },
  'tools/list': { ttlMs: 300_000, cacheScope: 'private' },
  'prompts/list': { ttlMs: 300_000, cacheScope: 'private' },
  'resources/templates/list': { ttlMs: 300_000, cacheScope: 'private' },
  'resources/list': { ttlMs: 10_000, cacheScope: 'private' },
} as const;

export function createServer(options: ServerOptions): McpServer {
  const all = buildToolSpecs();
  const selection = options.selection ?? {};
  const tools = selectTools(all, selection);
  const log = options.log ?? silentLogger;
  processSeals ??= sealsFor();
  const seal = options.seal ?? processSeals.confirm;
  const server = new McpServer(
    { name: 'flops-mcp', title: 'Flops virtual servers', version: VERSION },
    {
      capabilities: { resources: {}, logging: {} },
      cacheHints: CACHE_HINTS,
      // Confirmation state comes back from the client: sealed, and refused (-32602) when altered or expired.
      requestState: { verify: seal.verify },
      instructions: instructions(
        tools,
        options.sandbox === true,
        options.defaultTenantId,
        selection.readOnly,
        options.protect?.length,
        options.client.scoped,
      ),
    },
  );
  if (options.toolCallOnly !== true) {
    registerResources(server, options.client);
    registerPrompts(server, options.client);
    options.skills?.attach(server);
  }
  const subscriptions = enableSubscriptions(server, options.publish, options.listen);
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
    seal,
    tasks: options.era === 'modern' ? (options.taskSeal ?? processSeals.tasks) : undefined,
    protect: options.protect,
    safetySnapshots: options.safetySnapshots,
    dynamicToolsets: options.dynamicToolsets,
    limit: options.limit,
  });
  return server;
}
