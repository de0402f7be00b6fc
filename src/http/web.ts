/**
 * Between `node:http` and the web-standard `Request`/`Response` the SDK's HTTP transports speak.
 * The body has already been read and parsed by us (size limit, JSON): it is handed on as
 * `parsedBody`, and the Request carries it again only for the SDK's own classification.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A web Request for a node request. Its signal aborts when the client goes away before the
 * response is finished: a dropped connection cancels the call it carried.
 */
export function toWebRequest(req: IncomingMessage, res: ServerResponse, body: unknown): Request {
  const headers = webHeaders(req);
  const aborter = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) aborter.abort();
  });
  const hasBody = req.method === 'POST' && body !== undefined;
  return new Request(`http://${headers.get('host') ?? 'localhost'}${req.url ?? '/'}`, {
    method: req.method ?? 'GET',
    headers,
    signal: aborter.signal,
    ...(hasBody ? { body: JSON.stringify(body) } : {}),
  });
}

/** A node request's headers as web Headers. */
export function webHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

/** Write a web Response to a node response, streaming its body (SSE) until either side ends. */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
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
