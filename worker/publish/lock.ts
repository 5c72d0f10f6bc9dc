/**
 * One sync at a time per mirror directory, also across containers (`docker compose run --rm worker
 * sync` next to the running worker): the holder refreshes the lock file's mtime; a lock not refreshed
 * for STALE_MS belongs to a process that died and is taken over.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';

const HEARTBEAT_MS = 10_000;
const STALE_MS = 60_000;

export class MirrorBusyError extends Error {
  override name = 'MirrorBusyError';
}

export interface MirrorLock {
  release(): Promise<void>;
}

export async function acquireLock(file: string, now: () => number = Date.now): Promise<MirrorLock> {
  const owner = JSON.stringify({
    pid: process.pid,
    host: os.hostname(),
    since: new Date(now()).toISOString(),
  });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      await handle.writeFile(owner);
      await handle.close();
      const timer = setInterval(() => {
        const t = new Date();
        fs.utimes(file, t, t).catch(() => {});
      }, HEARTBEAT_MS);
      timer.unref();
      return {
        async release() {
          clearInterval(timer);
          await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const stat = await fs.stat(file).catch(() => undefined);
      if (stat && now() - stat.mtimeMs < STALE_MS) {
        const holder = await fs.readFile(file, 'utf8').catch(() => '?');
        throw new MirrorBusyError(`another sync is running on this mirror (lock ${file}: ${holder})`);
      }
      await fs.rm(file, { force: true });
    }
  }
  throw new MirrorBusyError(`could not take the lock ${file}`);
}
