/**
 * Bundles the published bin, dist/cli.cjs, with esbuild (run by `npm run build` after tsc, which
 * still emits dist/index.js and the declarations for the library entry).
 *
 * An MCP server is started for every session, so what the bin loads before it answers `initialize`
 * is paid again and again. The entry, dist/cli.cjs, is one file that holds the configuration and
 * the early answer only (src/cli.ts); it then loads dist/main.js, the command line, with lazy
 * chunks in dist/chunks/ for what is loaded only when asked for (`import()` of the sandbox, the
 * HTTP transport, doctor, the audit log). On top of that, some dependencies are swapped for shims in scripts/lazy/ whose
 * real code runs on first use instead of at start-up (their behaviour is unchanged):
 *
 *   - undici: the client's pool is created on its first request;
 *   - zod's locales: only English is kept (zod configures English; no other is ever selected);
 *   - node:crypto: only the HTTP transport hashes and compares tokens;
 *   - the SDK's JSON Schema validator (ajv and ajv-formats): only a form elicitation's answer is
 *     checked with it.
 *
 * The shims' `require()` of the real module is bundled as a CommonJS wrapper that runs when first
 * called. The tools' JSON Schemas and the answer to `initialize` (but its instructions) are
 * computed here too, with the server's own code (see toolDefinitions and initializeTemplate).
 * `node scripts/build.mjs --analyze` prints what each output file is made of.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lazy = join(root, 'scripts/lazy');

/**
 * Module specifiers (or resolved paths) replaced by a shim, never in the shim itself; `ours`: only
 * where src/ imports it (undici needs all of node:crypto).
 */
const SHIMS = [
  { filter: /^undici$/, shim: 'undici.js' },
  { filter: /^node:crypto$/, shim: 'node-crypto.js', ours: true },
  { filter: /^@modelcontextprotocol\/server\/_shims$/, shim: 'sdk-shims.js' },
];

/** @type {import('esbuild').Plugin} */
const lazyDependencies = {
  name: 'lazy-dependencies',
  setup(b) {
    for (const { filter, shim, ours } of SHIMS) {
      b.onResolve({ filter }, (args) => {
        if (args.importer.startsWith(lazy)) return undefined;
        if (ours && !args.importer.startsWith(join(root, 'src'))) return undefined;
        return { path: join(lazy, shim) };
      });
    }
    // zod's classic API re-exports every locale (≈260 kB); keep the one zod uses.
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";\n',
      loader: 'js',
    }));
    // The SDK's JSON-RPC guards are zod safeParses run about ten times a call, most of them
    // failing (zod then builds a whole error to say `false`): the bundle has the SDK call the same
    // checks written out (src/mcp/jsonrpc-guards.ts; test/jsonrpc-guards.test.ts holds them equal).
    b.onLoad({ filter: /[\\/]@modelcontextprotocol[\\/]server[\\/]dist[\\/]src-[^\\/]+\.mjs$/ }, (args) => {
      let contents = readFileSync(args.path, 'utf8');
      for (const guard of GUARDS) {
        const original = `const ${guard} = (value) => ${guard.replace('is', '')}Schema.safeParse(value).success;`;
        if (!contents.includes(original))
          throw new Error(`${args.path}: no ${original} (the SDK changed: see src/mcp/jsonrpc-guards.ts)`);
        contents = contents.replace(original, `const ${guard} = fastGuards.${guard};`);
      }
      return {
        contents: `import * as fastGuards from ${JSON.stringify(guards)};\n${contents}`,
        loader: 'js',
      };
    });
  },
};

const GUARDS = [
  'isJSONRPCRequest',
  'isJSONRPCNotification',
  'isJSONRPCResultResponse',
  'isJSONRPCErrorResponse',
];
const guards = join(root, 'src/mcp/jsonrpc-guards.ts');

/**
 * Every tool's `tools/list` entry, computed now by the server's own code as tsc just emitted it
 * (dist/mcp/), and compiled into the bundle (src/mcp/register.ts reads it): the bin's first
 * `tools/list` generates no JSON Schema. Definitions depend on nothing configured at run time.
 */
async function toolDefinitions() {
  const dist = (file) => import(pathToFileURL(join(root, 'dist', file)).href);
  const [{ buildToolSpecs }, { toolDefinition }] = await Promise.all([
    dist('mcp/tools.js'),
    dist('mcp/register.js'),
  ]);
  return Object.fromEntries(buildToolSpecs().map((spec) => [spec.name, toolDefinition(spec)]));
}

/**
 * The server's answer to `initialize` but for the instructions and the negotiated version, taken
 * from the real server (dist/mcp/) through an in-memory session, and the SDK's protocol versions:
 * the bin answers `initialize` with it before it has loaded the SDK (src/mcp/early.ts).
 */
async function initializeTemplate() {
  const dist = (file) => import(pathToFileURL(join(root, 'dist', file)).href);
  const [{ createServer }, { FlopsClient }, { Client }, { InMemoryTransport }, types, { loadSkills }] =
    await Promise.all([
      dist('mcp/server.js'),
      dist('api/client.js'),
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/inMemory.js'),
      import('@modelcontextprotocol/server'),
      dist('mcp/skills.js'),
    ]);
  const skills = await loadSkills();
  const flops = new FlopsClient({ clientId: 'build', apiKey: 'build', baseUrl: 'http://127.0.0.1:9/' });
  const server = createServer({ client: flops, skills });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  let result;
  const send = serverSide.send.bind(serverSide);
  serverSide.send = (message, options) => {
    if (message.result?.protocolVersion) result = message.result;
    return send(message, options);
  };
  const client = new Client({ name: 'build', version: '0' });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  await client.close();
  await server.close();
  await flops.close();
  if (!result) throw new Error('no answer to initialize');
  return {
    capabilities: result.capabilities,
    serverInfo: result.serverInfo,
    supportedVersions: types.SUPPORTED_PROTOCOL_VERSIONS,
    latestVersion: types.LATEST_PROTOCOL_VERSION,
    discover: await discoverTemplate((context) => createServer({ client: flops, era: context.era, skills })),
  };
}

