import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, withTable } from '../scripts/readme.js';
import { TOOLSETS } from '../src/api/operations.js';
import { TOOL_INDEX, TOOLSET_NAMES } from '../src/mcp/tool-index.js';
import { buildToolSpecs } from '../src/mcp/tools.js';

describe('README', () => {
  it('has the tool table generated from the operation table (run `npm run docs` if this fails)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(withTable(readme));
    expect(readme).toContain('| `vm_install` |');
    expect(readme).toContain('| `wait_for_operation` |');
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
