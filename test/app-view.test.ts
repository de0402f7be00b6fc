/**
 * The fleet dashboard rendered for real: headless Chromium (Debian's package, installed by .ci/run)
 * driven by playwright-core. A small host built on ext-apps' AppBridge (test/app-host) loads the
 * HTML the server serves as ui://flops/fleet.html into a sandboxed iframe, feeds it real tool
 * results from the server running against the sandbox, and answers the view's tool calls with that
 * same server. Screenshots go to test/artifacts/ (UPDATE_SCREENSHOTS=1 also refreshes
 * docs/screenshots/).
 */
// biome-ignore-all lint/performance/useDomNodeTextContent: Playwright's Locator.innerText() is the rendered text asserted on.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { type Browser, chromium, type FrameLocator, type Page } from 'playwright-core';
import { build } from 'vite';
import { viteSingleFile } from 'vite-plugin-singlefile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_URI, UI_EXTENSION, UI_MIME_TYPE } from '../src/mcp/app.js';
import { type Harness, harness, json } from './helpers.js';
import { requireExternal } from './process-helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(root, 'test/artifacts');
const DOCS = join(root, 'docs/screenshots');
/** The pictures the README shows: light (full screen), dark (chat width), progress. */
const DOC_SHOTS = ['fleet-light.png', 'fleet-dark.png', 'progress.png'];
const APP_CAPABILITIES = { extensions: { [UI_EXTENSION]: { mimeTypes: [UI_MIME_TYPE] } } };
/** Operations long enough to be watched: an install takes 7.5 s, a soft shutdown 4.5 s. */
const TIME_SCALE = 3;

/** What test/app-host/host.ts puts on globalThis. */
interface TestHost {
  host: {
    open(html: string, context: Record<string, unknown>, serverTools?: boolean): Promise<void>;
    input(args: Record<string, unknown>): Promise<void>;
    result(result: CallToolResult): Promise<void>;
    context(ctx: Record<string, unknown>): void;
    calls(): { name: string; arguments: Record<string, unknown> }[];
    sizes(): number[];
  };
}

const haveChromium = requireExternal(CHROMIUM, existsSync(CHROMIUM), '`apt-get install -y chromium`');

