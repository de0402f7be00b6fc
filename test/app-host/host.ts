/**
 * A minimal MCP Apps host for the tests, on ext-apps' AppBridge: loads the view's HTML into a
 * sandboxed iframe (scripts only, opaque origin, as hosts do), sends the tool's input and result,
 * and passes the view's tool calls to the test (page.exposeFunction `mcpCall`), which sends them
 * to the real server. Driven from the test through `globalThis.host`.
 */
import {
  AppBridge,
  type McpUiHostContext,
  PostMessageTransport,
} from '@modelcontextprotocol/ext-apps/app-bridge';

interface CallToolParams {
  name: string;
  arguments?: Record<string, unknown>;
}

declare global {
  // Exposed by the test with page.exposeFunction: a tools/call to the real server, as JSON.
  function mcpCall(params: string): Promise<string>;
}

const frame = document.getElementById('frame') as HTMLIFrameElement;
let bridge: AppBridge | undefined;
const calls: CallToolParams[] = [];
const sizes: number[] = [];

async function open(html: string, hostContext: McpUiHostContext, serverTools = true): Promise<void> {
  document.body.className = hostContext.theme ?? 'light';
  const win = frame.contentWindow;
  if (!win) throw new Error('no iframe window');
  bridge = new AppBridge(
    null,
    { name: 'flops-test-host', version: '1.0.0' },
    serverTools ? { serverTools: {}, logging: {} } : { logging: {} },
    { hostContext },
  );
  bridge.oncalltool = async (params) => {
    calls.push({ name: params.name, arguments: params.arguments ?? {} });
    return JSON.parse(await mcpCall(JSON.stringify(params)));
  };
  bridge.onsizechange = ({ height }) => {
    if (height !== undefined) {
      sizes.push(height);
      frame.style.height = `${height}px`;
    }
  };
  const initialized = new Promise<void>((resolve) => {
    bridge!.oninitialized = () => resolve();
  });
  await bridge.connect(new PostMessageTransport(win, win));
  frame.srcdoc = html;
  await initialized;
}

const host = {
  open,
  input: (args: Record<string, unknown>) => bridge!.sendToolInput({ arguments: args }),
  result: (result: Parameters<AppBridge['sendToolResult']>[0]) => bridge!.sendToolResult(result),
  context: (ctx: McpUiHostContext) => {
    if (ctx.theme) document.body.className = ctx.theme;
    bridge!.setHostContext(ctx);
  },
  calls: () => calls,
  sizes: () => sizes,
};

(globalThis as unknown as { host: typeof host }).host = host;
document.title = 'ready';
