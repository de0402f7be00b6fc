/**
 * The fleet dashboard and the progress view. One view, two modes chosen from what the host shows:
 *   - fleet: vm_list (every VM) or vm_get (one VM): a sortable, filterable table with counts per
 *     state and tenant, each VM's running operation as a progress bar, and buttons that call the
 *     ordinary tools through the host (start at once; shutdown, reboot, snapshot after a second click);
 *   - progress: wait_for_operation and the asynchronous tools: one operation's type, VM, percentage
 *     and final state or error with its hint.
 * Live updates come from polling the app-only tool fleet_status every 1.5 s while an operation runs.
 */

import { FLEET_TOOL } from '../shared/fleet.js';
import {
  isFinal,
  matches,
  megabytes,
  type OpRow,
  operationLabel,
  percent,
  type SortKey,
  snapshotName,
  sortVms,
  stateLabel,
  type Tone,
  type VmRow,
} from './format.js';
import {
  type CallResult,
  callTool,
  type Json,
  notify,
  on,
  PROTOCOL_VERSION,
  request,
  resultText,
} from './protocol.js';
import './style.css';

const POLL_MS = 1500;
const RUNNING = 'VIR_DOMAIN_RUNNING';
const SHUTOFF = 'VIR_DOMAIN_SHUTOFF';

interface ActionDef {
  label: string;
  /** Shown only when true for the VM. */
  when: (vm: VmRow) => boolean;
  /** A second click (and for a snapshot, its name) before the call. */
  confirm: string | null;
}

const ACTIONS: Record<string, ActionDef> = {
  vm_start: { label: 'Start', when: (vm) => vm.state === SHUTOFF, confirm: null },
  vm_shutdown: { label: 'Shut down', when: (vm) => vm.state === RUNNING, confirm: 'Shut down' },
  vm_reboot: { label: 'Reboot', when: (vm) => vm.state === RUNNING, confirm: 'Reboot' },
  vm_snapshot_create: { label: 'Snapshot', when: () => true, confirm: 'Create snapshot' },
};

/**
 * The table folds to the width it gets: `wide` (full screen) has every column; `medium` moves
 * tariff and distribution into the VM cell; `narrow` (a chat column) also moves the operation into
 * the State cell and shows the buttons as icons.
 */
type Layout = 'wide' | 'medium' | 'narrow';
const COLUMNS: { key: SortKey; label: string; num?: boolean; from?: Layout }[] = [
  { key: 'name', label: 'VM' },
  { key: 'state', label: 'State' },
  { key: 'operation', label: 'Operation', from: 'medium' },
  { key: 'cpu', label: 'vCPU', num: true },
  { key: 'memory', label: 'RAM', num: true },
  { key: 'disk', label: 'Disk', num: true },
  { key: 'address', label: 'Addresses' },
  { key: 'tariff', label: 'Tariff', from: 'wide' },
  { key: 'distribution', label: 'Distribution', from: 'wide' },
];
const WIDE = '(min-width: 1320px)';
const MEDIUM = '(min-width: 1000px)';

/** 14 px line icons for the buttons (inline: the view loads nothing). */
const ICONS: Record<string, string> = {
  vm_start: '<path d="M5 3.5v9l7.5-4.5z" fill="currentColor"/>',
  vm_shutdown: '<path d="M8 2v6"/><path d="M4.6 4.4a5 5 0 1 0 6.8 0"/>',
  vm_reboot: '<path d="M12.9 8.6A5 5 0 1 1 11.5 4.4"/><path d="M12.5 1.8v3h-3"/>',
  vm_snapshot_create:
    '<rect x="1.8" y="4.6" width="12.4" height="8.6" rx="1.6"/><circle cx="8" cy="8.9" r="2.3"/><path d="M5.8 4.6l1-1.8h2.4l1 1.8"/>',
};
const icon = (action: string) =>
  `<svg viewBox="0 0 16 16" width="14" height="14" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICONS[action] ?? ''}</svg>`;

