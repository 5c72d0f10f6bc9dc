/**
 * One release of a run, as a pipeline: discover its sets → check each feed's index once (sets of
 * one architecture share their arch feeds) → plan (pure) → fetch → assemble (pure) → publish. A set
 * whose profiles.json, index or files fail keeps its last good state and does not hold the others
 * back; the release is switched on its own.
 */
import fs from 'node:fs/promises';
import type { SetConfig } from '../config.js';
import { AbortedError } from '../errors.js';
import { parseSha256Sums } from '../feeds/profiles.js';
import { type FeedFormat, formatFor } from '../formats/index.js';
import { currentGeneration, generationDir, manifestsEqual, switchGeneration } from '../publish/generation.js';
import { summarize } from '../publish/served.js';
import { type FeedState, readSyncState, servedFiles } from '../publish/state.js';
import type { ServedFile } from '../publish/types.js';
import { packageListSource } from '../status/package-list.js';
import { recordGenerations } from '../status/status-store.js';
import { count } from '../status/units.js';
import { AskedAhead, askReleaseAhead } from './ahead.js';
import { type Assembly, assembleRelease, committedValidators, feedOutcome } from './assemble.js';
import { releaseChanges } from './changes.js';
import { feedStatesOf, publishRelease, writePackageList } from './commit.js';
import { learntFile, type SyncContext } from './context.js';
import { type DiscoveredSet, discoverSets } from './discover.js';
import { EarlyDownloads } from './early.js';
import { fetchIndexExtras } from './feed-index.js';
import { fetchTasks } from './fetch.js';
import { type IndexStage, indexStage } from './indexes.js';
import { fetchTargetsList, placeTargetsList, type TargetsListOutcome } from './metadata.js';
import { planSets } from './plan.js';
import { countKept, isQuiet, planFingerprint, sameTargetsList } from './quiet.js';
import { countTasks } from './report.js';
import { lastOutcome, nextSetStates, previousSets, publishedOutcome, withdrawnDirs } from './sets.js';
import type { FileTask, ReleaseOutcome } from './types.js';
import { releaseUnits } from './units.js';

