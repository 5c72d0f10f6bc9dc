/**
 * The index phase: every feed's index fetched and checked at once, and what each feed can serve this
 * run — its new index, its last good one, or nothing. Refusals are reported here, and those with one
 * cause the operator can fix (a signing key the mirror does not trust) are told once, first, with
 * how to fix it, instead of once per feed and again as every package the feeds would have held.
 */
import type { Config } from '../config.js';
import { AbortedError, UntrustedKeyError } from '../errors.js';
import type { FeedFormat } from '../formats/index.js';
import type { FeedState } from '../publish/state.js';
import { count } from '../status/units.js';
import type { SyncContext } from './context.js';
import type { DiscoveredSet, FeedRef } from './discover.js';
import { type FeedIndex, fetchFeedIndex, lastGoodRecords } from './feed-index.js';
import type { FeedRecords } from './feed-records.js';
import { devicesListed, type ImagePlan, missingDevices, planImages } from './images.js';
import { emptyCounters } from './report.js';
import type { Failure, FeedReport, FileTask } from './types.js';

/** A feed that has an index to plan with: the new one, or its last good one (`index` undefined). */
export interface UsableFeed {
  ref: FeedRef;
  /** The index's, parsed when first read (feed-index.ts), let go through the downloads (feed-records.ts). */
  records: FeedRecords;
  index?: FeedIndex;
  lastGood?: FeedState;
  report: FeedReport;
}

/** Something signed that was refused: a feed's index, or the target's sha256sums. */
export interface Refusal {
  /** The feed's name, for an index. */
  feed?: string;
  file: string;
  error: Error;
}

/** What the index phase leaves for planning: every feed directory once, what each can serve, the images' sums. */
export interface IndexStage {
  /** Every feed directory of the release's sets, each once however many sets share it. */
  refs: FeedRef[];
  usable: UsableFeed[];
  refused: Refusal[];
  /** By set label: the configured devices its profiles.json lists, and their images' plan or why not. */
  images: Map<string, SetImages>;
  /** Nothing of this run is verified (every index refused) or usable: nothing of it can be published. */
  nothingUsable: boolean;
}

export interface SetImages {
  devices: string[];
  plan?: ImagePlan;
  error?: Error;
}

/**
 * The index phase of a release: every feed's index, and each target's signed image sums beside
 * them (neither needs the other). Refusals and devices no target lists become failures here, each
 * named with the sets it concerns when the mirror has several.
 */
export async function indexStage(
  ctx: SyncContext,
  discovered: DiscoveredSet[],
  format: FeedFormat,
  many: boolean,
  early: {
    /** Told each target's image tasks as soon as its signed sums verify, before the indexes are in. */
    images?: (tasks: FileTask[]) => void;
    /** Told each feed's index as soon as it verifies. */
    index?: (ref: FeedRef, index: FeedIndex) => void;
  } = {},
): Promise<IndexStage> {
  const { report, logger, config } = ctx;
  // Each target mirrors the configured devices its profiles.json lists.
  const devices = new Map(discovered.map((set) => [set.label, devicesListed(set)]));
  const planned = new Map(
    discovered
      .filter((set) => (devices.get(set.label) ?? []).length > 0)
      .map((set) => {
        const plan = planImages(ctx, set, devices.get(set.label) ?? []).then((images) => {
          early.images?.(images.tasks);
          return images;
        });
        return [set.label, settle(plan)] as const;
      }),
  );
  const refs = [...new Map(discovered.flatMap((set) => set.feeds).map((ref) => [ref.dir, ref])).values()];
  const { usable, refused } = await fetchIndexes(ctx, refs, format, early.index);
  const images = new Map<string, SetImages>();
  for (const set of discovered) {
    const plan = planned.get(set.label);
    images.set(set.label, { devices: devices.get(set.label) ?? [], ...(plan && (await plan)) });
  }
  if ([...images.values()].some((i) => i.error instanceof AbortedError) || ctx.signal?.aborted) {
    throw new AbortedError();
  }

  const allRefused = refused.length === refs.length;
  const refusals: Refusal[] = [...refused];
  for (const set of discovered) {
    const error = images.get(set.label)?.error;
    if (error) refusals.push({ file: `${set.targetDir}/sha256sums`, error });
  }
  // A refusal is the failure of the sets that use its directory: one set's core, kmods or target
  // directory, or every set of the release that shares an arch feed.
  const setsOf = (file: string) =>
    discovered
      .filter((set) =>
        [set.targetDir, ...set.feeds.map((feed) => feed.dir)].some((dir) => file.startsWith(`${dir}/`)),
      )
      .map((set) => set.label);
  for (const failure of refusalFailures(config, refusals, allRefused)) {
    const sets = many && failure.file !== undefined ? setsOf(failure.file) : [];
    report.failures.push(sets.length > 0 ? { set: sets.join(', '), ...failure } : failure);
  }
  const served = ctx.previous.generation !== undefined;
  for (const set of discovered) {
    const error = images.get(set.label)?.error;
    if (error) {
      const kept = served ? ' (the images already served stay)' : '';
      logger.error(`${set.label}: images: ${error.message}${kept}`, { phase: 'images' });
    }
  }
  report.failures.push(...missingDevices(discovered));
  const nothingUsable = allRefused || usable.length === 0;
  if (nothingUsable) {
    const kept = served ? ', the tree served before stays served' : '';
    logger.error(`${ctx.release}: no index of this run could be used: nothing new is published${kept}`, {
      phase: 'index',
    });
  }
  return { refs, usable, refused, images, nothingUsable };
}

