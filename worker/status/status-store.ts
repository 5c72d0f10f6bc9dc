/**
 * status.json has several writers: a sync at its end and, while it runs, its progress; the worker's
 * heartbeat, next run and a configuration it refused; a one-off sync in another container beside a
 * running worker. Each write is a read-modify-write of the fields it owns, under a short lock of its
 * own (`.mirror/status.lock`, not the sync's lock, which a sync holds for hours), so that no writer
 * loses another's fields. The file itself still appears by rename, whole, with the metrics beside it.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MirrorDir } from '../publish/mirror-dir.js';
import type { SyncReport } from '../sync/types.js';
import {
  buildStatus,
  emptyStatus,
  type RunningStatus,
  readStatus,
  type StatusFile,
  type WorkerStatus,
  writeStatus,
} from './status-file.js';

/** A holder gone longer than this (killed between open and unlink) no longer holds the lock. */
const STALE_MS = 10_000;
/** How long a writer waits for the lock before it gives up (the write is then reported, not made). */
const WAIT_MS = 15_000;
const POLL_MS = 15;

/** Writes queued in this process, per mirror directory: they take the lock one after another. */
const queues = new Map<string, Promise<unknown>>();

/**
 * Applies `change` to the current status.json (undefined when there is none yet) and writes the
 * result with the metrics; `undefined` from `change` writes nothing. Resolves to what was written.
 */
export function updateStatus(
  dir: MirrorDir,
  change: (current: StatusFile | undefined) => StatusFile | undefined,
): Promise<StatusFile | undefined> {
  const previous = queues.get(dir.root) ?? Promise.resolve();
  const next = previous.catch(() => {}).then(() => underLock(dir, change));
  queues.set(dir.root, next);
  const forget = () => {
    if (queues.get(dir.root) === next) queues.delete(dir.root);
  };
  // The caller handles the rejection; this branch must not become an unhandled one.
  next.then(forget, forget);
  return next;
}

async function underLock(
  dir: MirrorDir,
  change: (current: StatusFile | undefined) => StatusFile | undefined,
): Promise<StatusFile | undefined> {
  const lock = path.join(dir.internal, 'status.lock');
  // Before the first sync (a heartbeat, a refused configuration) `.mirror/` may not be there yet.
  await dir.prepareRoot();
  await take(lock);
  try {
    const next = change(await readStatus(dir.root));
    if (next !== undefined) await writeStatus(dir, next);
    return next;
  } finally {
    await fs.rm(lock, { force: true });
  }
}

async function take(lock: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const handle = await fs.open(lock, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stat = await fs.stat(lock).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > STALE_MS) {
      await fs.rm(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`status.json is locked by another writer (${lock})`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The end of a run that published: `status` as built from it, with the worker's fields and the download statistics kept, `running` gone. */
export async function recordRun(
  dir: MirrorDir,
  status: StatusFile,
  options: { keepNextRun: boolean },
): Promise<void> {
  await updateStatus(dir, (current) =>
    withoutRunning({
      ...status,
      ...(current?.worker && { worker: current.worker }),
      ...(current?.downloads && { downloads: current.downloads }),
      ...(options.keepNextRun && { nextRunAt: current?.nextRunAt }),
    }),
  );
}

/**
 * Records a run that ended without writing status.json itself (it failed or was stopped before it
 * could): what is served stays described, `lastRun` is this run, `running` is gone. Never throws —
 * with a full disk it tells `onError`, and the caller still releases the lock.
 */
export async function recordUnpublishedRun(
  dir: MirrorDir,
  input: { report: SyncReport; upstream: string; nextRunAt?: Date },
  onError: (error: Error) => void,
): Promise<void> {
  try {
    const fresh = buildStatus({ ...input, sets: [], releases: new Map() });
    await updateStatus(dir, (existing) =>
      withoutRunning(
        existing
          ? { ...existing, lastRun: fresh.lastRun, ...(input.nextRunAt && { nextRunAt: fresh.nextRunAt }) }
          : fresh,
      ),
    );
  } catch (error) {
    onError(error as Error);
  }
}

/** A running sync's progress, into status.json (made if there is none yet). */
export async function recordRunning(dir: MirrorDir, upstream: string, running: RunningStatus): Promise<void> {
  await updateStatus(dir, (current) => ({ ...(current ?? emptyStatus(upstream)), running }));
}

/** The worker's own fields, merged into what is there (a field set to undefined is removed). */
export async function recordWorker(
  dir: MirrorDir,
  upstream: string,
  worker: Partial<WorkerStatus>,
): Promise<void> {
  await updateStatus(dir, (current) => {
    const merged: WorkerStatus = { ...current?.worker, ...worker };
    for (const key of Object.keys(merged) as (keyof WorkerStatus)[])
      if (merged[key] === undefined) delete merged[key];
    return { ...(current ?? emptyStatus(upstream)), worker: merged };
  });
}

function withoutRunning(status: StatusFile): StatusFile {
  const { running: _running, ...rest } = status;
  return rest;
}
