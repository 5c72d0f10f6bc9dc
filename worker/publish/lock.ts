/**
 * One sync at a time per mirror directory, also across containers (`docker compose run --rm worker
 * sync` next to the running worker). The holder refreshes the lock file's mtime; a lock is taken over
 * when it was not refreshed for STALE_MS, or at once when its holder is known to be gone: same host,
 * and the pid is dead or is a different process with our pid (a restarted container's PID 1).
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';

const HEARTBEAT_MS = 10_000;
const STALE_MS = 60_000;
const PROCESS_STARTED = new Date(Date.now() - process.uptime() * 1000).toISOString();

export class MirrorBusyError extends Error {
  override name = 'MirrorBusyError';
}

export interface MirrorLock {
  release(): Promise<void>;
}

interface Owner {
  pid: number;
  host: string;
  started: string;
  since: string;
}

export async function acquireLock(file: string, now: () => number = Date.now): Promise<MirrorLock> {
  const owner: Owner = {
    pid: process.pid,
    host: os.hostname(),
    started: PROCESS_STARTED,
    since: new Date(now()).toISOString(),
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
      await handle.writeFile(JSON.stringify(owner));
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
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      if (stat && now() - stat.mtimeMs < STALE_MS && !holderIsGone(text)) {
        throw new MirrorBusyError(`another sync is running on this mirror (lock ${file}: ${text || '?'})`);
      }
      await fs.rm(file, { force: true });
    }
  }
  throw new MirrorBusyError(`could not take the lock ${file}`);
}

/** True only when the holder is certainly not running: never guesses across hosts. */
function holderIsGone(text: string): boolean {
  let holder: Partial<Owner>;
  try {
    holder = JSON.parse(text) as Partial<Owner>;
  } catch {
    return false;
  }
  if (holder.host !== os.hostname() || typeof holder.pid !== 'number') return false;
  if (holder.pid === process.pid) return holder.started !== PROCESS_STARTED;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
