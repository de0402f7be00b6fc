/**
 * The SDK's StreamableHTTPServerTransport, keeping track of the requests it has not answered yet.
 *
 * Closing a transport aborts the server's handlers and ends their SSE streams, but the client is
 * never told: its call waits for its own timeout (60 s by default in the SDK). On shutdown we
 * answer each pending request with a JSON-RPC error first, so that clients fail at once.
 */
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type MessageExtraInfo,
  type RequestId,
} from '@modelcontextprotocol/sdk/types.js';

type OnMessage = (message: JSONRPCMessage, extra?: MessageExtraInfo) => void;

export class TrackingTransport extends StreamableHTTPServerTransport {
  /** Client requests received and not answered yet. */
  readonly pending = new Set<RequestId>();

  override get onmessage(): OnMessage | undefined {
    return super.onmessage;
  }

  override set onmessage(handler: OnMessage | undefined) {
    super.onmessage =
      handler &&
      ((message, extra) => {
        if (isJSONRPCRequest(message)) this.pending.add(message.id);
        handler(message, extra);
      });
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
