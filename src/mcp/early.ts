/**
 * Answering the first message over stdio before the server is loaded: `initialize` (2025) or
 * `server/discover` (2026-07-28).
 *
 * A client starts the server for every session and waits for its answer to the opening message;
 * most of the time until then is spent loading the MCP SDK and zod and building the server. The
 * bundled bin (scripts/build.mjs) knows at build time what both answers hold apart from the
 * instructions (capabilities, serverInfo, the SDK's protocol versions, the discover result with its
 * cache hints: `__FLOPS_INITIALIZE__`, taken from the real server through serveStdio), and the
 * instructions come from the same function the server uses. So:
 *
 *   1. `listenEarly` reads stdin from the start, keeping every byte. If the first message is a
 *      well-formed `initialize`, or a well-formed `server/discover` naming a revision the server
 *      serves, it answers at once, exactly as the SDK server would.
 *   2. Meanwhile the CLI (main.ts) loads and builds the real server. `serve` starts the SDK's serveStdio on
 *      its own stdio transport and hands it every message read so far, then lets it read on: the
 *      server sees the whole session from its first byte (so it learns the client's capabilities
 *      and picks the era as usual), and its own answer to the opening message is not sent again.
 *      Should it differ from the early one, that is logged as a bug.
 *
 * Run from source (tests, tsx) there is no build-time answer and the server answers as usual.
 */

import { fstatSync, read, writeSync } from 'node:fs';
import type { deserializeMessage, JSONRPCMessage, McpServerFactory } from '@modelcontextprotocol/server';
import type { StdioServerHandle, StdioServerTransport, serveStdio } from '@modelcontextprotocol/server/stdio';
import type { Logger } from '../log.js';
import { isRecord } from '../util.js';
import { instructions, selectTools, type ToolSelection, toolFacts } from './selection.js';
import { batchedStdout } from './stdout.js';

/** What the server answers to `initialize`, but the instructions and the negotiated version. */
export interface InitializeTemplate {
  capabilities: Record<string, unknown>;
  serverInfo: Record<string, unknown>;
  /** The SDK's SUPPORTED_PROTOCOL_VERSIONS and LATEST_PROTOCOL_VERSION. */
  supportedVersions: string[];
  latestVersion: string;
  /** The server's whole answer to `server/discover` (its instructions are replaced at run time). */
  discover?: Record<string, unknown> & { supportedVersions: string[] };
}

declare const __FLOPS_INITIALIZE__: InitializeTemplate | undefined;

/** The build-time template, when running the bundled bin. */
export const INITIALIZE_TEMPLATE: InitializeTemplate | undefined =
  typeof __FLOPS_INITIALIZE__ === 'undefined' ? undefined : __FLOPS_INITIALIZE__;

/** What createServer is given that shapes the instructions. */
export interface EarlyOptions {
  selection: ToolSelection;
  sandbox: boolean;
  defaultTenantId: number | undefined;
  /** How many FLOPS_PROTECT rules there are. */
  protect?: number | undefined;
  /** FLOPS_ALLOW_VMS / FLOPS_ALLOW_TENANTS are set. */
  scoped?: boolean | undefined;
  log: Logger;
  template?: InitializeTemplate | undefined;
  stdin?: NodeJS.ReadStream | undefined;
  stdout?: NodeJS.WriteStream | undefined;
}

/**
 * The SDK's stdio pieces, handed in by whoever loaded the SDK: this module is bundled into the
 * bin's entry, which must not load (or bundle) the SDK before its first answer.
 */
export interface StdioSdk {
  StdioServerTransport: typeof StdioServerTransport;
  serveStdio: typeof serveStdio;
  deserializeMessage: typeof deserializeMessage;
}

export interface Early {
  /** Resolves once `initialize` was answered early, or once it will not be (another message came first). */
  readonly settled: Promise<void>;
  /**
   * Serve stdio with the real servers (serveStdio), handing them everything read so far; once a
   * direct read of stdin in flight (see listenEarly) has come back, so that one reader alone reads it.
   */
  serve(factory: McpServerFactory, onerror: (err: Error) => void, sdk: StdioSdk): Promise<StdioServerHandle>;
}

