/**
 * What an agent may do, decided from the tools' annotations — never from a second list of names:
 *   - `selectTools`: toolsets, added and excluded tools, read-only and no-destructive modes;
 *   - `confirmDestructive`: ask the user (input_required on 2026-07-28, elicitation on 2025 sessions)
 *     before a destructive call, showing what will be lost in concrete terms; a declined or
 *     cancelled call never reaches the provider;
 *   - `readOnlyRefusal`: read-only mode also refuses writes at call time.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  type CallToolResult,
  type ClientCapabilities,
  createRequestStateCodec,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  type RequestStateCodec,
  type ServerContext,
} from '@modelcontextprotocol/server';
import type { Vm } from '../api/types.js';
import type { ConfirmMode } from '../config.js';
import { refused } from './results.js';
import type { ToolSpec } from './tools.js';

export function readOnlyRefusal(spec: ToolSpec): CallToolResult {
  return refused(
    `${spec.name} is refused: this server runs in read-only mode (--read-only / FLOPS_READ_ONLY), so nothing that changes state can be called.`,
    'read-only',
    'Use the read tools only; changes need a server without --read-only.',
  );
}

export type Confirmation = 'accepted' | 'declined' | 'cancelled' | 'not-asked' | 'off' | 'refused';

/** What the seal of a confirmation round binds: the call, its resolved parameters and the actor. */
export interface ConfirmState {
  /** The tool and a digest of the resolved parameters: the answer is valid for this call only. */
  call: string;
  /** One-time: a replayed state is refused (see ConfirmSeal.spend). */
  nonce: string;
}

export interface ConfirmRequest {
  spec: ToolSpec;
  params: Record<string, unknown>;
  vm: Vm | undefined;
  /** The client's capabilities for this request; undefined when they cannot be known (stateless 2025). */
  capabilities: ClientCapabilities | undefined;
  /** This round's answers and verified state (2026 retry, or the SDK's legacy shim on 2025). */
  inputResponses: Record<string, unknown> | undefined;
  state: ConfirmState | undefined;
  seal: ConfirmSeal;
  actor: string | undefined;
}

export type ConfirmOutcome =
  | { confirmation: Confirmation; refusal?: CallToolResult; ask?: undefined }
  | { ask: InputRequiredResult; confirmation?: undefined; refusal?: undefined };

/**
 * Show a provider-controlled string (a VM name) as data inside a question: quoted, with control,
 * line-break and bidirectional-override characters escaped, so that a name can never rewrite the
 * warning around it.
 */
export function quoted(value: string | null | undefined): string {
  const text = (value ?? '').slice(0, 200);
  return `"${text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what must be escaped
    /[\u0000-\u001f\u007f-\u009f"\\\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/g,
    (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  )}"`;
}

/** The confirmation text: the tool, the object (id first, name as data), and what will be lost. */
export function confirmationMessage(
  spec: ToolSpec,
  params: Record<string, unknown>,
  vm: Vm | undefined,
): string {
  const destroys = (spec.row?.destroys ?? 'data may be lost').replace(/\{(\w+)\}/g, (_, key: string) => {
    const value = params[key];
    if (Array.isArray(value)) return value.length ? value.join(', ') : '(none)';
    return value === undefined ? '(none)' : String(value);
  });
  const target = vm
    ? `VM ${vm.id} (name ${quoted(vm.name)}${vm.ipAddresses.length ? `, IP ${vm.ipAddresses.join(', ')}` : ''})`
    : params['vmId'] !== undefined
      ? `VM ${params['vmId']}`
      : params['keyId'] !== undefined
        ? `key ${params['keyId']}`
        : 'the account';
  return `${spec.title} — ${target}: ${destroys}. This cannot be undone. Proceed?`;
}

const CONFIRM_KEY = 'confirm';
const confirmSchema = {
  type: 'object' as const,
  properties: {
    confirm: {
      type: 'boolean' as const,
      title: 'Proceed',
      description: 'Yes, do it: I accept what will be lost.',
    },
  },
  required: ['confirm'],
};

/**
 * Ask the user before a destructive call, without server state: the question goes out as an
 * `input_required` result (on 2025 sessions the SDK's legacy shim turns it into
 * `elicitation/create`), with a sealed state that binds the answer to this very call. Returns the
 * question to send, the refusal to send instead of the call, or nothing to go on.
 */
