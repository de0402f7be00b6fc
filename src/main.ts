/**
 * flops-mcp — the command line, loaded by the bin's entry (cli.ts) once it has started reading
 * stdin and, on stdio, answered the opening message (mcp/early.ts).
 *
 *   flops-mcp              MCP over stdio against the Flops API (FLOPS_CLIENT_ID, FLOPS_API_KEY)
 *   flops-mcp --sandbox    MCP over stdio against an in-process sandbox on a free loopback port
 *   flops-mcp sandbox      run the sandbox API alone (--port, --host, --time-scale)
 *
 * stdout belongs to the protocol: everything else goes to stderr. Optional parts (the sandbox)
 * are loaded only when asked for.
 */
import type { McpServer } from '@modelcontextprotocol/server';
import type { FlopsClient } from './api/client.js';
import { type Config, parseConfig, SANDBOX_DEFAULT_TENANT, UsageError } from './config.js';
import { createLogger, type Logger } from './log.js';
import type { AuditLog } from './mcp/audit.js';
import type { Early } from './mcp/early.js';
import { batchedStdout } from './mcp/stdout.js';
import { tracesWanted } from './observe.js';
import { helpSettings, settingOf } from './settings.js';
import { VERSION } from './version.js';

/** Generated from the settings table (settings.ts), like the README's. */
const help = () => `flops-mcp ${VERSION} — MCP server for Flops / Serveroid virtual servers

Usage:
  flops-mcp [options]            serve MCP over stdio (default) or Streamable HTTP (--http)
  flops-mcp sandbox [options]    run the Flops API sandbox alone (flops-mcp sandbox --help)
  flops-mcp doctor [options]     check the configuration, credentials and provider; prints fixes

${helpSettings()}`;

interface Backend {
  baseUrl: string | undefined;
  credentials: { clientId: string; apiKey: string } | undefined;
  defaultTenantId: number | undefined;
  close: () => Promise<void>;
}

async function backend(config: Config, log: Logger): Promise<Backend> {
  if (!config.sandbox) {
    const credentials =
      config.clientId && config.apiKey ? { clientId: config.clientId, apiKey: config.apiKey } : undefined;
    return { baseUrl: config.apiUrl, credentials, defaultTenantId: config.tenantId, close: async () => {} };
  }
  const { startSandbox } = await import('./sandbox/index.js');
  const sandbox = await startSandbox({ port: 0, host: '127.0.0.1', timeScale: config.timeScale });
  log.info(
    `SANDBOX MODE: serving against the simulated Flops API at ${sandbox.url}; nothing is real or billed`,
  );
  return {
    baseUrl: sandbox.url,
    credentials: { clientId: sandbox.clientId, apiKey: sandbox.apiKey },
    defaultTenantId: config.tenantId ?? SANDBOX_DEFAULT_TENANT,
    close: () => sandbox.close(),
  };
}

/** What the entry (cli.ts) did before loading this module: the configuration it read, the early listener. */
export interface EarlyStart {
  config: Config;
  early: Early;
  /** V8's defaults again, after a start-up made without TurboFan and young-generation growth. */
  warm?: () => void;
}

