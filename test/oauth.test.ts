/**
 * Issue 17, bad input and attacks: the real OAuthServer (oidc-provider, our sign-in and account
 * pages, the LMDB store) behind the real HTTP server and sandbox, driven over HTTP by a scripted
 * browser. Each refusal is checked for its OAuth error, for what it does not store, and for what it
 * does not leak. Also: client ID metadata documents, an external authorization server (JWKS), and
 * a 2025-era SDK client working with an access token.
 */
import { createServer, type Server } from 'node:http';
import { Client as ModernClient, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlopsClient } from '../src/api/client.js';
import { ExternalAuth } from '../src/auth/external.js';
import { checkCredentials } from '../src/auth/index.js';
import { deriveKey, EmbeddedStore, macOf } from '../src/auth/store.js';
import { createLogger } from '../src/log.js';
import { connect, DEFAULT_KEY, type HttpSetup, httpSetup, INITIALIZE, raw } from './http-helpers.js';
import {
  Browser,
  CALLBACK,
  csrfOf,
  type OAuthHarness,
  oauthHarness,
  pkcePair,
  refusedOnPage,
  SANDBOX_CREDS,
} from './oauth-helpers.js';

const ATTACKER = 'https://evil.example/steal';
const SANDBOX_FORM = { flops_client_id: SANDBOX_CREDS.clientId, flops_api_key: SANDBOX_CREDS.apiKey };
const rpc = (id: number, method: string, params?: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id,
  method,
  ...(params ? { params } : {}),
});
const call = (id: number, name: string, args: Record<string, unknown> = {}) =>
  rpc(id, 'tools/call', { name, arguments: args });

