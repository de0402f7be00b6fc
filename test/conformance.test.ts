/**
 * The MCP conformance suite against the built server over Streamable HTTP with the sandbox, with
 * sessions and stateless, in both generations of the protocol:
 * - 2025: @modelcontextprotocol/conformance 0.1.13 (pinned in package.json), on the machine's Node;
 * - 2026-07-28: 0.2.0-alpha.12 with `--requirements 2026-07-28`, whose runner needs Node >= 22
 *   (both from scripts/extra-tools.sh, in .tools/).
 * The suite's own baseline check fails the run when a scenario fails that is not in the baseline,
 * or when a baseline entry starts passing; on top of that the protocol scenarios are named here, so
 * that none of them can quietly move into a baseline.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { extraNode, killAll, requireExternal, root, startProcess } from './process-helpers.js';

const run = promisify(execFile);
const SUITES = {
  '2025': {
    node: process.execPath,
    suite: `${root}node_modules/@modelcontextprotocol/conformance/dist/index.js`,
  },
  '2026': {
    node: extraNode(22),
    suite: `${root}.tools/node22/node_modules/@modelcontextprotocol/conformance/dist/index.js`,
  },
} as const;
const have2026 = requireExternal(
  'Node 22 and the 2026-07-28 conformance suite',
  existsSync(SUITES['2026'].node) && existsSync(SUITES['2026'].suite),
  '`bash scripts/extra-tools.sh`',
);
const out = mkdtempSync(join(tmpdir(), 'flops-conformance-'));

afterAll(async () => {
  await killAll();
  rmSync(out, { recursive: true, force: true });
});

/** Scenarios that test the protocol itself: they must pass, never be baselined. */
const PROTOCOL = {
  '2025': [
    'server-initialize',
    'ping',
    'logging-set-level',
    'tools-list',
    'prompts-list',
    'resources-list',
    'dns-rebinding-protection',
  ],
  '2026': [
    'tools-list',
    'prompts-list',
    'resources-list',
    'sep-2164-resource-not-found',
    'dns-rebinding-protection',
    'caching',
    'server-sse-multiple-streams',
    'http-header-validation',
    'input-required-result-unsupported-methods',
    'input-required-result-validate-input',
  ],
};

/** Baseline entries with their one-line reasons. */
function baseline(file: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s+-\s+([\w-]+)\s*(?:#\s*(.*))?$/.exec(line);
    if (m) entries.set(m[1]!, m[2]?.trim() ?? '');
  }
  return entries;
}

async function conformance(
  era: '2025' | '2026',
  url: string,
  baselineFile: string,
): Promise<{ code: number; output: string }> {
  const { node, suite } = SUITES[era];
  const requirements = era === '2026' ? ['--requirements', '2026-07-28'] : [];
  try {
    const { stdout, stderr } = await run(
      node,
      [
        suite,
        'server',
        '--url',
        url,
        ...requirements,
        '--expected-failures',
        baselineFile,
        '-o',
        `${out}/${era}`,
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: 240_000 },
    );
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: `${e.stdout}${e.stderr}` };
  }
}

/** The checks of a scenario's last run that did not succeed (the suite writes one checks.json each). */
function failedChecks(era: string, scenario: string): { id: string; message: string }[] {
  const dir = `${out}/${era}`;
  const runs = readdirSync(dir)
    .filter((d) => d.startsWith(`server-${scenario}-`))
    .sort();
  const checks = JSON.parse(readFileSync(`${dir}/${runs.at(-1)}/checks.json`, 'utf8')) as {
    id: string;
    status: string;
    errorMessage?: string;
  }[];
  return checks
    .filter((c) => c.status === 'FAILURE')
    .map((c) => ({ id: c.id, message: c.errorMessage ?? '' }));
}

describe.each([
  {
    era: '2025' as const,
    mode: 'sessions',
    flags: [] as string[],
    file: 'conformance-baseline.yml',
    extra: ['server-sse-multiple-streams'],
  },
  {
    era: '2025' as const,
    mode: 'stateless',
    flags: ['--stateless'],
    file: 'conformance-baseline-stateless.yml',
    extra: [],
  },
  ...(have2026
    ? [
        {
          era: '2026' as const,
          mode: 'sessions',
          flags: [] as string[],
          file: 'conformance-baseline-2026.yml',
          extra: [],
        },
        {
          era: '2026' as const,
          mode: 'stateless',
          flags: ['--stateless'],
          file: 'conformance-baseline-2026.yml',
          extra: [],
        },
      ]
    : []),
])('conformance suite $era, $mode', ({ era, flags, file, extra }) => {
  const baselineFile = `${root}test/${file}`;
  const protocol = [...PROTOCOL[era], ...extra];

  it('every baseline entry has a reason and is not a protocol scenario', () => {
    const entries = baseline(baselineFile);
    expect(entries.size).toBeGreaterThan(0);
    for (const [name, reason] of entries) {
      expect(reason, name).not.toBe('');
      expect(protocol).not.toContain(name);
    }
  });

  it('passes every protocol scenario; fails only the baselined ones', { timeout: 240_000 }, async () => {
    const server = await startProcess(['--http', ...flags, '--sandbox', '--port', '0']);
    try {
      const { code, output } = await conformance(era, server.url, baselineFile);
      expect(code, output).toBe(0);
      expect(output).toContain('Baseline check passed');
      const passed = new Set([...output.matchAll(/^✓ ([\w-]+): (\d+) passed, 0 failed/gm)].map((m) => m[1]));
      for (const scenario of protocol) expect(passed, scenario).toContain(scenario);
      // Every scenario that ran either passed or is in the baseline.
      const ran = [...output.matchAll(/^[✓✗] ([\w-]+):/gm)].map((m) => m[1]!);
      expect(ran.length).toBeGreaterThanOrEqual(30);
      const expected = baseline(baselineFile);
      for (const scenario of ran) expect(passed.has(scenario) || expected.has(scenario), scenario).toBe(true);
      if (era === '2026') {
        // server-stateless and the Tasks extension's scenarios are baselined for their fixture-tool
        // checks alone: every other check passes.
        expect(failedChecks(era, 'server-stateless').length).toBeGreaterThan(0);
        for (const scenario of [...expected.keys()].filter(
          (s) => s === 'server-stateless' || s.startsWith('tasks-'),
        )) {
          for (const check of failedChecks(era, scenario)) {
            expect(check.message, `${scenario}: ${check.id}`).toMatch(
              /^Not testable|Unknown tool: |fixture|^tools\/call for failing_job|^Prerequisite failed/,
            );
          }
        }
      }
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
