/**
 * OAuth test helpers: the real OAuthServer (oidc-provider over an EmbeddedStore in a scratch
 * directory) behind the real HTTP server and sandbox of http-helpers, and a scripted browser —
 * `fetch` without redirects plus a cookie jar — that walks the authorization code flow with PKCE
 * through our sign-in page.
 */

import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FlopsClient } from '../src/api/client.js';
import { checkCredentials } from '../src/auth/index.js';
import { OAuthServer, type OAuthServerOptions } from '../src/auth/oauth.js';
import { EmbeddedStore } from '../src/auth/store.js';
import { createLogger } from '../src/log.js';
import { DEFAULT_KEY, type HttpSetup, httpSetup, raw } from './http-helpers.js';

export const SANDBOX_CREDS = { clientId: 'sandbox', apiKey: DEFAULT_KEY };

/** A cookie jar with path matching, enough for oidc-provider's and our pages' cookies. */
export class Browser {
  readonly #jar = new Map<string, { value: string; path: string }>();

  #cookieHeader(url: URL): string {
    return [...this.#jar]
      .filter(([, c]) => url.pathname === c.path || url.pathname.startsWith(c.path.replace(/\/?$/, '/')))
      .map(([name, c]) => `${name}=${c.value}`)
      .join('; ');
  }

  #keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const attr = (n: string) =>
        attrs
          .map((a) => a.trim())
          .find((a) => a.toLowerCase().startsWith(`${n}=`))
          ?.slice(n.length + 1);
      const expires = attr('expires');
      const gone =
        value === '' ||
        attr('max-age') === '0' ||
        (expires !== undefined && Date.parse(expires) < Date.now());
      if (gone) this.#jar.delete(name);
      else this.#jar.set(name, { value, path: attr('path') ?? '/' });
    }
  }

  has(name: string): boolean {
    return this.#jar.has(name);
  }

  /** A cookie as another site or a forger would set it. */
  set(name: string, value: string, path = '/'): void {
    this.#jar.set(name, { value, path });
  }

  get(name: string): string | undefined {
    return this.#jar.get(name)?.value;
  }

  forget(name: string): void {
    this.#jar.delete(name);
  }

  /** One request, redirects not followed. */
  async go(url: string | URL, init: { method?: string; form?: URLSearchParams } = {}): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = {};
    const cookie = this.#cookieHeader(target);
    if (cookie) headers['cookie'] = cookie;
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(target, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      redirect: 'manual',
      ...(init.form ? { body: init.form.toString() } : {}),
    });
    this.#keep(res);
    return res;
  }

  /**
   * Follows redirects while they stay on `origin`; the last answer, and the first Location that
   * leaves the origin (the client's redirect_uri), if any.
   */
  async follow(
    origin: string,
    url: string | URL,
    init: { method?: string; form?: URLSearchParams } = {},
  ): Promise<{ res: Response; url: URL; away?: URL }> {
    let current = new URL(url, origin);
    let res = await this.go(current, init);
    for (let hops = 0; hops < 10; hops++) {
      const location = res.headers.get('location');
      if (res.status < 300 || res.status >= 400 || !location) return { res, url: current };
      const next = new URL(location, current);
      if (next.origin !== origin) return { res, url: current, away: next };
      await res.body?.cancel();
      current = next;
      res = await this.go(current);
    }
    throw new Error('too many redirects');
  }
}

