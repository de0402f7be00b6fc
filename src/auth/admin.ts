/**
 * `flops-mcp auth list` and `flops-mcp auth revoke ACCOUNT|--all`: the operator's view of who
 * signed in through `--auth oauth`, and revocation (every connection ended, the kept Flops key
 * forgotten). Works on the store a running server uses (FLOPS_MCP_AUTH_STORE, same
 * FLOPS_MCP_AUTH_KEY): LMDB lets both open it at once, and the server refuses revoked tokens at once.
 */
import { parseConfig, UsageError } from '../config.js';
import { createLogger } from '../log.js';
import { OAuthServer } from './oauth.js';
import { type AuthStore, EmbeddedStore } from './store.js';

const USAGE = `flops-mcp auth list            accounts that signed in: account id, Flops client id, connections
flops-mcp auth revoke ACCOUNT  end every connection of an account (its id or its Flops client id)
flops-mcp auth revoke --all    the same for every account
Reads FLOPS_MCP_AUTH_KEY and FLOPS_MCP_AUTH_STORE (or FLOPS_REDIS_URL) as the server does.
`;

export async function runAuthAdmin(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Promise<number> {
  const [command, target] = argv;
  if (command !== 'list' && command !== 'revoke') {
    process.stderr.write(USAGE);
    return command === undefined || command === '--help' ? 0 : 2;
  }
  const config = parseConfig([], env);
  if (config === 'help' || config === 'version') return 0;
  if (!config.authKey) throw new UsageError('flops-mcp auth needs the server’s FLOPS_MCP_AUTH_KEY');
  const redis = config.redisUrl
    ? await (await import('../shared/redis.js')).connectRedis(config.redisUrl, {
        log: createLogger({ level: 'error' }),
      })
    : undefined;
  const store: AuthStore = redis
    ? new (await import('./redis-store.js')).RedisStore(redis.command)
    : await EmbeddedStore.open(config.authStore);
  try {
    const oauth = await OAuthServer.create({
      publicUrl: config.publicUrl ?? new URL('http://127.0.0.1'),
      authKey: config.authKey,
      store,
      log: createLogger({ level: 'error' }),
      checkCredentials: async () => 'unreachable',
    });
    const accounts = await oauth.accounts();
    if (command === 'list') {
      if (accounts.length === 0) out('no account has signed in');
      for (const id of accounts) {
        const { flopsClientId, connections } = await oauth.connections(id);
        out(
          `${id}  Flops client ${flopsClientId}  ${connections.length} connection(s)${connections.map((c) => `\n  ${c.client}: ${c.scopes.join(' ')} (until ${c.expires})`).join('')}`,
        );
      }
      return 0;
    }
    if (!target)
      throw new UsageError('flops-mcp auth revoke needs an account id, a Flops client id or --all');
    const chosen =
      target === '--all'
        ? accounts
        : accounts.filter((id) => id === target || id === oauth.accountIdOf(target));
    if (chosen.length === 0) {
      out(`no account ${target}`);
      return 1;
    }
    for (const id of chosen)
      out(`${id}: ${await oauth.revokeAccount(id)} connection(s) revoked, Flops key forgotten`);
    return 0;
  } finally {
    await store.close();
    await redis?.close();
  }
}
