/**
 * What a run changed in what routers can install: per feed, the packages whose files are served now
 * and were not (added), were and are not (removed), or are served in another version (updated), and
 * the images that came, went or changed. Names and versions come from the indexes: the new one for
 * what is served now, the last one (read back from the pool) for what was. Files kept only for the
 * grace period are in neither index's list and so are not counted as served.
 */
import type { PackageRecord } from '../feeds/types.js';
import type { FeedFormat } from '../formats/format.js';
import type { FeedState } from '../publish/state.js';
import type { Manifest } from '../publish/types.js';
import { isImageFile } from '../status/status-file.js';
import type { SyncContext } from './context.js';
import { indexRecords } from './feed-index.js';
import type { ReleaseChanges } from './types.js';

export async function releaseChanges(
  ctx: Pick<SyncContext, 'pool' | 'release'>,
  input: {
    format: FeedFormat;
    previous: Manifest;
    next: Manifest;
    /** The feeds with an index this run, and how to read its records: what is served now is listed there. */
    feeds: { dir: string; name: string; records: () => AsyncIterable<PackageRecord> }[];
    /** The last state's feeds: what was served is listed in their indexes. */
    previousFeeds: Record<string, FeedState>;
  },
): Promise<ReleaseChanges> {
  const changes: ReleaseChanges = { added: [], updated: [], removed: [], images: [] };
  const { format, previous, next } = input;
  for (const feed of input.feeds) {
    const dir = feed.dir;
    const inFeed = (file: string) => directlyIn(file, dir) && file.endsWith(format.packageExtension);
    if (sameFiles(previous, next, inFeed)) continue;
    // One feed's at a time: a map of its served names, not every record of every feed.
    const now = await versions(next, dir, feed.records(), inFeed);
    const last = input.previousFeeds[dir];
    const then = last
      ? await versions(previous, dir, await indexRecords(ctx, last.indexFiles, format, 'plan'), inFeed)
      : new Map<string, string>();
    const name = feed.name;
    for (const [pkg, version] of now) {
      const was = then.get(pkg);
      if (was === undefined) changes.added.push({ release: ctx.release, feed: name, name: pkg, version });
      else if (was !== version)
        changes.updated.push({ release: ctx.release, feed: name, name: pkg, from: was, to: version });
    }
    for (const [pkg, version] of then) {
      if (!now.has(pkg)) changes.removed.push({ release: ctx.release, feed: name, name: pkg, version });
    }
  }
  for (const [file, served] of next) {
    if (!isImageFile(file)) continue;
    const was = previous.get(file);
    if (was === undefined) changes.images.push({ release: ctx.release, path: file, change: 'added' });
    else if (was.sha256 !== served.sha256)
      changes.images.push({ release: ctx.release, path: file, change: 'updated' });
  }
  for (const file of previous.keys()) {
    if (isImageFile(file) && !next.has(file))
      changes.images.push({ release: ctx.release, path: file, change: 'removed' });
  }
  return changes;
}

/** Whether `file` is directly in `dir` (both release-relative), without making a string of either. */
function directlyIn(file: string, dir: string): boolean {
  return (
    file.length > dir.length + 1 &&
    file.startsWith(dir) &&
    file.charCodeAt(dir.length) === 0x2f &&
    file.indexOf('/', dir.length + 1) < 0
  );
}

/** Whether the two manifests hold the same files, with the same bytes, among those `wanted` picks. */
function sameFiles(a: Manifest, b: Manifest, wanted: (file: string) => boolean): boolean {
  let unmatched = 0;
  for (const [file, served] of a) {
    if (!wanted(file)) continue;
    if (b.get(file)?.sha256 !== served.sha256) return false;
    unmatched++;
  }
  for (const file of b.keys()) if (wanted(file)) unmatched--;
  return unmatched === 0;
}

/** Package name → version of the records whose package files (those `wanted` picks) the manifest serves in `dir`. */
async function versions(
  manifest: Manifest,
  dir: string,
  records: AsyncIterable<PackageRecord> | undefined,
  wanted: (file: string) => boolean,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const record of records ?? []) {
    const file = `${dir}/${record.filename}`;
    if (wanted(file) && manifest.has(file)) out.set(record.name, record.version);
  }
  return out;
}
