/** Fetching the small files of an index, whole and capped. */
import { UpstreamError } from '../errors.js';
import type { FetchResult } from '../upstream/types.js';
import { type SyncContext, upstreamPath } from './context.js';

/**
 * Most bytes an index file may have on the wire: Packages.gz, packages.adb (both compressed), index.json,
 * Packages.manifest. The largest real ones are a few MiB; what they unpack to has its own, larger cap.
 * Each fetch reserves this much memory until its Content-Length is known, so it also sets how many
 * index fetches can start at once under the client's memory cap.
 */
export const MAX_INDEX_FILE_BYTES = 16 * 1024 * 1024;

/** `optional`: a 404 is undefined; `side`: a side request (side.ts). */
export async function fetchIndexFile(
  ctx: SyncContext,
  rel: string,
  options: { optional: true; side?: boolean },
): Promise<Buffer | undefined>;
export async function fetchIndexFile(ctx: SyncContext, rel: string): Promise<Buffer>;
export async function fetchIndexFile(
  ctx: SyncContext,
  rel: string,
  options?: { optional: true; side?: boolean },
): Promise<Buffer | undefined> {
  const fetching = (ctx.ahead.take(rel)?.result ?? requestIndexFile(ctx, rel, options?.side)).then(
    (result) => result.body ?? Buffer.alloc(0),
  );
  return options?.optional ? absentAsUndefined(fetching) : fetching;
}

/** Asks for the index file `rel` as fetchIndexFile will, before it does (ahead.ts). */
export function askIndexFileAhead(ctx: SyncContext, rel: string): void {
  ctx.ahead.ask(rel, () => ({ result: requestIndexFile(ctx, rel) }));
}

function requestIndexFile(ctx: SyncContext, rel: string, side = false): Promise<FetchResult> {
  return ctx.upstream.fetch(upstreamPath(ctx, rel), { maxBytes: MAX_INDEX_FILE_BYTES, side });
}

/** A fetch of an index file whose 404 means "not there" (undefined) rather than an error. */
export function absentAsUndefined(fetching: Promise<Buffer>): Promise<Buffer | undefined> {
  return fetching.catch((error: unknown) => {
    if (error instanceof UpstreamError && error.details.status === 404) return undefined;
    throw error;
  });
}
