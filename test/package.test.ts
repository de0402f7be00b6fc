/**
 * What gets published and deployed:
 *
 * - the npm package: `npm pack` of the built tree holds only the build output, README, LICENSE and
 *   package.json; installed from the tarball into an empty folder (its dependencies resolved as a
 *   user's install resolves them), `npx flops-mcp` serves MCP with --sandbox and `npx flops-mcp
 *   doctor` works;
 * - server.json, the MCP registry entry: it matches package.json and names only variables the CLI
 *   reads;
 * - the Dockerfile, which cannot be built here (no container engine): its structure is checked, its
 *   HEALTHCHECK command is run against the server started the way its CMD starts it, and that CMD
 *   without FLOPS_MCP_TOKEN is refused.
 *
 * `npm test` builds first; the install uses the npm cache (--prefer-offline) and the registry.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, UsageError } from '../src/config.js';

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
  files?: string[];
}
const pkg = JSON.parse(read('package.json')) as Pkg;

/**
 * The environment of a user's shell: no FLOPS_* settings, none of the npm_* variables `npm test`
 * sets, and no node_modules/.bin on PATH (so `npx flops-mcp` can only find the installed package).
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
    const { stdout, stderr } = await exec(command, args, { cwd, env, timeout, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** `npx flops-mcp …`, resolved from the folder's own install only (never fetched). */
const npx = (cwd: string, args: string[], env?: Record<string, string>) =>
  runIn(cwd, 'npx', ['--no', '--', 'flops-mcp', ...args], env);

