/** Fetching the small files of an index, whole and capped. */
import { UpstreamError } from '../errors.js';
import { type SyncContext, upstreamPath } from './context.js';

/**
 * Most bytes an index file may have on the wire: Packages.gz, packages.adb (both compressed), index.json,
 * Packages.manifest. The largest real ones are a few MiB; what they unpack to has its own, larger cap.
 * Each fetch reserves this much memory until its Content-Length is known, so it also sets how many
 * index fetches can start at once under the client's memory cap.
 */
export const MAX_INDEX_FILE_BYTES = 16 * 1024 * 1024;

export async function fetchIndexFile(
  ctx: SyncContext,
  rel: string,
  options: { optional: true },
): Promise<Buffer | undefined>;
export async function fetchIndexFile(ctx: SyncContext, rel: string): Promise<Buffer>;
export async function fetchIndexFile(
  ctx: SyncContext,
  rel: string,
  options?: { optional: true },
): Promise<Buffer | undefined> {
  try {
    const result = await ctx.upstream.fetch(upstreamPath(ctx, rel), { maxBytes: MAX_INDEX_FILE_BYTES });
    return result.body ?? Buffer.alloc(0);
  } catch (error) {
    if (options?.optional && error instanceof UpstreamError && error.details.status === 404) return undefined;
    throw error;
  }
}
