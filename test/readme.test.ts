import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BENCH_JSON,
  type benchTargets,
  codeBlocks,
  README,
  SECTIONS,
  SERVER_JSON,
  withGenerated,
  withServerJson,
} from '../scripts/readme.js';
import { TOOLSETS } from '../src/api/operations.js';
import { TOOL_INDEX, TOOLSET_NAMES } from '../src/mcp/tool-index.js';
import { buildToolSpecs } from '../src/mcp/tools.js';
import { SETTINGS } from '../src/settings.js';

const readme = readFileSync(README, 'utf8');
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  name: string;
  version: string;
};

describe('README', () => {
  it('has every generated section up to date: tools, settings, performance (run `npm run docs` if this fails)', () => {
    expect(readme).toBe(withGenerated(readme));
    expect(Object.keys(SECTIONS)).toEqual(['tools', 'settings', 'bench']);
    expect(readme).toContain('| `vm_install` |');
    expect(readme).toContain('| `wait_for_operation` |');
    for (const s of SETTINGS) expect(readme, s.key).toContain(`| ${s.env ? `\`${s.env}\`` : ''} |`);
  });

  it('shows every target of the last benchmark run, met or missed', () => {
    const report = JSON.parse(readFileSync(BENCH_JSON, 'utf8')) as Parameters<typeof benchTargets>[0];
    const verdicts = report.verdicts!;
    expect(verdicts.length).toBeGreaterThan(5);
    for (const v of verdicts) {
      const row = readme.split('\n').find((l) => l.startsWith(`| ${v.target.replace(/\|/g, '\\|')} |`));
      expect(row, v.target).toBeDefined();
      expect(row!.endsWith(v.met ? '| met |' : ` |`), v.target).toBe(true);
      if (!v.met) expect(row, v.target).toContain('**missed**');
    }
    const missed = verdicts.filter((v) => !v.met).length;
    expect(readme).toContain(
      `**${verdicts.length - missed} of ${verdicts.length} targets met, ${missed} missed**`,
    );
  });

  it('leads with what it is, three steps from a clone to Claude Code, and the test command, within the first screen', () => {
    const firstScreen = readme.split('\n').slice(0, 50).join('\n');
    expect(firstScreen).toMatch(/^# flops-mcp\n\nAn \[MCP\]/);
    const blocks = codeBlocks(firstScreen);
    expect(blocks).toHaveLength(3);
    const [install, sandbox, account] = blocks.map((b) => b.body);
    expect(install).toMatch(/^git clone \S+ && cd flops-mcp\n/);
    expect(install).toContain(`npm ci && npm pack && npm install -g ./${pkg.name}-${pkg.version}.tgz`);
    expect(sandbox).toMatch(/^claude mcp add --transport stdio \S+ -- flops-mcp --sandbox$/);
    expect(account).toMatch(
      /^claude mcp add --transport stdio --env FLOPS_CLIENT_ID=\S+ --env FLOPS_API_KEY=\S+ flops -- flops-mcp$/,
    );
    expect(firstScreen).toMatch(/`npm test`/);
    expect(firstScreen).toMatch(/Windows/);
    expect(firstScreen).toContain('`npx -y flops-mcp`');
  });

  it('spells the command one way: flops-mcp (npx -y flops-mcp only as the published form, cmd /c on Windows)', () => {
    for (const block of codeBlocks(readme)) {
      expect(block.body, `block at line ${block.line}`).not.toMatch(/\bnpx\b/);
      expect(block.body, `block at line ${block.line}`).not.toMatch(/node\s+\S*dist\/cli\.js/);
      for (const [, command] of block.body.matchAll(/"command": "([^"]+)"/g)) {
        expect(['flops-mcp', 'cmd', 'node'], `block at line ${block.line}`).toContain(command);
      }
      for (const line of block.body.split('\n').filter((l) => /^claude mcp add --transport stdio/.test(l))) {
        expect(line).toMatch(/ -- (cmd \/c )?flops-mcp( --sandbox)?$/);
      }
    }
    // In prose, npx appears only as the published form.
    const npx = readme.split('\n').filter((l) => /\bnpx\b/.test(l));
    for (const line of npx)
      expect(line, line).toMatch(/npx -y flops-mcp|"npx", "-y", "flops-mcp"|\(and `npx`\)|"\/c", "npx",/);
  });
});

describe('server.json', () => {
  it('is generated: versions from package.json, the variables from the settings table (run `npm run docs`)', () => {
    const text = readFileSync(SERVER_JSON, 'utf8');
    expect(JSON.parse(text)).toEqual(JSON.parse(withServerJson(text)));
  });
});

describe('src/mcp/tool-index.ts', () => {
  it('holds exactly the facts of the tool specs (run `npm run docs` if this fails)', () => {
    expect(TOOLSET_NAMES).toEqual(TOOLSETS);
    expect(TOOL_INDEX).toEqual(
      buildToolSpecs().map((spec) => [
        spec.name,
        spec.toolset,
        spec.annotations.readOnlyHint ? 'read' : spec.annotations.destructiveHint ? 'destructive' : 'write',
        spec.startsOperation ? 1 : 0,
      ]),
    );
  });
});
