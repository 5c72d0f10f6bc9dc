/** How long to wait before a retry: pure functions, so the policy is tested without a clock. */

/** Longer waits than this are not honoured: the retry is given up instead of parking a sync for an hour. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Up to this fraction of the exponential delay is added at random, so retries of a burst spread out. */
const JITTER = 0.1;

/**
 * The wait before retry number `retry` (1 for the first): `firstDelayMs` doubling with each retry,
 * never less than the upstream's `Retry-After`, plus a little jitter (which only ever lengthens it).
 */
export function backoffDelay(
  retry: number,
  firstDelayMs: number,
  retryAfterMs = 0,
  random = Math.random,
): number {
  const exponential = firstDelayMs * 2 ** Math.max(0, retry - 1);
  return Math.round(Math.max(exponential, retryAfterMs) + exponential * JITTER * random());
}

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: unknown, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
