/**
 * The SDK's four JSON-RPC message guards (`isJSONRPCRequest`, `isJSONRPCNotification`,
 * `isJSONRPCResultResponse`, `isJSONRPCErrorResponse`), written out as plain checks.
 *
 * The SDK runs them as `Schema.safeParse(message).success` about ten times for every call
 * that crosses stdio on 2026-07-28 (the stdio router, the connection channel, the protocol's
 * dispatch, the outbound intercept), most of them on a message of another kind, where zod builds
 * a whole error to answer `false`; together ≈ 9 % of the server's CPU at concurrency 64. The bin's
 * bundle (scripts/build.mjs) has the SDK call these instead; they answer exactly what the SDK's
 * zod schemas answer (@modelcontextprotocol/core's schemas.ts: JSONRPCRequestSchema and its
 * siblings, all `.strict()`), which test/jsonrpc-guards.test.ts checks against the SDK's own
 * guards over a corpus of well-formed and malformed messages.
 */

import { isRecord } from '../util.js';

type Obj = Record<string, unknown>;

/** `z.string()` or `z.number().int()` (a safe integer). */
const isIdLike = (value: unknown): boolean => typeof value === 'string' || Number.isSafeInteger(value);

/** No key beyond `allowed` (a `.strict()` object). */
function onlyKeys(value: Obj, allowed: readonly string[]): boolean {
  for (const key in value) if (!allowed.includes(key)) return false;
  return true;
}

const RELATED_TASK = 'io.modelcontextprotocol/related-task';

/** RequestSchema's and NotificationSchema's `params`: optional, loose, its `_meta` RequestMetaSchema. */
function paramsOk(params: unknown): boolean {
  if (params === undefined) return true;
  if (!isRecord(params)) return false;
  const meta = params['_meta'];
  if (meta === undefined) return true;
  if (!isRecord(meta)) return false;
  const token = meta['progressToken'];
  if (token !== undefined && !isIdLike(token)) return false;
  const related = meta[RELATED_TASK];
  return related === undefined || (isRecord(related) && typeof related['taskId'] === 'string');
}

const REQUEST_KEYS = ['jsonrpc', 'id', 'method', 'params'] as const;
const NOTIFICATION_KEYS = ['jsonrpc', 'method', 'params'] as const;
const RESULT_KEYS = ['jsonrpc', 'id', 'result'] as const;
const ERROR_KEYS = ['jsonrpc', 'id', 'error'] as const;

export function isJSONRPCRequest(value: unknown): boolean {
  return (
    isRecord(value) &&
    value['jsonrpc'] === '2.0' &&
    isIdLike(value['id']) &&
    typeof value['method'] === 'string' &&
    paramsOk(value['params']) &&
    onlyKeys(value, REQUEST_KEYS)
  );
}

export function isJSONRPCNotification(value: unknown): boolean {
  return (
    isRecord(value) &&
    value['jsonrpc'] === '2.0' &&
    typeof value['method'] === 'string' &&
    paramsOk(value['params']) &&
    onlyKeys(value, NOTIFICATION_KEYS)
  );
}

export function isJSONRPCResultResponse(value: unknown): boolean {
  if (!isRecord(value) || value['jsonrpc'] !== '2.0' || !isIdLike(value['id'])) return false;
  const result = value['result'];
  // ResultSchema: a loose object whose `_meta` (if any) is a loose object; its serverInfo is
  // parsed with `.catch(undefined)`, so nothing inside `_meta` can fail it.
  if (!isRecord(result)) return false;
  const meta = result['_meta'];
  return (meta === undefined || isRecord(meta)) && onlyKeys(value, RESULT_KEYS);
}

export function isJSONRPCErrorResponse(value: unknown): boolean {
  if (!isRecord(value) || value['jsonrpc'] !== '2.0') return false;
  const id = value['id'];
  if (id !== undefined && !isIdLike(id)) return false;
  const error = value['error'];
  return (
    isRecord(error) &&
    Number.isSafeInteger(error['code']) &&
    typeof error['message'] === 'string' &&
    onlyKeys(value, ERROR_KEYS)
  );
}
