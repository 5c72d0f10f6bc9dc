/** How long to wait before a retry: pure functions, so the policy is tested without a clock. */

/** Longer waits than this are not honoured: the retry is given up instead of parking a sync for an hour. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

import { MAX_TIMER_MS } from './delay.js';

/** Up to this fraction of the exponential delay is added at random, so retries of a burst spread out. */
const JITTER = 0.1;

/**
 * The doubling stops here (a first delay above it is kept as it is). Without a cap the 12th retry
 * at an hour would be 85 days, past what a timer holds: it would overflow and fire at once.
 */
export const MAX_BACKOFF_MS = 60 * 60_000;

/**
 * The wait before retry number `retry` (1 for the first): `firstDelayMs` doubling with each retry up
 * to MAX_BACKOFF_MS, never less than the upstream's `Retry-After`, plus a little jitter (which only
 * ever lengthens it). Always fits one timer, for axios-retry schedules it with a bare setTimeout.
 */
export function backoffDelay(
  retry: number,
  firstDelayMs: number,
  retryAfterMs = 0,
  random = Math.random,
): number {
  // The exponent is bounded too: 0 × 2 ** 1100 would be NaN.
  const doubled = firstDelayMs * 2 ** Math.min(Math.max(0, retry - 1), 52);
  const exponential = Math.min(doubled, Math.max(MAX_BACKOFF_MS, firstDelayMs));
  const delay = Math.round(Math.max(exponential, retryAfterMs) + exponential * JITTER * random());
  return Math.min(delay, MAX_TIMER_MS);
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
