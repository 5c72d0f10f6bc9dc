/** Fetching the small files of an index, whole and capped. */
import { UpstreamError } from '../../errors.js';
import { MAX_INDEX_BYTES } from '../../feeds/packages-index.js';
import { type SyncContext, upstreamPath } from '../context.js';

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
    const result = await ctx.upstream.fetch(upstreamPath(ctx, rel), { maxBytes: MAX_INDEX_BYTES });
    return result.body ?? Buffer.alloc(0);
  } catch (error) {
    if (options?.optional && error instanceof UpstreamError && error.details.status === 404) return undefined;
    throw error;
  }
}
