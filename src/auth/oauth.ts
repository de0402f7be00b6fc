/**
 * Sign-in with OAuth (`--auth oauth`): flops-mcp as its own authorization server and as the
 * protected resource `/mcp`, for hosts that speak only MCP authorization (claude.ai, ChatGPT,
 * Claude Desktop connectors).
 *
 * The protocol is oidc-provider's (OpenID Certified): authorization code with PKCE (S256 only),
 * dynamic client registration and client ID metadata documents, resource indicators (every access
 * token is bound to this server's `/mcp`), refresh tokens that rotate, the `iss` response parameter,
 * revocation. Written here: the storage adapter (store.ts), the sign-in and account pages
 * (pages.ts), the protected-resource metadata, and the checks of `/mcp` requests (`authenticate`).
 *
 * A user's Flops client id and API key are entered once on the sign-in page, checked with one
 * provider read, and kept encrypted (CredentialVault); tokens carry only an opaque account id.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { type AccountPage, accountPage, messagePage, SCOPES, type Scope, signInPage } from './pages.js';
import {
  type AuthStore,
  CredentialVault,
  deriveKey,
  digestOf,
  type FlopsCredentials,
  macOf,
} from './store.js';
import {
  type Challenge,
  challengeFor,
  checkedCredentials,
  cookies,
  metadataUrlOf,
  readForm,
  resourceMetadata,
  resourceOf,
  sameText,
  sendHtml,
  sendJson,
  serveResourceMetadata,
} from './web.js';

export { SCOPES, type Scope } from './pages.js';

/** What a provider read says of a pair of credentials. */
export type CredentialCheck = 'ok' | 'refused' | 'unreachable';

export interface OAuthServerOptions {
  /** The server's public origin, e.g. `https://mcp.example.com`: the issuer; `/mcp` is the resource. */
  publicUrl: URL;
  authKey: Uint8Array;
  store: AuthStore;
  log: Logger;
  /** One provider read with these credentials. */
  checkCredentials: (creds: FlopsCredentials) => Promise<CredentialCheck>;
  /** Access-token lifetime, seconds. Default 900. */
  accessTokenTtl?: number;
  /** Dynamic registrations a day (all addresses) and a minute (one address). Default 1,000 and 10. */
  maxRegistrationsPerDay?: number;
  maxRegistrationsPerMinute?: number;
  /** The fetch the client metadata documents are read with (tests); default the global fetch. */
  fetch?: typeof fetch;
}

/** The caller of a `/mcp` request, from its access token. */
export interface OAuthIdentity {
  accountId: string;
  clientId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt: number;
  credentials: FlopsCredentials;
}

/** Token models whose ids are secrets the client holds; stored only by digest. */
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

/**
 * Models whose id is itself a bearer secret. oidc-provider repeats the id in the payload (`jti`):
 * it is left out of the stored value and put back on `find`, which is given the id.
 */
const SECRET_ID = new Set([...GRANTABLE, 'RegistrationAccessToken', 'ClientCredentials']);

