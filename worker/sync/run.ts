/**
 * One sync: take the lock, then each configured release in turn (release.ts: discover → indexes →
 * plan → fetch → assemble → publish), withdraw releases no longer configured, write every set's
 * feed lines and status.json. Whatever fails, what was served before stays served, whole, and the
 * run is recorded with what went wrong.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { type Config, type SetConfig, setLabel } from '../config.js';
import { AbortedError, ConfigError, UntrustedInputError, UpstreamError } from '../errors.js';
import type { VersionsFile } from '../feeds/metadata.js';
import { loadConfiguredKeys } from '../feeds/trusted-keys.js';
import { formatFor } from '../formats/index.js';
import { type Logger, silentLogger } from '../log.js';
import { deliver } from '../notify/deliver.js';
import { noticesFor } from '../notify/notices.js';
import { type NewRelease, newReleasesIn, notYetAnnounced } from '../notify/releases.js';
import { currentGeneration } from '../publish/generation.js';
import { removeUnkeptGenerations } from '../publish/kept.js';
import { readLearnedStrictly } from '../publish/learned.js';
import { acquireLock, LockLostError, MirrorBusyError, type MirrorLock } from '../publish/lock.js';
import { MirrorDir } from '../publish/mirror-dir.js';
import { Pool } from '../publish/pool.js';
import { readState, releasesWithState, removeState, writeState } from '../publish/state.js';
import { appendHistory, historyRun } from '../status/history.js';
import { failureLine } from '../status/lines.js';
import { buildStatus, listedChanges, readStatus } from '../status/status-file.js';
import { recordRun, recordRunning, recordUnpublishedRun } from '../status/status-store.js';
import {
  LASTSYNC_FILE,
  lastsyncKnownMissing,
  parseLastsync,
  rememberLastsyncMissing,
  STALE_UPSTREAM_MS,
  writeTrace,
} from '../status/trace.js';
import { count, formatBytes, formatDuration } from '../status/units.js';
import { Upstream } from '../upstream/client.js';
import type { Gate } from '../upstream/gate.js';
import { removeOtherPackageLists, writeFeedLines } from './commit.js';
import type { SyncContext } from './context.js';
import { IndexMemory } from './index-memory.js';
import { syncVersionsFile } from './metadata.js';
import { Progress } from './progress.js';
import { syncRelease } from './release.js';
import { emptyReport, exitCodeOf, finishReport } from './report.js';
import { graceEnd, recordedLines, withdrawnStatus } from './sets.js';
import { SideRequests } from './side.js';
import type { ReleaseOutcome, SyncReport } from './types.js';

export interface SyncOptions {
  logger?: Logger;
  /** Aborts downloads in flight (SIGTERM); the run then throws AbortedError and changes nothing served. */
  signal?: AbortSignal;
  now?: () => Date;
  /** What the indexes of the run may unpack to together (default RUN_INDEX_BYTES; tests lower it). */
  indexMemoryBytes?: number;
  /**
   * The worker's next scheduled run, written into status.json. Only the worker passes it: a run
   * started without it (a one-off `sync` beside a running worker) keeps what the worker wrote.
   */
  nextRunAt?: Date;
  /** Who runs it, for status.json's `running.by`: the worker, or a one-off `sync` (default). */
  by?: 'worker' | 'sync';
  /** How often `running` is rewritten while the sync runs (default 2 s; tests shorten it). */
  progressIntervalMs?: number;
  /** The worker's gate, shared with its on-demand listener: one politeness towards the upstream. */
  gate?: Gate;
}

export interface SyncResult {
  report: SyncReport;
  exitCode: 0 | 1;
}

/**
 * The client towards UPSTREAM_URL with the configured politeness; `gate` shares it with another
 * client (the worker's on-demand listener), so that both together keep RATE_LIMIT and CONCURRENCY.
 */
export function openUpstream(
  config: Config,
  options: { logger: Logger; signal?: AbortSignal; gate?: Gate },
): Upstream {
  return new Upstream({
    baseUrl: config.upstreamUrl,
    rateLimit: config.rateLimit,
    concurrency: config.concurrency,
    maxRetries: config.maxRetries,
    retryDelayMs: config.retryDelayMs,
    timeoutMs: config.timeoutMs,
    minBytesPerSecond: config.minBytesPerSecond,
    signal: options.signal,
    gate: options.gate,
    onRetry: ({ url, attempt, delayMs, reason }) =>
      options.logger.warn(
        `retrying ${url} in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt}): ${reason}`,
        {
          phase: 'download',
        },
      ),
  });
}