export async function syncRelease(
  base: Omit<SyncContext, 'release' | 'previous' | 'validators' | 'ahead'>,
  release: string,
  configured: SetConfig[],
  /** Whether the mirror has several sets: then failures and messages name theirs. */
  many: boolean,
): Promise<ReleaseOutcome> {
  const previous = await readSyncState(base.dir, release);
  const ctx: SyncContext = { ...base, release, previous, validators: {}, ahead: new AskedAhead() };
  const { report, logger, config } = ctx;
  const format = formatFor(release);
  if (previous.pinned !== undefined) {
    await finishRollback(ctx, previous.pinned);
    const message = `${release}: pinned to generation ${previous.pinned} by rollback, so this sync leaves it as it is (openwrt-mirror unpin lets the syncs move it on)`;
    report.warnings.push(message);
    logger.warn(message, { phase: 'publish', release, pinned: previous.pinned });
    return lastOutcome(previous, format, configured);
  }
  /** This release succeeded when it added no failure to the run's. */
  const failuresBefore = report.failures.length;
  // The last generation's files (11,000 at real size), read only when a run plans: a quiet night
  // needs the state's counts of them alone (state.ts, served.ts).
  let lastFiles: Promise<Map<string, ServedFile>> | undefined;
  const previousFiles = () => {
    lastFiles ??= servedFiles(ctx.dir, previous);
    return lastFiles;
  };

  // The release's list of targets, a side request (side.ts): it takes a start the round trip of
  // profiles.json leaves unused; placed when assembled, and a quiet night waits for it.
  const targetsList = ctx.side.run(() => fetchTargetsList(ctx));
  targetsList.catch(() => {});

  // Discover: each set's target profiles.json gives its arch and kernel, hence its feeds; what the
  // index phase will ask first and is known already goes in the same round trip (ahead.ts).
  const discovering = discoverSets(ctx, configured, format.name, many);
  askReleaseAhead(ctx, configured, format);
  const discovered = await discovering;
  if (discovered.length === 0) return lastOutcome(previous, format, configured);

  // Indexes: every feed directory once, however many sets share it; the images' signed sums beside.
  // What needs no finished plan starts at once, every other start at the gate while the indexes
  // come in, filling the connections the index phase and planning leave idle: each target's images as soon as its sums
  // verify, and as each feed's index verifies, what the sets' selections over the feeds verified
  // so far already hold (early.ts).
  const early = new EarlyDownloads(ctx, { release, format, discovered, previousFiles, many });
  ctx.upstream.limitBackground(true);
  const indexing = indexStage(ctx, discovered, format, many, {
    images: (imageTasks) => early.fetch(imageTasks),
    index: (ref, index) => early.feed(ref, index),
  });
  // The run's side requests waiting for the indexes to be asked for go now, behind them at the gate:
  // on a quiet night they fill the indexes' round trip instead of adding one after it (side.ts).
  ctx.side.indexesAsked();
  const indexes = await indexing;
  ctx.upstream.limitBackground(false);
  const untaken = ctx.ahead.untaken();
  if (untaken.length > 0) {
    logger.debug(`${release}: asked ahead and not needed: ${untaken.join(', ')}`, { phase: 'index' });
  }
  if (indexes.nothingUsable) {
    await early.settled();
    return lastOutcome(previous, format, configured);
  }
  // A quiet night keeps the generation served, without parsing, planning or assembling (quiet.ts).
  const plannedWith = planFingerprint({ release, format, discovered, many, learned: ctx.learned });
  if (
    report.failures.length === failuresBefore &&
    isQuiet({ previous, fingerprint: plannedWith, configured, discovered, indexes })
  ) {
    await early.settled();
    if (sameTargetsList(await targetsList, previous.served)) {
      return keepQuietly(ctx, {
        format,
        configured,
        discovered,
        indexes,
        previousFiles,
        plannedWith,
      });
    }
  }

  // Plan, fetch, assemble: in a function of their own, so that the tasks (one per package) are
  // gone before the publish builds the state, the package lists and the changes (memory at 11,000).
  const { assembly, feeds } = await fetchAndAssemble(ctx, {
    discovered,
    indexes,
    format,
    previousFiles: await previousFiles(),
    many,
    early,
    targetsList,
    configured,
  });
  // Publish, unless no feed can be served whole: nothing without a feed is published.
  if (feeds === undefined) {
    report.failures.push({ reason: `${release}: no feed could be served whole: nothing new is published` });
    return lastOutcome(previous, format, configured);
  }
  const sets = nextSetStates(previous, configured, discovered, assembly.withdrawn);
  const lastSuccessAt =
    report.failures.length === failuresBefore ? ctx.now().toISOString() : previous.lastSuccessAt;
  const unchanged =
    previous.generation !== undefined && manifestsEqual(assembly.manifest, await previousFiles());
  const served = summarize(assembly.manifest, format.packageExtension);
  const generation = await publishRelease(
    ctx,
    async () => assembly.manifest,
    {
      schema: 1,
      release,
      validators: committedValidators(previous, ctx.validators, assembly.fresh, assembly.kept),
      feeds,
      dropped: assembly.dropped,
      lastSuccessAt,
      sets,
      withdrawn: Object.fromEntries(assembly.withdrawn),
      served,
      ...(report.failures.length === failuresBefore &&
        Object.keys(assembly.dropped).length === 0 && { plannedWith }),
    },
    unchanged,
  );
  report.published = true;
  report.generations[release] = generation;
  // The changes and the package lists read the records again, a feed at a time (feed-records.ts).
  const records = new Map(indexes.usable.map((feed) => [feed.ref.dir, feed.records]));
  if (!unchanged) {
    const changes = await releaseChanges(ctx, {
      format,
      previous: await previousFiles(),
      next: assembly.manifest,
      feeds: indexes.usable.map((feed) => ({
        dir: feed.ref.dir,
        name: feed.ref.name,
        records: () => feed.records.read('plan'),
      })),
      previousFeeds: previous.feeds,
    });
    for (const key of ['added', 'updated', 'removed', 'images'] as const)
      (report.changes[key] as unknown[]).push(...changes[key]);
  }
  const failed = new Set(
    [...assembly.decisions.values()].filter((d) => d.taken === 'failed').map((d) => d.dir),
  );
  // Each set's package list for people (the page's search).
  for (const set of discovered) {
    const list = packageListSource(
      {
        release,
        target: set.config.target,
        arch: set.arch,
        format: format.name,
        mode: set.config.mode,
        optional: set.config.optional,
        optionalSource: set.config.sources.optional,
        feeds: set.feeds.map((ref) => ({
          name: ref.name,
          dir: ref.dir,
          records: () => records.get(ref.dir)?.read('all') ?? NO_RECORDS,
        })),
      },
      assembly.manifest,
      ctx.now(),
    );
    await writePackageList(ctx.dir, list);
  }
  const outcome = publishedOutcome({
    release,
    format,
    configured,
    discovered,
    sets,
    served,
    generation,
    failed,
    withdrawn: assembly.withdrawn,
    graceHours: config.pruneGraceHours,
  });
  return { ...outcome, ...(lastSuccessAt !== undefined && { lastSuccessAt }) };
}

