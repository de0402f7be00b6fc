// The cold-start baseline of `npm run bench`: a bare Node process that answers `initialize` over
// stdio, a few lines of readline and nothing else.
import { createInterface } from 'node:readline';

createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line);
  if (message.method !== 'initialize') return;
  const result = {
    protocolVersion: message.params.protocolVersion,
    capabilities: {},
    serverInfo: { name: 'bare', version: '0.0.0' },
  };
  process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: message.id, result })}\n`);
});
