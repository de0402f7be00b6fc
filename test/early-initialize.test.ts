/**
 * The built bin answers `initialize` before its server is loaded (src/mcp/early.ts): that answer
 * must be exactly the server's, for every configuration that shapes it, and the session must go on
 * as if the server had read it from the first byte. `npm test` builds first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { FlopsClient } from '../src/api/client.js';
import { type Config, parseConfig } from '../src/config.js';
import { listenEarly } from '../src/mcp/early.js';
import { createServer } from '../src/mcp/server.js';
import { loadSkills } from '../src/mcp/skills.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = `${root}dist/cli.cjs`;
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    (e): e is [string, string] => !e[0].startsWith('FLOPS_') && e[1] !== undefined,
  ),
);
/** Credentials of an API nobody listens to: nothing here calls it. */
const account = {
  FLOPS_CLIENT_ID: 'early',
  FLOPS_API_KEY: 'early-key',
  FLOPS_API_URL: 'http://127.0.0.1:9/api/v1/',
};

const initialize = (id: number | string, protocolVersion: string) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'initialize',
  params: {
    protocolVersion,
    capabilities: { elicitation: {}, roots: { listChanged: true } },
    clientInfo: { name: 'early-test', version: '1.0.0' },
  },
});

const envelope = (protocolVersion: string) => ({
  'io.modelcontextprotocol/protocolVersion': protocolVersion,
  'io.modelcontextprotocol/clientInfo': { name: 'early-test', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
});

const discover = (id: number | string, protocolVersion: string) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'server/discover',
  params: { _meta: envelope(protocolVersion) },
});

