/**
 * One release of a run, as a pipeline: discover its sets → check each feed's index once (sets of
 * one architecture share their arch feeds) → plan (pure) → fetch → assemble (pure) → publish. A set
 * whose profiles.json, index or files fail keeps its last good state and does not hold the others
 * back; the release is switched on its own.
 */
import { type SetConfig, setLabel } from '../config.js';
import { AbortedError } from '../errors.js';
import { parseSha256Sums } from '../feeds/profiles.js';
import { formatFor } from '../formats/index.js';
import { manifestsEqual } from '../publish/generation.js';
import { type FeedState, readState, type SetState } from '../publish/state.js';
import type { Manifest, ServedFile } from '../publish/types.js';
import type { SetStatusInput } from '../status/status-file.js';
import { count } from '../status/units.js';
import { assembleRelease, committedValidators, feedOutcome, type Unit } from './assemble.js';
import { publishRelease, type SetLines } from './commit.js';
import { learntFile, type SyncContext } from './context.js';
import { type DiscoveredSet, discoverSet, type FeedRef } from './discover.js';
import { fetchIndexExtras } from './feed-index.js';
import { fetchTasks } from './fetch.js';
import { devicesListed, type ImagePlan, missingDevices, planImages } from './images.js';
import { fetchIndexes, type Refusal, refusalFailures, type UsableFeed } from './indexes.js';
import { planRelease } from './plan.js';
import { addCounters, emptyCounters } from './report.js';
import type { Counters, FileTask, SetReport } from './types.js';

/** What a release contributes to the run's feed lines and status. */
export interface ReleaseOutcome {
  release: string;
  /** What its served generation holds (the last one, when this run published nothing). */
  manifest: Manifest;
  generation?: string;
  lines: SetLines[];
  status: SetStatusInput[];
}

