/**
 * Provider operations as MCP tasks (the Tasks extension, `io.modelcontextprotocol/tasks`, served on
 * the 2026-07-28 revision).
 *
 * A Flops operation already is a durable task with an id, kept by the provider. So the server needs
 * no shared store: a task id is the operation's id and what is needed to read it (the tool, the VM,
 * when it was created), sealed with a MAC under FLOPS_MCP_AUTH_KEY and bound to the caller's
 * credentials. Any replica holding the key answers `tasks/get` for it, with at most one provider
 * read a get: the operation while it runs, then what it produced (the VM, the new snapshot), one read
 * a get, the process remembering (bounded) what it has read of a finished task; a later get of a
 * completed one costs no read. Another replica starts again from the operation. An id presented
 * with other credentials, altered or expired opens to nothing and is refused as unknown (-32602)
 * without a provider call.
 *
 * `OperationTaskStore` has the shape of the SDK's TaskStore seam (create, get, update, cancel), so
 * that moving to the SDK's own TasksExtension when it ships is a small change.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/server';
import type { FlopsClient } from '../api/client.js';
import { OPERATIONS_BY_TOOL, type OperationDef } from '../api/operations.js';
import type { Operation } from '../api/types.js';
import { trimOldest } from '../util.js';
import { isFinished, suggestedPollMs } from './wait.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** How long a task can be read after it was created (the sealed id expires then). */
export const TASK_TTL_MS = 24 * 60 * 60_000;

/** What a task id carries (readable by its holder, unforgeable, useless with other credentials). */
export interface TaskRef {
  /** The provider's operation. */
  operationId: number;
  /** The tool that started it. */
  tool: string;
  /** The VM it concerns (the new VM for install and clone). */
  vmId: number | undefined;
  /** When the task was created, epoch ms. */
  createdAt: number;
}

export type TaskStatus = 'working' | 'completed' | 'cancelled' | 'failed';

/** The extension's Task, as `tasks/get` and CreateTaskResult carry it. */
export interface TaskState {
  taskId: string;
  status: TaskStatus;
  statusMessage: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number;
  pollIntervalMs?: number;
  result?: CallToolResult;
}

export class UnknownTaskError extends Error {
  override readonly name = 'UnknownTaskError';
  constructor() {
    super(
      'Unknown or expired task: it was not created for these credentials, was altered, or its time to live passed',
    );
  }
}

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * Task ids: `<payload>.<mac>`, the payload a compact JSON of the TaskRef, the MAC an HMAC-SHA256
 * over it and the caller's credentials digest, under a key derived from the server key for this
 * use alone.
 */
export class TaskSeal {
  readonly #key: Buffer;
  readonly #now: () => number;

  constructor(serverKey: Uint8Array, now: () => number = Date.now) {
    this.#key = createHmac('sha256', serverKey).update('flops-mcp task ids v1').digest();
    this.#now = now;
  }

