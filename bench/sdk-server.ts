/**
 * The SDK floor of `npm run bench`: an MCP server on the same SDK line as flops-mcp (v2,
 * `@modelcontextprotocol/server` with serveStdio, so both eras) with an empty tool list and nothing
 * else, bundled by scripts/build.mjs exactly as the bin is. What flops-mcp costs beyond it is its own.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';

serveStdio(() => {
  const server = new McpServer({ name: 'sdk-floor', version: '0.0.0' }, { capabilities: { tools: {} } });
  server.server.setRequestHandler('tools/list', () => ({ tools: [] }));
  return server;
});
