/** A winston logger whose JSON lines a test reads back. */
import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '../../worker/log.js';

export interface LogLine {
  level: string;
  message: string;
  [key: string]: unknown;
}

export function capturingLogger(): { logger: Logger; lines: () => LogLine[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const logger = createLogger({ level: 'debug', pretty: false, stream });
  return {
    logger,
    lines: () =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LogLine),
  };
}