/**
 * The server's whole answer to `server/discover` on stdio, from the SDK's own serveStdio over a
 * transport that only records what is sent (the instructions are replaced at run time).
 */
async function discoverTemplate(factory) {
  const { serveStdio } = await import('@modelcontextprotocol/server/stdio');
  let answer;
  const transport = {
    async start() {},
    async close() {},
    async send(message) {
      if (message.id === 'build') answer = message;
    },
  };
  const handle = serveStdio(factory, { transport });
  transport.onmessage({
    jsonrpc: '2.0',
    id: 'build',
    method: 'server/discover',
    params: {
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'build', version: '0' },
        'io.modelcontextprotocol/clientCapabilities': {},
      },
    },
  });
  for (let i = 0; i < 100 && !answer; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  await handle.close();
  if (!answer?.result?.supportedVersions)
    throw new Error(`no answer to server/discover: ${JSON.stringify(answer)}`);
  return answer.result;
}

const argv = process.argv.slice(2);
const option = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
/**
 * `--outdir DIR` builds elsewhere (profiling); `--no-minify` keeps names and module comments;
 * `--entry FILE` bundles another entry the same way (the benchmark's SDK-only server).
 */
const outdir = option('--outdir') ?? join(root, 'dist');
const entry = option('--entry');
const minify = !argv.includes('--no-minify');
const define = {
  __FLOPS_TOOL_DEFINITIONS__: JSON.stringify(await toolDefinitions()),
  __FLOPS_INITIALIZE__: JSON.stringify(await initializeTemplate()),
};
/** @type {import('esbuild').BuildOptions} */
const common = {
  absWorkingDir: root,
  outdir,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify,
  legalComments: 'eof',
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  define,
  // Loaded only with --auth oauth, from node_modules: lmdb has a native addon; the OAuth server and
  // its JOSE library stay the packages as published.
  external: ['oidc-provider', 'lmdb', 'jose'],
};
// Bundled CommonJS (undici, ajv) calls require() for Node's built-ins.
const banner = { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" };
rmSync(join(outdir, 'chunks'), { recursive: true, force: true });

/**
 * The command line (src/main.ts) and everything it loads, split into dist/chunks/ for what is
 * loaded only when asked for.
 */
const split = (entryPoint) =>
  build({
    ...common,
    entryPoints: [entryPoint],
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    banner,
    plugins: [lazyDependencies],
  });

/**
 * The bin's entry (src/cli.ts) alone in one file, with the configuration and the early answer and
 * nothing else: what runs before the first answer is one file to read and compile, not a graph of
 * chunks. Its `import('./main.js')` stays a run-time import of the bundle above.
 *
 * It is CommonJS (dist/cli.cjs): Node 20 runs an ES module entry through its ES module loader,
 * which loads and sets up a dozen internal modules and reads the file asynchronously before the
 * first line runs, and gives each built-in it imports a module namespace (node:util's computes its
 * lazy exports); a CommonJS entry is read and run at once, and about 10 ms sooner at the first
 * answer on the benchmark's machine. main.js and its chunks stay ES modules, loaded after it.
 * dist/cli.js, the entry's former path (a Docker image's CMD, a client configured with the file),
 * runs it from an ES module.
 */
const bin = () =>
  build({
    ...common,
    format: 'cjs',
    outExtension: { '.js': '.cjs' },
    entryPoints: ['src/cli.ts'],
    plugins: [
      {
        name: 'main-apart',
        setup(b) {
          b.onResolve({ filter: /^\.\/main\.js$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
  });

const results = entry ? [await split(entry)] : [await split('src/main.ts'), await bin()];
if (!entry) {
  const text = readFileSync(join(outdir, 'cli.cjs'), 'utf8');
  if (!text.startsWith('#!/usr/bin/env node')) throw new Error('dist/cli.cjs lost its shebang');
  // A CommonJS bundle may turn import() into require(), which cannot load main.js's top-level await.
  if (!text.includes('import("./main.js")')) throw new Error('dist/cli.cjs must import() main.js');
  // What the entry must not hold: it is to answer before any of these is loaded.
  for (const heavy of ['zod/v4', '@modelcontextprotocol/', 'undici']) {
    const inputs = Object.keys(results[1].metafile.inputs).filter((i) => i.includes(heavy));
    if (inputs.length) throw new Error(`dist/cli.cjs bundles ${inputs[0]}: it must stay apart`);
  }
  writeFileSync(
    join(outdir, 'cli.js'),
    "#!/usr/bin/env node\n// The bin is dist/cli.cjs (scripts/build.mjs); this path runs it too.\nimport './cli.cjs';\n",
  );
  for (const file of ['cli.cjs', 'cli.js']) chmodSync(join(outdir, file), 0o755);
  rmSync(join(outdir, 'cli.js.map'), { force: true }); // tsc's, of the file the line above replaced
}

if (argv.includes('--analyze')) {
  for (const [file, out] of results.flatMap((r) => Object.entries(r.metafile.outputs))) {
    if (file.endsWith('.map')) continue;
    const parts = {};
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = m ? m[1] : 'src';
      parts[key] = (parts[key] ?? 0) + bytesInOutput;
    }
    const top = Object.entries(parts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${(v / 1024).toFixed(1)}k`)
      .join(', ');
    console.log(`${file} ${(out.bytes / 1024).toFixed(1)} kB: ${top}`);
  }
}