  /** The digest the seal binds to: the caller's credentials, never the credentials themselves. */
  binding(client: FlopsClient): Buffer {
    return client.credentialsDigest(this.#key);
  }

  seal(ref: TaskRef, binding: Buffer): string {
    const payload = b64(JSON.stringify([ref.operationId, ref.tool, ref.vmId ?? 0, ref.createdAt]));
    return `${payload}.${b64(this.#mac(payload, binding))}`;
  }

  /** The task behind an id, or UnknownTaskError (wrong credentials, altered, expired, malformed). */
  open(taskId: unknown, binding: Buffer): TaskRef {
    if (typeof taskId !== 'string' || taskId.length > 200) throw new UnknownTaskError();
    const [payload, mac, extra] = taskId.split('.');
    if (!payload || !mac || extra !== undefined) throw new UnknownTaskError();
    const expected = this.#mac(payload, binding);
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnknownTaskError();
    let fields: unknown;
    try {
      fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw new UnknownTaskError();
    }
    const [operationId, tool, vmId, createdAt] = fields as [number, string, number, number];
    if (this.#now() > createdAt + TASK_TTL_MS) throw new UnknownTaskError();
    return { operationId, tool, vmId: vmId === 0 ? undefined : vmId, createdAt };
  }

  #mac(payload: string, binding: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(payload).update('\0').update(binding).digest();
  }
}

type FinishedTask = TaskState & { vmId?: number | undefined; row: OperationDef | undefined };

/**
 * What a finished operation's result needs: the reads of what it produced, one provider read each,
 * and the result built from them (the same as `wait: true`, register.ts).
 */
export interface Finishing {
  reads: ((out: Record<string, unknown>, signal?: AbortSignal) => Promise<void>)[];
  /** The result from what was read; `failure`: a read failed (the result says so). */
  result(out: Record<string, unknown>, failure?: Error): CallToolResult;
}

export type FinishingOf = (row: OperationDef, operation: Operation, vmId: number | undefined) => Finishing;

/** A task whose operation ended, its result being read back one get at a time. */
interface Reading {
  operation: Operation;
  out: Record<string, unknown>;
  next: number;
  /** When a get last took a step of it (ms). */
  touched: number;
}

/** The poll interval while a finished operation's result is read back: at once (clients floor it). */
const READING_POLL_MS = 10;
/** The poll interval of a finished task waiting for a place to read its result back (see #reading). */
const READING_WAIT_MS = 250;
/** A read-back no get came back for in this long is abandoned: its place may go to another. */
const READING_STALE_MS = 60_000;

/**
 * The TaskStore seam over the provider's operations. `create` seals a task for an operation the
 * provider accepted (it exists at once: a `tasks/get` on it resolves); `get` costs at most one
 * provider read; `update` has nothing to take (confirmation happens before a task exists); `cancel`
 * is acknowledged, but the provider cannot stop an operation: it goes on, and the status says so.
 */
export class OperationTaskStore {
  /** Cancel requests seen by this process, to say so in the status (best effort, bounded). */
  static readonly #cancelled = new Set<string>();
  /**
   * Tasks this process saw finish, by task id, with their whole result. A finished operation never
   * changes, so a later `tasks/get` of it is answered from here without a provider read. The id is
   * still opened first with the caller's credentials (a holder of other credentials, an altered or
   * an expired id gets nothing from here either). Bounded: the oldest entry goes first. Another
   * replica, or an entry pushed out, starts again from the operation.
   */
  static readonly #finished = new Map<string, FinishedTask>();
  /** Entries kept in #finished (a result holds an operation and a VM, a few kB). */
  static readonly FINISHED_KEPT = 500;
  /**
   * Results being read back, by task id, oldest step first. A read-back in progress is never pushed
   * out for another: with more tasks finishing at once than there is room for, each one pushed out
   * would start again from the operation and push out the next, and none would ever complete (every
   * get a provider read). When it is full, a newly finished task waits for a place (its gets read
   * the operation until one is free), and only a read-back no get came back for in a minute gives
   * up its place.
   */
  static readonly #reading = new Map<string, Reading>();
  /** Read-backs in progress at once in this process. */
  static readonly READING_KEPT = 2_000;

  constructor(
    private readonly seal: TaskSeal,
    private readonly client: FlopsClient,
    private readonly finishing: FinishingOf,
    private readonly now: () => number = Date.now,
  ) {}

  create(ref: Omit<TaskRef, 'createdAt'>, operationType: string | undefined): TaskState {
    const createdAt = this.now();
    const taskId = this.seal.seal({ ...ref, createdAt }, this.seal.binding(this.client));
    const at = new Date(createdAt).toISOString();
    return {
      taskId,
      status: 'working',
      statusMessage: `Flops accepted ${ref.tool}: operation ${ref.operationId}${operationType ? ` (${operationType})` : ''}${ref.vmId !== undefined ? ` on VM ${ref.vmId}` : ''} is running.`,
      createdAt: at,
      lastUpdatedAt: at,
      ttlMs: TASK_TTL_MS,
      pollIntervalMs: suggestedPollMs(0, 0),
    };
  }

