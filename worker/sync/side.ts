/**
 * Side requests: small files nothing plans with (each new index's Packages.manifest and index.json,
 * the release's .targets.json, the upstream's /lastsync and .versions.json). They wait until the
 * indexes are in, so that they never delay one, and then until every download has started (nothing
 * waits at the gate), so that they fill the connections the last downloads leave free one by one.
 * Anywhere else they cost the run: queued among the downloads their starts take the turns the rate
 * allows while the connections they hold stand idle (14 manifests at 20/s held 8 connections for
 * 0.7 s), and one connection that carries them all ends its share of big files that much later.
 * With nothing to download (a quiet night) they go at once, beside the publish.
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class SideRequests {
  readonly #limit: LimitFunction;
  readonly #whenQuiet: () => Promise<void>;
  readonly #whenIndexesIn: (() => void)[] = [];
  #indexesIn = false;

  /** A third of the connections at once, at least one; `whenQuiet`: the gate's (upstream/gate.ts). */
  constructor(concurrency: number, whenQuiet: () => Promise<void>) {
    this.#limit = pLimit(Math.max(1, Math.floor(concurrency / 3)));
    this.#whenQuiet = whenQuiet;
  }

  /** Runs `request` once every download has started. */
  run<T>(request: () => Promise<T>): Promise<T> {
    return this.#limit(async () => {
      await this.#whenQuiet();
      return request();
    });
  }

  /** Runs `request` as a side request once the first release's indexes are in. */
  afterIndexes<T>(request: () => Promise<T>): Promise<T> {
    return new Promise<void>((resolve) => {
      if (this.#indexesIn) resolve();
      else this.#whenIndexesIn.push(resolve);
    }).then(() => this.run(request));
  }

  /** The indexes of a release are in (or there are none to wait for): what waited for that goes. */
  indexesIn(): void {
    this.#indexesIn = true;
    for (const go of this.#whenIndexesIn.splice(0)) go();
  }
}
