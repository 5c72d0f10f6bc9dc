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
 * has been sent (or has failed) and `spacingMs` have passed since the last send. Between being let
 * through and being sent a request may be held up — a busy event loop, a new connection, a TLS
 * handshake — and timing the next start from the send keeps two starts from landing close together.
 */
export class Spacer {
  readonly #spacingMs: number;
  readonly #signal: AbortSignal | undefined;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  /** Settles when the caller ahead has been sent or has given up its turn. */
  #ahead: Promise<void> = Promise.resolve();

  constructor(spacingMs: number, signal?: AbortSignal) {
    this.#spacingMs = spacingMs;
    this.#signal = signal;
  }

  /** Waits for this caller's turn; rejects with the signal's reason on shutdown. */
  async take(): Promise<Turn> {
    const ahead = this.#ahead;
    let over: () => void = () => {};
    this.#ahead = new Promise<void>((resolve) => {
      over = resolve;
    });
    try {
      await unlessAborted(ahead, this.#signal);
      await sleepUntil(this.#lastSentAt + this.#spacingMs, this.#signal);
    } catch (error) {
      over();
      throw error;
    }
    let open = true;
    return {
      sent: () => {
        if (!open) return;
        open = false;
        this.#lastSentAt = performance.now();
        over();
      },
      skip: () => {
        if (!open) return;
        open = false;
        over();
      },
    };
  }
}