interface Session {
  child: ChildProcess;
  messages: Record<string, unknown>[];
  stderr: () => string;
  send: (...messages: unknown[]) => void;
  next: (predicate: (m: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function start(args: string[], env: NodeJS.ProcessEnv): Session {
  const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  const messages: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      messages.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      buffer = buffer.slice(nl + 1);
    }
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    child,
    messages,
    stderr: () => stderr,
    send: (...all) => child.stdin!.write(all.map((m) => `${JSON.stringify(m)}\n`).join('')),
    next: async (predicate) => {
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
  };
}

/** What createServer, configured as the CLI configures it, answers to the same `initialize`. */
async function serverAnswer(config: Config, request: ReturnType<typeof initialize>): Promise<unknown> {
  const client = new FlopsClient({ clientId: 'early', apiKey: 'early-key', baseUrl: account.FLOPS_API_URL });
  const server = createServer({
    client,
    skills: await loadSkills(),
    sandbox: config.sandbox,
    defaultTenantId: config.sandbox ? (config.tenantId ?? 10081) : config.tenantId,
    selection: config,
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const answer = new Promise<unknown>((resolve) => {
    clientSide.onmessage = (message: JSONRPCMessage) => {
      if ('result' in message) resolve(message.result);
    };
  });
  await server.connect(serverSide);
  await clientSide.start();
  await clientSide.send(request as JSONRPCMessage);
  const result = await answer;
  await server.close();
  await client.close();
  return result;
}

const CASES: { name: string; args: string[]; env?: Record<string, string> }[] = [
  { name: 'default', args: [] },
  { name: 'sandbox', args: ['--sandbox'] },
  { name: 'read-only', args: ['--read-only'] },
  { name: 'a toolset without writes', args: ['--toolsets', 'catalog'] },
  { name: 'no destructive tools', args: ['--toolsets', 'power,keys', '--no-destructive'] },
  { name: 'a default tenant', args: [], env: { FLOPS_TENANT_ID: '111' } },
];

describe('the early answer to initialize', () => {
  for (const c of CASES) {
    it(`is the server's own answer (${c.name})`, async () => {
      const env = { ...cleanEnv, ...account, ...c.env, FLOPS_LOG_LEVEL: 'debug' };
      const config = parseConfig(c.args, env) as Config;
      for (const version of ['2025-06-18', '2024-11-05', '1999-01-01']) {
        const request = initialize(7, version);
        const session = start(c.args, env);
        session.send(request);
        const early = await session.next((m) => m['id'] === 7);
        expect(early['result']).toEqual(await serverAnswer(config, request));
        // The server then reads the same initialize: it must agree, and answer only once.
        session.send(
          { jsonrpc: '2.0', method: 'notifications/initialized' },
          { jsonrpc: '2.0', id: 8, method: 'tools/list' },
        );
        await session.next((m) => m['id'] === 8);
        expect(session.messages.filter((m) => m['id'] === 7)).toHaveLength(1);
        expect(session.stderr()).not.toMatch(/BUG:/);
        expect(session.stderr()).toMatch(/initialize answered while the server loads/);
        session.child.kill('SIGKILL');
      }
    });
  }

  for (const c of CASES) {
    it(`answers server/discover as the server does (${c.name})`, async () => {
      const env = { ...cleanEnv, ...account, ...c.env, FLOPS_LOG_LEVEL: 'debug' };
      const session = start(c.args, env);
      session.send(discover(7, '2026-07-28'));
      const early = await session.next((m) => m['id'] === 7);
      expect(early['result']).toMatchObject({
        supportedVersions: ['2026-07-28'],
        resultType: 'complete',
        _meta: { 'io.modelcontextprotocol/serverInfo': { name: 'flops-mcp' } },
      });
      // The server then reads the same discover and answers it itself: it must agree (no BUG line),
      // and the session goes on in the 2026-07-28 era.
      session.send({
        jsonrpc: '2.0',
        id: 8,
        method: 'tools/list',
        params: { _meta: envelope('2026-07-28') },
      });
      const list = await session.next((m) => m['id'] === 8);
      expect((list['result'] as { tools: unknown[] }).tools.length).toBeGreaterThan(0);
      expect(session.messages.filter((m) => m['id'] === 7)).toHaveLength(1);
      expect(session.stderr()).not.toMatch(/BUG:/);
      expect(session.stderr()).toMatch(/server\/discover answered while the server loads/);
    });
  }

  it('leaves a discover for a revision it does not serve to the server', async () => {
    const session = start([], { ...cleanEnv, ...account, FLOPS_LOG_LEVEL: 'debug' });
    session.send(discover(9, '2099-01-01'));
    const answer = await session.next((m) => m['id'] === 9);
    expect(answer['error']).toMatchObject({ code: -32022 });
    expect(session.stderr()).not.toMatch(/answered while the server loads/);
  });

  it('carries a whole session written at once, with the client capabilities', async () => {
    const session = start(['--sandbox', '--time-scale', '0.05'], cleanEnv);
    session.send(
      initialize('init', '2025-06-18'),
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'vm_get', arguments: { vmId: 85561 } } },
      { jsonrpc: '2.0', id: 3, method: 'ping' },
      // Destructive: the server asks for confirmation because the initialize said the client can.
      {
        jsonrpc: '2.0',
        id: 4,
        method: 'tools/call',
        params: { name: 'vm_reset', arguments: { vmId: 85561 } },
      },
    );
    const call = await session.next((m) => m['id'] === 2);
    await session.next((m) => m['id'] === 3);
    expect(session.messages[0]!['id']).toBe('init');
    expect((await session.next((m) => m['id'] === 1))['result']).toMatchObject({ tools: expect.any(Array) });
    const text = ((call['result'] as { content: { text: string }[] }).content[0] as { text: string }).text;
    expect(JSON.parse(text).vm).toMatchObject({ id: 85561 });
    const ask = await session.next((m) => m['method'] === 'elicitation/create');
    session.send({ jsonrpc: '2.0', id: ask['id'], result: { action: 'decline' } });
    const reset = await session.next((m) => m['id'] === 4);
    expect(reset['result']).toMatchObject({ isError: true });
    expect(session.messages.filter((m) => m['id'] === 'init')).toHaveLength(1);
    expect(session.stderr()).not.toMatch(/BUG:/);
  });

  it('reads an opening message that comes in pieces, and a message cut at the hand-over', async () => {
    const session = start([], { ...cleanEnv, ...account });
    const line = `${JSON.stringify(initialize(1, '2025-06-18'))}\n`;
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    session.child.stdin!.write(line.slice(0, 40));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(session.messages).toHaveLength(0);
    // The rest of the line, then a message whose end comes only once the server has taken over.
    session.child.stdin!.write(`${line.slice(40)}${list.slice(0, 20)}`);
    const init = await session.next((m) => m['id'] === 1);
    expect(init['result']).toMatchObject({ serverInfo: { name: 'flops-mcp' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    session.child.stdin!.write(`${list.slice(20)}\n`);
    expect((await session.next((m) => m['id'] === 2))['result']).toMatchObject({ tools: expect.any(Array) });
    expect(session.messages.filter((m) => m['id'] === 1)).toHaveLength(1);
    expect(session.stderr()).not.toMatch(/BUG:/);
  });

  it('leaves a session that does not start with initialize to the server', async () => {
    const session = start([], { ...cleanEnv, ...account });
    session.send({ jsonrpc: '2.0', id: 'p', method: 'ping' }, initialize(1, '2025-06-18'));
    const init = await session.next((m) => m['id'] === 1);
    expect(session.messages[0]).toMatchObject({ id: 'p', result: {} });
    expect(init['result']).toMatchObject({ serverInfo: { name: 'flops-mcp' } });
  });

  it('reports an early answer that the server does not agree with', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const errors: string[] = [];
    const log = {
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: (m: string) => void errors.push(m),
    };
    const early = listenEarly({
      selection: {},
      sandbox: false,
      defaultTenantId: undefined,
      log,
      template: {
        capabilities: {},
        serverInfo: { name: 'stale' },
        supportedVersions: [],
        latestVersion: 'x',
      },
      stdin: stdin as unknown as NodeJS.ReadStream,
      stdout: stdout as unknown as NodeJS.WriteStream,
    })!;
    stdin.write(`${JSON.stringify(initialize(1, '2025-06-18'))}\n`);
    await early.settled;
    const client = new FlopsClient({
      clientId: 'early',
      apiKey: 'early-key',
      baseUrl: account.FLOPS_API_URL,
    });
    const [stdio, { deserializeMessage }] = await Promise.all([
      import('@modelcontextprotocol/server/stdio'),
      import('@modelcontextprotocol/server'),
    ]);
    const served = await early.serve(
      () => createServer({ client }),
      () => undefined,
      { ...stdio, deserializeMessage },
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(errors).toEqual([expect.stringMatching(/BUG: the early answer to initialize differs/)]);
    const lines = stdout.read()?.toString().trim().split('\n') ?? [];
    expect(lines).toHaveLength(1); // the server's own answer is not sent a second time
    await served.close();
    await client.close();
  });

  it('serves an SDK client, and ends when stdin closes before the server is loaded', async () => {
    const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    const client = new Client({ name: 'early-test', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [cli, '--sandbox'],
        env: cleanEnv,
        stderr: 'ignore',
      }),
    );
    expect(client.getInstructions()).toMatch(/SANDBOX MODE/);
    expect((await client.listTools()).tools).toHaveLength(39);
    await client.close();

    const session = start([], { ...cleanEnv, ...account });
    const exited = new Promise<number | null>((resolve) => session.child.once('exit', resolve));
    session.send(initialize(1, '2025-06-18'));
    session.child.stdin!.end();
    expect(await exited).toBe(0);
    expect(session.messages.filter((m) => m['id'] === 1)).toHaveLength(1);
  });
});
