/**
 * Request starts spaced as the upstream sees them: each request goes out at least `spacingMs` after
 * the previous one was really sent, not after the previous one was merely let through.
 */
import { performance } from 'node:perf_hooks';
import { sleepUntil, unlessAborted } from './delay.js';

/** One request's turn: it ends when the request is sent, or when it fails before that. */
export interface Turn {
  /** The request's headers are on the socket: the next start is spaced from now. */
  sent(): void;
  /** Over without a send (failed, refused, stopped): the next is spaced from the last real send. */
  skip(): void;
}

/**
 * Turns are taken one at a time, in order: the next caller is let through only once the one ahead
 * has been sent (or has failed), never sooner than `floorMs` after the last send, and on a schedule
 * of one start every `spacingMs`. Between being let through and being sent a request may be held
 * up — a busy event loop, a new connection, a TLS handshake — and timing the next start from the
 * send keeps two starts from landing close together.
 *
 * The schedule: each send moves the next start's due time `spacingMs` on from its own due time, or
 * from the send when that was later. A turn may go `spacingMs − floorMs` before it is due, so that
 * the fraction of a millisecond each request takes from the gate to the socket is not added to every
 * gap (at 100/s that alone cost a tenth of the rate); a request held up longer moves the schedule.
 * Hence any n + 1 consecutive sends are at least `max(n × floorMs, n × spacingMs − (spacingMs −
 * floorMs))` apart.
 */
export class Spacer {
  readonly #spacingMs: number;
  readonly #floorMs: number;
  readonly #signal: AbortSignal | undefined;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  /** When the next start is due on the schedule. */
  #due = Number.NEGATIVE_INFINITY;
  /** Settles when the caller ahead has been sent or has given up its turn. */
  #ahead: Promise<void> = Promise.resolve();
  /** Callers that have taken a turn not yet over. */
  #waiting = 0;

  constructor(spacingMs: number, signal?: AbortSignal, floorMs = spacingMs) {
    if (!(floorMs > 0 && floorMs <= spacingMs))
      throw new RangeError(`floorMs must be in (0, spacingMs], got ${floorMs} of ${spacingMs}`);
    this.#spacingMs = spacingMs;
    this.#floorMs = floorMs;
    this.#signal = signal;
  }

  /** Whether a turn taken now would go at once: no caller ahead, and the next start is due. */
  ready(): boolean {
    return this.#waiting === 0 && performance.now() >= this.#nextAt();
  }

  #nextAt(): number {
    return Math.max(this.#due - (this.#spacingMs - this.#floorMs), this.#lastSentAt + this.#floorMs);
  }

  /** Waits for this caller's turn; rejects with the signal's reason on shutdown. */
  async take(): Promise<Turn> {
    const ahead = this.#ahead;
    let over: () => void = () => {};
    this.#ahead = new Promise<void>((resolve) => {
      over = resolve;
    });
    this.#waiting++;
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      this.#waiting--;
      over();
    };
    try {
      await unlessAborted(ahead, this.#signal);
      await sleepUntil(this.#nextAt(), this.#signal);
    } catch (error) {
      close();
      throw error;
    }
    return {
      sent: () => {
        if (!open) return;
        this.#lastSentAt = performance.now();
        this.#due = Math.max(this.#due, this.#lastSentAt) + this.#spacingMs;
        close();
      },
      skip: close,
    };
  }
}
