/**
 * `openwrt-mirror worker`: sync on start (SYNC_ON_START), then on SYNC_SCHEDULE in TZ, until SIGTERM.
 * A tick that arrives while a sync runs is logged and skipped; SYNC_JITTER spreads a fleet of mirrors
 * over a few seconds; a stop aborts downloads in flight and leaves the served tree as it was.
 * Nothing a sync throws ends the worker: it is logged and the schedule goes on.
 */
import type { AddressInfo } from 'node:net';
import cron from 'node-cron';
import { type Config, setLabel } from '../config.js';
import { ingestAccessLog } from '../downloads/ingest.js';
import { AbortedError } from '../errors.js';
import type { Logger } from '../log.js';
import { type OnDemandListener, startOnDemand } from '../ondemand/listener.js';
import { MirrorDir } from '../publish/mirror-dir.js';
import { emptyStatus, type WorkerStatus } from '../status/status-file.js';
import { recordWorker, updateStatus } from '../status/status-store.js';
import { openUpstream, runSync, type SyncOptions, type SyncResult } from '../sync/run.js';
import { Gate } from '../upstream/gate.js';
import { prepareTls } from './tls.js';

export interface WorkerOptions {
  logger: Logger;
  /** Ends the worker (tests); SIGTERM and SIGINT do the same when `handleSignals` is on. */
  signal?: AbortSignal;
  handleSignals?: boolean;
  /** Injectable for tests. */
  sync?: (config: Config, options: SyncOptions) => Promise<SyncResult>;
  random?: () => number;
  /** How often status.json's `worker.heartbeatAt` is rewritten (default HEARTBEAT_SECONDS). */
  heartbeatSeconds?: number;
  /** Told where the on-demand listener listens, once it does (tests ask for port 0). */
  onDemandListening?: (address: AddressInfo) => void;
}

/** The page calls the worker "not running" when its heartbeat is older than twice this. */
export const HEARTBEAT_SECONDS = 30;

type Reason = 'start' | 'schedule';

/**
 * A timer that fires late (a busy host, a throttled container) still runs the tick within this
 * margin; node-cron's default of 1 s would silently drop a nightly sync.
 */
const MISSED_TICK_TOLERANCE_MS = 60_000;