/** The `initialize` result the SDK server gives for this request (see Server._oninitialize). */
export function initializeResult(
  template: InitializeTemplate,
  requestedVersion: string,
  instructionsText: string,
): Record<string, unknown> {
  const protocolVersion = template.supportedVersions.includes(requestedVersion)
    ? requestedVersion
    : template.latestVersion;
  return {
    protocolVersion,
    capabilities: template.capabilities,
    serverInfo: template.serverInfo,
    ...(instructionsText ? { instructions: instructionsText } : {}),
  };
}

/** The server's answer to `server/discover`: the build-time one with this configuration's instructions. */
export function discoverResult(
  template: InitializeTemplate,
  instructionsText: string,
): Record<string, unknown> | undefined {
  if (!template.discover) return undefined;
  // Assigning to the existing key keeps the SDK's key order (the answers are compared as JSON).
  return { ...template.discover, instructions: instructionsText };
}

type InitializeRequest = {
  jsonrpc: '2.0';
  id: string | number;
  method: 'initialize';
  params: { protocolVersion: string; capabilities: object; clientInfo: { name: string; version: string } };
};

/** A well-formed `initialize` request; anything doubtful is left to the server. */
function asInitialize(line: string): InitializeRequest | undefined {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return undefined;
  }
  const m = message as Partial<InitializeRequest> | null;
  const p = m?.params;
  const ok =
    m?.jsonrpc === '2.0' &&
    m.method === 'initialize' &&
    (typeof m.id === 'string' || (typeof m.id === 'number' && Number.isInteger(m.id))) &&
    typeof p?.protocolVersion === 'string' &&
    typeof p.capabilities === 'object' &&
    p.capabilities !== null &&
    !Array.isArray(p.capabilities) &&
    typeof p.clientInfo?.name === 'string' &&
    typeof p.clientInfo.version === 'string';
  return ok ? (m as InitializeRequest) : undefined;
}

type DiscoverRequest = { jsonrpc: '2.0'; id: string | number; method: 'server/discover' };

/**
 * A well-formed `server/discover` whose envelope names a revision the server serves; anything
 * doubtful (another revision, a malformed envelope) is left to the server, which answers the error.
 */
function asDiscover(line: string, supported: readonly string[]): DiscoverRequest | undefined {
  let m: unknown;
  try {
    m = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(m) || m['jsonrpc'] !== '2.0' || m['method'] !== 'server/discover') return undefined;
  const id = m['id'];
  if (!(typeof id === 'string' || (typeof id === 'number' && Number.isInteger(id)))) return undefined;
  const params = m['params'];
  const meta = isRecord(params) ? params['_meta'] : undefined;
  if (!isRecord(params) || !isRecord(meta) || Object.keys(params).some((k) => k !== '_meta'))
    return undefined;
  const version = meta['io.modelcontextprotocol/protocolVersion'];
  const info = meta['io.modelcontextprotocol/clientInfo'];
  const capabilities = meta['io.modelcontextprotocol/clientCapabilities'];
  const infoOk =
    info === undefined ||
    (isRecord(info) && typeof info['name'] === 'string' && typeof info['version'] === 'string');
  const ok = typeof version === 'string' && supported.includes(version) && infoOk && isRecord(capabilities);
  return ok ? (m as DiscoverRequest) : undefined;
}

/**
 * Descriptor 0 is a pipe or a socket, as a client's stdin is: its end of input stays ended for the
 * stream that takes over (a terminal's Ctrl-D would not, so a terminal gets the stream from the start).
 */
