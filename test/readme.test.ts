import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, withTable } from '../scripts/readme.js';

describe('README', () => {
  it('has the tool table generated from the operation table (run `npm run docs` if this fails)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(readme).toBe(withTable(readme));
    expect(readme).toContain('| `vm_install` |');
    expect(readme).toContain('| `wait_for_operation` |');
  });
});