describe('the npm package', () => {
  let work = '';
  let app = '';
  let packed: {
    filename: string;
    size: number;
    unpackedSize: number;
    entryCount: number;
    files: { path: string; size: number }[];
  };

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist/cli.js'))) throw new Error('dist/ is missing: run npm run build first');
    work = mkdtempSync(join(tmpdir(), 'flops-mcp-pack-'));
    app = join(work, 'app');
    const pack = await runIn(root, 'npm', ['pack', '--json', '--pack-destination', work]);
    expect(pack.code, pack.stderr).toBe(0);
    packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0]!;
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), '{ "name": "flops-mcp-install-test", "private": true }\n');
    const install = await runIn(
      app,
      'npm',
      ['install', join(work, packed.filename), '--no-audit', '--no-fund', '--prefer-offline'],
      userEnv,
      110_000,
    );
    expect(install.code, install.stderr).toBe(0);
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds only the build output, README, LICENSE and package.json', () => {
    const paths = packed.files.map((f) => f.path).sort();
    for (const path of paths) {
      expect(path, path).toMatch(/^(dist\/.+|README\.md|LICENSE|package\.json)$/);
      expect(path, path).not.toMatch(/(^|\/)(src|test|tests|bench|examples|scripts|\.ci|node_modules)\//);
      expect(path, path).not.toMatch(/\.test\.|\.spec\.|\.map$|\.tsbuildinfo$|\.tgz$/);
    }
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json']));
    // Everything package.json points at is in it.
    const exportTargets = [...JSON.stringify(pkg.exports ?? {}).matchAll(/"\.\/([^"]+)"/g)].map((m) => m[1]);
    const targets = [...Object.values(pkg.bin), pkg.main, pkg.types, ...exportTargets];
    for (const target of targets.filter((t): t is string => typeof t === 'string')) {
      expect(paths, `${target} is referenced by package.json`).toContain(target.replace(/^\.\//, ''));
    }
    expect(read('LICENSE')).toMatch(/^MIT License[\s\S]*Copyright \(c\) 2026 flops-mcp contributors/);
    // A guard against shipping something big by mistake (a bundle with its dependencies stays far below).
    expect(packed.size).toBeLessThan(2 * 1024 * 1024);
    console.info(
      `npm pack: ${packed.filename}, ${packed.entryCount} files, ${(packed.size / 1024).toFixed(1)} kB packed, ${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked`,
    );
  });

  it('installed into an empty folder, npx flops-mcp prints its version and help', async () => {
    const version = await npx(app, ['--version']);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(pkg.version);
    const help = await npx(app, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--sandbox/);
    const bare = await npx(app, []);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/FLOPS_CLIENT_ID/);
  });

  it('npx flops-mcp --sandbox serves MCP over stdio to an SDK client', async () => {
    const transport = new StdioClientTransport({
      command: 'npx',
      args: ['--no', '--', 'flops-mcp', '--sandbox', '--time-scale', '0.05'],
      cwd: app,
      env: userEnv,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const client = new Client({ name: 'package-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      expect(client.getServerVersion()?.version).toBe(pkg.version);
      const { tools } = await client.listTools();
      expect(tools).toHaveLength(39);
      const vm = await client.callTool({ name: 'vm_get', arguments: { vmId: 85561 } });
      expect(vm.isError, JSON.stringify(vm.content)).toBeFalsy();
      const text = (vm.content as { type: string; text: string }[])[0]!.text;
      expect(JSON.parse(text).vm).toMatchObject({ id: 85561, name: 'ubuntu' });
      expect(stderr).toMatch(/SANDBOX MODE/);
    } finally {
      await client.close();
    }
  });

  it('npx flops-mcp doctor --sandbox exits 0 and prints its checks', async () => {
    const { code, stdout, stderr } = await npx(app, ['doctor', '--sandbox']);
    expect(code, stdout + stderr).toBe(0);
    expect(stdout).toContain(`flops-mcp ${pkg.version} doctor`);
    const checks = stdout.split('\n').filter((l) => /^[✓!✗] /.test(l));
    expect(checks.length).toBeGreaterThanOrEqual(3);
    expect(checks.filter((l) => l.startsWith('✗'))).toEqual([]);
  });

  it('npx flops-mcp doctor without credentials exits non-zero naming FLOPS_CLIENT_ID, and never prints the key', async () => {
    const missing = await npx(app, ['doctor']);
    expect(missing.code).not.toBe(0);
    expect(missing.stdout + missing.stderr).toMatch(/FLOPS_CLIENT_ID/);

    const marker = 'PackageTestSecret-4f1c9e';
    const unreachable = await npx(app, ['doctor'], {
      ...userEnv,
      FLOPS_CLIENT_ID: 'someone',
      FLOPS_API_KEY: marker,
      FLOPS_API_URL: 'http://127.0.0.1:9/api/v1/',
    });
    expect(unreachable.code).not.toBe(0);
    expect(unreachable.stdout + unreachable.stderr).not.toContain(marker);
  });
});

describe('server.json (MCP registry)', () => {
  interface EnvVar {
    name: string;
    description?: string;
    isRequired?: boolean;
    isSecret?: boolean;
    format?: string;
    default?: string;
    choices?: string[];
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
      environmentVariables: EnvVar[];
    }[];
  };
  const cliSources = read('src/settings.ts');

  it('has the name, version and package of package.json', () => {
    expect(server.$schema).toMatch(
      /^https:\/\/static\.modelcontextprotocol\.io\/schemas\/[\d-]+\/server\.schema\.json$/,
    );
    expect(server.name).toMatch(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/);
    expect(server.name).toBe(pkg.mcpName);
    expect(server.version).toBe(pkg.version);
    expect(server.description.length).toBeGreaterThan(0);
    expect(server.description.length).toBeLessThanOrEqual(100);
    // io.github.OWNER/… is verified against the GitHub owner of the repository.
    const owner = /^io\.github\.([^/]+)\//.exec(server.name)?.[1];
    if (owner && server.repository) expect(server.repository.url).toContain(`github.com/${owner}/`);
    expect(server.packages).toHaveLength(1);
    const [npm] = server.packages;
    expect(npm).toMatchObject({
      registryType: 'npm',
      identifier: pkg.name,
      version: pkg.version,
      transport: { type: 'stdio' },
    });
  });

  it('lists only environment variables the CLI reads, described, with the API key secret', () => {
    const vars = server.packages[0]!.environmentVariables;
    const names = vars.map((v) => v.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'FLOPS_CLIENT_ID',
        'FLOPS_API_KEY',
        'FLOPS_API_URL',
        'FLOPS_TENANT_ID',
        'FLOPS_TOOLSETS',
        'FLOPS_READ_ONLY',
        'FLOPS_CONFIRM',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
    for (const v of vars) {
      expect(cliSources, `${v.name} is a row of src/settings.ts`).toContain(`'${v.name}'`);
      // …and read: setting it changes the parsed configuration (or is refused as invalid).
      const sample =
        v.choices?.find((c) => c !== v.default) ??
        (v.format === 'boolean' ? 'true' : v.format === 'number' ? '42' : 'sample-value');
      let changed: boolean;
      try {
        changed =
          JSON.stringify(parseConfig([], { [v.name]: sample })) !== JSON.stringify(parseConfig([], {}));
      } catch (err) {
        changed = err instanceof UsageError;
      }
      expect(changed, `${v.name}=${sample} changes the configuration`).toBe(true);
      expect(v.description?.length ?? 0, `${v.name} has a description`).toBeGreaterThan(10);
      expect(['string', 'number', 'boolean', 'filepath']).toContain(v.format ?? 'string');
      for (const choice of v.choices ?? []) expect(cliSources).toContain(`'${choice}'`);
    }
    expect(vars.find((v) => v.name === 'FLOPS_API_KEY')?.isSecret).toBe(true);
    expect(vars.filter((v) => v.isSecret).map((v) => v.name)).toEqual(['FLOPS_API_KEY']);
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
    expect(cmd.slice(0, 2)).toEqual(['node', 'dist/cli.js']);
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
