#!/usr/bin/env node
/**
 * flops-mcp — the bin's entry.
 *
 *   flops-mcp              MCP over stdio against the Flops API (FLOPS_CLIENT_ID, FLOPS_API_KEY)
 *   flops-mcp --sandbox    MCP over stdio against an in-process sandbox on a free loopback port
 *   flops-mcp sandbox      run the sandbox API alone (--port, --host, --time-scale)
 *   flops-mcp doctor       check the configuration, credentials and provider
 *
 * A client starts the server for every session and waits for its answer to the opening message,
 * so this file is bundled alone (scripts/build.mjs): the configuration, the early answer
 * (mcp/early.ts) and nothing else, no SDK, no zod, no client. It starts reading stdin, answers
 * `initialize` or `server/discover` from build-time data, and only then loads the command line
 * (main.ts, bundled with everything else) and hands it what it read.
 */
import { parseConfig, SANDBOX_DEFAULT_TENANT } from './config.js';
import { createLogger } from './log.js';
import type { EarlyStart } from './main.js';
import { listenEarly } from './mcp/early.js';

/**
 * The stdio server's configuration and early listener; undefined for everything else (sandbox,
 * doctor, --help, HTTP, dynamic toolsets, a configuration main.ts will refuse), which main.ts
 * handles from scratch.
 */
function earlyStart(argv: string[], env: NodeJS.ProcessEnv): EarlyStart | undefined {
  if (argv[0] === 'sandbox' || argv[0] === 'doctor' || argv[0] === 'auth') return undefined;
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(argv, env);
  } catch {
    return undefined; // main.ts reports it
  }
  if (typeof config !== 'object' || config.http || config.dynamicToolsets) return undefined;
  if (!config.sandbox && !(config.clientId && config.apiKey)) return undefined;
  const early = listenEarly({
    selection: config,
    sandbox: config.sandbox,
    defaultTenantId: config.sandbox ? (config.tenantId ?? SANDBOX_DEFAULT_TENANT) : config.tenantId,
    protect: config.protect.length,
    scoped: config.allowVms !== undefined || config.allowTenants !== undefined,
    log: createLogger({ level: config.logLevel, secrets: [config.apiKey, config.token] }),
  });
  return early && { config, early };
}

/**
 * Start-up runs once: loading the SDK, zod and the table, and building the server, is code that
 * never runs again, and what it allocates lives on. V8 would still compile its warm parts with
 * Sparkplug and TurboFan (compiler zones on background threads: a few MB that malloc keeps) and grow
 * the young generation for its allocations (4 MB a semi-space), and a stdio server, one for every
 * session of every client, would keep that memory while it idles. So the server starts with the
 * interpreter alone, V8's optimize-for-size heuristics and a young generation that does not grow;
 * `warm` gives back V8's defaults (which these flags read when they act) once it serves, so that
 * what runs hot under load is compiled and sized as usual, but for one: the old generation may grow
 * to 1.5 × what the last full GC left (V8 lets it grow up to 4 ×). The live heap is about 15 MB, so
 * a full GC is cheap, and the RSS under load stays about 115 MB instead of 130–155.
 * Measured (`npm run bench`): 54 MB after start-up instead of 65, the first answers no slower.
 * Nothing is changed when the command line or NODE_OPTIONS sets any of these V8 flags.
 */
async function leanStartup(): Promise<() => void> {
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  const ours = /^--(no-)?(opt|turbofan|sparkplug|semi-space|max-semi-space|optimize-for-size|heap-growing)/;
  if (given.some((arg) => ours.test(arg))) return () => {};
  // Loaded after the first answer: node:v8 takes a few ms to load.
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--no-opt --no-sparkplug --semi-space-growth-factor=1 --optimize-for-size');
  let warmed = false;
  return () => {
    if (warmed) return;
    warmed = true;
    setFlagsFromString(
      '--opt --sparkplug --semi-space-growth-factor=2 --no-optimize-for-size --heap-growing-percent=50',
    );
  };
}

// No top-level await: the bin is bundled as CommonJS (scripts/build.mjs).
async function launch(): Promise<void> {
  const argv = process.argv.slice(2);
  let start = earlyStart(argv, process.env);
  // The first answer before the rest is compiled (loading main.ts takes the thread for a while).
  if (start) await Promise.race([start.early.settled, new Promise((resolve) => setTimeout(resolve, 50))]);
  if (start) start = { ...start, warm: await leanStartup() };
  const { run } = await import('./main.js');
  run(argv, process.env, start);
}

void launch();
