/**
 * Assembling the next generation's manifest: each feed new or kept as it was, the files kept for
 * the grace period, and the validators that go with what is served. Pure: maps in, maps out.
 */
import path from 'node:path';
import { FEED_INDEX_NAMES, TARGET_DIR_NAMES } from '../feeds/filename.js';
import type { DroppedFile, FeedState, ReleaseState } from '../publish/state.js';
import type { Manifest, ServedFile } from '../publish/types.js';
import type { SyncContext } from './context.js';
import type { FetchOutcome } from './download.js';
import type { UsableFeed } from './indexes.js';
import type { PlannedFile } from './plan.js';
import { addCounters, type Counters, emptyCounters, type Failure } from './report.js';

/** Index files of a feed or the target directory: never kept for the grace period. */
const INDEX_NAMES = new Set([...FEED_INDEX_NAMES, ...TARGET_DIR_NAMES]);

/** The files directly in `dir` (a feed, or the target directory's own) as the last generation served them. */
export function copyDirectoryFiles(from: Map<string, ServedFile>, into: Manifest, dir: string): void {
  for (const [file, served] of from) {
    if (file.startsWith(`${dir}/`) && !file.slice(dir.length + 1).includes('/')) into.set(file, served);
  }
}

/** What the feeds contribute to the next generation. */
export interface FeedAssembly {
  /** The feeds served, by directory. */
  feeds: Record<string, FeedState>;
  failures: Failure[];
  /** Validator keys (release-relative paths) of what is served new, and of what is kept as it was. */
  fresh: string[];
  kept: string[];
}

/**
 * Each feed whole with its new index and every file the plan wants from it, or as it was: an index
 * is only served with every file the mirror serves from it. Without a last good state a feed that
 * cannot be served whole is not served, and waits for the next run.
 */
export function assembleFeeds(
  manifest: Manifest,
  input: {
    usable: UsableFeed[];
    plan: PlannedFile[];
    outcomes: Map<string, FetchOutcome>;
    /** Feed directory → why an extra index file could not be had. */
    extras: Map<string, string>;
    counters: Map<string, Counters>;
    previousFiles: Map<string, ServedFile>;
    /** The format's change marker, e.g. `Packages.sig`. */
    marker: string;
  },
): FeedAssembly {
  const result: FeedAssembly = { feeds: {}, failures: [], fresh: [], kept: [] };
  for (const { ref, packages, index, lastGood, report } of input.usable) {
    addCounters(report, input.counters.get(ref.dir) ?? emptyCounters());
    const files = input.plan.filter((file) => file.feedDir === ref.dir);
    const failed = files.filter((file) => !input.outcomes.get(file.rel)?.ok);
    for (const file of failed) {
      const outcome = input.outcomes.get(file.rel) as Extract<FetchOutcome, { ok: false }>;
      result.failures.push({
        feed: ref.name,
        file: file.rel,
        package: file.pkg.name,
        reason: outcome.reason,
      });
    }
    const extrasFailure = input.extras.get(ref.dir);
    if (extrasFailure) result.failures.push({ feed: ref.name, reason: extrasFailure });
    if (failed.length > 0 || extrasFailure) {
      if (lastGood) {
        copyDirectoryFiles(input.previousFiles, manifest, ref.dir);
        result.feeds[ref.dir] = lastGood;
        result.kept.push(`${ref.dir}/${input.marker}`);
        report.state = 'kept';
      } else {
        report.state = 'failed';
      }
      continue;
    }
    const indexFiles = index?.indexFiles ?? lastGood?.indexFiles ?? {};
    for (const [name, served] of Object.entries(indexFiles)) manifest.set(`${ref.dir}/${name}`, served);
    for (const file of files) {
      const outcome = input.outcomes.get(file.rel) as Extract<FetchOutcome, { ok: true }>;
      manifest.set(file.rel, outcome.served);
    }
    result.feeds[ref.dir] = { name: ref.name, dir: ref.dir, indexFiles, packages: packages.length };
    (index ? result.fresh : result.kept).push(`${ref.dir}/${input.marker}`);
  }
  return result;
}

/**
 * Files the previous generation served and this one does not stay for the grace period, so a node
 * holding a slightly older index still finds them. Returns the new grace list. Only what an index
 * lists (packages, images) is kept so: an index or signature of its own would be served beside the
 * new ones it contradicts.
 */
export function keepForGrace(
  previousFiles: Map<string, ServedFile>,
  manifest: Manifest,
  dropped: Record<string, DroppedFile>,
  now: Date,
  graceHours: number,
): Record<string, DroppedFile> {
  const next: Record<string, DroppedFile> = {};
  for (const [file, served] of previousFiles) {
    if (manifest.has(file) || INDEX_NAMES.has(path.posix.basename(file))) continue;
    const since = dropped[file]?.since ?? now.toISOString();
    if (now.getTime() - new Date(since).getTime() < graceHours * 3_600_000) {
      manifest.set(file, served);
      next[file] = { ...served, since };
    }
  }
  return next;
}

export function committedValidators(
  previous: ReleaseState,
  learnt: SyncContext['validators'],
  served: Set<string>,
  kept: Set<string>,
): ReleaseState['validators'] {
  const result: ReleaseState['validators'] = {};
  for (const key of served) {
    const value = learnt[key] ?? previous.validators[key];
    if (value) result[key] = value;
  }
  // A kept feed must be fetched again next run even if the upstream does not change any more.
  for (const key of kept) {
    const value = previous.validators[key];
    if (value) result[key] = value;
  }
  return result;
}
