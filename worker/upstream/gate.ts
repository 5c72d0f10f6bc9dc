/**
 * The one gate every upstream request passes: at most `concurrency` in flight, and starts spaced
 * evenly, as the upstream sees them, so that no more than `rateLimit` begin in any second. Slots go
 * to waiting requests largest first (a request of unknown size, an index, before any download, and
 * in order among equals), background and side ones (below) after all others: the files of several
 * plans waiting together go out in one longest-processing-time order, so the run ends on small ones.
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
 * `background`: a request nothing waits on yet (an image, or a package of a feed verified while
 * the other indexes still come in). It waits behind the others, but while `limitBackground(true)`
 * (the index phase) it takes every other start: the rate, not the connections, binds the index
 * phase, and a download started there fills a connection that would stand idle until the plan,
 * for the price of one index coming 1 / RATE_LIMIT later. At most CONCURRENCY − 1 background
 * requests are then in flight (one when CONCURRENCY is 1), so the indexes a plan waits for always
 * find a slot free or soon free — unless a start is to be had at once as the slot is chosen: then
 * the connections bind, not the rate, and the last slot goes to a download as well (an index that
 * then waits for a download to end costs nothing while every connection carries bytes).
 *
 * `side`: a small request nothing plans with (sync/side.ts). It takes a slot when nothing else
 * waits for one, or else the slot a download has just given back when the rate has a start to
 * spare at once (the link binds, not the rate); it then costs that one connection one small round
 * trip. Held back to the end instead, a run's 17 side requests at 20/s were 0.6 s of rate-bound
 * tail; in a rate-bound run no start is ever spare, so side requests still go at the end, where
 * their starts cost the same. A slot a side request gives back goes to the others, so side
 * requests spread over the connections rather than queue on one.
 *
 * Starts are spaced the same for all.
 */
export type Priority = 'normal' | 'background' | 'side';

/** What a request holds between its slot and its send. */
interface Slot {
  /** The request is sent: the next may be chosen. */
  sent(): void;
  /** The slot is free again (and the turn, if it was never sent). */
  release(): void;
}

interface Waiter {
  /** Bytes it will fetch; Infinity when unknown. */
  size: number;
  grant: (slot: Slot) => void;
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
  /** Requests holding a slot, not yet sent: at most one (see enter). */
  #awaitingTurn = 0;
  /** Who got the last start: in the index phase, background requests take every other one. */
  #lastGranted: Priority | undefined;
  readonly #waiting: Record<Priority, Waiter[]> = { normal: [], background: [], side: [] };

  constructor({ rateLimit, concurrency, signal }: GateOptions) {
    this.#signal = signal;
    this.#concurrency = concurrency;
    this.#backgroundShare = Math.max(1, concurrency - 1);
    this.#spacer = new Spacer(spacingMs(rateLimit), signal, floorMs(rateLimit));
    // One listener for the whole queue, however long it grows.
    signal?.addEventListener(
      'abort',
      () => {
        for (const queue of Object.values(this.#waiting)) {
          for (const waiter of queue.splice(0)) waiter.reject(signal.reason);
        }
      },
      { once: true },
    );
  }

  /**
   * Waits for a slot, then for the request's turn to start. The slot comes first: a request that
   * got its turn and then queued for a slot would start later than its turn. Only one request at a
   * time holds a slot while it waits for its turn, and the next is chosen when it is sent: who goes
   * next is decided when the start comes up, among every request waiting then (an index that has
   * just become needed, a download of a feed that has just verified), not in the order they came.
   */
  async enter(priority: Priority = 'normal', size?: number): Promise<Pass> {
    this.#signal?.throwIfAborted();
    const slot = await this.#slot(priority, size ?? Number.POSITIVE_INFINITY);
    try {
      const turn = await this.#spacer.take();
      return {
        sent: () => {
          turn.sent();
          slot.sent();
        },
        release: () => {
          turn.skip();
          slot.release();
        },
      };
    } catch (error) {
      slot.release();
      throw error;
    }
  }

  /** Whether background requests keep a slot free for the others (the index phase) or may take them all. */
  limitBackground(limited: boolean): void {
    this.#backgroundLimited = limited;
    this.#dispatch();
  }

  #slot(priority: Priority, size: number): Promise<Slot> {
    return new Promise((resolve, reject) => {
      const queue = this.#waiting[priority];
      // Behind every waiter at least as large: a queue of a few times CONCURRENCY per plan.
      let at = queue.length;
      while (at > 0 && (queue[at - 1] as Waiter).size < size) at--;
      queue.splice(at, 0, { size, grant: resolve, reject });
      this.#dispatch();
    });
  }

  /** Hands the next start out, if a slot is free and no one holds one waiting for a turn; `freedByDownload`: see #next. */
  #dispatch(freedByDownload = false): void {
    if (this.#inFlight >= this.#concurrency || this.#awaitingTurn > 0) return;
    const next = this.#next(freedByDownload);
    if (next) this.#grant(next.waiter, next.priority);
  }

  /**
   * Who goes next: a side request into the slot a download has just given back
   * (`freedByDownload`) when a start is to be had at once and no index waits; else normal
   * requests, but in the index phase a background one every other start; then background ones up
   * to their share, or past it into a start to be had at once; then side ones.
   */
  #next(freedByDownload: boolean): { waiter: Waiter; priority: Priority } | undefined {
    const { normal, background, side } = this.#waiting;
    // Unknown sizes sort first: an index, which a plan waits for.
    const indexWaits = normal[0] !== undefined && sizeUnknown(normal[0]);
    if (freedByDownload && side.length > 0 && !indexWaits && this.#spacer.ready()) {
      return { waiter: side.shift() as Waiter, priority: 'side' };
    }
    // The last slot too when a start is to be had at once: then the connections bind, not the rate.
    const backgroundMay =
      background.length > 0 &&
      (!(this.#backgroundLimited && this.#backgroundInFlight >= this.#backgroundShare) ||
        this.#spacer.ready());
    const backgroundsTurn = this.#backgroundLimited && this.#lastGranted !== 'background';
    if (normal.length > 0 && !(backgroundMay && backgroundsTurn)) {
      return { waiter: normal.shift() as Waiter, priority: 'normal' };
    }
    if (backgroundMay) return { waiter: background.shift() as Waiter, priority: 'background' };
    // Background requests wait for their share: side ones still wait behind them.
    if (normal.length > 0 || background.length > 0) return undefined;
    const waiter = side.shift();
    return waiter && { waiter, priority: 'side' };
  }

  #grant(waiter: Waiter, priority: Priority): void {
    this.#inFlight++;
    this.#awaitingTurn++;
    this.#lastGranted = priority;
    if (priority === 'background') this.#backgroundInFlight++;
    let awaiting = true;
    let freed = false;
    const taken = () => {
      if (!awaiting) return false;
      awaiting = false;
      this.#awaitingTurn--;
      return true;
    };
    waiter.grant({
      sent: () => {
        if (taken()) this.#dispatch();
      },
      release: () => {
        taken();
        if (freed) return;
        freed = true;
        this.#inFlight--;
        if (priority === 'background') this.#backgroundInFlight--;
        // The slot an index gives back at the end of the index phase is the plan's first
        // download's, not a side request's.
        this.#dispatch(priority !== 'side' && !sizeUnknown(waiter));
      },
    });
  }
}

/** An index's or a side request's size is not known; a download's is. */
function sizeUnknown(waiter: Waiter): boolean {
  return waiter.size === Number.POSITIVE_INFINITY;
}
