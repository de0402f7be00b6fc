/**
 * Tool result sizes of the demo workflow (catalogs, install, snapshot, resize by tariff, IP, read, delete) as the
 * model reads them: the text content on a 2025 connection (the JSON of the data, as before) and on
 * a 2026-07-28 connection (a summary beside structuredContent). `npx tsx bench/result-sizes.ts`
 * writes bench/results/result-sizes.md.
 */
import { writeFileSync } from 'node:fs';
import { harness, modernHarness } from '../test/helpers.js';

const STEPS: [string, Record<string, unknown>][] = [
  ['tariff_list', {}],
  ['distribution_list', {}],
  [
    'vm_install',
    { tenantId: 111, distribution: 'Debian 7.6 x64', tariff: 'Облачный 1024', name: 'demo', wait: true },
  ],
  ['vm_snapshot_create', { vmId: 0, name: 'before-resize', wait: true }],
  ['vm_tariff_change', { vmId: 0, tariff: 'Облачный 2048', wait: true }],
  ['vm_ip_add', { vmId: 0, wait: true }],
  ['vm_get', { vmId: 0 }],
  ['vm_snapshot_list', { vmId: 0 }],
  ['vm_delete', { vmId: 0, wait: true }],
];

type Call = (
  name: string,
  args: Record<string, unknown>,
) => Promise<{ content: unknown[]; structuredContent?: unknown }>;

async function run(call: Call): Promise<{ rows: [string, number, number][]; text: number; data: number }> {
  let vmId = 0;
  const rows: [string, number, number][] = [];
  for (const [name, args] of STEPS) {
    const r = await call(name, 'vmId' in args ? { ...args, vmId } : args);
    const text = (r.content as { text?: string }[]).reduce((n, c) => n + Buffer.byteLength(c.text ?? ''), 0);
    const data = Buffer.byteLength(JSON.stringify(r.structuredContent ?? null));
    const made = (r.structuredContent as { vm?: { id?: number } } | undefined)?.vm?.id;
    if (name === 'vm_install' && made) vmId = made;
    rows.push([name, text, data]);
  }
  return { rows, text: rows.reduce((n, r) => n + r[1], 0), data: rows.reduce((n, r) => n + r[2], 0) };
}

const legacy = await harness({ timeScale: 0.01 });
const before = await run((n, a) => legacy.call(n, a) as never);
await legacy.close();
const modern = await modernHarness({ timeScale: 0.01 });
const after = await run((n, a) => modern.mcp.callTool({ name: n, arguments: a }) as never);
await modern.close();

const lines = [
  '# Tool result sizes of the demo workflow',
  '',
  'Bytes of text content the model reads per call: on a 2025 connection the JSON of the data (as before the',
  'v2 line), on a 2026-07-28 connection a summary of the key facts; the structured data is the same on both.',
  '',
  '| call | 2025 text | 2026-07-28 text | structuredContent |',
  '|---|---:|---:|---:|',
  ...before.rows.map((r, i) => `| ${r[0]} | ${r[1]} | ${after.rows[i]![1]} | ${r[2]} |`),
  `| **total** | **${before.text}** | **${after.text}** (${Math.round((100 * after.text) / before.text)} %) | ${before.data} |`,
  '',
];
writeFileSync(new URL('./results/result-sizes.md', import.meta.url), lines.join('\n'));
console.log(lines.join('\n'));
