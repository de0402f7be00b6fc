/**
 * `--auth oauth` with FLOPS_MCP_AUTH_ISSUER: the team's own authorization server signs users in;
 * flops-mcp only validates its JWT access tokens (signature by the issuer's JWKS, issuer, audience
 * = this server's `/mcp`, expiry) and keeps each user's Flops credentials, entered once on a page
 * of this server reached through a short-lived link bound to the token's subject.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { CredentialCheck } from './oauth.js';
import { credentialsPage, messagePage } from './pages.js';
import { type AuthStore, CredentialVault, deriveKey, type FlopsCredentials, macOf } from './store.js';
import {
  type Challenge,
  challengeFor,
  checkedCredentials,
  metadataUrlOf,
  readForm,
  resourceMetadata,
  resourceOf,
  sameText,
  sendHtml,
  serveResourceMetadata,
} from './web.js';

export interface ExternalAuthOptions {
  issuer: URL;
  publicUrl: URL;
  authKey: Uint8Array;
  log: Logger;
  store: AuthStore;
  checkCredentials: (creds: FlopsCredentials) => Promise<CredentialCheck>;
}

const LINK_TTL_S = 15 * 60;

type Verify = (token: string) => Promise<{ sub?: unknown; scope?: unknown; scp?: unknown }>;

export class ExternalAuth {
  readonly resource: string;
  readonly metadataUrl: string;
  readonly #issuer: string;
  readonly #o: ExternalAuthOptions;
  readonly #vault: CredentialVault;
  readonly #key: Buffer;
  readonly #verify: Verify;

  private constructor(o: ExternalAuthOptions, issuer: string, verify: Verify) {
    this.#o = o;
    this.#issuer = issuer;
    this.resource = resourceOf(o.publicUrl);
    this.metadataUrl = metadataUrlOf(o.publicUrl);
    this.challenge = challengeFor(this.metadataUrl);
    this.#vault = new CredentialVault(o.authKey, o.store);
    this.#key = deriveKey(o.authKey, 'external link');
    this.#verify = verify;
  }

  /** Reads the issuer's metadata (RFC 8414, then OpenID discovery) for its `jwks_uri`. */
  static async create(o: ExternalAuthOptions): Promise<ExternalAuth> {
    const { createRemoteJWKSet, jwtVerify } = await import('jose');
    const base = o.issuer.href.replace(/\/+$/, '');
    const path = o.issuer.pathname.replace(/\/+$/, '');
    const candidates = [
      `${o.issuer.origin}/.well-known/oauth-authorization-server${path}`,
      `${base}/.well-known/openid-configuration`,
    ];
    let metadata: { issuer?: unknown; jwks_uri?: unknown } | undefined;
    for (const candidate of candidates) {
      const response = await fetch(candidate, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
      if (response?.ok) {
        metadata = (await response.json()) as typeof metadata;
        break;
      }
    }
    if (typeof metadata?.issuer !== 'string' || typeof metadata.jwks_uri !== 'string') {
      throw new Error(`FLOPS_MCP_AUTH_ISSUER: no authorization server metadata with a jwks_uri at ${base}`);
    }
    const issuer = metadata.issuer;
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
    const resource = resourceOf(o.publicUrl);
    const verify = async (token: string) =>
      (await jwtVerify(token, jwks, { issuer, audience: resource, requiredClaims: ['exp', 'sub'] })).payload;
    return new ExternalAuth(o, issuer, verify);
  }

  readonly challenge: Challenge;

  #accountOf(sub: string): string {
    return macOf(this.#key, `account:${this.#issuer}\n${sub}`).slice(0, 24);
  }

  /** A link to the credentials page for this account, valid for 15 minutes. */
  #link(accountId: string): string {
    const until = Math.floor(Date.now() / 1000) + LINK_TTL_S;
    const ticket = `${accountId}.${until}.${macOf(this.#key, `link:${accountId}.${until}`)}`;
    return `${this.#o.publicUrl.origin}/oauth/credentials?ticket=${ticket}`;
  }

  #ticket(value: string | null): string | undefined {
    const [id, until, mac] = (value ?? '').split('.');
    if (!id || !until || !mac || !sameText(mac, macOf(this.#key, `link:${id}.${until}`))) return undefined;
    return Number(until) > Date.now() / 1000 ? id : undefined;
  }

  async authenticate(
    authorization: string | undefined,
  ): Promise<
    { scopes: string[]; credentials: FlopsCredentials } | { scopes: string[]; link: string } | undefined
  > {
    const match = /^Bearer[ \t]+([\x21-\x7e]{1,8192})[ \t]*$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const claims = await this.#verify(match[1]!).catch(() => undefined);
    if (!claims || typeof claims.sub !== 'string') return undefined;
    const scopes =
      typeof claims.scope === 'string'
        ? claims.scope.split(' ').filter(Boolean)
        : Array.isArray(claims.scp)
          ? claims.scp.filter((s): s is string => typeof s === 'string')
          : [];
    const accountId = this.#accountOf(claims.sub);
    const credentials = await this.#vault.get(accountId);
    return credentials ? { scopes, credentials } : { scopes, link: this.#link(accountId) };
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    if (serveResourceMetadata(req, res, url.pathname, () => resourceMetadata(this.resource, this.#issuer)))
      return true;
    if (url.pathname !== '/oauth/credentials') return false;
    const ticket = url.searchParams.get('ticket');
    const accountId = this.#ticket(ticket);
    if (!accountId) {
      sendHtml(res, 400, messagePage('Link expired', 'Ask your assistant again for a new link.'));
      return true;
    }
    const csrf = macOf(this.#key, `csrf:${ticket}`);
    const action = `/oauth/credentials?ticket=${encodeURIComponent(ticket!)}`;
    if (req.method === 'GET') {
      sendHtml(res, 200, credentialsPage({ action, csrf }));
      return true;
    }
    const form = req.method === 'POST' ? await readForm(req) : undefined;
    if (!form || !sameText(form.get('csrf') ?? '', csrf)) {
      sendHtml(res, 403, messagePage('Refused', 'The form was not sent from this page.'));
      return true;
    }
    const checked = await checkedCredentials(form, this.#o.checkCredentials);
    if ('status' in checked) {
      const page = credentialsPage({ action, csrf, error: checked.error, flopsClientId: checked.clientId });
      sendHtml(res, checked.status, page);
      return true;
    }
    await this.#vault.put(accountId, checked.creds);
    this.#o.log.info('oauth: Flops credentials kept for an external account');
    sendHtml(
      res,
      200,
      messagePage('Done', 'Your Flops key is kept encrypted on this server. Return to your assistant.'),
    );
    return true;
  }
}
