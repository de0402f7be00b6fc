/**
 * `flops-mcp sandbox [--port N] [--host H] [--time-scale X] [--responses live]`: run the sandbox in the foreground
 * until SIGINT/SIGTERM (or the given AbortSignal), printing where it listens and its credentials.
 */
import { startSandbox } from './server.js';

export interface SandboxCliIo {
  stdout?: { write(text: string): unknown };
  stderr?: { write(text: string): unknown };
  /** Stops the sandbox instead of a signal (tests). */
  signal?: AbortSignal;
}

const USAGE = `Usage: flops-mcp sandbox [--port N] [--host ADDRESS] [--time-scale X] [--responses document|live] [--client-id ID] [--api-key KEY] [--vm-quota N]

Runs a simulated Flops API on http://HOST:PORT/api/v1/ until interrupted (Ctrl-C).
  --port N          TCP port, 0 picks a free one (default 0)
  --host ADDRESS    interface to listen on (default 127.0.0.1)
  --time-scale X    multiply operation durations by X ≥ 0 (default 1; 0.1 is ten times faster)
  --responses SHAPE document (default): records as the provider's document prints them;
                    live: as the live API answers (null fields left out, timeAdded ISO)
  --client-id ID    clientId of the sandbox account (default sandbox)
  --api-key KEY     apiKey of the sandbox account (default sandbox)
  --vm-quota N      VMs the account may have (default 20)
`;

class UsageError extends Error {}

interface CliOptions {
  port: number;
  host: string;
  timeScale: number;
  responses: 'document' | 'live';
  clientId: string;
  apiKey: string;
  vmQuota: number;
}

function parse(argv: readonly string[]): CliOptions | 'help' {
  const options: CliOptions = {
    port: 0,
    host: '127.0.0.1',
    timeScale: 1,
    responses: 'document',
    clientId: 'sandbox',
    apiKey: 'sandbox',
    vmQuota: 20,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const takeValue = (): string => {
      if (eq >= 0) return arg.slice(eq + 1);
      const value = argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
      return value;
    };
    switch (name) {
      case '--port': {
        const value = takeValue();
        const port = Number(value);
        if (!/^\d+$/.test(value) || port > 65535)
          throw new UsageError(`--port must be an integer 0-65535, got "${value}"`);
        options.port = port;
        break;
      }
      case '--host': {
        const value = takeValue();
        if (value === '') throw new UsageError('--host must not be empty');
        options.host = value;
        break;
      }
      case '--time-scale': {
        const value = takeValue();
        const scale = Number(value);
        if (value.trim() === '' || !Number.isFinite(scale) || scale < 0) {
          throw new UsageError(`--time-scale must be a number ≥ 0, got "${value}"`);
        }
        options.timeScale = scale;
        break;
      }
      case '--responses': {
        const value = takeValue();
        if (value !== 'document' && value !== 'live')
          throw new UsageError(`--responses must be document or live, got "${value}"`);
        options.responses = value;
        break;
      }
      case '--client-id':
        options.clientId = takeValue();
        if (options.clientId === '') throw new UsageError('--client-id must not be empty');
        break;
      case '--api-key':
        options.apiKey = takeValue();
        if (options.apiKey === '') throw new UsageError('--api-key must not be empty');
        break;
      case '--vm-quota': {
        const value = takeValue();
        if (!/^\d+$/.test(value))
          throw new UsageError(`--vm-quota must be a non-negative integer, got "${value}"`);
        options.vmQuota = Number(value);
        break;
      }
      default:
        throw new UsageError(`unknown option "${arg}"`);
    }
  }
  return options;
}

/** Runs until interrupted; resolves to the process exit code (0, 1 if it cannot start, 2 on bad flags). */
export async function runSandboxCli(argv: string[], io: SandboxCliIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let options: CliOptions | 'help';
  try {
    options = parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(`flops-mcp sandbox: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    stdout.write(USAGE);
    return 0;
  }
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  try {
    sandbox = await startSandbox(options);
  } catch (err) {
    stderr.write(`flops-mcp sandbox: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  stdout.write(
    [
      `Flops sandbox listening on ${sandbox.url} (simulated: nothing is real or billed)`,
      `responses: ${sandbox.responses} shapes`,
      `clientId: ${sandbox.clientId}`,
      `apiKey:   ${sandbox.apiKey}`,
      `export FLOPS_API_URL=${sandbox.url} FLOPS_CLIENT_ID=${sandbox.clientId} FLOPS_API_KEY=${sandbox.apiKey}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      io.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (io.signal?.aborted) stop();
    else io.signal?.addEventListener('abort', stop);
  });
  await sandbox.close();
  stdout.write('Flops sandbox stopped.\n');
  return 0;
}
