/**
 * The checks every `/mcp` request passes before it reaches the MCP transport: Host and Origin
 * allow-lists (DNS rebinding), the bearer token (constant-time), per-user credential headers, and
 * the refusal of credentials in a query string. Pure functions over header values: no I/O, no
 * logging, and no secret ever copied into a returned message.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

/** Header names of the per-user credentials (lower case, as Node presents them). */
export const CLIENT_ID_HEADER = 'x-flops-client-id';
export const API_KEY_HEADER = 'x-flops-api-key';

export interface Credentials {
  clientId: string;
  apiKey: string;
}

/** Wildcard addresses: they name no host a client could put in a Host header. */
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '::0']);

/** A dotted-quad address in 127.0.0.0/8, written as `net.isIPv4` accepts it (no leading zeros). */
const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])';
const LOOPBACK_V4 = new RegExp(`^127(?:\\.${OCTET}){3}$`);

/**
 * `127.0.0.0/8`, `::1`, `localhost` (and `*.localhost`), IPv4-mapped loopback. Without node:net:
 * the configuration (config.ts) checks it, and the bin's entry loads no more than it needs.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice('::ffff:'.length) : h;
  return LOOPBACK_V4.test(v4);
}

/** `host` as it appears in a URL authority: IPv6 literals in brackets. */
export function authorityHost(host: string): string {
  const h = host.trim().toLowerCase();
  return isIP(h) === 6 ? `[${h}]` : h;
}

/** Split a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`) into hostname and port. */
function splitHost(value: string): { hostname: string; port: string | undefined } {
  const v = value.trim().toLowerCase();
  const bracket = /^(\[[^\]]*\])(?::(\d+))?$/.exec(v);
  if (bracket) return { hostname: bracket[1]!, port: bracket[2] };
  const colon = v.lastIndexOf(':');
  if (colon > 0 && v.indexOf(':') === colon && /^\d+$/.test(v.slice(colon + 1))) {
    return { hostname: v.slice(0, colon), port: v.slice(colon + 1) };
  }
  return { hostname: v, port: undefined };
}

export interface AllowLists {
  /** Exact `host:port` values. */
  hosts: Set<string>;
  /** Hostnames allowed on any port (extra entries given without a port). */
  hostnames: Set<string>;
  /** Exact origins (`scheme://host:port`), lower case, no trailing slash. */
  origins: Set<string>;
}

/**
 * The loopback names with the server's port, the bound host (unless a wildcard), and the extra
 * entries. An extra host without a port matches that hostname on any port (a reverse proxy's name).
 */
export function allowLists(
  boundHost: string,
  port: number,
  extraHosts: readonly string[] = [],
  extraOrigins: readonly string[] = [],
): AllowLists {
  const names = ['127.0.0.1', 'localhost', '[::1]'];
  const bound = authorityHost(boundHost);
  if (!WILDCARDS.has(bound) && bound !== '') names.push(bound);
  const hosts = new Set<string>();
  const origins = new Set<string>();
  for (const name of names) {
    hosts.add(`${name}:${port}`);
    if (port === 80) hosts.add(name);
    origins.add(`http://${name}:${port}`);
    if (port === 80) origins.add(`http://${name}`);
  }
  const hostnames = new Set<string>();
  for (const entry of extraHosts) {
    const { hostname, port: p } = splitHost(entry);
    if (hostname === '') continue;
    const name = authorityHost(hostname);
    if (p === undefined) hostnames.add(name);
    else hosts.add(`${name}:${p}`);
  }
  for (const entry of extraOrigins) {
    const o = normalizeOrigin(entry);
    if (o) origins.add(o);
  }
  return { hosts, hostnames, origins };
}

function normalizeOrigin(value: string): string | undefined {
  const v = value.trim().toLowerCase().replace(/\/+$/, '');
  return v === '' ? undefined : v;
}

export function hostAllowed(header: string | undefined, lists: AllowLists): boolean {
  if (!header) return false;
  const value = header.trim().toLowerCase();
  if (lists.hosts.has(value)) return true;
  return lists.hostnames.has(splitHost(value).hostname);
}

/** An absent Origin passes (non-browser clients send none); a present one must be listed. */
export function originAllowed(header: string | undefined, lists: AllowLists): boolean {
  if (header === undefined) return true;
  const o = normalizeOrigin(header);
  return o !== undefined && lists.origins.has(o);
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** A bearer-token checker comparing SHA-256 digests in constant time. */
export function bearerChecker(token: string): (authorization: string | undefined) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    // Digest something even when the header is absent, so both paths cost the same.
    const given = digest(match?.[1] ?? '');
    return timingSafeEqual(given, expected) && match !== null;
  };
}

/** A digest identifying a pair of credentials without keeping the key itself. */
export function credentialsFingerprint(creds: Credentials): Buffer {
  return digest(`${creds.clientId.length}:${creds.clientId}\n${creds.apiKey}`);
}

