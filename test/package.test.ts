/**
 * What gets published and deployed, checked the way a newcomer meets it:
 *
 * - the README's first steps, followed literally on a clean clone of this repository (its working
 *   tree as it would be committed): step 1's commands (`npm ci && npm pack && npm install -g …`)
 *   run as written, with npm's global prefix in a scratch folder; then the command of step 2 and
 *   of step 3, as `claude mcp add … -- COMMAND` would start it, serves a real MCP client against
 *   the sandbox, and against a standalone sandbox through the credentials step 3 passes;
 * - the tarball `npm pack` made there (its `prepack` builds): only the build output, README,
 *   LICENSE and package.json; installed into an empty project, the library entry imports, the
 *   README's four library examples type-check against its declarations and run;
 * - server.json, the MCP registry entry: valid against the registry's 2025-12-11 schema (a copy in
 *   test/fixtures), the npm package and a Streamable HTTP remote whose secrets are marked secret;
 * - the Dockerfile, which cannot be built here (no container engine): its structure is checked, its
 *   HEALTHCHECK command is run against the server started the way its CMD starts it, and that CMD
 *   without FLOPS_MCP_TOKEN is refused.
 *
 * The installs use the npm cache (--prefer-offline) and the registry.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeBlocks } from '../scripts/readme.js';
import { API_KEY_HEADER, CLIENT_ID_HEADER } from '../src/http/guards.js';
import { SETTINGS } from '../src/settings.js';

const exec = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(join(root, file), 'utf8');

interface Pkg {
  name: string;
  version: string;
  mcpName?: string;
  bin: Record<string, string>;
  main?: string;
  types?: string;
  exports?: unknown;
  scripts: Record<string, string>;
}
const pkg = JSON.parse(read('package.json')) as Pkg;

/**
 * The environment of a user's shell: no FLOPS_* settings, none of the npm_* variables `npm test`
 * sets, and no node_modules/.bin on PATH (so `flops-mcp` can only be the installed command).
 */
