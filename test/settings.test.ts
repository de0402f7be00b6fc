/**
 * The settings table (src/settings.ts) is the one declaration of every setting: each Config field
 * has exactly one row, each row's flag and variable are really read by parseConfig (and mean the
 * same), its default is the value parseConfig assumes, no FLOPS_* name is used anywhere without a
 * row, and `--help` and `doctor` speak of exactly these settings. The README's table and
 * server.json are generated from it (test/readme.test.ts).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BASE_URL } from '../src/api/client.js';
import { parseConfig, UsageError } from '../src/config.js';
import { runDoctor } from '../src/doctor.js';
import { flagUsage, SETTINGS, type Setting, settingOf } from '../src/settings.js';
import { cleanEnv, cli, root } from './process-helpers.js';

const run = promisify(execFile);
const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const config = parseConfig(argv, env);
  if (typeof config === 'string') throw new Error(`unexpected ${config}`);
  return config;
};
const defaults = parse([]);

/** A valid value for each row that differs from its default. */
function sample(s: Setting): string {
  const samples: Partial<Record<Setting['key'], string>> = {
    toolsets: 'vms,power',
    tools: 'vm_get',
    excludeTools: 'vm_delete',
    allowedHosts: 'mcp.example.com',
    allowedOrigins: 'https://app.example.com',
    authKey: Buffer.alloc(32, 7).toString('base64'),
    host: '127.0.0.2',
    port: '9000',
    metricsPort: '9464',
    drainSeconds: '5',
    tenantId: '10082',
    timeScale: '0.5',
    apiUrl: 'http://127.0.0.1:9/api/v1/',
    auditLog: '/tmp/flops-audit.log',
    apiKey: 'ApiKeySample-77a1',
    token: 'TokenSample-0123456789',
    protect: 'prod-*,85561',
    allowVms: '85561,85662',
    allowTenants: '111',
    publicUrl: 'https://mcp.example.com/mcp',
    authIssuer: 'https://id.example.com/',
    authStore: '/tmp/flops-auth-sample',
    replica: 'r1',
    redisUrl: 'redis://:SecretRedisPass@127.0.0.1:6399/0',
    userRate: '60',
    userBurst: '5',
    accountRate: '300',
    accountBurst: '10',
    providerRate: '20',
  };
  const value =
    samples[s.key] ??
    (s.kind === 'boolean'
      ? 'on'
      : s.kind === 'choice'
        ? s.choices!.find((c) => c !== s.default)
        : 'sample-value');
  if (value === undefined) throw new Error(`no sample for ${s.key}`);
  return value;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : /\.(ts|html)$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe('the settings table', () => {
  it('has exactly one row for each field of the configuration, and no name twice', () => {
    expect(SETTINGS.map((s) => s.key).sort()).toEqual(Object.keys(defaults).sort());
    const names = SETTINGS.flatMap((s) => [s.flag, s.env]).filter(Boolean);
    expect(new Set(names).size).toBe(names.length);
    for (const s of SETTINGS) {
      expect(s.flag ?? s.env, s.key).toBeDefined();
      expect(s.meaning.length, s.key).toBeGreaterThan(10);
      expect(s.meaning, s.key).not.toMatch(/\.$/);
      if (s.flag) expect(s.flag).toMatch(/^--[a-z][a-z-]*$/);
      if (s.env) expect(s.env).toMatch(/^FLOPS_[A-Z_]+$/);
      // A flag takes a value exactly when it is not a switch.
      if (s.flag) expect(s.arg === undefined, s.key).toBe(s.kind === 'switch' || s.kind === 'boolean');
    }
  });

  it("reads every row's variable and flag, and both mean the same", () => {
    for (const s of SETTINGS) {
      const value = sample(s);
      const fromFlag = s.flag
        ? parse(s.kind === 'switch' || s.kind === 'boolean' ? [s.flag] : [s.flag, value])
        : undefined;
      const fromEnv = s.env ? parse([], { [s.env]: value }) : undefined;
      for (const config of [fromFlag, fromEnv].filter(Boolean)) {
        expect(config![s.key], `${s.key} from ${s.flag ?? ''} ${s.env ?? ''}`).not.toEqual(defaults[s.key]);
        // Nothing but its own field changes.
        expect({ ...config, [s.key]: defaults[s.key] }).toEqual(defaults);
      }
      if (fromFlag && fromEnv) expect(fromFlag[s.key], s.key).toEqual(fromEnv[s.key]);
    }
  });

  it('lets a flag win over its variable', () => {
    for (const s of SETTINGS.filter((s) => s.flag && s.env && s.arg)) {
      const config = parse([s.flag!, sample(s)], { [s.env!]: s.default ?? '' });
      expect(config[s.key], s.key).toEqual(parse([s.flag!, sample(s)])[s.key]);
    }
  });

  it('declares the defaults parseConfig assumes: setting one explicitly changes nothing', () => {
    // The API URL is left unset and the client takes its default.
    expect(settingOf('apiUrl').default).toBe(DEFAULT_BASE_URL);
    for (const s of SETTINGS.filter((s) => s.default !== undefined && s.key !== 'apiUrl')) {
      if (s.env) expect(parse([], { [s.env]: s.default }), s.env).toEqual(defaults);
      if (s.flag && s.arg) expect(parse([s.flag, s.default!]), s.flag).toEqual(defaults);
    }
    for (const s of SETTINGS.filter((s) => s.kind === 'switch' || s.kind === 'boolean')) {
      expect(defaults[s.key], s.key).toBe(false);
    }
  });

  it('refuses what a choice or boolean row does not allow', () => {
    for (const s of SETTINGS.filter((s) => s.env && (s.kind === 'boolean' || s.key === 'confirm'))) {
      expect(() => parse([], { [s.env!]: 'maybe' }), s.env).toThrow(UsageError);
    }
  });

  it('names every FLOPS_* variable that src/, the Dockerfile and the README use', () => {
    const known = new Set(SETTINGS.map((s) => s.env));
    const texts = [
      ...sourceFiles(join(root, 'src')).map((f) => readFileSync(f, 'utf8')),
      readFileSync(join(root, 'Dockerfile'), 'utf8'),
      readFileSync(join(root, 'README.md'), 'utf8'),
    ];
    const used = new Set(
      texts.flatMap((t) => [...t.matchAll(/(?<![\w])FLOPS_[A-Z0-9_]*[A-Z0-9]/g)].map((m) => m[0])),
    );
    const unknown = [...used].filter((name) => !known.has(name as Setting['env']));
    expect(unknown).toEqual([]);
    // The ones the issue found undocumented are rows now.
    for (const name of [
      'FLOPS_API_URL',
      'FLOPS_MCP_HOST',
      'FLOPS_MCP_PORT',
      'FLOPS_MCP_STATELESS',
      'FLOPS_SANDBOX_TIME_SCALE',
    ]) {
      expect(known.has(name as Setting['env']), name).toBe(true);
    }
  });
});

describe('--help and doctor', () => {
  it('flops-mcp --help (the built bin) shows every flag and variable with its meaning and default', async () => {
    const { stdout } = await run(process.execPath, [cli, '--help'], { env: cleanEnv });
    const flat = stdout.replace(/\n\s+/g, ' ');
    for (const s of SETTINGS) {
      if (s.flag) expect(stdout, s.flag).toContain(`  ${flagUsage(s)}`);
      if (s.env) expect(stdout, s.env).toContain(s.env);
      expect(flat, s.key).toContain(s.meaning.replace(/`/g, '').split(' ').slice(0, 6).join(' '));
      if (s.default !== undefined && s.kind !== 'boolean')
        expect(flat, s.key).toContain(`[default: ${s.default}]`);
    }
  });

  it('doctor reports every setting that is set, by its names, and secrets only by their length', async () => {
    const env: NodeJS.ProcessEnv = {};
    for (const s of SETTINGS.filter((s) => s.env && !['host', 'auditLog', 'readOnly'].includes(s.key))) {
      env[s.env!] = sample(s);
    }
    const lines: string[] = [];
    await runDoctor(['--sandbox', '--read-only'], env, (line) => lines.push(line));
    const report = lines.find((l) => l.includes('settings:')) ?? '';
    for (const s of SETTINGS.filter((s) => s.env && env[s.env])) {
      if (s.kind === 'secret') {
        expect(report).toContain(`${s.env} (${env[s.env!]!.length} characters, not shown)`);
        expect(lines.join('\n')).not.toContain(env[s.env!]);
      } else expect(report).toContain(`${s.env}=${env[s.env!]}`);
    }
    expect(report).toContain('--sandbox');
    expect(report).toContain('--read-only');
  });

  it('doctor warns about a FLOPS_* variable that is no setting, with the one meant', async () => {
    const lines: string[] = [];
    const code = await runDoctor(['--sandbox'], { FLOPS_READONLY: '1', FLOPS_SOMETHING_ELSE: 'x' }, (line) =>
      lines.push(line),
    );
    expect(code).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(
      /! FLOPS_READONLY is not a flops-mcp setting and is ignored\n\s+fix: did you mean FLOPS_READ_ONLY\?/,
    );
    expect(text).toMatch(/! FLOPS_SOMETHING_ELSE is not a flops-mcp setting/);
    expect(text).toMatch(/settings: 1 set — --sandbox/);
  });
});
