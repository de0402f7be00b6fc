/**
 * Reading a POST body with a size limit, parsed as JSON. A declared Content-Length over the limit
 * is refused before a byte is read; a body that grows past it while streaming stops being read.
 */
import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { kind: 'ok'; value: unknown }
  | { kind: 'too-large' }
  | { kind: 'invalid'; message: string }
  | { kind: 'aborted' };

export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.resolve({ kind: 'too-large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: BodyResult) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      resolve(result);
    };
    // Past the limit: stop collecting, leave the socket alone so that a 413 can still be sent
    // (Node discards the rest of the body once the response ends).
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) done({ kind: 'too-large' });
      else chunks.push(chunk);
    };
    const onEnd = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return done({ kind: 'invalid', message: 'Parse error: empty body' });
      try {
        done({ kind: 'ok', value: JSON.parse(text) as unknown });
      } catch {
        done({ kind: 'invalid', message: 'Parse error: invalid JSON' });
      }
    };
    const onError = () => done({ kind: 'aborted' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
