/**
 * Every setting of the server, declared once: its flag, its environment variable, its default, its
 * kind and what it means. config.ts parses from this table (flags win over the environment);
 * `flops-mcp --help`, the README's settings table and server.json's environment variables are
 * generated from it (`npm run docs`), and `flops-mcp doctor` reports every setting that is set, by
 * the names here. test/settings.test.ts checks that each row is read, and that nothing else in
 * src/ reads a FLOPS_* variable.
 *
 * The bin reads it before anything else loads: plain data, and only the generated tool index.
 */
import type { Config } from './config.js';
import { TOOLSET_NAMES } from './mcp/tool-index.js';

/**
 * - `switch`: a flag without a value, on when given;
 * - `boolean`: a switch flag and/or a variable taking BOOLEAN_VALUES (below);
 * - `choice`: one of `choices`; `list`: comma-separated; `integer`, `number`, `path`, `url`, `text`;
 * - `secret`: text that is never printed, logged or returned (doctor shows its length only).
 */
export type SettingKind =
  | 'switch'
  | 'boolean'
  | 'choice'
  | 'list'
  | 'integer'
  | 'number'
  | 'path'
  | 'url'
  | 'text'
  | 'secret';

/** Where a setting matters. */
export type SettingGroup = 'account' | 'sandbox' | 'tools' | 'safety' | 'http' | 'logging';

export interface Setting {
  /** The field of Config it sets. */
  key: keyof Config;
  /** `--name`; absent: environment only. */
  flag?: `--${string}`;
  /** The flag's value as --help shows it (`N`, `a,b`); absent for switch and boolean flags. */
  arg?: string;
  /** `FLOPS_…`; absent: flag only. */
  env?: `FLOPS_${string}`;
  kind: SettingKind;
  group: SettingGroup;
  /** The default, as a value that, set explicitly, changes nothing; absent: unset. */
  default?: string;
  choices?: readonly string[];
  /** Required to serve over stdio against the live API (not with --sandbox, not over HTTP). */
  required?: true;
  /** One or two sentences for the user; no trailing period. */
  meaning: string;
}