  /**
   * The task now, for at most one provider read: while it works, a read of the operation; once it
   * ended, each following get takes one read of what it produced (the VM, then the new snapshot),
   * and the get that has them all answers `completed` with the same result as `wait: true`. A task
   * this process already saw completed costs no read.
   */
  async get(taskId: unknown, signal?: AbortSignal): Promise<FinishedTask> {
    const ref = this.seal.open(taskId, this.seal.binding(this.client));
    const id = taskId as string;
    const finished = OperationTaskStore.#finished.get(id);
    if (finished) return finished;
    const known = OperationTaskStore.#reading.get(id);
    const row = OPERATIONS_BY_TOOL.get(ref.tool);
    const now = this.now();
    const base = {
      taskId: id,
      createdAt: new Date(ref.createdAt).toISOString(),
      lastUpdatedAt: new Date(now).toISOString(),
      ttlMs: TASK_TTL_MS,
      vmId: ref.vmId,
      row,
    };
    const operation =
      known?.operation ??
      (await this.client.call('operation_get', { operationId: ref.operationId }, { signal }));
    const type = operation.operationType ?? row?.operationType ?? 'operation';
    if (!isFinished(operation) || !row) {
      const pct = operation.percentage ?? 0;
      const cancelled = OperationTaskStore.#cancelled.has(id)
        ? ' Cancellation was asked, but Flops cannot stop a running operation: it goes on at the provider, and this task follows it.'
        : '';
      return {
        ...base,
        status: 'working',
        statusMessage: `${type} ${pct}% (operation ${ref.operationId} at Flops, ${operation.status}).${cancelled}`,
        pollIntervalMs: suggestedPollMs(now - ref.createdAt, pct),
      };
    }
    const finishing = this.finishing(row, operation, ref.vmId);
    const reading: Reading = known ?? { operation, out: {}, next: 0, touched: now };
    let failure: Error | undefined;
    if (known) {
      // This get's one read: the next thing the operation produced.
      // Two gets of the task at once read the same thing: neither skips a read.
      const step = reading.next;
      try {
        await finishing.reads[step]?.(reading.out, signal);
        reading.next = Math.max(reading.next, step + 1);
      } catch (err) {
        signal?.throwIfAborted();
        failure = err as Error;
      }
    }
    if (!failure && reading.next < finishing.reads.length) {
      const kept = this.#keepReading(id, reading, now);
      return {
        ...base,
        status: 'working',
        statusMessage: `Operation ${ref.operationId} (${type}) ended ${operation.status}; reading back what it produced.`,
        pollIntervalMs: kept ? READING_POLL_MS : READING_WAIT_MS,
      };
    }
    const done: FinishedTask = {
      ...base,
      status: 'completed',
      statusMessage: `Operation ${ref.operationId} (${type}) ended ${operation.status}.`,
      result: finishing.result(reading.out, failure),
    };
    OperationTaskStore.#reading.delete(id);
    // A result whose read-back failed (a note instead of the VM) is read again next time.
    if (!failure) {
      const kept = OperationTaskStore.#finished;
      kept.set(id, done);
      trimOldest(kept, OperationTaskStore.FINISHED_KEPT);
    }
    return done;
  }

  /** Keep a read-back for the task's next get, if there is a place for it (see #reading). */
  #keepReading(id: string, reading: Reading, now: number): boolean {
    const kept = OperationTaskStore.#reading;
    if (!kept.has(id) && kept.size >= OperationTaskStore.READING_KEPT) {
      // Oldest step first: give up the read-backs abandoned for a minute, and no other.
      for (const [other, r] of kept) {
        if (now - r.touched < READING_STALE_MS) break;
        kept.delete(other);
      }
      if (kept.size >= OperationTaskStore.READING_KEPT) return false;
    }
    reading.touched = now;
    kept.delete(id);
    kept.set(id, reading);
    return true;
  }

  /** Nothing is ever asked during a task: responses are ignored (the id must still open). */
  update(taskId: unknown): void {
    this.seal.open(taskId, this.seal.binding(this.client));
  }

  /** Cooperative cancellation: acknowledged; the operation goes on at the provider. */
  cancel(taskId: unknown): void {
    this.seal.open(taskId, this.seal.binding(this.client));
    const cancelled = OperationTaskStore.#cancelled;
    cancelled.add(taskId as string);
    trimOldest(cancelled, 10_000);
  }
}