const S = {
  mode: 'waiting' as 'waiting' | 'fleet' | 'progress',
  toolName: null as string | null,
  canCall: false,
  vms: [] as VmRow[],
  only: null as number | null,
  ops: new Map<number, OpRow>(),
  /** Operations seen running by this view: their end is news worth showing. */
  seenRunning: new Set<number>(),
  follow: new Set<number>(),
  tariffs: {} as Record<string, string>,
  tenants: {} as Record<string, string>,
  actions: [] as string[],
  filter: '',
  stateFilter: '',
  sort: 'name' as SortKey,
  dir: 1 as 1 | -1,
  confirm: null as { vmId: number; action: string; name: string } | null,
  calling: new Set<string>(),
  notice: null as { tone: Tone; text: string } | null,
  updated: null as Date | null,
  pollError: false,
  locale: undefined as string | undefined,
  layout: 'wide' as Layout,
  progress: {
    opId: null as number | null,
    vmId: null as number | null,
    /** The tool call is still running on the host (wait: true, wait_for_operation). */
    awaiting: false,
    final: null as { tone: Tone; title: string; text: string; hint: string | null } | null,
  },
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const esc = (s: unknown) =>
  String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

// ---------------------------------------------------------------------------------------------
// Data

/** The operation to show for a VM: the newest one, if it runs, failed, or ended while watched. */
function opFor(vmId: number): OpRow | undefined {
  let newest: OpRow | undefined;
  for (const op of S.ops.values()) if (op.vmId === vmId && (!newest || op.id > newest.id)) newest = op;
  if (!newest) return undefined;
  return !isFinal(newest) || newest.status === 'ERROR' || S.seenRunning.has(newest.id) ? newest : undefined;
}

function absorbOps(ops: OpRow[]): void {
  for (const op of ops) {
    if (!isFinal(op)) S.seenRunning.add(op.id);
    S.ops.set(op.id, op);
  }
}

function absorbStatus(data: Json): void {
  S.vms = (data['vms'] as VmRow[] | undefined) ?? S.vms;
  absorbOps((data['operations'] as OpRow[] | undefined) ?? []);
  S.tariffs = (data['tariffs'] as Record<string, string> | undefined) ?? S.tariffs;
  S.tenants = (data['tenants'] as Record<string, string> | undefined) ?? S.tenants;
  S.actions = (data['actions'] as string[] | undefined) ?? S.actions;
  S.updated = new Date();
  if (S.mode === 'progress' && S.progress.opId === null && S.progress.awaiting) {
    // A call with wait: true has not answered yet: find the operation it started.
    const candidates = [...S.ops.values()]
      .filter((op) => !isFinal(op) && (S.progress.vmId === null || op.vmId === S.progress.vmId))
      .sort((a, b) => b.id - a.id);
    if (candidates[0]) S.progress.opId = candidates[0].id;
  }
}

function somethingRuns(): boolean {
  if (S.mode === 'progress') {
    if (S.progress.final) return false;
    const op = S.progress.opId === null ? undefined : S.ops.get(S.progress.opId);
    return op ? !isFinal(op) : S.progress.awaiting || S.progress.opId !== null;
  }
  for (const op of S.ops.values()) if (!isFinal(op)) return true;
  return false;
}

let timer: ReturnType<typeof setTimeout> | undefined;
let polling = false;

async function poll(): Promise<void> {
  if (!S.canCall || polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    const ids = [...S.follow].filter((id) => {
      const op = S.ops.get(id);
      return !op || !isFinal(op);
    });
    const result = await callTool(FLEET_TOOL, ids.length ? { operationIds: ids.slice(-20) } : {});
    if (result.isError || !result.structuredContent) {
      S.pollError = true;
      S.notice = { tone: 'danger', text: resultText(result) || 'The fleet could not be read.' };
    } else {
      if (S.pollError) S.notice = null;
      S.pollError = false;
      absorbStatus(result.structuredContent);
    }
  } catch (err) {
    S.pollError = true;
    S.notice = { tone: 'danger', text: `The host did not pass the call on: ${(err as Error).message}` };
  } finally {
    polling = false;
    render();
    if (!S.pollError && somethingRuns()) timer = setTimeout(() => void poll(), POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// What the host shows: the tool's input and result

function chooseMode(args: Json): void {
  const name = S.toolName;
  if (name === 'vm_list' || name === 'vm_get') S.mode = 'fleet';
  else if (name || 'operationId' in args || args['wait'] === true) S.mode = 'progress';
  if (S.mode === 'progress') {
    if (typeof args['operationId'] === 'number') {
      S.progress.opId = args['operationId'];
      S.follow.add(args['operationId']);
    }
    if (typeof args['vmId'] === 'number') S.progress.vmId = args['vmId'];
    S.progress.awaiting = true;
  }
}

function onToolInput(params: Json): void {
  chooseMode((params['arguments'] as Json | undefined) ?? {});
  render();
  if (S.mode === 'progress') void poll();
}

function onToolResult(result: CallResult): void {
  const data = result.structuredContent ?? {};
  S.progress.awaiting = false;
  if (Array.isArray(data['vms'])) {
    S.mode = 'fleet';
    S.only = null;
    S.vms = data['vms'] as VmRow[];
  } else if (data['vm'] && typeof data['vm'] === 'object' && !('operationId' in data)) {
    S.mode = 'fleet';
    const vm = data['vm'] as VmRow;
    S.only = vm.id;
    S.vms = [vm];
  } else {
    S.mode = 'progress';
    progressResult(result, data);
  }
  S.updated = new Date();
  render();
  void poll();
}

function progressResult(result: CallResult, data: Json): void {
  const operation = data['operation'] as OpRow | undefined;
  const opId = (data['operationId'] as number | undefined) ?? operation?.id;
  if (opId !== undefined) {
    S.progress.opId = opId;
    S.follow.add(opId);
  }
  if (data['vm'] && typeof data['vm'] === 'object') {
    const vm = data['vm'] as VmRow;
    S.vms = [...S.vms.filter((v) => v.id !== vm.id), vm];
  }
  if (typeof data['vmId'] === 'number') S.progress.vmId = data['vmId'];
  if (operation) {
    absorbOps([{ ...operation, percentage: operation.status === 'DONE' ? 100 : operation.percentage }]);
    S.progress.vmId = operation.vmId ?? S.progress.vmId;
  }
  const hint = (data['hint'] as string | undefined) ?? null;
  if (result.isError) {
    const status = data['status'] as string | undefined;
    const op = operation ?? (opId === undefined ? undefined : S.ops.get(opId));
    S.progress.final = {
      tone: status === 'CANCELLED' || status === 'UNKNOWN' ? 'warning' : 'danger',
      title: op?.status === 'ERROR' ? 'Failed' : status === 'CANCELLED' ? 'Cancelled' : 'Not done',
      text:
        op?.status === 'ERROR' ? `${op.errorCode ?? 'error'}: ${op.errorMessage ?? ''}` : resultText(result),
      hint,
    };
  } else if (data['status'] === 'DONE') {
    S.progress.final = { tone: 'success', title: 'Done', text: '', hint: null };
  }
}

// ---------------------------------------------------------------------------------------------
// Buttons

async function act(action: string, vm: VmRow, name?: string): Promise<void> {
  const key = `${action}:${vm.id}`;
  S.confirm = null;
  S.calling.add(key);
  render();
  const label = `${ACTIONS[action]?.label ?? action} of ${vm.name ?? `VM ${vm.id}`}`;
  try {
    const args: Json = { vmId: vm.id };
    if (action === 'vm_snapshot_create') args['name'] = name || snapshotName(new Date());
    const result = await callTool(action, args);
    const data = result.structuredContent ?? {};
    if (result.isError) {
      S.notice = { tone: 'danger', text: `${label}: ${resultText(result)}` };
    } else {
      const opId = data['operationId'] as number | undefined;
      if (opId !== undefined) {
        S.follow.add(opId);
        S.seenRunning.add(opId);
        S.ops.set(opId, { id: opId, vmId: vm.id, operationType: null, status: 'PENDING', percentage: 0 });
      }
      S.notice = {
        tone: 'info',
        text: `${label} started${opId === undefined ? '' : ` (operation ${opId})`}.`,
      };
    }
  } catch (err) {
    S.notice = { tone: 'danger', text: `${label}: ${(err as Error).message}` };
  } finally {
    S.calling.delete(key);
    render();
    void poll();
  }
}

document.addEventListener('click', (event) => {
  const target = (event.target as HTMLElement).closest<HTMLElement>('[data-do]');
  if (!target) return;
  const what = target.dataset['do'];
  const vm = S.vms.find((v) => v.id === Number(target.dataset['vm']));
  const action = target.dataset['action'] ?? '';
  if (what === 'sort') {
    const key = target.dataset['key'] as SortKey;
    S.dir = S.sort === key ? (S.dir === 1 ? -1 : 1) : 1;
    S.sort = key;
  } else if (what === 'refresh') {
    S.notice = null;
    void poll();
  } else if (what === 'all') {
    S.only = null;
    void poll();
  } else if (what === 'dismiss') {
    S.notice = null;
  } else if (what === 'cancel') {
    S.confirm = null;
  } else if (what === 'act' && vm) {
    if (ACTIONS[action]?.confirm) S.confirm = { vmId: vm.id, action, name: snapshotName(new Date()) };
    else void act(action, vm);
  } else if (what === 'confirm' && vm && S.confirm) {
    void act(action, vm, S.confirm.name.trim());
  }
  render();
});

document.addEventListener('input', (event) => {
  const el = event.target as HTMLInputElement;
  if (el.id === 'filter') S.filter = el.value;
  else if (el.id === 'state') S.stateFilter = el.value;
  else if (el.dataset['do'] === 'snapname' && S.confirm) {
    S.confirm.name = el.value;
    return;
  }
  render();
});

document.addEventListener('keydown', (event) => {
  const el = event.target as HTMLElement;
  if (event.key === 'Escape' && S.confirm) {
    S.confirm = null;
    render();
  } else if (event.key === 'Enter' && el.dataset['do'] === 'snapname' && S.confirm) {
    const vm = S.vms.find((v) => v.id === S.confirm?.vmId);
    if (vm) void act(S.confirm.action, vm, S.confirm.name.trim());
  }
});

// ---------------------------------------------------------------------------------------------
// Rendering

const pill = (tone: Tone, text: string, title = '') =>
  `<span class="pill ${tone}"${title ? ` title="${esc(title)}"` : ''}><i></i>${esc(text)}</span>`;

function bar(op: OpRow, big = false): string {
  const p = percent(op);
  const tone = op.status === 'ERROR' ? 'danger' : op.status === 'DONE' ? 'success' : 'info';
  return `<div class="bar ${tone}${big ? ' big' : ''}" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${p}" aria-label="${esc(operationLabel(op.operationType))}"><div style="width:${p}%"></div></div>`;
}

function opCell(vm: VmRow): string {
  const op = opFor(vm.id);
  if (!op) return '<span class="muted">—</span>';
  const label = op.operationType ? operationLabel(op.operationType) : 'Starting';
  const status =
    op.status === 'DONE'
      ? '<b class="t-success">done</b>'
      : op.status === 'ERROR'
        ? '<b class="t-danger">failed</b>'
        : op.status === 'UNKNOWN'
          ? '<b class="t-warning">unknown</b>'
          : `<b>${percent(op)}%</b>`;
  const title =
    op.status === 'ERROR' ? `${op.errorCode ?? ''}: ${op.errorMessage ?? ''} ${op.hint ?? ''}` : '';
  return `<div class="opline"${title ? ` title="${esc(title)}"` : ''}><span>${esc(label)}</span>${status}</div>${bar(op)}`;
}

function actionsCell(vm: VmRow): string {
  if (S.confirm?.vmId === vm.id) {
    const { action } = S.confirm;
    const def = ACTIONS[action]!;
    const input =
      action === 'vm_snapshot_create'
        ? `<input data-do="snapname" value="${esc(S.confirm.name)}" aria-label="Snapshot name" maxlength="255" />`
        : `<span class="ask">${esc(def.confirm)} <b>${esc(vm.name ?? vm.id)}</b>?</span>`;
    return `<div class="confirm">${input}<button class="primary" data-do="confirm" data-action="${action}" data-vm="${vm.id}">${esc(
      action === 'vm_snapshot_create' ? 'Create' : 'Confirm',
    )}</button><button data-do="cancel">Cancel</button></div>`;
  }
  const op = opFor(vm.id);
  const busy = op !== undefined && !isFinal(op);
  const buttons = S.actions
    .filter((a) => ACTIONS[a]?.when(vm))
    .map((a) => {
      const calling = S.calling.has(`${a}:${vm.id}`);
      const disabled = busy || calling || S.calling.size > 0;
      const label = ACTIONS[a]!.label;
      const narrow = S.layout === 'narrow';
      const title = busy ? `${label}: not while an operation runs on this VM` : narrow ? label : '';
      return `<button class="act" data-do="act" data-action="${a}" data-vm="${vm.id}" aria-label="${esc(label)}"${
        disabled ? ' disabled' : ''
      }${title ? ` title="${esc(title)}"` : ''}>${calling ? '…' : icon(a)}${narrow ? '' : `<span>${esc(label)}</span>`}</button>`;
    });
  return `<div class="btns">${buttons.join('')}</div>`;
}

function row(vm: VmRow, withActions: boolean): string {
  const st = stateLabel(vm.state);
  const op = opFor(vm.id);
  const tariff = vm.tariffId === null ? '—' : (S.tariffs[vm.tariffId] ?? `#${vm.tariffId}`);
  const dist = vm.distribution?.description ?? vm.distribution?.name ?? '—';
  const ips = vm.ipAddresses.length
    ? vm.ipAddresses.map((ip) => `<div class="mono">${esc(ip)}</div>`).join('')
    : '<div class="muted">no public IP</div>';
  const tenant =
    vm.tenantId === null
      ? ''
      : ` · ${esc(S.tenants[vm.tenantId] ? S.tenants[vm.tenantId] : `tenant ${vm.tenantId}`)}`;
  const state = pill(st.tone, st.text, vm.state ?? '');
  const vmCell = `<div class="name">${esc(vm.name || `VM ${vm.id}`)}</div><div class="sub">#${vm.id}${tenant}</div>${
    S.layout === 'wide' ? '' : `<div class="sub meta">${esc(dist)} · ${esc(tariff)}</div>`
  }`;
  const busy = op !== undefined && !isFinal(op);
  return `<tr data-vm="${vm.id}"${busy ? ' class="busy"' : ''}>
<td class="vm">${vmCell}</td>
${S.layout === 'narrow' ? `<td class="state">${state}${op ? `<div class="op">${opCell(vm)}</div>` : ''}</td>` : `<td class="state">${state}</td><td class="op">${opCell(vm)}</td>`}
<td class="num">${vm.cpu ?? '—'}</td>
<td class="num">${megabytes(vm.memory)}</td>
<td class="num">${megabytes(vm.disk)}</td>
<td class="addr">${ips}<div class="sub mono" title="Private address">${esc(vm.privateIpAddress ?? '')}</div></td>
${S.layout === 'wide' ? `<td class="tariff">${esc(tariff)}</td><td class="dist">${esc(dist)}</td>` : ''}
${withActions ? `<td class="actions">${actionsCell(vm)}</td>` : ''}
</tr>`;
}

function counts(vms: VmRow[]): string {
  const byState = new Map<string, { tone: Tone; n: number }>();
  for (const vm of vms) {
    const st = stateLabel(vm.state);
    const entry = byState.get(st.text) ?? { tone: st.tone, n: 0 };
    entry.n++;
    byState.set(st.text, entry);
  }
  const busy = vms.filter((vm) => {
    const op = opFor(vm.id);
    return op && !isFinal(op);
  }).length;
  const order: Tone[] = ['success', 'neutral', 'warning', 'danger', 'info'];
  const states = [...byState]
    .sort((a, b) => order.indexOf(a[1].tone) - order.indexOf(b[1].tone))
    .map(([text, { tone, n }]) => pill(tone, `${n} ${text.toLowerCase()}`));
  if (busy) states.push(pill('info', `${busy} busy`));
  const byTenant = new Map<number | null, number>();
  for (const vm of vms) byTenant.set(vm.tenantId, (byTenant.get(vm.tenantId) ?? 0) + 1);
  const tenants = [...byTenant]
    .sort((a, b) => b[1] - a[1])
    .map(([id, n]) => {
      const name = id === null ? 'no tenant' : (S.tenants[id] ?? `tenant ${id}`);
      return `<span class="tenant" title="${id === null ? '' : `tenant ${id}`}">${esc(name)} <b>${n}</b></span>`;
    });
  return `<div class="counts">${states.join('')}</div><div class="tenants"><span class="muted">Tenants</span>${tenants.join('')}</div>`;
}

function renderFleet(): void {
  const all = S.only === null ? S.vms : S.vms.filter((v) => v.id === S.only);
  const sum = (key: 'cpu' | 'memory' | 'disk') => all.reduce((n, vm) => n + (vm[key] ?? 0), 0);
  const title =
    S.only === null
      ? `Fleet <span class="muted">${all.length} VM${all.length === 1 ? '' : 's'}</span>`
      : `VM <span class="muted">#${S.only}</span>`;
  const totals = `${sum('cpu')} vCPU · ${megabytes(sum('memory'))} RAM · ${megabytes(sum('disk'))} disk`;
  $('head').innerHTML =
    `<div class="title"><h1>${title}</h1><span class="totals muted">${totals}</span><div class="tools">${
      S.only !== null && S.canCall ? '<button data-do="all">All VMs</button>' : ''
    }${S.canCall ? '<button data-do="refresh" title="Refresh" aria-label="Refresh">↻ Refresh</button>' : ''}</div></div>${counts(all)}`;

  const stateSel = $<HTMLSelectElement>('state');
  const states = [...new Set(S.vms.map((vm) => stateLabel(vm.state).text))].sort();
  const options = `<option value="">All states</option>${states
    .map((s) => `<option value="${esc(s)}">${esc(s)}</option>`)
    .join('')}<option value="busy">Busy</option>`;
  if (stateSel.dataset['options'] !== options) {
    stateSel.innerHTML = options;
    stateSel.dataset['options'] = options;
    stateSel.value = S.stateFilter;
  }
  const filterEl = $<HTMLInputElement>('filter');
  if (filterEl.value !== S.filter) filterEl.value = S.filter;

  const visible = sortVms(
    all.filter(
      (vm) =>
        matches(vm, S.filter) &&
        (S.stateFilter === '' ||
          (S.stateFilter === 'busy'
            ? (() => {
                const op = opFor(vm.id);
                return op !== undefined && !isFinal(op);
              })()
            : stateLabel(vm.state).text === S.stateFilter)),
    ),
    S.sort,
    S.dir,
    { tariffs: S.tariffs, ops: opFor },
  );
  $('shown').textContent = visible.length === all.length ? '' : `${visible.length} of ${all.length} shown`;
  const withActions = S.canCall && S.actions.length > 0;
  const rank: Record<Layout, number> = { narrow: 0, medium: 1, wide: 2 };
  const columns = COLUMNS.filter((c) => rank[S.layout] >= rank[c.from ?? 'narrow']);
  $('thead').innerHTML = `<tr>${columns
    .map((c) => {
      const sorted = S.sort === c.key;
      const aria = sorted ? (S.dir === 1 ? 'ascending' : 'descending') : 'none';
      return `<th${c.num ? ' class="num"' : ''} aria-sort="${aria}"><button class="sort" data-do="sort" data-key="${c.key}">${c.label}<span class="arrow">${
        sorted ? (S.dir === 1 ? '▲' : '▼') : ''
      }</span></button></th>`;
    })
    .join('')}${withActions ? '<th class="actions">Actions</th>' : ''}</tr>`;

  const focused = document.activeElement as HTMLInputElement | null;
  const keepSnapFocus = focused?.dataset['do'] === 'snapname';
  $('rows').innerHTML = visible.length
    ? visible.map((vm) => row(vm, withActions)).join('')
    : `<tr><td colspan="${columns.length + (withActions ? 1 : 0)}" class="empty">${
        all.length ? 'No VM matches the filter.' : 'No VMs in this account.'
      }</td></tr>`;
  const snap = document.querySelector<HTMLInputElement>('[data-do="snapname"]');
  if (
    snap &&
    (keepSnapFocus || S.confirm?.action === 'vm_snapshot_create') &&
    document.activeElement !== snap
  ) {
    snap.focus();
    if (!keepSnapFocus) snap.select();
  }

  const running = [...S.ops.values()].filter((op) => !isFinal(op)).length;
  const time = S.updated ? S.updated.toLocaleTimeString(S.locale) : '';
  $('foot').textContent = S.updated
    ? `Updated ${time}${running ? ` · following ${running} operation${running === 1 ? '' : 's'}, refreshing every ${POLL_MS / 1000} s` : ''}`
    : '';
}

function renderProgress(): void {
  const p = S.progress;
  const op = p.opId === null ? undefined : S.ops.get(p.opId);
  const vmId = op?.vmId ?? p.vmId;
  const vm = vmId === null ? undefined : S.vms.find((v) => v.id === vmId);
  const type = op?.operationType ? operationLabel(op.operationType) : S.toolName ? S.toolName : 'Operation';
  const final = p.final;
  const shown: OpRow = op ?? {
    id: p.opId ?? 0,
    vmId,
    operationType: null,
    status: final?.tone === 'success' ? 'DONE' : 'PENDING',
    percentage: 0,
  };
  const status = final
    ? pill(final.tone, final.title)
    : shown.status === 'DONE'
      ? pill('success', 'Done')
      : shown.status === 'ERROR'
        ? pill('danger', 'Failed')
        : pill('info', p.opId === null ? 'Starting' : `Running · ${percent(shown)}%`);
  const error =
    final && final.tone !== 'success'
      ? final
      : shown.status === 'ERROR'
        ? {
            text: `${shown.errorCode ?? 'error'}: ${shown.errorMessage ?? ''}`,
            hint: shown.hint ?? null,
            tone: 'danger' as Tone,
          }
        : null;
  $('progress').innerHTML = `<div class="card">
<div class="ptitle"><h1>${esc(type)}</h1>${status}</div>
<div class="pvm">${vmId === null ? '' : `${esc(vm?.name ?? 'VM')} <span class="muted">#${vmId}</span>`}${
    vm ? ` · ${pill(stateLabel(vm.state).tone, stateLabel(vm.state).text)}` : ''
  }</div>
${bar(final?.tone === 'success' ? { ...shown, status: 'DONE' } : shown, true)}
<div class="pmeta muted"><span>${p.opId === null ? 'Waiting for the operation id…' : `Operation ${p.opId}`}</span><span class="pct">${
    final?.tone === 'success'
      ? '100%'
      : shown.status === 'ERROR' || (final && !op)
        ? ''
        : `${percent(shown)}%`
  }</span></div>
${
  error
    ? `<div class="perror ${error.tone}"><div>${esc(error.text)}</div>${error.hint ? `<div class="hint">${esc(error.hint)}</div>` : ''}</div>`
    : ''
}</div>`;
}

function renderNotice(): void {
  $('notice').innerHTML = S.notice
    ? `<div class="notice ${S.notice.tone}"><span>${esc(S.notice.text)}</span><button class="dismiss" data-do="dismiss" aria-label="Dismiss">×</button></div>`
    : '';
}

function render(): void {
  $('waiting').hidden = S.mode !== 'waiting';
  $('fleet').hidden = S.mode !== 'fleet';
  $('progress').hidden = S.mode !== 'progress';
  if (S.mode === 'fleet') {
    renderNotice();
    renderFleet();
  } else if (S.mode === 'progress') {
    renderProgress();
    if (S.notice && S.mode === 'progress') {
      $('progress').insertAdjacentHTML(
        'beforeend',
        `<div class="notice ${S.notice.tone}">${esc(S.notice.text)}</div>`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Host context: theme, CSS variables, fonts, locale; and the size we need

function applyContext(ctx: Json): void {
  const root = document.documentElement;
  const theme = ctx['theme'];
  if (theme === 'light' || theme === 'dark') {
    root.dataset['theme'] = theme;
    root.style.colorScheme = theme;
  }
  const styles = ctx['styles'] as
    | { variables?: Record<string, unknown>; css?: { fonts?: unknown } }
    | undefined;
  for (const [key, value] of Object.entries(styles?.variables ?? {})) {
    if (key.startsWith('--') && typeof value === 'string') root.style.setProperty(key, value);
  }
  if (typeof styles?.css?.fonts === 'string') {
    let el = document.getElementById('host-fonts');
    if (!el) {
      el = document.createElement('style');
      el.id = 'host-fonts';
      document.head.append(el);
    }
    el.textContent = styles.css.fonts;
  }
  if (typeof ctx['locale'] === 'string') S.locale = ctx['locale'];
  const tool = (ctx['toolInfo'] as { tool?: { name?: unknown } } | undefined)?.tool;
  if (typeof tool?.name === 'string') S.toolName = tool.name;
}

function watchSize(): void {
  let last = 0;
  const send = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      notify('ui/notifications/size-changed', { height });
    }
  };
  new ResizeObserver(send).observe(document.documentElement);
  send();
}

async function start(): Promise<void> {
  if (!document.documentElement.dataset['theme']) {
    document.documentElement.dataset['theme'] = matchMedia('(prefers-color-scheme: dark)').matches
      ? 'dark'
      : 'light';
  }
  const wide = matchMedia(WIDE);
  const medium = matchMedia(MEDIUM);
  const layout = () => {
    S.layout = wide.matches ? 'wide' : medium.matches ? 'medium' : 'narrow';
  };
  layout();
  for (const query of [wide, medium]) {
    query.addEventListener('change', () => {
      layout();
      render();
    });
  }
  on('ui/notifications/tool-input', onToolInput);
  on('ui/notifications/tool-result', (params) => onToolResult(params as CallResult));
  on('ui/notifications/tool-cancelled', (params) => {
    S.progress.awaiting = false;
    S.notice = {
      tone: 'warning',
      text: `The call was cancelled${params['reason'] ? `: ${params['reason']}` : ''}.`,
    };
    render();
  });
  on('ui/notifications/host-context-changed', (params) => {
    applyContext(params);
    render();
  });
  const init = await request('ui/initialize', {
    protocolVersion: PROTOCOL_VERSION,
    appInfo: { name: 'flops-fleet', version: '1.0.0' },
    appCapabilities: {},
  });
  S.canCall = (init['hostCapabilities'] as Json | undefined)?.['serverTools'] !== undefined;
  applyContext((init['hostContext'] as Json | undefined) ?? {});
  notify('ui/notifications/initialized', {});
  watchSize();
  render();
}

void start().catch((err: unknown) => {
  $('waiting').textContent = `The dashboard could not connect to its host: ${(err as Error).message}`;
});
