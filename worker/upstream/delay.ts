/**
 * Waiting that keeps its word: never shorter than asked, however long, and over at once on shutdown.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as timer } from 'node:timers/promises';

/** The longest delay one Node.js timer holds; a longer one overflows and fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Resolves `ms` milliseconds from now (monotonic clock), rejects with the signal's reason when it
 * aborts. Waits longer than one timer can hold are slept in pieces; a timer that fires a little
 * early (Node measures from the loop's cached time) is followed by another for the rest, and the
 * last fraction of a millisecond, which no timer can wait, is waited out a loop turn at a time.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await sleepUntil(performance.now() + ms, signal);
}

/** Resolves once performance.now() has reached `deadline`; see sleep. */
export async function sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now()) {
    // Timers count whole milliseconds and fire late rather than early: a wait of 10.2 ms rounded up
    // to 11, then fired a millisecond late, costs a request gate at 100/s a sixth of its rate.
    if (left < 1) await immediate(signal);
    else
      await timer(Math.min(Math.floor(left), MAX_TIMER_MS), undefined, signal && { signal }).catch(
        (error: unknown) => {
          throw signal?.aborted ? signal.reason : error;
        },
      );
  }
}

/** The next turn of the event loop, after any I/O that is ready. */
function immediate(signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) =>
    setImmediate(() => (signal?.aborted ? reject(signal.reason) : resolve())),
  );
}

/** `promise`, or the signal's reason as soon as it aborts, whichever comes first. */
export function unlessAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