describe('OAuth: codes, redirect URIs, PKCE, clients, tokens, scopes', () => {
  let h: OAuthHarness;
  let clientId: string;
  const OTHER_CALLBACK = 'http://127.0.0.1:9/other';

  beforeAll(async () => {
    h = await oauthHarness();
    clientId = await h.client(CALLBACK, [OTHER_CALLBACK]);
  });
  afterAll(async () => {
    await h?.close();
  });

  const exchange = (code: string, verifier: string, extra: Record<string, string> = {}) =>
    h.token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CALLBACK,
      client_id: clientId,
      code_verifier: verifier,
      resource: h.resource,
      ...extra,
    });

  it('refuses a made-up code with invalid_grant', async () => {
    const reply = await exchange('not-a-code-3yq8XzV0m1', pkcePair().verifier);
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_grant');
    expect(reply.body.access_token).toBeUndefined();
  });

  it('refuses a reused code with invalid_grant and revokes the tokens issued from it', async () => {
    const { query, verifier } = await h.signIn({ clientId, redirectUri: CALLBACK });
    expect(query.get('iss')).toBe(h.origin);
    expect(query.get('state')).toBe('state-1');
    const code = query.get('code')!;
    const first = await exchange(code, verifier);
    expect(first.status).toBe(200);
    expect((await h.mcp(first.body.access_token, INITIALIZE)).status).toBe(200);

    const again = await exchange(code, verifier);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
    expect(again.body.access_token).toBeUndefined();
    // RFC 6749 §4.1.2: the tokens already issued from that code are revoked.
    const after = await h.mcp(first.body.access_token, INITIALIZE);
    expect(after.status).toBe(401);
    expect(after.headers['www-authenticate']).toContain('error="invalid_token"');
    const refreshed = await h.token({
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token!,
      client_id: clientId,
    });
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('does not redirect to an unregistered redirect_uri (no open redirect)', async () => {
    const { challenge } = pkcePair();
    const page = await refusedOnPage(h, { clientId, redirectUri: ATTACKER, challenge });
    expect(page).toContain('redirect_uri');
    expect(page).not.toContain('evil.example');
  });

  it('refuses a code exchanged with another redirect_uri than it was issued for', async () => {
    const { query, verifier } = await h.signIn({ clientId, redirectUri: CALLBACK });
    const reply = await exchange(query.get('code')!, verifier, { redirect_uri: OTHER_CALLBACK });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_grant');
    expect(reply.body.access_token).toBeUndefined();
  });

  it('requires PKCE with S256: no challenge, or plain, is invalid_request at the client', async () => {
    const browser = new Browser();
    const none = await browser.go(h.authorizeUrl({ clientId, redirectUri: CALLBACK, resource: h.resource }));
    expect(none.status).toBe(303);
    const noneBack = new URL(none.headers.get('location')!);
    expect(`${noneBack.origin}${noneBack.pathname}`).toBe(CALLBACK);
    expect(noneBack.searchParams.get('error')).toBe('invalid_request');
    expect(noneBack.searchParams.get('code')).toBeNull();

    const verifier = pkcePair().verifier;
    const plain = await browser.go(
      h.authorizeUrl({
        clientId,
        redirectUri: CALLBACK,
        challenge: verifier,
        method: 'plain',
        resource: h.resource,
      }),
    );
    const plainBack = new URL(plain.headers.get('location')!);
    expect(plainBack.searchParams.get('error')).toBe('invalid_request');
    expect(plainBack.searchParams.get('error_description')).toMatch(/code_challenge_method/);
    expect(plainBack.searchParams.get('code')).toBeNull();
  });

  it('refuses a code with the wrong code_verifier, or none, with invalid_grant / invalid_request', async () => {
    const { query } = await h.signIn({ clientId, redirectUri: CALLBACK });
    const code = query.get('code')!;
    const wrong = await exchange(code, pkcePair().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    const { query: q2 } = await h.signIn({ clientId, redirectUri: CALLBACK });
    const missing = await h.token({
      grant_type: 'authorization_code',
      code: q2.get('code')!,
      redirect_uri: CALLBACK,
      client_id: clientId,
      resource: h.resource,
    });
    expect(missing.status).toBe(400);
    expect(['invalid_request', 'invalid_grant']).toContain(missing.body.error);
    expect(missing.body.access_token).toBeUndefined();
  });

  it('refuses an unknown client with invalid_client, without redirecting', async () => {
    const { challenge } = pkcePair();
    expect(
      await refusedOnPage(h, { clientId: 'no-such-client-81f', redirectUri: ATTACKER, challenge }),
    ).toContain('invalid_client');
    const token = await h.token({
      grant_type: 'authorization_code',
      code: 'whatever',
      redirect_uri: CALLBACK,
      client_id: 'no-such-client-81f',
      code_verifier: pkcePair().verifier,
    });
    expect(token.status).toBe(401);
    expect(token.body.error).toBe('invalid_client');
  });

  it('refuses a token for another resource with invalid_target, at /authorize and at /token', async () => {
    const { challenge } = pkcePair();
    const res = await new Browser().go(
      h.authorizeUrl({
        clientId,
        redirectUri: CALLBACK,
        challenge,
        method: 'S256',
        resource: 'http://evil.example/mcp',
      }),
    );
    const back = new URL(res.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(CALLBACK);
    expect(back.searchParams.get('error')).toBe('invalid_target');
    expect(back.searchParams.get('code')).toBeNull();

    const { query, verifier } = await h.signIn({ clientId, redirectUri: CALLBACK });
    const reply = await exchange(query.get('code')!, verifier, { resource: 'http://evil.example/mcp' });
    expect(reply.status).toBe(400);
    expect(reply.body.error).toBe('invalid_target');
    expect(reply.body.access_token).toBeUndefined();
  });

  it('grants no scope the request did not ask for, whatever the form posts', async () => {
    // The request asks for read only; a forged form ticks write and destroy too.
    const t = await h.tokens({
      clientId,
      redirectUri: CALLBACK,
      scope: 'flops:read',
      tick: ['flops:write', 'flops:destroy'],
    });
    expect(t.scope).toBe('flops:read');
    const refused = await h.mcp(t.access_token, call(7, 'vm_rename', { vmId: 1, name: 'x', dryRun: true }));
    expect(refused.status).toBe(403);
  });

  it('refuses a refresh that asks for more than the grant with invalid_scope', async () => {
    const t = await h.tokens({ clientId, redirectUri: CALLBACK, tick: [] });
    expect(t.scope).toBe('flops:read');
    const wider = await h.refresh(t.refresh_token!, clientId, { scope: 'flops:read flops:destroy' });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
    expect(wider.body.access_token).toBeUndefined();
    // The refused refresh did not use the refresh token up, and a plain refresh stays narrow.
    const same = await h.refresh(t.refresh_token!, clientId);
    expect(same.status).toBe(200);
    expect(same.body.scope).toBe('flops:read');
  });

  it('rotates refresh tokens: the old one is invalid_grant after use', async () => {
    const t = await h.tokens({ clientId, redirectUri: CALLBACK });
    const next = await h.refresh(t.refresh_token!, clientId);
    expect(next.status).toBe(200);
    expect(next.body.refresh_token).toBeTruthy();
    expect(next.body.refresh_token).not.toBe(t.refresh_token);
    expect(next.body.scope).toBe('flops:read flops:write');
    expect((await h.mcp(next.body.access_token, INITIALIZE)).status).toBe(200);

    const replay = await h.refresh(t.refresh_token!, clientId);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(replay.body.access_token).toBeUndefined();
  });

  it('revokes an access token at /oauth/revoke (RFC 7009): /mcp answers 401 invalid_token', async () => {
    const t = await h.tokens({ clientId, redirectUri: CALLBACK });
    expect((await h.mcp(t.access_token, INITIALIZE)).status).toBe(200);
    // Another public client cannot revoke it (a token leaked to it is still the owner's to end).
    const other = await h.client();
    await fetch(`${h.origin}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.access_token, client_id: other }).toString(),
    });
    expect((await h.mcp(t.access_token, INITIALIZE)).status).toBe(200);
    const res = await fetch(`${h.origin}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: t.access_token, client_id: clientId }).toString(),
    });
    expect(res.status).toBe(200);
    const after = await h.mcp(t.access_token, INITIALIZE);
    expect(after.status).toBe(401);
    expect(after.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(after.headers['www-authenticate']).toContain(
      `resource_metadata="${h.origin}/.well-known/oauth-protected-resource/mcp"`,
    );
  });

  it('answers 401 without a token, and with a forged one, with the RFC 9728 challenge', async () => {
    const none = await h.mcp(undefined, INITIALIZE);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toContain('resource_metadata=');
    expect(none.headers['www-authenticate']).not.toContain('error=');
    const forged = await h.mcp('Zm9yZ2VkLXRva2VuLXZhbHVlLXRoYXQtbG9va3MtcmVhbA', INITIALIZE);
    expect(forged.status).toBe(401);
    expect(forged.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('answers a denial with access_denied at the client and keeps nothing', async () => {
    const fresh = await oauthHarness();
    try {
      const id = await fresh.client();
      const browser = new Browser();
      const { challenge } = pkcePair();
      const start = await browser.follow(
        fresh.origin,
        fresh.authorizeUrl({
          clientId: id,
          redirectUri: CALLBACK,
          challenge,
          method: 'S256',
          resource: fresh.resource,
        }),
      );
      const form = new URLSearchParams({
        csrf: csrfOf(await start.res.text()),
        action: 'deny',
        flops_client_id: SANDBOX_CREDS.clientId,
        flops_api_key: SANDBOX_CREDS.apiKey,
      });
      const denied = await browser.follow(fresh.origin, start.url, { form });
      expect(denied.away?.searchParams.get('error')).toBe('access_denied');
      expect(denied.away?.searchParams.get('code')).toBeNull();
      expect(await fresh.oauth.accounts()).toEqual([]);
      expect(fresh.rawStore()).not.toContain('oidc:Grant:');
    } finally {
      await fresh.close();
    }
  });

  it('refuses a finished sign-in page, and one of another browser, without redirecting', async () => {
    const browser = new Browser();
    const { challenge } = pkcePair();
    const start = await browser.follow(
      h.origin,
      h.authorizeUrl({ clientId, redirectUri: CALLBACK, challenge, method: 'S256', resource: h.resource }),
    );
    const csrf = csrfOf(await start.res.text());
    // Another browser (no interaction cookie) at this page's URL.
    const stranger = await new Browser().go(start.url);
    expect(stranger.status).toBe(400);
    const form = new URLSearchParams({
      csrf,
      action: 'allow',
      flops_client_id: SANDBOX_CREDS.clientId,
      flops_api_key: SANDBOX_CREDS.apiKey,
      scope: 'flops:read',
    });
    const strangerPost = await new Browser().go(start.url, { form });
    expect(strangerPost.status).toBe(400);
    expect(strangerPost.headers.get('location')).toBeNull();
    const done = await browser.follow(h.origin, start.url, { form });
    expect(done.away?.searchParams.get('code')).toBeTruthy();
    // The same page once more, in the same browser: the sign-in is over.
    const replay = await browser.go(start.url, { form });
    expect(replay.status).toBe(400);
    expect(replay.headers.get('location')).toBeNull();
  });

  it('refuses a code exchanged by another client with invalid_grant', async () => {
    const other = await h.client();
    const { query, verifier } = await h.signIn({ clientId, redirectUri: CALLBACK });
    const stolen = await h.token({
      grant_type: 'authorization_code',
      code: query.get('code')!,
      redirect_uri: CALLBACK,
      client_id: other,
      code_verifier: verifier,
      resource: h.resource,
    });
    expect(stolen.status).toBe(400);
    expect(stolen.body.error).toBe('invalid_grant');
    expect(stolen.body.access_token).toBeUndefined();
  });

  it('does not take a refresh token as an access token, and revokes a refresh token (RFC 7009)', async () => {
    const t = await h.tokens({ clientId, redirectUri: CALLBACK });
    const asAccess = await h.mcp(t.refresh_token, INITIALIZE);
    expect(asAccess.status).toBe(401);
    expect(asAccess.headers['www-authenticate']).toContain('error="invalid_token"');
    const res = await fetch(`${h.origin}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: t.refresh_token!,
        token_type_hint: 'refresh_token',
        client_id: clientId,
      }).toString(),
    });
    expect(res.status).toBe(200);
    const refreshed = await h.refresh(t.refresh_token!, clientId);
    expect(refreshed.status).toBe(400);
    expect(refreshed.body.error).toBe('invalid_grant');
  });

  it('refuses to register a javascript: or fragment redirect URI', async () => {
    const before = clientsIn(h.rawStore());
    for (const uri of ['javascript:alert(1)', 'http://127.0.0.1:9/cb#frag']) {
      const reply = await h.register({ redirect_uris: [uri] });
      expect(reply.status, uri).toBe(400);
      expect(reply.body['error'], uri).toBe('invalid_redirect_uri');
      expect(reply.body['client_id']).toBeUndefined();
    }
    expect(clientsIn(h.rawStore())).toBe(before);
  });

  describe('403 insufficient_scope per tool kind', () => {
    let readOnly: string;
    beforeAll(async () => {
      readOnly = (await h.tokens({ clientId, redirectUri: CALLBACK, tick: [] })).access_token;
    });

    it('refuses a write tool to a read-only token, naming flops:write, with the request id', async () => {
      const res = await h.mcp(readOnly, call(41, 'vm_rename', { vmId: 1, name: 'x', dryRun: true }));
      expect(res.status).toBe(403);
      const challenge = String(res.headers['www-authenticate']);
      expect(challenge).toMatch(/^Bearer error="insufficient_scope", /);
      expect(challenge).toContain('scope="flops:read flops:write"');
      expect(challenge).toContain('resource_metadata=');
      const body = res.json() as { id: unknown; error: { code: number; message: string } };
      expect(body.id).toBe(41);
      expect(body.error.message).toContain('flops:write');
    });

    it('refuses a destructive tool, naming flops:destroy', async () => {
      const res = await h.mcp(readOnly, call('d-1' as never, 'vm_delete', { vmId: 1, dryRun: true }));
      expect(res.status).toBe(403);
      expect(String(res.headers['www-authenticate'])).toContain('scope="flops:read flops:destroy"');
      expect((res.json() as { id: unknown }).id).toBe('d-1');
    });

    it('refuses a batch that mixes a read and a write as a whole', async () => {
      const res = await h.mcp(readOnly, [
        call(1, 'vm_list'),
        call(2, 'vm_rename', { vmId: 1, name: 'y', dryRun: true }),
      ]);
      expect(res.status).toBe(403);
      expect(String(res.headers['www-authenticate'])).toContain('scope="flops:read flops:write"');
    });

    it('lets the read-only token read, over a real 2025-era SDK client', async () => {
      const c = await connect(h.setup.url, { Authorization: `Bearer ${readOnly}` });
      try {
        const listed = await c.call('vm_list');
        expect(listed.isError).toBeFalsy();
        await expect(c.call('vm_rename', { vmId: 1, name: 'z', dryRun: true })).rejects.toThrow(
          /flops:write permission/,
        );
      } finally {
        await c.mcp.close();
      }
    });
  });
});

describe('OAuth: an expired access token', () => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await oauthHarness({ accessTokenTtl: 1 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is refused with 401 invalid_token once its lifetime is over; a refresh gives a working one', async () => {
    const clientId = await h.client();
    const t = await h.tokens({ clientId, redirectUri: CALLBACK });
    expect(t.expires_in).toBe(1);
    await new Promise((r) => setTimeout(r, 2200));
    const res = await h.mcp(t.access_token, INITIALIZE);
    expect(res.status).toBe(401);
    const challenge = String(res.headers['www-authenticate']);
    expect(challenge).toContain('error="invalid_token"');
    expect(challenge).toContain(`resource_metadata="${h.origin}/.well-known/oauth-protected-resource/mcp"`);
    const next = await h.refresh(t.refresh_token!, clientId);
    expect(next.status).toBe(200);
    expect((await h.mcp(next.body.access_token, INITIALIZE)).status).toBe(200);
  });
});

describe('OAuth: two servers sharing one store and key', () => {
  let a: OAuthHarness;
  let b: OAuthHarness;
  let store: EmbeddedStore;
  let dir: string;

  beforeAll(async () => {
    a = await oauthHarness();
    // B opens A's store (the same LMDB) with A's key; only the public URL differs.
    store = a.store;
    dir = a.storeDir;
    b = await oauthHarness({ store, storeDir: dir, authKey: a.authKey });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it("refuses at B's /mcp a token issued by A for A's /mcp (its audience)", async () => {
    expect(a.origin).not.toBe(b.origin);
    const clientId = await a.client();
    const t = await a.tokens({ clientId, redirectUri: CALLBACK });
    expect((await a.mcp(t.access_token, INITIALIZE)).status).toBe(200);
    const atB = await b.mcp(t.access_token, INITIALIZE);
    expect(atB.status).toBe(401);
    expect(atB.headers['www-authenticate']).toContain('error="invalid_token"');
    // B knows the account (shared vault): only the audience is wrong.
    expect(await b.oauth.accounts()).toContain(b.oauth.accountIdOf('sandbox'));
  });
});

describe('OAuth: CSRF on the sign-in and account pages', () => {
  let h: OAuthHarness;
  let clientId: string;
  beforeAll(async () => {
    h = await oauthHarness();
    clientId = await h.client();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function signInPage(browser: Browser): Promise<{ url: URL; csrf: string }> {
    const { challenge } = pkcePair();
    const start = await browser.follow(
      h.origin,
      h.authorizeUrl({ clientId, redirectUri: CALLBACK, challenge, method: 'S256', resource: h.resource }),
    );
    expect(start.res.status).toBe(200);
    return { url: start.url, csrf: csrfOf(await start.res.text()) };
  }

  const credentialsForm = (csrf?: string) => {
    const form = new URLSearchParams({
      action: 'allow',
      flops_client_id: SANDBOX_CREDS.clientId,
      flops_api_key: SANDBOX_CREDS.apiKey,
      scope: 'flops:read',
    });
    if (csrf !== undefined) form.set('csrf', csrf);
    return form;
  };

  it('refuses the sign-in form without, or with a wrong, csrf token, and stores nothing', async () => {
    const browser = new Browser();
    const { url, csrf } = await signInPage(browser);
    const without = await browser.go(url, { form: credentialsForm() });
    expect(without.status).toBe(403);
    expect(without.headers.get('location')).toBeNull();
    const wrong = await browser.go(url, { form: credentialsForm(`${csrf.slice(0, -2)}xx`) });
    expect(wrong.status).toBe(403);
    // A csrf token of another sign-in (another interaction) does not fit this one.
    const other = await signInPage(new Browser());
    const foreign = await browser.go(url, { form: credentialsForm(other.csrf) });
    expect(foreign.status).toBe(403);
    expect(await h.oauth.accounts()).toEqual([]);
    expect(h.rawStore()).not.toContain('acct:');
    // The page itself still works with its own token.
    const ok = await browser.follow(h.origin, url, { form: credentialsForm(csrf) });
    expect(ok.away?.searchParams.get('code')).toBeTruthy();
    expect(await h.oauth.accounts()).toEqual([h.oauth.accountIdOf('sandbox')]);
  });

  it('refuses an account page POST without the double-submit csrf cookie', async () => {
    const browser = new Browser();
    const page = await browser.go(`${h.origin}/oauth/account`);
    expect(page.status).toBe(200);
    const csrf = csrfOf(await page.text());
    expect(browser.has('flops_csrf')).toBe(true);
    const form = new URLSearchParams({
      csrf,
      action: 'login',
      flops_client_id: 'shared-user',
      flops_api_key: 'user-b-key-41d2e8',
    });
    // Another site's form: no cookie reaches us (SameSite=Strict); the field alone is refused.
    const stranger = new Browser();
    const res = await stranger.go(`${h.origin}/oauth/account`, { form });
    expect(res.status).toBe(403);
    // A cookie that does not match the field is refused too.
    const mismatch = await browser.go(`${h.origin}/oauth/account`, {
      form: new URLSearchParams({ ...Object.fromEntries(form), csrf: 'A'.repeat(32) }),
    });
    expect(mismatch.status).toBe(403);
    expect(await h.oauth.accounts()).not.toContain(h.oauth.accountIdOf('shared-user'));
    // With both, the sign-in is taken (the other sandbox account), so the refusals above were the csrf.
    const ok = await browser.go(`${h.origin}/oauth/account`, { form });
    expect(ok.status).toBe(200);
    expect(await h.oauth.accounts()).toContain(h.oauth.accountIdOf('shared-user'));
  });

  it('does not act on the account page for a forged account cookie', async () => {
    const browser = new Browser();
    const csrf = csrfOf(await (await browser.go(`${h.origin}/oauth/account`)).text());
    const victim = h.oauth.accountIdOf('sandbox');
    expect(await h.oauth.accounts()).toContain(victim);
    const until = Math.floor(Date.now() / 1000) + 600;
    browser.set('flops_account', `${victim}.${until}.${'A'.repeat(43)}`, '/oauth/account');
    const res = await browser.go(`${h.origin}/oauth/account`, {
      form: new URLSearchParams({ csrf, action: 'revoke-all' }),
    });
    expect(res.status).toBe(401);
    expect(await h.oauth.accounts()).toContain(victim);
    // The control: with the cookie the account page itself sets, the same page acts.
    const login = await browser.go(`${h.origin}/oauth/account`, {
      form: new URLSearchParams({ csrf, action: 'login', ...SANDBOX_FORM }),
    });
    expect(login.status).toBe(200);
    expect(browser.get('flops_account')).toMatch(new RegExp(`^${victim}\\.`));
    const acted = await browser.go(`${h.origin}/oauth/account`, {
      form: new URLSearchParams({ csrf, action: 'revoke', client: 'no-such-client' }),
    });
    expect(acted.status).toBe(404);
  });
});

describe('OAuth: a flood of registrations', () => {
  it('refuses more than the per-minute limit from one address with 429 and Retry-After', async () => {
    // Stay clear of a minute boundary, where the window starts over.
    const second = new Date().getUTCSeconds();
    if (second > 50) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const h = await oauthHarness({ maxRegistrationsPerMinute: 3 });
    try {
      const ok = [];
      for (let i = 0; i < 3; i++) ok.push(await h.register({ client_name: `ok-${i}` }));
      expect(ok.map((r) => r.status)).toEqual([201, 201, 201]);
      const refused = await h.register({ client_name: 'flood-4' });
      expect(refused.status).toBe(429);
      expect(refused.body['error']).toBe('invalid_client_metadata');
      expect(refused.body['client_id']).toBeUndefined();
      const retry = Number(refused.retryAfter);
      expect(retry).toBeGreaterThan(0);
      expect(retry).toBeLessThanOrEqual(60);
      expect((await h.register({ client_name: 'flood-5' })).status).toBe(429);
      // A forwarded-for header of our choosing does not make a new address.
      const spoofed = await h.register({ client_name: 'flood-6' }, { 'x-forwarded-for': '203.0.113.9' });
      expect(spoofed.status).toBe(429);
      // Nothing registered beyond the three: the store holds exactly three clients.
      expect(clientsIn(h.rawStore())).toBe(3);
      expect(h.rawStore()).not.toContain('flood-');
      expect(h.oauthLogs.join('')).toContain('client registration refused');
    } finally {
      await h.close();
    }
  });

  it('behind the TLS proxy of an https public URL, counts by the address the proxy appended last', async () => {
    const second = new Date().getUTCSeconds();
    if (second > 50) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
    const h = await oauthHarness({
      maxRegistrationsPerMinute: 2,
      publicUrl: new URL('https://mcp.example.com'),
    });
    try {
      const via = (chain: string) => ({ 'x-forwarded-for': chain, 'x-forwarded-proto': 'https' });
      const first = [
        await h.register({ client_name: 'a-1' }, via('198.51.100.1, 10.0.0.7')),
        await h.register({ client_name: 'a-2' }, via('10.0.0.7')),
      ];
      expect(first.map((r) => r.status)).toEqual([201, 201]);
      // The same last address with another story in front: still that address.
      expect((await h.register({ client_name: 'a-3' }, via('203.0.113.5, 10.0.0.7'))).status).toBe(429);
      // Another client of the proxy is counted on its own.
      expect((await h.register({ client_name: 'b-1' }, via('198.51.100.1, 10.0.0.8'))).status).toBe(201);
    } finally {
      await h.close();
    }
  });

  it('caps the registrations of a day (all addresses)', async () => {
    const h = await oauthHarness({ maxRegistrationsPerMinute: 100, maxRegistrationsPerDay: 2 });
    try {
      expect((await h.register()).status).toBe(201);
      expect((await h.register()).status).toBe(201);
      const refused = await h.register({ client_name: 'over-the-cap' });
      expect(refused.status).toBe(429);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect(Number(refused.retryAfter)).toBeLessThanOrEqual(86_400);
      expect(clientsIn(h.rawStore())).toBe(2);
      expect(h.rawStore()).not.toContain('over-the-cap');
      // An authorization naming a client id never issued is refused.
      const res = await new Browser().go(
        h.authorizeUrl({ clientId: 'over-the-cap', redirectUri: CALLBACK, challenge: 'x'.repeat(43) }),
      );
      expect(res.status).toBe(400);
      expect(await res.text()).toContain('invalid_client');
    } finally {
      await h.close();
    }
  });
});

/** The registered clients in a raw dump of the store. */
const clientsIn = (dump: string): number => new Set(dump.match(/oidc:Client:[\w-]{43}/g) ?? []).size;

describe('OAuth: nothing leaked', () => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await oauthHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('keeps no API key, access token, refresh token or code in the store or the logs', async () => {
    const clientId = await h.client();
    // A refused key first: the page shows the client id again, never the key.
    const browser = new Browser();
    const { challenge } = pkcePair();
    const start = await browser.follow(
      h.origin,
      h.authorizeUrl({ clientId, redirectUri: CALLBACK, challenge, method: 'S256', resource: h.resource }),
    );
    const wrongKey = 'wrong-key-5be0c1d7';
    const refused = await browser.go(start.url, {
      form: new URLSearchParams({
        csrf: csrfOf(await start.res.text()),
        action: 'allow',
        flops_client_id: 'sandbox',
        flops_api_key: wrongKey,
      }),
    });
    expect(refused.status).toBe(401);
    const refusedPage = await refused.text();
    expect(refusedPage).toContain('Flops did not accept');
    expect(refusedPage).toContain('value="sandbox"');
    expect(refusedPage).not.toContain(wrongKey);
    expect(await h.oauth.accounts()).toEqual([]);

    const { query, verifier } = await h.signIn({ clientId, redirectUri: CALLBACK });
    const code = query.get('code')!;
    const t = await h.token({
      grant_type: 'authorization_code',
      code,
      redirect_uri: CALLBACK,
      client_id: clientId,
      code_verifier: verifier,
      resource: h.resource,
    });
    const access = t.body.access_token!;
    const refresh = t.body.refresh_token!;
    const r2 = await h.refresh(refresh, clientId);
    expect(r2.status).toBe(200);
    const c = await connect(h.setup.url, { Authorization: `Bearer ${r2.body.access_token}` });
    expect((await c.call('vm_list')).isError).toBeFalsy();
    await c.mcp.close();
    expect(await h.oauth.accounts()).toEqual([h.oauth.accountIdOf('sandbox')]);

    const secrets = [
      DEFAULT_KEY,
      wrongKey,
      access,
      refresh,
      code,
      r2.body.access_token!,
      r2.body.refresh_token!,
    ];
    // The raw LMDB files (values are not compressed: strings appear as they are)...
    const dump = h.rawStore();
    expect(dump).toContain('oidc:AccessToken:'); // the dump is readable: the scan means something
    for (const s of secrets) expect(dump).not.toContain(s);
    // ...and every key and value through LMDB itself.
    const { open } = await import('lmdb');
    const db = open<unknown, string>({ path: h.storeDir, readOnly: true, compression: false });
    try {
      let entries = 0;
      for (const { key, value } of db.getRange()) {
        entries++;
        const text = `${key} ${JSON.stringify(value)}`;
        for (const s of secrets) expect(text).not.toContain(s);
      }
      expect(entries).toBeGreaterThan(5);
    } finally {
      await db.close();
    }
    // The credentials are sealed: the record opens only with the auth key (the test checks it is there).
    expect(dump).toContain(`cred:${h.oauth.accountIdOf('sandbox')}`);
    // No secret in any log line, the HTTP server's or the OAuth server's.
    const logs = [...h.setup.logs, ...h.oauthLogs].join('');
    expect(h.oauthLogs.join('')).toContain('access granted');
    for (const s of secrets) expect(logs).not.toContain(s);
  });
});

describe('OAuth: client ID metadata documents', () => {
  const META = 'https://client.example/meta.json';
  const CIMD_CALLBACK = 'https://client.example/callback';
  const documents = new Map<string, unknown>();
  const fetched: string[] = [];
  let h: OAuthHarness;
  let plain: OAuthHarness;
  let loopback: Server;
  const loopbackHits: string[] = [];

  beforeAll(async () => {
    documents.set(META, {
      client_id: META,
      client_name: 'Metadata Assistant',
      redirect_uris: [CIMD_CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    documents.set('https://client.example/impostor.json', {
      client_id: META,
      client_name: 'Impostor',
      redirect_uris: [ATTACKER],
      token_endpoint_auth_method: 'none',
    });
    h = await oauthHarness({
      fetch: (async (input: string | URL | Request, init?: RequestInit & { dispatcher?: unknown }) => {
        const url = String(input instanceof Request ? input.url : input);
        fetched.push(url);
        const target = new URL(url);
        if (target.hostname === 'rebound.example') {
          // A name that resolves to loopback (DNS rebinding): the request goes there for real,
          // with oidc-provider's own options, SSRF dispatcher included unless the path says not.
          const port = (loopback.address() as { port: number }).port;
          const { dispatcher, ...rest } = init ?? {};
          const options = target.pathname === '/unguarded.json' ? rest : { ...rest, dispatcher };
          return fetch(`http://127.0.0.1:${port}${target.pathname}`, options as RequestInit);
        }
        const doc = documents.get(url);
        return doc === undefined
          ? new Response('not found', { status: 404 })
          : new Response(JSON.stringify(doc), {
              status: 200,
              headers: { 'content-type': 'application/json' },
            });
      }) as typeof fetch,
    });
    plain = await oauthHarness();
    loopback = createServer((req, res) => {
      loopbackHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    loopback?.close();
    await h?.close();
    await plain?.close();
  });

  it('signs in a client known only by its metadata document URL', async () => {
    const browser = new Browser();
    const { challenge } = pkcePair();
    const start = await browser.follow(
      h.origin,
      h.authorizeUrl({
        clientId: META,
        redirectUri: CIMD_CALLBACK,
        challenge,
        method: 'S256',
        resource: h.resource,
      }),
    );
    expect(start.res.status).toBe(200);
    const page = await start.res.text();
    expect(page).toContain('Metadata Assistant');
    expect(page).toContain('client.example');
    expect(fetched).toContain(META);

    const t = await h.tokens({ clientId: META, redirectUri: CIMD_CALLBACK });
    expect(t.scope).toBe('flops:read flops:write');
    expect((await h.mcp(t.access_token, INITIALIZE)).status).toBe(200);
    // A redirect_uri the document does not list is refused, without a redirect.
    await refusedOnPage(h, { clientId: META, redirectUri: ATTACKER, challenge });
  });

  it('refuses a document whose client_id is not its own URL', async () => {
    const { challenge } = pkcePair();
    const page = await refusedOnPage(h, {
      clientId: 'https://client.example/impostor.json',
      redirectUri: ATTACKER,
      challenge,
    });
    expect(page).toMatch(/invalid_client(_metadata)?/);
    expect(fetched).toContain('https://client.example/impostor.json');
  });

  it('refuses a document that cannot be fetched (404) with invalid_client', async () => {
    const { challenge } = pkcePair();
    const res = await new Browser().go(
      h.authorizeUrl({
        clientId: 'https://client.example/missing.json',
        redirectUri: CIMD_CALLBACK,
        challenge,
        method: 'S256',
        resource: h.resource,
      }),
    );
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('invalid_client');
  });

  it("refuses a document whose host resolves to loopback: oidc-provider's SSRF guard", async () => {
    const { challenge } = pkcePair();
    const attempt = (path: string) =>
      new Browser().go(
        h.authorizeUrl({
          clientId: `https://rebound.example${path}`,
          redirectUri: CIMD_CALLBACK,
          challenge,
          method: 'S256',
          resource: h.resource,
        }),
      );
    const guarded = await attempt('/guarded.json');
    expect(guarded.status).toBe(400);
    expect(await guarded.text()).toContain('invalid_client');
    expect(loopbackHits).toEqual([]);
    // The control: the same request without the guard's dispatcher reaches the loopback server.
    const unguarded = await attempt('/unguarded.json');
    expect(unguarded.status).toBe(400);
    // (oidc-provider resolves a failing client twice: once for the request, once for the error.)
    expect(loopbackHits.length).toBeGreaterThan(0);
    expect(new Set(loopbackHits)).toEqual(new Set(['/unguarded.json']));
    loopbackHits.length = 0;
  });

  it('does not fetch a metadata document from a loopback address (SSRF)', async () => {
    const port = (loopback.address() as { port: number }).port;
    const { challenge } = pkcePair();
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const page = await refusedOnPage(plain, {
        clientId: `https://${host}/meta.json`,
        redirectUri: CIMD_CALLBACK,
        challenge,
      });
      expect(page).toContain('invalid_client');
    }
    expect(loopbackHits).toEqual([]);
    // Not a URL of the https scheme: not a metadata document, an unknown client.
    const http = await new Browser().go(
      plain.authorizeUrl({
        clientId: `http://127.0.0.1:${port}/meta.json`,
        redirectUri: CIMD_CALLBACK,
        challenge,
      }),
    );
    expect(http.status).toBe(400);
    expect(loopbackHits).toEqual([]);
  });
});

