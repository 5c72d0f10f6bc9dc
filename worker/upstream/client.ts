/**
 * Where bytes enter the mirror: the one HTTP client towards the upstream.
 *
 * Every HTTP request — first attempts, retries, redirects, indexes and packages alike — passes one
 * gate (concurrency + starts spaced from the previous send, `gate.ts`) inside a custom axios
 * adapter, so nothing can go around it; a fetch() first reserves the memory its body may take
 * (`byte-budget.ts`), and every attempt is watched for silence and for a rate under the floor
 * (`watchdog.ts`). axios-retry retries what fails before the body (network errors, 5xx, 429, 408, a
 * silent server); the loop in #withRetries retries what fails inside a streamed body (reset, stall,
 * too slow, short body, wrong size or hash). Both draw on one budget of `maxRetries` retries per file.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http, { type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import axios, {
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
  isAxiosError,
} from 'axios';
import axiosRetry from 'axios-retry';
import {
  AbortedError,
  IntegrityError,
  UntrustedInputError,
  UpstreamError,
  type UpstreamFaultKind,
} from '../errors.js';
import { backoffDelay, MAX_RETRY_AFTER_MS, parseRetryAfter } from './backoff.js';
import { ByteBudget } from './byte-budget.js';
import { MAX_TIMER_MS, sleep } from './delay.js';
import { Gate, type Pass, spacingMs } from './gate.js';
import { Watchdog } from './watchdog.js';

export interface UpstreamOptions {
  /** The server's root, e.g. `https://downloads.openwrt.org`; a path prefix is kept. */
  baseUrl: string;
  /**
   * Request starts per second, fractions allowed (0.5 = one every 2 s). Each request is sent at
   * least 1 / rateLimit s (plus 2 %) after the previous one was really sent. At least about 4.75e-7
   * (one request every 24.8 days), the longest a timer holds.
   */
  rateLimit: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Retries per file, all causes together. */
  maxRetries: number;
  /** The first backoff; it doubles with each retry, up to an hour. At most 2^31 − 1 ms. */
  retryDelayMs: number;
  /**
   * A request is abandoned after this long without a byte (before the headers too), and the window
   * over which `minBytesPerSecond` is measured. At most 2^31 − 1 ms. (DOWNLOAD_TIMEOUT)
   */
  timeoutMs: number;
  /**
   * Floor on a body's rate, in bytes per second: once a body has flowed for a full `timeoutMs`
   * window, a window that brings fewer than minBytesPerSecond × window bytes abandons the attempt
   * (an UpstreamError of kind 'timeout', retried like a stall). 0 or undefined: no floor.
   * (DOWNLOAD_MIN_RATE)
   */
  minBytesPerSecond?: number;
  /**
   * Cap on the bytes all fetch() bodies may hold in memory at once; default 128 MiB. Each fetch
   * reserves min(maxBytes, maxBufferedBytes) before it is sent, waiting first come first served
   * while the budget is short, keeps only the Content-Length once the headers announce one, and
   * gives it back when it ends. A single fetch whose maxBytes is larger than the cap runs alone and
   * may hold up to its maxBytes. download() writes to disk and takes no part.
   */
  maxBufferedBytes?: number;
  /** Shutdown: aborting rejects every pending call with AbortedError, promptly, never retried. */
  signal?: AbortSignal;
  /** `attempt` is the attempt that failed (1 = the first request); the next one follows `delayMs` later. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; reason: string }) => void;
  /**
   * Test hook: awaited after the gate has let request number `requestNumber` (1 for the first, every
   * attempt and redirect counted) through and before it is sent — a loaded machine's delay. A
   * rejection fails that attempt, as a local error.
   */
  beforeSend?: (requestNumber: number) => Promise<void>;
}

export interface FetchResult {
  notModified: boolean;
  body?: Buffer;
  etag?: string;
  lastModified?: string;
}

