// The throughput floor of `npm run bench`: the least an MCP server written in Node can do for a
// vm_get, with no MCP library, no validation and no tool layer. Each tools/call is parsed, sent to
// the provider as one undici request (a pool of 32 connections, as flops-mcp's client), and its
// answer relayed as the call's result (the VM as JSON text and as structuredContent). Over stdio
// (default) it answers initialize (2025) and server/discover (2026-07-28) as bench/bare-server.cjs
// does; with --http, the same JSON-RPC messages POSTed to it, one JSON body an answer (202 for a
// notification, 405 for GET).
// Reads FLOPS_API_URL, FLOPS_CLIENT_ID and FLOPS_API_KEY as flops-mcp does.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { Agent } from 'undici';
import { opening } from './bare-server.cjs';

const base = new URL(process.env.FLOPS_API_URL);
const query = `?clientId=${encodeURIComponent(process.env.FLOPS_CLIENT_ID)}&apiKey=${encodeURIComponent(process.env.FLOPS_API_KEY)}`;
const agent = new Agent({ connections: 32 });

/** The answer to one message, or undefined for a notification. */
async function answer(message) {
  const { id, method, params } = message;
  if (id === undefined) return undefined;
  const first = opening(message, { tools: {} });
  if (first) return first;
  if (method !== 'tools/call' || params?.name !== 'vm_get') return undefined;
  const res = await agent.request({
    origin: base.origin,
    path: `${base.pathname}vm/${Number(params.arguments.vmId)}/${query}`,
    method: 'GET',
  });
  const vm = JSON.parse(await res.body.text()).result;
  return {
    content: [{ type: 'text', text: JSON.stringify(vm) }],
    structuredContent: vm,
    resultType: 'complete',
  };
}

const reply = async (message) => {
  const result = await answer(message);
  if (result !== undefined) return JSON.stringify({ jsonrpc: '2.0', id: message.id, result });
  if (message.id === undefined) return undefined;
  return JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: 'not served' } });
};

if (process.argv.includes('--http')) {
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const json = await reply(JSON.parse(Buffer.concat(chunks).toString()));
      if (json === undefined) res.writeHead(202).end();
      else
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) })
          .end(json);
    });
  });
  server.listen(0, '127.0.0.1', () =>
    console.error(`listening on http://127.0.0.1:${server.address().port}/mcp`),
  );
} else {
  createInterface({ input: process.stdin }).on('line', async (line) => {
    const json = await reply(JSON.parse(line));
    if (json !== undefined) process.stdout.write(`${json}\n`);
  });
}
