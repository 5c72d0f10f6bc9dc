/**
 * Side requests: small files nothing plans with (each new index's Packages.manifest and index.json,
 * the release's .targets.json, the upstream's /lastsync and .versions.json). They wait until the
 * indexes are in, so that they never delay one, and then go through the gate as `side` requests
 * (upstream/gate.ts): each into a slot a download has just given back while the rate has room to
 * spare, or once nothing else waits. Anywhere else they cost the run: queued among the downloads
 * their starts take the turns the rate allows while the connections they hold stand idle (14
 * manifests at 20/s held 8 connections for 0.7 s), and held back to the end, 17 of them at 20/s
 * were 0.6 s of tail when the link bound. With nothing to download (a quiet night) they go at
 * once, beside the publish. Every request made in `run` must ask for the `side` place itself
 * (`Upstream.fetch`'s `side`).
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class SideRequests {
  readonly #limit: LimitFunction;
  readonly #whenIndexesIn: (() => void)[] = [];
  #indexesIn = false;

  /** A third of the connections at once, at least one. */
  constructor(concurrency: number) {
    this.#limit = pLimit(Math.max(1, Math.floor(concurrency / 3)));
  }

  /** Runs `request`, at most a third of the connections' worth at once. */
  run<T>(request: () => Promise<T>): Promise<T> {
    return this.#limit(request);
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
