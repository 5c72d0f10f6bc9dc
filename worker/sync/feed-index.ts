/**
 * A feed's index, checked before it is trusted. The format's marker (opkg: Packages.sig, apk: the
 * signed packages.adb itself) is revalidated first: unchanged means the whole feed is unchanged, so
 * a quiet night costs one conditional request per feed. A changed index must pass the format's
 * checks and must not suddenly list far fewer packages than the last good one.
 */
import { AbortedError, UntrustedInputError } from '../errors.js';
import type { PackageRecord, RecordFields } from '../feeds/types.js';
import type { FeedFormat } from '../formats/index.js';
import type { FeedState } from '../publish/state.js';
import type { ServedFile } from '../publish/types.js';
import { askRevalidatedAhead, fetchRevalidated, type SyncContext } from './context.js';
import type { FeedRef } from './discover.js';
import { FeedRecords } from './feed-records.js';
import { absentAsUndefined, askIndexFileAhead, fetchIndexFile } from './index-files.js';

export interface FeedIndex {
  ref: FeedRef;
  /** Parsed when first read: a quiet night (sync/quiet.ts) never reads an unchanged one. */
  records: FeedRecords;
  /** How many packages the index lists. */
  count: number;
  /** Index files to serve, by file name. */
  indexFiles: Record<string, ServedFile>;
  changed: boolean;
  /** Entries of the index that were skipped, with the reason. */
  problems: string[];
  /** Index files to fetch beside the packages (nothing plans with them); added to `indexFiles`. */
  extras: string[];
}

/** Below this many packages a shrinking index is not suspicious (small feeds change a lot). */
const SHRINK_FLOOR = 20;
/** An index that lists less than this share of the last good one's packages is refused. */
const SHRINK_RATIO = 0.5;

export async function fetchFeedIndex(ctx: SyncContext, ref: FeedRef, format: FeedFormat): Promise<FeedIndex> {
  const last = ctx.previous.feeds[ref.dir];
  const markerRel = `${ref.dir}/${format.marker}`;
  const asking = fetchRevalidated(ctx, markerRel, format.markerMaxBytes);
  // Nothing to revalidate the marker with (the feed's first sync): the index is needed whatever the
  // marker says, so what checkIndex fetches goes right behind it, a round trip sooner.
  const early = needsCompanions(ctx, markerRel)
    ? companions(ctx, ref.dir, format)
    : new Map<string, Promise<Buffer>>();
  const marker = await asking;

  if (!marker.changed && last) {
    const parse = await lastGoodIndex(ctx, last, format);
    if (parse) {
      return {
        ref,
        records: new FeedRecords(parse, readRecords(ctx, last.indexFiles, format)),
        count: last.packages,
        indexFiles: last.indexFiles,
        changed: false,
        problems: [],
        extras: [],
      };
    }
  }

  const checked = await format.checkIndex({
    dir: ref.dir,
    marker: marker.body,
    fetch: (name, options) => {
      const fetching = early.get(name) ?? fetchIndexFile(ctx, `${ref.dir}/${name}`);
      early.delete(name);
      return options?.optional ? absentAsUndefined(fetching) : fetching;
    },
    keys: ctx.keys,
    arch: ref.arch,
    memory: ctx.indexMemory,
  });
  ctx.report.warnings.push(...checked.warnings);
  if (last && last.packages >= SHRINK_FLOOR && checked.packages.length < last.packages * SHRINK_RATIO) {
    throw new UntrustedInputError(
      `${ref.dir}/${format.indexFile} lists ${checked.packages.length} packages where the last good index listed ` +
        `${last.packages}: the upstream looks broken, keeping the last good state`,
    );
  }
  const indexFiles: Record<string, ServedFile> = {};
  for (const [name, body] of Object.entries(checked.files)) {
    indexFiles[name] = { sha256: await ctx.pool.admitBuffer(body), size: body.length };
  }
  return {
    ref,
    records: new FeedRecords(checked.packages, readRecords(ctx, indexFiles, format)),
    count: checked.packages.length,
    indexFiles,
    changed: true,
    problems: checked.problems,
    extras: checked.extras,
  };
}

