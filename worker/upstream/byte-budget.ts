/**
 * The cap on bytes that buffered bodies may hold at once, across every fetch().
 *
 * Deadlock-free by construction: a request reserves before it takes a gate slot (so nothing holding
 * a connection or a timer ever waits here), reserves once, may only shrink what it holds, and gives
 * it all back when it ends. Waiters are served strictly first come, first served, so a large
 * reservation is never starved by a stream of small ones.
 */

/** Bytes held by one request; both methods are safe to call more than once. */
export interface Reservation {
  /** Keep only `bytes` (the body's Content-Length, say); the rest goes to waiters at once. */
  shrink(bytes: number): void;
  release(): void;
}

interface Waiter {
  bytes: number;
  grant: (reservation: Reservation) => void;
  refuse: (reason: unknown) => void;
}

export class ByteBudget {
  readonly #total: number;
  readonly #signal: AbortSignal | undefined;
  #free: number;
  readonly #queue: Waiter[] = [];

  constructor(totalBytes: number, signal?: AbortSignal) {
    this.#total = totalBytes;
    this.#free = totalBytes;
    this.#signal = signal;
    // One listener for the whole queue, however long it grows.
    signal?.addEventListener(
      'abort',
      () => {
        for (const waiter of this.#queue.splice(0)) waiter.refuse(signal.reason);
      },
      { once: true },
    );
  }

  /** Bytes not reserved right now. */
  get free(): number {
    return this.#free;
  }

  /**
   * Reserves `bytes` (at most the whole budget), waiting behind earlier callers while the budget is
   * short. Rejects with the signal's reason on shutdown.
   */
  reserve(bytes: number): Promise<Reservation> {
    if (this.#signal?.aborted) return Promise.reject(this.#signal.reason);
    const wanted = Math.min(Math.max(0, bytes), this.#total);
    return new Promise((grant, refuse) => {
      this.#queue.push({ bytes: wanted, grant, refuse });
      this.#serve();
    });
  }

  #serve(): void {
    for (let head = this.#queue[0]; head && head.bytes <= this.#free; head = this.#queue[0]) {
      this.#queue.shift();
      this.#free -= head.bytes;
      head.grant(this.#reservation(head.bytes));
    }
  }

  #reservation(bytes: number): Reservation {
    let held = bytes;
    const giveBack = (keep: number) => {
      if (keep >= held) return;
      this.#free += held - keep;
      held = keep;
      this.#serve();
    };
    return {
      shrink: (keep) => giveBack(Math.max(0, keep)),
      release: () => giveBack(0),
    };
  }
}
