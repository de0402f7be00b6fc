/**
 * The server's configuration, from command-line flags and their environment twins, as the settings
 * table (settings.ts) names them. Flags win over the environment. Anything invalid — an unknown toolset or tool name, a bad number — is a
 * UsageError naming the valid values; the CLI prints it and exits with code 2.
 */
import { parseArgs } from 'node:util';
import type { Toolset } from './api/operations.js';
import { isLoopbackHost } from './http/guards.js';
import { type LogLevel, parseLogLevel } from './log.js';
// The generated index, not the table: the configuration is read before zod and the table load.
import { TOOL_INDEX, TOOLSET_NAMES } from './mcp/tool-index.js';
import { BOOLEAN_VALUES, SETTINGS, settingOf } from './settings.js';

export class UsageError extends Error {}

/** The sandbox account has several tenants; its default project (10081) is the default tenant. */
export const SANDBOX_DEFAULT_TENANT = 10081;

export type ConfirmMode = 'elicit' | 'required' | 'off';

export interface Config {
  sandbox: boolean;
  timeScale: number;
  apiUrl: string | undefined;
  clientId: string | undefined;
  apiKey: string | undefined;
  tenantId: number | undefined;
  /** Enabled toolsets; undefined: all. */
  toolsets: Toolset[] | undefined;
  /** Tools added on top of the toolsets. */
  tools: string[];
  /** Tools removed; always wins. */
  excludeTools: string[];
  readOnly: boolean;
  noDestructive: boolean;
  confirm: ConfirmMode;
  auditLog: string | undefined;
  logLevel: LogLevel;
  http: boolean;
  host: string;
  port: number;
  stateless: boolean;
  /** FLOPS_MCP_TOKEN: bearer token for HTTP; required when binding beyond loopback. */
  token: string | undefined;
  /** Extra Host names (FLOPS_MCP_ALLOWED_HOSTS) and Origins (FLOPS_MCP_ALLOWED_ORIGINS) for HTTP. */
  allowedHosts: string[];
  allowedOrigins: string[];
  /**
   * FLOPS_MCP_AUTH_KEY: 32 random bytes (base64), the key of everything the server seals (the
   * confirmation state that travels with a request). Replicas behind one balancer share it; unset,
   * each process makes its own.
   */
  authKey: Uint8Array | undefined;
  /** --auth / FLOPS_MCP_AUTH: `oauth` turns on MCP authorization over HTTP. */
  auth: 'none' | 'oauth';
  /** FLOPS_MCP_PUBLIC_URL: the URL clients use; its origin is the OAuth issuer. */
  publicUrl: URL | undefined;
  /** FLOPS_MCP_AUTH_ISSUER: an external authorization server whose tokens are accepted. */
  authIssuer: URL | undefined;
  /** FLOPS_MCP_AUTH_STORE: the embedded sign-in store's directory. */
  authStore: string;
  /** FLOPS_PROTECT: VM ids and name patterns (`prod-*`, `db?`) no destructive tool may touch. */
  protect: string[];
  /** FLOPS_SAFETY_SNAPSHOT: a snapshot before every risky change (reinstall, rollback, keys, disk, tariff). */
  safetySnapshots: boolean;
  /** FLOPS_ALLOW_VMS / FLOPS_ALLOW_TENANTS: the only VMs / tenants the agent sees and touches. */
  allowVms: number[] | undefined;
  allowTenants: number[] | undefined;
  /** --dynamic-toolsets: start with the catalog tools; toolsets enabled on demand. */
  dynamicToolsets: boolean;
  /** --metrics / FLOPS_MCP_METRICS: Prometheus metrics at /metrics (HTTP); metricsPort implies it. */
  metrics: boolean;
  /** FLOPS_MCP_METRICS_PORT: /metrics on a port of its own (implies metrics). */
  metricsPort: number | undefined;
  /** FLOPS_MCP_DRAIN_SECONDS: how long SIGTERM lets HTTP calls in flight finish. */
  drainSeconds: number;
  /** FLOPS_MCP_REPLICA: the prefix of this replica's 2025 session ids (balancer affinity). */
  replica: string | undefined;
  /** FLOPS_REDIS_URL: state shared by the replicas (notifications, rate limits). */
  redisUrl: string | undefined;
  /**
   * Tool calls a minute per user and per provider account (0: no limit; undefined: the default of
   * limits.ts when Redis is configured, none without), and their bursts.
   */
  userRate: number | undefined;
  userBurst: number;
  accountRate: number | undefined;
  accountBurst: number;
  /** FLOPS_PROVIDER_RATE: requests a second to the provider, all replicas together. */
  providerRate: number | undefined;
}