/** oidc-provider's storage adapter over an AuthStore: ids by digest, a grant's tokens in a set. */
function adapterFor(store: AuthStore) {
  return class StoreAdapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }
    key(id: string): string {
      return `oidc:${this.model}:${digestOf(id)}`;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      const key = this.key(id);
      const { jti: _secret, ...rest } = payload;
      await store.set(key, SECRET_ID.has(this.model) ? rest : payload, expiresIn);
      if (this.model === 'Session' && typeof payload['uid'] === 'string') {
        await store.set(`oidc:SessionUid:${payload['uid']}`, key, expiresIn);
      }
      const grantId = payload['grantId'];
      if (GRANTABLE.has(this.model) && typeof grantId === 'string') {
        await store.addToSet(`oidc:GrantTokens:${grantId}`, key, expiresIn);
      }
      if (this.model === 'Grant' && typeof payload['accountId'] === 'string') {
        await store.addToSet(`acct:${payload['accountId']}:grants`, id, expiresIn);
      }
    }
    async find(id: string): Promise<unknown> {
      const payload = await store.get<Record<string, unknown>>(this.key(id));
      return payload && SECRET_ID.has(this.model) ? { ...payload, jti: id } : payload;
    }
    async findByUid(uid: string): Promise<unknown> {
      const key = await store.get<string>(`oidc:SessionUid:${uid}`);
      return key === undefined ? undefined : store.get(key);
    }
    async findByUserCode(): Promise<undefined> {
      return undefined; // the device flow is off
    }
    async consume(id: string): Promise<void> {
      const key = this.key(id);
      const entry = await store.getWithTtl<Record<string, unknown>>(key);
      if (entry) await store.set(key, { ...entry.value, consumed: Math.floor(Date.now() / 1000) }, entry.ttl);
    }
    async destroy(id: string): Promise<void> {
      const key = this.key(id);
      const payload = await store.get<Record<string, unknown>>(key);
      await store.delete(key);
      if (this.model === 'Grant' && typeof payload?.['accountId'] === 'string') {
        await store.removeFromSet(`acct:${payload['accountId']}:grants`, id);
      }
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      const index = `oidc:GrantTokens:${grantId}`;
      for (const key of await store.members(index)) await store.delete(key);
      await store.delete(index);
    }
  };
}

/** An Ed25519 signing key derived from the auth key: every replica signs with the same one. */
function signingJwk(authKey: Uint8Array): Record<string, string> {
  const seed = deriveKey(authKey, 'signing');
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const jwk = key.export({ format: 'jwk' }) as Record<string, string>;
  const kid = digestOf(JSON.stringify(createPublicKey(key).export({ format: 'jwk' }))).slice(0, 16);
  return { ...jwk, kid, alg: 'EdDSA', use: 'sig' };
}

export class OAuthServer {
  readonly issuer: string;
  readonly resource: string;
  readonly metadataUrl: string;
  readonly #o: OAuthServerOptions;
  readonly #vault: CredentialVault;
  readonly #csrfKey: Buffer;
  readonly #accountKey: Buffer;
  readonly #secure: boolean;
  // oidc-provider's types are loose (its own d.ts is not shipped): the few calls used are typed below.
  readonly #provider: ProviderLike;
  readonly #callback: (req: IncomingMessage, res: ServerResponse) => void;

  private constructor(o: OAuthServerOptions, provider: ProviderLike, vault: CredentialVault) {
    this.#o = o;
    this.issuer = o.publicUrl.origin;
    this.resource = resourceOf(o.publicUrl);
    this.metadataUrl = metadataUrlOf(o.publicUrl);
    this.challenge = challengeFor(this.metadataUrl);
    this.#vault = vault;
    this.#csrfKey = deriveKey(o.authKey, 'csrf');
    this.#accountKey = deriveKey(o.authKey, 'account');
    this.#secure = o.publicUrl.protocol === 'https:';
    this.#provider = provider;
    this.#callback = provider.callback();
  }

