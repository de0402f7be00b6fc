/**
 * 2025 stateless HTTP, the request a load balancer multiplies: one `tools/call` with the server's
 * own credentials. Building a server and the SDK's web-standard transport for each of them (a
 * Request, a Response, a web stream) cost several times the call itself, so these calls go to one
 * long-lived server (createServer's `toolCallOnly`) through this transport, which writes straight
 * to the node response.
 *
 * The server never sees anything but `tools/call` requests here, so what a 2025 server keeps per
 * connection (client capabilities, logging level) stays unset, as on a fresh server. Requests of
 * different HTTP exchanges may share an id: each is given one of the transport's own while the
 * server handles it, and the answer goes out with the client's.
 *
 * The answer is one JSON body (`application/json`) when the response is the only message of the
 * exchange, as the SDK's 2026-07-28 transport does (a 2025 client accepts both, as the revision
 * requires); the first notification of the call (progress, a log message) or a silence of 15 s
 * turns it into the SSE stream the SDK's 2025 transport sends (`event: message` frames, keep-alive
 * comments every 15 s), which the response ends. Messages related to no request (list changes)
 * are dropped: a stateless server has no standalone stream. A client that goes away cancels its
 * call (`notifications/cancelled` to the server, whose handler is aborted).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  JSONRPCMessage,
  JSONRPCRequest,
  MessageExtraInfo,
  RequestId,
  Transport,
} from '@modelcontextprotocol/server';
import { toWebRequest } from './web.js';

interface Exchange {
  /** The client's id of the request. */
  id: RequestId;
  res: ServerResponse;
  /** The SSE headers were written. */
  streaming: boolean;
  /** Keep-alive comments while the call runs: the first turns the answer into a stream. */
  timer: NodeJS.Timeout;
}

/** The SDK's keep-alive interval on SSE streams. */
const KEEP_ALIVE_MS = 15_000;

/** The SSE response headers of the SDK's Streamable HTTP transport. */
const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  'X-Accel-Buffering': 'no',
};

/** The header's media type is JSON (parameters such as a charset allowed). */
const isJson = (header: string | undefined) =>
  header !== undefined && /^application\/json\s*(;|$)/i.test(header.trim());

export class CallTransport implements Transport {
  onmessage?: ((message: JSONRPCMessage, extra?: MessageExtraInfo) => void) | undefined;
  onclose?: (() => void) | undefined;
  onerror?: ((error: Error) => void) | undefined;
  #versions: readonly string[] = [];
  readonly #exchanges = new Map<number, Exchange>();
  #next = 0;
  #closed = false;

  async start(): Promise<void> {}

  setSupportedProtocolVersions(versions: string[]): void {
    this.#versions = versions;
  }

  /**
   * Whether this request is the plain case served here; anything else (a missing Accept type,
   * another content type, an unknown protocol version) goes to the SDK's transport, which answers
   * it as it always did.
   */
  accepts(req: IncomingMessage): boolean {
    const accept = req.headers.accept;
    const version = req.headers['mcp-protocol-version'];
    return (
      !this.#closed &&
      accept !== undefined &&
      accept.includes('application/json') &&
      accept.includes('text/event-stream') &&
      isJson(req.headers['content-type']) &&
      (version === undefined || (typeof version === 'string' && this.#versions.includes(version)))
    );
  }

  /** Hand one request to the server; its answer is written to `res`. */
  serve(message: JSONRPCRequest, req: IncomingMessage, res: ServerResponse): void {
    const key = ++this.#next;
    const exchange: Exchange = {
      id: message.id,
      res,
      streaming: false,
      timer: setInterval(() => {
        this.#stream(exchange);
        res.write(': keepalive\n\n');
      }, KEEP_ALIVE_MS).unref(),
    };
    this.#exchanges.set(key, exchange);
    res.once('close', () => {
      clearInterval(exchange.timer);
      // Gone before its answer: the call is cancelled (the server sends no response to it).
      if (this.#exchanges.delete(key) && !this.#closed) {
        this.onmessage?.({
          jsonrpc: '2.0',
          method: 'notifications/cancelled',
          params: { requestId: key, reason: 'the HTTP client went away' },
        });
      }
    });
    // A handler reads the request's trace headers only (register.ts callExtra): a web Request,
    // costly to build, is handed on when there are any.
    const traced = req.headers.traceparent !== undefined || req.headers.tracestate !== undefined;
    this.onmessage?.({ ...message, id: key }, traced ? { request: toWebRequest(req, res) } : undefined);
  }

  async send(message: JSONRPCMessage, options?: { relatedRequestId?: RequestId }): Promise<void> {
    // Messages come from the server itself: their shape is the SDK's.
    const response = 'id' in message && ('result' in message || 'error' in message);
    const key = response ? message.id : options?.relatedRequestId;
    const exchange = typeof key === 'number' ? this.#exchanges.get(key) : undefined;
    if (!exchange) return;
    if (!response) {
      this.#write(exchange, message);
      return;
    }
    this.#exchanges.delete(key as number);
    this.#end(exchange, { ...message, id: exchange.id } as JSONRPCMessage);
  }

  /** Write the SSE headers, once. */
  #stream(exchange: Exchange): void {
    if (exchange.streaming) return;
    exchange.streaming = true;
    exchange.res.writeHead(200, SSE_HEADERS);
  }

  #write(exchange: Exchange, message: JSONRPCMessage): void {
    this.#stream(exchange);
    exchange.res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
  }

  /** The exchange's last message: one JSON body, or the stream's last frame. */
  #end(exchange: Exchange, message: JSONRPCMessage): void {
    clearInterval(exchange.timer);
    const json = JSON.stringify(message);
    if (exchange.streaming) {
      exchange.res.end(`event: message\ndata: ${json}\n\n`);
      return;
    }
    exchange.res.writeHead(200, {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(json),
    });
    exchange.res.end(json);
  }

  /** Answer every call in flight with `message` as a JSON-RPC error (shutdown). */
  cancelAll(message: string): void {
    for (const [key, exchange] of this.#exchanges) {
      this.#exchanges.delete(key);
      this.#end(exchange, { jsonrpc: '2.0', id: exchange.id, error: { code: -32000, message } });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.cancelAll('Connection closed');
    this.#closed = true;
    this.onclose?.();
  }
}