/** Every tool name the server knows (API tools and wait_for_operation). */
export const ALL_TOOL_NAMES: readonly string[] = TOOL_INDEX.map(([name]) => name);

/** parseArgs options: every flag of the settings table, plus help and version. */
const OPTIONS = Object.fromEntries([
  ...SETTINGS.filter((s) => s.flag).map((s) => [
    s.flag!.slice(2),
    { type: s.kind === 'switch' || s.kind === 'boolean' ? 'boolean' : 'string' } as const,
  ]),
  ['help', { type: 'boolean', short: 'h' } as const],
  ['version', { type: 'boolean', short: 'v' } as const],
]) as Record<string, { type: 'boolean' | 'string'; short?: string }>;

export { BOOLEAN_VALUES };

function booleanSetting(name: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if ((BOOLEAN_VALUES.on as readonly string[]).includes(v)) return true;
  if ((BOOLEAN_VALUES.off as readonly string[]).includes(v)) return false;
  throw new UsageError(
    `${name} must be one of ${BOOLEAN_VALUES.on.join(', ')} (on) or ${BOOLEAN_VALUES.off.filter(Boolean).join(', ')} (off), got "${value.slice(0, 40)}"`,
  );
}

/** A comma-separated list of positive integer ids; unset or empty: no restriction. */
function ids(name: string, value: string | undefined): number[] | undefined {
  const items = list(value);
  if (items.length === 0) return undefined;
  const bad = items.filter((i) => !/^[1-9]\d{0,9}$/.test(i));
  if (bad.length)
    throw new UsageError(`${name} takes ids separated by commas, got "${bad.join(', ').slice(0, 60)}"`);
  return items.map(Number);
}

function authKey(value: string | undefined): Uint8Array | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const key = Buffer.from(value.trim(), 'base64');
  if (key.length < 32) {
    throw new UsageError(
      'FLOPS_MCP_AUTH_KEY must be at least 32 random bytes in base64 (e.g. `openssl rand -base64 32`)',
    );
  }
  return key;
}

/** An http(s) URL without credentials, query or fragment. */
function url(name: string, value: string | undefined): URL | undefined {
  if (value === undefined) return undefined;
  const parsed = URL.parse(value.trim());
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new UsageError(`${name} must be an http(s) URL, got "${value.slice(0, 80)}"`);
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new UsageError(`${name} must be a plain URL, without credentials, query or fragment`);
  }
  return parsed;
}

/** A rate: a non-negative number (0: no limit); unset or empty: undefined. */
function rate(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new UsageError(`${name} must be a number of 0 or more, got "${value}"`);
  return n;
}