export const SETTINGS: readonly Setting[] = [
  {
    key: 'clientId',
    env: 'FLOPS_CLIENT_ID',
    kind: 'text',
    group: 'account',
    required: true,
    meaning: "Flops API clientId (API access is granted by the provider's support on request)",
  },
  {
    key: 'apiKey',
    env: 'FLOPS_API_KEY',
    kind: 'secret',
    group: 'account',
    required: true,
    meaning: 'Flops API key',
  },
  {
    key: 'apiUrl',
    env: 'FLOPS_API_URL',
    kind: 'url',
    group: 'account',
    default: 'https://api.flops.ru/api/v1/',
    meaning: 'Base URL of the Flops API (`flops-mcp sandbox` prints the one of a standalone sandbox)',
  },
  {
    key: 'tenantId',
    env: 'FLOPS_TENANT_ID',
    kind: 'integer',
    group: 'account',
    meaning:
      "Default project (tenant) id for vm_install and pubkey_add; unset: the account's only tenant (10081 with --sandbox)",
  },
  {
    key: 'sandbox',
    flag: '--sandbox',
    kind: 'switch',
    group: 'sandbox',
    meaning: 'Serve against an in-process sandbox of the Flops API: no account needed, nothing is real',
  },
  {
    key: 'timeScale',
    flag: '--time-scale',
    arg: 'X',
    env: 'FLOPS_SANDBOX_TIME_SCALE',
    kind: 'number',
    group: 'sandbox',
    default: '1',
    meaning: 'Sandbox operation durations × X (0.1: ten times faster)',
  },
  {
    key: 'toolsets',
    flag: '--toolsets',
    arg: 'a,b',
    env: 'FLOPS_TOOLSETS',
    kind: 'list',
    group: 'tools',
    choices: TOOLSET_NAMES,
    meaning: `Expose only these toolsets (unset: all): ${TOOLSET_NAMES.join(', ')}`,
  },
  {
    key: 'tools',
    flag: '--tools',
    arg: 'x,y',
    env: 'FLOPS_TOOLS',
    kind: 'list',
    group: 'tools',
    meaning: 'Add single tools on top of the toolsets',
  },
  {
    key: 'excludeTools',
    flag: '--exclude-tools',
    arg: 'z',
    env: 'FLOPS_EXCLUDE_TOOLS',
    kind: 'list',
    group: 'tools',
    meaning: 'Never expose these tools (always wins)',
  },
  {
    key: 'readOnly',
    flag: '--read-only',
    env: 'FLOPS_READ_ONLY',
    kind: 'boolean',
    group: 'safety',
    default: 'off',
    meaning: 'Expose only tools that read; writes are refused even if called',
  },
  {
    key: 'noDestructive',
    flag: '--no-destructive',
    env: 'FLOPS_NO_DESTRUCTIVE',
    kind: 'boolean',
    group: 'safety',
    default: 'off',
    meaning: 'Drop the destructive tools',
  },
  {
    key: 'dynamicToolsets',
    flag: '--dynamic-toolsets',
    env: 'FLOPS_DYNAMIC_TOOLSETS',
    kind: 'boolean',
    group: 'tools',
    default: 'off',
    meaning:
      'Start with the catalog tools and toolsets_list / toolset_enable; the agent enables the other toolsets when it needs them',
  },
  {
    key: 'protect',
    env: 'FLOPS_PROTECT',
    kind: 'list',
    group: 'safety',
    meaning: 'VM ids and name patterns (`prod-*`, `db?`) that no destructive tool may touch',
  },
  {
    key: 'allowVms',
    env: 'FLOPS_ALLOW_VMS',
    kind: 'list',
    group: 'safety',
    meaning: 'The only VM ids the agent sees and touches; others are not found',
  },
  {
    key: 'allowTenants',
    env: 'FLOPS_ALLOW_TENANTS',
    kind: 'list',
    group: 'safety',
    meaning: 'The only tenant (project) ids whose VMs and keys the agent sees and touches',
  },
  {
    key: 'safetySnapshots',
    env: 'FLOPS_SAFETY_SNAPSHOT',
    kind: 'boolean',
    group: 'safety',
    default: 'off',
    meaning:
      'Take a snapshot named for the change, and wait for it, before reinstall, snapshot rollback, key, disk and tariff changes',
  },
  {
    key: 'confirm',
    flag: '--confirm',
    arg: 'MODE',
    env: 'FLOPS_CONFIRM',
    kind: 'choice',
    group: 'safety',
    default: 'elicit',
    choices: ['elicit', 'required', 'off'],
    meaning:
      'Confirmation of destructive tools: elicit asks the user first when the client can; required refuses when it cannot ask; off never asks (unattended automation)',
  },
  {
    key: 'auditLog',
    flag: '--audit-log',
    arg: 'PATH',
    env: 'FLOPS_AUDIT_LOG',
    kind: 'path',
    group: 'safety',
    meaning:
      'Append one JSON line per write (tool, VM, redacted arguments, confirmation, outcome) to this file',
  },
  {
    key: 'http',
    flag: '--http',
    kind: 'switch',
    group: 'http',
    meaning: 'Serve Streamable HTTP at /mcp (and GET /healthz) instead of stdio',
  },
  {
    key: 'host',
    flag: '--host',
    arg: 'H',
    env: 'FLOPS_MCP_HOST',
    kind: 'text',
    group: 'http',
    default: '127.0.0.1',
    meaning: 'HTTP bind address; beyond loopback FLOPS_MCP_TOKEN is required',
  },
  {
    key: 'port',
    flag: '--port',
    arg: 'N',
    env: 'FLOPS_MCP_PORT',
    kind: 'integer',
    group: 'http',
    default: '8787',
    meaning: 'HTTP port; 0 picks a free one',
  },
  {
    key: 'stateless',
    flag: '--stateless',
    env: 'FLOPS_MCP_STATELESS',
    kind: 'boolean',
    group: 'http',
    default: 'off',
    meaning: 'HTTP without sessions, for several replicas behind a load balancer',
  },
  {
    key: 'token',
    env: 'FLOPS_MCP_TOKEN',
    kind: 'secret',
    group: 'http',
    meaning: 'Bearer token HTTP clients must send (Authorization: Bearer …); required beyond loopback',
  },
  {
    key: 'allowedHosts',
    env: 'FLOPS_MCP_ALLOWED_HOSTS',
    kind: 'list',
    group: 'http',
    meaning: 'Extra Host names the HTTP server accepts (`name:port`, or `name` on any port), e.g. a proxy’s',
  },
  {
    key: 'allowedOrigins',
    env: 'FLOPS_MCP_ALLOWED_ORIGINS',
    kind: 'list',
    group: 'http',
    meaning: 'Extra Origins the HTTP server accepts (browser clients), e.g. https://app.example.com',
  },
  {
    key: 'authKey',
    env: 'FLOPS_MCP_AUTH_KEY',
    kind: 'secret',
    group: 'http',
    meaning:
      'At least 32 random bytes in base64 (`openssl rand -base64 32`): the key of the sealed confirmation state, task ids and, with --auth oauth, of the sign-in store; replicas share it; unset, each process makes its own',
  },
  {
    key: 'auth',
    flag: '--auth',
    arg: 'MODE',
    env: 'FLOPS_MCP_AUTH',
    kind: 'choice',
    group: 'http',
    default: 'none',
    choices: ['none', 'oauth'],
    meaning:
      'HTTP sign-in: none, or oauth (MCP authorization: a sign-in page where each user enters their Flops key once; needs FLOPS_MCP_AUTH_KEY and FLOPS_MCP_PUBLIC_URL except with --sandbox)',
  },
  {
    key: 'publicUrl',
    env: 'FLOPS_MCP_PUBLIC_URL',
    kind: 'url',
    group: 'http',
    meaning:
      'The URL clients use (e.g. https://mcp.example.com/mcp): the OAuth issuer and the resource its tokens are for',
  },
  {
    key: 'authIssuer',
    env: 'FLOPS_MCP_AUTH_ISSUER',
    kind: 'url',
    group: 'http',
    meaning:
      'With --auth oauth: an external authorization server (issuer URL) whose JWT access tokens are accepted instead of the built-in one',
  },
  {
    key: 'authStore',
    env: 'FLOPS_MCP_AUTH_STORE',
    kind: 'path',
    group: 'http',
    default: '~/.local/state/flops-mcp/auth',
    meaning:
      'With --auth oauth: the directory of the embedded sign-in store (clients, grants, token digests, encrypted Flops keys)',
  },
  {
    key: 'metrics',
    flag: '--metrics',
    env: 'FLOPS_MCP_METRICS',
    kind: 'boolean',
    group: 'http',
    default: 'off',
    meaning:
      'Serve Prometheus metrics at GET /metrics beside /mcp, behind the same Host/Origin checks and bearer token',
  },
  {
    key: 'metricsPort',
    flag: '--metrics-port',
    arg: 'N',
    env: 'FLOPS_MCP_METRICS_PORT',
    kind: 'integer',
    group: 'http',
    meaning:
      'Serve /metrics on this port of the same host instead, without the token (keep the port internal); implies --metrics',
  },
  {
    key: 'drainSeconds',
    env: 'FLOPS_MCP_DRAIN_SECONDS',
    kind: 'number',
    group: 'http',
    default: '10',
    meaning:
      'On SIGTERM the HTTP server stops accepting (new requests get 503), lets tool calls in flight finish for up to this many seconds, then answers the rest with an error and exits',
  },
  {
    key: 'replica',
    env: 'FLOPS_MCP_REPLICA',
    kind: 'text',
    group: 'http',
    meaning:
      'This replica’s name (letters, digits, `-`), put before every 2025 session id (`r1.…`) so that a load balancer can route each session to the replica that holds it (see Over HTTP)',
  },
  {
    key: 'redisUrl',
    env: 'FLOPS_REDIS_URL',
    kind: 'secret',
    group: 'http',
    meaning:
      'Redis shared by the replicas (`redis://[:password@]host:6379/0`): change notifications reach subscribers on every replica and the rate limits count for all of them; unset: each process alone, in memory',
  },
  {
    key: 'userRate',
    env: 'FLOPS_USER_RATE',
    kind: 'number',
    group: 'http',
    meaning:
      'Tool calls a minute per user (a Flops credential or a signed-in account), in bursts of up to FLOPS_USER_BURST; 0: no limit; unset: 120 with FLOPS_REDIS_URL, no limit without',
  },
  {
    key: 'userBurst',
    env: 'FLOPS_USER_BURST',
    kind: 'integer',
    group: 'http',
    default: '30',
    meaning: 'Tool calls a user may make at once before FLOPS_USER_RATE spaces them out',
  },
  {
    key: 'accountRate',
    env: 'FLOPS_ACCOUNT_RATE',
    kind: 'number',
    group: 'http',
    meaning:
      'Tool calls a minute per provider account (all its users together), in bursts of up to FLOPS_ACCOUNT_BURST; 0: no limit; unset: 600 with FLOPS_REDIS_URL, no limit without',
  },
  {
    key: 'accountBurst',
    env: 'FLOPS_ACCOUNT_BURST',
    kind: 'integer',
    group: 'http',
    default: '100',
    meaning: 'Tool calls a provider account may make at once before FLOPS_ACCOUNT_RATE spaces them out',
  },
  {
    key: 'providerRate',
    env: 'FLOPS_PROVIDER_RATE',
    kind: 'number',
    group: 'http',
    meaning:
      'Ceiling on requests a second to the Flops API from all replicas together: a read waits up to 2 s for its turn, a write is refused at once rather than delayed; unset: no ceiling',
  },
  {
    key: 'logLevel',
    env: 'FLOPS_LOG_LEVEL',
    kind: 'choice',
    group: 'logging',
    default: 'info',
    choices: ['debug', 'info', 'warn', 'error', 'silent'],
    meaning:
      'Log level: debug, info, warn, error or silent; logs go to stderr (debug: one line per tool call)',
  },
];