/** In MIRROR_DIR/.mirror: a run skipped the pool's prune after a failure; the next one does it. */
const PRUNE_OWED = 'prune-owed';

/** What every release of a run shares. */
type RunContext = Omit<SyncContext, 'release' | 'previous' | 'validators' | 'ahead'>;

export async function runSync(config: Config, options: SyncOptions = {}): Promise<SyncResult> {
  const logger = options.logger ?? silentLogger();
  const now = options.now ?? (() => new Date());
  const { sets } = config;
  const report: SyncReport = emptyReport(now().toISOString());

  const dir = new MirrorDir(config.mirrorDir);
  await dir.prepareRoot();
  let lock: MirrorLock;
  let newReleases: NewRelease[] = [];
  try {
    lock = await acquireLock(dir.lockFile);
  } catch (error) {
    // Not a failed run: the running one owns status.json. One line, nothing recorded.
    if (error instanceof MirrorBusyError) {
      logger.error(error.message, { phase: 'sync' });
      return { report, exitCode: 1 };
    }
    throw error;
  }

  /** Read before anything: a recovery is a success after a run that was not. */
  const previousResult = (await readStatus(dir.root))?.lastRun?.result;
  let upstream: Upstream | undefined;
  /** Rethrown once the run is recorded: a configuration error (exit 2) or a stop. */
  let rethrow: unknown;
  let upstreamLastSync: Date | undefined;
  /** Generations removed at the start: their files may be left only in the pool. */
  let stale = 0;
  const progress = new Progress({
    write: (running) => recordRunning(dir, config.upstreamUrl, running),
    by: options.by ?? 'sync',
    now,
    ...(options.progressIntervalMs !== undefined && { intervalMs: options.progressIntervalMs }),
    onError: (error) =>
      logger.warn(`could not record progress in status.json: ${error.message}`, { phase: 'status' }),
  });
  try {
    await dir.prepare();
    const leftovers = await dir.cleanTmp();
    stale = await removeUnkeptGenerations(dir, config.keepGenerations);
    if (leftovers + stale > 0) {
      logger.info(
        `cleaned up after an interrupted run: ${leftovers} temporary files, ${stale} generations unfinished or past KEEP_GENERATIONS`,
      );
    }
    const { keys, problems } = await loadKeys(
      config,
      sets.map((set) => set.release),
    );
    // A key file that does not load is why a later "not trusted" would puzzle: said up front.
    for (const problem of problems) {
      report.warnings.push(problem);
      logger.warn(`trusted keys: ${problem}`, { phase: 'keys' });
    }
    upstream = openUpstream(config, { logger, signal: options.signal, gate: options.gate });
    progress.start();
    const releases = byRelease(sets);
    const run: RunContext = {
      progress,
      config,
      dir,
      pool: new Pool(dir),
      upstream,
      keys,
      logger,
      report,
      now,
      lock,
      indexMemory: new IndexMemory(options.indexMemoryBytes),
      side: new SideRequests(config.concurrency),
      // Unreadable, it keeps nothing this run: said, since the learned packages then age out.
      learned: await readLearnedStrictly(dir).catch((error: Error) => {
        report.warnings.push(error.message);
        logger.warn(error.message, { phase: 'plan' });
        return [];
      }),
      signal: options.signal,
    };
    const labels = sets.map((set) => `${set.release} ${set.target}`).join(', ');
    const modes = [...new Set(sets.map((set) => set.mode))].join(', ');
    logger.info(`sync started: ${labels} (${modes}) from ${config.upstreamUrl}`, { phase: 'start' });
    // The upstream's /lastsync and .versions.json, as side requests once the first release's
    // indexes are asked for.
    const metadata = Promise.all([
      run.side.afterIndexesAsked(() => upstreamFreshness(run)),
      run.side.afterIndexesAsked(() => syncVersionsFile(run)),
    ]);
    // Awaited below; a stop before then must not leave it rejected unhandled.
    metadata.catch(() => {});
    // One release after another: their requests share one gate anyway, a file two releases share
    // is then fetched once, and one release's failure does not stop the next.
    const outcomes: ReleaseOutcome[] = [];
    for (const [index, [release, ofRelease]] of [...releases].entries()) {
      progress.release(release, ofRelease.map(setLabel), index + 1, releases.size);
      outcomes.push(await syncRelease(run, release, ofRelease, sets.length > 1));
    }
    progress.phase('publishing');
    run.side.indexesAsked();
    const [lastSync, versions] = await metadata;
    upstreamLastSync = lastSync;
    if (config.notify.on.includes('new-release')) newReleases = await upstreamReleases(run, sets, versions);
    outcomes.push(...(await withdrawReleases(run, new Set(sets.map((set) => set.release)))));
    await commitRun(run, outcomes, options, upstreamLastSync, stale > 0);
  } catch (error) {
    const stopped = error instanceof AbortedError || options.signal?.aborted === true;
    if (stopped) {
      rethrow = error instanceof AbortedError ? error : new AbortedError();
      const why = (rethrow as Error).message;
      report.failures.push({ reason: `${why} before the sync finished: nothing it did is served` });
    } else {
      if (error instanceof ConfigError) rethrow = error;
      report.failures.push({ reason: (error as Error).message });
      // Expected conditions get one line; anything else keeps its stack for the bug report.
      if (isExpected(error)) logger.error((error as Error).message, { phase: 'sync' });
      else logger.error(error as Error);
    }
  } finally {
    // No progress write may land after the run's own record.
    await progress.stop();
    if (upstream) report.upstream = snapshotStats(upstream);
    finishReport(report, now());
    if (!report.statusWritten) {
      await recordUnpublishedRun(
        dir,
        {
          report,
          upstream: config.upstreamUrl,
          ...('nextRunAt' in options && { nextRunAt: options.nextRunAt }),
        },
        (error) =>
          logger.error(`could not record this run in status.json: ${error.message}`, { phase: 'status' }),
      );
    }
    await appendHistory(dir, historyRun(report)).catch((error: Error) =>
      logger.error(`could not record this run in history.json: ${error.message}`, { phase: 'status' }),
    );
    await lock.release();
  }
  // A stop is no news: whoever stopped the worker knows. Anything else is told, as NOTIFY_ON asks.
  if (!(rethrow instanceof AbortedError)) await notify(config, report, previousResult, newReleases, logger);
  if (rethrow !== undefined) throw rethrow;
  logSummary(logger, report);
  return { report, exitCode: exitCodeOf(report) };
}

