/**
 * The SDK's Streamable HTTP transport (web-standard), keeping track of the requests it has not
 * answered yet.
 *
 * Closing a transport aborts the server's handlers and ends their SSE streams, but the client is
 * never told: its call waits for its own timeout (60 s by default in the SDK). On shutdown we
 * answer each pending request with a JSON-RPC error first, so that clients fail at once. A request
 * the client cancels is released at once (MCP sends no response to it).
 */
import {
  isJSONRPCErrorResponse,
  isJSONRPCNotification,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';

type OnMessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

export class TrackingTransport extends WebStandardStreamableHTTPServerTransport {
  /** Client requests received and not answered (nor cancelled) yet. */
  readonly pending = new Set<RequestId>();

  constructor(options: ConstructorParameters<typeof WebStandardStreamableHTTPServerTransport>[0]) {
    super(options);
    // `onmessage` is an own field of the SDK's class (set by the server on connect): wrap it here.
    let handler: OnMessage | undefined;
    Object.defineProperty(this, 'onmessage', {
      configurable: true,
      get: () => handler,
      set: (next: OnMessage | undefined) => {
        handler =
          next &&
          ((message, extra) => {
            this.#track(message);
            next(message, extra);
          });
      },
    });
  }

  #track(message: JSONRPCMessage): void {
    if (isJSONRPCRequest(message)) this.pending.add(message.id);
    else if (isJSONRPCNotification(message) && message.method === 'notifications/cancelled') {
      const id = (message.params as { requestId?: RequestId } | undefined)?.requestId;
      if (id !== undefined) this.pending.delete(id);
    }
  }

  override send(message: JSONRPCMessage, options?: { relatedRequestId?: RequestId }): Promise<void> {
    if ((isJSONRPCResultResponse(message) || isJSONRPCErrorResponse(message)) && message.id !== undefined) {
      this.pending.delete(message.id);
    }
    return super.send(message, options);
  }

  /** Answer every pending request with `message` as a JSON-RPC error, then close. */
  async cancelAndClose(message: string): Promise<void> {
    for (const id of [...this.pending]) {
      await this.send({ jsonrpc: '2.0', id, error: { code: -32000, message } }).catch(() => undefined);
    }
    await this.close();
  }
}