export interface DownloadExpectation {
  size?: number;
  sha256?: string;
  /** Refuse (UntrustedInputError, not retried) a body larger than this when the size is not known. */
  maxBytes?: number;
  /** A further check fed the same bytes, e.g. an apk identity hash. */
  check?: () => StreamCheck;
}

export interface StreamCheck {
  update(chunk: Buffer): void;
  /** Throws (or rejects with) IntegrityError when the bytes are not what was expected. */
  finish(): void | Promise<void>;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
}

export interface UpstreamStats {
  /** HTTP requests sent, every attempt and redirect counted. */
  requests: number;
  retries: number;
  /** Body bytes received, from failed attempts too. */
  bytes: number;
  /** Failed attempts by cause, the retried ones included. */
  errors: Record<UpstreamFaultKind, number>;
}

/** Indexes and profiles.json are a few MB; anything far larger is not what we asked for. */
export const DEFAULT_FETCH_MAX_BYTES = 64 * 1024 * 1024;
/** Two fetches at the default maxBytes, with nothing announced yet, fit at once. */
export const DEFAULT_MAX_BUFFERED_BYTES = 128 * 1024 * 1024;
const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = `openwrt-mirror/${packageVersion()}`;
const httpAdapter = axios.getAdapter('http');

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

/** What every attempt of one call sends, and the memory its body may take (fetch() only). */
interface RequestShape {
  headers: Record<string, string>;
  buffered?: number;
}

/** Per call: the retries spent so far, before or inside a body, and the URL after redirects. */
interface Attempts {
  retries: number;
  url: string;
}

export class Upstream {
  readonly stats: UpstreamStats = {
    requests: 0,
    retries: 0,
    bytes: 0,
    errors: { http: 0, network: 0, timeout: 0, 'short-body': 0, integrity: 0, aborted: 0 },
  };
  readonly #opts: UpstreamOptions;
  /** Ours, following the caller's shutdown signal; see the constructor. */
  readonly #signal: AbortSignal | undefined;
  readonly #base: string;
  readonly #gate: Gate;
  readonly #budget: ByteBudget;
  readonly #maxBufferedBytes: number;
  readonly #http: AxiosInstance;

