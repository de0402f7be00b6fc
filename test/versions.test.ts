/**
 * One Node.js range for everything: package.json's `engines.node` is src/version.ts's NODE_ENGINES
 * (doctor checks it), every package of the lock file (dev tools included) declares support for all
 * of it, so `npm ci` on any Node of the range prints no EBADENGINE warning; the Nodes the tests and
 * CI run on, the container's and the README's are in it. Tools that need a newer Node live in
 * .tools/ (scripts/extra-tools.sh), each beside a Node it supports.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { NODE_ENGINES, NODE_SUPPORTED, supportsNode } from '../src/version.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};
interface LockEntry {
  version?: string;
  engines?: { node?: string } | string[];
}
const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, LockEntry> };

describe('the supported Node.js range', () => {
  it("is package.json's engines.node, and doctor's check agrees with semver", () => {
    expect(pkg.engines.node).toBe(NODE_ENGINES);
    expect(semver.validRange(NODE_ENGINES)).not.toBeNull();
    const samples = [
      '18.20.4',
      '20.0.0',
      '20.18.1',
      '20.19.0',
      '20.20.2',
      '21.7.3',
      '22.12.0',
      '22.13.0',
      '22.23.3',
      '23.11.0',
      '24.0.0',
      '24.21.0',
      '26.1.0',
    ];
    for (const version of samples) {
      expect(supportsNode(version), version).toBe(semver.satisfies(version, NODE_ENGINES));
    }
  });

  it('is supported by every package in the lock file, dev tools included (no EBADENGINE on npm ci)', () => {
    const narrower: string[] = [];
    let checked = 0;
    for (const [path, entry] of Object.entries(lock.packages)) {
      const engines = entry.engines;
      const node = Array.isArray(engines) ? undefined : engines?.node;
      if (path === '' || !node) continue;
      checked++;
      if (!semver.subset(NODE_ENGINES, node)) narrower.push(`${path} wants node ${node}`);
    }
    expect(checked).toBeGreaterThan(50);
    expect(narrower).toEqual([]);
    // Moved to scripts/extra-tools.sh: it wants Node >= 22.
    expect(pkg.devDependencies).not.toHaveProperty('@modelcontextprotocol/inspector');
  });

  it('holds the Node running the tests, the Nodes of scripts/extra-tools.sh and the container', () => {
    expect(semver.satisfies(process.versions.node, NODE_ENGINES), process.versions.node).toBe(true);
    const extra = read('scripts/extra-tools.sh');
    const nodes = [...extra.matchAll(/\bnode@(\d+\.\d+\.\d+)/g)].map((m) => m[1]!);
    expect(nodes.length).toBeGreaterThanOrEqual(2);
    for (const version of nodes) expect(semver.satisfies(version, NODE_ENGINES), version).toBe(true);
    for (const [, tag] of read('Dockerfile').matchAll(/^FROM node:(\d+(?:\.\d+)*)-slim/gm)) {
      // A floating tag (node:20-slim) is the newest release of its line.
      expect(semver.intersects(`${tag}.x`, NODE_ENGINES), `node:${tag}-slim`).toBe(true);
    }
  });

  it('the tools in .tools/ each sit beside a Node they support', () => {
    const extra = read('scripts/extra-tools.sh');
    for (const [, dir = '', list = ''] of extra.matchAll(/^install (\S+) (.+)$/gm)) {
      const node = /\bnode@(\S+)/.exec(list)?.[1];
      expect(node, dir).toBeDefined();
      for (const [, name = ''] of list.matchAll(/(?:^|\s)((?:@[^@\s/]+\/)?[^@\s/]+)@\S+/g)) {
        if (name === 'node') continue;
        const manifest = join(root, '.tools', dir, 'node_modules', name, 'package.json');
        // Installed by scripts/extra-tools.sh (CI runs it; the tests that use them say when missing).
        if (!existsSync(manifest)) continue;
        const wanted = (JSON.parse(readFileSync(manifest, 'utf8')) as { engines?: { node?: string } }).engines
          ?.node;
        if (wanted) expect(semver.satisfies(node!, wanted), `${name} on node ${node}`).toBe(true);
      }
    }
  });

  it('is the range the README names', () => {
    expect(NODE_SUPPORTED).toBe('20.19+, 22.13+ or 24+');
    expect(read('README.md')).toContain(`Node.js ${NODE_SUPPORTED}`);
  });
});
