/**
 * The SDK floor of `npm run bench`: an MCP server on the same SDK with one empty tool list and
 * nothing else, bundled by scripts/build.mjs exactly as the bin is. What flops-mcp costs beyond it
 * is its own.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new Server({ name: 'sdk-floor', version: '0.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }));
await server.connect(new StdioServerTransport());