/** A promise's outcome as a value, so that it is never left rejected while the indexes come in. */
async function settle(plan: Promise<ImagePlan>): Promise<{ plan?: ImagePlan; error?: Error }> {
  try {
    return { plan: await plan };
  } catch (error) {
    return { error: error as Error };
  }
}

export async function fetchIndexes(
  ctx: SyncContext,
  refs: FeedRef[],
  format: FeedFormat,
  onIndex: (ref: FeedRef, index: FeedIndex) => void = () => {},
): Promise<{ usable: UsableFeed[]; refused: Refusal[] }> {
  const { report, logger, previous } = ctx;
  const results = await Promise.all(
    refs.map(async (ref) => {
      const startedAt = Date.now();
      try {
        const index = await fetchFeedIndex(ctx, ref, format);
        // An unchanged index brings nothing new to fetch early: its files are in the pool.
        if (index.changed) onIndex(ref, index);
        return { ref, index, startedAt };
      } catch (error) {
        if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
        return { ref, error: error as Error, startedAt };
      }
    }),
  );
  const usable: UsableFeed[] = [];
  const refused: Refusal[] = [];
  for (const { ref, index, error, startedAt } of results) {
    const lastGood = previous.feeds[ref.dir];
    const feedReport: FeedReport = {
      release: ctx.release,
      name: ref.name,
      distName: ref.distName,
      dir: ref.dir,
      state: index ? (index.changed ? 'updated' : 'unchanged') : lastGood ? 'kept' : 'failed',
      packagesInIndex: index?.count ?? lastGood?.packages ?? 0,
      durationMs: Date.now() - startedAt,
      ...emptyCounters(),
    };
    report.feeds.push(feedReport);
    if (index) {
      for (const problem of index.problems)
        report.warnings.push(`${ref.dir}/${format.indexFile}: ${problem}`);
      usable.push({
        ref,
        records: index.records,
        index,
        lastGood,
        report: feedReport,
      });
      logger.info(
        `${ref.distName}: index ${index.changed ? 'updated' : 'unchanged'}, ${count(index.count, 'package')}`,
        { phase: 'index', feed: ref.name },
      );
      continue;
    }
    const reason = error?.message ?? 'unknown error';
    feedReport.error = reason;
    refused.push({
      feed: ref.name,
      file: `${ref.dir}/${format.indexFile}`,
      error: error ?? new Error(reason),
    });
    logger.error(
      `${ref.distName}: index refused: ${reason}${lastGood ? ' (keeping the last good state)' : ''}`,
      { phase: 'index', feed: ref.name },
    );
    const records = lastGood ? await lastGoodRecords(ctx, lastGood, format) : undefined;
    if (lastGood && records) usable.push({ ref, records, lastGood, report: feedReport });
  }
  return { usable, refused };
}

/**
 * The failures for what was refused: one line, first, for everything signed by keys the mirror does
 * not trust, and one per other refusal.
 */
export function refusalFailures(config: Config, refused: Refusal[], allRefused: boolean): Failure[] {
  const untrusted = refused.filter(
    (r): r is Refusal & { error: UntrustedKeyError } => r.error instanceof UntrustedKeyError,
  );
  const failures: Failure[] = [];
  if (untrusted.length > 0) failures.push({ reason: untrustedKeyMessage(config, untrusted, allRefused) });
  for (const { feed, file, error } of refused) {
    if (!(error instanceof UntrustedKeyError))
      failures.push({ ...(feed && { feed }), file, reason: error.message });
  }
  return failures;
}

function untrustedKeyMessage(
  config: Config,
  untrusted: (Refusal & { error: UntrustedKeyError })[],
  allRefused: boolean,
): string {
  const kinds = new Set(untrusted.map((r) => r.error.keyKind));
  const keys = [
    ...new Set(untrusted.flatMap((r) => r.error.keyIds.map((id) => `${r.error.keyKind} key ${id}`))),
  ];
  const what = untrusted.map((r) => r.feed ?? r.file);
  const where = config.extraKeysDir
    ? `the keys.d directory beside docker-compose.yml (${config.extraKeysDir} in the worker) or OPENWRT_KEYS_DIR (${config.keysDir})`
    : `the directory OPENWRT_KEYS_DIR names (${config.keysDir})`;
  const file = [
    kinds.has('usign') ? 'a usign public key file named after its fingerprint' : '',
    kinds.has('apk') ? 'an apk public key as a .pem file' : '',
  ]
    .filter(Boolean)
    .join(', or ');
  const outcome = allRefused
    ? 'so nothing new is served'
    : `so ${what.length === 1 ? 'it is' : 'they are'} not used (a feed keeps its last good state, if it has one)`;
  return (
    `signed by a key that is not trusted: ${keys.join(', ')} signed ${what.join(', ')}, ${outcome}. ` +
    `If you trust this upstream, put its key (${file}) in ${where}, then sync again.`
  );
}
