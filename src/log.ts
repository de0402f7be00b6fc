/**
 * Logging to stderr only (stdout belongs to the MCP protocol on stdio). One line per event:
 * `flops-mcp LEVEL message {json}`. Every line passes through `redact` with the configured
 * secrets, so an apiKey or a password can never reach the log.
 */
import { redact } from './api/errors.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export function parseLogLevel(value: string | undefined): LogLevel {
  const v = (value ?? '').toLowerCase();
  return v in ORDER ? (v as LogLevel) : 'info';
}

export function createLogger(options: {
  level?: LogLevel;
  secrets?: readonly (string | undefined)[];
  write?: (line: string) => void;
}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const secrets = options.secrets ?? [];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const emit = (level: LogLevel, message: string, data?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    const tail = data ? ` ${JSON.stringify(data)}` : '';
    write(`${redact(`flops-mcp ${level.toUpperCase()} ${message}${tail}`, secrets)}\n`);
  };
  return {
    debug: (m, d) => emit('debug', m, d),
    info: (m, d) => emit('info', m, d),
    warn: (m, d) => emit('warn', m, d),
    error: (m, d) => emit('error', m, d),
  };
}

export const silentLogger: Logger = createLogger({ level: 'silent' });