/** The values a boolean setting accepts (any case); anything else stops start-up, never fails open. */
export const BOOLEAN_VALUES = {
  on: ['1', 'true', 'yes', 'on'],
  off: ['0', 'false', 'no', 'off', ''],
} as const;

/** `1, true, yes, on or 0, false, no, off (any case)` */
export const BOOLEAN_TEXT = `${BOOLEAN_VALUES.on.join(', ')} or ${BOOLEAN_VALUES.off.filter(Boolean).join(', ')} (any case)`;

/** The settings by key: parseConfig looks up every one of them at each start. */
const BY_KEY = new Map(SETTINGS.map((s) => [s.key, s]));

/** The row of a Config field. */
export function settingOf(key: keyof Config): Setting {
  const setting = BY_KEY.get(key);
  if (!setting) throw new Error(`no setting declares ${key}`);
  return setting;
}

/** The meaning with what the row's kind adds (required, secret), as help, README and server.json say it. */
export function meaningOf(setting: Setting): string {
  return `${setting.meaning}${setting.required ? ' (required over stdio unless `--sandbox`)' : ''}${setting.kind === 'secret' ? '; secret: never logged, printed or returned' : ''}`;
}

/** `--confirm MODE`, `--read-only`. */
export function flagUsage(setting: Setting): string | undefined {
  return setting.flag && (setting.arg ? `${setting.flag} ${setting.arg}` : setting.flag);
}

