/**
 * `flops-mcp doctor`: checks the configuration the way a user needs it checked — credentials
 * present and accepted (lists the tenants), the provider reachable and how fast, the default
 * tenant, the enabled tools and safety mode, the audit log and HTTP settings — and prints a fix for
 * each problem. Exits 1 when something is wrong. Never prints a secret: the API key and the token
 * are only said to be set, with their length.
 */
import { open } from 'node:fs/promises';
import { FlopsClient } from './api/client.js';
import { FlopsApiError, FlopsTransportError } from './api/errors.js';
import { type Config, parseConfig, UsageError } from './config.js';
import { isLoopbackHost } from './http/guards.js';
import { buildToolSpecs, selectTools } from './mcp/tools.js';
import { SETTINGS } from './settings.js';
import { NODE_SUPPORTED, supportsNode, VERSION } from './version.js';

type Status = 'ok' | 'warn' | 'fail';
interface Check {
  status: Status;
  title: string;
  detail?: string;
  fix?: string;
}

const MARK: Record<Status, string> = { ok: '✓', warn: '!', fail: '✗' };

export async function runDoctor(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const checks: Check[] = [];
  const add = (check: Check) => {
    checks.push(check);
    out(`${MARK[check.status]} ${check.title}${check.detail ? ` — ${check.detail}` : ''}`);
    if (check.fix) out(`    fix: ${check.fix}`);
  };
  out(`flops-mcp ${VERSION} doctor (Node ${process.versions.node})`);

  add(
    supportsNode(process.versions.node)
      ? { status: 'ok', title: `Node.js ${process.versions.node}` }
      : {
          status: 'fail',
          title: `Node.js ${process.versions.node} is not supported`,
          fix: `install Node.js ${NODE_SUPPORTED}`,
        },
  );

  let config: Config;
  try {
    const parsed = parseConfig(argv, env);
    if (parsed === 'help' || parsed === 'version') {
      out(
        'usage: flops-mcp doctor [--sandbox] [the server options to check, e.g. --read-only --toolsets vms]',
      );
      return 0;
    }
    config = parsed;
    add({ status: 'ok', title: 'configuration parsed' });
    checkSettings(argv, env, add);
  } catch (err) {
    add({
      status: 'fail',
      title: 'configuration is invalid',
      detail: err instanceof UsageError ? err.message : String(err),
      fix: 'correct the flag or environment variable named above',
    });
    return finish(checks, out);
  }

  let client: FlopsClient | undefined;
  let stopSandbox: (() => Promise<void>) | undefined;
  if (config.sandbox) {
    const { startSandbox } = await import('./sandbox/index.js');
    const sandbox = await startSandbox({ port: 0, timeScale: config.timeScale });
    stopSandbox = () => sandbox.close();
    client = new FlopsClient({ baseUrl: sandbox.url, clientId: sandbox.clientId, apiKey: sandbox.apiKey });
    add({
      status: 'ok',
      title: 'sandbox mode',
      detail: `a local simulator at ${sandbox.url}; nothing is real`,
    });
  } else {
    const missing = [
      ['FLOPS_CLIENT_ID', config.clientId],
      ['FLOPS_API_KEY', config.apiKey],
    ].filter(([, value]) => !value);
    if (missing.length > 0) {
      add({
        status: 'fail',
        title: `credentials missing: ${missing.map(([name]) => name).join(', ')} not set`,
        fix: 'set FLOPS_CLIENT_ID and FLOPS_API_KEY in the MCP client\'s "env" for this server or in your shell (API access is granted by the provider\'s support on request); or try `flops-mcp --sandbox`',
      });
    } else {
      add({
        status: 'ok',
        title: 'credentials present',
        detail: `clientId ${config.clientId}, API key set (${config.apiKey!.length} characters, not shown)`,
      });
      let url: URL | undefined;
      try {
        url = new URL(config.apiUrl ?? 'https://api.flops.ru/api/v1/');
      } catch {
        add({
          status: 'fail',
          title: 'FLOPS_API_URL is not a URL',
          fix: 'unset it to use https://api.flops.ru/api/v1/',
        });
      }
      if (url) {
        if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
          add({
            status: 'warn',
            title: `FLOPS_API_URL uses ${url.protocol} to a remote host`,
            fix: 'use https:// so the API key is not sent in clear',
          });
        }
        client = new FlopsClient({
          baseUrl: url.href,
          clientId: config.clientId!,
          apiKey: config.apiKey!,
          timeoutMs: 15_000,
        });
      }
    }
  }

  try {
    if (client) await checkProvider(client, config, add);
    checkTools(config, add);
    await checkAudit(config, add);
    checkHttp(config, add);
  } finally {
    await client?.close();
    await stopSandbox?.();
  }
  return finish(checks, out);
}

