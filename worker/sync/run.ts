/**
 * One sync: discover → check each feed's index → plan → download into the pool → assemble the
 * next generation → switch it into view → prune → report. Whatever fails, the tree that was served
 * before stays served, whole.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { AbortedError, ConfigError, UntrustedInputError, UpstreamError } from '../errors.js';
import { loadTrustedKeys } from '../feeds/trusted-keys.js';
import type { PackageRecord } from '../feeds/types.js';
import { type Logger, silentLogger } from '../log.js';
import {
  currentGeneration,
  type Manifest,
  manifestsEqual,
  publishGeneration,
  removeUnlinkedGenerations,
} from '../publish/generation.js';
import { acquireLock, MirrorBusyError, type MirrorLock } from '../publish/lock.js';
import { MirrorDir } from '../publish/mirror-dir.js';
import { Pool } from '../publish/pool.js';
import { type FeedState, type ReleaseState, readState, writeState } from '../publish/state.js';
import { MIRROR_URL_PLACEHOLDER, renderDistfeeds } from '../status/distfeeds.js';
import { buildStatus, readStatus, writeStatus } from '../status/status-file.js';
import { Upstream } from '../upstream/client.js';
import { committedValidators, copyFeed, copyTargetFiles, keepForGrace } from './assemble.js';
import { learntFile, type SyncContext } from './context.js';
import { discoverRelease, type FeedRef, type Release } from './discover.js';
import { type FetchOutcome, fetchAll, formatBytes, type WantedFile } from './download.js';
import { type FeedIndex, fetchFeedIndex, fetchIndexExtras, lastGoodPackages } from './feed-index.js';
import { formatFor } from './formats/index.js';
import { checkDevices, type ImagePlan, planImages } from './images.js';
import { planPackages } from './plan.js';
import {
  addCounters,
  emptyCounters,
  exitCodeOf,
  type FeedReport,
  finishReport,
  type SyncReport,
} from './report.js';

export interface SyncOptions {
  logger?: Logger;
  /** Aborts downloads in flight (SIGTERM); the run then throws AbortedError and changes nothing served. */
  signal?: AbortSignal;
  now?: () => Date;
  /** Written into status.json by the worker so people see when the next run is. */
  nextRunAt?: Date;
}

export interface SyncResult {
  report: SyncReport;
  exitCode: 0 | 1;
}

export async function runSync(config: Config, options: SyncOptions = {}): Promise<SyncResult> {
  const logger = options.logger ?? silentLogger();
  const now = options.now ?? (() => new Date());
  const started = now();
  const report: SyncReport = {
    release: config.version,
    target: config.target,
    mode: config.mode,
    startedAt: started.toISOString(),
    ...emptyCounters(),
    feeds: [],
    images: undefined,
    failures: [],
    warnings: [],
    published: false,
  };

  const dir = new MirrorDir(config.mirrorDir);
  let lock: MirrorLock | undefined;
  let upstream: Upstream | undefined;
  try {
    await dir.prepare();
    lock = await acquireLock(dir.lockFile);
    const leftovers = await dir.cleanTmp();
    const stale = await removeUnlinkedGenerations(dir);
    if (leftovers + stale > 0) {
      logger.info(
        `cleaned up after an interrupted run: ${leftovers} temporary files, ${stale} unfinished generations`,
      );
    }
    const previous = await readState(dir, config.version);
    const { keys, problems } = await loadKeys(config);
    for (const problem of problems) report.warnings.push(problem);
    upstream = new Upstream({
      baseUrl: config.upstreamUrl,
      rateLimit: config.rateLimit,
      concurrency: config.concurrency,
      maxRetries: config.maxRetries,
      retryDelayMs: config.retryDelayMs,
      timeoutMs: config.timeoutMs,
      signal: options.signal,
      onRetry: ({ url, attempt, delayMs, reason }) =>
        logger.warn(`retrying ${url} in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt}): ${reason}`, {
          phase: 'download',
        }),
    });
    const ctx: SyncContext = {
      config,
      dir,
      pool: new Pool(dir),
      upstream,
      keys,
      previous,
      validators: {},
      logger,
      report,
      now,
      signal: options.signal,
    };
    logger.info(
      `sync started: ${config.version} ${config.target} (${config.mode}) from ${config.upstreamUrl}`,
      {
        phase: 'start',
      },
    );
    await syncRelease(ctx, options);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof AbortedError || options.signal?.aborted) throw error;
    report.failures.push({ reason: (error as Error).message });
    // Expected conditions get one line; anything else keeps its stack for the bug report.
    if (
      error instanceof MirrorBusyError ||
      error instanceof UntrustedInputError ||
      error instanceof UpstreamError
    ) {
      logger.error((error as Error).message, { phase: 'sync' });
    } else {
      logger.error(error as Error);
    }
  } finally {
    if (upstream) report.upstream = snapshotStats(upstream);
    finishReport(report, now());
    // Without the lock another run owns status.json; a stopped run changed nothing worth recording.
    if (lock && !report.statusWritten && report.failures.length > 0 && !options.signal?.aborted) {
      await recordFailedRun(dir, report, config.upstreamUrl);
    }
    await lock?.release();
  }
  logSummary(logger, report);
  return { report, exitCode: exitCodeOf(report) };
}

