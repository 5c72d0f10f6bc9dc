/**
 * Where bytes enter the mirror: the one HTTP client towards the upstream, as its users see it —
 * fetch() for an index held in memory, download() for a file streamed to disk, and the stats. It
 * only validates and assembles; each job is a file of its own so that its promise can be read and
 * tested alone: one attempt through the gate (`transport.ts`), the retry policy (`retry.ts`) and a
 * body onto disk (`stream-to-file.ts`). The one thing it does itself is follow redirects, so that
 * each hop passes the gate and the retry budget like any request.
 */
import { setMaxListeners } from 'node:events';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import axiosRetry from 'axios-retry';
import { UntrustedInputError } from '../errors.js';
import { packageVersion } from '../version.js';
import { type AxiosInstance, type AxiosResponse, axios, isAxiosError } from './axios.js';
import { MAX_TIMER_MS } from './delay.js';
import { type Priority, spacingMs } from './gate.js';
import { contentLength, header, shortBody, tooLarge } from './response.js';
import { RetryPolicy } from './retry.js';
import { streamToFile } from './stream-to-file.js';
import { Transport } from './transport.js';
import type {
  Attempts,
  DownloadExpectation,
  DownloadResult,
  FetchResult,
  UpstreamOptions,
  UpstreamStats,
} from './types.js';

/** Indexes and profiles.json are a few MB; anything far larger is not what we asked for. */
export const DEFAULT_FETCH_MAX_BYTES = 64 * 1024 * 1024;
/** Two fetches at the default maxBytes, with nothing announced yet, fit at once. */
export const DEFAULT_MAX_BUFFERED_BYTES = 128 * 1024 * 1024;
const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = `openwrt-mirror/${packageVersion()}`;

/** What every attempt of one call sends, and the memory its body may take (fetch() only). */
interface RequestShape {
  headers: Record<string, string>;
  buffered?: number;
  /** Its place at the gate (gate.ts): `normal` unless said. */
  priority?: Priority;
  /** The bytes a download expects: larger ones go first at the gate. */
  size?: number;
}

export class Upstream {
  readonly stats: UpstreamStats = {
    requests: 0,
    retries: 0,
    bytes: 0,
    errors: { http: 0, network: 0, timeout: 0, 'short-body': 0, integrity: 0, aborted: 0 },
  };
  /** Ours, following the caller's shutdown signal; see the constructor. */
  readonly #signal: AbortSignal | undefined;
  readonly #base: string;
  readonly #maxBufferedBytes: number;
  readonly #transport: Transport;
  readonly #retry: RetryPolicy;
  readonly #http: AxiosInstance;

