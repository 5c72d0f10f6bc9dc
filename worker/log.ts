/**
 * The winston logger. JSON lines when stdout is not a terminal (containers, log collectors),
 * short readable lines when it is. Errors are passed as the Error itself so winston keeps the stack.
 */
import winston from 'winston';
import type { Config, LogLevel } from './config.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  level?: LogLevel;
  /** Defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to read them back. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  const format = pretty
    ? winston.format.combine(
        winston.format.errors({ stack: false }),
        winston.format.colorize(),
        winston.format.timestamp({ format: 'HH:mm:ss' }),
        winston.format.printf(({ level, message, timestamp, ...meta }) => {
          const extra = Object.entries(meta)
            .filter(([key]) => key !== 'stack')
            .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
            .join(' ');
          return `${timestamp} ${level} ${message}${extra ? ` ${extra}` : ''}`;
        }),
      )
    : winston.format.combine(
        winston.format.errors({ stack: true }),
        winston.format.timestamp(),
        winston.format.json(),
      );
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console({ stderrLevels: [] });
  return winston.createLogger({ level: options.level ?? 'info', format, transports: [transport] });
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
  return winston.createLogger({
    silent: true,
    transports: [new winston.transports.Console({ silent: true })],
  });
}
