/**
 * Where the sign-in state lives: clients, grants, codes, tokens (by digest, never the token itself)
 * and each account's Flops credentials (encrypted). One small interface with two implementations:
 *
 * - `EmbeddedStore`: LMDB in one directory, the default: nothing to install, survives restarts,
 *   and several processes on one host may open it at once;
 * - a shared store when replicas on several hosts serve together.
 *
 * Values are JSON; every entry may expire. Sets hold small indexes (a grant's tokens, an account's
 * grants); `incr` counts in fixed windows (registration limits, the client cap).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';

export interface AuthStore {
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** The value and the seconds it has left (undefined: no expiry). */
  getWithTtl<T = unknown>(key: string): Promise<{ value: T; ttl: number | undefined } | undefined>;
  set(key: string, value: unknown, ttlSeconds?: number): Promise<void>;
  delete(key: string): Promise<void>;
  addToSet(key: string, member: string, ttlSeconds?: number): Promise<void>;
  removeFromSet(key: string, member: string): Promise<void>;
  members(key: string): Promise<string[]>;
  /** Adds one and returns the new count; the count expires `ttlSeconds` after it was created. */
  incr(key: string, ttlSeconds: number): Promise<number>;
  /** Whether the store answers (readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

interface Entry {
  v: unknown;
  /** Expiry, ms since the epoch; 0: none. */
  e: number;
}

const expiry = (ttlSeconds: number | undefined) =>
  ttlSeconds === undefined || !Number.isFinite(ttlSeconds) ? 0 : Date.now() + Math.max(1, ttlSeconds) * 1000;

const alive = (entry: Entry | undefined, now = Date.now()): entry is Entry =>
  entry !== undefined && (entry.e === 0 || entry.e > now);

type Lmdb = import('lmdb').RootDatabase<Entry, string>;

/** LMDB in `path` (a directory, created if missing). Expired entries are swept every 10 minutes. */
export class EmbeddedStore implements AuthStore {
  readonly #db: Lmdb;
  readonly #sweeper: NodeJS.Timeout;

  private constructor(db: Lmdb) {
    this.#db = db;
    this.#sweeper = setInterval(() => void this.sweep(), 10 * 60_000);
    this.#sweeper.unref();
  }

  /** `path` may start with `~`, the user's home (the setting's default does). */
  static async open(path: string): Promise<EmbeddedStore> {
    path = path.replace(/^~(?=\/|$)/, homedir());
    mkdirSync(path, { recursive: true, mode: 0o700 });
    const { open } = await import('lmdb');
    return new EmbeddedStore(open<Entry, string>({ path, compression: false }));
  }

  async get<T>(key: string): Promise<T | undefined> {
    const entry = this.#db.get(key);
    return alive(entry) ? (entry.v as T) : undefined;
  }

  async getWithTtl<T>(key: string): Promise<{ value: T; ttl: number | undefined } | undefined> {
    const entry = this.#db.get(key);
    if (!alive(entry)) return undefined;
    return { value: entry.v as T, ttl: entry.e === 0 ? undefined : Math.ceil((entry.e - Date.now()) / 1000) };
  }

  async set(key: string, value: unknown, ttlSeconds?: number): Promise<void> {
    await this.#db.put(key, { v: value, e: expiry(ttlSeconds) });
  }

  async delete(key: string): Promise<void> {
    await this.#db.remove(key);
  }

  async addToSet(key: string, member: string, ttlSeconds?: number): Promise<void> {
    await this.#db.transaction(() => {
      const entry = this.#db.get(key);
      const set = alive(entry) ? (entry.v as string[]) : [];
      const e = expiry(ttlSeconds);
      // A set lives as long as its longest-lived member.
      const keep = alive(entry) && (entry.e === 0 || (e !== 0 && entry.e > e)) ? entry.e : e;
      this.#db.putSync(key, { v: set.includes(member) ? set : [...set, member], e: keep });
    });
  }

  async removeFromSet(key: string, member: string): Promise<void> {
    await this.#db.transaction(() => {
      const entry = this.#db.get(key);
      if (!alive(entry)) return;
      const set = (entry.v as string[]).filter((m) => m !== member);
      if (set.length === 0) this.#db.removeSync(key);
      else this.#db.putSync(key, { v: set, e: entry.e });
    });
  }

  async members(key: string): Promise<string[]> {
    const entry = this.#db.get(key);
    return alive(entry) ? [...(entry.v as string[])] : [];
  }

  async incr(key: string, ttlSeconds: number): Promise<number> {
    let count = 0;
    await this.#db.transaction(() => {
      const entry = this.#db.get(key);
      count = (alive(entry) ? (entry.v as number) : 0) + 1;
      this.#db.putSync(key, { v: count, e: alive(entry) ? entry.e : expiry(ttlSeconds) });
    });
    return count;
  }

  async ping(): Promise<boolean> {
    return true;
  }

  /** Drop expired entries. */
  async sweep(now = Date.now()): Promise<number> {
    let removed = 0;
    await this.#db.transaction(() => {
      for (const { key, value } of this.#db.getRange()) {
        if (!alive(value, now)) {
          this.#db.removeSync(key);
          removed++;
        }
      }
    });
    return removed;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await this.#db.close();
  }
}

/** The keys derived from FLOPS_MCP_AUTH_KEY, one per purpose (HKDF-SHA256). */
export function deriveKey(master: Uint8Array, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `flops-mcp ${purpose}`, length));
}

/** A stable, non-reversible name for a value (token ids, client ids) as a store key. */
export const digestOf = (value: string): string => createHash('sha256').update(value).digest('base64url');

/** A keyed digest: the same input gives the same name only under the same key. */
export const macOf = (key: Uint8Array, value: string): string =>
  createHmac('sha256', key).update(value).digest('base64url');

export interface FlopsCredentials {
  clientId: string;
  apiKey: string;
}

/**
 * Each account's Flops credentials, encrypted with AES-256-GCM under a key derived from
 * FLOPS_MCP_AUTH_KEY and bound to the account id (a record copied to another account does not
 * open). Never logged; decrypted only to build the account's API client.
 */
export class CredentialVault {
  readonly #key: Buffer;
  readonly #store: AuthStore;

  constructor(master: Uint8Array, store: AuthStore) {
    this.#key = deriveKey(master, 'credentials');
    this.#store = store;
  }

  async put(accountId: string, creds: FlopsCredentials): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(accountId));
    const body = Buffer.concat([cipher.update(JSON.stringify(creds), 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    await this.#store.set(`cred:${accountId}`, { sealed, at: Date.now() });
    await this.#store.addToSet('accounts', accountId);
  }

  async get(accountId: string): Promise<FlopsCredentials | undefined> {
    const record = await this.#store.get<{ sealed: string }>(`cred:${accountId}`);
    if (!record) return undefined;
    try {
      const raw = Buffer.from(record.sealed, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(accountId));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      return JSON.parse(text) as FlopsCredentials;
    } catch {
      // Another key (FLOPS_MCP_AUTH_KEY changed) or a damaged record: the user signs in again.
      return undefined;
    }
  }

  async forget(accountId: string): Promise<void> {
    await this.#store.delete(`cred:${accountId}`);
    await this.#store.removeFromSet('accounts', accountId);
  }

  async accounts(): Promise<string[]> {
    return this.#store.members('accounts');
  }
}