export async function syncRelease(
  base: Omit<SyncContext, 'release' | 'previous' | 'validators'>,
  release: string,
  configured: SetConfig[],
  /** Whether the mirror has several sets: then failures and messages name theirs. */
  many: boolean,
): Promise<ReleaseOutcome> {
  const previous = await readState(base.dir, release);
  const ctx: SyncContext = { ...base, release, previous, validators: {} };
  const { report, logger, config } = ctx;
  const format = formatFor(release);
  /** This release succeeded when it added no failure to the run's. */
  const failuresBefore = report.failures.length;
  const previousFiles = new Map(Object.entries(previous.files));
  const lastOutcome = (): ReleaseOutcome => ({
    release,
    manifest: previousFiles,
    generation: previous.generation,
    lines: previousLines(previous, format),
    status: previousStatus(previous, format.name, configured),
  });

  // Each set's target profiles.json: its arch and kernel, hence its feeds.
  const discovered: DiscoveredSet[] = [];
  for (const set of configured) {
    try {
      discovered.push(await discoverSet(ctx, set));
    } catch (error) {
      if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
      report.failures.push({ ...(many && { set: setLabel(set) }), reason: (error as Error).message });
    }
  }
  for (const set of discovered) {
    report.sets.push({
      label: set.label,
      release,
      target: set.config.target,
      arch: set.arch,
      format: format.name,
      mode: set.config.mode,
      feedDirs: set.feeds.map((feed) => feed.dir),
    });
    logger.info(`${set.label}: arch ${set.arch}, kernel modules in ${set.kmodsDir}`, { phase: 'discover' });
  }
  if (discovered.length === 0) return lastOutcome();

  // The images' signed sums come in while the indexes do: neither needs the other.
  // Each target mirrors the configured devices its profiles.json lists; a device none lists fails.
  const devices = new Map(discovered.map((set) => [set.label, devicesListed(set)]));
  const withImages = (set: DiscoveredSet) => (devices.get(set.label) ?? []).length > 0;
  const imagesPlanned = new Map(
    discovered
      .filter(withImages)
      .map((set) => [set.label, settle(planImages(ctx, set, devices.get(set.label) ?? []))] as const),
  );
  // Every feed directory once, however many sets share it.
  const refs = [...new Map(discovered.flatMap((set) => set.feeds).map((ref) => [ref.dir, ref])).values()];
  const { usable, refused } = await fetchIndexes(ctx, refs, format);
  const images = new Map<string, { plan?: ImagePlan; error?: Error }>();
  for (const [label, planned] of imagesPlanned) images.set(label, await planned);
  if ([...images.values()].some((i) => i.error instanceof AbortedError) || ctx.signal?.aborted) {
    throw new AbortedError();
  }

  // Every index refused: nothing of this run is verified, so nothing of it is published.
  const allRefused = refused.length === refs.length;
  const refusals: Refusal[] = [...refused];
  for (const set of discovered) {
    const error = images.get(set.label)?.error;
    if (error) refusals.push({ file: `${set.targetDir}/sha256sums`, error });
  }
  // A refused index is the failure of the sets that use its directory: one set's core or kmods, or
  // every set of the release that shares an arch feed.
  const setsOfDir = (file: string) =>
    discovered
      .filter((set) =>
        [set.targetDir, ...set.feeds.map((feed) => feed.dir)].some((dir) => file.startsWith(`${dir}/`)),
      )
      .map((set) => set.label);
  for (const failure of refusalFailures(config, refusals, allRefused)) {
    const sets = many && failure.file !== undefined ? setsOfDir(failure.file) : [];
    report.failures.push(sets.length > 0 ? { set: sets.join(', '), ...failure } : failure);
  }
  const served = previous.generation !== undefined;
  for (const set of discovered) {
    const image = images.get(set.label);
    if (image?.error) {
      const kept = served ? ' (the images already served stay)' : '';
      logger.error(`${set.label}: images: ${image.error.message}${kept}`, { phase: 'images' });
    }
  }
  report.failures.push(...missingDevices(discovered));
  if (allRefused || usable.length === 0) {
    const kept = served ? ', the tree served before stays served' : '';
    logger.error(`${release}: no index of this run could be used: nothing new is published${kept}`, {
      phase: 'index',
    });
    return lastOutcome();
  }

  // Plan, pure: each set's closure over its own feeds; a shared feed serves the union.
  const usableByDir = new Map(usable.map((feed) => [feed.ref.dir, feed]));
  const plan = planRelease({
    release,
    sets: discovered.map((set) => ({
      ...(many && { label: set.label }),
      mode: set.config.mode,
      required: set.config.required,
      optional: set.config.optional,
      feedDirs: set.feeds.map((feed) => feed.dir),
      sources: set.config.sources,
    })),
    feeds: new Map(usable.map((feed) => [feed.ref.dir, { name: feed.ref.name, packages: feed.packages }])),
    unavailable: new Map(
      refused.filter((r) => !usableByDir.has(dirOf(r))).map((r) => [dirOf(r), r.feed ?? '']),
    ),
    accepts: format.accepts,
    expect: (pkg, rel, previousFile) => format.expect(pkg, rel, previousFile),
    previousFiles,
  });
  report.failures.push(...plan.failures);
  report.warnings.push(...plan.warnings);
  for (const failure of plan.failures) logger.error(failure.reason, { phase: 'plan' });
  for (const warning of plan.warnings) logger.warn(warning, { phase: 'plan' });
  logger.info(
    `${release}: plan: ${count(plan.tasks.length, 'package file')} over ${count(usable.length, 'feed')}`,
    {
      phase: 'plan',
    },
  );

  const imageTasks = discovered.flatMap((set) => images.get(set.label)?.plan?.tasks ?? []);
  const tasks: FileTask[] = [...plan.tasks, ...imageTasks];
  // The index files nobody plans with (Packages.manifest, index.json) come in beside the packages.
  const [, extras] = await Promise.all([
    fetchTasks(ctx, tasks),
    fetchIndexExtras(
      ctx,
      usable.flatMap(({ index }) => (index ? [index] : [])),
    ),
  ]);
  if (ctx.signal?.aborted) throw new AbortedError();

  // Assemble, pure: every feed and every target directory taken new, kept, or failed.
  const tasksOf = (dir: string) => tasks.filter((task) => task.unit === dir);
  const units: Unit[] = refs.map((ref) =>
    feedUnit(ref, usableByDir.get(ref.dir), tasksOf(ref.dir), extras, format.marker),
  );
  for (const set of discovered) {
    const image = images.get(set.label);
    const profiles = { 'profiles.json': learntFile(ctx, set.profilesRel) };
    units.push({
      dir: set.targetDir,
      ...(many && { set: set.label }),
      fresh: !withImages(set)
        ? { indexFiles: profiles, tasks: [] }
        : image?.plan && { indexFiles: { ...profiles, ...image.plan.indexFiles }, tasks: image.plan.tasks },
      verifiedThisRun: true,
      fallback: profiles,
      validatorKeys: [set.profilesRel, `${set.targetDir}/sha256sums`, `${set.targetDir}/sha256sums.sig`],
    });
  }
  // Sets configured but not discovered this run keep their directories as they were.
  const servedSets = previousSets(previous);
  const discoveredTargets = new Set(discovered.map((set) => set.config.target));
  const unitDirs = new Set(units.map((unit) => unit.dir));
  for (const set of configured) {
    if (discoveredTargets.has(set.target)) continue;
    const last = servedSets[set.target];
    for (const dir of last ? [last.targetDir, ...last.feedDirs] : []) {
      if (unitDirs.has(dir)) continue;
      units.push({ dir, verifiedThisRun: false, validatorKeys: [] });
      unitDirs.add(dir);
    }
  }
  const withdrawn = withdrawnDirs(previous, configured, discovered, ctx.now());
  const readSums = async (file: ServedFile) =>
    parseSha256Sums((await ctx.pool.read(file.sha256)).toString('utf8'));
  const assembly = await assembleRelease({
    units,
    previousFiles,
    targetDirs: discovered.map((set) => set.targetDir),
    readSums,
    withdrawn,
    dropped: previous.dropped,
    now: ctx.now(),
    graceHours: config.pruneGraceHours,
  });
  report.failures.push(...assembly.failures);
  countInto(report, tasks, usable, discovered, images, ctx.release);
  for (const feedReport of report.feeds.filter((f) => f.release === release)) {
    const decision = assembly.decisions.get(feedReport.dir);
    const unit = units.find((u) => u.dir === feedReport.dir);
    if (decision && unit)
      feedReport.state = feedOutcome(
        decision,
        unit,
        usableByDir.get(feedReport.dir)?.index?.changed ?? false,
      );
  }

  // Publish, unless no feed can be served whole: nothing without a feed is published.
  const feedStates: Record<string, FeedState> = {};
  for (const unit of units) {
    const taken = assembly.decisions.get(unit.dir)?.taken;
    if (taken === undefined || taken === 'failed' || (unit.feed === undefined && !previous.feeds[unit.dir]))
      continue;
    const feed = usableByDir.get(unit.dir);
    const state =
      taken === 'new' && feed?.index
        ? {
            name: feed.ref.name,
            dir: unit.dir,
            indexFiles: feed.index.indexFiles,
            packages: feed.packages.length,
          }
        : (previous.feeds[unit.dir] ?? feed?.lastGood);
    if (state) feedStates[unit.dir] = state;
  }
  if (Object.keys(feedStates).length === 0) {
    report.failures.push({ reason: `${release}: no feed could be served whole: nothing new is published` });
    return lastOutcome();
  }
  for (const dir of assembly.withdrawn.keys()) {
    const last = previous.feeds[dir];
    if (last) feedStates[dir] = last;
  }
  const sets: Record<string, SetState> = {};
  for (const [target, last] of Object.entries(servedSets)) {
    if (
      configured.some((set) => set.target === target) ||
      [...assembly.withdrawn.keys()].includes(last.targetDir)
    ) {
      sets[target] = last;
    }
  }
  for (const set of discovered) {
    sets[set.config.target] = {
      arch: set.arch,
      feedDirs: set.feeds.map((f) => f.dir),
      targetDir: set.targetDir,
    };
  }
  const unchanged = previous.generation !== undefined && manifestsEqual(assembly.manifest, previousFiles);
  const generation = await publishRelease(
    ctx,
    assembly.manifest,
    {
      schema: 1,
      release,
      files: Object.fromEntries(assembly.manifest),
      validators: committedValidators(previous, ctx.validators, assembly.fresh, assembly.kept),
      feeds: feedStates,
      dropped: assembly.dropped,
      lastSuccessAt:
        report.failures.length === failuresBefore ? ctx.now().toISOString() : previous.lastSuccessAt,
      sets,
      withdrawn: Object.fromEntries(assembly.withdrawn),
    },
    unchanged,
  );
  report.published = true;
  report.generations[release] = generation;

  const lines: SetLines[] = discovered.map((set) => ({
    release,
    target: set.config.target,
    arch: set.arch,
    format,
    feeds: set.feeds.filter(
      (ref) => assembly.decisions.get(ref.dir)?.taken !== 'failed' && hasFiles(assembly.manifest, ref.dir),
    ),
  }));
  const status: SetStatusInput[] = discovered.map((set) => ({
    release,
    target: set.config.target,
    arch: set.arch,
    format: format.name,
    mode: set.config.mode,
    feeds: set.feeds,
    targetDir: set.targetDir,
    imageInfo: imageInfo(set),
  }));
  for (const [target, last] of Object.entries(sets)) {
    if (configured.some((set) => set.target === target)) continue;
    const until = untilOf(assembly.withdrawn.get(last.targetDir), config.pruneGraceHours);
    const refsOf = last.feedDirs.map((dir) => feedRefOf(dir, last.arch));
    lines.push({
      release,
      target,
      arch: last.arch,
      format,
      feeds: refsOf.filter((ref) => hasFiles(assembly.manifest, ref.dir)),
    });
    status.push({
      release,
      target,
      arch: last.arch,
      format: format.name,
      mode: 'selective',
      feeds: refsOf,
      targetDir: last.targetDir,
      ...(until && { withdrawnUntil: until }),
    });
  }
  return { release, manifest: assembly.manifest, generation, lines, status };
}

