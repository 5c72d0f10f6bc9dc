/**
 * The upstream client's types: what its users pass and get back, and what its parts hand each
 * other. Types only, so that every part (and every user) can import them without pulling in axios.
 */
import type { UpstreamFaultKind } from '../errors.js';
import type { StreamCheck } from '../feeds/types.js';
import type { Gate } from './gate.js';

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
  /**
   * Another client's gate, shared: the worker's syncs and its on-demand listener are two clients
   * with one politeness towards the upstream (rateLimit and concurrency are then the gate's own).
   */
  gate?: Gate;
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
  /** Told the bytes of the current attempt received so far (each retry starts again from 0). */
  onProgress?: (bytes: number) => void;
  /** Nothing waits on it yet: it takes a slot only when no other request waits (gate.ts, `background`). */
  background?: boolean;
}

export interface DownloadResult {
  bytes: number;
  sha256: string;
}

export interface UpstreamStats {
  /** HTTP attempts let through the gate (every retry and redirect counted): sent, or failed while connecting. */
  requests: number;
  retries: number;
  /** Body bytes received, from failed attempts too. */
  bytes: number;
  /** Failed attempts by cause, the retried ones included. */
  errors: Record<UpstreamFaultKind, number>;
}

/**
 * What the transport needs from the client. `signal` is the client's own, which follows the
 * caller's; `stats` is the client's, counted into as requests go out and bytes come in.
 */
export interface TransportOptions
  extends Pick<
    UpstreamOptions,
    'rateLimit' | 'concurrency' | 'timeoutMs' | 'minBytesPerSecond' | 'beforeSend' | 'gate'
  > {
  maxBufferedBytes: number;
  signal: AbortSignal | undefined;
  stats: UpstreamStats;
}

/** What the retry policy needs from the client; `signal` and `stats` as for the transport. */
export interface RetryOptions extends Pick<UpstreamOptions, 'maxRetries' | 'retryDelayMs' | 'onRetry'> {
  signal: AbortSignal | undefined;
  stats: UpstreamStats;
}

/**
 * Per call, shared by the retry policy and the client's redirects: the retries spent so far, before
 * or inside a body, and the URL after redirects.
 */
export interface Attempts {
  retries: number;
  url: string;
}
