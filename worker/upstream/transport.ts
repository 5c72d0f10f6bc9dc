/**
 * One HTTP attempt, as the upstream sees it: the axios adapter behind every request (first
 * attempts, retries and redirects alike), so nothing can go around the gate. Apart from the retry
 * policy and the client because every promise of design.md's Politeness — starts spaced from the
 * real send, slots held until the body is consumed, memory reserved before a slot, silence and
 * slowness abandoned — is kept here, and can be checked here, in one place.
 */
import http, { type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import https from 'node:https';
import { Readable, Transform } from 'node:stream';
import { AbortedError, UpstreamError } from '../errors.js';
import {
  type AxiosAdapter,
  type AxiosResponse,
  axios,
  type InternalAxiosRequestConfig,
  isAxiosError,
} from './axios.js';
import { ByteBudget } from './byte-budget.js';
import { Gate, type Pass, type Priority } from './gate.js';
import { contentLength, shortBody } from './response.js';
import type { TransportOptions } from './types.js';
import { Watchdog } from './watchdog.js';

const httpAdapter = axios.getAdapter('http');

export class Transport {
  readonly #opts: TransportOptions;
  readonly #gate: Gate;
  readonly #budget: ByteBudget;

  constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.#gate =
      opts.gate ??
      new Gate({ rateLimit: opts.rateLimit, concurrency: opts.concurrency, signal: opts.signal });
    this.#budget = new ByteBudget(opts.maxBufferedBytes, opts.signal);
  }

  /** See Gate.limitBackground. */
  limitBackground(limited: boolean): void {
    this.#gate.limitBackground(limited);
  }

  /**
   * An axios adapter that sends each attempt through the gate. With `buffered` (fetch() only),
   * each attempt first reserves that much memory: per attempt, not per call, so that a backoff
   * holds no memory and a retry never waits for memory while it holds some (which could deadlock).
   */
  adapter(buffered?: number, priority: Priority = 'normal', size?: number): AxiosAdapter {
    return (config) => this.#send(config, buffered, priority, size);
  }

  /**
   * Reserves the memory a buffered body may take, waits at the gate, tells the gate when the
   * request is really sent, watches for silence and for a rate under the floor, and holds slot and
   * reservation until the body is consumed or abandoned.
   */
  async #send(
    config: InternalAxiosRequestConfig,
    buffered: number | undefined,
    priority: Priority,
    /** The bytes a download expects, its place in the gate's queue. */
    size: number | undefined,
  ): Promise<AxiosResponse> {
    const stopping = this.#opts.signal;
    const stats = this.#opts.stats;
    // Before the gate: nothing that holds a slot, a connection or a timer ever waits for memory.
    const reservation = buffered === undefined ? undefined : await this.#budget.reserve(buffered);
    let pass: Pass;
    try {
      pass = await this.#gate.enter(priority, size);
    } catch (error) {
      reservation?.release();
      throw error;
    }
    stats.requests += 1;
    const requestNumber = stats.requests;
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
        stats.bytes += chunk.length;
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
