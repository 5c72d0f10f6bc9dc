/**
 * The one gate every upstream request passes: at most `concurrency` in flight, and starts spaced
 * evenly, as the upstream sees them, so that no more than `rateLimit` begin in any second.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import { Spacer } from './spacer.js';

/** A request let through: tell it when it is sent, and give the slot back when it is done. */
export interface Pass {
  /** The request's headers are on the socket; the next start is spaced from now. Safe to call more than once. */
  sent(): void;
  /** Gives the slot back (and the turn, if the request was never sent); safe to call more than once. */
  release(): void;
}

export interface GateOptions {
  /** Request starts per second; fractions allowed (0.5 = one every 2 s). */
  rateLimit: number;
  concurrency: number;
  /** Shutdown: every caller still waiting is rejected with its reason, at once. */
  signal?: AbortSignal;
}

/**
 * Starts are spaced a little wider than 1000 / rateLimit: the upstream sees our sends through a
 * network with jitter, yet the limit is promised as seen from the upstream. 2 % of throughput buys
 * that margin.
 */
const SPACING_MARGIN = 1.02;

/** Milliseconds between two request starts at `rateLimit` per second, margin included. */
export function spacingMs(rateLimit: number): number {
  return (1000 / rateLimit) * SPACING_MARGIN;
}

export class Gate {
  readonly #signal: AbortSignal | undefined;
  readonly #slots: LimitFunction;
  readonly #spacer: Spacer;

  constructor({ rateLimit, concurrency, signal }: GateOptions) {
    this.#signal = signal;
    this.#slots = pLimit({ concurrency, rejectOnClear: true });
    this.#spacer = new Spacer(spacingMs(rateLimit), signal);
    // One listener for the whole queue, however long it grows.
    signal?.addEventListener('abort', () => this.#slots.clearQueue(), { once: true });
  }

  /**
   * Waits for a slot, then for the request's turn to start. The slot comes first: a request that
   * got its turn and then queued for a slot would start later than its turn, and several such could
   * start in one burst, over the rate. Holding a slot while waiting for the turn costs nothing,
   * because whoever is ahead would start first anyway.
   */
  async enter(): Promise<Pass> {
    this.#signal?.throwIfAborted();
    const release = await this.#slot();
    try {
      const turn = await this.#spacer.take();
      return {
        sent: turn.sent,
        release: () => {
          turn.skip();
          release();
        },
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  #slot(): Promise<() => void> {
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
}