  constructor(opts: UpstreamOptions) {
    validate(opts);
    this.#base = opts.baseUrl.replace(/\/+$/, '');
    // Every call waiting out a backoff listens on the shutdown signal, as many as the caller runs in
    // parallel: that is no leak, so they go on a signal of our own, without a listener limit.
    this.#signal = opts.signal && AbortSignal.any([opts.signal]);
    if (this.#signal) setMaxListeners(0, this.#signal);
    this.#maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#transport = new Transport({
      rateLimit: opts.rateLimit,
      concurrency: opts.concurrency,
      timeoutMs: opts.timeoutMs,
      minBytesPerSecond: opts.minBytesPerSecond,
      beforeSend: opts.beforeSend,
      gate: opts.gate,
      maxBufferedBytes: this.#maxBufferedBytes,
      signal: this.#signal,
      stats: this.stats,
    });
    this.#retry = new RetryPolicy({
      maxRetries: opts.maxRetries,
      retryDelayMs: opts.retryDelayMs,
      onRetry: opts.onRetry,
      signal: this.#signal,
      stats: this.stats,
    });
    this.#http = axios.create({
      // Every request passes its own (#request); this one is for anything that would not.
      adapter: this.#transport.adapter(),
      responseType: 'stream',
      decompress: false,
      // Redirects are followed by #request, so that each hop passes the gate too.
      maxRedirects: 0,
      headers: { 'User-Agent': USER_AGENT, 'Accept-Encoding': 'identity' },
    });
    // The budget, delays and conditions are set per call in #request.
    axiosRetry(this.#http, { retries: 0 });
  }

  /**
   * A small file (an index, profiles.json), buffered, at most `maxBytes` (default 64 MiB; more is
   * refused with UntrustedInputError and not retried). With `etag` or `lastModified` the request is
   * conditional and an unchanged file comes back as `{ notModified: true }` without a body. Each
   * attempt first reserves its memory from the `maxBufferedBytes` budget.
   */
  async fetch(
    path: string,
    opts: {
      maxBytes?: number;
      etag?: string;
      lastModified?: string;
      /** A 404 is no upstream error in the stats: a file many servers do not have. */
      mayBeMissing?: boolean;
      /** Nothing plans with it: it goes where the downloads leave room (gate.ts, `side`). */
      side?: boolean;
    } = {},
  ): Promise<FetchResult> {
    const maxBytes = opts.maxBytes ?? DEFAULT_FETCH_MAX_BYTES;
    const headers: Record<string, string> = {};
    if (opts.etag !== undefined) headers['If-None-Match'] = opts.etag;
    if (opts.lastModified !== undefined) headers['If-Modified-Since'] = opts.lastModified;
    const buffered = Math.min(maxBytes, this.#maxBufferedBytes);
    const priority: Priority = opts.side ? 'side' : 'normal';
    const request = (attempts: Attempts) => this.#request({ headers, buffered, priority }, attempts);
    return this.#retry.run(
      this.#url(path),
      request,
      async (response, url) => {
        const etag = header(response, 'etag');
        const lastModified = header(response, 'last-modified');
        if (response.status === 304) {
          return {
            notModified: true,
            etag: etag ?? opts.etag,
            lastModified: lastModified ?? opts.lastModified,
          };
        }
        const announced = contentLength(response);
        if (announced !== undefined && announced > maxBytes) throw tooLarge(url, maxBytes, announced);
        const chunks: Buffer[] = [];
        let bytes = 0;
        for await (const chunk of response.data as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          if (bytes > maxBytes) throw tooLarge(url, maxBytes);
          chunks.push(chunk);
        }
        if (announced !== undefined && bytes < announced) throw shortBody(url, bytes, announced);
        return { notModified: false, body: Buffer.concat(chunks, bytes), etag, lastModified };
      },
      { mayBeMissing: opts.mayBeMissing },
    );
  }

  /**
   * Streams `path` into `dest` (created with flag 'wx' after removing any leftover), hashing while
   * it streams, and resolves only once size, SHA-256 and `check` all agree. On any failure `dest`
   * is removed. Bytes that do not match are retried like a network fault, within the same budget:
   * a CDN may serve a stale copy once.
   */
  async download(path: string, dest: string, expect: DownloadExpectation): Promise<DownloadResult> {
    const request = (attempts: Attempts) =>
      this.#request(
        { headers: {}, priority: expect.background ? 'background' : 'normal', size: expect.size },
        attempts,
      );
    try {
      return await this.#retry.run(this.#url(path), request, (response) =>
        streamToFile(response, path, dest, expect),
      );
    } catch (error) {
      await rm(dest, { force: true });
      throw error;
    }
  }

  /**
   * While the requests a plan waits for come in, background downloads keep a slot free for them
   * (`true`, the default); afterwards they may take every slot (gate.ts).
   */
  limitBackground(limited: boolean): void {
    this.#transport.limitBackground(limited);
  }

  #url(path: string): string {
    const segments = path.replace(/^\/+/, '').split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw new UntrustedInputError(`refusing upstream path ${JSON.stringify(path)}: empty, . or .. segment`);
    }
    return `${this.#base}/${segments.map(encodeURIComponent).join('/')}`;
  }

  /** One GET through axios and axios-retry, following redirects; a 304 to a conditional GET is an answer. */
  async #request(
    { headers, buffered, priority, size }: RequestShape,
    attempts: Attempts,
  ): Promise<AxiosResponse<Readable>> {
    for (let hop = 0; ; hop++) {
      const at = attempts.url;
      try {
        const response = await this.#http.get<Readable>(at, {
          headers,
          signal: this.#signal,
          // Through the gate with this request's memory, priority and size; axios-retry reissues the
          // same config: every attempt reserves afresh.
          adapter: this.#transport.adapter(buffered, priority, size),
          'axios-retry': this.#retry.forRequest(attempts),
        });
        return response;
      } catch (error) {
        const response = isAxiosError<Readable>(error) ? error.response : undefined;
        // "Not modified" answers a conditional request only: to any other it is an error, never a
        // file we may take as unchanged.
        if (response?.status === 304 && isConditional(headers)) return response;
        const location =
          response && REDIRECTS.has(response.status) ? header(response, 'location') : undefined;
        if (location === undefined || hop >= MAX_REDIRECTS) throw error;
        const next = new URL(location, at);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') throw error;
        attempts.url = next.href;
      }
    }
  }
}

function isConditional(headers: Record<string, string>): boolean {
  return headers['If-None-Match'] !== undefined || headers['If-Modified-Since'] !== undefined;
}

function validate(opts: UpstreamOptions): void {
  const fail = (option: string, value: unknown, expected: string) => {
    throw new TypeError(`Upstream option ${option} must be ${expected}, got ${JSON.stringify(value)}`);
  };
  let base: URL | undefined;
  try {
    base = new URL(opts.baseUrl);
  } catch {
    fail('baseUrl', opts.baseUrl, 'an absolute http(s) URL');
  }
  if (base && base.protocol !== 'http:' && base.protocol !== 'https:') {
    fail('baseUrl', opts.baseUrl, 'an absolute http(s) URL');
  }
  if (!(Number.isFinite(opts.rateLimit) && opts.rateLimit > 0 && spacingMs(opts.rateLimit) <= MAX_TIMER_MS)) {
    const least = Number((spacingMs(1) / MAX_TIMER_MS).toPrecision(3));
    fail('rateLimit', opts.rateLimit, `a number > 0, at least ${least} (one request every 24.8 days)`);
  }
  if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) {
    fail('concurrency', opts.concurrency, 'an integer >= 1');
  }
  if (!(Number.isInteger(opts.maxRetries) && opts.maxRetries >= 0))
    fail('maxRetries', opts.maxRetries, 'an integer >= 0');
  if (!(Number.isFinite(opts.retryDelayMs) && opts.retryDelayMs >= 0 && opts.retryDelayMs <= MAX_TIMER_MS)) {
    fail('retryDelayMs', opts.retryDelayMs, `a number of ms from 0 to ${MAX_TIMER_MS} (the longest timer)`);
  }
  if (!(Number.isFinite(opts.timeoutMs) && opts.timeoutMs > 0 && opts.timeoutMs <= MAX_TIMER_MS)) {
    fail('timeoutMs', opts.timeoutMs, `a number of ms > 0, at most ${MAX_TIMER_MS} (the longest timer)`);
  }
  const floor = opts.minBytesPerSecond;
  if (floor !== undefined && !(Number.isFinite(floor) && floor >= 0)) {
    fail('minBytesPerSecond', floor, 'a number >= 0 (0: no floor)');
  }
  const cap = opts.maxBufferedBytes;
  if (cap !== undefined && !(Number.isSafeInteger(cap) && cap >= 1)) {
    fail('maxBufferedBytes', cap, 'an integer >= 1');
  }
}