/** `flops-mcp --help`'s Options and Environment sections, from the table. */
export function helpSettings(width = 100): string {
  const column = 25;
  const wrap = (text: string, indent: string) => {
    const lines: string[] = [];
    let line = '';
    for (const word of text.split(' ')) {
      if (line && indent.length + line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
    return lines.join(`\n${indent}`);
  };
  const entry = (left: string, text: string) => {
    const pad = ' '.repeat(column);
    const head = `  ${left}`;
    return head.length < column
      ? `${head.padEnd(column)}${wrap(text, pad)}`
      : `${head}\n${pad}${wrap(text, pad)}`;
  };
  const describe = (s: Setting) =>
    `${meaningOf(s).replace(/`/g, '')}${s.default !== undefined && s.kind !== 'boolean' ? ` [default: ${s.default}]` : ''}`;
  const options = SETTINGS.filter((s) => s.flag).map((s) =>
    entry(flagUsage(s)!, `${describe(s)}${s.env ? `. ${s.env}` : ''}`),
  );
  const environment = SETTINGS.filter((s) => s.env && !s.flag).map((s) => entry(s.env!, describe(s)));
  return [
    'Options (flags win over the environment variable named after each):',
    ...options,
    entry('-h, --help', 'show this help'),
    entry('-v, --version', 'print the version'),
    '',
    'Environment only:',
    ...environment,
    '',
    `Boolean variables take ${BOOLEAN_TEXT}; anything else stops start-up.`,
    '',
  ].join('\n');
}
