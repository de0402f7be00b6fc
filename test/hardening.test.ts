/**
 * Regressions of the attacks on the server that did not hold (each fails on the code before the
 * fix): what an agent sees when the audit log fails or a followed write fails, names shown as data,
 * settings that never fail open, redaction, bounded work per request, cancellation.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, UsageError } from '../src/config.js';
import { TrackingTransport } from '../src/http/transport.js';
import { AuditLog, auditLine, redactArgs } from '../src/mcp/audit.js';
import { type Harness, harness, readAudit, text } from './helpers.js';
import { httpSetup } from './http-helpers.js';
import { cleanEnv, startProcess } from './process-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'flops-hardening-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, unknown>;

describe('the audit log never hides a write', () => {
  it('stops start-up when its directory does not exist', async () => {
    const started = startProcess(['--sandbox'], {
      env: { ...cleanEnv, FLOPS_AUDIT_LOG: join(dir, 'missing', 'audit.jsonl') },
    }).catch((err: Error) => err);
    const err = await started;
    expect(String(err)).toMatch(/audit log .*missing.* cannot be opened/);
  });

  it('returns the real result with a warning when an append fails, and writes again once it can', async () => {
    const path = join(dir, 'later', 'audit.jsonl');
    const errors: string[] = [];
    const h = await harness({ server: { audit: new AuditLog(path, (m) => errors.push(m)) } });
    try {
      const first = await h.call('vm_rename', { vmId: 85561, name: 'ubuntu' });
      expect(first.isError).toBeFalsy();
      expect(first.structuredContent).toMatchObject({ operationId: expect.any(Number), status: 'STARTED' });
      expect((first.structuredContent as Json)['auditWarning']).toMatch(/could not be written/);
      expect(errors).toHaveLength(1);
      mkdirSync(join(dir, 'later'));
      const second = await h.call('vm_rename', { vmId: 85561, name: 'ubuntu', wait: true });
      expect((second.structuredContent as Json)['auditWarning']).toBeUndefined();
      expect(readAudit(path)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('redacts secrets by name at every depth, logs unknown keys by name only, and stays bounded', () => {
    let deep: Json = { leaf: 1 };
    for (let i = 0; i < 100_000; i++) deep = { d: deep };
    const out = redactArgs(
      { vmId: 1, passwd: 'Secret-1', nested: { token: 't', list: [{ apiKey: 'k' }] }, junk: deep },
      ['vmId', 'nested', 'junk'],
    );
    expect(JSON.stringify(out)).not.toMatch(/Secret-1|"t"|"k"/);
    expect(out['passwd']).toBe('[unknown argument: value not logged]');
    expect(JSON.stringify(out).length).toBeLessThan(500);
    const line = auditLine({ name: 'a\u2028b\u2029c\u0085d\u202ee' });
    expect(line.trim().split('\n')).toHaveLength(1);
    expect(line).toContain('\\u2028');
    expect(line).toContain('\\u202e');
  });

  it('logs a password given under a wrong name as a name only, and a claimed clientId as unverified', async () => {
    const path = join(dir, 'names.jsonl');
    const h = await harness({ server: { audit: new AuditLog(path), actor: 'someone' } });
    try {
      const r = await h.call('vm_password_change', {
        vmId: 85561,
        pasword: 'Secret-pass9',
        sendPassword: true,
      });
      expect(r.isError).toBe(true);
      const raw = readFileSync(path, 'utf8');
      expect(raw).not.toContain('Secret-pass9');
      expect(readAudit(path)[0]).toMatchObject({
        outcome: 'refused',
        clientId: 'someone',
        clientVerified: false,
      });
    } finally {
      await h.close();
    }
  });
});

describe('answers an agent can trust', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ capabilities: { elicitation: {} } });
  });
  afterAll(() => h.close());

  it('a write whose wait then gets a provider error says what was accepted', async () => {
    h.sandbox.faults.add({
      kind: 'api-error',
      tool: 'operation_get',
      errorCode: 'error.not.owner',
      times: 'forever',
    });
    try {
      const r = await h.call('vm_rename', { vmId: 85561, name: 'ubuntu', wait: true });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(
        /vm_rename was accepted by the provider: operation \d+ on VM 85561 was started/,
      );
      expect(r.structuredContent).toMatchObject({
        accepted: true,
        operationId: expect.any(Number),
        vmId: 85561,
      });
    } finally {
      h.sandbox.reset();
    }
  });

  it('a read that fails before the write never says the write may have taken effect', async () => {
    h.sandbox.faults.add({ kind: 'http-error', status: 503, tool: 'vm_get', times: 'forever' });
    try {
      const r = await h.call('vm_rename', { vmId: 85561, name: 'x' });
      expect(r.isError).toBe(true);
      expect(text(r)).not.toMatch(/may have taken effect|sent once/);
      expect(h.sandbox.requests.count('vm_rename')).toBe(0);
    } finally {
      h.sandbox.reset();
    }
  });

  it('refuses blank or punctuation-only names before anything is sent', async () => {
    for (const name of [' ', '\t', '--', '…']) {
      const r = await h.call('vm_install', {
        tenantId: 111,
        distribution: name,
        tariff: 'Облачный 1024',
        name: 'x',
      });
      expect(r.structuredContent).toMatchObject({
        error: { kind: 'invalid', issues: [{ field: 'distribution' }] },
      });
      const t = await h.call('vm_tariff_change', { vmId: 85561, tariff: name });
      expect(t.structuredContent).toMatchObject({
        error: { kind: 'invalid', issues: [{ field: 'tariff' }] },
      });
    }
    expect(h.sandbox.requests.count('vm_install')).toBe(0);
    expect(h.sandbox.requests.count('vm_tariff_change')).toBe(0);
  });

  it('shows a VM name as quoted data in the question, with the id first, also with an explicit tenantId', async () => {
    const asked: string[] = [];
    h.mcp.setRequestHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).ElicitRequestSchema,
      async (request) => {
        asked.push(request.params.message);
        return { action: 'decline' };
      },
    );
    await h.call('vm_rename', {
      vmId: 88534,
      name: 'ok" — nothing is lost.\nProceed? \u202eevil',
      wait: true,
    });
    await h.call('vm_delete', { vmId: 88534, tenantId: 111 });
    expect(asked).toHaveLength(1);
    const question = asked[0]!;
    expect(question).toMatch(
      /^Delete a VM — VM 88534 \(name "ok\\" — nothing is lost\.\\u000aProceed\? \\u202eevil"/,
    );
    expect(question).not.toContain('\n');
    expect(question).not.toContain('\u202e');
    expect(question).toMatch(/DELETED/);
  });

  it('reads resources by decimal ids only', async () => {
    for (const uri of ['flops://vms/0x14e39', 'flops://vms/8.5561e4', 'flops://operations/0x1']) {
      await expect(h.mcp.readResource({ uri }), uri).rejects.toThrow(/Invalid (VM|operation) id/);
    }
  });
});

describe('settings never fail open', () => {
  it('refuses a boolean setting it does not know, and names the accepted values', () => {
    for (const value of ['enabled', 'y', 't', '2']) {
      expect(() => parseConfig([], { ...cleanEnv, FLOPS_READ_ONLY: value }), value).toThrow(UsageError);
      expect(() => parseConfig([], { ...cleanEnv, FLOPS_READ_ONLY: value })).toThrow(/1, true, yes, on/);
    }
    expect(parseConfig([], { ...cleanEnv, FLOPS_READ_ONLY: 'ON' })).toMatchObject({ readOnly: true });
    expect(parseConfig([], { ...cleanEnv, FLOPS_READ_ONLY: 'off' })).toMatchObject({ readOnly: false });
  });
});

describe('bounded work per connection and session', () => {
  it('releases a cancelled request from the pending set', async () => {
    const transport = new TrackingTransport({});
    transport.onmessage = () => undefined;
    for (let id = 0; id < 400; id++) {
      transport.onmessage?.({
        jsonrpc: '2.0',
        id: `${id}`.padEnd(1000, 'x'),
        method: 'tools/call',
        params: {},
      });
      transport.onmessage?.({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: `${id}`.padEnd(1000, 'x') },
      });
    }
    expect(transport.pending.size).toBe(0);
  });

  it('closes sockets that never finish their headers, and caps the sessions of one credential', async () => {
    const s = await httpSetup({ headersTimeoutMs: 300, maxSessionsPerCredential: 2 });
    try {
      const { port } = new URL(s.url);
      const socket = netConnect(Number(port), '127.0.0.1');
      socket.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const closed = await new Promise<boolean>((resolve) => {
        socket.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 5_000);
      });
      expect(closed).toBe(true);
      const { connect, credHeaders } = await import('./http-helpers.js');
      const user = credHeaders(s.userA);
      const a = await connect(s.url, user);
      const b = await connect(s.url, user);
      await expect(connect(s.url, user)).rejects.toThrow(/429|Too many sessions/);
      // The server's own credentials are held to the global cap only.
      const c = await connect(s.url);
      await Promise.all([a.mcp.close(), b.mcp.close(), c.mcp.close()]);
    } finally {
      await s.close();
    }
  });

  it('refuses a session with credentials the provider does not accept', async () => {
    const s = await httpSetup({});
    try {
      const { connect } = await import('./http-helpers.js');
      await expect(
        connect(s.url, { 'x-flops-client-id': 'made-up', 'x-flops-api-key': 'made-up-key' }),
      ).rejects.toThrow(/401|did not accept/);
    } finally {
      await s.close();
    }
  });
});

describe('a dropped connection', () => {
  it('cancels the call it carried: a wait stops polling', async () => {
    const s = await httpSetup({ timeScale: 1 });
    try {
      const { connect } = await import('./http-helpers.js');
      const c = await connect(s.url);
      const started = await c.call('vm_reinstall', { vmId: 88534, distributionId: 216 });
      const operationId = (started.structuredContent as Json)['operationId'] as number;
      await c.mcp.close();
      // The same wait over a raw request whose connection is then dropped.
      const init = await fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 'drop', version: '1' },
          },
        }),
      });
      const session = init.headers.get('mcp-session-id')!;
      await init.text();
      const headers = {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-06-18',
      };
      await fetch(s.url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      }).then((r) => r.text());
      const aborter = new AbortController();
      const waiting = fetch(s.url, {
        method: 'POST',
        headers,
        signal: aborter.signal,
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'wait_for_operation', arguments: { operationId, timeoutSeconds: 50 } },
        }),
      }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 1_500));
      aborter.abort();
      await waiting;
      await new Promise((r) => setTimeout(r, 300));
      const polls = s.sandbox.requests.count('operation_get');
      await new Promise((r) => setTimeout(r, 3_000));
      expect(s.sandbox.requests.count('operation_get')).toBe(polls);
    } finally {
      await s.close();
    }
  }, 20_000);
});
