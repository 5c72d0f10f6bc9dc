/**
 * `openwrt-mirror worker`: sync on start (SYNC_ON_START), then on SYNC_SCHEDULE in TZ, until SIGTERM.
 * A tick that arrives while a sync runs is logged and skipped; SYNC_JITTER spreads a fleet of mirrors
 * over a few seconds; a stop aborts downloads in flight and leaves the served tree as it was.
 */
import cron from 'node-cron';
import type { Config } from '../config.js';
import { AbortedError } from '../errors.js';
import type { Logger } from '../log.js';
import { runSync, type SyncOptions, type SyncResult } from '../sync/run.js';

export interface WorkerOptions {
  logger: Logger;
  /** Ends the worker (tests); SIGTERM and SIGINT do the same when `handleSignals` is on. */
  signal?: AbortSignal;
  handleSignals?: boolean;
  /** Injectable for tests. */
  sync?: (config: Config, options: SyncOptions) => Promise<SyncResult>;
  random?: () => number;
}

export async function runWorker(config: Config, options: WorkerOptions): Promise<number> {
  const { logger } = options;
  const sync = options.sync ?? runSync;
  const random = options.random ?? Math.random;
  const stopping = new AbortController();
  cron.setLogger({
    info: (message) => logger.debug(message),
    warn: (message) => logger.warn(message),
    error: (message) => logger.error(message),
    debug: (message) => logger.debug(message),
  });

  let running: Promise<void> | undefined;
  const task = cron.createTask(config.schedule, () => trigger('schedule'), {
    timezone: config.timezone,
    name: 'openwrt-mirror-sync',
  });
  const nextRun = () => task.getNextRun() ?? undefined;

  function trigger(reason: 'start' | 'schedule'): void {
    if (stopping.signal.aborted) return;
    if (running) {
      logger.warn(`scheduled sync skipped: the previous sync is still running`, { phase: 'schedule' });
      return;
    }
    running = runOne(reason).finally(() => {
      running = undefined;
    });
  }

  async function runOne(reason: 'start' | 'schedule'): Promise<void> {
    const delayMs = config.jitterSeconds > 0 ? Math.round(random() * config.jitterSeconds * 1000) : 0;
    if (delayMs > 0) {
      logger.info(`sync (${reason}) starts in ${(delayMs / 1000).toFixed(1)} s (SYNC_JITTER)`, {
        phase: 'schedule',
      });
      if (!(await sleep(delayMs, stopping.signal))) return;
    }
    try {
      const { exitCode } = await sync(config, { logger, signal: stopping.signal, nextRunAt: nextRun() });
      if (exitCode !== 0)
        logger.warn('sync finished with failures; the last good state stays served', { phase: 'schedule' });
    } catch (error) {
      if (error instanceof AbortedError || stopping.signal.aborted) {
        logger.warn('sync stopped; the tree served before stays served', { phase: 'schedule' });
        return;
      }
      logger.error(error as Error);
    }
    logNext();
  }

  function logNext(): void {
    const next = nextRun();
    logger.info(
      `next sync at ${next ? next.toISOString() : 'never'} (${config.schedule}, ${config.timezone})`,
      {
        phase: 'schedule',
        nextRunAt: next?.toISOString(),
      },
    );
  }

  const stopped = new Promise<string>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => resolve(signal);
    if (options.handleSignals ?? true) {
      process.once('SIGTERM', onSignal);
      process.once('SIGINT', onSignal);
    }
    options.signal?.addEventListener('abort', () => resolve('stop'), { once: true });
    if (options.signal?.aborted) resolve('stop');
  });

  await task.start();
  logger.info(
    `worker started: ${config.version} ${config.target}, schedule "${config.schedule}" in ${config.timezone}`,
    {
      phase: 'schedule',
    },
  );
  if (config.syncOnStart) trigger('start');
  else logNext();

  const why = await stopped;
  logger.info(`${why}: stopping`, { phase: 'schedule' });
  await task.stop();
  await task.destroy();
  stopping.abort(new AbortedError(`stopped by ${why}`));
  await running;
  logger.info('worker stopped', { phase: 'schedule' });
  return 0;
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
