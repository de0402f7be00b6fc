/**
 * The MCP conformance suite (@modelcontextprotocol/conformance, pinned in package.json) against the
 * built server over Streamable HTTP with the sandbox, with sessions and stateless. The suite's own
 * baseline check fails the run when a scenario fails that is not in the baseline, or when a baseline
 * entry starts passing; on top of that the protocol scenarios are named here, so that none of them
 * can quietly move into a baseline.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, root, startProcess } from './process-helpers.js';

const run = promisify(execFile);
const suite = `${root}node_modules/@modelcontextprotocol/conformance/dist/index.js`;
const out = mkdtempSync(join(tmpdir(), 'flops-conformance-'));

afterAll(async () => {
  await killAll();
  rmSync(out, { recursive: true, force: true });
});

/** Scenarios that test the protocol itself: they must pass, never be baselined. */
const PROTOCOL = [
  'server-initialize',
  'ping',
  'logging-set-level',
  'tools-list',
  'prompts-list',
  'resources-list',
  'dns-rebinding-protection',
];

/** Baseline entries with their one-line reasons. */
function baseline(file: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s+-\s+([\w-]+)\s*(?:#\s*(.*))?$/.exec(line);
    if (m) entries.set(m[1]!, m[2]?.trim() ?? '');
  }
  return entries;
}

async function conformance(url: string, baselineFile: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [suite, 'server', '--url', url, '--expected-failures', baselineFile, '-o', out],
      { maxBuffer: 16 * 1024 * 1024, timeout: 120_000 },
    );
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: `${e.stdout}${e.stderr}` };
  }
}

describe.each([
  {
    mode: 'sessions',
    flags: [] as string[],
    file: 'conformance-baseline.yml',
    extra: ['server-sse-multiple-streams'],
  },
  { mode: 'stateless', flags: ['--stateless'], file: 'conformance-baseline-stateless.yml', extra: [] },
])('conformance suite, $mode', ({ flags, file, extra }) => {
  const baselineFile = `${root}test/${file}`;

  it('every baseline entry has a reason and is not a protocol scenario', () => {
    const entries = baseline(baselineFile);
    expect(entries.size).toBeGreaterThan(0);
    for (const [name, reason] of entries) {
      expect(reason, name).not.toBe('');
      expect([...PROTOCOL, ...extra]).not.toContain(name);
    }
  });

  it('passes every protocol scenario; fails only the baselined ones', { timeout: 120_000 }, async () => {
    const server = await startProcess(['--http', ...flags, '--sandbox', '--port', '0']);
    try {
      const { code, output } = await conformance(server.url, baselineFile);
      expect(code, output).toBe(0);
      expect(output).toContain('Baseline check passed');
      const passed = new Set([...output.matchAll(/^✓ ([\w-]+): (\d+) passed, 0 failed/gm)].map((m) => m[1]));
      for (const scenario of [...PROTOCOL, ...extra]) expect(passed, scenario).toContain(scenario);
      // Every scenario that ran either passed or is in the baseline.
      const ran = [...output.matchAll(/^[✓✗] ([\w-]+):/gm)].map((m) => m[1]!);
      expect(ran.length).toBeGreaterThanOrEqual(30);
      const expected = baseline(baselineFile);
      for (const scenario of ran) expect(passed.has(scenario) || expected.has(scenario), scenario).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
