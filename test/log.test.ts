import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import { ConfigError } from '../worker/errors.js';
import { createLogger, type LoggerOptions } from '../worker/log.js';

/** The text a logger writes, as its stream received it. */
function written(options: LoggerOptions): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return { logger: createLogger({ ...options, stream }), text: () => text };
}

describe('the logger', () => {
  it('writes one JSON object a line: level, message, the fields given, and the time', () => {
    const { logger, text } = written({ pretty: false });
    logger.info('24.10.4: published generation g1: 12 files', { phase: 'publish', files: 12 });
    logger.warn('a "quoted"\nmessage');
    const lines = text().split('\n');
    expect(lines).to.have.length(3);
    expect(lines[2]).to.equal('');
    const first = JSON.parse(lines[0] ?? '');
    expect(first).to.include({
      level: 'info',
      message: '24.10.4: published generation g1: 12 files',
      phase: 'publish',
      files: 12,
    });
    expect(Date.parse(first.timestamp)).to.be.closeTo(Date.now(), 60_000);
    expect(JSON.parse(lines[1] ?? '')).to.include({ level: 'warn', message: 'a "quoted"\nmessage' });
  });

  it('writes only the levels at or above LOG_LEVEL', () => {
    const { logger, text } = written({ pretty: false, level: 'warn' });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    logger.log('info', 'also not');
    const levels = text()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).level);
    expect(levels).to.deep.equal(['warn', 'error']);
  });

  it('keeps an Error’s message, stack and own fields in its JSON line', () => {
    const { logger, text } = written({ pretty: false });
    logger.error(new ConfigError('SYNC_SCHEDULE', 'every day', 'a cron expression'));
    const line = JSON.parse(text());
    expect(line.level).to.equal('error');
    expect(line.message).to.match(/^SYNC_SCHEDULE="every day" is not valid/);
    expect(line.stack).to.match(/ConfigError|Error: SYNC_SCHEDULE/);
    expect(line.variable).to.equal('SYNC_SCHEDULE');
  });

  it('still writes a line whose fields hold a cycle', () => {
    const { logger, text } = written({ pretty: false });
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    logger.info('cyclic', { cyclic });
    expect(JSON.parse(text())).to.deep.include({
      message: 'cyclic',
      cyclic: { name: 'loop', self: '[Circular]' },
    });
  });

  it('pretty: the time, the coloured level, the message and the fields as key=value', () => {
    const { logger, text } = written({ pretty: true, level: 'debug' });
    logger.warn('upstream slow', { phase: 'index', tries: 2 });
    logger.error(new Error('boom'));
    const ESC = '\u001b';
    const [warn, error] = text().split('\n');
    expect(warn?.slice(8)).to.equal(` ${ESC}[33mwarn${ESC}[39m upstream slow phase=index tries=2`);
    expect(warn).to.match(/^\d\d:\d\d:\d\d /);
    expect(error?.slice(8)).to.equal(` ${ESC}[31merror${ESC}[39m boom`);
  });
});
