/**
 * One body onto disk: streamed into a temporary file while it is hashed and checked, so that a
 * package is never held in memory and never read twice. Apart from the transport and the retry
 * policy because it is the one place a downloaded file is judged (size, SHA-256, the caller's own
 * check) and the one place it is removed when it fails them.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AxiosResponse } from 'axios';
import { IntegrityError } from '../errors.js';
import { contentLength, shortBody, tooLarge } from './response.js';
import type { DownloadExpectation, DownloadResult } from './types.js';

/**
 * Streams `response`'s body into `dest` (flag 'wx', after removing any leftover) and resolves only
 * once size, SHA-256 and `expect.check` all agree; `file` names it in the errors. On any failure
 * `dest` is removed.
 */
export async function streamToFile(
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
    throw tooLarge(file, limit, announced);
  }
  await rm(dest, { force: true });
  expect.onProgress?.(0);
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
            throw new IntegrityError(file, `${expect.size} bytes`, `more than ${expect.size} bytes`, 'size');
          }
          if (limit !== undefined && bytes > limit) throw tooLarge(file, limit);
          hash.update(chunk);
          check?.update(chunk);
          expect.onProgress?.(bytes);
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
