/**
 * Between `node:http` and the web-standard `Request`/`Response` the SDK's HTTP transports speak.
 * The body has already been read and parsed by us (size limit, JSON) and is handed to the SDK as
 * `parsedBody`, which it then never reads from the Request: the Request carries no body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A web Request for a node request (its method, URL and headers). Its signal aborts when the
 * client goes away before the response is finished: a dropped connection cancels the call it carried.
 */
export function toWebRequest(req: IncomingMessage, res: ServerResponse): Request {
  const headers = webHeaders(req);
  const aborter = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  return new Request(`http://${headers.get('host') ?? 'localhost'}${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
    signal: aborter.signal,
  });
}

/** A node request's headers as web Headers. */
function webHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

/**
 * Write a web Response to a node response: a body of one piece (JSON) in one write with its
 * headers, an event stream (SSE) as it comes until either side ends.
 */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (!response.body || !/^text\/event-stream\b/i.test(response.headers.get('content-type') ?? '')) {
    let body: Buffer | undefined;
    try {
      body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
    } catch (err) {
      // The client went away (its call was cancelled): nothing more to send. Otherwise a failure.
      if (res.destroyed) return;
      throw err;
    }
    if (body && !('content-length' in headers)) headers['content-length'] = String(body.length);
    res.writeHead(response.status, headers);
    res.end(body);
    return;
  }
  res.writeHead(response.status, headers);
  res.flushHeaders();
  const reader = response.body.getReader();
  const stop = () => void reader.cancel().catch(() => undefined);
  res.once('close', stop);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise<void>((resolve) => res.once('drain', resolve));
    }
  } catch {
    // The stream was cancelled (client gone) or failed: nothing more to send.
  } finally {
    res.off('close', stop);
    res.end();
  }
}

/** The id of a body that is one JSON-RPC request, for error responses; null otherwise. */
export function idOf(body: unknown): string | number | null {
  const id = (body as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
