/**
 * The library entry, `import … from 'flops-mcp'` (README, "Use it as a library", one example each):
 *
 * - FlopsClient: the typed client of the Flops API (one method per operation of the table), its
 *   errors and the operation table itself;
 * - startSandbox: the simulated Flops API on a local port, with fault injection and counters;
 * - createServer: the MCP server (every tool, resource and prompt) for one connection, to serve
 *   with the SDK's transports;
 * - startHttpServer: the Streamable HTTP front the CLI's --http runs (guards, sessions, per-user
 *   credentials), with createLogger for its log;
 * - the settings table and parseConfig, which the CLI reads its flags and environment with.
 *
 * The bin (dist/cli.cjs) is bundled separately; this entry is the compiled tree, with declarations.
 */
export { DEFAULT_BASE_URL, FlopsClient, type FlopsClientOptions } from './api/client.js';
export * from './api/errors.js';
export {
  isAsync,
  isDestructive,
  isRead,
  OPERATIONS,
  type OperationDef,
  type ParamsOf,
  type ResultOf,
  type ToolName,
  type Toolset,
} from './api/operations.js';
export type * from './api/types.js';
export { type Config, type ConfirmMode, parseConfig, UsageError } from './config.js';
export {
  type Credentials,
  HttpConfigError,
  type HttpServerHandle,
  type HttpServerOptions,
  startHttpServer,
} from './http/server.js';
export { createLogger, type Logger, type LogLevel } from './log.js';
export { createServer, type ServerOptions } from './mcp/server.js';
export {
  type FaultSpec,
  type ResponseShape,
  type Sandbox,
  type SandboxOptions,
  startSandbox,
} from './sandbox/index.js';
export { SETTINGS, type Setting } from './settings.js';
export { VERSION } from './version.js';
