/**
 * What the OAuth pages and routes share: form and cookie reading, HTML and JSON answers with the
 * pages' security headers, the protected-resource metadata and the `WWW-Authenticate` challenge.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SCOPES } from './pages.js';
import type { FlopsCredentials } from './store.js';

/** `a=b; c=d` → map (first value wins). */
export function cookies(req: IncomingMessage): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!map.has(name)) map.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
  }
  return map;
}

/** An `application/x-www-form-urlencoded` body of at most 8 KiB. */
export async function readForm(req: IncomingMessage): Promise<URLSearchParams | undefined> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 8192) return undefined;
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export function sendHtml(
  res: ServerResponse,
  status: number,
  html: string,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    ...headers,
  });
  res.end(html);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    'Access-Control-Allow-Origin': '*',
    ...headers,
  });
  res.end(text);
}

export const sameText = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** The protected resource of a public URL: its origin's `/mcp`; and where its RFC 9728 metadata is. */
export const resourceOf = (publicUrl: URL): string => `${publicUrl.origin}/mcp`;
export const metadataUrlOf = (publicUrl: URL): string =>
  `${publicUrl.origin}/.well-known/oauth-protected-resource/mcp`;

/** RFC 9728: where the tokens of `resource` come from. */
export function resourceMetadata(resource: string, issuer: string): Record<string, unknown> {
  return {
    resource,
    authorization_servers: [issuer],
    scopes_supported: [...SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: 'Flops virtual servers (flops-mcp)',
  };
}

/** The protected-resource metadata routes (both RFC 9728 locations); false for other paths. */
export function serveResourceMetadata(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  metadata: () => unknown,
): boolean {
  if (
    path !== '/.well-known/oauth-protected-resource' &&
    path !== '/.well-known/oauth-protected-resource/mcp'
  )
    return false;
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET' });
    res.end();
  } else sendJson(res, 200, metadata(), { 'Cache-Control': 'public, max-age=300' });
  return true;
}

/** The `WWW-Authenticate` value of a 401 or 403 (RFC 6750, RFC 9728). */
export type Challenge = (
  error?: 'invalid_token' | 'insufficient_scope',
  scope?: readonly string[],
  description?: string,
) => string;

/** The challenge of the resource whose metadata is at `metadataUrl`. */
export function challengeFor(metadataUrl: string): Challenge {
  return (error, scope = SCOPES, description) => {
    const parts = [`resource_metadata="${metadataUrl}"`, `scope="${scope.join(' ')}"`];
    if (error) parts.unshift(`error="${error}"`);
    if (description) parts.push(`error_description="${description.replace(/["\\]/g, '')}"`);
    return `Bearer ${parts.join(', ')}`;
  };
}

/** Client ids and keys as Flops issues them: printable, no spaces, bounded. */
const PLAUSIBLE_ID = /^[\x21-\x7e]{1,64}$/;
const PLAUSIBLE_KEY = /^[\x21-\x7e]{1,256}$/;

/**
 * The Flops credentials a sign-in form carries, checked with one provider read before anything is
 * kept: the pair, or the status and message for the page (with the client id to show again, never
 * the key).
 */
export async function checkedCredentials(
  form: URLSearchParams,
  check: (creds: FlopsCredentials) => Promise<'ok' | 'refused' | 'unreachable'>,
): Promise<{ creds: FlopsCredentials } | { status: number; error: string; clientId: string }> {
  const clientId = (form.get('flops_client_id') ?? '').trim();
  const apiKey = (form.get('flops_api_key') ?? '').trim();
  if (!PLAUSIBLE_ID.test(clientId) || !PLAUSIBLE_KEY.test(apiKey)) {
    return {
      status: 400,
      error: 'Enter the client id and API key from your Flops account settings.',
      clientId: clientId.slice(0, 64),
    };
  }
  const verdict = await check({ clientId, apiKey });
  if (verdict === 'ok') return { creds: { clientId, apiKey } };
  return verdict === 'refused'
    ? { status: 401, error: 'Flops did not accept this client id and API key.', clientId }
    : {
        status: 503,
        error: 'Flops could not be reached to check the key; nothing was stored. Try again in a minute.',
        clientId,
      };
}
