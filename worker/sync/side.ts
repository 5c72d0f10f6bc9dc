/**
 * Side requests: small files nothing plans with (each new index's Packages.manifest and index.json,
 * the release's .targets.json, the upstream's /lastsync and .versions.json). They go through the
 * gate as `side` requests (upstream/gate.ts): each into a slot a download has just given back while
 * the rate has room to spare, or once nothing else waits. Anywhere else they cost the run: queued
 * among the downloads their starts take the turns the rate allows while the connections they hold
 * stand idle (14 manifests at 20/s held 8 connections for 0.7 s), and held back to the end, 17 of
 * them at 20/s were 0.6 s of tail when the link bound. The run's own (/lastsync, .versions.json)
 * also wait until the first release's indexes are asked for, so that they queue behind those, not
 * before profiles.json: on a quiet night they fill the indexes' round trip instead of adding one.
 * Every request made in `run` must ask for the `side` place itself (`Upstream.fetch`'s `side`).
 */
import pLimit, { type LimitFunction } from 'p-limit';

export class SideRequests {
  readonly #limit: LimitFunction;
  readonly #whenIndexesAsked: (() => void)[] = [];
  #indexesAsked = false;

  /** A third of the connections at once, at least one. */
  constructor(concurrency: number) {
    this.#limit = pLimit(Math.max(1, Math.floor(concurrency / 3)));
  }

  /** Runs `request`, at most a third of the connections' worth at once. */
  run<T>(request: () => Promise<T>): Promise<T> {
    return this.#limit(request);
  }

  /** Runs `request` as a side request once the first release's indexes are asked for. */
  afterIndexesAsked<T>(request: () => Promise<T>): Promise<T> {
    return new Promise<void>((resolve) => {
      if (this.#indexesAsked) resolve();
      else this.#whenIndexesAsked.push(resolve);
    }).then(() => this.run(request));
  }

  /** A release's indexes are asked for (or there are none to ask): what waited for that goes. */
  indexesAsked(): void {
    this.#indexesAsked = true;
    for (const go of this.#whenIndexesAsked.splice(0)) go();
  }
}
