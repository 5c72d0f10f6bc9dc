/** Generated `filler-<feed>-<n>` packages for full-mode and benchmark trees, spread over every feed. */
import { hash32 } from '../bytes.js';
import { FEED_ORDER, type FeedName, type PackageSpec, pkg } from './spec.js';

/** How many fillers each feed gets, relative to the others; a feed left out gets none. */
export type FillerShares = Partial<Record<FeedName, number>>;

/**
 * Each filler depends on libc (kmods: the kernel) and on up to two earlier fillers, of any feed.
 * Without `shares` they go round the feeds in turn; with them, each feed gets its share (a
 * low-discrepancy walk, so any prefix of the fillers is spread in the same proportions).
 */
export function fillerTable(
  count: number,
  kernelDep: string,
  shares?: FillerShares,
): Map<FeedName, PackageSpec[]> {
  const byFeed = new Map<FeedName, PackageSpec[]>();
  const feedOf = shares
    ? sharedFeedOf(shares)
    : (i: number): FeedName => FEED_ORDER[i % FEED_ORDER.length] ?? 'packages';
  const nameOf = (i: number) => `filler-${feedOf(i)}-${i}`;
  for (let i = 0; i < count; i++) {
    const feed = feedOf(i);
    const h = hash32(`filler ${i}`);
    const deps = feed === 'kmods' ? [kernelDep] : ['libc'];
    for (const back of [1 + (h % 7), 8 + ((h >>> 8) % 31)]) {
      if (i - back >= 0 && (h >>> 16) % 4 !== 0) deps.push(nameOf(i - back));
    }
    const list = byFeed.get(feed) ?? [];
    list.push(
      pkg(nameOf(i), `1.${i % 7}.${i % 13}-r1`, deps.join(', '), {
        license: 'MIT',
        section: feed === 'kmods' ? 'kernel' : 'utils',
        description: `Generated filler package number ${i}.`,
      }),
    );
    byFeed.set(feed, list);
  }
  return byFeed;
}

/** The feed of filler i when the feeds get `shares` of them. */
function sharedFeedOf(shares: FillerShares): (i: number) => FeedName {
  const feeds = FEED_ORDER.filter((feed) => (shares[feed] ?? 0) > 0);
  const total = feeds.reduce((sum, feed) => sum + (shares[feed] ?? 0), 0);
  if (feeds.length === 0 || !Number.isFinite(total))
    throw new TypeError(`filler shares must give some feed a positive share, got ${JSON.stringify(shares)}`);
  return (i) => {
    // The fractional parts of i × the golden ratio fill [0, 1) evenly.
    let point = (((i + 1) * 0.6180339887498949) % 1) * total;
    for (const feed of feeds) {
      point -= shares[feed] ?? 0;
      if (point < 0) return feed;
    }
    return feeds.at(-1) as FeedName;
  };
}