/** A feed without a usable index lists nothing. */
const NO_RECORDS: AsyncIterable<never> = { async *[Symbol.asyncIterator]() {} };

/**
 * The middle of a release's pipeline: plan (pure), fetch the plan with what started early, assemble
 * (pure), and say what each feed's state will be; `feeds` is undefined when no feed can be served
 * whole. Its tasks die with it.
 */
async function fetchAndAssemble(
  ctx: SyncContext,
  input: {
    discovered: DiscoveredSet[];
    indexes: IndexStage;
    format: FeedFormat;
    previousFiles: Map<string, ServedFile>;
    many: boolean;
    early: EarlyDownloads;
    targetsList: Promise<TargetsListOutcome>;
    configured: SetConfig[];
  },
): Promise<{ assembly: Assembly; feeds: Record<string, FeedState> | undefined }> {
  const { release, report, logger, config, previous } = ctx;
  const { discovered, indexes, format, previousFiles, many, early, targetsList, configured } = input;
  // Plan, pure: each set's closure over its own feeds; a shared feed serves the union.
  ctx.progress.phase('planning');
  // The plan takes the early tasks: every feed verified has had its closure taken (early.ts).
  await early.planned();
  const plan = planSets({
    release,
    sets: discovered,
    ...indexes,
    format,
    previousFiles,
    many,
    learned: ctx.learned,
    startedAt: early.startedAt,
  });
  // The plan has its tasks: through the downloads, no feed's records are held (feed-records.ts).
  for (const feed of indexes.usable) feed.records.letGo();
  report.failures.push(...plan.failures);
  report.warnings.push(...plan.warnings);
  for (const failure of plan.failures) logger.error(failure.reason, { phase: 'plan' });
  for (const warning of plan.warnings) logger.warn(warning, { phase: 'plan' });
  logger.info(
    `${release}: plan: ${count(plan.tasks.length, 'package file')} over ${count(indexes.usable.length, 'feed')}`,
    { phase: 'plan' },
  );

  // Fetch: the planned files, and the images already on their way; the index files nobody plans
  // with (Packages.manifest, index.json) come in beside them.
  const imageTasks = discovered.flatMap((set) => indexes.images.get(set.label)?.plan?.tasks ?? []);
  const tasks: FileTask[] = [...plan.tasks, ...imageTasks];
  ctx.progress.phase('downloading');
  const [, extras] = await Promise.all([
    early.together(plan.tasks, (rest) => fetchTasks(ctx, rest)),
    fetchIndexExtras(
      ctx,
      indexes.usable.flatMap(({ index }) => (index ? [index] : [])),
    ),
  ]);
  if (ctx.signal?.aborted) throw new AbortedError();

  // Assemble, pure: every feed and every target directory taken new, kept, or failed.
  ctx.progress.phase('publishing');
  const units = releaseUnits({
    ...indexes,
    tasks,
    extras,
    marker: format.marker,
    discovered,
    profiles: (set) => learntFile(ctx, set.profilesRel),
    configured,
    servedSets: previousSets(previous),
    many,
  });
  const readSums = async (file: ServedFile) =>
    parseSha256Sums((await ctx.pool.read(file.sha256)).toString('utf8'));
  const assembly = await assembleRelease({
    units,
    previousFiles,
    targetDirs: discovered.map((set) => set.targetDir),
    readSums,
    withdrawn: withdrawnDirs(previous, configured, discovered, ctx.now()),
    dropped: previous.dropped,
    now: ctx.now(),
    graceHours: config.pruneGraceHours,
  });
  report.failures.push(...assembly.failures);
  // The release's list of targets, for firmware-selector and ASU clients: switched with the rest.
  placeTargetsList(ctx, await targetsList, assembly, previousFiles);
  countTasks(report, release, tasks, indexes.usable, discovered, indexes.images);
  const changed = new Set(indexes.usable.filter((feed) => feed.index?.changed).map((feed) => feed.ref.dir));
  for (const feedReport of report.feeds.filter((f) => f.release === release)) {
    const decision = assembly.decisions.get(feedReport.dir);
    const unit = units.find((u) => u.dir === feedReport.dir);
    if (decision && unit) feedReport.state = feedOutcome(decision, unit, changed.has(feedReport.dir));
  }

  const feeds = feedStatesOf({
    units,
    decisions: assembly.decisions,
    ...indexes,
    previous,
    withdrawn: assembly.withdrawn,
  });
  return { assembly, feeds };
}