const userEnv: Record<string, string> = {};
for (const [key, value] of Object.entries(process.env)) {
  if (value === undefined || key.startsWith('FLOPS_') || /^npm_/i.test(key)) continue;
  userEnv[key] = value;
}
userEnv['PATH'] = (process.env['PATH'] ?? '')
  .split(delimiter)
  .filter((dir) => !dir.includes('node_modules'))
  .join(delimiter);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function runIn(
  cwd: string,
  command: string,
  args: string[],
  env: Record<string, string> = userEnv,
  timeout = 30_000,
): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(command, args, { cwd, env, timeout, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const git = async (args: string[]) => {
  const run = await runIn(root, 'git', args);
  if (run.code !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
};

/**
 * A clone of this repository with the working tree's changes on top (modified, added, deleted,
 * untracked but not ignored): what a fresh clone holds once they are committed. In CI the tree is
 * clean and this is a plain clone.
 */
async function cleanClone(into: string): Promise<void> {
  await git(['clone', '--quiet', root, into]);
  const nul = (text: string) => text.split('\0').filter(Boolean);
  const changed = [
    ...nul(await git(['diff', '--name-only', '-z', 'HEAD'])),
    ...nul(await git(['ls-files', '--others', '--exclude-standard', '-z'])),
  ];
  for (const file of changed) {
    const source = join(root, file);
    const target = join(into, file);
    if (existsSync(source)) {
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(source, target);
    } else rmSync(target, { force: true });
  }
}

/** The README's first screen: step 1's commands, and the commands steps 2 and 3 register. */
const readme = read('README.md');
const [step1, step2, step3] = codeBlocks(readme.split('\n').slice(0, 50).join('\n')).map((b) => b.body);

/** `claude mcp add [--transport stdio] [--env K=V]… NAME -- COMMAND ARGS…` → the command and its env. */
function registered(line: string | undefined, shell: Record<string, string>) {
  const [options = '', command = ''] = (line ?? '').split(' -- ');
  const env: Record<string, string> = {};
  for (const [, name = '', value = ''] of options.matchAll(/--env (\w+)=(\S+)/g)) {
    // "$NAME" is the user's shell variable.
    env[name] = value.replace(/^"\$(\w+)"$/, (_, v: string) => shell[v] ?? '');
  }
  const [program = '', ...args] = command.trim().split(/\s+/);
  return { program, args, env };
}

const textOf = (result: unknown) =>
  (result as { content: { type: string; text: string }[] }).content[0]!.text;

describe('the package: the README followed on a clean clone, npm pack, a global install', () => {
  let work = '';
  let clone = '';
  let app = '';
  let globalBin = '';
  let tarball = '';
  let install: Run;
  let sandboxProcess: ChildProcess | undefined;
  let sandbox: { url: string; clientId: string; apiKey: string } | undefined;

  /** The user's shell after step 1: the global bin folder on PATH. */
  const shell = () => ({ ...userEnv, PATH: `${globalBin}${delimiter}${userEnv['PATH']}` });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'flops-mcp-pack-'));
    const lines = (step1 ?? '').split('\n');
    // Step 1's first line clones the published repository; here, this one.
    expect(lines[0]).toMatch(/^git clone \S+ && cd flops-mcp$/);
    clone = join(work, 'flops-mcp');
    await cleanClone(clone);
    const prefix = join(work, 'global');
    globalBin = join(prefix, 'bin');
    // The rest exactly as written, with npm's global prefix in the scratch folder.
    install = await runIn(
      clone,
      'bash',
      ['-euo', 'pipefail', '-c', lines.slice(1).join('\n')],
      { ...userEnv, npm_config_prefix: prefix, npm_config_prefer_offline: 'true' },
      270_000,
    );
    expect(install.code, install.stderr.slice(-4000)).toBe(0);
    tarball = join(clone, `${pkg.name}-${pkg.version}.tgz`);

    // A library user's project: the same tarball, installed as a dependency.
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      '{ "name": "library-user", "private": true, "type": "module" }\n',
    );
    const local = await runIn(
      app,
      'npm',
      ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'],
      userEnv,
      60_000,
    );
    expect(local.code, local.stderr).toBe(0);

    // A standalone sandbox from the installed command: the "real account" of step 3 and the examples.
    sandboxProcess = spawn(join(globalBin, 'flops-mcp'), ['sandbox', '--port', '0', '--time-scale', '0.05'], {
      env: shell(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    sandbox = await new Promise((resolve, reject) => {
      let out = '';
      sandboxProcess!.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        // The line it prints for the user to paste.
        const m = /export FLOPS_API_URL=(\S+) FLOPS_CLIENT_ID=(\S+) FLOPS_API_KEY=(\S+)/.exec(out);
        if (m) resolve({ url: m[1]!, clientId: m[2]!, apiKey: m[3]! });
      });
      sandboxProcess!.once('exit', (code) => reject(new Error(`the sandbox exited with ${code}: ${out}`)));
    });
  }, 360_000);

  afterAll(async () => {
    if (sandboxProcess && sandboxProcess.exitCode === null) {
      const exited = new Promise((resolve) => sandboxProcess!.once('exit', resolve));
      sandboxProcess.kill('SIGTERM');
      await exited;
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('step 1 builds while packing (prepack), and npm ci warns of no Node engine', () => {
    expect(pkg.scripts['prepack']).toMatch(/\bnpm run build\b/);
    expect(existsSync(join(clone, 'dist/cli.cjs'))).toBe(true);
    expect(install.stdout + install.stderr).not.toMatch(/EBADENGINE|Unsupported engine/);
    expect(existsSync(join(globalBin, 'flops-mcp'))).toBe(true);
  });

  it('the tarball holds the build output, README, LICENSE and package.json, and nothing else', async () => {
    const list = await runIn(work, 'tar', ['-tzf', tarball]);
    const paths = list.stdout
      .split('\n')
      .filter(Boolean)
      .map((p) => p.replace(/^package\//, ''))
      .sort();
    for (const path of paths) {
      expect(path, path).toMatch(/^(dist\/.+|README\.md|LICENSE|package\.json)$/);
      expect(path, path).not.toMatch(/\.test\.|\.spec\.|\.map$|\.tsbuildinfo$|\.tgz$/);
    }
    // Everything package.json points at is in it: the bin, the library entry and its types, the view.
    const exportTargets = [...JSON.stringify(pkg.exports ?? {}).matchAll(/"\.\/([^"]+)"/g)].map((m) => m[1]);
    const targets = [...Object.values(pkg.bin), pkg.main, pkg.types, ...exportTargets, 'dist/ui/fleet.html'];
    for (const target of targets.filter((t): t is string => typeof t === 'string')) {
      expect(paths, `${target} is in the package`).toContain(target.replace(/^\.\//, ''));
    }
    expect(read('LICENSE')).toMatch(/^MIT License[\s\S]*Copyright \(c\) 2026 flops-mcp contributors/);
    // A guard against shipping something big by mistake.
    const size = statSync(tarball).size;
    expect(size).toBeLessThan(2 * 1024 * 1024);
    console.info(`npm pack: ${paths.length} files, ${(size / 1024).toFixed(1)} kB`);
  });

  it('the installed flops-mcp prints its version and help, and without credentials says what to set', async () => {
    const bin = join(globalBin, 'flops-mcp');
    const version = await runIn(work, bin, ['--version'], shell());
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await runIn(work, bin, ['--help'], shell());
    expect(help.stdout).toMatch(/--sandbox/);
    const bare = await runIn(work, bin, [], shell());
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/FLOPS_CLIENT_ID/);
  });

  it('step 2: the command Claude Code is given serves MCP over stdio against the sandbox', async () => {
    const { program, args, env } = registered(step2, shell());
    expect([program, ...args]).toEqual(['flops-mcp', '--sandbox']);
    const transport = new StdioClientTransport({
      command: program,
      args,
      cwd: work,
      env: { ...shell(), ...env },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: 'claude-code-stand-in', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.version).toBe(pkg.version);
      expect((await client.listTools()).tools).toHaveLength(39);
      const vms = await client.callTool({ name: 'vm_list', arguments: {} });
      expect(vms.isError, textOf(vms)).toBeFalsy();
      expect(textOf(vms)).toContain('ubuntu');
      expect(stderr).toMatch(/SANDBOX MODE/);
    } finally {
      await client.close();
    }
  });

  it('step 3: the same command with the credentials it is given (here a standalone sandbox) acts on that account', async () => {
    // The user's shell holds the account; FLOPS_API_URL as `flops-mcp sandbox` tells them to export it.
    const account = {
      ...shell(),
      FLOPS_CLIENT_ID: sandbox!.clientId,
      FLOPS_API_KEY: sandbox!.apiKey,
      FLOPS_API_URL: sandbox!.url,
    };
    const { program, args, env } = registered(step3, account);
    expect([program, ...args]).toEqual(['flops-mcp']);
    expect(env).toEqual({ FLOPS_CLIENT_ID: sandbox!.clientId, FLOPS_API_KEY: sandbox!.apiKey });
    const client = new Client({ name: 'claude-code-stand-in', version: '1.0.0' });
    await client.connect(
      new StdioClientTransport({
        command: program,
        args,
        cwd: work,
        env: { ...account, ...env },
        stderr: 'ignore',
      }),
    );
    try {
      const vm = await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
      expect(vm.isError, textOf(vm)).toBeFalsy();
      expect(JSON.parse(textOf(vm)).vm).toMatchObject({ id: 85561, name: 'ubuntu' });
      expect(client.getInstructions() ?? '').not.toMatch(/SANDBOX MODE/);
    } finally {
      await client.close();
    }
    // The standalone sandbox counted the call: the server did talk to the account it was given.
    const counters = await fetch(`${sandbox!.url.replace(/api\/v1\/$/, '')}__sandbox/requests`).then((r) =>
      r.json(),
    );
    expect(JSON.stringify(counters)).toMatch(/vm_get/);
  });

  it('flops-mcp doctor: exits 0 with --sandbox; without credentials names FLOPS_CLIENT_ID and never prints a key', async () => {
    const bin = join(globalBin, 'flops-mcp');
    const ok = await runIn(work, bin, ['doctor', '--sandbox'], shell());
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`flops-mcp ${pkg.version} doctor`);
    expect(ok.stdout.split('\n').filter((l) => l.startsWith('✗'))).toEqual([]);
    const missing = await runIn(work, bin, ['doctor'], shell());
    expect(missing.code).not.toBe(0);
    expect(missing.stdout + missing.stderr).toMatch(/FLOPS_CLIENT_ID/);
    const marker = 'PackageTestSecret-4f1c9e';
    const unreachable = await runIn(work, bin, ['doctor'], {
      ...shell(),
      FLOPS_CLIENT_ID: 'someone',
      FLOPS_API_KEY: marker,
      FLOPS_API_URL: 'http://127.0.0.1:9/api/v1/',
    });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stdout + unreachable.stderr).not.toContain(marker);
  });

  describe('as a library', () => {
    const section = readme.slice(readme.indexOf('## Use it as a library'), readme.indexOf('## Performance'));
    const examples = codeBlocks(section).filter((b) => b.lang === 'js');
    const file = (i: number) => join(app, `example${i + 1}.mjs`);
    const account = () => ({
      ...userEnv,
      FLOPS_API_URL: sandbox!.url,
      FLOPS_CLIENT_ID: sandbox!.clientId,
      FLOPS_API_KEY: sandbox!.apiKey,
    });

    beforeAll(() => {
      examples.forEach((example, i) => {
        writeFileSync(file(i), `${example.body}\n`);
      });
    });

    it("import 'flops-mcp' gives the client, the sandbox, the server factory, the HTTP server and the settings", async () => {
      const script = `
        import * as lib from 'flops-mcp';
        const kinds = Object.fromEntries(Object.entries(lib).map(([k, v]) => [k, typeof v]));
        console.log(JSON.stringify({ kinds, version: lib.VERSION, settings: lib.SETTINGS.length, operations: lib.OPERATIONS.length }));
      `;
      const run = await runIn(app, process.execPath, ['--input-type=module', '-e', script]);
      expect(run.code, run.stderr).toBe(0);
      const out = JSON.parse(run.stdout) as {
        kinds: Record<string, string>;
        version: string;
        settings: number;
        operations: number;
      };
      for (const name of [
        'FlopsClient',
        'startSandbox',
        'createServer',
        'startHttpServer',
        'createLogger',
        'parseConfig',
        'isFlopsError',
      ]) {
        expect(out.kinds[name], name).toBe('function');
      }
      expect(out.version).toBe(pkg.version);
      expect(out.settings).toBe(SETTINGS.length);
      expect(out.operations).toBe(38);
    });

    it("the README's four examples type-check against the package's declarations (strict)", async () => {
      expect(examples).toHaveLength(4);
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2023',
            lib: ['ES2023'],
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            exactOptionalPropertyTypes: true,
            noUncheckedIndexedAccess: true,
            allowJs: true,
            checkJs: true,
            noEmit: true,
            skipLibCheck: false,
            types: ['node'],
            typeRoots: [join(root, 'node_modules/@types')],
          },
          include: ['example*.mjs'],
        }),
      );
      const tsc = await runIn(
        app,
        process.execPath,
        [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'],
        userEnv,
        90_000,
      );
      expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
    }, 100_000);

    it('the client example lists the VMs and catches the error of a VM that is not there', async () => {
      const run = await runIn(app, process.execPath, [file(0)], account());
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^85561 ubuntu VIR_DOMAIN_RUNNING$/m);
      expect(run.stdout).toContain('no VM 1 here: error.vm.not.found');
    });

    it('the sandbox example: one injected 503, retried by the client', async () => {
      const run = await runIn(app, process.execPath, [file(1)], userEnv);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout.trim()).toBe('ubuntu 2');
    });

    it('the server factory example serves MCP over stdio, read-only', async () => {
      const client = new Client({ name: 'library-test', version: '1.0.0' });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [file(2)],
          cwd: app,
          env: account(),
          stderr: 'ignore',
        }),
      );
      try {
        const { tools } = await client.listTools();
        expect(tools.length).toBeGreaterThan(5);
        expect(tools.every((t) => t.annotations?.readOnlyHint === true)).toBe(true);
        const vm = await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
        expect(JSON.parse(textOf(vm)).vm.name).toBe('ubuntu');
      } finally {
        await client.close();
      }
    });

    it('the HTTP example serves Streamable HTTP with the account, and a client may bring its own', async () => {
      const child = spawn(process.execPath, [file(3)], {
        cwd: app,
        env: { ...account(), FLOPS_MCP_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout!.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const m = /MCP at (http:\/\/\S+)/.exec(out);
            if (m) resolve(m[1]!);
          });
          child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
        });
        for (const headers of [
          {},
          { [CLIENT_ID_HEADER]: sandbox!.clientId, [API_KEY_HEADER]: sandbox!.apiKey },
        ]) {
          const client = new Client({ name: 'library-test', version: '1.0.0' });
          await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
          try {
            expect((await client.listTools()).tools).toHaveLength(39);
            const vm = await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
            expect(JSON.parse(textOf(vm)).vm.name).toBe('ubuntu');
          } finally {
            await client.close();
          }
        }
      } finally {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    });
  });
});