export const pkcePair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/** The hidden csrf field of one of our pages. */
export function csrfOf(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no csrf field in the page: ${html.slice(0, 300)}`);
  return match[1]!;
}

export interface TokenReply {
  status: number;
  body: {
    access_token?: string;
    refresh_token?: string;
    scope?: string;
    error?: string;
    error_description?: string;
    token_type?: string;
    expires_in?: number;
  };
}

export interface OAuthHarness {
  setup: HttpSetup;
  oauth: OAuthServer;
  store: EmbeddedStore;
  storeDir: string;
  origin: string;
  /** The protected resource, `<origin>/mcp`. */
  resource: string;
  authKey: Buffer;
  /** The OAuth server's own log lines (the HTTP server's are in setup.logs). */
  oauthLogs: string[];
  register(
    metadata?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown>; retryAfter: string | null }>;
  /** Registers a public client with `redirect` (and `also`) as its redirect URIs; its client_id. */
  client(redirect?: string, also?: string[]): Promise<string>;
  authorizeUrl(p: AuthorizeParams): URL;
  /** Authorize → sign-in page → form → redirect_uri; the redirect's query. */
  signIn(p: SignInParams): Promise<{ query: URLSearchParams; verifier: string; redirect: URL }>;
  token(params: Record<string, string>): Promise<TokenReply>;
  /** The refresh grant for this resource (`extra`: a scope asked for, …). */
  refresh(refreshToken: string, clientId: string, extra?: Record<string, string>): Promise<TokenReply>;
  /** Sign-in and code exchange in one. */
  tokens(p: SignInParams): Promise<TokenReply['body'] & { access_token: string }>;
  mcp(accessToken: string | undefined, body: unknown): ReturnType<typeof raw>;
  /** Every key and value in the LMDB files, as text (the store is not compressed). */
  rawStore(): string;
  close(): Promise<void>;
}

export interface AuthorizeParams {
  clientId: string;
  redirectUri: string;
  scope?: string;
  challenge?: string | undefined;
  method?: string | undefined;
  resource?: string | undefined;
  state?: string;
}

export interface SignInParams {
  clientId: string;
  redirectUri: string;
  browser?: Browser;
  scope?: string;
  /** The boxes ticked on the form (flops:read is always sent, as the page's hidden field does). */
  tick?: string[];
  creds?: { clientId: string; apiKey: string };
}

export const CALLBACK = 'http://127.0.0.1:9/callback';

export async function oauthHarness(
  options: Partial<Omit<OAuthServerOptions, 'publicUrl' | 'authKey' | 'log' | 'checkCredentials'>> & {
    store?: EmbeddedStore;
    storeDir?: string;
    authKey?: Buffer;
    /** The public URL (default: the server's own address), e.g. an https one behind a proxy. */
    publicUrl?: URL;
  } = {},
): Promise<OAuthHarness> {
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), 'flops-oauth-test-'));
  const ownStore = options.store === undefined;
  const store = options.store ?? (await EmbeddedStore.open(storeDir));
  const authKey = options.authKey ?? randomBytes(32);
  const oauthLogs: string[] = [];
  let oauth: OAuthServer | undefined;
  // Assigned once httpSetup returns; the credential check runs only at sign-in, after that.
  let sandboxUrl = '';
  const { store: _s, storeDir: _d, authKey: _k, publicUrl, ...rest } = options;
  const setup = await httpSetup({
    oauth: async (url) => {
      oauth = await OAuthServer.create({
        publicUrl: publicUrl ?? new URL(url.origin),
        authKey,
        store,
        log: createLogger({ level: 'debug', write: (line) => oauthLogs.push(line) }),
        checkCredentials: (creds) =>
          checkCredentials((c) => new FlopsClient({ baseUrl: sandboxUrl, ...c, retryBaseMs: 20 }), creds),
        ...rest,
      });
      return oauth;
    },
  });
  sandboxUrl = setup.sandbox.url;
  const origin = new URL(setup.url).origin;
  const resource = `${origin}/mcp`;

  const register: OAuthHarness['register'] = async (metadata = {}, headers = {}) => {
    const res = await fetch(`${origin}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({
        client_name: 'Test assistant',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        ...metadata,
      }),
    });
    return {
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
      retryAfter: res.headers.get('retry-after'),
    };
  };

  const authorizeUrl = (p: AuthorizeParams): URL => {
    const url = new URL('/oauth/authorize', origin);
    const q = url.searchParams;
    q.set('response_type', 'code');
    q.set('client_id', p.clientId);
    q.set('redirect_uri', p.redirectUri);
    q.set('scope', p.scope ?? 'flops:read flops:write flops:destroy');
    q.set('state', p.state ?? 'state-1');
    if (p.challenge !== undefined) q.set('code_challenge', p.challenge);
    if (p.method !== undefined) q.set('code_challenge_method', p.method);
    if (p.resource !== undefined) q.set('resource', p.resource);
    return url;
  };

  const token: OAuthHarness['token'] = async (params) => {
    const res = await fetch(`${origin}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    return { status: res.status, body: (await res.json()) as TokenReply['body'] };
  };

  const signIn: OAuthHarness['signIn'] = async (p) => {
    const browser = p.browser ?? new Browser();
    const { verifier, challenge } = pkcePair();
    const start = await browser.follow(
      origin,
      authorizeUrl({
        clientId: p.clientId,
        redirectUri: p.redirectUri,
        challenge,
        method: 'S256',
        resource,
        ...(p.scope ? { scope: p.scope } : {}),
      }),
    );
    if (start.res.status !== 200 || !start.url.pathname.startsWith('/oauth/interaction/')) {
      throw new Error(`no sign-in page: ${start.res.status} ${start.url} ${start.away ?? ''}`);
    }
    const form = new URLSearchParams({ csrf: csrfOf(await start.res.text()), action: 'allow' });
    const creds = p.creds ?? SANDBOX_CREDS;
    form.set('flops_client_id', creds.clientId);
    form.set('flops_api_key', creds.apiKey);
    form.append('scope', 'flops:read');
    for (const s of p.tick ?? ['flops:write']) form.append('scope', s);
    const done = await browser.follow(origin, start.url, { form });
    if (!done.away) throw new Error(`no redirect to the client: ${done.res.status} ${await done.res.text()}`);
    return { query: done.away.searchParams, verifier, redirect: done.away };
  };

  const tokens: OAuthHarness['tokens'] = async (p) => {
    const { query, verifier } = await signIn(p);
    const code = query.get('code');
    if (!code) throw new Error(`no code: ${query}`);
    const reply = await token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: p.redirectUri,
      client_id: p.clientId,
      code_verifier: verifier,
      resource,
    });
    if (reply.status !== 200 || !reply.body.access_token) {
      throw new Error(`token: ${reply.status} ${JSON.stringify(reply.body)}`);
    }
    return reply.body as TokenReply['body'] & { access_token: string };
  };

  return {
    setup,
    get oauth() {
      return oauth!;
    },
    store,
    storeDir,
    origin,
    resource,
    authKey,
    oauthLogs,
    register,
    client: async (redirect = CALLBACK, also = []) => {
      const reply = await register({ redirect_uris: [redirect, ...also] });
      if (reply.status !== 201)
        throw new Error(`registration: ${reply.status} ${JSON.stringify(reply.body)}`);
      return String(reply.body['client_id']);
    },
    authorizeUrl,
    signIn,
    token,
    refresh: (refreshToken, clientId, extra = {}) =>
      token({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: clientId,
        resource,
        ...extra,
      }),
    tokens,
    mcp: (accessToken, body) =>
      raw(`${origin}/mcp`, {
        body,
        headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {},
      }),
    rawStore: () =>
      readdirSync(storeDir)
        .map((f) => readFileSync(join(storeDir, f)).toString('latin1'))
        .join('\n'),
    close: async () => {
      await setup.close();
      if (ownStore) {
        await store.close();
        rmSync(storeDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * An authorization request the server must refuse on its own page: 400 and no redirect (to the
 * attacker's or any URI). The page's text.
 */
export async function refusedOnPage(
  h: Pick<OAuthHarness, 'authorizeUrl' | 'resource'>,
  p: Omit<AuthorizeParams, 'method' | 'resource'>,
): Promise<string> {
  const res = await new Browser().go(h.authorizeUrl({ method: 'S256', resource: h.resource, ...p }));
  expect(res.status).toBe(400);
  expect(res.headers.get('location')).toBeNull();
  return res.text();
}
