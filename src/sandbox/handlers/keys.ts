/** Toolset `keys`: the account's SSH public keys. */
import type { PublicKeyRecord } from '../model.js';
import { notOwner, objectNotFound } from '../rules.js';
import { type Ctx, ownTenant, type ToolsetHandlers } from './shared.js';

export function keyType(publicKey: string): string {
  if (publicKey.startsWith('ssh-rsa')) return 'RSA';
  if (publicKey.startsWith('ssh-dss')) return 'DSA';
  if (publicKey.startsWith('ssh-ed25519')) return 'ED25519';
  if (publicKey.startsWith('ecdsa-')) return 'ECDSA';
  return 'UNKNOWN';
}

function ownKey(ctx: Ctx, keyId: number, tenantId: number): PublicKeyRecord {
  ownTenant(ctx, tenantId);
  const key = ctx.state.publicKeys.get(keyId);
  if (!key) throw objectNotFound();
  if (key.accountId !== ctx.account.id) throw notOwner();
  if (key.tenantId !== undefined && key.tenantId !== tenantId) throw notOwner();
  return key;
}

export const keys = {
  pubkey_list: (ctx) =>
    [...ctx.state.publicKeys.values()]
      .filter((k) => k.accountId === ctx.account.id)
      .sort((a, b) => b.id - a.id)
      .map((k) => ctx.state.publicKeyView(k)),

  pubkey_add: (ctx, p) => {
    const tenant = ownTenant(ctx, p.tenantId);
    const key: PublicKeyRecord = {
      id: ctx.state.nextId('publicKey'),
      accountId: ctx.account.id,
      tenantId: tenant.id,
      name: p.name,
      type: keyType(p.publicKey),
      publicKey: p.publicKey,
      timeAdded: ctx.now,
    };
    ctx.state.publicKeys.set(key.id, key);
    return ctx.state.publicKeyView(key, false);
  },

  pubkey_edit: (ctx, p) => {
    const key = ownKey(ctx, p.keyId, p.tenantId);
    if (p.name !== undefined) key.name = p.name;
    if (p.publicKey !== undefined) {
      key.publicKey = p.publicKey;
      key.type = keyType(p.publicKey);
    }
    return ctx.state.publicKeyView(key, false);
  },

  pubkey_delete: (ctx, p) => {
    ctx.state.publicKeys.delete(ownKey(ctx, p.keyId, p.tenantId).id);
    return undefined;
  },
} satisfies ToolsetHandlers<'keys'>;
