#!/usr/bin/env node
/**
 * flops-mcp — the command line.
 *
 *   flops-mcp              MCP over stdio against the Flops API (FLOPS_CLIENT_ID, FLOPS_API_KEY)
 *   flops-mcp --sandbox    MCP over stdio against an in-process sandbox on a free loopback port
 *   flops-mcp sandbox      run the sandbox API alone (--port, --host, --time-scale)
 *
 * stdout belongs to the protocol: everything else goes to stderr. Optional parts (the sandbox)
 * are loaded only when asked for.
 */
import { parseArgs } from 'node:util';
import { FlopsClient } from './api/client.js';
import { createLogger, parseLogLevel } from './log.js';
import { VERSION } from './version.js';

const HELP = `flops-mcp ${VERSION} — MCP server for Flops / Serveroid virtual servers

Usage:
  flops-mcp [options]            serve MCP over stdio
  flops-mcp sandbox [options]    run the Flops API sandbox alone

Options:
  --sandbox            serve against an in-process sandbox (no account needed, nothing is real)
  --time-scale X       sandbox operation durations × X (default 1)
  -h, --help           show this help
  -v, --version        print the version

Environment:
  FLOPS_CLIENT_ID      API clientId (required unless --sandbox)
  FLOPS_API_KEY        API key (required unless --sandbox); never logged
  FLOPS_API_URL        API base URL (default https://api.flops.ru/api/v1/)
  FLOPS_TENANT_ID      default tenant for vm_install and pubkey_add
  FLOPS_LOG_LEVEL      debug | info | warn | error | silent (default info)

Sandbox command options:
  --port N  --host H  --time-scale X   (flops-mcp sandbox --help)
`;

export class UsageError extends Error {}

const SANDBOX_DEFAULT_TENANT = 10081;

interface Options {
  sandbox: boolean;
  timeScale: number;
}

function parseOptions(argv: string[]): Options | 'help' | 'version' {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        sandbox: { type: 'boolean' },
        'time-scale': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v['help']) return 'help';
  if (v['version']) return 'version';
  const timeScale = v['time-scale'] === undefined ? 1 : Number(v['time-scale']);
  if (!Number.isFinite(timeScale) || timeScale <= 0)
    throw new UsageError('--time-scale must be a positive number');
  return { sandbox: v['sandbox'] === true, timeScale };
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name} must be a positive integer`);
  return n;
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv[0] === 'sandbox') {
    const { runSandboxCli } = await import('./sandbox/index.js');
    return runSandboxCli(argv.slice(1));
  }
  const options = parseOptions(argv);
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (options === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const apiKey = env['FLOPS_API_KEY'];
  const log = createLogger({ level: parseLogLevel(env['FLOPS_LOG_LEVEL']), secrets: [apiKey] });
  let defaultTenantId = positiveInt('FLOPS_TENANT_ID', env['FLOPS_TENANT_ID']);

  let client: FlopsClient;
  let closeSandbox: (() => Promise<void>) | undefined;
  if (options.sandbox) {
    const { startSandbox } = await import('./sandbox/index.js');
    const sandbox = await startSandbox({ port: 0, host: '127.0.0.1', timeScale: options.timeScale });
    closeSandbox = () => sandbox.close();
    // The sandbox account has several tenants; its default project (10081, "По умолчанию") is the
    // default tenant unless FLOPS_TENANT_ID says otherwise, so that a first install just works.
    defaultTenantId ??= SANDBOX_DEFAULT_TENANT;
    client = new FlopsClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, apiKey: sandbox.apiKey });
    log.info(
      `SANDBOX MODE: serving against the simulated Flops API at ${sandbox.url}; nothing is real or billed`,
    );
  } else {
    const clientId = env['FLOPS_CLIENT_ID'];
    if (!clientId || !apiKey) {
      process.stderr.write(
        'flops-mcp: no Flops credentials. Set FLOPS_CLIENT_ID and FLOPS_API_KEY (API access is granted by the provider on request), or run `flops-mcp --sandbox` to try it against a local simulator.\n',
      );
      return 2;
    }
    client = new FlopsClient({ baseUrl: env['FLOPS_API_URL'] || undefined, clientId, apiKey });
  }

  const [{ createServer }, { StdioServerTransport }] = await Promise.all([
    import('./mcp/server.js'),
    import('@modelcontextprotocol/sdk/server/stdio.js'),
  ]);
  const server = createServer({ client, log, defaultTenantId, sandbox: options.sandbox });
  const transport = new StdioServerTransport();

  let closing: Promise<void> | undefined;
  const shutdown = (why: string) => {
    closing ??= (async () => {
      log.info(`stopping (${why})`);
      await server.close().catch(() => undefined);
      await client.close().catch(() => undefined);
      await closeSandbox?.().catch(() => undefined);
    })();
    return closing;
  };
  const done = new Promise<void>((resolve) => {
    process.stdin.once('end', () => void shutdown('stdin closed').then(resolve));
    process.stdin.once('close', () => void shutdown('stdin closed').then(resolve));
    process.once('SIGINT', () => void shutdown('SIGINT').then(resolve));
    process.once('SIGTERM', () => void shutdown('SIGTERM').then(resolve));
  });
  await server.connect(transport);
  log.info(`flops-mcp ${VERSION} ready on stdio${options.sandbox ? ' (sandbox)' : ''}`);
  await done;
  return 0;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
    // Nothing should keep the process alive after a clean stop; make sure of it.
    if (code !== 0 || process.argv[2] !== 'sandbox') setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`flops-mcp: ${err.message}\n\n${HELP}`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`flops-mcp: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
