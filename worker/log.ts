/**
 * The logger: JSON lines when stdout is not a terminal (containers, log collectors), short readable
 * lines when it is. One line per call, written at once to its stream. An Error passed as the message
 * keeps its stack in the JSON line.
 *
 * Our own rather than winston's: the mirror needs four levels, two formats and one stream, and
 * loading winston (logform, readable-stream, async, colors) was a fifth of every run's start-up.
 */
import type { Config, LogLevel } from './config.js';

/** What a line carries besides its message: `phase`, `feed` and the like. */
export type LogMeta = Record<string, unknown>;

type LogMethod = (message: string | Error, meta?: LogMeta) => void;

export interface Logger {
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
  debug: LogMethod;
  log(level: LogLevel, message: string | Error, meta?: LogMeta): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  stream?: NodeJS.WritableStream;
}

/** npm's order, as LOG_LEVEL names them: a logger at `info` writes error, warn and info. */
const SEVERITY: Record<LogLevel, number> = {
  error: 0,
  warn: 1,
  info: 2,
  http: 3,
  verbose: 4,
  debug: 5,
  silly: 6,
};

/** ANSI colours of the pretty format's level names. */
const COLOUR: Record<LogLevel, number> = {
  error: 31,
  warn: 33,
  info: 32,
  http: 32,
  verbose: 36,
  debug: 34,
  silly: 35,
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  const stream = options.stream ?? process.stdout;
  const threshold = SEVERITY[options.level ?? 'info'];
  const render = pretty ? prettyLine : jsonLine;
  const log = (level: LogLevel, message: string | Error, meta?: LogMeta) => {
    if (SEVERITY[level] > threshold) return;
    stream.write(`${render(level, message, meta)}\n`);
  };
  return {
    log,
    error: (message, meta) => log('error', message, meta),
    warn: (message, meta) => log('warn', message, meta),
    info: (message, meta) => log('info', message, meta),
    debug: (message, meta) => log('debug', message, meta),
  };
}

/** `{"level","message",…meta,"timestamp"}`; an Error adds its own fields and its stack. */
function jsonLine(level: LogLevel, message: string | Error, meta?: LogMeta): string {
  const fields =
    message instanceof Error
      ? { level, ...meta, ...message, message: message.message, stack: message.stack }
      : { level, message, ...meta };
  return safeJson({ ...fields, timestamp: new Date().toISOString() });
}

/** `12:34:56 info message key=value …`; an Error says its message, not its stack. */
function prettyLine(level: LogLevel, message: string | Error, meta?: LogMeta): string {
  const text = message instanceof Error ? message.message : message;
  const extra = Object.entries(meta ?? {})
    .map(([key, value]) => ` ${key}=${typeof value === 'string' ? value : safeJson(value)}`)
    .join('');
  const time = new Date().toTimeString().slice(0, 8);
  return `${time} \u001b[${COLOUR[level]}m${level}\u001b[39m ${text}${extra}`;
}

/** JSON that never throws: a cycle or a BigInt in a line's fields is written as a placeholder. */
function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? 'undefined';
  } catch {
    const seen = new WeakSet<object>();
    return JSON.stringify(value, (_key, inner: unknown) => {
      if (typeof inner === 'bigint') return inner.toString();
      if (typeof inner !== 'object' || inner === null) return inner;
      if (seen.has(inner)) return '[Circular]';
      seen.add(inner);
      return inner;
    });
  }
}

/** The logger options a configuration asks for: LOG_LEVEL, and LOG_FORMAT when it is set. */
export function loggerOptions(config: Pick<Config, 'logLevel' | 'logFormat'>): LoggerOptions {
  return {
    level: config.logLevel,
    ...(config.logFormat !== undefined && { pretty: config.logFormat === 'pretty' }),
  };
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  const drop = () => {};
  return { log: drop, error: drop, warn: drop, info: drop, debug: drop };
}