async function loadKeys(config: Config) {
  let keys: Awaited<ReturnType<typeof loadTrustedKeys>>;
  try {
    keys = await loadTrustedKeys(config.keysDir);
  } catch (error) {
    throw new ConfigError(
      'OPENWRT_KEYS_DIR',
      config.keysDir,
      `a readable directory of public keys (${(error as Error).message})`,
    );
  }
  const missing = formatFor(config.version).missingKeys(keys);
  if (missing) throw new ConfigError('OPENWRT_KEYS_DIR', config.keysDir, missing);
  return { keys, problems: keys.problems };
}

async function syncRelease(ctx: SyncContext, options: SyncOptions): Promise<void> {
  const { config, report, logger, previous } = ctx;
  const format = formatFor(config.version);
  report.format = format.name;
  const release = await discoverRelease(ctx);
  report.arch = release.arch;
  for (const problem of release.profiles.problems) report.warnings.push(`${release.profilesRel}: ${problem}`);
  if (config.devices.length > 0) checkDevices(release, config.devices, config.target);
  logger.info(`release ${config.version}: arch ${release.arch}, kernel modules in ${release.kmodsDir}`, {
    phase: 'discover',
  });

  // The images' signed sums are fetched while the indexes are: neither needs the other.
  const imagesPlanned =
    config.devices.length > 0 ? planImagesReported(ctx, release) : Promise.resolve(undefined);
  // Awaited below; a stop while the indexes are still coming must not leave its rejection unhandled.
  imagesPlanned.catch(() => undefined);
  // Indexes, checked before anything they list is fetched.
  const indexes = await Promise.all(
    release.feeds.map(async (ref) => {
      const startedAt = Date.now();
      try {
        return { ref, index: await fetchFeedIndex(ctx, ref, format), startedAt };
      } catch (error) {
        if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
        return { ref, error: error as Error, startedAt };
      }
    }),
  );
  const feedReports = new Map<string, FeedReport>();
  const usable: { ref: FeedRef; packages: PackageRecord[]; index?: FeedIndex; lastGood?: FeedState }[] = [];
  for (const { ref, index, error, startedAt } of indexes) {
    const lastGood = previous.feeds[ref.dir];
    const feedReport: FeedReport = {
      name: ref.name,
      distName: ref.distName,
      dir: ref.dir,
      state: index ? (index.changed ? 'updated' : 'unchanged') : lastGood ? 'kept' : 'failed',
      packagesInIndex: index?.packages.length ?? lastGood?.packages ?? 0,
      durationMs: Date.now() - startedAt,
      ...emptyCounters(),
    };
    feedReports.set(ref.dir, feedReport);
    report.feeds.push(feedReport);
    if (index) {
      for (const problem of index.problems)
        report.warnings.push(`${ref.dir}/${format.indexFile}: ${problem}`);
      usable.push({ ref, packages: index.packages, index, lastGood });
      logger.info(
        `${ref.distName}: index ${index.changed ? 'updated' : 'unchanged'}, ${index.packages.length} packages`,
        {
          phase: 'index',
          feed: ref.name,
        },
      );
      continue;
    }
    const reason = error?.message ?? 'unknown error';
    feedReport.error = reason;
    report.failures.push({ feed: ref.name, file: `${ref.dir}/${format.indexFile}`, reason });
    logger.error(
      `${ref.distName}: index refused: ${reason}${lastGood ? ' (keeping the last good state)' : ''}`,
      {
        phase: 'index',
        feed: ref.name,
      },
    );
    const packages = lastGood ? await lastGoodPackages(ctx, lastGood, format) : undefined;
    if (lastGood && packages) usable.push({ ref, packages, lastGood });
  }

  const plan = planPackages({
    mode: config.mode,
    required: config.required,
    optional: config.optional,
    feeds: usable.map(({ ref, packages }) => ({ dir: ref.dir, name: ref.name, packages })),
    accepts: format.accepts,
  });
  report.failures.push(...plan.failures);
  report.warnings.push(...plan.warnings);
  for (const failure of plan.failures) logger.error(failure.reason, { phase: 'plan' });
  for (const warning of plan.warnings) logger.warn(warning, { phase: 'plan' });
  logger.info(`plan: ${plan.files.length} package files over ${usable.length} feeds`, { phase: 'plan' });

  const images = await imagesPlanned;

  const previousFiles = new Map(Object.entries(previous.files));
  const wanted: WantedFile[] = plan.files.map((file) =>
    format.wanted(file.rel, file.feedDir, file.pkg, previousFiles.get(file.rel)),
  );
  wanted.push(...(images?.wanted ?? []));
  // The index files nobody plans with (Packages.manifest, index.json) come in beside the packages.
  const [{ outcomes, counters }, extras] = await Promise.all([
    fetchAll(ctx, wanted),
    fetchIndexExtras(
      ctx,
      usable.flatMap(({ index }) => (index ? [index] : [])),
    ),
  ]);
  if (ctx.signal?.aborted) throw new AbortedError();

  // The next generation: each feed whole with its new index, or as it was.
  const manifest: Manifest = new Map();
  const feeds: Record<string, FeedState> = {};
  /** Validators learnt this run for what is served new; the last run's for what is kept as it was. */
  const validatorKeys = new Set<string>();
  const keepValidators = new Set<string>();
  for (const { ref, packages, index, lastGood } of usable) {
    const feedReport = feedReports.get(ref.dir) as FeedReport;
    addCounters(feedReport, counters.get(ref.dir) ?? emptyCounters());
    const files = plan.files.filter((file) => file.feedDir === ref.dir);
    const failed = files.filter((file) => !outcomes.get(file.rel)?.ok);
    for (const file of failed) {
      const outcome = outcomes.get(file.rel) as Extract<FetchOutcome, { ok: false }>;
      report.failures.push({
        feed: ref.name,
        file: file.rel,
        package: file.pkg.name,
        reason: outcome.reason,
      });
    }
    const extrasFailure = extras.get(ref.dir);
    if (extrasFailure) report.failures.push({ feed: ref.name, reason: extrasFailure });
    if (failed.length > 0 || extrasFailure) {
      // An index is only served with every file the mirror serves from it: the last good state stays,
      // and without one the feed waits for the next run.
      if (lastGood) {
        copyFeed(previousFiles, manifest, ref.dir);
        feeds[ref.dir] = lastGood;
        keepValidators.add(`${ref.dir}/${format.marker}`);
        feedReport.state = 'kept';
      } else {
        feedReport.state = 'failed';
      }
      continue;
    }
    const indexFiles = index?.indexFiles ?? lastGood?.indexFiles ?? {};
    for (const [name, served] of Object.entries(indexFiles)) manifest.set(`${ref.dir}/${name}`, served);
    for (const file of files) {
      const outcome = outcomes.get(file.rel) as Extract<FetchOutcome, { ok: true }>;
      manifest.set(file.rel, outcome.served);
    }
    feeds[ref.dir] = { name: ref.name, dir: ref.dir, indexFiles, packages: packages.length };
    if (index) validatorKeys.add(`${ref.dir}/${format.marker}`);
    else keepValidators.add(`${ref.dir}/${format.marker}`);
  }

  // The target directory: profiles.json, and with devices the signed sums and the images they vouch for.
  const targetDir = `targets/${config.target}`;
  const targetIndexes = [release.profilesRel, `${targetDir}/sha256sums`, `${targetDir}/sha256sums.sig`];
  let imagesOk = true;
  if (config.devices.length > 0) {
    const failed = images ? images.wanted.filter((file) => !outcomes.get(file.rel)?.ok) : [];
    for (const file of failed) {
      const outcome = outcomes.get(file.rel) as Extract<FetchOutcome, { ok: false }>;
      report.failures.push({ file: file.rel, reason: outcome.reason });
    }
    report.images = { devices: config.devices, ...(counters.get('images') ?? emptyCounters()) };
    imagesOk = images !== undefined && failed.length === 0;
  }
  if (imagesOk) {
    const served = { 'profiles.json': learntFile(ctx, release.profilesRel), ...images?.indexFiles };
    for (const [name, file] of Object.entries(served)) manifest.set(`${targetDir}/${name}`, file);
    for (const file of images?.wanted ?? []) {
      manifest.set(file.rel, (outcomes.get(file.rel) as Extract<FetchOutcome, { ok: true }>).served);
    }
    for (const key of targetIndexes) if (manifest.has(key)) validatorKeys.add(key);
  } else {
    // The images stay as they were, with the profiles.json and sums that describe them.
    copyTargetFiles(previousFiles, manifest, targetDir);
    if (!manifest.has(release.profilesRel))
      manifest.set(release.profilesRel, learntFile(ctx, release.profilesRel));
    for (const key of targetIndexes) keepValidators.add(key);
  }
  for (const counter of counters.values()) addCounters(report, counter);

  const dropped = keepForGrace(previousFiles, manifest, previous.dropped, ctx.now(), config.pruneGraceHours);

  // Switch, unless the tree would be the same as the one served.
  const current = await currentGeneration(ctx.dir, config.version);
  let generation = current;
  const unchanged =
    current !== undefined && current === previous.generation && manifestsEqual(manifest, previousFiles);
  if (manifest.size > 0 && !unchanged) {
    generation = await publishGeneration(ctx.dir, config.version, manifest, ctx.now());
    await removeUnlinkedGenerations(ctx.dir);
    logger.info(`published generation ${generation}: ${manifest.size} files`, { phase: 'publish' });
  } else {
    logger.info('nothing changed: the served tree stays as it is', { phase: 'publish' });
  }
  report.published = generation !== undefined;
  report.generation = generation;
  if (report.failures.length === 0) {
    const pruned = await ctx.pool.pruneUnlinked();
    if (pruned.files > 0) {
      logger.info(`pruned ${pruned.files} files no index references (${formatBytes(pruned.bytes)})`, {
        phase: 'prune',
      });
    }
  }

  const state: ReleaseState = {
    schema: 1,
    release: config.version,
    generation,
    files: Object.fromEntries(manifest),
    validators: committedValidators(previous, ctx.validators, validatorKeys, keepValidators),
    feeds,
    dropped,
    lastSuccessAt: report.failures.length === 0 ? ctx.now().toISOString() : previous.lastSuccessAt,
  };
  await writeState(ctx.dir, state);
  const servedFeeds = release.feeds.filter((ref) => feeds[ref.dir] !== undefined);
  await ctx.dir.writeAtomic(
    format.distfeedsFile,
    renderDistfeeds(servedFeeds, config.version, MIRROR_URL_PLACEHOLDER, format.name),
  );
  // A mirror that moved to a release of the other format no longer offers the old list.
  const otherList = format.distfeedsFile === 'distfeeds.conf' ? 'distfeeds.list' : 'distfeeds.conf';
  await fs.rm(path.join(ctx.dir.root, otherList), { force: true });
  finishReport(report, ctx.now());
  report.statusWritten = true;
  report.upstream = snapshotStats(ctx.upstream);
  await writeStatus(
    ctx.dir,
    buildStatus({
      report,
      upstream: config.upstreamUrl,
      manifest,
      generation,
      lastSuccessAt: state.lastSuccessAt,
      nextRunAt: options.nextRunAt,
    }),
  );
}