  constructor(opts: UpstreamOptions) {
    validate(opts);
    this.#opts = { ...opts };
    this.#base = opts.baseUrl.replace(/\/+$/, '');
    // Every call waiting out a backoff listens on the shutdown signal, as many as the caller runs in
    // parallel: that is no leak, so they go on a signal of our own, without a listener limit.
    this.#signal = opts.signal && AbortSignal.any([opts.signal]);
    if (this.#signal) setMaxListeners(0, this.#signal);
    this.#gate = new Gate({ rateLimit: opts.rateLimit, concurrency: opts.concurrency, signal: this.#signal });
    this.#maxBufferedBytes = opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#budget = new ByteBudget(this.#maxBufferedBytes, this.#signal);
    this.#http = axios.create({
      // A fetch() passes its own, which reserves memory first; see #request.
      adapter: (config) => this.#send(config),
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
    opts: { maxBytes?: number; etag?: string; lastModified?: string } = {},
  ): Promise<FetchResult> {
    const maxBytes = opts.maxBytes ?? DEFAULT_FETCH_MAX_BYTES;
    const headers: Record<string, string> = {};
    if (opts.etag !== undefined) headers['If-None-Match'] = opts.etag;
    if (opts.lastModified !== undefined) headers['If-Modified-Since'] = opts.lastModified;
    const buffered = Math.min(maxBytes, this.#maxBufferedBytes);
    return this.#withRetries(this.#url(path), { headers, buffered }, async (response, url) => {
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
      if (announced !== undefined && announced > maxBytes)
        throw tooLarge(url, `${announced} bytes announced`, maxBytes);
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of response.data as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > maxBytes) throw tooLarge(url, `more than ${maxBytes} bytes`, maxBytes);
        chunks.push(chunk);
      }
      if (announced !== undefined && bytes < announced) throw shortBody(url, bytes, announced);
      return { notModified: false, body: Buffer.concat(chunks, bytes), etag, lastModified };
    });
  }

  /**
   * Streams `path` into `dest` (created with flag 'wx' after removing any leftover), hashing while
   * it streams, and resolves only once size, SHA-256 and `check` all agree. On any failure `dest`
   * is removed. Bytes that do not match are retried like a network fault, within the same budget:
   * a CDN may serve a stale copy once.
   */
  async download(path: string, dest: string, expect: DownloadExpectation): Promise<DownloadResult> {
    try {
      return await this.#withRetries(this.#url(path), { headers: {} }, (response) =>
        this.#save(response, path, dest, expect),
      );
    } catch (error) {
      await rm(dest, { force: true });
      throw error;
    }
  }

  #url(path: string): string {
    const segments = path.replace(/^\/+/, '').split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..')) {
      throw new UntrustedInputError(`refusing upstream path ${JSON.stringify(path)}: empty, . or .. segment`);
    }
    return `${this.#base}/${segments.map(encodeURIComponent).join('/')}`;
  }

  /** The whole-download loop: a request (axios-retry spends the budget on what fails before the body), then the body. */
  async #withRetries<T>(
    url: string,
    request: RequestShape,
    consume: (response: AxiosResponse<Readable>, url: string) => Promise<T>,
  ): Promise<T> {
    const attempts: Attempts = { retries: 0, url };
    for (;;) {
      let response: AxiosResponse<Readable>;
      try {
        response = await this.#request(request, attempts);
      } catch (error) {
        // axios-retry has already retried whatever could be.
        throw this.#fail(error, attempts);
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
        this.stats.retries += 1;
        const delayMs = backoffDelay(attempts.retries, this.#opts.retryDelayMs);
        this.#opts.onRetry?.({
          url: attempts.url,
          attempt: attempts.retries,
          delayMs,
          reason: failure.reason,
        });
        try {
          await sleep(delayMs, this.#signal);
        } catch (sleepError) {
          throw this.#fail(sleepError, attempts);
        }
        // A retry starts over from the URL asked for, not from where a redirect led.
        attempts.url = url;
      }
    }
  }

  /** One GET through axios and axios-retry, following redirects; a 304 is an answer, not an error. */
  async #request({ headers, buffered }: RequestShape, attempts: Attempts): Promise<AxiosResponse<Readable>> {
    for (let hop = 0; ; hop++) {
      const at = attempts.url;
      const spent = attempts.retries;
      let delayMs = 0;
      try {
        const response = await this.#http.get<Readable>(at, {
          headers,
          signal: this.#signal,
          // axios-retry reissues the same config: every attempt reserves afresh.
          ...(buffered !== undefined && { adapter: (config) => this.#send(config, buffered) }),
          'axios-retry': {
            retries: this.#opts.maxRetries - spent,
            retryCondition: (error) => this.#describe(error).retryable,
            retryDelay: (retry, error) => {
              delayMs = backoffDelay(
                spent + retry,
                this.#opts.retryDelayMs,
                this.#describe(error).retryAfterMs,
              );
              return delayMs;
            },
            onRetry: (retry, error) => {
              const failure = this.#describe(error);
              this.#count(failure);
              attempts.retries = spent + retry;
              this.stats.retries += 1;
              this.#opts.onRetry?.({ url: at, attempt: attempts.retries, delayMs, reason: failure.reason });
            },
          },
        });
        return response;
      } catch (error) {
        const response = isAxiosError<Readable>(error) ? error.response : undefined;
        if (response?.status === 304) return response;
        const location =
          response && REDIRECTS.has(response.status) ? header(response, 'location') : undefined;
        if (location === undefined || hop >= MAX_REDIRECTS) throw error;
        const next = new URL(location, at);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') throw error;
        attempts.url = next.href;
      }
    }
  }

  /**
   * The adapter behind every axios request: reserves the memory a buffered body may take (fetch()
   * only), waits at the gate, tells the gate when the request is really sent, watches for silence
   * and for a rate under the floor, and holds slot and reservation until the body is consumed or
   * abandoned. Reserving per attempt, not per call, keeps a backoff from holding memory and a retry
   * from waiting for memory while it holds some (which could deadlock).
   */
  #send = async (config: InternalAxiosRequestConfig, buffered?: number): Promise<AxiosResponse> => {
    const stopping = this.#signal;
    // Before the gate: nothing that holds a slot, a connection or a timer ever waits for memory.
    const reservation = buffered === undefined ? undefined : await this.#budget.reserve(buffered);
    let pass: Pass;
    try {
      pass = await this.#gate.enter();
    } catch (error) {
      reservation?.release();
      throw error;
    }
    this.stats.requests += 1;
    const requestNumber = this.stats.requests;
    // Per attempt, not AbortSignal.any([shutdown, …]): composites of a long-lived signal can leak
    // (nodejs/node#54614), and a worker runs for months. This listener goes when the attempt ends.
    const attempt = new AbortController();
    let watched: Transform | undefined;
    const onStop = () => {
      attempt.abort();
      watched?.destroy(new AbortedError());
    };
    stopping?.addEventListener('abort', onStop, { once: true });
    let tooSlow: string | undefined;
    let abandon = (reason: string) => {
      tooSlow = reason;
      attempt.abort();
    };
    const watchdog = new Watchdog({
      timeoutMs: this.#opts.timeoutMs,
      minBytesPerSecond: this.#opts.minBytesPerSecond ?? 0,
      onTimeout: (reason) => abandon(reason),
    });
    const end = () => {
      watchdog.stop();
      stopping?.removeEventListener('abort', onStop);
      pass.release();
      reservation?.release();
    };
    let response: AxiosResponse;
    try {
      stopping?.throwIfAborted();
      await this.#opts.beforeSend?.(requestNumber);
      stopping?.throwIfAborted();
      // A copy: axios-retry reuses `config` for the next attempt, which needs a fresh signal.
      response = await httpAdapter({ ...config, signal: attempt.signal, transport: reporting(pass.sent) });
    } catch (error) {
      // An answer, even an error status, means the request got there.
      if (isAxiosError(error) && error.response) pass.sent();
      end();
      if (isAxiosError(error)) {
        if (error.response?.data instanceof Readable) error.response.data.destroy();
        error.config = config;
        if (tooSlow !== undefined && !stopping?.aborted) {
          throw new axios.AxiosError(tooSlow, 'ETIMEDOUT', config);
        }
      }
      throw error;
    }
    pass.sent();
    watchdog.headers();

    const upstream = this;
    const url = config.url ?? '';
    const announced = contentLength(response);
    // The body can take no more than it announced (more is refused as it comes).
    if (announced !== undefined) reservation?.shrink(announced);
    let received = 0;
    const body = response.data as Readable;
    watched = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        watchdog.data(chunk.length);
        received += chunk.length;
        upstream.stats.bytes += chunk.length;
        done(null, chunk);
      },
    });
    const output = watched;
    abandon = (reason) => output.destroy(new UpstreamError(reason, url, { kind: 'timeout' }));
    // Errors reach the consumer through the stream's state; this keeps one that comes before the
    // consumer is attached from being an uncaught exception.
    output.on('error', () => {});
    body.on('error', (error) => {
      if (stopping?.aborted) output.destroy(new AbortedError());
      else if (announced !== undefined && received < announced)
        output.destroy(shortBody(url, received, announced, error));
      else
        output.destroy(
          new UpstreamError(`connection failed in the body: ${error.message}`, url, {
            kind: 'network',
            cause: error,
          }),
        );
    });
    output.once('close', () => {
      end();
      if (!body.destroyed) body.destroy();
    });
    body.pipe(output);
    response.data = output;
    return response;
  };

  async #save(
    response: AxiosResponse<Readable>,
    file: string,
    dest: string,
    expect: DownloadExpectation,
  ): Promise<DownloadResult> {
    const announced = contentLength(response);
    if (expect.size !== undefined && announced !== undefined && announced !== expect.size) {
      throw new IntegrityError(file, `${expect.size} bytes`, `${announced} bytes (Content-Length)`, 'size');
    }
    const limit = expect.maxBytes;
    if (limit !== undefined && announced !== undefined && announced > limit) {
      throw tooLarge(file, `${announced} bytes announced`, limit);
    }
    await rm(dest, { force: true });
    const hash = createHash('sha256');
    const check = expect.check?.();
    let bytes = 0;
    try {
      await pipeline(
        response.data,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            bytes += chunk.length;
            // Stop as soon as the body outgrows what we expect: never write an unbounded file.
            if (expect.size !== undefined && bytes > expect.size) {
              throw new IntegrityError(
                file,
                `${expect.size} bytes`,
                `more than ${expect.size} bytes`,
                'size',
              );
            }
            if (limit !== undefined && bytes > limit) throw tooLarge(file, `more than ${limit} bytes`, limit);
            hash.update(chunk);
            check?.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(dest, { flags: 'wx' }),
      );
      if (announced !== undefined && bytes < announced) throw shortBody(file, bytes, announced);
      if (expect.size !== undefined && bytes !== expect.size) {
        throw new IntegrityError(file, `${expect.size} bytes`, `${bytes} bytes`, 'size');
      }
      const sha256 = hash.digest('hex');
      if (expect.sha256 !== undefined && sha256 !== expect.sha256.toLowerCase()) {
        throw new IntegrityError(file, expect.sha256, sha256, 'sha256');
      }
      await check?.finish();
      return { bytes, sha256 };
    } catch (error) {
      await rm(dest, { force: true });
      throw error;
    }
  }

  /** The one classification of what went wrong, used by both retry layers and the final error. */
  #describe(error: unknown): Failure {
    if (this.#signal?.aborted) return { kind: 'aborted', reason: 'stopped by signal', retryable: false };
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
    this.stats.errors[failure.kind] += 1;
  }

  /** The error a caller sees: AbortedError, IntegrityError, UntrustedInputError, UpstreamError, or a local one. */
  #fail(error: unknown, attempts: Attempts): unknown {
    const failure = this.#describe(error);
    if (failure.local) return error;
    this.#count(failure);
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

/**
 * An axios `transport` that tells `onSent` when the request is really sent: 'finish', the request's
 * headers handed to the socket, after any connect or TLS handshake. Measured against the fake
 * upstream on 127.0.0.1, it is the last client-side event before the server sees the request
 * ('socket' and `req.end()` come before the connection is even up).
 */
function reporting(onSent: () => void) {
  return {
    request(options: RequestOptions, callback: (response: IncomingMessage) => void): ClientRequest {
      const request = (options.protocol === 'https:' ? https : http).request(options, callback);
      request.once('finish', onSent);
      return request;
    },
  };
}

function header(response: AxiosResponse, name: string): string | undefined {
  const value: unknown = response.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function contentLength(response: AxiosResponse): number | undefined {
  const value = header(response, 'content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

function tooLarge(what: string, got: string, limit: number): UntrustedInputError {
  return new UntrustedInputError(`${what}: refusing a body of ${got}, the limit is ${limit} bytes`);
}

function shortBody(url: string, received: number, announced: number, cause?: unknown): UpstreamError {
  return new UpstreamError(`body ended after ${received} of ${announced} bytes`, url, {
    kind: 'short-body',
    cause,
  });
}

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}
