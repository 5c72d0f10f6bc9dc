/**
 * Asked ahead: what a release's index phase will ask for first that is known before its sets'
 * profiles.json answers, asked together with profiles.json instead of one round trip after it. A
 * target's core feed and signed image sums have fixed directories; its kmods and arch feeds are the
 * ones the last run served it (the state's `sets`), which within one release never change. The
 * index phase then takes the answer to the same request (context.ts) instead of asking again. A
 * guess that turns out wrong (the sets' configuration changed) costs one request and is never read.
 */
import type { SetConfig } from '../config.js';
import type { FeedFormat } from '../formats/index.js';
import type { Validators } from '../publish/state.js';
import type { FetchResult } from '../upstream/types.js';
import type { SyncContext } from './context.js';
import { askFeedAhead } from './feed-index.js';
import { askImagesAhead } from './images.js';
import { feedRefOf } from './sets.js';

/** A request asked ahead: its answer, and the validators it was made with, if any. */
export interface Asked {
  known?: Promise<Validators | undefined>;
  result: Promise<FetchResult>;
}

export class AskedAhead {
  readonly #asked = new Map<string, Asked>();

  /** Starts `request` for the release-relative `rel`, unless it was asked ahead already. */
  ask(rel: string, request: () => Asked): void {
    if (this.#asked.has(rel)) return;
    const asking = request();
    // Read, and a failure surfaced, only where the index phase takes it.
    asking.result.catch(() => {});
    asking.known?.catch(() => {});
    this.#asked.set(rel, asking);
  }

  /** The request for `rel` asked ahead, once: the index phase's own request for it. */
  take(rel: string): Asked | undefined {
    const asking = this.#asked.get(rel);
    this.#asked.delete(rel);
    return asking;
  }

  /** What was asked ahead and never taken: guesses the discovery proved wrong. */
  untaken(): string[] {
    return [...this.#asked.keys()];
  }
}

/**
 * Asks ahead, for each configured set of the context's release, its image sums' signature and the
 * first request of each feed it is known to have: its core feed, and the kmods feed and configured
 * arch feeds the last run served it with the same arch.
 */
export function askReleaseAhead(ctx: SyncContext, configured: SetConfig[], format: FeedFormat): void {
  for (const set of configured) {
    askImagesAhead(ctx, set);
    const last = ctx.previous.sets?.[set.target];
    const served =
      last && (set.arch ?? last.arch) === last.arch
        ? last.feedDirs.filter((dir) => {
            const { name } = feedRefOf(dir, last.arch);
            return name === 'kmods' || set.feeds.includes(name);
          })
        : [];
    for (const dir of [`targets/${set.target}/packages`, ...served]) askFeedAhead(ctx, dir, format);
  }
}
