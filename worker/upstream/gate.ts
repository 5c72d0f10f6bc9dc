/**
 * The one gate every upstream request passes: at most `concurrency` in flight, and starts spaced
 * evenly so that no more than `rateLimit` begin in any second.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import pThrottle from 'p-throttle';

/** Gives the slot back; safe to call more than once. */
export type Release = () => void;

export interface GateOptions {
  /** Request starts per second; fractions allowed (0.5 = one every 2 s). */
  rateLimit: number;
  concurrency: number;
  /** Shutdown: every caller still waiting is rejected with its reason, at once. */
  signal?: AbortSignal;
}

/**
 * Starts are spaced a little wider than 1000 / rateLimit: timers may fire a millisecond early and
 * the upstream sees our starts through a network with jitter, yet the limit is promised as seen
 * from the upstream. 2 % of throughput buys that margin.
 */
const SPACING_MARGIN = 1.02;

export class Gate {
  readonly #signal: AbortSignal | undefined;
  readonly #slots: LimitFunction;
  readonly #tick: () => Promise<void>;
  /** Callers pass the throttle one at a time; see #start. */
  #turn: Promise<void> = Promise.resolve();

  constructor({ rateLimit, concurrency, signal }: GateOptions) {
    this.#signal = signal;
    this.#slots = pLimit({ concurrency, rejectOnClear: true });
    // strict: each start is spaced from when the previous one really happened, not when it was due.
    const throttle = pThrottle({
      limit: 1,
      interval: (1000 / rateLimit) * SPACING_MARGIN,
      strict: true,
      ...(signal && !signal.aborted && { signal }),
    });
    this.#tick = throttle(async () => {});
    // One listener for the whole queue, however long it grows.
    signal?.addEventListener('abort', () => this.#slots.clearQueue(), { once: true });
  }

  /**
   * Waits for a slot, then for the request's turn to start. The slot comes first: a request that
   * passed the throttle and then queued for a slot would start later than its turn, and several
   * such could start in one burst, over the rate. Holding a slot while in the throttle costs
   * nothing, because whoever is ahead in the throttle would start first anyway.
   */
  async enter(): Promise<Release> {
    this.#signal?.throwIfAborted();
    const release = await this.#slot();
    try {
      await this.#start();
      return release;
    } catch (error) {
      release();
      throw error;
    }
  }

  #slot(): Promise<Release> {
    return new Promise((resolve, reject) => {
      this.#slots(
        () =>
          new Promise<void>((free) => {
            let freed = false;
            resolve(() => {
              if (!freed) {
                freed = true;
                free();
              }
            });
          }),
      ).catch((error: unknown) => reject(this.#signal?.aborted ? this.#signal.reason : error));
    });
  }

  /**
   * One caller at a time asks the throttle, after the previous caller has started: with several
   * queued at once, p-throttle would schedule them from when the previous start was due, and a late
   * timer followed by punctual ones would squeeze starts together.
   */
  async #start(): Promise<void> {
    const ahead = this.#turn;
    let done: () => void = () => {};
    this.#turn = new Promise<void>((resolve) => {
      done = resolve;
    });
    try {
      await ahead;
      this.#signal?.throwIfAborted();
      await this.#tick();
    } finally {
      done();
    }
  }
}
