/**
 * What the transport, the retry policy, fetch() and the download all read from a response, and the
 * two errors a body of the wrong length gives: one reading and one wording, wherever it is noticed.
 */
import type { AxiosResponse } from 'axios';
import { UntrustedInputError, UpstreamError } from '../errors.js';

export function header(response: AxiosResponse, name: string): string | undefined {
  const value: unknown = response.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Only a plain count of bytes: anything else announces nothing we could hold the body to. */
export function contentLength(response: AxiosResponse): number | undefined {
  const value = header(response, 'content-length');
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** A body over `limit`: `announced` when its Content-Length said so, else it was found while reading. */
export function tooLarge(what: string, limit: number, announced?: number): UntrustedInputError {
  const got = announced === undefined ? 'that goes on past' : `of ${announced} bytes, over`;
  return new UntrustedInputError(`${what}: refusing a body ${got} the limit of ${limit} bytes`);
}

export function shortBody(url: string, received: number, announced: number, cause?: unknown): UpstreamError {
  return new UpstreamError(`body ended after ${received} of ${announced} bytes`, url, {
    kind: 'short-body',
    cause,
  });
}