/** A small authorization server of our own: RFC 8414 metadata and a JWKS, and tokens it signs. */
async function externalIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const stranger = await generateKeyPair('ES256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const server = createServer((req, res) => {
    const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (req.url === '/.well-known/oauth-authorization-server') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: origin, jwks_uri: `${origin}/jwks` }));
    } else if (req.url === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const sign = (
    claims: { sub: string; aud: string; scope?: string; iss?: string; exp?: number },
    key = privateKey,
  ) =>
    new SignJWT({ ...(claims.scope ? { scope: claims.scope } : {}) })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject(claims.sub)
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 300)
      .sign(key);
  return { issuer, sign, strangerKey: stranger.privateKey, close: () => server.close() };
}

describe('OAuth: an external authorization server (JWKS)', () => {
  let idp: Awaited<ReturnType<typeof externalIssuer>>;
  let setup: HttpSetup;
  let store: EmbeddedStore;
  let dir: string;
  let resource = '';
  const authKey = Buffer.alloc(32, 7);
  const logs: string[] = [];

  beforeAll(async () => {
    idp = await externalIssuer();
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    dir = mkdtempSync(join(tmpdir(), 'flops-external-test-'));
    store = await EmbeddedStore.open(dir);
    let sandboxUrl = '';
    setup = await httpSetup({
      oauth: async (url) => {
        resource = `${url.origin}/mcp`;
        return ExternalAuth.create({
          issuer: new URL(idp.issuer),
          publicUrl: new URL(url.origin),
          authKey,
          log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
          store,
          checkCredentials: (creds) =>
            checkCredentials((c) => new FlopsClient({ baseUrl: sandboxUrl, ...c, retryBaseMs: 20 }), creds),
        });
      },
    });
    sandboxUrl = setup.sandbox.url;
  });
  afterAll(async () => {
    await setup?.close();
    await store?.close();
    idp?.close();
    const { rmSync } = await import('node:fs');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const mcp = (token: string, body: unknown = INITIALIZE) =>
    raw(setup.url, { body, headers: { authorization: `Bearer ${token}` } });

  it('names the issuer in the protected-resource metadata', async () => {
    const res = await fetch(new URL('/.well-known/oauth-protected-resource/mcp', setup.url));
    const meta = (await res.json()) as { resource: string; authorization_servers: string[] };
    expect(meta.resource).toBe(resource);
    expect(meta.authorization_servers).toEqual([idp.issuer]);
  });

  it('sends a user without kept credentials to a link, keeps them once entered, then serves /mcp', async () => {
    const token = await idp.sign({ sub: 'alice@team', aud: resource, scope: 'flops:read flops:write' });
    const first = await mcp(token);
    expect(first.status).toBe(403);
    const message = (first.json() as { error: { message: string } }).error.message;
    const link = /(http:\/\/\S+\/oauth\/credentials\?ticket=\S+)/.exec(message)?.[1];
    expect(link).toBeTruthy();

    const browser = new Browser();
    const page = await browser.go(link!);
    expect(page.status).toBe(200);
    const csrf = csrfOf(await page.text());
    const form = (apiKey: string, withCsrf = csrf) =>
      new URLSearchParams({ csrf: withCsrf, flops_client_id: 'sandbox', flops_api_key: apiKey });
    // No csrf: refused, nothing stored.
    const forged = await browser.go(link!, { form: form(DEFAULT_KEY, 'x') });
    expect(forged.status).toBe(403);
    // A wrong key: refused by the sandbox, not echoed, nothing stored.
    const wrong = await browser.go(link!, { form: form('wrong-key-77aa01') });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('wrong-key-77aa01');
    expect((await mcp(token)).status).toBe(403);

    const ok = await browser.go(link!, { form: form(DEFAULT_KEY) });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('kept encrypted');

    // A real v2 client with the token in its requests.
    const transport = new StreamableHTTPClientTransport(new URL(setup.url), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    const client = new ModernClient({ name: 'external-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const listed = await client.callTool({ name: 'vm_list', arguments: {} });
      expect(listed.isError).toBeFalsy();
      expect((listed.structuredContent as { vms: unknown[] }).vms.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
    // Its scope still applies: no flops:destroy in the token.
    const destroy = await mcp(token, call(5, 'vm_delete', { vmId: 1, dryRun: true }));
    expect(destroy.status).toBe(403);
    expect(String(destroy.headers['www-authenticate'])).toContain('error="insufficient_scope"');
    // Nothing of the key in the log or the store files.
    expect(logs.join('')).toContain('credentials kept');
    expect([...logs, ...setup.logs].join('')).not.toContain(DEFAULT_KEY);
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    for (const f of readdirSync(dir))
      expect(readFileSync(join(dir, f)).toString('latin1')).not.toContain(DEFAULT_KEY);
  });

  it('refuses tokens of the wrong audience or issuer, expired, or badly signed, with 401', async () => {
    const good = await idp.sign({ sub: 'bob', aud: resource, scope: 'flops:read' });
    const bad = {
      audience: await idp.sign({ sub: 'bob', aud: 'http://other.example/mcp' }),
      issuer: await idp.sign({ sub: 'bob', aud: resource, iss: 'http://evil.example' }),
      expired: await idp.sign({ sub: 'bob', aud: resource, exp: Math.floor(Date.now() / 1000) - 120 }),
      signature: await idp.sign({ sub: 'bob', aud: resource }, idp.strangerKey),
      garbage: 'not.a.jwt',
    };
    for (const [why, token] of Object.entries(bad)) {
      const res = await mcp(token);
      expect(res.status, why).toBe(401);
      expect(String(res.headers['www-authenticate']), why).toContain('error="invalid_token"');
    }
    // The control: a good token of the same subject is recognized (no credentials yet: 403 + link).
    expect((await mcp(good)).status).toBe(403);
  });

  it('refuses a tampered or expired credentials link with 400', async () => {
    const token = await idp.sign({ sub: 'carol', aud: resource });
    const message = ((await mcp(token)).json() as { error: { message: string } }).error.message;
    const link = new URL(/(http:\/\/\S+\/oauth\/credentials\?ticket=\S+)/.exec(message)![1]!);
    const [id, until, mac] = link.searchParams.get('ticket')!.split('.');
    const withTicket = (ticket: string) => {
      const u = new URL(link);
      u.searchParams.set('ticket', ticket);
      return u;
    };
    // Another account with carol's signature; a later expiry with the same signature; a cut signature.
    for (const ticket of [
      `${id!.slice(0, -1)}x.${until}.${mac}`,
      `${id}.${Number(until) + 3600}.${mac}`,
      `${id}.${until}.${mac!.slice(0, -3)}`,
      '',
    ]) {
      expect((await new Browser().go(withTicket(ticket))).status).toBe(400);
    }
    // Correctly signed, but its 15 minutes are over.
    const past = Math.floor(Date.now() / 1000) - 1;
    const key = deriveKey(authKey, 'external link');
    const expired = `${id}.${past}.${macOf(key, `link:${id}.${past}`)}`;
    expect((await new Browser().go(withTicket(expired))).status).toBe(400);
    // The same construction, unexpired, opens: the refusals above were the ticket's.
    const future = past + 600;
    const fresh = `${id}.${future}.${macOf(key, `link:${id}.${future}`)}`;
    expect((await new Browser().go(withTicket(fresh))).status).toBe(200);
  });
});

describe('OAuth: a 2025-era client with an access token', () => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await oauthHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('initializes a session and calls tools with SDK 1.x and an Authorization header', async () => {
    const clientId = await h.client();
    const t = await h.tokens({ clientId, redirectUri: CALLBACK, tick: ['flops:write'] });
    const c = await connect(h.setup.url, { Authorization: `Bearer ${t.access_token}` });
    try {
      expect(c.transport.sessionId).toBeTruthy();
      expect(c.mcp.getServerVersion()?.name).toBeTruthy();
      const listed = await c.call('vm_list');
      expect(listed.isError).toBeFalsy();
      const vms = (listed.structuredContent as { vms: { id: number }[] }).vms;
      const renamed = await c.call('vm_rename', { vmId: vms[0]!.id, name: 'renamed-2025', dryRun: true });
      expect(renamed.isError).toBeFalsy();
      // The calls ran as the signed-in account: the server built a client with its credentials.
      expect(h.setup.clientsMade).toContainEqual(SANDBOX_CREDS);
    } finally {
      await c.mcp.close();
    }
  });
});

describe('OAuth: revoking everything on the account page', () => {
  let h: OAuthHarness;
  beforeAll(async () => {
    h = await oauthHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('ends every access and refresh token of the account and forgets its key', async () => {
    const browser = new Browser();
    const clientId = await h.client();
    const { query, verifier } = await h.signIn({ clientId, redirectUri: CALLBACK, browser });
    const t = await h.token({
      grant_type: 'authorization_code',
      code: query.get('code')!,
      redirect_uri: CALLBACK,
      client_id: clientId,
      code_verifier: verifier,
      resource: h.resource,
    });
    const rotated = await h.refresh(t.body.refresh_token!, clientId);
    expect((await h.mcp(rotated.body.access_token, INITIALIZE)).status).toBe(200);
    const account = h.oauth.accountIdOf('sandbox');
    expect(h.rawStore()).toContain(`cred:${account}`);

    // The sign-in left this browser signed in on the account page.
    const page = await browser.go(`${h.origin}/oauth/account`);
    const html = await page.text();
    expect(html).toContain('Test assistant');
    const done = await browser.go(`${h.origin}/oauth/account`, {
      form: new URLSearchParams({ csrf: csrfOf(html), action: 'revoke-all' }),
    });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('no longer kept');

    for (const access of [t.body.access_token, rotated.body.access_token]) {
      expect((await h.mcp(access, INITIALIZE)).status).toBe(401);
    }
    const refreshed = await h.refresh(rotated.body.refresh_token!, clientId);
    expect(refreshed.body.error).toBe('invalid_grant');
    expect(await h.oauth.accounts()).toEqual([]);
    const { open } = await import('lmdb');
    const db = open<unknown, string>({ path: h.storeDir, readOnly: true, compression: false });
    try {
      const left = [...db.getKeys()].filter(
        (k) =>
          k.startsWith('cred:') || k.startsWith('oidc:AccessToken:') || k.startsWith('oidc:RefreshToken:'),
      );
      expect(left).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