describe.skipIf(!haveChromium)('fleet dashboard in a browser', () => {
  let browser: Browser;
  let hostHtml: string;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const [built, launched] = await Promise.all([
      build({
        configFile: false,
        root: join(root, 'test/app-host'),
        logLevel: 'warn',
        plugins: [viteSingleFile()],
        build: { write: false, target: 'es2022', reportCompressedSize: false },
      }),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      }),
    ]);
    browser = launched;
    const output = (Array.isArray(built) ? built[0] : built) as {
      output: { fileName: string; source?: unknown }[];
    };
    hostHtml = String(output.output.find((f) => f.fileName === 'index.html')?.source);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** The host page down to the view's bottom edge (the view tells the host its height). */
  async function shot(page: Page, name: string): Promise<void> {
    const path = join(ARTIFACTS, name);
    const box = await page.locator('#frame').boundingBox();
    const width = page.viewportSize()?.width ?? 1200;
    await page.screenshot({
      path,
      clip: { x: 0, y: 0, width, height: Math.ceil((box?.y ?? 0) + (box?.height ?? 600) + 16) },
    });
    if (process.env['UPDATE_SCREENSHOTS'] && DOC_SHOTS.includes(name)) {
      mkdirSync(DOCS, { recursive: true });
      copyFileSync(path, join(DOCS, name));
    }
  }

  /** A page with the test host, the view loaded from the server's resource, and its tool calls wired. */
  async function openView(
    h: Harness,
    context: Record<string, unknown>,
    options: { serverTools?: boolean; width?: number } = {},
  ): Promise<{ page: Page; view: FrameLocator; host: (fn: string, ...args: unknown[]) => Promise<unknown> }> {
    const page = await browser.newPage({ viewport: { width: options.width ?? 1200, height: 700 } });
    await page.exposeFunction('mcpCall', async (params: string) => {
      const { name, arguments: args } = JSON.parse(params) as {
        name: string;
        arguments?: Record<string, unknown>;
      };
      return JSON.stringify(await h.mcp.callTool({ name, arguments: args ?? {} }));
    });
    await page.setContent(hostHtml);
    await page.waitForFunction('document.title === "ready"');
    const read = await h.mcp.readResource({ uri: FLEET_URI });
    const html = (read.contents[0] as { text: string }).text;
    await page.evaluate(
      ([html, context, serverTools]) =>
        (globalThis as unknown as TestHost).host.open(html, context, serverTools),
      [html, context, options.serverTools ?? true] as const,
    );
    const host = (fn: string, ...args: unknown[]) =>
      page.evaluate(
        ([fn, args]) => {
          const h = (globalThis as unknown as TestHost).host as unknown as Record<
            string,
            (...a: unknown[]) => unknown
          >;
          return h[fn]!(...args);
        },
        [fn, args] as const,
      );
    return { page, view: page.frameLocator('#frame'), host };
  }

  const toolDef = async (h: Harness, name: string): Promise<Tool> =>
    (await h.mcp.listTools()).tools.find((t) => t.name === name)!;

  const progressOf = async (view: FrameLocator, selector: string): Promise<number> =>
    Number(await view.locator(selector).getAttribute('aria-valuenow'));

  it('shows the fleet at a glance, follows an install to done, sorts, filters, and its buttons reach the sandbox', async () => {
    const h = await harness({ capabilities: APP_CAPABILITIES, timeScale: TIME_SCALE });
    try {
      // The model installs a VM, then lists the fleet: the host shows vm_list's result in the view.
      const install = json(
        await h.call('vm_install', {
          tenantId: 111,
          name: 'web-1',
          distribution: 'debian',
          tariff: 'Облачный 2048',
        }),
      );
      const newVm = install['vmId'] as number;
      const list = await h.call('vm_list');
      const vms = (list.structuredContent as { vms: unknown[] }).vms;
      // Full screen: every column has room.
      const { page, view, host } = await openView(
        h,
        {
          theme: 'light',
          locale: 'en-GB',
          displayMode: 'fullscreen',
          toolInfo: { tool: await toolDef(h, 'vm_list') },
        },
        { width: 1400 },
      );
      await host('input', {});
      await host('result', list);

      const rows = view.locator('#rows tr');
      await expect.poll(() => rows.count()).toBe(vms.length);
      const ubuntu = view.locator('tr[data-vm="85561"]');
      await expect.poll(() => ubuntu.innerText()).toMatch(/ubuntu[\s\S]*#85561/);
      const cells = await ubuntu.locator('td').allInnerTexts();
      // VM, State, Operation, vCPU, RAM, Disk, Addresses, Tariff, Distribution, Actions
      expect([cells[1], cells[3], cells[4], cells[5]]).toEqual(['Running', '1', '512 MB', '16 GB']);
      expect(cells[6]).toMatch(/185\.22\.60\.228\s+10\.7\.4\.234/);
      expect(cells[8]).toBe('Ubuntu 12.04.4 x64');
      expect(await view.locator('tr[data-vm="88534"] .pill').innerText()).toBe('Stopped');
      // Counts per state and per tenant; the tariff by name once the poll has the names.
      const head = view.locator('#head');
      await expect.poll(() => head.innerText()).toMatch(/running[\s\S]*stopped[\s\S]*1 busy/i);
      expect(await head.innerText()).toMatch(/Examples\s+\d/);
      const installing = view.locator(`tr[data-vm="${newVm}"]`);
      await expect.poll(() => installing.locator('td.tariff').innerText()).toBe('Облачный 2048');

      // The install's progress bar moves, then ends in done, and the VM turns Running.
      const bar = `tr[data-vm="${newVm}"] [role="progressbar"]`;
      await expect.poll(() => progressOf(view, bar), { timeout: 5_000 }).toBeGreaterThan(0);
      const first = await progressOf(view, bar);
      await expect.poll(() => progressOf(view, bar), { timeout: 5_000 }).toBeGreaterThan(first);
      await page.waitForTimeout(700); // let the bar's transition settle for the picture
      await shot(page, 'fleet-light.png');
      await expect
        .poll(() => installing.locator('.op').innerText(), { timeout: 12_000 })
        .toMatch(/Install\s+done/);
      await expect.poll(() => progressOf(view, bar)).toBe(100);
      await expect.poll(() => installing.locator('.pill').innerText()).toBe('Running');
      expect(await view.locator('#foot').innerText()).toMatch(/^Updated \d/);

      // Sort by RAM (512 MB first), then descending; filter by name and by state.
      await view.getByRole('button', { name: 'RAM' }).click();
      expect(await rows.first().getAttribute('data-vm')).toBe('85561');
      await view.getByRole('button', { name: /RAM/ }).click();
      expect(await rows.last().getAttribute('data-vm')).toBe('85561');
      await view.locator('#filter').fill('deb');
      await expect.poll(() => rows.count()).toBe(1);
      expect(await rows.first().getAttribute('data-vm')).toBe('85662');
      await view.locator('#filter').fill('');
      await view.locator('#state').selectOption('Stopped');
      await expect.poll(() => rows.count()).toBe(1);
      expect(await rows.first().getAttribute('data-vm')).toBe('88534');
      await view.locator('#state').selectOption('');

      // Shut down asks first: the first click sends nothing; Confirm calls vm_shutdown through the host.
      await ubuntu.getByRole('button', { name: 'Shut down' }).click();
      await expect.poll(() => ubuntu.locator('.confirm').innerText()).toMatch(/Shut down ubuntu\?/);
      expect(h.sandbox.requests.count('vm_shutdown')).toBe(0);
      await ubuntu.getByRole('button', { name: 'Confirm' }).click();
      await expect.poll(() => h.sandbox.requests.count('vm_shutdown')).toBe(1);
      // Start is not risky: one click.
      const win = view.locator('tr[data-vm="88534"]');
      await win.getByRole('button', { name: 'Start' }).click();
      await expect.poll(() => h.sandbox.requests.count('vm_start')).toBe(1);
      await expect.poll(() => ubuntu.locator('[role="progressbar"]').count()).toBe(1);
      // A snapshot takes its name in the row.
      const debian = view.locator('tr[data-vm="85662"]');
      await debian.getByRole('button', { name: 'Snapshot' }).click();
      await debian.locator('input').fill('before-upgrade');
      await debian.getByRole('button', { name: 'Create' }).click();
      await expect.poll(() => h.sandbox.requests.count('vm_snapshot_create')).toBe(1);
      await page.waitForTimeout(1_600);
      await shot(page, 'fleet-actions.png');

      await expect.poll(() => ubuntu.locator('.pill').innerText(), { timeout: 10_000 }).toBe('Stopped');
      await expect.poll(() => win.locator('.pill').innerText(), { timeout: 10_000 }).toBe('Running');
      expect((await h.flops.call('vm_get', { vmId: 85561 })).state).toBe('VIR_DOMAIN_SHUTOFF');
      const snapshots = await h.flops.call('vm_snapshot_list', { vmId: 85662 });
      await expect
        .poll(async () => (await h.flops.call('vm_snapshot_list', { vmId: 85662 })).map((s) => s.name))
        .toContain('before-upgrade');
      expect(snapshots).toBeDefined();
      const calls = (await host('calls')) as { name: string; arguments: Record<string, unknown> }[];
      expect(calls.filter((c) => c.name !== 'fleet_status')).toEqual([
        { name: 'vm_shutdown', arguments: { vmId: 85561 } },
        { name: 'vm_start', arguments: { vmId: 88534 } },
        { name: 'vm_snapshot_create', arguments: { vmId: 85662, name: 'before-upgrade' } },
      ]);
      // Polling stops once nothing runs.
      await page.waitForTimeout(500);
      const polls = calls.filter((c) => c.name === 'fleet_status').length;
      await page.waitForTimeout(3_200);
      expect(((await host('calls')) as unknown[]).length - calls.length).toBeLessThanOrEqual(1);
      expect(polls).toBeGreaterThan(3);
      // The view told the host its height.
      expect(((await host('sizes')) as number[]).at(-1)).toBeGreaterThan(250);
      await page.close();
    } finally {
      await h.close();
    }
  });

  it("follows the host's theme: dark with its CSS variables, then light", async () => {
    const h = await harness({ capabilities: APP_CAPABILITIES, timeScale: TIME_SCALE });
    try {
      await h.call('vm_reboot', { vmId: 85662 });
      const list = await h.call('vm_list');
      const dark = {
        '--color-background-primary': '#17181b',
        '--color-text-primary': '#ececf1',
      };
      // A chat column's width: the table folds tariff and distribution into the VM cell, the
      // operation into the State cell, and the buttons into icons.
      const { page, view, host } = await openView(
        h,
        { theme: 'dark', styles: { variables: dark }, toolInfo: { tool: await toolDef(h, 'vm_list') } },
        { width: 760 },
      );
      await host('input', {});
      await host('result', list);
      const html = view.locator('html');
      await expect.poll(() => html.getAttribute('data-theme')).toBe('dark');
      const background = () =>
        view
          .locator('body')
          .evaluate(
            (el) =>
              (
                globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }
              ).getComputedStyle(el).backgroundColor,
          );
      await expect.poll(background).toBe('rgb(23, 24, 27)');
      await expect
        .poll(() => view.locator('tr[data-vm="85662"] [role="progressbar"]').getAttribute('aria-valuenow'))
        .not.toBe('0');
      expect(await view.locator('thead').innerText()).not.toMatch(/Tariff|Distribution|Operation/);
      const debian = view.locator('tr[data-vm="85662"]');
      expect(await debian.locator('td.vm').innerText()).toMatch(/Debian 7\.5 x64 · #20/);
      expect(await debian.locator('td.state').innerText()).toMatch(/Running\s+Reboot\s+\d+%/);
      expect(await view.locator('tr[data-vm="85561"]').getByRole('button', { name: 'Reboot' }).count()).toBe(
        1,
      );
      await page.waitForTimeout(700);
      await shot(page, 'fleet-dark.png');

      await host('context', {
        theme: 'light',
        styles: { variables: { '--color-background-primary': '#fbfbfa', '--color-text-primary': '#1f1f1f' } },
      });
      await expect.poll(() => html.getAttribute('data-theme')).toBe('light');
      await expect.poll(background).toBe('rgb(251, 251, 250)');
      await page.close();
    } finally {
      await h.close();
    }
  });

  it('shows the progress of wait_for_operation moving to done', async () => {
    const h = await harness({ capabilities: APP_CAPABILITIES, timeScale: TIME_SCALE });
    try {
      const started = json(await h.call('vm_snapshot_create', { vmId: 85561, name: 'nightly' }));
      const operationId = started['operationId'] as number;
      const { page, view, host } = await openView(
        h,
        { theme: 'light', toolInfo: { tool: await toolDef(h, 'wait_for_operation') } },
        { width: 720 },
      );
      // The model's wait_for_operation runs while the view shows it.
      const waiting = h.call('wait_for_operation', { operationId });
      await host('input', { operationId });
      const bar = '#progress [role="progressbar"]';
      await expect.poll(() => progressOf(view, bar), { timeout: 5_000 }).toBeGreaterThan(0);
      const first = await progressOf(view, bar);
      await expect.poll(() => progressOf(view, bar), { timeout: 5_000 }).toBeGreaterThan(first);
      const card = view.locator('#progress');
      expect(await card.innerText()).toMatch(
        new RegExp(`Create snapshot[\\s\\S]*ubuntu #85561[\\s\\S]*Operation ${operationId}`),
      );
      await page.waitForTimeout(700);
      await shot(page, 'progress.png');
      const result = await waiting;
      expect(result.isError).toBeFalsy();
      await host('result', result);
      await expect.poll(() => card.locator('.pill').first().innerText()).toBe('Done');
      expect(await progressOf(view, bar)).toBe(100);
      await page.close();
    } finally {
      await h.close();
    }
  });

  it('shows a failed operation with its error and hint (vm_reboot with wait: true)', async () => {
    const h = await harness({ capabilities: APP_CAPABILITIES, timeScale: 0.005 });
    try {
      h.sandbox.state.setGuestResponsive(85662, false);
      const { page, view, host } = await openView(
        h,
        { theme: 'dark', toolInfo: { tool: await toolDef(h, 'vm_reboot') } },
        { width: 720 },
      );
      await host('input', { vmId: 85662, wait: true });
      const result = await h.call('vm_reboot', { vmId: 85662, wait: true });
      expect(result.isError).toBe(true);
      await host('result', result);
      const card = view.locator('#progress');
      await expect.poll(() => card.locator('.pill').first().innerText()).toBe('Failed');
      const textOf = await card.innerText();
      expect(textOf).toMatch(/Reboot[\s\S]*debian #85662/);
      expect(textOf).toMatch(/error\.vm\.guest\.timeout: The guest OS did not comply/);
      expect(textOf).toMatch(/vm_reset forces it/);
      await shot(page, 'progress-error.png');
      await page.close();
    } finally {
      await h.close();
    }
  });

  it('shows one VM for vm_get, and the whole fleet on request', async () => {
    const h = await harness({ capabilities: APP_CAPABILITIES });
    try {
      const one = await h.call('vm_get', { vmId: 88534 });
      const { page, view, host } = await openView(h, {
        theme: 'light',
        toolInfo: { tool: await toolDef(h, 'vm_get') },
      });
      await host('input', { vmId: 88534 });
      await host('result', one);
      const rows = view.locator('#rows tr');
      await expect.poll(() => rows.count()).toBe(1);
      expect(await view.locator('#head h1').innerText()).toBe('VM #88534');
      await view.getByRole('button', { name: 'All VMs' }).click();
      await expect.poll(() => rows.count()).toBe(3);
      await page.close();
    } finally {
      await h.close();
    }
  });

  it('offers no buttons and sends nothing when the host cannot pass tool calls on', async () => {
    const h = await harness({ capabilities: APP_CAPABILITIES });
    try {
      const list = await h.call('vm_list');
      const { page, view, host } = await openView(h, { theme: 'light' }, { serverTools: false, width: 1100 });
      await host('input', {});
      await host('result', list);
      await expect.poll(() => view.locator('#rows tr').count()).toBe(3);
      // Medium width: tariff and distribution move into the VM cell, the operation keeps its column.
      expect(await view.locator('thead').innerText()).toMatch(
        /^VM\W*State\s+Operation\s+vCPU\s+RAM\s+Disk\s+Addresses\s*$/,
      );
      expect(await view.locator('tr[data-vm="85561"] td.vm').innerText()).toMatch(
        /Ubuntu 12\.04\.4 x64 · #20/,
      );
      expect(await view.locator('th.actions').count()).toBe(0);
      expect(await view.locator('#rows button').count()).toBe(0);
      expect(await host('calls')).toEqual([]);
      await page.close();
    } finally {
      await h.close();
    }
  });
});
