/**
 * The workflows as MCP Skills (SEP-2640): listed, readable, and each names only tools this server
 * has, so that an agent following one never calls a tool that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadSkills, SKILL_FILES } from '../src/mcp/skills.js';
import { type Harness, harness } from './helpers.js';

describe('skills', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ server: { skills: await loadSkills() } });
  });
  afterAll(() => h.close());

  it('lists the three workflows and serves each one', async () => {
    const list = (await h.mcp.request({ method: 'skills/list', params: {} }, z.any())) as {
      skills: { uri: string; frontmatter: { name: string } }[];
    };
    expect(list.skills.map((s) => s.frontmatter.name).sort()).toEqual([
      'deploy-server',
      'resize-safely',
      'restore-from-backup',
    ]);
    // Each skill reads as a resource: the procedure itself.
    const read = await h.mcp.readResource({ uri: list.skills[0]!.uri });
    expect((read.contents[0] as { text: string }).text).toMatch(/^---\nname: /);
    expect(h.mcp.getServerCapabilities()?.extensions?.['io.modelcontextprotocol/skills']).toBeDefined();
  });

  it('names only tools the server has', async () => {
    const tools = new Set((await h.mcp.listTools()).tools.map((t) => t.name));
    for (const [path, body] of Object.entries(SKILL_FILES)) {
      const named = [
        ...body.matchAll(/\b(?:vm|pubkey|tenant|tariff|distribution|software|operation|wait_for)_[a-z_]+/g),
      ].map((m) => m[0]);
      expect(named.length, path).toBeGreaterThan(2);
      for (const tool of named) expect(tools.has(tool), `${path}: ${tool}`).toBe(true);
    }
  });
});
