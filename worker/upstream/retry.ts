/**
 * The retry policy: what a failure was and whether another attempt could fix it, how long to wait,
 * and the error a caller finally sees. axios-retry retries what fails before the body (network
 * errors, 5xx, 429, 408, a silent server) but never what fails inside a streamed one, so this owns
 * that loop too (reset, stall, too slow, short body, wrong size or hash). Both layers are here,
 * apart from the transport, so that they share one classification and one budget of `maxRetries`
 * retries per file.
 */
import type { Readable } from 'node:stream';
import axiosRetry, { type IAxiosRetryConfig } from 'axios-retry';
import {
  AbortedError,
  IntegrityError,
  UntrustedInputError,
  UpstreamError,
  type UpstreamFaultKind,
} from '../errors.js';
import { type AxiosResponse, isAxiosError } from './axios.js';
import { backoffDelay, MAX_RETRY_AFTER_MS, parseRetryAfter } from './backoff.js';
import { sleep } from './delay.js';
import { header } from './response.js';
import type { Attempts, RetryOptions } from './types.js';

/** What went wrong in one attempt, and whether another attempt could fix it. */
interface Failure {
  kind: UpstreamFaultKind;
  /** Not the upstream's doing (a full disk, a bug): passed on as it is, never retried. */
  local?: true;
  reason: string;
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
}

export class RetryPolicy {
  readonly #opts: RetryOptions;

  constructor(opts: RetryOptions) {
    this.#opts = opts;
  }

  /**
   * axios-retry's options for one request of a call (a redirect is another): it may spend what the
   * call has left of the budget, and what it spends is recorded in `attempts`.
   */
  forRequest(attempts: Attempts): IAxiosRetryConfig {
    const at = attempts.url;
    const spent = attempts.retries;
    let delayMs = 0;
    return {
      retries: this.#opts.maxRetries - spent,
      retryCondition: (error) => this.#describe(error).retryable,
      retryDelay: (retry, error) => {
        delayMs = backoffDelay(spent + retry, this.#opts.retryDelayMs, this.#describe(error).retryAfterMs);
        return delayMs;
      },
      onRetry: (retry, error) => {
        const failure = this.#describe(error);
        this.#count(failure);
        attempts.retries = spent + retry;
        this.#opts.stats.retries += 1;
        this.#opts.onRetry?.({ url: at, attempt: attempts.retries, delayMs, reason: failure.reason });
      },
    };
  }

  /**
   * The whole-download loop: `request` (whose axios-retry spends the budget on what fails before
   * the body), then `consume` the body, again while what failed in it can be retried.
   */
  async run<T>(
    url: string,
    request: (attempts: Attempts) => Promise<AxiosResponse<Readable>>,
    consume: (response: AxiosResponse<Readable>, url: string) => Promise<T>,
    options: { mayBeMissing?: boolean } = {},
  ): Promise<T> {
    const attempts: Attempts = { retries: 0, url };
    for (;;) {
      let response: AxiosResponse<Readable>;
      try {
        response = await request(attempts);
      } catch (error) {
        // axios-retry has already retried whatever could be.
        throw this.#fail(error, attempts, options.mayBeMissing);
      }
      try {
        return await consume(response, attempts.url);
      } catch (error) {
        response.data.destroy();
        const failure = this.#describe(error);
        if (!failure.retryable || attempts.retries >= this.#opts.maxRetries)
          throw this.#fail(error, attempts);
        this.#count(failure);
        attempts.retries += 1;
        this.#opts.stats.retries += 1;
        const delayMs = backoffDelay(attempts.retries, this.#opts.retryDelayMs);
        this.#opts.onRetry?.({
          url: attempts.url,
          attempt: attempts.retries,
          delayMs,
          reason: failure.reason,
        });
        try {
          await sleep(delayMs, this.#opts.signal);
        } catch (sleepError) {
          throw this.#fail(sleepError, attempts);
        }
        // A retry starts over from the URL asked for, not from where a redirect led.
        attempts.url = url;
      }
    }
  }

  /** The one classification of what went wrong, used by both retry layers and the final error. */
  #describe(error: unknown): Failure {
    if (this.#opts.signal?.aborted) return { kind: 'aborted', reason: 'stopped by signal', retryable: false };
    if (error instanceof IntegrityError) return { kind: 'integrity', reason: error.message, retryable: true };
    if (error instanceof UntrustedInputError)
      return { kind: 'integrity', reason: error.message, retryable: false };
    if (error instanceof UpstreamError) {
      const kind = error.details.kind ?? 'network';
      return { kind, reason: error.message, retryable: kind !== 'aborted' };
    }
    if (!isAxiosError(error)) {
      const reason = error instanceof Error ? error.message : String(error);
      return { kind: 'network', local: true, reason, retryable: false };
    }
    const response = error.response;
    if (response) {
      const status = response.status;
      const retryAfterMs = parseRetryAfter(header(response, 'retry-after'));
      const transient = status >= 500 || status === 429 || status === 408;
      const reason = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ''}`;
      if (transient && retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS) {
        return {
          kind: 'http',
          status,
          reason: `${reason}, Retry-After ${retryAfterMs / 1000} s`,
          retryable: false,
        };
      }
      return {
        kind: 'http',
        status,
        reason,
        retryable: transient,
        ...(retryAfterMs !== undefined && { retryAfterMs }),
      };
    }
    if (error.code === 'ETIMEDOUT') return { kind: 'timeout', reason: error.message, retryable: true };
    // axios' own codes (ERR_*) are about the request, not the network: retrying would not help.
    const retryable = !error.code?.startsWith('ERR_') && axiosRetry.isNetworkError(error);
    return {
      kind: 'network',
      reason: error.code ? `${error.code}: ${error.message}` : error.message,
      retryable,
    };
  }

  #count(failure: Failure): void {
    this.#opts.stats.errors[failure.kind] += 1;
  }

  /** The error a caller sees: AbortedError, IntegrityError, UntrustedInputError, UpstreamError, or a local one. */
  #fail(error: unknown, attempts: Attempts, mayBeMissing = false): unknown {
    const failure = this.#describe(error);
    if (failure.local) return error;
    // A file many servers do not have (an upstream's /lastsync) is an answer there, not an error.
    if (!(mayBeMissing && failure.status === 404)) this.#count(failure);
    const url = attempts.url;
    if (failure.kind === 'aborted') return new AbortedError(`stopped while fetching ${url}`);
    if (error instanceof IntegrityError || error instanceof UntrustedInputError) return error;
    const attempt = attempts.retries + 1;
    const tries = attempt === 1 ? '' : ` (after ${attempt} attempts)`;
    return new UpstreamError(`GET ${url} failed: ${failure.reason}${tries}`, url, {
      ...(failure.status !== undefined && { status: failure.status }),
      attempt,
      kind: failure.kind,
      cause: error,
    });
  }
}
