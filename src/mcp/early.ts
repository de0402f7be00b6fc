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
  /** Serve stdio with the real servers (serveStdio), handing them everything read so far. */
  serve(factory: McpServerFactory, onerror: (err: Error) => void, sdk: StdioSdk): StdioServerHandle;
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
 * Start reading stdin and answer `initialize` or `server/discover` early; undefined when there is no build-time
 * template (running from source).
 */
export function listenEarly(options: EarlyOptions): Early | undefined {
  const template = options.template ?? INITIALIZE_TEMPLATE;
  if (!template) return undefined;
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
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
      stdout.write(`${JSON.stringify({ result, jsonrpc: '2.0', id: request.id })}\n`);
      answered = { id: request.id, json: JSON.stringify(result) };
      options.log.debug(`${request.method} answered while the server loads`, {
        ms: Math.round(performance.now()),
      });
    }
    finish();
  };
  stdin.on('data', onData);
  stdin.once('end', finish);

  return {
    settled,
    serve(factory: McpServerFactory, onerror: (err: Error) => void, sdk: StdioSdk): StdioServerHandle {
      stdin.pause();
      stdin.off('data', onData);
      stdin.off('end', finish);
      finish();
      const { StdioServerTransport, serveStdio, deserializeMessage } = sdk;
      const transport = new StdioServerTransport(stdin, batchedStdout(stdout));
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