function stdinIsPipe(): boolean {
  try {
    const stat = fstatSync(0);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/** The size of one direct read of stdin: an opening message is far smaller. */
const READ_BYTES = 64 * 1024;

/**
 * Start reading stdin and answer `initialize` or `server/discover` early; undefined when there is no build-time
 * template (running from source).
 *
 * Without streams given (the bin), on POSIX systems, stdin is read and the answer written with
 * plain `fs` calls on descriptors 0 and 1: Node's stdin and stdout streams (`net` and the stream
 * modules, a socket each, ≈ 5 ms at start-up) are made only when the server takes over. A client's
 * stdin is usually blocking (libuv, which Node clients spawn with, and Python's subprocess hand the
 * child a blocking end), so a read waits for the opening message on a worker thread; a read that
 * fails (a non-blocking descriptor: EAGAIN) hands over to the stream at once. Windows, a terminal and a file use the streams.
 */
export function listenEarly(options: EarlyOptions): Early | undefined {
  const template = options.template ?? INITIALIZE_TEMPLATE;
  if (!template) return undefined;
  const direct =
    options.stdin === undefined &&
    options.stdout === undefined &&
    process.platform !== 'win32' &&
    stdinIsPipe();
  let stdin = options.stdin;
  const input = () => {
    stdin ??= process.stdin;
    return stdin;
  };
  const output = () => options.stdout ?? process.stdout;
  /** The answer: one write to descriptor 1 (all of it, or what is left through the stream). */
  const answer = (text: string) => {
    if (!direct) {
      output().write(text);
      return;
    }
    const bytes = Buffer.from(text);
    let sent = 0;
    try {
      while (sent < bytes.length) sent += writeSync(1, bytes, sent);
    } catch {
      output().write(bytes.subarray(sent));
    }
  };
  const chunks: Buffer[] = [];
  let answered: { id: string | number; json: string } | undefined;
  let done = false;
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const finish = () => {
    done = true;
    settle();
  };

  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    if (done) return;
    const bytes = chunks.length === 1 ? chunk : Buffer.concat(chunks);
    const nl = bytes.indexOf(0x0a);
    if (nl < 0) return;
    const line = bytes.toString('utf8', 0, nl).replace(/\r$/, '');
    const text = () =>
      instructions(
        selectTools(toolFacts(), options.selection),
        options.sandbox,
        options.defaultTenantId,
        options.selection.readOnly,
        options.protect,
        options.scoped,
      );
    const init = asInitialize(line);
    const discover = init ? undefined : asDiscover(line, template.discover?.supportedVersions ?? []);
    const request = init ?? discover;
    const result = init
      ? initializeResult(template, init.params.protocolVersion, text())
      : discover && discoverResult(template, text());
    if (request && result) {
      answer(`${JSON.stringify({ result, jsonrpc: '2.0', id: request.id })}\n`);
      answered = { id: request.id, json: JSON.stringify(result) };
      options.log.debug(`${request.method} answered while the server loads`, {
        // process.uptime, not performance.now: the performance global loads perf_hooks (≈ 2 ms).
        ms: Math.round(process.uptime() * 1000),
      });
    }
    finish();
  };
  const listen = () => {
    input().on('data', onData);
    input().once('end', finish);
  };
  /** Reads descriptor 0 until the opening line is in or the input ends; the stream on a failure. */
  const readDirect = () =>
    new Promise<void>((resolve) => {
      const next = () => {
        const buffer = Buffer.allocUnsafe(READ_BYTES);
        read(0, buffer, 0, READ_BYTES, null, (err, n) => {
          if (err) listen();
          else if (n === 0) finish();
          else onData(buffer.subarray(0, n));
          if (err || done) resolve();
          else next();
        });
      };
      next();
    });
  let reading: Promise<void> | undefined;
  if (direct) reading = readDirect();
  else listen();

  return {
    settled,
    async serve(factory, onerror, sdk) {
      await reading;
      const stdin = input();
      stdin.pause();
      stdin.off('data', onData);
      stdin.off('end', finish);
      finish();
      const { StdioServerTransport, serveStdio, deserializeMessage } = sdk;
      const transport = new StdioServerTransport(stdin, batchedStdout(output()));
      if (answered) {
        const early = answered;
        const send = transport.send.bind(transport);
        let dropped = false;
        transport.send = async (message: JSONRPCMessage) => {
          if (!dropped && 'id' in message && message.id === early.id && !('method' in message)) {
            dropped = true;
            const json = 'result' in message ? JSON.stringify(message.result) : undefined;
            if (json !== early.json) {
              options.log.error('BUG: the early answer to initialize differs from the server’s', {
                early: early.json,
                server: json ?? JSON.stringify(message),
              });
            }
            return;
          }
          return send(message);
        };
      }
      const handle = serveStdio(factory, { transport, onerror });
      // What was read so far, as the transport would have read it: the whole lines now, in order;
      // a partial last line back in front of stdin (which may also have ended meanwhile).
      const read = Buffer.concat(chunks);
      const end = read.lastIndexOf(0x0a) + 1;
      for (let start = 0; start < end; ) {
        const nl = read.indexOf(0x0a, start);
        const line = read.toString('utf8', start, nl).replace(/\r$/, '');
        start = nl + 1;
        try {
          transport.onmessage?.(deserializeMessage(line));
        } catch (error) {
          transport.onerror?.(error as Error);
        }
      }
      if (end < read.length && !stdin.readableEnded) stdin.unshift(read.subarray(end));
      stdin.resume();
      return handle;
    },
  };
}
