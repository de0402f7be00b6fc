/**
 * Load over Streamable HTTP with the sandbox (scripts/load.ts, in a child process with --expose-gc
 * so that memory is measured after a full GC, away from the test runner's own heap):
 * 500 tool calls in flight at once from 50 sessions all succeed; 1,000 sessions opened and closed
 * all succeed and leave no session, socket or timer behind; the heap returns close to where it was.
 * The figures themselves go to bench/results/load.{json,md} (`npm run bench:load`).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { LoadReport } from '../scripts/load.js';
import { root } from './process-helpers.js';

const run = promisify(execFile);

describe('load over Streamable HTTP', () => {
  it('500 concurrent calls from 50 sessions, 1,000 sessions opened and closed: no failure, nothing left behind', {
    timeout: 180_000,
  }, async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', 'scripts/load.ts'], {
      cwd: root,
      timeout: 170_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadReport;
    const summary = JSON.stringify(report);
    expect(report.concurrent, summary).toMatchObject({ sessions: 50, calls: 500, failures: 0 });
    expect(report.cycled, summary).toMatchObject({ sessions: 1000, failures: 0 });
    expect(report.cycled.peakSessions).toBeLessThanOrEqual(report.cycled.concurrency);
    // No session, socket or timer left: the active resources are those from before any client.
    expect(report.after.sessionsLeft, summary).toBe(0);
    expect(report.after.resourcesAfter, summary).toEqual(report.after.resourcesBefore);
    // Memory after a full GC: close to the warm baseline (measured growth is about 5 MB, mostly caches).
    expect(report.memory.heapDeltaMB, summary).toBeLessThan(20);
  });
});
