/**
 * `--auth oauth` from the configuration: the key, the public URL, the store, and the check of a
 * user's Flops credentials (one provider read). Loaded only with `--auth oauth`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlopsClient } from '../api/client.js';
import type { Config } from '../config.js';
import { UsageError } from '../config.js';
import type { OAuthGate } from '../http/server.js';
import { isLoopbackHost } from '../http/server.js';
import type { Logger } from '../log.js';
import type { Redis } from '../shared/redis.js';
import type { CredentialCheck } from './oauth.js';
import { type AuthStore, EmbeddedStore, type FlopsCredentials } from './store.js';

export interface OAuthSetup {
  /** For startHttpServer's `oauth` option. */
  gate: (bound: URL) => Promise<OAuthGate>;
  /** The public URL's host, to add to the allowed Host values. */
  publicHost: string | undefined;
  close(): Promise<void>;
}

/** One provider read with a user's credentials: accepted, refused, or not known (unreachable). */
export async function checkCredentials(
  newClient: (creds: FlopsCredentials) => FlopsClient,
  creds: FlopsCredentials,
): Promise<CredentialCheck> {
  const client = newClient(creds);
  try {
    return await client.probe();
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** The origin clients use; a public URL must be the origin, or the origin's `/mcp`. */
function publicOrigin(url: URL): URL {
  const path = url.pathname.replace(/\/+$/, '');
  if (path !== '' && path !== '/mcp') {
    throw new UsageError(
      `FLOPS_MCP_PUBLIC_URL must be the server's origin or its /mcp (the sign-in routes live beside /mcp), got a path of "${path.slice(0, 60)}"`,
    );
  }
  return new URL(url.origin);
}

export async function setUpOAuth(
  config: Config,
  o: {
    log: Logger;
    newClient: (creds: FlopsCredentials) => FlopsClient;
    /** The replicas' Redis (FLOPS_REDIS_URL): the sign-in store goes there instead. */
    redis?: Redis | undefined;
  },
): Promise<OAuthSetup> {
  if (!config.http) throw new UsageError('--auth oauth serves over HTTP: add --http');
  let authKey = config.authKey;
  let scratch: string | undefined;
  if (!authKey) {
    if (!config.sandbox) {
      throw new UsageError(
        '--auth oauth needs FLOPS_MCP_AUTH_KEY (32 random bytes in base64: `openssl rand -base64 32`): it encrypts the kept Flops keys and signs the sign-in state',
      );
    }
    // The sandbox: a key and a store for this run only.
    authKey = randomBytes(32);
    scratch = mkdtempSync(join(tmpdir(), 'flops-mcp-auth-'));
  }
  if (!config.publicUrl && !isLoopbackHost(config.host)) {
    throw new UsageError(
      '--auth oauth beyond loopback needs FLOPS_MCP_PUBLIC_URL, the URL clients use (e.g. https://mcp.example.com/mcp)',
    );
  }
  const origin = config.publicUrl ? publicOrigin(config.publicUrl) : undefined;
  if (origin && origin.protocol === 'http:' && !isLoopbackHost(origin.hostname)) {
    o.log.warn(
      `FLOPS_MCP_PUBLIC_URL is plain http on ${origin.hostname}: tokens, codes and the sign-in form would cross the network unencrypted; serve it over https (a TLS proxy)`,
    );
  }
  // Replicas on several hosts share Redis; otherwise the embedded store (one host, any processes).
  const store: AuthStore = o.redis
    ? new (await import('./redis-store.js')).RedisStore(o.redis)
    : await EmbeddedStore.open(scratch ?? config.authStore);
  const check = (creds: FlopsCredentials) => checkCredentials(o.newClient, creds);
  if (config.sandbox) {
    o.log.info(
      'SANDBOX MODE: sign in on the OAuth page with Flops client id "sandbox" and API key "sandbox"',
    );
  }
  return {
    publicHost: origin?.host,
    gate: async (bound) => {
      const publicUrl = origin ?? new URL(bound.origin);
      if (config.authIssuer) {
        const { ExternalAuth } = await import('./external.js');
        return ExternalAuth.create({
          issuer: config.authIssuer,
          publicUrl,
          authKey: authKey!,
          log: o.log,
          store,
          checkCredentials: check,
        });
      }
      const { OAuthServer } = await import('./oauth.js');
      return OAuthServer.create({ publicUrl, authKey: authKey!, store, log: o.log, checkCredentials: check });
    },
    close: async () => {
      await store.close();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  };
}
