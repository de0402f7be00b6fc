// The cold-start baseline of `npm run bench`: a bare Node process that answers the opening message
// over stdio (`initialize`, or `server/discover` of 2026-07-28), a few lines of readline and
// nothing else. CommonJS, as flops-mcp's entry (dist/cli.cjs): Node runs it without setting up its
// ES module loader first. bench/bare-relay.mjs answers the opening message with its `opening`.

/** The result for an opening message (undefined for any other), with the given capabilities. */
function opening(message, capabilities = {}) {
  const serverInfo = { name: 'bare', version: '0.0.0' };
  if (message.method === 'initialize')
    return { protocolVersion: message.params.protocolVersion, capabilities, serverInfo };
  if (message.method === 'server/discover')
    return {
      supportedVersions: ['2026-07-28'],
      capabilities,
      resultType: 'complete',
      ttlMs: 0,
      cacheScope: 'private',
      _meta: { 'io.modelcontextprotocol/serverInfo': serverInfo },
    };
  return undefined;
}
module.exports = { opening };

if (require.main === module) {
  require('node:readline')
    .createInterface({ input: process.stdin })
    .on('line', (line) => {
      const message = JSON.parse(line);
      const result = opening(message);
      if (result) process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id: message.id, result })}\n`);
    });
}