/**
 * A quiet night's publish: the same files, the same generation, the state's time of success and
 * validators renewed; every file counted as planned and found in the pool. The package lists for
 * the page's search stay as they are (no list is given).
 */
async function keepQuietly(
  ctx: SyncContext,
  input: {
    format: FeedFormat;
    configured: SetConfig[];
    discovered: DiscoveredSet[];
    indexes: IndexStage;
    /** The generation's files, read only if its tree must be built again (its link is gone). */
    previousFiles: () => Promise<Map<string, ServedFile>>;
    plannedWith: string;
  },
): Promise<ReleaseOutcome> {
  const { previous, release, report } = ctx;
  const { format, configured, discovered, indexes, previousFiles, plannedWith } = input;
  ctx.logger.info(`${release}: every index and target unchanged upstream: the plan stays as it was`, {
    phase: 'plan',
  });
  const sets = nextSetStates(previous, configured, discovered, new Map());
  const lastSuccessAt = ctx.now().toISOString();
  const generation = await publishRelease(
    ctx,
    previousFiles,
    {
      schema: 1,
      release,
      validators: { ...previous.validators, ...ctx.validators },
      feeds: previous.feeds,
      dropped: {},
      lastSuccessAt,
      sets,
      withdrawn: {},
      served: previous.served,
      plannedWith,
    },
    true,
  );
  countKept(report, release, previous.served, discovered, indexes);
  report.published = true;
  report.generations[release] = generation;
  const outcome = publishedOutcome({
    release,
    format,
    configured,
    discovered,
    sets,
    served: previous.served,
    generation,
    failed: new Set(),
    withdrawn: new Map(),
    graceHours: ctx.config.pruneGraceHours,
  });
  return { ...outcome, quiet: true, lastSuccessAt };
}

/**
 * A rollback writes its pinned state and then switches, as a publish does; killed in between, the
 * state is pinned to a generation that is not served. The pin makes every sync leave the release
 * alone, so the switch is made here (the generation is there: rollback built it before the state),
 * lest the release stay on the tree it was rolled back from, reported as rolled back.
 */
async function finishRollback(ctx: SyncContext, pinned: string): Promise<void> {
  const served = await currentGeneration(ctx.dir, ctx.release);
  if (served === pinned) return;
  const built = await fs.lstat(generationDir(ctx.dir, pinned)).catch(() => undefined);
  if (!built?.isDirectory()) {
    const message = `${ctx.release}: pinned to generation ${pinned}, which is not on disk: ${served ?? 'nothing'} is served (openwrt-mirror rollback or unpin)`;
    ctx.report.warnings.push(message);
    ctx.logger.warn(message, { phase: 'publish', release: ctx.release, pinned });
    return;
  }
  await ctx.lock.assertHeld();
  await switchGeneration(ctx.dir, ctx.release, pinned);
  // A run that publishes nothing keeps status.json's generations as they were: they changed here.
  await recordGenerations(ctx.dir);
  ctx.logger.warn(
    `${ctx.release}: the rollback to ${pinned} was cut short before its switch (${served ?? 'nothing'} was still served); switched to it now`,
    { phase: 'publish', release: ctx.release, pinned },
  );
}
