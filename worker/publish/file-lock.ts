/**
 * A short lock on one small file of `.mirror/` that several processes read, change and write back
 * (status.json, the learned selection): the worker, a sync in another container, a command run by
 * hand. Not the sync's lock, which a sync holds for hours. Writes queued in one process take it one
 * after another; a holder killed between open and unlink stops holding it after STALE_MS.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MirrorDir } from './mirror-dir.js';

const STALE_MS = 10_000;
/** How long a writer waits for the lock before it gives up (the caller reports the write as not made). */
const WAIT_MS = 15_000;
const POLL_MS = 15;

const queues = new Map<string, Promise<unknown>>();

/** Runs `work` holding `.mirror/<name>`; `what` names the file it guards in the give-up message. */
export function underFileLock<T>(
  dir: MirrorDir,
  name: string,
  what: string,
  work: () => Promise<T>,
): Promise<T> {
  const lock = path.join(dir.internal, name);
  const previous = queues.get(lock) ?? Promise.resolve();
  const next = previous
    .catch(() => {})
    .then(async () => {
      // Before the first sync (a heartbeat, a refused configuration) `.mirror/` may not be there yet.
      await dir.prepareRoot();
      await take(lock, what);
      try {
        return await work();
      } finally {
        await fs.rm(lock, { force: true });
      }
    });
  queues.set(lock, next);
  const forget = () => {
    if (queues.get(lock) === next) queues.delete(lock);
  };
  // The caller handles the rejection; this branch must not become an unhandled one.
  next.then(forget, forget);
  return next;
}

async function take(lock: string, what: string): Promise<void> {
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
    if (Date.now() > deadline) throw new Error(`${what} is locked by another writer (${lock})`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