async function main(argv: string[], env: NodeJS.ProcessEnv, start?: EarlyStart): Promise<number> {
  if (argv[0] === 'sandbox') {
    const { runSandboxCli } = await import('./sandbox/index.js');
    return runSandboxCli(argv.slice(1));
  }
  if (argv[0] === 'auth') {
    const { runAuthAdmin } = await import('./auth/admin.js');
    return runAuthAdmin(argv.slice(1), env);
  }
  if (argv[0] === 'doctor') {
    const { runDoctor } = await import('./doctor.js');
    return runDoctor(argv.slice(1), env);
  }
  const config = start?.config ?? parseConfig(argv, env);
  if (config === 'help') {
    process.stdout.write(help());
    return 0;
  }
  if (config === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (config.auth === 'oauth' && !config.http)
    throw new UsageError('--auth oauth signs users in over HTTP: add --http');
  const log = createLogger({
    level: config.logLevel,
    secrets: [config.apiKey, config.token, config.redisUrl],
  });
  if (!config.sandbox && !config.http && !(config.clientId && config.apiKey)) {
    process.stderr.write(
      'flops-mcp: no Flops credentials. Set FLOPS_CLIENT_ID and FLOPS_API_KEY (API access is granted by the provider on request), or run `flops-mcp --sandbox` to try it against a local simulator.\n',
    );
    return 2;
  }

  // A failure that escapes one call must not take the server (and every other session) down.
  const escaped = (kind: string) => (err: unknown) =>
    log.error(`${kind}, still serving`, {
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  process.on('uncaughtException', escaped('uncaught exception'));
  process.on('unhandledRejection', escaped('unhandled rejection'));

  // Traces only when an OTLP endpoint is set: OpenTelemetry is not even loaded otherwise.
  const tracing = tracesWanted(env) ? (await import('./tracing.js')).startTracing() : undefined;
  if (tracing) log.info('tracing: exporting spans over OTLP/HTTP');
  const metricsOn = config.metrics || config.metricsPort !== undefined;
  if (metricsOn && !config.http) log.warn('metrics are served over HTTP only (--http): ignored');

  // stdio: the entry is already answering the opening message (cli.ts, mcp/early.ts).
  const early = start?.early;

  const api = await backend(config, log);
  let audit: AuditLog | undefined;
  if (config.auditLog) {
    const { AuditLog } = await import('./mcp/audit.js');
    audit = new AuditLog(config.auditLog, (message) => log.error(message), {
      // Replicas may be killed mid-call: each write is on disk before it goes out.
      sentFirst: config.http && config.redisUrl !== undefined,
    });
    // A path that cannot be written stops start-up now, not a write later.
    await audit.open().catch((err: unknown) => {
      throw new UsageError((err as Error).message);
    });
  }
  const [{ createServer, sealsFor }, { FlopsClient }, { loadSkills }] = await Promise.all([
    import('./mcp/server.js'),
    import('./api/client.js'),
    import('./mcp/skills.js'),
  ]);
  const skills = await loadSkills();
  // FLOPS_ALLOW_VMS / FLOPS_ALLOW_TENANTS scope every client, so lists, resources, completions and
  // the dashboard see the same VMs, and calls on others fail as not found.
  const scope =
    config.allowVms || config.allowTenants
      ? { vms: config.allowVms, tenants: config.allowTenants }
      : undefined;
  // HTTP: what the replicas share (change events, rate limits, readiness), over Redis when configured.
  const shared = config.http
    ? await (await import('./http/replicas.js')).sharedState(
        { ...config, apiUrl: api.baseUrl ?? settingOf('apiUrl').default! },
        log,
      )
    : undefined;
  const newClient = (credentials: { clientId: string; apiKey: string }) =>
    new FlopsClient({ baseUrl: api.baseUrl, ...credentials, scope, throttle: shared?.throttle });
  // One key for every seal of this process (confirmation state, task ids); replicas share
  // FLOPS_MCP_AUTH_KEY, without it each process makes its own.
  const seals = sealsFor(config.authKey);
  const serverFor = (
    client: FlopsClient,
    info: {
      stateless: boolean;
      actor?: string | undefined;
      publish?: (uri: string) => void;
      era?: 'modern' | 'legacy' | undefined;
      listen?: ((onUpdated: (uri: string) => void) => () => void) | undefined;
      toolCallOnly?: boolean | undefined;
    },
  ): McpServer =>
    createServer({
      client,
      log,
      defaultTenantId: api.defaultTenantId,
      sandbox: config.sandbox,
      selection: config,
      confirm: config.confirm,
      stateless: info.stateless,
      audit,
      actor: info.actor,
      seal: seals.confirm,
      taskSeal: seals.tasks,
      era: info.era,
      publish: info.publish,
      listen: info.listen,
      limit: shared?.limitFor(client),
      protect: config.protect,
      safetySnapshots: config.safetySnapshots,
      dynamicToolsets: config.dynamicToolsets,
      skills,
      toolCallOnly: info.toolCallOnly,
    });

  let stop: () => Promise<void>;
  let done: Promise<void>;
  if (config.http) {
    const { startHttpServer, HttpConfigError } = await import('./http/server.js');
    const own = api.credentials ? newClient(api.credentials) : undefined;
    const metrics = metricsOn ? (await import('./http/metrics.js')).startMetrics() : undefined;
    const oauth =
      config.auth === 'oauth'
        ? await (await import('./auth/index.js')).setUpOAuth(config, {
            log,
            newClient,
            redis: shared?.redis?.command,
          })
        : undefined;
    const http = await startHttpServer({
      host: config.host,
      port: config.port,
      stateless: config.stateless,
      token: config.token,
      log,
      hasDefaultCredentials: own !== undefined,
      clientFor: (credentials) => {
        if (credentials) return newClient(credentials);
        if (!own) throw new Error('no default credentials');
        return own;
      },
      serverFor: (client, info) => serverFor(client, { ...info, actor: client.clientId }),
      // Counts, never the rules themselves.
      health: () => ({
        mode: config.sandbox ? 'sandbox' : 'live',
        auth: config.auth,
        readOnly: config.readOnly,
        protectedRules: config.protect.length,
        allowedVms: config.allowVms?.length ?? null,
        allowedTenants: config.allowTenants?.length ?? null,
      }),
      allowedHosts: oauth?.publicHost ? [...config.allowedHosts, oauth.publicHost] : config.allowedHosts,
      allowedOrigins: config.allowedOrigins,
      oauth: oauth?.gate,
      metrics,
      metricsPort: config.metricsPort,
      shutdownGraceMs: config.drainSeconds * 1000,
      ready: shared?.ready,
      bus: shared?.bus,
      replica: config.replica,
    }).catch(async (err: unknown) => {
      await oauth?.close();
      throw err instanceof HttpConfigError ? new UsageError(err.message) : err;
    });
    log.info(
      `flops-mcp ${VERSION} listening on ${http.url}${config.stateless ? ' (stateless)' : ''}${config.sandbox ? ' (sandbox)' : ''}`,
    );
    if (http.metricsUrl) log.info(`metrics at ${http.metricsUrl}`);
    if (!own) log.info('no server credentials: every client must send X-Flops-Client-Id and X-Flops-Api-Key');
    stop = async () => {
      await http.close();
      await own?.close();
      await shared?.close();
      await oauth?.close();
    };
    done = new Promise<void>(() => {});
  } else {
    const client = newClient(api.credentials!);
    // serveStdio: the opening message picks the era (server/discover: 2026-07-28; initialize: 2025)
    // and pins one server from the factory for the connection.
    const factory = (context: { era: 'modern' | 'legacy' }) =>
      serverFor(client, { stateless: false, era: context.era });
    const [stdio, { deserializeMessage }] = await Promise.all([
      import('@modelcontextprotocol/server/stdio'),
      import('@modelcontextprotocol/server'),
    ]);
    const onerror = (err: Error) => log.debug('stdio', { error: err.message });
    // The early listener serves once its read of stdin in flight is back (mcp/early.ts): with a
    // client that has sent nothing yet, after this process is ready and has its signal handlers.
    const serving = early
      ? early.serve(factory, onerror, { ...stdio, deserializeMessage })
      : Promise.resolve(
          stdio.serveStdio(factory, {
            onerror,
            transport: new stdio.StdioServerTransport(process.stdin, batchedStdout(process.stdout)),
          }),
        );
    let served: Awaited<typeof serving> | undefined;
    log.info(`flops-mcp ${VERSION} ready on stdio${config.sandbox ? ' (sandbox)' : ''}`);
    // The messages read while loading are being answered: then V8's defaults again (cli.ts).
    if (start?.warm) setTimeout(start.warm, 0);
    stop = async () => {
      await served?.close().catch(() => undefined);
      await client.close().catch(() => undefined);
    };
    done = serving.then((handle) => {
      served = handle;
      return new Promise<void>((resolve) => {
        if (process.stdin.readableEnded) resolve(); // ended while the server loaded (mcp/early.ts)
        process.stdin.once('end', resolve);
        process.stdin.once('close', resolve);
      });
    });
  }

  const signalled = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const why = await Promise.race([done.then(() => 'stdin closed'), signalled]);
  log.info(`stopping (${why})`);
  await stop().catch(() => undefined);
  // The spans of the calls that just finished go out before the process does (a collector that
  // does not answer may hold the exit 3 s at most).
  if (tracing) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      tracing.shutdown(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, 3_000);
      }),
    ]);
    clearTimeout(timer);
  }
  await audit?.close().catch(() => undefined);
  await api.close().catch(() => undefined);
  return 0;
}

/** Run the command line and exit with its code (the bin's entry calls this). */
export function run(argv: string[], env: NodeJS.ProcessEnv, start?: EarlyStart): void {
  main(argv, env, start).then(
    (code) => {
      process.exitCode = code;
      // Nothing should keep the process alive after a clean stop; make sure of it.
      if (code !== 0 || argv[0] !== 'sandbox') setTimeout(() => process.exit(code), 200).unref();
    },
    (err: unknown) => {
      // Whatever was started before the failure (a sandbox, sockets) must not keep the process up.
      if (err instanceof UsageError) {
        process.stderr.write(`flops-mcp: ${err.message}\n\nRun flops-mcp --help for the options.\n`);
        process.exit(2);
      }
      process.stderr.write(`flops-mcp: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