function dirOf(refusal: Refusal): string {
  return refusal.file.slice(0, refusal.file.lastIndexOf('/'));
}

function feedUnit(
  ref: FeedRef,
  feed: UsableFeed | undefined,
  tasks: FileTask[],
  extras: Map<string, string>,
  marker: string,
): Unit {
  const indexFiles = feed?.index?.indexFiles ?? feed?.lastGood?.indexFiles;
  return {
    dir: ref.dir,
    feed: ref.name,
    ...(indexFiles && {
      fresh: { indexFiles, tasks, ...(extras.has(ref.dir) && { blocker: extras.get(ref.dir) }) },
    }),
    verifiedThisRun: feed?.index !== undefined,
    validatorKeys: [`${ref.dir}/${marker}`],
  };
}

/** Counters per feed and per set's images, and in total, from the tasks' outcomes. */
function countInto(
  report: SyncContext['report'],
  tasks: FileTask[],
  usable: { ref: FeedRef; report: Counters }[],
  discovered: DiscoveredSet[],
  images: Map<string, { plan?: ImagePlan }>,
  release: string,
): void {
  const of = (list: FileTask[]): Counters => {
    const counters = emptyCounters();
    for (const task of list) {
      counters.planned++;
      if (!task.outcome?.ok) counters.failed++;
      else if (task.outcome.fetched) {
        counters.downloaded++;
        counters.bytes += task.outcome.served.size;
      } else counters.skipped++;
    }
    return counters;
  };
  for (const feed of usable) addCounters(feed.report, of(tasks.filter((task) => task.unit === feed.ref.dir)));
  for (const set of discovered) {
    const plan = images.get(set.label)?.plan;
    const setReport = report.sets.find(
      (s) => s.release === release && s.target === set.config.target,
    ) as SetReport;
    if (set.config.devices.length > 0) {
      const devices = set.config.devices.filter((device) => set.profiles.profiles.has(device));
      setReport.images = { devices, ...of(plan?.tasks ?? []) };
    }
  }
  addCounters(report, of(tasks));
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
function imageInfo(set: DiscoveredSet): Map<string, { device: string; type: string }> {
  const info = new Map<string, { device: string; type: string }>();
  for (const [device, profile] of set.profiles.profiles) {
    for (const image of profile.images)
      info.set(`${set.targetDir}/${image.name}`, { device, type: image.type });
  }
  return info;
}

/** The sets the last run served: from the state, or, for a state of before sets, from its files. */
function previousSets(previous: {
  sets?: Record<string, SetState>;
  files: Record<string, ServedFile>;
  feeds: Record<string, { dir: string }>;
}): Record<string, SetState> {
  if (previous.sets) return previous.sets;
  const sets: Record<string, SetState> = {};
  for (const file of Object.keys(previous.files)) {
    const match = /^targets\/([^/]+\/[^/]+)\//.exec(file);
    if (!match?.[1] || sets[match[1]]) continue;
    const target = match[1];
    const feedDirs = Object.keys(previous.feeds);
    const arch = feedDirs.map((dir) => /^packages\/([^/]+)\//.exec(dir)?.[1]).find(Boolean) ?? '';
    sets[target] = { arch, feedDirs, targetDir: `targets/${target}` };
  }
  return sets;
}

/**
 * The directories of sets no longer configured, with when they were withdrawn: a removed target's
 * own directory, and arch feeds that no set configured now uses.
 */
function withdrawnDirs(
  previous: Parameters<typeof previousSets>[0] & { withdrawn?: Record<string, string> },
  configured: SetConfig[],
  discovered: DiscoveredSet[],
  now: Date,
): Map<string, string> {
  const last = previousSets(previous);
  const inUse = new Set<string>();
  for (const set of configured) {
    const found = discovered.find((d) => d.config.target === set.target);
    for (const dir of found ? found.feeds.map((f) => f.dir) : (last[set.target]?.feedDirs ?? []))
      inUse.add(dir);
    inUse.add(`targets/${set.target}`);
  }
  const withdrawn = new Map<string, string>();
  for (const set of Object.values(last)) {
    for (const dir of [set.targetDir, ...set.feedDirs]) {
      if (inUse.has(dir) || dir.startsWith(`${set.targetDir}/`)) continue;
      withdrawn.set(dir, previous.withdrawn?.[dir] ?? now.toISOString());
    }
  }
  return withdrawn;
}

function untilOf(since: string | undefined, graceHours: number): string | undefined {
  return since === undefined
    ? undefined
    : new Date(new Date(since).getTime() + graceHours * 3_600_000).toISOString();
}

function feedRefOf(dir: string, arch: string): FeedRef {
  const name = /^targets\/[^/]+\/[^/]+\/packages$/.test(dir)
    ? 'core'
    : /\/kmods\//.test(dir)
      ? 'kmods'
      : dir.slice(dir.lastIndexOf('/') + 1);
  return { name, distName: `openwrt_${name}`, dir, arch };
}

function hasFiles(manifest: Manifest, dir: string): boolean {
  for (const file of manifest.keys()) if (file.startsWith(`${dir}/`)) return true;
  return false;
}

/** The lines of the sets a state says were served, for a release this run could not publish. */
function previousLines(previous: Parameters<typeof previousSets>[0], format: SetLines['format']): SetLines[] {
  const files = new Map(Object.entries(previous.files));
  return Object.entries(previousSets(previous)).map(([target, set]) => ({
    release: (previous as { release?: string }).release ?? '',
    target,
    arch: set.arch,
    format,
    feeds: set.feedDirs.map((dir) => feedRefOf(dir, set.arch)).filter((ref) => hasFiles(files, ref.dir)),
  }));
}

function previousStatus(
  previous: Parameters<typeof previousSets>[0] & { release: string },
  format: SetStatusInput['format'],
  configured: SetConfig[],
): SetStatusInput[] {
  return Object.entries(previousSets(previous)).map(([target, set]) => ({
    release: previous.release,
    target,
    arch: set.arch,
    format,
    mode: configured.find((c) => c.target === target)?.mode ?? 'selective',
    feeds: set.feedDirs.map((dir) => feedRefOf(dir, set.arch)),
    targetDir: set.targetDir,
  }));
}
