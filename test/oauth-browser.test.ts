/**
 * MCP authorization end to end, as claude.ai or ChatGPT would use it: the built CLI with
 * `--http --auth oauth --sandbox`, the v2 SDK client's OAuth support (discovery, dynamic
 * registration, PKCE, resource indicator, `iss` check), and headless Chromium through the sign-in
 * page: pasting the Flops credentials, choosing scopes, stepping up after a 403, revoking on the
 * account page.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client,
  type OAuthClientProvider,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from '@modelcontextprotocol/client';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanEnv,
  extraNode,
  killAll,
  requireExternal,
  root,
  type Started,
  startProcess,
} from './process-helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = requireExternal(CHROMIUM, existsSync(CHROMIUM), '`apt-get install -y chromium`');
/** The conformance suite whose `authorization` command tests an authorization server (Node 22). */
const SUITE = `${root}.tools/node22/node_modules/@modelcontextprotocol/conformance/dist/index.js`;
const haveSuite = requireExternal(
  'the 2026 conformance suite (.tools/node22)',
  existsSync(SUITE) && existsSync(extraNode(22)),
  '`bash scripts/extra-tools.sh`',
);

type Tokens = Awaited<ReturnType<OAuthClientProvider['tokens']>>;
type Info = Awaited<ReturnType<OAuthClientProvider['clientInformation']>>;

