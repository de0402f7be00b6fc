/**
 * The audit log (FLOPS_AUDIT_LOG): one JSON line per write — time, tool, VM id, arguments with
 * secrets redacted, how it was confirmed, the outcome, the operationId (and the task id). Each line
 * is appended and flushed to disk before the tool's result is returned, so a crash loses no entry.
 * Refused and declined calls are logged too. With `sentFirst` (replicas), a write is also recorded
 * before it is sent: a process killed while the provider works on it leaves that line.
 *
 * The log never stands between an agent and the truth about a write: the path is checked at
 * start-up (`open`), and an append that fails later is reported beside the write's real result (a
 * warning, and on stderr), never instead of it; the next write tries the file again.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { SECRET_PARAMS } from '../api/fields.js';

export interface AuditEntry {
  tool: string;
  vmId?: number | undefined;
  args: Record<string, unknown>;
  /** The tool's own argument names: any other key is logged by name only, never its value. */
  known?: readonly string[] | undefined;
  confirmation: string;
  /** `sent`: written before the write goes out (AuditLog `sentFirst`), its outcome follows. */
  outcome: 'ok' | 'error' | 'refused' | 'declined' | 'cancelled' | 'sent';
  operationId?: number | undefined;
  /** The task that stands for the operation (Tasks extension). */
  taskId?: string | undefined;
  error?: string | undefined;
  /** Who acted, when the request brought its own credentials (clientId only). */
  clientId?: string | undefined;
  /** Whether the provider accepted those credentials in this call (false: claimed, not proven). */
  clientVerified?: boolean | undefined;
}

/** Argument names that hold a secret, whatever the tool: redacted wherever they appear. */
const SECRET_NAME = /pass(word|wd|phrase)?$|secret|token|api.?key|private.?key|credential|^auth|^key$/i;
const MAX_DEPTH = 4;
const MAX_KEYS = 50;

/** Arguments as logged: secrets redacted by name at every depth, unknown keys by name only, bounded. */
export function redactArgs(
  args: Record<string, unknown>,
  known?: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args).slice(0, MAX_KEYS)) {
    if (known && !known.includes(key)) out[key] = '[unknown argument: value not logged]';
    else out[key] = redactValue(key, value, 1);
  }
  return out;
}

function redactValue(key: string, value: unknown, depth: number): unknown {
  if (SECRET_PARAMS.has(key) || SECRET_NAME.test(key)) return '[REDACTED]';
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested too deep: not logged]';
  if (Array.isArray(value)) return value.slice(0, MAX_KEYS).map((v) => redactValue('', v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).slice(0, MAX_KEYS)) out[k] = redactValue(k, v, depth + 1);
  return out;
}

/**
 * One record per line, always: JSON leaves U+2028/U+2029, NEL and the bidirectional controls raw,
 * which some readers take as line breaks or display reordered; they are escaped.
 */
export function auditLine(record: Record<string, unknown>): string {
  return `${JSON.stringify(record).replace(
    /[\u0085\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )}\n`;
}

export class AuditLog {
  readonly path: string;
  #file: Promise<FileHandle> | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #onError: (message: string) => void;

  /**
   * Also record each write as `sent` before it goes out (then its outcome as usual): a process
   * killed between the provider's acceptance and the outcome's line (a replica SIGKILLed) still
   * leaves the write in the log. The CLI turns it on for replicas (FLOPS_REDIS_URL).
   */
  readonly sentFirst: boolean;

  constructor(
    path: string,
    onError: (message: string) => void = () => {},
    options: { sentFirst?: boolean } = {},
  ) {
    this.path = path;
    this.#onError = onError;
    this.sentFirst = options.sentFirst === true;
  }

  /** Open (create) the file now: a path that cannot be written stops start-up with the reason. */
  async open(): Promise<void> {
    this.#file = open(this.path, 'a', 0o600);
    try {
      await this.#file;
    } catch (err) {
      this.#file = undefined;
      throw new Error(`the audit log ${this.path} cannot be opened for appending: ${(err as Error).message}`);
    }
  }

  /**
   * Append one entry and flush it. Resolves when it is on disk, or with a warning when it could not
   * be written (the caller reports it beside the result); never rejects.
   */
  write(entry: AuditEntry): Promise<string | undefined> {
    const { known, ...rest } = entry;
    const line = auditLine({ time: new Date().toISOString(), ...rest, args: redactArgs(entry.args, known) });
    const next = this.#queue.then(async () => {
      try {
        this.#file ??= open(this.path, 'a', 0o600);
        const file = await this.#file;
        await file.appendFile(line);
        await file.datasync();
        return undefined;
      } catch (err) {
        // Try the file afresh next time (the directory may come back).
        const file = this.#file;
        this.#file = undefined;
        file?.then((f) => f.close()).catch(() => undefined);
        const message = `the audit log ${this.path} could not be written (${(err as Error).message}): this ${entry.tool} call is not recorded there`;
        this.#onError(message);
        return message;
      }
    });
    this.#queue = next;
    return next;
  }

  async close(): Promise<void> {
    await this.#queue;
    const file = this.#file;
    this.#file = undefined;
    if (file) await (await file).close().catch(() => undefined);
  }
}
