/**
 * Dynamic toolsets (`--dynamic-toolsets`): a session starts with the catalog tools and
 * these two; `toolset_enable` adds a toolset's tools and announces the change (list_changed on
 * 2025 sessions, `subscriptions/listen` on 2026 stdio connections). Where no state outlives a
 * request (stateless and 2026-07-28 HTTP), every selected tool is listed instead.
 */
import type { CallToolResult } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { TOOLSETS, type Toolset } from '../api/operations.js';
import { ok } from './results.js';
import type { ToolSpec } from './tools.js';

/** Offered from the start in dynamic mode, besides the meta tools. */
export const BASE_TOOLSETS: readonly Toolset[] = ['catalog'];
export const BASE_TOOLS: readonly string[] = [];

const read = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

export interface MetaTool {
  spec: ToolSpec;
  run(input: Record<string, unknown>): Promise<CallToolResult>;
}

/** toolsets_list and toolset_enable over a session's enabled set. */
export function metaTools(
  selected: readonly ToolSpec[],
  enabled: Set<Toolset>,
  onEnable: (toolset: Toolset) => void,
): MetaTool[] {
  const count = (toolset: Toolset) => selected.filter((s) => s.toolset === toolset).length;
  const available = TOOLSETS.filter((t) => count(t) > 0);
  return [
    {
      spec: {
        name: 'toolsets_list',
        title: 'List toolsets',
        description: 'Toolsets, their tools, which are on.',
        toolset: 'catalog',
        profile: 'read',
        annotations: read,
        startsOperation: false,
        input: z.strictObject({}),
      },
      run: async () =>
        ok({
          toolsets: available.map((toolset) => ({
            toolset,
            enabled: enabled.has(toolset),
            tools: selected.filter((s) => s.toolset === toolset).map((s) => s.name),
          })),
        }),
    },
    {
      spec: {
        name: 'toolset_enable',
        title: 'Enable a toolset',
        description: "Add a toolset's tools.",
        toolset: 'catalog',
        profile: 'read',
        annotations: { ...read, idempotentHint: true },
        startsOperation: false,
        input: z.strictObject({
          toolset: z.enum(available as [Toolset, ...Toolset[]]).describe('Toolset name'),
        }),
      },
      run: async (input) => {
        const toolset = input['toolset'] as Toolset;
        const added = !enabled.has(toolset);
        if (added) onEnable(toolset);
        return ok({
          toolset,
          enabled: true,
          tools: selected.filter((s) => s.toolset === toolset).map((s) => s.name),
          next: added ? 'The tool list changed: list the tools again.' : 'It was already enabled.',
        });
      },
    },
  ];
}