/**
 * The upstream's own last sync, when it is a mirror that says (another openwrt-mirror: /lastsync);
 * older than a day is a warning, since this mirror can be no fresher. OpenWrt's own servers have no
 * such file: that is no failure, and no warning.
 */
async function upstreamFreshness(run: RunContext): Promise<Date | undefined> {
  // An upstream without one (OpenWrt's own) is asked again a day later, not on every run.
  if (await lastsyncKnownMissing(run.dir, run.config.upstreamUrl, run.now())) return undefined;
  let body: Buffer | undefined;
  try {
    body = (await run.upstream.fetch(LASTSYNC_FILE, { maxBytes: 64, mayBeMissing: true, side: true })).body;
  } catch (error) {
    if (error instanceof AbortedError) throw error;
    run.logger.debug(`the upstream has no /lastsync: ${(error as Error).message}`, { phase: 'publish' });
    if (error instanceof UpstreamError && error.details.status === 404) {
      await rememberLastsyncMissing(run.dir, run.config.upstreamUrl, run.now());
    }
    return undefined;
  }
  const lastSync = body && parseLastsync(body, run.now());
  if (lastSync && run.now().getTime() - lastSync.getTime() > STALE_UPSTREAM_MS) {
    const warning = `the upstream ${run.config.upstreamUrl} last synced ${formatDuration(run.now().getTime() - lastSync.getTime())} ago (${lastSync.toISOString()}): this mirror can be no fresher`;
    run.report.warnings.push(warning);
    run.logger.warn(warning, { phase: 'publish' });
  }
  return lastSync;
}

/** The releases upstream worth announcing, from its .versions.json; none when it has no such file. */
async function upstreamReleases(
  run: RunContext,
  sets: SetConfig[],
  versions: VersionsFile | undefined,
): Promise<NewRelease[]> {
  if (versions === undefined) return [];
  try {
    const found = newReleasesIn(versions, [...new Set(sets.map((set) => set.release))]);
    return await notYetAnnounced(run.dir, found);
  } catch (error) {
    run.logger.warn(`could not remember the releases announced: ${(error as Error).message}`, {
      phase: 'notify',
    });
    return [];
  }
}

