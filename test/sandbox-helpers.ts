/** Helpers for the sandbox tests: plain HTTP (global fetch and node:http) against a real sandbox. */
import { request as httpRequest } from 'node:http';
import { expect } from 'vitest';
import type { Sandbox } from '../src/sandbox/index.js';

export type Query = Record<string, string | number | boolean | readonly (string | number)[] | undefined>;

// biome-ignore lint/suspicious/noExplicitAny: test helper returns parsed JSON of any shape
export type Json = any;

export function query(sb: Sandbox, params: Query = {}, credentials = true): URLSearchParams {
  const q = new URLSearchParams();
  if (credentials) {
    q.set('clientId', sb.clientId);
    q.set('apiKey', sb.apiKey);
  }
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) q.append(name, String(v));
    else q.append(name, String(value));
  }
  return q;
}

export async function api(
  sb: Sandbox,
  path: string,
  params: Query = {},
  credentials = true,
): Promise<{ status: number; body: Json; headers: Headers }> {
  const res = await fetch(`${sb.url}${path}?${query(sb, params, credentials)}`);
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
}

/** The body of a call that must succeed. */
export async function ok(sb: Sandbox, path: string, params: Query = {}): Promise<Json> {
  const { status, body } = await api(sb, path, params);
  expect(status).toBe(200);
  expect(body, JSON.stringify(body)).toMatchObject({ status: 'OK' });
  return body;
}

/** The body of a call that must fail with HTTP 200 and the given errorCode. */
export async function fails(
  sb: Sandbox,
  path: string,
  params: Query,
  errorCode: string | null,
): Promise<Json> {
  const { status, body } = await api(sb, path, params);
  expect(status).toBe(200);
  expect(body, JSON.stringify(body)).toMatchObject({ status: 'ERROR', errorCode });
  expect(typeof body.errorMessage).toBe('string');
  return body;
}

/** A validation failure: errorCode null with fieldErrors naming `field`. */
export async function invalid(sb: Sandbox, path: string, params: Query, field: string): Promise<Json> {
  const body = await fails(sb, path, params, null);
  expect(body.errorMessage).toBe('Validation failed');
  expect(body.fieldErrors.map((f: { field: string }) => f.field)).toContain(field);
  return body;
}

/** Poll an operation until it is no longer PENDING. */
export async function waitOp(sb: Sandbox, operationId: number, timeoutMs = 5000): Promise<Json> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { result } = await ok(sb, `operation/${operationId}/`);
    if (result.status !== 'PENDING') return result;
    if (Date.now() > deadline) throw new Error(`operation ${operationId} still PENDING`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Start an asynchronous method and wait for its operation; returns the finished operation. */
export async function run(sb: Sandbox, path: string, params: Query): Promise<Json> {
  const body = await ok(sb, path, params);
  expect(typeof body.operationId).toBe('number');
  return waitOp(sb, body.operationId);
}

export interface RawResult {
  status?: number | undefined;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  /** Network-level failure (reset, body cut short). */
  error?: NodeJS.ErrnoException;
}

/** One GET on a fresh connection, reporting what happened at the HTTP level. */
export function rawGet(url: string): Promise<RawResult> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', (error: NodeJS.ErrnoException) =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          error,
        }),
      );
      res.on('aborted', () => undefined);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error }));
    req.end();
  });
}

export const KEY_TEXT =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@host';
export const PASSWORD = 'Secret-Pass1';
