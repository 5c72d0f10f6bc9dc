/**
 * One sync: discover → check each feed's index → plan → download into the pool → assemble the
 * next generation → switch it into view → prune → report. Whatever fails, the tree that was served
 * before stays served, whole, and the run is recorded with what went wrong.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { AbortedError, ConfigError, UntrustedInputError, UpstreamError } from '../errors.js';
import { parseSha256Sums } from '../feeds/profiles.js';
import { loadConfiguredKeys } from '../feeds/trusted-keys.js';
import { formatFor } from '../formats/index.js';
import { type Logger, silentLogger } from '../log.js';
import {
  buildGeneration,
  currentGeneration,
  manifestsEqual,
  removeUnlinkedGenerations,
  switchGeneration,
} from '../publish/generation.js';
import { acquireLock, LockLostError, MirrorBusyError, type MirrorLock } from '../publish/lock.js';
import { MirrorDir } from '../publish/mirror-dir.js';
import { Pool } from '../publish/pool.js';
import { type ReleaseState, readState, writeState } from '../publish/state.js';
import type { Manifest } from '../publish/types.js';
import { MIRROR_URL_PLACEHOLDER, renderDistfeeds } from '../status/distfeeds.js';
import { buildStatus, readStatus, recordUnpublishedRun, writeStatus } from '../status/status-file.js';
import { count, formatBytes } from '../status/units.js';
import { Upstream } from '../upstream/client.js';
import { assembleFeeds, committedValidators, keepForGrace } from './assemble.js';
import { learntFile, type SyncContext } from './context.js';
import { discoverRelease, type Release } from './discover.js';
import { fetchAll, type WantedFile } from './download.js';
import { fetchIndexExtras } from './feed-index.js';
import { type ImagePlan, missingDeviceReason, planImages } from './images.js';
import { IndexMemory } from './index-memory.js';
import { fetchIndexes, type Refusal, refusalFailures } from './indexes.js';
import { planPackages } from './plan.js';
import {
  addCounters,
  emptyCounters,
  exitCodeOf,
  failureLine,
  finishReport,
  type SyncReport,
} from './report.js';
import { assembleTargetDir, dropGraceFilesAgainstSums } from './target-dir.js';

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
}

export interface SyncResult {
  report: SyncReport;
  exitCode: 0 | 1;
}

export async function runSync(config: Config, options: SyncOptions = {}): Promise<SyncResult> {
  const logger = options.logger ?? silentLogger();
  const now = options.now ?? (() => new Date());
  const report: SyncReport = {
    release: config.version,
    target: config.target,
    mode: config.mode,
    startedAt: now().toISOString(),
    ...emptyCounters(),
    feeds: [],
    images: undefined,
    failures: [],
    warnings: [],
    published: false,
  };

  const dir = new MirrorDir(config.mirrorDir);
  await dir.prepareRoot();
  let lock: MirrorLock;
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

  let upstream: Upstream | undefined;
  /** Rethrown once the run is recorded: a configuration error (exit 2) or a stop. */
  let rethrow: unknown;
  try {
    await dir.prepare();
    const leftovers = await dir.cleanTmp();
    const stale = await removeUnlinkedGenerations(dir);
    if (leftovers + stale > 0) {
      logger.info(
        `cleaned up after an interrupted run: ${leftovers} temporary files, ${stale} unfinished generations`,
      );
    }
    const previous = await readState(dir, config.version);
    const { keys, problems } = await loadKeys(config);
    // A key file that does not load is why a later "not trusted" would puzzle: said up front.
    for (const problem of problems) {
      report.warnings.push(problem);
      logger.warn(`trusted keys: ${problem}`, { phase: 'keys' });
    }
    upstream = new Upstream({
      baseUrl: config.upstreamUrl,
      rateLimit: config.rateLimit,
      concurrency: config.concurrency,
      maxRetries: config.maxRetries,
      retryDelayMs: config.retryDelayMs,
      timeoutMs: config.timeoutMs,
      minBytesPerSecond: config.minBytesPerSecond,
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
      lock,
      indexMemory: new IndexMemory(options.indexMemoryBytes),
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
    await lock.release();
  }
  if (rethrow !== undefined) throw rethrow;
  logSummary(logger, report);
  return { report, exitCode: exitCodeOf(report) };
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

/** The trusted keys, which must be able to check this release's format. */
async function loadKeys(config: Config) {
  const keys = await loadConfiguredKeys(config);
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
  logger.info(`release ${config.version}: arch ${release.arch}, kernel modules in ${release.kmodsDir}`, {
    phase: 'discover',
  });

  // The images' signed sums are fetched while the indexes are: neither needs the other.
  const imagesPlanned = config.devices.length > 0 ? settle(planImages(ctx, release)) : undefined;
  // Indexes, checked before anything they list is fetched.
  const { usable, refused } = await fetchIndexes(ctx, release.feeds, format);
  const images = await imagesPlanned;
  if (images?.error instanceof AbortedError || ctx.signal?.aborted) throw new AbortedError();
  const targetDir = `targets/${config.target}`;
  const refusals: Refusal[] = [...refused];
  if (images?.error) refusals.push({ file: `${targetDir}/sha256sums`, error: images.error });
  // Every index refused: nothing of this run is verified, so nothing of it is published.
  const allRefused = refused.length === release.feeds.length;
  report.failures.push(...refusalFailures(config, refusals, allRefused));
  const served = previous.generation !== undefined;
  if (images?.error) {
    const kept = served ? ' (the images already served stay)' : '';
    logger.error(`images: ${images.error.message}${kept}`, { phase: 'images' });
  }
  for (const missing of images?.plan?.missing ?? []) {
    report.failures.push({ file: release.profilesRel, reason: missingDeviceReason(missing, config.target) });
  }
  if (allRefused || usable.length === 0) {
    const kept = served ? ', the tree served before stays served' : '';
    logger.error(`no index of this run could be used: nothing new is published${kept}`, { phase: 'index' });
    return;
  }

  const plan = planPackages({
    mode: config.mode,
    required: config.required,
    optional: config.optional,
    feeds: usable.map(({ ref, packages }) => ({ dir: ref.dir, name: ref.name, packages })),
    unavailable: refused.flatMap((r) =>
      r.feed && !usable.some((u) => u.ref.name === r.feed) ? [r.feed] : [],
    ),
    accepts: format.accepts,
  });
  report.failures.push(...plan.failures);
  report.warnings.push(...plan.warnings);
  for (const failure of plan.failures) logger.error(failure.reason, { phase: 'plan' });
  for (const warning of plan.warnings) logger.warn(warning, { phase: 'plan' });
  logger.info(`plan: ${count(plan.files.length, 'package file')} over ${count(usable.length, 'feed')}`, {
    phase: 'plan',
  });

  const previousFiles = new Map(Object.entries(previous.files));
  const wanted: WantedFile[] = plan.files.map((file) => ({
    rel: file.rel,
    group: file.feedDir,
    ...format.expect(file.pkg, file.rel, previousFiles.get(file.rel)),
  }));
  wanted.push(...(images?.plan?.wanted ?? []));
  // The index files nobody plans with (Packages.manifest, index.json) come in beside the packages.
  const [{ outcomes, counters }, extras] = await Promise.all([
    fetchAll(ctx, wanted),
    fetchIndexExtras(
      ctx,
      usable.flatMap(({ index }) => (index ? [index] : [])),
    ),
  ]);
  if (ctx.signal?.aborted) throw new AbortedError();

  // The next generation: each feed whole with its new index, or as it was; then the target directory.
  const manifest: Manifest = new Map();
  const feedsPart = assembleFeeds(manifest, {
    usable,
    plan: plan.files,
    outcomes,
    extras,
    counters,
    previousFiles,
    marker: format.marker,
  });
  report.failures.push(...feedsPart.failures);
  const readSums = async (file: { sha256: string }) =>
    parseSha256Sums((await ctx.pool.read(file.sha256)).toString('utf8'));
  const targetPart = await assembleTargetDir(manifest, {
    targetDir,
    profiles: learntFile(ctx, release.profilesRel),
    ...(config.devices.length > 0 && { images: { plan: images?.plan, outcomes } }),
    previousFiles,
    readSums,
  });
  report.failures.push(...targetPart.failures);
  if (config.devices.length > 0) {
    report.images = { devices: config.devices, ...(counters.get('images') ?? emptyCounters()) };
  }
  for (const counter of counters.values()) addCounters(report, counter);
  const targetIndexes = [
    release.profilesRel,
    `${targetDir}/sha256sums`,
    `${targetDir}/sha256sums.sig`,
  ].filter((key) => manifest.has(key));
  const validatorKeys = new Set([...feedsPart.fresh, ...(targetPart.served === 'new' ? targetIndexes : [])]);
  const keepValidators = new Set([...feedsPart.kept, ...(targetPart.served === 'kept' ? targetIndexes : [])]);
  // Without sums this run, profiles.json is still this run's.
  if (targetPart.served === 'unsigned') validatorKeys.add(release.profilesRel);

  const dropped = keepForGrace(previousFiles, manifest, previous.dropped, ctx.now(), config.pruneGraceHours);
  for (const file of await dropGraceFilesAgainstSums(manifest, Object.keys(dropped), targetDir, readSums)) {
    delete dropped[file];
  }

  // Switch, unless the tree would be the same as the one served. Nothing without a feed is published.
  if (Object.keys(feedsPart.feeds).length === 0) {
    report.failures.push({ reason: 'no feed could be served whole: nothing new is published' });
    return;
  }
  const current = await currentGeneration(ctx.dir, config.version);
  const unchanged =
    current !== undefined && current === previous.generation && manifestsEqual(manifest, previousFiles);
  const generation = unchanged ? current : await buildGeneration(ctx.dir, manifest, ctx.now());
  const state: ReleaseState = {
    schema: 1,
    release: config.version,
    generation,
    files: Object.fromEntries(manifest),
    validators: committedValidators(previous, ctx.validators, validatorKeys, keepValidators),
    feeds: feedsPart.feeds,
    dropped,
    lastSuccessAt: report.failures.length === 0 ? ctx.now().toISOString() : previous.lastSuccessAt,
  };
  // A run whose lock was taken over (it ran for too long, seen from another host) must not switch.
  await ctx.lock.assertHeld();
  // The state first: a full disk after the switch must not leave a served tree the state does not
  // describe. A state ahead of the link (the switch failed) only makes the next run switch again.
  await writeState(ctx.dir, state);
  if (unchanged) {
    logger.info('nothing changed: the served tree stays as it is', { phase: 'publish' });
  } else {
    await switchGeneration(ctx.dir, config.version, generation);
    await removeUnlinkedGenerations(ctx.dir);
    logger.info(`published generation ${generation}: ${count(manifest.size, 'file')}`, { phase: 'publish' });
  }
  report.published = true;
  report.generation = generation;
  if (report.failures.length === 0) {
    const pruned = await ctx.pool.pruneUnlinked();
    if (pruned.files > 0) {
      logger.info(
        `pruned ${count(pruned.files, 'file')} no index references (${formatBytes(pruned.bytes)})`,
        {
          phase: 'prune',
        },
      );
    }
  }

  const servedFeeds = release.feeds.filter((ref) => feedsPart.feeds[ref.dir] !== undefined);
  await ctx.dir.writeAtomic(
    format.distfeedsFile,
    renderDistfeeds(servedFeeds, config.version, MIRROR_URL_PLACEHOLDER, format),
  );
  // A mirror that moved to a release of the other format no longer offers the old list.
  const otherList = format.distfeedsFile === 'distfeeds.conf' ? 'distfeeds.list' : 'distfeeds.conf';
  await fs.rm(path.join(ctx.dir.root, otherList), { force: true });
  finishReport(report, ctx.now());
  report.upstream = snapshotStats(ctx.upstream);
  const nextRunAt =
    'nextRunAt' in options ? options.nextRunAt : dateOf((await readStatus(ctx.dir.root))?.nextRunAt);
  await writeStatus(
    ctx.dir,
    buildStatus({
      report,
      upstream: config.upstreamUrl,
      manifest,
      generation,
      lastSuccessAt: state.lastSuccessAt,
      nextRunAt,
      imageInfo: imageInfo(release, targetDir),
    }),
  );
  report.statusWritten = true;
}

/** A promise's outcome as a value, so that it is never left rejected while the indexes come in. */
async function settle(plan: Promise<ImagePlan>): Promise<{ plan?: ImagePlan; error?: Error }> {
  try {
    return { plan: await plan };
  } catch (error) {
    return { error: error as Error };
  }
}

/** Which device and image type each image of the target's profiles.json is, for status and the page. */
function imageInfo(release: Release, targetDir: string): Map<string, { device: string; type: string }> {
  const info = new Map<string, { device: string; type: string }>();
  for (const [device, profile] of release.profiles.profiles) {
    for (const image of profile.images) info.set(`${targetDir}/${image.name}`, { device, type: image.type });
  }
  return info;
}

function dateOf(iso: string | undefined): Date | undefined {
  const time = iso === undefined ? Number.NaN : Date.parse(iso);
  return Number.isNaN(time) ? undefined : new Date(time);
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