/** The notices NOTIFY_ON asks for, by webhook and e-mail; never throws. */
async function notify(
  config: Config,
  report: SyncReport,
  previousResult: string | undefined,
  newReleases: NewRelease[],
  logger: Logger,
): Promise<void> {
  const { webhookUrl, smtpUrl, on } = config.notify;
  if (!webhookUrl && !smtpUrl) return;
  const notices = noticesFor(
    on,
    {
      mirror: config.sets.map(setLabel).join(', '),
      result: report.result ?? 'failed',
      ...(previousResult !== undefined && { previousResult }),
      startedAt: report.startedAt,
      ...(report.durationMs !== undefined && { durationMs: report.durationMs }),
      downloaded: report.downloaded,
      bytes: formatBytes(report.bytes),
      failures: report.failures.map(failureLine),
      changes: listedChanges(report.changes, 50),
    },
    newReleases,
  );
  await deliver(config.notify, notices, logger).catch((error: Error) =>
    logger.error(`could not notify: ${error.message}`, { phase: 'notify' }),
  );
}

/** Conditions a user can act on, said in one line; anything else is a bug and keeps its stack. */
function isExpected(error: unknown): boolean {
  return (
    error instanceof UntrustedInputError ||
    error instanceof UpstreamError ||
    error instanceof LockLostError ||
    error instanceof ConfigError ||
    // The file system said no: a full disk, a read-only volume, permissions.
    typeof (error as NodeJS.ErrnoException).code === 'string'
  );
}

/** The trusted keys, which must be able to check the format of every configured release. */
async function loadKeys(config: Config, releases: string[]) {
  const keys = await loadConfiguredKeys(config);
  for (const release of new Set(releases)) {
    const missing = formatFor(release).missingKeys(keys);
    if (missing) throw new ConfigError('OPENWRT_KEYS_DIR', config.keysDir, missing);
  }
  return { keys, problems: keys.problems };
}

/** The configured sets grouped by release, in the order the configuration names them. */
function byRelease<T extends { release: string }>(sets: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const set of sets) groups.set(set.release, [...(groups.get(set.release) ?? []), set]);
  return groups;
}

/**
 * Releases the mirror serves but the configuration no longer names: served as they are for the
 * grace period (status says so at once), then their link and state go, and with them, once no
 * generation links them, the files only they used.
 */
async function withdrawReleases(run: RunContext, configured: Set<string>): Promise<ReleaseOutcome[]> {
  const outcomes: ReleaseOutcome[] = [];
  const now = run.now();
  for (const release of await releasesWithState(run.dir)) {
    if (configured.has(release)) continue;
    const state = await readState(run.dir, release);
    const since = state.withdrawnSince ?? now.toISOString();
    const until = new Date(graceEnd(since, run.config.pruneGraceHours));
    if (now >= until) {
      await run.lock.assertHeld();
      if ((await currentGeneration(run.dir, release)) !== undefined) {
        await fs.rm(run.dir.releaseLink(release), { force: true });
      }
      await removeState(run.dir, release);
      await removeUnkeptGenerations(run.dir, run.config.keepGenerations);
      run.logger.info(`${release}: no longer configured and its grace period is over: withdrawn`, {
        phase: 'publish',
      });
      continue;
    }
    if (state.withdrawnSince === undefined) await writeState(run.dir, { ...state, withdrawnSince: since });
    const format = formatFor(release);
    const { served } = state;
    const sets = Object.entries(state.sets ?? {});
    outcomes.push({
      release,
      served,
      generation: state.generation,
      ...(state.lastSuccessAt !== undefined && { lastSuccessAt: state.lastSuccessAt }),
      ...(state.pinned !== undefined && { pinned: state.pinned }),
      lines: sets.map(([target, set]) => recordedLines(release, target, set, format, served)),
      status: sets.map(([target, set]) => ({
        ...withdrawnStatus(release, target, set, format),
        withdrawnUntil: until.toISOString(),
      })),
    });
    run.logger.warn(`${release}: no longer configured: served until ${until.toISOString()}`, {
      phase: 'publish',
    });
  }
  return outcomes;
}

/**
 * Removes the pool's files no generation links any more, after a run without failures that
 * published. The pool is walked (a lstat per file) only when a file can have lost its last link:
 * on a quiet night nothing entered it and no generation left, unless an earlier run owes the walk
 * (it could not prune after a failure).
 */
