/** Generated `filler-<feed>-<n>` packages for full-mode and benchmark trees, spread over every feed. */
import { hash32 } from '../bytes.js';
import { FEED_ORDER, type FeedName, type PackageSpec, pkg } from './spec.js';

/** Each filler depends on libc (kmods: the kernel) and on up to two earlier fillers, of any feed. */
export function fillerTable(count: number, kernelDep: string): Map<FeedName, PackageSpec[]> {
  const byFeed = new Map<FeedName, PackageSpec[]>();
  const feedOf = (i: number): FeedName => FEED_ORDER[i % FEED_ORDER.length] ?? 'packages';
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
