/**
 * Brings every wanted file into the pool: skipped when the pool already holds its content,
 * otherwise streamed from the upstream into tmp/, checked, and admitted. The upstream client holds
 * the rate and concurrency limits; this only keeps the queue of waiting downloads short.
 */
import pLimit from 'p-limit';
import { AbortedError } from '../errors.js';
import type { StreamCheck } from '../feeds/types.js';
import type { ServedFile } from '../publish/types.js';
import { count, formatBytes } from '../status/units.js';
import { type SyncContext, upstreamPath } from './context.js';
import { type Counters, emptyCounters } from './report.js';

export interface WantedFile {
  rel: string;
  /** Key for counters: the feed directory, or `images`. */
  group: string;
  /** The file's SHA-256 when the index gives it (opkg, images): also its pool name. */
  sha256?: string;
  /** apk: the identity the bytes must have, checked by `check` while they stream. */
  identity?: string;
  check?: () => StreamCheck;
  /** What was served at this path before, when it is known to be this very file (apk). */
  reuse?: ServedFile;
  /** Unknown for images: profiles.json and sha256sums carry only the hash. */
  size?: number;
  maxBytes?: number;
}

export type FetchOutcome = { ok: true; served: ServedFile } | { ok: false; reason: string; error: unknown };

const PROGRESS_EVERY_MS = 5000;

export async function fetchAll(
  ctx: SyncContext,
  wanted: WantedFile[],
): Promise<{
  outcomes: Map<string, FetchOutcome>;
  counters: Map<string, Counters>;
}> {
  const outcomes = new Map<string, FetchOutcome>();
  const counters = new Map<string, Counters>();
  const countersOf = (group: string): Counters => {
    let c = counters.get(group);
    if (!c) {
      c = emptyCounters();
      counters.set(group, c);
    }
    return c;
  };
  const total = emptyCounters();
  const toFetch: WantedFile[] = [];
  for (const file of wanted) {
    const c = countersOf(file.group);
    c.planned++;
    total.planned++;
    const held = await alreadyHeld(ctx, file);
    if (held) {
      outcomes.set(file.rel, { ok: true, served: held });
      c.skipped++;
      total.skipped++;
    } else {
      toFetch.push(file);
    }
  }
  if (toFetch.length === 0) return { outcomes, counters };
  // The same bytes at two paths (24.10's core feed carries every kmod of the kmods feed) are fetched once.
  const bySha = new Map<string, WantedFile[]>();
  for (const file of toFetch) {
    const key = file.sha256 ?? file.identity ?? file.rel;
    bySha.set(key, [...(bySha.get(key) ?? []), file]);
  }

  ctx.logger.info(`downloading ${count(toFetch.length, 'file')} (${total.skipped} already verified)`, {
    phase: 'download',
  });
  const startedAt = Date.now();
  const progress = setInterval(() => {
    const done = total.downloaded + total.failed;
    const seconds = (Date.now() - startedAt) / 1000;
    ctx.logger.info(
      `progress ${done}/${bySha.size} files, ${formatBytes(total.bytes)}, ${formatBytes(total.bytes / seconds)}/s, ${total.failed} failed`,
      { phase: 'download', done, of: bySha.size, bytes: total.bytes, failed: total.failed },
    );
  }, PROGRESS_EVERY_MS);
  progress.unref();

  // Enough queued to keep every connection busy, without thousands of pending promises holding temp paths.
  const limit = pLimit(Math.max(4, ctx.config.concurrency * 2));
  try {
    // allSettled: on a stop, every download in flight has ended (and cleaned up) before the run returns.
    const settled = await Promise.allSettled(
      [...bySha.values()].map(([file, ...copies]) =>
        limit(async () => {
          if (!file) return;
          if (ctx.signal?.aborted) throw new AbortedError();
          const c = countersOf(file.group);
          const tmp = ctx.dir.tmpPath(file.rel.split('/').pop() ?? 'download');
          try {
            const result = await ctx.upstream.download(upstreamPath(ctx, file.rel), tmp, {
              size: file.size,
              sha256: file.sha256,
              maxBytes: file.maxBytes,
              check: file.check,
            });
            await ctx.pool.admitFile(tmp, result.sha256);
            const served: ServedFile = { sha256: result.sha256, size: result.bytes, identity: file.identity };
            outcomes.set(file.rel, { ok: true, served });
            for (const copy of copies) {
              outcomes.set(copy.rel, { ok: true, served });
              countersOf(copy.group).skipped++;
              total.skipped++;
            }
            c.downloaded++;
            total.downloaded++;
            c.bytes += result.bytes;
            total.bytes += result.bytes;
            ctx.logger.debug(`fetched ${file.rel}`, { bytes: result.bytes });
          } catch (error) {
            if (error instanceof AbortedError) throw error;
            for (const failed of [file, ...copies]) {
              outcomes.set(failed.rel, { ok: false, reason: (error as Error).message, error });
              countersOf(failed.group).failed++;
              total.failed++;
            }
            ctx.logger.warn(`failed ${file.rel}: ${(error as Error).message}`, {
              phase: 'download',
              file: file.rel,
            });
          }
        }),
      ),
    );
    const stopped = settled.find((result) => result.status === 'rejected');
    if (stopped) throw stopped.reason;
  } finally {
    clearInterval(progress);
  }
  return { outcomes, counters };
}

/** The pool already holds this file's verified bytes: by its hash, or as the file served before (apk). */
async function alreadyHeld(ctx: SyncContext, file: WantedFile): Promise<ServedFile | undefined> {
  if (file.reuse && (await ctx.pool.has(file.reuse.sha256, file.reuse.size))) return file.reuse;
  if (file.sha256 && (await ctx.pool.has(file.sha256, file.size))) {
    return { sha256: file.sha256, size: file.size ?? (await ctx.pool.sizeOf(file.sha256)) };
  }
  return undefined;
}