async function prunePool(
  run: RunContext,
  outcomes: ReleaseOutcome[],
  removedGenerations: boolean,
): Promise<void> {
  const { dir, report } = run;
  const owed = path.join(dir.internal, PRUNE_OWED);
  const quiet = !removedGenerations && outcomes.every((outcome) => outcome.quiet);
  if (!report.published || report.failures.length > 0) {
    if (!quiet) await fs.writeFile(owed, '');
    return;
  }
  if (quiet && (await fs.stat(owed).catch(() => undefined)) === undefined) return;
  const pruned = await run.pool.pruneUnlinked();
  await fs.rm(owed, { force: true });
  if (pruned.files > 0) {
    run.logger.info(
      `pruned ${count(pruned.files, 'file')} no index references (${formatBytes(pruned.bytes)})`,
      {
        phase: 'prune',
      },
    );
  }
}

/** Every set's feed lines, then status.json: what the run leaves visible. */
async function commitRun(
  run: RunContext,
  outcomes: ReleaseOutcome[],
  options: SyncOptions,
  upstreamLastSync: Date | undefined,
  /** Whether generations were removed before the releases ran. */
  removedGenerations: boolean,
): Promise<void> {
  const { dir, report, config } = run;
  // Nothing empty is published: without a single served feed, the lines stay as they were.
  if (report.published) {
    const lines = outcomes.flatMap((outcome) => outcome.lines);
    await writeFeedLines(dir, lines);
    await removeOtherPackageLists(dir, lines);
  }
  await prunePool(run, outcomes, removedGenerations);
  if (!report.published) return;
  finishReport(report, run.now());
  report.upstream = snapshotStats(run.upstream);
  // The mirror succeeded last when every release did: the oldest of their last successes.
  const successes = outcomes.map((outcome) => outcome.lastSuccessAt);
  const lastSuccessAt = successes.includes(undefined) ? undefined : (successes as string[]).sort().at(0);
  await run.progress.stop();
  await recordRun(
    dir,
    buildStatus({
      report,
      upstream: config.upstreamUrl,
      sets: outcomes.flatMap((outcome) => outcome.status),
      releases: new Map(outcomes.map((o) => [o.release, { served: o.served, generation: o.generation }])),
      ...(lastSuccessAt && { lastSuccessAt }),
      ...(upstreamLastSync && { upstreamLastSync: upstreamLastSync.toISOString() }),
      nextRunAt: options.nextRunAt,
    }),
    // A one-off sync beside a running worker keeps the next run the worker wrote.
    {
      keepNextRun: !('nextRunAt' in options),
      pinned: new Map(outcomes.map((outcome) => [outcome.release, outcome.pinned])),
    },
  );
  report.statusWritten = true;
  await writeTrace(dir, {
    upstream: config.upstreamUrl,
    ...(lastSuccessAt && { lastSync: lastSuccessAt }),
    lastRun: { startedAt: report.startedAt, finishedAt: report.finishedAt, result: report.result },
    generations: Object.fromEntries(
      outcomes.flatMap((o) => (o.generation === undefined ? [] : [[o.release, o.generation]])),
    ),
    ...(upstreamLastSync && { upstreamLastSync: upstreamLastSync.toISOString() }),
  }).catch((error: Error) =>
    run.logger.warn(`could not write lastsync and trace.json: ${error.message}`, { phase: 'status' }),
  );
}

function snapshotStats(upstream: Upstream): NonNullable<SyncReport['upstream']> {
  return { ...upstream.stats, errors: { ...upstream.stats.errors } };
}

function logSummary(logger: Logger, report: SyncReport): void {
  const line =
    `sync ${report.result}: ${count(report.planned, 'file')} planned, ${report.downloaded} downloaded ` +
    `(${formatBytes(report.bytes)}), ${report.skipped} already there, ${report.failed} failed, ` +
    `${((report.durationMs ?? 0) / 1000).toFixed(1)} s`;
  const meta = {
    phase: 'summary',
    result: report.result,
    planned: report.planned,
    downloaded: report.downloaded,
    skipped: report.skipped,
    failed: report.failed,
    bytes: report.bytes,
    durationMs: report.durationMs,
    requests: report.upstream?.requests,
    retries: report.upstream?.retries,
  };
  if (report.failures.length === 0) logger.info(line, meta);
  else {
    logger.error(line, meta);
    for (const failure of report.failures)
      logger.error(`failed: ${failureLine(failure)}`, { phase: 'summary' });
  }
}