export async function confirmDestructive(mode: ConfirmMode, req: ConfirmRequest): Promise<ConfirmOutcome> {
  if (mode === 'off') return { confirmation: 'off' };
  const call = callDigest(req.spec.name, req.params, req.actor);
  const answer = req.inputResponses?.[CONFIRM_KEY];
  if (answer !== undefined) {
    if (!req.state || req.state.call !== call || !req.seal.spend(req.state.nonce)) {
      return {
        confirmation: 'refused',
        refusal: refused(
          `${req.spec.name} was NOT run: the confirmation does not belong to this call (changed, expired or already used). Nothing was sent to the provider. Call the tool again to be asked afresh.`,
          'confirmation-invalid',
          'Call the tool again to be asked afresh.',
          { confirmation: 'refused' },
        ),
      };
    }
    const view = inputResponse(req.inputResponses, CONFIRM_KEY);
    if (view.kind === 'elicit' && view.action === 'accept' && view.content?.['confirm'] === true) {
      return { confirmation: 'accepted' };
    }
    const confirmation: Confirmation =
      view.kind === 'elicit' && view.action === 'cancel' ? 'cancelled' : 'declined';
    return {
      confirmation,
      refusal: refused(
        `${req.spec.name} was NOT run: the user ${confirmation === 'cancelled' ? 'cancelled the confirmation' : 'declined'}. Nothing was sent to the provider. Do not retry unless the user asks for it.`,
        confirmation,
        'Do not retry unless the user asks for it.',
        { confirmation },
      ),
    };
  }
  if (req.capabilities?.elicitation === undefined) {
    if (mode === 'elicit') return { confirmation: 'not-asked' };
    return {
      confirmation: 'refused',
      refusal: refused(
        `${req.spec.name} was NOT run: this server requires the user's confirmation for destructive actions (FLOPS_CONFIRM=required) and this client cannot ask its user (no elicitation support). Nothing was sent to the provider. Use a client that supports elicitation, or have the operator set FLOPS_CONFIRM=elicit or off.`,
        'confirmation-required',
        'Use a client that supports elicitation, or have the operator set FLOPS_CONFIRM=elicit or off.',
      ),
    };
  }
  const state = await req.seal.mint({ call, nonce: randomBytes(12).toString('base64url') });
  return {
    ask: inputRequired({
      inputRequests: {
        [CONFIRM_KEY]: inputRequired.elicit({
          message: confirmationMessage(req.spec, req.params, req.vm),
          requestedSchema: confirmSchema,
        }),
      },
      requestState: state,
    }),
  };
}

/** The call a confirmation is for: tool, resolved parameters (canonical JSON) and actor, hashed. */
function callDigest(tool: string, params: Record<string, unknown>, actor: string | undefined): string {
  const canonical = JSON.stringify(
    Object.fromEntries(Object.entries(params).sort(([a], [b]) => a.localeCompare(b))),
  );
  return createHash('sha256')
    .update(`${tool}\0${actor ?? ''}\0${canonical}`)
    .digest('base64url');
}

/**
 * The seal of confirmation state: HMAC-SHA256 with an expiry (the SDK's request-state codec), and
 * one-time nonces remembered until they expire, so an answer cannot be replayed. The key comes
 * from FLOPS_MCP_AUTH_KEY so that replicas behind a balancer accept each other's state; without
 * it each process makes its own.
 */
export class ConfirmSeal {
  static readonly TTL_SECONDS = 300;
  readonly #codec: RequestStateCodec<ConfirmState>;
  readonly #spent = new Map<string, number>();

  constructor(key: Uint8Array = randomBytes(32)) {
    this.#codec = createRequestStateCodec<ConfirmState>({ key, ttlSeconds: ConfirmSeal.TTL_SECONDS });
  }

  mint(state: ConfirmState): Promise<string> {
    return this.#codec.mint(state);
  }

  /** The hook for ServerOptions.requestState.verify: throws on a tampered or expired state. */
  readonly verify = (state: string, ctx: ServerContext): unknown => this.#codec.verify(state, ctx);

  /** True the first time a nonce is presented within its lifetime. */
  spend(nonce: string): boolean {
    const now = Date.now();
    if (this.#spent.size > 10_000) {
      for (const [n, until] of this.#spent) if (until < now) this.#spent.delete(n);
    }
    if (this.#spent.has(nonce)) return false;
    this.#spent.set(nonce, now + ConfirmSeal.TTL_SECONDS * 1000);
    return true;
  }
}
