/**
 * Brings every task's file into the pool: nothing to do when the pool already holds its content,
 * otherwise streamed from the upstream into tmp/, checked, and admitted. Tasks with one content key
 * (the same bytes at two paths, or in two releases) are fetched once. The upstream client holds the
 * rate and concurrency limits; this only keeps the queue of waiting downloads short.
 */
import { AbortedError } from '../errors.js';
import type { ServedFile } from '../publish/types.js';
import { count, formatBytes, formatDuration } from '../status/units.js';
import type { SyncContext } from './context.js';
import type { FileTask } from './types.js';

const PROGRESS_EVERY_MS = 5000;
/** Pool lookups in flight at once. */
const HELD_BATCH = 64;

/** What fetching needs of a sync: the run's, whichever release's context it is. */
export type FetchContext = Pick<
  SyncContext,
  'upstream' | 'pool' | 'dir' | 'logger' | 'signal' | 'config' | 'progress'
>;

/**
 * Sets every task's outcome; throws only AbortedError (a stop), after every download in flight ended.
 * Largest first (longest-processing-time order): the run does not end on one connection carrying a
 * big file while the others idle. `background`: started before anything waits on them (the images,
 * while the indexes come in), so they let every other request go first (upstream/gate.ts).
 */
export async function fetchTasks(
  ctx: FetchContext,
  tasks: FileTask[],
  options: { background?: boolean } = {},
): Promise<void> {
  /** The task that fetches each content key; `alike`, the others of the same key (few): one queue entry a file. */
  const toFetch = new Map<string, FileTask>();
  const alike = new Map<FileTask, FileTask[]>();
  let held = 0;
  // A full mirror has thousands of tasks and a re-run holds them all: their lstats go out together,
  // a batch at a time, instead of one after another.
  for (let start = 0; start < tasks.length; start += HELD_BATCH) {
    const batch = tasks.slice(start, start + HELD_BATCH);
    const found = await Promise.all(batch.map((task) => alreadyHeld(ctx, task)));
    for (const [i, task] of batch.entries()) {
      const served = found[i];
      if (served) {
        task.outcome = { ok: true, served, fetched: false };
        held++;
        continue;
      }
      const first = toFetch.get(task.key);
      const others = first && alike.get(first);
      if (first === undefined) toFetch.set(task.key, task);
      else if (others) others.push(task);
      else alike.set(first, [task]);
    }
  }
  // The bytes to come, as the indexes give them; an image's size is not given: counted as the average.
  const firsts = [...toFetch.values()];
  const known = firsts.flatMap((task) => (task.size === undefined ? [] : [task.size]));
  const average = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 0;
  const bytesTotal = Math.round(firsts.reduce((sum, task) => sum + (task.size ?? average), 0));
  ctx.progress.downloads(toFetch.size, bytesTotal);
  if (toFetch.size === 0) return;

  ctx.logger.info(`downloading ${count(toFetch.size, 'file')} (${held} already verified)`, {
    phase: 'download',
  });
  let failed = 0;
  const timer = setInterval(() => {
    const now = ctx.progress.snapshot();
    const eta = now.etaSeconds;
    ctx.logger.info(
      `progress ${now.filesDone}/${now.filesTotal} files, ${formatBytes(now.bytesDone)} of ${formatBytes(now.bytesTotal)}, ` +
        `${formatBytes(now.bytesPerSecond)}/s, ${eta === undefined ? 'time left unknown' : `about ${formatDuration(eta * 1000)} left`}, ${failed} failed`,
      {
        phase: 'download',
        done: now.filesDone,
        of: now.filesTotal,
        bytes: now.bytesDone,
        bytesTotal: now.bytesTotal,
        failed,
        ...(eta !== undefined && { etaSeconds: eta }),
      },
    );
  }, PROGRESS_EVERY_MS);
  timer.unref();

  // An image's size is not given before it comes: taken as the largest, which images are.
  const sizeOf = (task: FileTask) => task.size ?? Number.POSITIVE_INFINITY;
  const largestFirst = firsts.sort((a, b) => (sizeOf(a) === sizeOf(b) ? 0 : sizeOf(a) > sizeOf(b) ? -1 : 1));
  toFetch.clear();
  const fetchOne = async (first: FileTask): Promise<void> => {
    const same = [first, ...(alike.get(first) ?? [])];
    const tmp = ctx.dir.tmpPath(first.rel.split('/').pop() ?? 'download');
    /** Bytes of the current attempt counted into the progress; a retry takes them back. */
    let counted = 0;
    try {
      const result = await ctx.upstream.download(`releases/${first.release}/${first.rel}`, tmp, {
        size: first.size,
        sha256: first.sha256,
        maxBytes: first.maxBytes,
        check: first.check,
        background: options.background,
        onProgress: (bytes) => {
          ctx.progress.bytes(bytes - counted);
          counted = bytes;
        },
      });
      await ctx.pool.admitFile(tmp, result.sha256);
      const served: ServedFile = {
        // The index's own string when it is the same hash: one copy per package, not two.
        sha256: result.sha256 === first.sha256 ? first.sha256 : result.sha256,
        size: result.bytes,
        identity: first.identity,
      };
      // The first path fetched the bytes; the others found them in the pool.
      same.forEach((task, i) => {
        task.outcome = { ok: true, served, fetched: i === 0 };
      });
      ctx.logger.debug(`fetched ${first.rel}`, { bytes: result.bytes });
    } catch (error) {
      if (error instanceof AbortedError) throw error;
      const reason = (error as Error).message;
      for (const task of same) task.outcome = { ok: false, reason };
      failed++;
      ctx.logger.warn(`failed ${first.rel}: ${reason}`, { phase: 'download', file: first.rel });
    } finally {
      ctx.progress.fileDone();
    }
  };
  // Enough downloads under way to keep every connection busy, each runner taking the next file when
  // its last one ends: not a promise, a closure and a queue entry per file made up front (p-limit),
  // which a full mirror's 11,000 files held until the last download.
  let next = 0;
  const runner = async (): Promise<void> => {
    for (let first = largestFirst[next++]; first !== undefined; first = largestFirst[next++]) {
      if (ctx.signal?.aborted) throw new AbortedError();
      await fetchOne(first);
    }
  };
  const runners = Math.min(largestFirst.length, Math.max(4, ctx.config.concurrency * 2));
  try {
    // allSettled: on a stop, every download in flight has ended (and cleaned up) before the run returns.
    const settled = await Promise.allSettled(Array.from({ length: runners }, runner));
    const stopped = settled.find((result) => result.status === 'rejected');
    if (stopped) throw stopped.reason;
  } finally {
    clearInterval(timer);
  }
}

/** The pool already holds this file's verified bytes: by its hash, or as the file served before (apk). */
async function alreadyHeld(ctx: FetchContext, task: FileTask): Promise<ServedFile | undefined> {
  if (task.reuse && (await ctx.pool.has(task.reuse.sha256, task.reuse.size))) return task.reuse;
  if (task.sha256 && (await ctx.pool.has(task.sha256, task.size))) {
    return { sha256: task.sha256, size: task.size ?? (await ctx.pool.sizeOf(task.sha256)) };
  }
  return undefined;
}