describe('server.json (MCP registry)', () => {
  interface Input {
    name?: string;
    description?: string;
    isRequired?: boolean;
    isSecret?: boolean;
    value?: string;
    variables?: Record<string, Input>;
  }
  const server = JSON.parse(read('server.json')) as {
    $schema: string;
    name: string;
    description: string;
    version: string;
    repository?: { url: string; source: string };
    packages: {
      registryType: string;
      identifier: string;
      version: string;
      transport: { type: string };
      environmentVariables: Input[];
    }[];
    remotes: { type: string; url: string; variables?: Record<string, Input>; headers?: Input[] }[];
  };
  const schemaFile = 'test/fixtures/server.schema.2025-12-11.json';

  it("is valid against the registry's 2025-12-11 schema (Ajv), which it names", () => {
    const schema = JSON.parse(read(schemaFile)) as { $id: string };
    expect(server.$schema).toBe(schema.$id);
    expect(schema.$id).toBe('https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json');
    // The schema annotates its fields with `example`, which is no JSON Schema keyword.
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats.default(ajv);
    const validate = ajv.compile(schema);
    expect(validate(server), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // And it is strict enough to refuse a broken entry.
    expect(validate({ ...server, description: 'x'.repeat(101) })).toBe(false);
    expect(validate({ ...server, remotes: [{ type: 'streamable-http', url: 'not a url' }] })).toBe(false);
  });

  it('has the name, version and package of package.json', () => {
    expect(server.name).toBe(pkg.mcpName);
    expect(server.version).toBe(pkg.version);
    // io.github.OWNER/… is verified against the GitHub owner of the repository.
    const owner = /^io\.github\.([^/]+)\//.exec(server.name)?.[1];
    if (owner && server.repository) expect(server.repository.url).toContain(`github.com/${owner}/`);
    expect(server.packages).toHaveLength(1);
    expect(server.packages[0]).toMatchObject({
      registryType: 'npm',
      identifier: pkg.name,
      version: pkg.version,
      transport: { type: 'stdio' },
    });
  });

  it('lists only settings as environment variables, the API key secret', () => {
    const vars = server.packages[0]!.environmentVariables;
    const known = new Map(SETTINGS.map((s) => [s.env, s]));
    for (const v of vars) {
      const setting = known.get(v.name as `FLOPS_${string}`);
      expect(setting, v.name).toBeDefined();
      expect(v.isSecret ?? false, v.name).toBe(setting!.kind === 'secret');
    }
    expect(vars.filter((v) => v.isSecret).map((v) => v.name)).toEqual(['FLOPS_API_KEY']);
    expect(vars.filter((v) => v.isRequired).map((v) => v.name)).toEqual(['FLOPS_CLIENT_ID', 'FLOPS_API_KEY']);
  });

  it('has a Streamable HTTP remote whose token and API key, and the variables they use, are secret', () => {
    expect(server.remotes).toHaveLength(1);
    const [remote] = server.remotes;
    expect(remote!.type).toBe('streamable-http');
    expect(remote!.url).toMatch(/^https:\/\/\{host\}\/mcp$/);
    expect(Object.keys(remote!.variables ?? {})).toEqual(['host']);
    const headers = new Map((remote!.headers ?? []).map((h) => [h.name!.toLowerCase(), h]));
    // The headers the HTTP server reads (src/http/guards.ts).
    expect([...headers.keys()].sort()).toEqual(['authorization', API_KEY_HEADER, CLIENT_ID_HEADER].sort());
    const auth = headers.get('authorization')!;
    expect(auth.value).toBe('Bearer {token}');
    expect(auth.isSecret).toBe(true);
    expect(auth.isRequired).toBe(true);
    expect(auth.variables?.['token']?.isSecret).toBe(true);
    expect(headers.get(API_KEY_HEADER)!.isSecret).toBe(true);
    // Every variable a secret header uses is secret itself.
    for (const header of headers.values()) {
      for (const variable of Object.values(header.variables ?? {})) {
        if (header.isSecret) expect(variable.isSecret, header.name).toBe(true);
      }
    }
  });
});

describe('Dockerfile (not built here: no container engine)', () => {
  /** Instructions, with `\` continuations joined and comments dropped. */
  const instructions = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(l) ?? [];
      return { keyword: keyword.toUpperCase(), rest };
    });
  const stages: { from: string; name: string | undefined; body: typeof instructions }[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const [, image = '', name] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.rest) ?? [];
      stages.push({ from: image, name, body: [] });
    } else stages.at(-1)?.body.push(ins);
  }
  const final = stages.at(-1)!;
  const last = (stage: (typeof stages)[number], keyword: string) =>
    stage.body.filter((i) => i.keyword === keyword).at(-1)?.rest;
  const json = (text: string | undefined) => JSON.parse(text ?? 'null') as string[];
  const cmd = json(last(final, 'CMD'));
  const healthcheck = last(final, 'HEALTHCHECK') ?? '';
  const healthCommand = json(/\bCMD\s+(\[.*\])\s*$/.exec(healthcheck)?.[1]);

  it('builds in one stage and runs from node:20-slim with production dependencies only, not as root', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages[0]!;
    const runs = (stage: (typeof stages)[number]) =>
      stage.body.filter((i) => i.keyword === 'RUN').map((i) => i.rest);
    expect(runs(build).join('\n')).toMatch(/npm ci\b/);
    expect(runs(build).join('\n')).toMatch(/npm run build\b/);
    expect(final.from).toMatch(/^node:20(\.\d+)*-slim$/);
    expect(runs(final).join('\n')).toMatch(/npm ci --omit=dev|npm install [^\n]*\.tgz/);
    expect(runs(final).join('\n')).not.toMatch(/npm run build/);
    const copied = final.body.filter((i) => i.keyword === 'COPY').map((i) => i.rest);
    expect(copied).toContainEqual(
      expect.stringMatching(new RegExp(`^--from=${build.name ?? '0'}\\s+\\S*dist`)),
    );
    const user = last(final, 'USER');
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
  });

  it('serves HTTP on 0.0.0.0:8787 with a HEALTHCHECK on /healthz that needs no curl', () => {
    expect(cmd.slice(0, 2)).toEqual(['node', 'dist/cli.cjs']);
    expect(cmd).toContain('--http');
    expect(cmd[cmd.indexOf('--host') + 1]).toBe('0.0.0.0');
    expect(cmd[cmd.indexOf('--port') + 1]).toBe('8787');
    expect(last(final, 'EXPOSE')).toMatch(/\b8787\b/);
    expect(healthCommand[0]).toBe('node');
    expect(healthCommand.join(' ')).toContain('/healthz');
    expect(read('Dockerfile')).toMatch(/FLOPS_MCP_TOKEN is REQUIRED/);
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '.env']) expect(ignored).toContain(entry);
  });

  it('its CMD is refused without FLOPS_MCP_TOKEN, and its HEALTHCHECK passes against the server it starts', async () => {
    const refused = await runIn(root, process.execPath, cmd.slice(1));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/FLOPS_MCP_TOKEN/);

    // The CMD as the image runs it, with the token set, a free port, and the sandbox behind it.
    const args = cmd.slice(1).map((a, i, all) => (all[i - 1] === '--port' ? '0' : a));
    let server: ChildProcess | undefined;
    try {
      server = spawn(process.execPath, [...args, '--sandbox'], {
        cwd: root,
        env: { ...userEnv, FLOPS_MCP_TOKEN: 'docker-test-token-0123456789' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const port = await new Promise<string>((resolve, reject) => {
        let log = '';
        server!.stderr!.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          const m = /listening on http:\/\/[^/]+:(\d+)\//.exec(log);
          if (m) resolve(m[1]!);
        });
        server!.once('exit', (code) => reject(new Error(`server exited with ${code}: ${log}`)));
      });
      const health = await runIn(root, process.execPath, healthCommand.slice(1), {
        ...userEnv,
        FLOPS_MCP_PORT: port,
      });
      expect(health.code, health.stderr).toBe(0);
    } finally {
      if (server && server.exitCode === null) {
        const exited = new Promise((resolve) => server!.once('exit', resolve));
        server.kill('SIGTERM');
        await exited;
      }
    }
    const down = await runIn(root, process.execPath, healthCommand.slice(1), {
      ...userEnv,
      FLOPS_MCP_PORT: '9',
    });
    expect(down.code).toBe(1);
  });
});