  static async create(o: OAuthServerOptions): Promise<OAuthServer> {
    const { default: Provider, errors } = await import('oidc-provider');
    const issuer = o.publicUrl.origin;
    const resource = resourceOf(o.publicUrl);
    const vault = new CredentialVault(o.authKey, o.store);
    const ttl = o.accessTokenTtl ?? 900;
    const secure = o.publicUrl.protocol === 'https:';
    const config = {
      adapter: adapterFor(o.store),
      clients: [],
      findAccount: async (_ctx: unknown, sub: string) =>
        (await vault.get(sub)) ? { accountId: sub, claims: async () => ({ sub }) } : undefined,
      // Named here too, so that client metadata and discovery may list them; granted per resource.
      scopes: ['openid', 'offline_access', ...SCOPES],
      claims: { openid: ['sub'] },
      cookies: {
        keys: [deriveKey(o.authKey, 'cookies').toString('base64')],
        long: { signed: true, secure, sameSite: 'lax' },
        short: { signed: true, secure, sameSite: 'lax' },
      },
      jwks: { keys: [signingJwk(o.authKey)] },
      enabledJWA: { idTokenSigningAlgValues: ['EdDSA'] },
      clientDefaults: {
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        id_token_signed_response_alg: 'EdDSA',
      },
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: true },
        revocation: { enabled: true },
        userinfo: { enabled: false },
        clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, indicator: string) => {
            if (indicator !== resource)
              throw new errors.InvalidTarget(`this server only issues tokens for ${resource}`);
            return {
              scope: SCOPES.join(' '),
              audience: resource,
              accessTokenTTL: ttl,
              accessTokenFormat: 'opaque',
            };
          },
        },
      },
      pkce: { required: () => true },
      // Every client that may use refresh tokens gets one, and each use rotates it.
      issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(t: string): boolean }) =>
        client.grantTypeAllowed('refresh_token'),
      rotateRefreshToken: true,
      // The grant this browser gave the client before, unless the client now asks for a scope the
      // user declined then: the user is asked again (step-up after a refusal).
      loadExistingGrant: async (ctx: GrantContext) => {
        const justGiven = ctx.oidc.result?.consent?.grantId;
        const grantId = justGiven ?? ctx.oidc.session?.grantIdFor(ctx.oidc.client.clientId);
        if (!grantId) return undefined;
        const grant = await ctx.oidc.provider.Grant.find(grantId);
        if (!grant || justGiven) return grant;
        const declined =
          `${grant.getRejectedResourceScope(resource) ?? ''} ${grant.getRejectedOIDCScope() ?? ''}`.split(
            ' ',
          );
        const asked = String(ctx.oidc.params['scope'] ?? '').split(' ');
        return asked.some((s) => s !== '' && declined.includes(s)) ? undefined : grant;
      },
      routes: {
        authorization: '/oauth/authorize',
        token: '/oauth/token',
        registration: '/oauth/register',
        revocation: '/oauth/revoke',
        jwks: '/oauth/jwks',
        end_session: '/oauth/logout',
        userinfo: '/oauth/userinfo',
        introspection: '/oauth/introspect',
        code_verification: '/oauth/device',
        device_authorization: '/oauth/device/auth',
        pushed_authorization_request: '/oauth/par',
        backchannel_authentication: '/oauth/backchannel',
        challenge: '/oauth/challenge',
      },
      ttl: {
        AccessToken: ttl,
        AuthorizationCode: 60,
        RefreshToken: 30 * 86_400,
        Grant: 30 * 86_400,
        Session: 14 * 86_400,
        Interaction: 30 * 60,
        IdToken: 3600,
      },
      interactions: {
        url: (_ctx: unknown, interaction: { uid: string }) => `/oauth/interaction/${interaction.uid}`,
      },
      renderError: async (
        ctx: { type: string; body: string },
        out: { error: string; error_description?: string },
      ) => {
        ctx.type = 'html';
        ctx.body = messagePage(
          'Sign-in failed',
          `${out.error}${out.error_description ? `: ${out.error_description}` : ''}`,
        );
      },
      ...(o.fetch ? { fetch: o.fetch } : {}),
    };
    const provider = new Provider(issuer, config as never) as unknown as ProviderLike;
    // RFC 6749 §3.3: a request without `scope` gets the default, every flops scope; the user
    // chooses on the sign-in page what is granted.
    provider.use(async (ctx: KoaLike, next: () => Promise<void>) => {
      if (ctx.path === '/oauth/authorize' && ctx.method === 'GET' && !ctx.query['scope']) {
        ctx.query = { ...ctx.query, scope: SCOPES.join(' ') };
      }
      await next();
    });
    // Behind a TLS-terminating proxy the connection is plain HTTP: trust its X-Forwarded-Proto.
    provider.proxy = secure;
    provider.on('server_error', (_ctx: unknown, err: Error) =>
      o.log.error('oauth server error', { error: err.message }),
    );
    return new OAuthServer(o, provider, vault);
  }

  /** The `WWW-Authenticate` value of a 401 or 403. */
  readonly challenge: Challenge;

  /**
   * The caller of a `/mcp` request from its `Authorization` header: an access token of this server,
   * unexpired, unrevoked, for this resource, of an account whose credentials are still kept.
   */
  async authenticate(authorization: string | undefined): Promise<OAuthIdentity | undefined> {
    const match = /^Bearer[ \t]+([\x21-\x7e]{1,512})[ \t]*$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const token = await this.#provider.AccessToken.find(match[1]!).catch(() => undefined);
    if (!token || typeof token.accountId !== 'string') return undefined;
    const audiences = Array.isArray(token.aud) ? token.aud : [token.aud];
    if (!audiences.includes(this.resource)) return undefined;
    const credentials = await this.#vault.get(token.accountId);
    if (!credentials) return undefined;
    return {
      accountId: token.accountId,
      clientId: token.clientId,
      scopes: (token.scope ?? '').split(' ').filter(Boolean),
      expiresAt: token.exp,
      credentials,
    };
  }

  /** Serves the OAuth routes; false when the path is not one of them. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const path = url.pathname;
    if (serveResourceMetadata(req, res, path, () => resourceMetadata(this.resource, this.issuer)))
      return true;
    if (path === '/.well-known/oauth-authorization-server' || path === '/.well-known/openid-configuration') {
      // RFC 8414 and OpenID discovery: the same document.
      req.url = `/.well-known/openid-configuration${url.search}`;
      this.#callback(req, res);
      return true;
    }
    if (!path.startsWith('/oauth/')) return false;
    const interaction = /^\/oauth\/interaction\/([\w-]{1,64})$/.exec(path);
    if (interaction) await this.#interaction(req, res, interaction[1]!);
    else if (path === '/oauth/account') await this.#account(req, res);
    else if (
      path === '/oauth/register' &&
      req.method === 'POST' &&
      !(await this.#registrationAllowed(req, res))
    ) {
      // refused with 429
    } else this.#callback(req, res);
    return true;
  }

  async #registrationAllowed(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    // Behind the TLS proxy an https public URL implies, the client is the address that proxy
    // appended last to X-Forwarded-For (earlier entries are the client's own say).
    const forwarded = this.#secure
      ? String(req.headers['x-forwarded-for'] ?? '')
          .split(',')
          .at(-1)
          ?.trim()
      : undefined;
    const address = forwarded || req.socket.remoteAddress || 'unknown';
    const minute = Math.floor(Date.now() / 60_000);
    const day = Math.floor(Date.now() / 86_400_000);
    const perMinute = await this.#o.store.incr(`reg:addr:${digestOf(address)}:${minute}`, 60);
    const perDay = await this.#o.store.incr(`reg:day:${day}`, 86_400);
    const limited =
      perMinute > (this.#o.maxRegistrationsPerMinute ?? 10)
        ? 60 - (Math.floor(Date.now() / 1000) % 60)
        : perDay > (this.#o.maxRegistrationsPerDay ?? 1000)
          ? 86_400 - (Math.floor(Date.now() / 1000) % 86_400)
          : 0;
    if (limited === 0) return true;
    this.#o.log.warn('oauth: client registration refused (rate limit)');
    sendJson(
      res,
      429,
      {
        error: 'invalid_client_metadata',
        error_description: 'Too many client registrations: try again later',
      },
      { 'Retry-After': String(limited) },
    );
    return false;
  }

  #csrf(scope: string): string {
    return macOf(this.#csrfKey, scope);
  }

  #scopesRequested(params: Record<string, unknown>): Scope[] {
    const asked = String(params['scope'] ?? '').split(' ');
    const scopes = SCOPES.filter((s) => asked.includes(s));
    return scopes.length > 0 ? scopes : [...SCOPES];
  }

  async #interaction(req: IncomingMessage, res: ServerResponse, uid: string): Promise<void> {
    // Another browser's sign-in, a used one, or an expired one.
    const details = await this.#provider.interactionDetails(req, res).catch(() => undefined);
    if (details?.uid !== uid) {
      const why = 'This sign-in link is no longer valid: start again from your assistant.';
      sendHtml(res, 400, messagePage('Sign-in expired', why));
      return;
    }
    const clientId = String(details.params['client_id'] ?? '');
    const client = await this.#provider.Client.find(clientId).catch(() => undefined);
    const requested = this.#scopesRequested(details.params);
    const redirect = URL.parse(String(details.params['redirect_uri'] ?? ''));
    const signedIn = details.prompt.name === 'consent' ? details.session?.accountId : undefined;
    const signedInCreds = signedIn ? await this.#vault.get(signedIn) : undefined;
    const base = {
      action: `/oauth/interaction/${uid}`,
      csrf: this.#csrf(`interaction:${uid}`),
      clientName: client?.clientName ?? clientId,
      redirectHost: redirect?.host ?? '',
      requested,
      ...(signedInCreds ? { signedInAs: signedInCreds.clientId } : {}),
    };
    if (req.method === 'GET') {
      sendHtml(res, 200, signInPage(base));
      return;
    }
    if (req.method !== 'POST') {
      sendHtml(res, 405, messagePage('Not allowed', 'Use the form.'), { Allow: 'GET, POST' });
      return;
    }
    const form = await readForm(req);
    if (!form || !sameText(form.get('csrf') ?? '', base.csrf)) {
      sendHtml(
        res,
        403,
        messagePage(
          'Sign-in refused',
          'The form was not sent from this page: start again from your assistant.',
        ),
      );
      return;
    }
    const action = form.get('action');
    if (action === 'deny') {
      await this.#provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'The user denied access' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    if (action === 'switch' || (!signedInCreds && details.prompt.name === 'consent')) {
      // Forget the browser's sign-in: the page asks for credentials again.
      sendHtml(res, 200, signInPage({ ...base, signedInAs: undefined } as never));
      return;
    }
    let accountId = signedIn;
    if (!signedInCreds || form.has('flops_client_id')) {
      const { signedInAs: _drop, ...fresh } = base;
      const checked = await checkedCredentials(form, this.#o.checkCredentials);
      if ('status' in checked) {
        const page = signInPage({ ...fresh, flopsClientId: checked.clientId, error: checked.error });
        sendHtml(res, checked.status, page);
        return;
      }
      accountId = this.accountIdOf(checked.creds.clientId);
      await this.#vault.put(accountId, checked.creds);
    }
    const chosen = SCOPES.filter(
      (s) => s === 'flops:read' || (form.getAll('scope').includes(s) && requested.includes(s)),
    );
    const grant = details.grantId
      ? ((await this.#provider.Grant.find(details.grantId)) ??
        new this.#provider.Grant({ accountId: accountId!, clientId }))
      : new this.#provider.Grant({ accountId: accountId!, clientId });
    const missing = details.prompt.details;
    // The flops scopes are named among the server's scopes too (client metadata may list them):
    // granted and declined alike on both sides, so that the prompt is answered.
    const refused = requested.filter((s) => !chosen.includes(s));
    // The login prompt comes first and names no missing scope: take the request's own.
    const asked = String(details.params['scope'] ?? '').split(' ');
    const oidc = [...(missing.missingOIDCScope ?? []), ...asked].filter(
      (s) => s === 'openid' || s === 'offline_access',
    );
    grant.addOIDCScope([...oidc, ...chosen].join(' '));
    if (refused.length > 0) grant.rejectOIDCScope(refused.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    grant.addResourceScope(this.resource, chosen.join(' '));
    if (refused.length > 0) grant.rejectResourceScope(this.resource, refused.join(' '));
    const grantId = await grant.save();
    this.#o.log.info('oauth: access granted', { client: clientId.slice(0, 80), scopes: chosen.join(' ') });
    // The account page of this browser opens without signing in again.
    res.setHeader('Set-Cookie', this.#accountCookie(accountId));
    await this.#provider.interactionFinished(
      req,
      res,
      { login: { accountId: accountId! }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }

  /** A stable account id for a Flops client id, meaningless without the auth key. */
  accountIdOf(flopsClientId: string): string {
    return macOf(this.#accountKey, `flops:${flopsClientId}`).slice(0, 24);
  }

  #accountCookie(accountId: string | undefined): string {
    const attrs = `Path=/oauth/account; HttpOnly; SameSite=Strict${this.#secure ? '; Secure' : ''}`;
    if (!accountId) return `flops_account=; Max-Age=0; ${attrs}`;
    const until = Math.floor(Date.now() / 1000) + 3600;
    const value = `${accountId}.${until}`;
    return `flops_account=${value}.${macOf(this.#accountKey, `cookie:${value}`)}; Max-Age=3600; ${attrs}`;
  }

  #accountFromCookie(req: IncomingMessage): string | undefined {
    const [id, until, mac] = (cookies(req).get('flops_account') ?? '').split('.');
    if (!id || !until || !mac) return undefined;
    if (!sameText(mac, macOf(this.#accountKey, `cookie:${id}.${until}`))) return undefined;
    return Number(until) > Date.now() / 1000 ? id : undefined;
  }

  /** An account's connections: one per client (a step-up may have added a grant), scopes merged. */
  async connections(accountId: string): Promise<AccountPage['account'] & object> {
    const creds = await this.#vault.get(accountId);
    const byClient = new Map<string, { client: string; scopes: Set<string>; exp: number }>();
    for (const grantId of await this.#o.store.members(`acct:${accountId}:grants`)) {
      const grant = await this.#provider.Grant.find(grantId).catch(() => undefined);
      if (!grant) continue;
      let entry = byClient.get(grant.clientId);
      if (!entry) {
        const client = await this.#provider.Client.find(grant.clientId).catch(() => undefined);
        entry = {
          client: client?.clientName ? `${client.clientName} (${grant.clientId})` : grant.clientId,
          scopes: new Set(),
          exp: 0,
        };
        byClient.set(grant.clientId, entry);
      }
      // The same scopes are granted on the resource and among the server's scopes (see #interaction).
      const granted = `${grant.getResourceScope(this.resource) ?? ''} ${grant.getOIDCScope() ?? ''}`;
      for (const s of granted.split(' ')) if (s) entry.scopes.add(s);
      entry.exp = Math.max(entry.exp, grant.exp ?? 0);
    }
    return {
      flopsClientId: creds?.clientId ?? '?',
      connections: [...byClient].map(([clientId, e]) => ({
        clientId,
        client: e.client,
        scopes: SCOPES.filter((s) => e.scopes.has(s)),
        expires: e.exp ? new Date(e.exp * 1000).toISOString().slice(0, 16).replace('T', ' ') : '',
      })),
    };
  }

  /** Ends an account's connection with one client: its grants and every token issued under them. */
  async revokeClient(accountId: string, clientId: string): Promise<number> {
    let n = 0;
    for (const grantId of await this.#o.store.members(`acct:${accountId}:grants`)) {
      const grant = await this.#provider.Grant.find(grantId).catch(() => undefined);
      if (grant?.clientId === clientId && (await this.revokeGrant(accountId, grantId))) n++;
    }
    return n;
  }

  /** Ends one connection: the grant and every token issued under it. */
  async revokeGrant(accountId: string, grantId: string): Promise<boolean> {
    const grant = await this.#provider.Grant.find(grantId).catch(() => undefined);
    if (!grant || grant.accountId !== accountId) return false;
    await grant.destroy();
    await this.#provider.Grant.adapter.revokeByGrantId(grantId);
    return true;
  }

  /** Ends every connection of an account and forgets its credentials (the operator's `auth revoke`). */
  async revokeAccount(accountId: string): Promise<number> {
    let n = 0;
    for (const grantId of await this.#o.store.members(`acct:${accountId}:grants`)) {
      if (await this.revokeGrant(accountId, grantId)) n++;
    }
    await this.#o.store.delete(`acct:${accountId}:grants`);
    await this.#vault.forget(accountId);
    return n;
  }

  async accounts(): Promise<string[]> {
    return this.#vault.accounts();
  }

  async #account(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const jar = cookies(req);
    let csrf = jar.get('flops_csrf');
    const setCsrf: string[] = [];
    if (!csrf || !/^[\w-]{20,64}$/.test(csrf)) {
      csrf = digestOf(`${Math.random()}${process.hrtime.bigint()}${crypto.randomUUID()}`).slice(0, 32);
      setCsrf.push(
        `flops_csrf=${csrf}; Path=/oauth/account; HttpOnly; SameSite=Strict${this.#secure ? '; Secure' : ''}`,
      );
    }
    let accountId = this.#accountFromCookie(req);
    const render = async (
      status: number,
      extra: { message?: string; error?: string } = {},
      cookie?: string,
    ) => {
      const account =
        accountId && (await this.#vault.get(accountId)) ? await this.connections(accountId) : undefined;
      sendHtml(res, status, accountPage({ csrf: csrf!, ...(account ? { account } : {}), ...extra }), {
        'Set-Cookie': [...setCsrf, ...(cookie ? [cookie] : [])],
      });
    };
    if (req.method === 'GET') return render(200);
    if (req.method !== 'POST') return render(405);
    const form = await readForm(req);
    if (!form || !jar.get('flops_csrf') || !sameText(form.get('csrf') ?? '', jar.get('flops_csrf')!)) {
      sendHtml(res, 403, messagePage('Refused', 'The form was not sent from this page.'));
      return;
    }
    const action = form.get('action');
    if (action === 'login') {
      const checked = await checkedCredentials(form, this.#o.checkCredentials);
      if ('status' in checked) {
        accountId = undefined;
        return render(checked.status, { error: checked.error });
      }
      accountId = this.accountIdOf(checked.creds.clientId);
      // The key that was just checked replaces the kept one.
      await this.#vault.put(accountId, checked.creds);
      return render(200, {}, this.#accountCookie(accountId));
    }
    if (!accountId) return render(401, { error: 'Sign in first.' });
    if (action === 'revoke') {
      const ok = (await this.revokeClient(accountId, form.get('client') ?? '')) > 0;
      this.#o.log.info('oauth: access revoked by the user');
      return render(ok ? 200 : 404, ok ? { message: 'Access revoked.' } : { error: 'No such connection.' });
    }
    if (action === 'revoke-all') {
      const n = await this.revokeAccount(accountId);
      this.#o.log.info('oauth: account revoked by the user', { connections: n });
      accountId = undefined;
      return render(
        200,
        { message: `${n} connection(s) revoked; your API key is no longer kept.` },
        this.#accountCookie(undefined),
      );
    }
    if (action === 'logout') {
      accountId = undefined;
      return render(200, { message: 'Signed out.' }, this.#accountCookie(undefined));
    }
    return render(400, { error: 'Unknown action.' });
  }
}

interface KoaLike {
  path: string;
  method: string;
  query: Record<string, unknown>;
}

interface GrantContext {
  oidc: {
    result?: { consent?: { grantId?: string } };
    session?: { grantIdFor(clientId: string): string | undefined };
    client: { clientId: string };
    params: Record<string, unknown>;
    provider: { Grant: { find(id: string): Promise<GrantLike | undefined> } };
  };
}

interface InteractionDetails {
  uid: string;
  params: Record<string, unknown>;
  prompt: { name: string; details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[] } };
  session?: { accountId?: string };
  grantId?: string;
}

interface GrantLike {
  accountId: string;
  clientId: string;
  exp?: number;
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  addResourceScope(resource: string, scope: string): void;
  rejectResourceScope(resource: string, scope: string): void;
  rejectOIDCScope(scope: string): void;
  getResourceScope(resource: string): string | undefined;
  getOIDCScope(): string | undefined;
  getRejectedResourceScope(resource: string): string | undefined;
  getRejectedOIDCScope(): string | undefined;
  save(): Promise<string>;
  destroy(): Promise<void>;
}

interface ProviderLike {
  proxy: boolean;
  use(middleware: (ctx: KoaLike, next: () => Promise<void>) => Promise<void>): void;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (...args: never[]) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: unknown,
    options: { mergeWithLastSubmission: boolean },
  ): Promise<void>;
  AccessToken: {
    find(
      token: string,
    ): Promise<
      | { accountId?: string; clientId: string; aud: string | string[]; scope?: string; exp: number }
      | undefined
    >;
  };
  Client: { find(id: string): Promise<{ clientName?: string } | undefined> };
  Grant: {
    new (init: { accountId: string; clientId: string }): GrantLike;
    find(id: string): Promise<GrantLike | undefined>;
    adapter: { revokeByGrantId(id: string): Promise<void> };
  };
}