function replicaName(value: string | undefined): string | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,31}$/.test(v)) {
    throw new UsageError(`FLOPS_MCP_REPLICA must be 1 to 32 letters, digits or "-", got "${v.slice(0, 40)}"`);
  }
  return v;
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function checkNames(what: string, names: string[], valid: readonly string[]): void {
  const unknown = names.filter((n) => !valid.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(`unknown ${what}: ${unknown.join(', ')}. Valid ${what}s: ${valid.join(', ')}`);
  }
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`${name} must be a positive integer, got "${value}"`);
  return n;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config | 'help' | 'version' {
  let values: Record<string, string | boolean | undefined>;
  try {
    // No arguments is the usual case of a server a client starts: nothing to parse, and util's
    // parseArgs (about 0.7 ms to load and run cold) stays out of the time to the first answer.
    values =
      argv.length === 0
        ? {}
        : parseArgs({ args: argv, allowPositionals: false, strict: true, options: OPTIONS }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values['help']) return 'help';
  if (values['version']) return 'version';
  /** The flag's value if given, else the environment variable's (undefined when neither is set). */
  const given = (key: keyof Config): string | undefined => {
    const s = settingOf(key);
    const flag = s.flag ? values[s.flag.slice(2)] : undefined;
    if (typeof flag === 'string') return flag;
    return s.env ? env[s.env] : undefined;
  };
  /** A switch or boolean setting: the flag given, or the variable on. */
  const on = (key: keyof Config): boolean => {
    const s = settingOf(key);
    return (
      (s.flag !== undefined && values[s.flag.slice(2)] === true) ||
      (s.env ? booleanSetting(s.env, env[s.env]) : false)
    );
  };
  const nonEmpty = (key: keyof Config) => given(key) || undefined;
  const fallback = (key: keyof Config) => given(key) ?? settingOf(key).default!;

  const timeScale = Number(fallback('timeScale'));
  if (!Number.isFinite(timeScale) || timeScale <= 0)
    throw new UsageError('--time-scale must be a positive number');

  const toolsetsRaw = given('toolsets');
  const toolsets = toolsetsRaw === undefined || toolsetsRaw.trim() === '' ? undefined : list(toolsetsRaw);
  if (toolsets) checkNames('toolset', toolsets, TOOLSET_NAMES);
  const tools = list(given('tools'));
  checkNames('tool', tools, ALL_TOOL_NAMES);
  const excludeTools = list(given('excludeTools'));
  checkNames('tool', excludeTools, ALL_TOOL_NAMES);

  const confirmSetting = settingOf('confirm');
  const confirm = fallback('confirm').trim().toLowerCase();
  if (!confirmSetting.choices!.includes(confirm)) {
    throw new UsageError(
      `${confirmSetting.env} must be ${confirmSetting.choices!.join(', ').replace(/, (\w+)$/, ' or $1')}, got "${confirm}"`,
    );
  }
  const portText = fallback('port');
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 (a free port) to 65535, got "${portText}"`);
  }

  const authSetting = settingOf('auth');
  const auth = fallback('auth').trim().toLowerCase();
  if (!authSetting.choices!.includes(auth)) {
    throw new UsageError(`--auth must be ${authSetting.choices!.join(' or ')}, got "${auth.slice(0, 40)}"`);
  }
  const publicUrl = url(settingOf('publicUrl').env!, nonEmpty('publicUrl'));
  const authIssuer = url(settingOf('authIssuer').env!, nonEmpty('authIssuer'));

  const host = fallback('host');
  const http = on('http');
  const token = nonEmpty('token');
  if (http && !token && auth !== 'oauth' && !isLoopbackHost(host)) {
    throw new UsageError(
      `refusing to listen on ${host}, which is not a loopback address, without FLOPS_MCP_TOKEN (clients then send "Authorization: Bearer <token>"); or bind 127.0.0.1`,
    );
  }
  const metricsPortText = given('metricsPort');
  const metricsPort =
    metricsPortText === undefined || metricsPortText.trim() === '' ? undefined : Number(metricsPortText);
  if (metricsPort !== undefined && (!/^\d+$/.test(metricsPortText!.trim()) || metricsPort > 65535)) {
    throw new UsageError(
      `--metrics-port must be a whole number from 0 (a free port) to 65535, got "${metricsPortText}"`,
    );
  }
  const drainSeconds = Number(fallback('drainSeconds'));
  if (!Number.isFinite(drainSeconds) || drainSeconds <= 0 || drainSeconds > 3600) {
    throw new UsageError(
      `${settingOf('drainSeconds').env} must be a number of seconds above 0 (at most 3600), got "${given('drainSeconds')}"`,
    );
  }
  return {
    sandbox: on('sandbox'),
    timeScale,
    apiUrl: nonEmpty('apiUrl'),
    clientId: nonEmpty('clientId'),
    apiKey: nonEmpty('apiKey'),
    tenantId: positiveInt(settingOf('tenantId').env!, given('tenantId')),
    toolsets: toolsets as Toolset[] | undefined,
    tools,
    excludeTools,
    readOnly: on('readOnly'),
    noDestructive: on('noDestructive'),
    confirm: confirm as ConfirmMode,
    auditLog: nonEmpty('auditLog'),
    logLevel: parseLogLevel(given('logLevel')),
    http,
    host,
    port,
    stateless: on('stateless'),
    token,
    allowedHosts: list(given('allowedHosts')),
    allowedOrigins: list(given('allowedOrigins')),
    authKey: authKey(given('authKey')),
    auth: auth as Config['auth'],
    publicUrl,
    authIssuer,
    // `~` is expanded where the store opens (auth/store.ts): node:os stays out of the start-up.
    authStore: fallback('authStore'),
    protect: list(given('protect')),
    safetySnapshots: on('safetySnapshots'),
    allowVms: ids(settingOf('allowVms').env!, given('allowVms')),
    allowTenants: ids(settingOf('allowTenants').env!, given('allowTenants')),
    dynamicToolsets: on('dynamicToolsets'),
    metrics: on('metrics'),
    metricsPort,
    drainSeconds,
    replica: replicaName(given('replica')),
    redisUrl: nonEmpty('redisUrl'),
    userRate: rate(settingOf('userRate').env!, given('userRate')),
    userBurst: positiveInt(settingOf('userBurst').env!, fallback('userBurst'))!,
    accountRate: rate(settingOf('accountRate').env!, given('accountRate')),
    accountBurst: positiveInt(settingOf('accountBurst').env!, fallback('accountBurst'))!,
    providerRate: rate(settingOf('providerRate').env!, given('providerRate')),
  };
}