/**
 * The settings in effect, by the names of the settings table (secrets by their length only), and
 * every FLOPS_* variable that is no setting: a misspelt one is otherwise silently ignored.
 */
function checkSettings(argv: string[], env: NodeJS.ProcessEnv, add: (c: Check) => void): void {
  const known: string[] = SETTINGS.flatMap((s) => (s.env ? [s.env] : []));
  for (const name of Object.keys(env)
    .filter((n) => n.startsWith('FLOPS_') && !known.includes(n))
    .sort()) {
    const near = known.find((k) => distance(k, name) <= 2);
    add({
      status: 'warn',
      title: `${name} is not a flops-mcp setting and is ignored`,
      fix: near ? `did you mean ${near}?` : 'flops-mcp --help lists the settings',
    });
  }
  const set: string[] = [];
  for (const s of SETTINGS) {
    const flag = s.flag && argv.find((a) => a === s.flag || a.startsWith(`${s.flag}=`));
    const value = s.env ? env[s.env] : undefined;
    if (flag) set.push(s.flag!);
    else if (s.env && value !== undefined && value !== '') {
      set.push(
        s.kind === 'secret' ? `${s.env} (${value.length} characters, not shown)` : `${s.env}=${value}`,
      );
    }
  }
  add({
    status: 'ok',
    title: set.length === 0 ? 'settings: all defaults' : `settings: ${set.length} set`,
    ...(set.length > 0 ? { detail: set.join(', ') } : {}),
  });
}

