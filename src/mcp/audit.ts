/**
 * The audit log (FLOPS_AUDIT_LOG): one JSON line per write — time, tool, VM id, arguments with
 * secrets redacted, how it was confirmed, the outcome and the operationId. Each line is appended
 * and flushed to disk before the tool's result is returned, so a crash loses no entry. Refused and
 * declined calls are logged too.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { SECRET_PARAMS } from '../api/fields.js';

export interface AuditEntry {
  tool: string;
  vmId?: number | undefined;
  args: Record<string, unknown>;
  confirmation: string;
  outcome: 'ok' | 'error' | 'refused' | 'declined' | 'cancelled';
  operationId?: number | undefined;
  /** The task that stands for the operation (Tasks extension). */
  taskId?: string | undefined;
  error?: string | undefined;
  /** Who acted, when the session brought its own credentials (clientId only). */
  clientId?: string | undefined;
}

export function redactArgs(args: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) out[key] = SECRET_PARAMS.has(key) ? '[REDACTED]' : value;
  return out;
}

export class AuditLog {
  readonly path: string;
  #file: Promise<FileHandle> | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string) {
    this.path = path;
  }

  /** Append one entry and flush it; resolves when it is on disk. */
  write(entry: AuditEntry): Promise<void> {
    const line = `${JSON.stringify({ time: new Date().toISOString(), ...entry, args: redactArgs(entry.args) })}\n`;
    const next = this.#queue.then(async () => {
      this.#file ??= open(this.path, 'a', 0o600);
      const file = await this.#file;
      await file.appendFile(line);
      await file.datasync();
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    await this.#queue;
    const file = this.#file;
    this.#file = undefined;
    if (file) await (await file).close();
  }
}