/** A client's OAuth state, in memory; the "browser hand-off" is recorded for the test to follow. */
class RecordingProvider implements OAuthClientProvider {
  readonly redirects: URL[] = [];
  info: Info;
  stored: Tokens;
  verifier = '';
  discovery: unknown;
  constructor(readonly redirectUrl: string) {}
  get clientMetadata() {
    return {
      client_name: 'Browser test assistant',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: Info) {
    this.info = info;
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens: Tokens) {
    this.stored = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.redirects.push(url);
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as never;
  }
}

describe.skipIf(!haveChromium)('OAuth sign-in through the browser', () => {
  let server: Started;
  let browser: Browser;
  let page: Page;
  let callback: Server;
  let callbackUrl = '';
  let nextCallback: ((query: URLSearchParams) => void) | undefined;

  beforeAll(async () => {
    [server, browser] = await Promise.all([
      startProcess(['--http', '--auth', 'oauth', '--sandbox', '--port', '0'], { env: cleanEnv }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
        ],
      }),
    ]);
    page = await browser.newPage();
    callback = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('Signed in: return to the test');
      nextCallback?.(new URL(req.url ?? '/', 'http://x').searchParams);
    });
    await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve));
    callbackUrl = `http://127.0.0.1:${(callback.address() as { port: number }).port}/callback`;
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    callback?.close();
    await killAll();
  });

  /** Follows an authorization URL in the browser through the sign-in page; the callback's query. */
  async function signIn(
    url: URL,
    form: { credentials?: { clientId: string; apiKey: string }; write: boolean; destroy: boolean },
  ): Promise<URLSearchParams> {
    const arrived = new Promise<URLSearchParams>((resolve) => {
      nextCallback = resolve;
    });
    await page.goto(url.href);
    expect(page.url()).toMatch(/\/oauth\/interaction\//);
    if (form.credentials) {
      await page.fill('#client_id', form.credentials.clientId);
      await page.fill('#api_key', form.credentials.apiKey);
    } else {
      await expect(page.textContent('body')).resolves.toContain('Signed in with Flops client');
    }
    for (const [scope, on] of [
      ['flops:write', form.write],
      ['flops:destroy', form.destroy],
    ] as const) {
      const box = page.locator(`input[name=scope][value="${scope}"]`);
      if ((await box.count()) > 0) await box.setChecked(on);
    }
    await page.click('button[value=allow]');
    return arrived;
  }

  function newTransport(provider: RecordingProvider) {
    return new StreamableHTTPClientTransport(new URL(server.url), { authProvider: provider });
  }

  async function connected(provider: RecordingProvider): Promise<Client> {
    const client = new Client(
      { name: 'oauth-e2e', version: '1.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    await client.connect(newTransport(provider));
    return client;
  }

  it('signs in from scratch, works within its scope, is refused beyond it, steps up, and is revoked', async () => {
    const provider = new RecordingProvider(callbackUrl);
    const first = new Client(
      { name: 'oauth-e2e', version: '1.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    const transport = newTransport(provider);
    await expect(first.connect(transport)).rejects.toBeInstanceOf(UnauthorizedError);
    // Discovery and dynamic registration happened; the user is sent to the sign-in page.
    expect(provider.info?.client_id).toBeTruthy();
    const authorize = provider.redirects[0]!;
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('resource')).toBe(server.url);
    expect(authorize.searchParams.get('scope')).toContain('flops:read');

    // A wrong key is refused on the page, and the key is never echoed back.
    await page.goto(authorize.href);
    await page.fill('#client_id', 'sandbox');
    await page.fill('#api_key', 'not-the-key');
    await page.click('button[value=allow]');
    const refusedPage = await page.content();
    expect(refusedPage).toContain('Flops did not accept');
    expect(refusedPage).not.toContain('not-the-key');

    const query = await signIn(authorize, {
      credentials: { clientId: 'sandbox', apiKey: 'sandbox' },
      write: true,
      destroy: false,
    });
    expect(query.get('iss')).toBe(new URL(server.url).origin);
    await transport.finishAuth(query);
    expect(provider.stored?.scope).toBe('flops:read flops:write');
    expect(provider.stored?.refresh_token).toBeTruthy();

    const client = await connected(provider);
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const listed = await client.callTool({ name: 'vm_list', arguments: {} });
    expect(listed.isError).toBeFalsy();
    const vms = (listed.structuredContent as { vms: { id: number }[] }).vms;
    expect(vms.length).toBeGreaterThan(0);
    // A change within the scope (planned, not done).
    const renamed = await client.callTool({
      name: 'vm_rename',
      arguments: { vmId: vms[0]!.id, name: 'renamed', dryRun: true },
    });
    expect(renamed.isError).toBeFalsy();

    // Destructive: beyond the token's scope. The client sees 403 insufficient_scope and asks again.
    await expect(
      client.callTool({ name: 'vm_delete', arguments: { vmId: vms[0]!.id, dryRun: true } }),
    ).rejects.toThrow();
    const stepUp = provider.redirects.at(-1)!;
    expect(provider.redirects.length).toBe(2);
    expect(stepUp.searchParams.get('scope')?.split(' ')).toContain('flops:destroy');
    // Signed in already in this browser: only the scopes are asked.
    await transport.finishAuth(await signIn(stepUp, { write: true, destroy: true }));
    expect(provider.stored?.scope).toBe('flops:read flops:write flops:destroy');
    const stepped = await connected(provider);
    const planned = await stepped.callTool({
      name: 'vm_delete',
      arguments: { vmId: vms[0]!.id, dryRun: true },
    });
    expect(planned.isError).toBeFalsy();

    // One click on the account page ends the connection: the token stops working.
    await page.goto(`${new URL(server.url).origin}/oauth/account`);
    await expect(page.textContent('body')).resolves.toContain('Browser test assistant');
    await page.locator('button[value=revoke]').first().click();
    await expect(page.textContent('body')).resolves.toContain('Access revoked');
    const raw = await fetch(server.url, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${provider.stored?.access_token}`,
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(raw.status).toBe(401);
    expect(raw.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // Nothing of the key reached the log.
    expect(server.stderr()).not.toMatch(/not-the-key/);
  }, 90_000);

  it.skipIf(!haveSuite)(
    "passes the conformance suite's authorization-server scenarios, signing in through the page",
    async () => {
      const origin = new URL(server.url).origin;
      // A free port for the suite's callback, registered as the client's redirect URI.
      const probe = createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as { port: number }).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const registered = (await (
        await fetch(`${origin}/oauth/register`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({
            client_name: 'MCP conformance suite',
            redirect_uris: [`http://127.0.0.1:${port}/callback`],
            token_endpoint_auth_method: 'none',
          }),
        })
      ).json()) as { client_id: string };
      const out = mkdtempSync(join(tmpdir(), 'flops-oauth-conformance-'));
      const suite = spawn(
        extraNode(22),
        [
          SUITE,
          'authorization',
          '--url',
          origin,
          '--client-id',
          registered.client_id,
          '--resource',
          server.url,
          '-p',
          String(port),
          '-o',
          out,
        ],
        { env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let printed = '';
      suite.stdout.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
      });
      suite.stderr.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => suite.once('exit', resolve));
      const start = Date.now();
      let authorizeUrl: string | undefined;
      while (!authorizeUrl && Date.now() - start < 30_000) {
        authorizeUrl = printed.split('\n').find((l) => l.startsWith(`${origin}/oauth/authorize?`));
        if (!authorizeUrl) await new Promise((r) => setTimeout(r, 100));
      }
      expect(authorizeUrl, printed).toBeTruthy();
      // The suite's request names no scope: the page offers every one (RFC 6749 §3.3 default).
      const context = await browser.newContext();
      const fresh = await context.newPage();
      await fresh.goto(authorizeUrl!);
      await expect(fresh.locator('input[name=scope][value="flops:destroy"]').count()).resolves.toBe(1);
      await fresh.fill('#client_id', 'sandbox');
      await fresh.fill('#api_key', 'sandbox');
      await fresh.click('button[value=allow]');
      expect(await exited, printed).toBe(0);
      await context.close();
      const checks = readdirSync(out).flatMap(
        (dir) =>
          JSON.parse(readFileSync(join(out, dir, 'checks.json'), 'utf8')) as { id: string; status: string }[],
      );
      // Both scenarios ran and every check passed, client ID metadata document support included.
      expect(checks.map((c) => c.id).sort()).toEqual([
        'authorization-code-grant',
        'authorization-server-metadata',
        'authorization-server-metadata-cimd',
      ]);
      expect(
        checks.filter((c) => c.status !== 'SUCCESS'),
        printed,
      ).toEqual([]);
    },
    90_000,
  );
});