/** Edit distance, for the suggestion of a misspelt variable. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length]!;
}

async function checkProvider(client: FlopsClient, config: Config, add: (c: Check) => void): Promise<void> {
  const started = performance.now();
  let tenants: Awaited<ReturnType<FlopsClient['call']>> & { id: number; description: string | null }[];
  try {
    tenants = await client.call('tenant_list', {});
  } catch (err) {
    if (err instanceof FlopsApiError && err.errorCode === 'error.not.owner') {
      add({
        status: 'fail',
        title: 'credentials rejected by the provider (error.not.owner)',
        fix: 'check FLOPS_CLIENT_ID and FLOPS_API_KEY (copy them again; no spaces), or ask support to enable API access',
      });
    } else if (err instanceof FlopsTransportError) {
      add({
        status: 'fail',
        title: `provider unreachable (${err.kind}${err.httpStatus ? ` ${err.httpStatus}` : ''})`,
        detail: err.message,
        fix: 'check the network and proxy settings, and FLOPS_API_URL if it is set',
      });
    } else {
      add({
        status: 'fail',
        title: 'provider error',
        detail: err instanceof Error ? err.message : String(err),
      });
    }
    return;
  }
  const ms = Math.round(performance.now() - started);
  add({
    status: ms > 3000 ? 'warn' : 'ok',
    title: `provider reachable, credentials accepted (${ms} ms)`,
    ...(ms > 3000 ? { fix: 'the provider answers slowly; tool calls will feel slow' } : {}),
  });
  add({
    status: 'ok',
    title: `${tenants.length} tenant${tenants.length === 1 ? '' : 's'}`,
    detail: tenants.map((t) => `${t.id} "${t.description ?? ''}"`).join(', '),
  });
  if (config.tenantId !== undefined && !tenants.some((t) => t.id === config.tenantId)) {
    add({
      status: 'fail',
      title: `FLOPS_TENANT_ID ${config.tenantId} is not a tenant of this account`,
      fix: `set it to one of ${tenants.map((t) => t.id).join(', ')}`,
    });
  } else if (config.tenantId === undefined && tenants.length > 1 && !config.sandbox) {
    add({
      status: 'warn',
      title: 'several tenants and no FLOPS_TENANT_ID',
      fix: 'vm_install and pubkey_add will ask for tenantId; set FLOPS_TENANT_ID to make one the default',
    });
  }
  try {
    const [distributions, tariffs] = await Promise.all([
      client.call('distribution_list', {}),
      client.call('tariff_list', {}),
    ]);
    add({ status: 'ok', title: `catalog: ${distributions.length} distributions, ${tariffs.length} tariffs` });
  } catch (err) {
    add({
      status: 'warn',
      title: 'catalog could not be read',
      detail: err instanceof Error ? err.message : String(err),
    });
  }
}

function checkTools(config: Config, add: (c: Check) => void): void {
  const tools = selectTools(buildToolSpecs(), config);
  const toolsets = [...new Set(tools.map((t) => t.toolset))];
  add({
    status: tools.length === 0 ? 'fail' : 'ok',
    title: `${tools.length} tools enabled`,
    detail: `toolsets: ${toolsets.join(', ') || 'none'}`,
    ...(tools.length === 0
      ? { fix: 'the toolset and exclusion settings leave nothing: widen FLOPS_TOOLSETS' }
      : {}),
  });
  const mode = config.readOnly
    ? 'read-only'
    : `writes allowed${config.noDestructive ? ', destructive tools off' : ''}, destructive actions confirmed: ${config.confirm}${
        config.protect.length
          ? `, ${config.protect.length} protected VM rule${config.protect.length > 1 ? 's' : ''} (FLOPS_PROTECT)`
          : ''
      }`;
  add({
    status: !config.readOnly && config.confirm === 'off' ? 'warn' : 'ok',
    title: `safety: ${mode}`,
    ...(!config.readOnly && config.confirm === 'off'
      ? {
          fix: 'FLOPS_CONFIRM=off: destructive actions run without asking; use it for unattended automation only',
        }
      : {}),
  });
}

async function checkAudit(config: Config, add: (c: Check) => void): Promise<void> {
  if (!config.auditLog) return;
  try {
    const file = await open(config.auditLog, 'a', 0o600);
    await file.close();
    add({ status: 'ok', title: `audit log writable: ${config.auditLog}` });
  } catch (err) {
    add({
      status: 'fail',
      title: `audit log not writable: ${config.auditLog}`,
      detail: (err as Error).message,
      fix: 'create the directory or choose another FLOPS_AUDIT_LOG path',
    });
  }
}

function checkHttp(config: Config, add: (c: Check) => void): void {
  if (!config.http) return;
  const loopback = isLoopbackHost(config.host);
  add({
    status: 'ok',
    title: `HTTP on ${config.host}:${config.port}${config.stateless ? ' (stateless)' : ''}`,
    detail: loopback
      ? 'loopback only'
      : `exposed; bearer token set (${config.token?.length ?? 0} characters, not shown)`,
  });
  if (config.token && config.token.length < 16) {
    add({
      status: 'warn',
      title: 'FLOPS_MCP_TOKEN is short',
      fix: 'use at least 32 random characters (openssl rand -hex 32)',
    });
  }
}

function finish(checks: Check[], out: (line: string) => void): number {
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  out(
    failed > 0
      ? `${failed} problem${failed > 1 ? 's' : ''} found${warned ? `, ${warned} warning${warned > 1 ? 's' : ''}` : ''}.`
      : `All good${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}.`,
  );
  return failed > 0 ? 1 : 0;
}