function snapshotStats(upstream: Upstream): NonNullable<SyncReport['upstream']> {
  return { ...upstream.stats, errors: { ...upstream.stats.errors } };
}

/** The image plan, or undefined with the failure reported (the images already served then stay). */
async function planImagesReported(ctx: SyncContext, release: Release): Promise<ImagePlan | undefined> {
  try {
    return await planImages(ctx, release);
  } catch (error) {
    if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
    ctx.report.failures.push({
      file: `targets/${ctx.config.target}/sha256sums`,
      reason: (error as Error).message,
    });
    ctx.logger.error(`images: ${(error as Error).message} (keeping the images already served)`, {
      phase: 'images',
    });
    return undefined;
  }
}

/** A run that ended before publishing: status.json keeps describing what is served, with this run's failure. */
async function recordFailedRun(dir: MirrorDir, report: SyncReport, upstream: string): Promise<void> {
  const existing = await readStatus(dir.root);
  const fresh = buildStatus({ report, upstream, manifest: new Map() });
  const status = existing ? { ...existing, lastRun: fresh.lastRun } : fresh;
  await writeStatus(dir, status);
}

function logSummary(logger: Logger, report: SyncReport): void {
  const line =
    `sync ${report.result}: ${report.planned} files planned, ${report.downloaded} downloaded ` +
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
    for (const failure of report.failures) {
      logger.error(
        `failed: ${[failure.feed, failure.package, failure.file].filter(Boolean).join(' ')}: ${failure.reason}`,
        {
          phase: 'summary',
        },
      );
    }
  }
}
