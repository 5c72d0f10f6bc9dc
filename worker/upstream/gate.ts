/**
 * The one gate every upstream request passes: at most `concurrency` in flight, and starts spaced
 * evenly, as the upstream sees them, so that no more than `rateLimit` begin in any second. Slots go
 * to waiting requests largest first (a request of unknown size, an index, before any download, and
 * in order among equals), background ones (below) after all others: the files of several plans
 * waiting together go out in one longest-processing-time order, so the run ends on small ones.
 */
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
 * that margin, on the schedule (spacer.ts).
 */
const SPACING_MARGIN = 1.02;
/**
 * How far a turn may go before it is due, so that the time from the gate to the socket is not added
 * to every gap: 2 % of the spacing, at most 10 ms. Any RATE_LIMIT + 1 starts then still span at
 * least 1.01 s, and no two are ever closer than 1000 / rateLimit.
 */
const MAX_EARLY_MS = 10;

/** Milliseconds between two request starts at `rateLimit` per second, margin included. */
export function spacingMs(rateLimit: number): number {
  return (1000 / rateLimit) * SPACING_MARGIN;
}

/** The least time between two starts: 1000 / rateLimit, or the spacing less MAX_EARLY_MS when that is more. */
export function floorMs(rateLimit: number): number {
  return Math.max(1000 / rateLimit, spacingMs(rateLimit) - MAX_EARLY_MS);
}

/**
 * `background`: a request nothing waits on yet (an image, or a full-mode feed's package, fetched
 * while the other indexes still come in). It takes a slot only when no other request waits for one,
 * and while `limitBackground(true)` (the index phase) at most CONCURRENCY − 1 background requests
 * are in flight (one when CONCURRENCY is 1), so the indexes a plan waits for always find a slot free
 * or soon free. Starts are spaced the same for both.
 */
export type Priority = 'normal' | 'background';

interface Waiter {
  /** Bytes it will fetch; Infinity when unknown. */
  size: number;
  grant: (release: () => void) => void;
  reject: (reason: unknown) => void;
}

export class Gate {
  readonly #signal: AbortSignal | undefined;
  readonly #spacer: Spacer;
  readonly #concurrency: number;
  readonly #backgroundShare: number;
  #backgroundLimited = true;
  #inFlight = 0;
  #backgroundInFlight = 0;
  readonly #waiting: Record<Priority, Waiter[]> = { normal: [], background: [] };
  /** Told when no request waits for a slot any more (whenQuiet). */
  #onQuiet: (() => void)[] = [];

  constructor({ rateLimit, concurrency, signal }: GateOptions) {
    this.#signal = signal;
    this.#concurrency = concurrency;
    this.#backgroundShare = Math.max(1, concurrency - 1);
    this.#spacer = new Spacer(spacingMs(rateLimit), signal, floorMs(rateLimit));
    // One listener for the whole queue, however long it grows.
    signal?.addEventListener(
      'abort',
      () => {
        for (const waiter of [...this.#waiting.normal, ...this.#waiting.background])
          waiter.reject(signal.reason);
        this.#waiting.normal = [];
        this.#waiting.background = [];
      },
      { once: true },
    );
  }

  /**
   * Waits for a slot, then for the request's turn to start. The slot comes first: a request that
   * got its turn and then queued for a slot would start later than its turn, and several such could
   * start in one burst, over the rate. Holding a slot while waiting for the turn costs nothing,
   * because whoever is ahead would start first anyway.
   */
  async enter(priority: Priority = 'normal', size?: number): Promise<Pass> {
    this.#signal?.throwIfAborted();
    const release = await this.#slot(priority, size ?? Number.POSITIVE_INFINITY);
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

  /**
   * Resolves once no request waits for a slot (at once if none does): what can wait for the end
   * of the downloads without adding to the run's time goes then (sync/side.ts).
   */
  whenQuiet(): Promise<void> {
    if (this.#quiet()) return Promise.resolve();
    return new Promise((resolve) => this.#onQuiet.push(resolve));
  }

  #quiet(): boolean {
    return this.#waiting.normal.length === 0 && this.#waiting.background.length === 0;
  }

  /** Whether background requests keep a slot free for the others (the index phase) or may take them all. */
  limitBackground(limited: boolean): void {
    this.#backgroundLimited = limited;
    this.#dispatch();
  }

  #slot(priority: Priority, size: number): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const queue = this.#waiting[priority];
      // Behind every waiter at least as large: a queue of a few times CONCURRENCY per plan.
      let at = queue.length;
      while (at > 0 && (queue[at - 1] as Waiter).size < size) at--;
      queue.splice(at, 0, { size, grant: resolve, reject });
      this.#dispatch();
    });
  }

  /** Hands free slots out: every waiting normal request first, then background ones up to their share. */
  #dispatch(): void {
    while (this.#inFlight < this.#concurrency) {
      const normal = this.#waiting.normal.shift();
      if (normal) {
        this.#grant(normal, 'normal');
        continue;
      }
      if (this.#backgroundLimited && this.#backgroundInFlight >= this.#backgroundShare) return;
      const background = this.#waiting.background.shift();
      if (!background) break;
      this.#grant(background, 'background');
    }
    if (this.#onQuiet.length > 0 && this.#quiet()) for (const go of this.#onQuiet.splice(0)) go();
  }

  #grant(waiter: Waiter, priority: Priority): void {
    this.#inFlight++;
    if (priority === 'background') this.#backgroundInFlight++;
    let freed = false;
    waiter.grant(() => {
      if (freed) return;
      freed = true;
      this.#inFlight--;
      if (priority === 'background') this.#backgroundInFlight--;
      this.#dispatch();
    });
  }
}