/** Asks for what fetchFeedIndex asks of the feed in `dir` first, before it does (ahead.ts). */
export function askFeedAhead(ctx: SyncContext, dir: string, format: FeedFormat): void {
  const markerRel = `${dir}/${format.marker}`;
  askRevalidatedAhead(ctx, markerRel, format.markerMaxBytes);
  if (needsCompanions(ctx, markerRel))
    for (const name of format.companions) askIndexFileAhead(ctx, `${dir}/${name}`);
}

/** Nothing to revalidate the marker with (the feed's first sync): its companions go beside it. */
function needsCompanions(ctx: SyncContext, markerRel: string): boolean {
  return ctx.previous.validators[markerRel] === undefined;
}

/** The format's companion files of a feed, requested now; a failure surfaces where one is read. */
function companions(ctx: SyncContext, dir: string, format: FeedFormat): Map<string, Promise<Buffer>> {
  const early = new Map<string, Promise<Buffer>>();
  for (const name of format.companions) {
    const fetching = fetchIndexFile(ctx, `${dir}/${name}`);
    // Never read when the marker fails: that is the feed's error, not this one.
    fetching.catch(() => {});
    early.set(name, fetching);
  }
  return early;
}

/**
 * Fetches the extra index files of new indexes (absent upstream: not served) into their
 * `indexFiles`, as side requests beside the downloads (side.ts). Returns feed directory → reason
 * for the feeds where one could not be had.
 */
export async function fetchIndexExtras(ctx: SyncContext, indexes: FeedIndex[]): Promise<Map<string, string>> {
  const failures = new Map<string, string>();
  await Promise.all(
    indexes.flatMap((index) =>
      index.extras.map(async (name) => {
        const rel = `${index.ref.dir}/${name}`;
        try {
          const body = await ctx.side.run(() => fetchIndexFile(ctx, rel, { optional: true, side: true }));
          if (body) index.indexFiles[name] = { sha256: await ctx.pool.admitBuffer(body), size: body.length };
        } catch (error) {
          if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
          failures.set(index.ref.dir, `${rel}: ${(error as Error).message}`);
        }
      }),
    ),
  );
  return failures;
}

/** The records of a feed's last good index, read from the pool when asked for; undefined if any of its files is gone. */
export async function lastGoodRecords(
  ctx: SyncContext,
  last: FeedState,
  format: FeedFormat,
): Promise<FeedRecords | undefined> {
  const parse = await lastGoodIndex(ctx, last, format);
  return parse && new FeedRecords(parse, readRecords(ctx, last.indexFiles, format));
}

/**
 * A feed's last good index, read back from the pool, to be parsed when called; undefined if any of
 * its files is gone.
 */
async function lastGoodIndex(
  ctx: SyncContext,
  last: FeedState,
  format: FeedFormat,
): Promise<(() => PackageRecord[]) | undefined> {
  for (const file of Object.values(last.indexFiles)) {
    if (!(await ctx.pool.has(file.sha256, file.size))) return undefined;
  }
  const index = last.indexFiles[format.indexFile];
  if (!index) return undefined;
  ctx.indexMemory.keep(index.size, `${last.dir}/${format.indexFile}`);
  const bytes = await ctx.pool.read(index.sha256);
  return () => format.readIndex(bytes, 'plan');
}

/**
 * The records of a feed's index, a record at a time as they are read back from the pool (undefined
 * when it is gone). Not charged to the run's index memory: nothing holds them all.
 */
export async function indexRecords(
  ctx: Pick<SyncContext, 'pool'>,
  indexFiles: Record<string, ServedFile>,
  format: FeedFormat,
  fields: RecordFields,
): Promise<AsyncIterable<PackageRecord> | undefined> {
  const index = indexFiles[format.indexFile];
  if (!index || !(await ctx.pool.has(index.sha256, index.size))) return undefined;
  return format.streamIndex(ctx.pool.stream(index.sha256), fields);
}

/** The records of an index this run serves, read back when it publishes (feed-records.ts). */
function readRecords(
  ctx: Pick<SyncContext, 'pool'>,
  indexFiles: Record<string, ServedFile>,
  format: FeedFormat,
): (fields: RecordFields) => AsyncIterable<PackageRecord> {
  return async function* (fields) {
    const records = await indexRecords(ctx, indexFiles, format, fields);
    if (records === undefined)
      throw new Error(`${format.indexFile} of a feed served this run is gone from the pool`);
    yield* records;
  };
}