export async function runWorker(config: Config, options: WorkerOptions): Promise<number> {
  const { logger } = options;
  // First: nginx waits for this certificate to serve HTTPS, and a sync may take hours.
  await prepareTls(config.tls, logger);
  const sync = options.sync ?? runSync;
  const random = options.random ?? Math.random;
  const stopping = new AbortController();
  // One politeness towards the upstream for the syncs and the on-demand listener together.
  const gate = new Gate({
    rateLimit: config.rateLimit,
    concurrency: config.concurrency,
    signal: stopping.signal,
  });
  cron.setLogger({
    info: (message) => logger.debug(message),
    warn: (message) => logger.warn(message, { phase: 'schedule' }),
    error: (message) => logger.error(message),
    debug: (message) => logger.debug(message),
  });

  let running: { since: Date; done: Promise<void> } | undefined;
  const task = cron.createTask(config.schedule, ({ date }) => trigger('schedule', date), {
    timezone: config.timezone,
    name: 'openwrt-mirror-sync',
    missedExecutionTolerance: MISSED_TICK_TOLERANCE_MS,
  });
  const nextRun = () => task.getNextRun() ?? undefined;

  function trigger(reason: Reason, tick = new Date()): void {
    if (stopping.signal.aborted) return;
    if (running) {
      logger.warn(
        `scheduled sync of ${tick.toISOString()} skipped: the sync started at ${running.since.toISOString()} is still running`,
        { phase: 'schedule', skipped: tick.toISOString() },
      );
      return;
    }
    const done = runOne(reason)
      .catch((error: unknown) => {
        logger.error(asError(error));
      })
      .finally(() => {
        running = undefined;
      });
    running = { since: new Date(), done };
  }

  async function runOne(reason: Reason): Promise<void> {
    const delayMs = config.jitterSeconds > 0 ? Math.round(random() * config.jitterSeconds * 1000) : 0;
    if (delayMs > 0) {
      logger.info(`sync (${reason}) starts in ${(delayMs / 1000).toFixed(1)} s (SYNC_JITTER)`, {
        phase: 'schedule',
      });
      if (!(await sleep(delayMs, stopping.signal))) return;
    }
    try {
      const { exitCode } = await sync(config, {
        logger,
        signal: stopping.signal,
        nextRunAt: nextRun(),
        by: 'worker',
        gate,
      });
      if (exitCode !== 0)
        logger.warn('sync finished with failures; the last good state stays served', { phase: 'schedule' });
    } catch (error) {
      if (error instanceof AbortedError || stopping.signal.aborted) {
        logger.warn('sync stopped; the tree served before stays served', { phase: 'schedule' });
        return;
      }
      logger.error(asError(error));
    }
    // A long sync may have outlived the tick it was started for.
    await recordNextRun(nextRun());
    logNext();
  }

  function logNext(): void {
    const next = nextRun();
    logger.info(
      `next sync at ${next ? next.toISOString() : 'never'} (${config.schedule}, ${config.timezone})`,
      { phase: 'schedule', nextRunAt: next?.toISOString() },
    );
  }

  /** status.json (and the metrics beside it) say when the next run is; never fails the worker. */
  async function recordNextRun(next: Date | undefined): Promise<void> {
    try {
      await writeNextRun(config, next);
    } catch (error) {
      logger.warn(`could not record the next run in status.json: ${asError(error).message}`, {
        phase: 'schedule',
      });
    }
  }

  let stop: (why: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => stop(signal);
  if (options.handleSignals ?? true) {
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  options.signal?.addEventListener('abort', () => stop('stop'), { once: true });
  if (options.signal?.aborted) stop('stop');

  // The heartbeat says the worker lives, and a configuration accepted clears the one refused before.
  const heartbeatSeconds = options.heartbeatSeconds ?? HEARTBEAT_SECONDS;
  const startedAt = new Date().toISOString();
  const beat = (extra: Partial<WorkerStatus> = {}) =>
    recordWorker(new MirrorDir(config.mirrorDir), config.upstreamUrl, {
      heartbeatAt: new Date().toISOString(),
      heartbeatSeconds,
      startedAt,
      ...extra,
    }).catch((error: Error) =>
      logger.warn(`could not write the heartbeat into status.json: ${error.message}`, { phase: 'schedule' }),
    );
  await beat({ configError: undefined, configErrorAt: undefined });
  const countDownloads = downloadCounter(config, logger);
  await countDownloads();
  const heartbeat = setInterval(() => {
    void beat().then(countDownloads);
  }, heartbeatSeconds * 1000);

  const onDemand = await listenOnDemand(config, logger, stopping.signal, gate);
  if (onDemand) options.onDemandListening?.(onDemand.address);

  await task.start();
  logger.info(
    `worker started: ${config.sets.map(setLabel).join(', ')}, schedule "${config.schedule}" in ${config.timezone}`,
    { phase: 'schedule' },
  );
  await recordNextRun(nextRun());
  if (config.syncOnStart) trigger('start');
  else logNext();

  const why = await stopped;
  // A second signal finds no listener and ends the process the hard way.
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  logger.info(`${why}: stopping`, { phase: 'schedule' });
  clearInterval(heartbeat);
  await task.stop();
  await task.destroy();
  stopping.abort(new AbortedError(`stopped by ${why}`));
  await onDemand?.close();
  await running?.done;
  await recordNextRun(undefined);
  logger.info('worker stopped', { phase: 'schedule' });
  return 0;
}

/**
 * The listener nginx hands package requests the mirror cannot answer to (ON_DEMAND_LISTEN). It runs
 * with ON_DEMAND=false too, to tell a node how to mirror what it asked for. One that cannot listen
 * (the port taken) is logged and the worker goes on: nodes then get nginx's bare 404.
 */
async function listenOnDemand(
  config: Config,
  logger: Logger,
  signal: AbortSignal,
  gate: Gate,
): Promise<OnDemandListener | undefined> {
  const { host, port } = config.onDemandListen;
  try {
    const upstream = openUpstream(config, { logger, signal, gate });
    const listener = await startOnDemand(config, new MirrorDir(config.mirrorDir), upstream, logger);
    logger.info(
      `on-demand listener on ${host}:${listener.address.port} (${config.onDemand ? 'fetching listed packages nodes ask for' : 'ON_DEMAND=false: answering how to mirror them'})`,
      { phase: 'on-demand' },
    );
    return listener;
  } catch (error) {
    logger.error(
      `on-demand listener could not listen on ${host}:${port} (ON_DEMAND_LISTEN): ${asError(error).message}; packages outside the selection get a bare 404`,
      { phase: 'on-demand' },
    );
    return undefined;
  }
}

/**
 * With ACCESS_LOG_DIR, each heartbeat counts what nginx logged since the last one into status.json's
 * `downloads`. Never fails the worker; a problem is logged when it starts, not on every beat.
 */
function downloadCounter(config: Config, logger: Logger): () => Promise<void> {
  const logDir = config.accessLogDir;
  if (logDir === undefined) return async () => {};
  const dir = new MirrorDir(config.mirrorDir);
  let busy = false;
  let lastProblem: string | undefined;
  return async () => {
    if (busy) return;
    busy = true;
    try {
      const options = { logDir, timeZone: config.timezone, upstream: config.upstreamUrl };
      let result = await ingestAccessLog(dir, options);
      if (result.warning) logger.warn(result.warning, { phase: 'downloads' });
      // A backlog (a worker that was down for a day) is read in bounded steps, one after another.
      while (result.more) result = await ingestAccessLog(dir, options);
      if (result.lines > 0)
        logger.debug(`download statistics: ${result.lines} log lines counted`, { phase: 'downloads' });
      lastProblem = undefined;
    } catch (error) {
      const message = `could not count downloads from ${logDir}: ${asError(error).message}`;
      if (message !== lastProblem) logger.warn(message, { phase: 'downloads' });
      lastProblem = message;
    } finally {
      busy = false;
    }
  };
}

/** Rewrites status.json's `nextRunAt` (undefined: no run scheduled). */
async function writeNextRun(config: Config, next: Date | undefined): Promise<void> {
  const nextRunAt = next?.toISOString();
  await updateStatus(new MirrorDir(config.mirrorDir), (status) => {
    if (status?.nextRunAt === nextRunAt) return undefined;
    const { nextRunAt: _old, ...rest } = status ?? emptyStatus(config.upstreamUrl);
    return nextRunAt === undefined ? rest : { ...rest, nextRunAt };
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
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