export function sameFingerprint(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const t = v?.trim();
  return t === undefined || t === '' ? undefined : t;
}

export type CredentialHeaders =
  | { kind: 'none' }
  | { kind: 'some'; creds: Credentials }
  | { kind: 'invalid'; message: string };

/** The `X-Flops-Client-Id` / `X-Flops-Api-Key` pair: both or neither. */
export function readCredentialHeaders(
  headers: Record<string, string | string[] | undefined>,
): CredentialHeaders {
  const clientId = headerValue(headers[CLIENT_ID_HEADER]);
  const apiKey = headerValue(headers[API_KEY_HEADER]);
  if (clientId === undefined && apiKey === undefined) return { kind: 'none' };
  if (clientId === undefined || apiKey === undefined) {
    return {
      kind: 'invalid',
      message: 'Send both X-Flops-Client-Id and X-Flops-Api-Key, or neither',
    };
  }
  return { kind: 'some', creds: { clientId, apiKey } };
}

/** Query parameters that look like a secret or an endpoint: refused, never read. */
const FORBIDDEN_QUERY = /client.?id|api.?key|apikey|token|secret|password|auth|base.?url|api.?url|endpoint/i;

/** Names of query parameters that must not be there (their values are never looked at). */
export function forbiddenQueryParams(search: URLSearchParams): string[] {
  const names = new Set<string>();
  for (const name of search.keys()) if (FORBIDDEN_QUERY.test(name)) names.add(name);
  return [...names];
}

/** Why a request is refused before it reaches MCP: an HTTP status and a JSON-RPC error. */
export interface Refusal {
  status: number;
  code: number;
  message: string;
  headers?: Record<string, string>;
  /** For the log: what was refused (never a value from the request). */
  why: string;
  level: 'debug' | 'warn';
}

export interface GuardContext {
  lists: AllowLists;
  checkToken: ((authorization: string | undefined) => boolean) | undefined;
  stateless: boolean;
}

export interface GuardRequest {
  method: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  url: URL;
}

type Guard = (req: GuardRequest, g: GuardContext) => Refusal | undefined;

const single = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

/**
 * The guards of `/mcp`, in order: DNS rebinding (Host, then Origin), the bearer token, credentials
 * in the query string, the credential headers' shape, the HTTP method. The first refusal answers.
 */
export const GUARDS: readonly Guard[] = [
  (req, g) =>
    hostAllowed(single(req.headers['host']), g.lists)
      ? undefined
      : {
          status: 403,
          code: -32000,
          message: 'Forbidden: Host header not allowed',
          why: 'Host not allowed',
          level: 'debug',
        },
  (req, g) =>
    originAllowed(single(req.headers['origin']), g.lists)
      ? undefined
      : {
          status: 403,
          code: -32000,
          message: 'Forbidden: Origin not allowed',
          why: 'Origin not allowed',
          level: 'debug',
        },
  (req, g) => {
    const authorization = single(req.headers['authorization']);
    if (!g.checkToken || g.checkToken(authorization)) return undefined;
    return {
      status: 401,
      code: -32001,
      message: 'Unauthorized: send "Authorization: Bearer <token>"',
      headers: {
        'WWW-Authenticate': authorization
          ? 'Bearer realm="flops-mcp", error="invalid_token"'
          : 'Bearer realm="flops-mcp"',
      },
      why: 'missing or wrong bearer token',
      level: 'debug',
    };
  },
  (req) => {
    const forbidden = forbiddenQueryParams(req.url.searchParams);
    if (forbidden.length === 0) return undefined;
    return {
      status: 400,
      code: -32000,
      message: `Credentials and endpoints are never accepted in the query string (${forbidden.join(', ')}): send X-Flops-Client-Id and X-Flops-Api-Key headers`,
      why: `credentials in the query string (${forbidden.join(', ')})`,
      level: 'warn',
    };
  },
  (req) => {
    const creds = readCredentialHeaders(req.headers);
    return creds.kind === 'invalid'
      ? {
          status: 400,
          code: -32000,
          message: creds.message,
          why: 'incomplete credential headers',
          level: 'debug',
        }
      : undefined;
  },
  (req, g) =>
    req.method === 'POST' || req.method === 'GET' || req.method === 'DELETE'
      ? undefined
      : {
          status: 405,
          code: -32000,
          message: 'Method not allowed',
          headers: { Allow: g.stateless ? 'POST' : 'GET, POST, DELETE' },
          why: `method ${req.method}`,
          level: 'debug',
        },
];

/** The first guard that refuses the request, if any. */
export function refusalOf(req: GuardRequest, g: GuardContext): Refusal | undefined {
  for (const guard of GUARDS) {
    const refusal = guard(req, g);
    if (refusal) return refusal;
  }
  return undefined;
}
