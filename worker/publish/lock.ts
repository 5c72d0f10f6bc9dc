/**
 * One sync at a time per mirror directory, also across containers (`docker compose run --rm worker
 * sync` next to the running worker).
 *
 * - The lock file appears whole or not at all: the owner is written to a file of its own, which is
 *   then hard-linked to the lock's name (`link(2)` fails if the name exists). A full disk fails the
 *   write and leaves no lock behind.
 * - A holder on this host that is alive keeps its lock however long it runs: the pid must be gone,
 *   or be another process than the one that took the lock (same pid, other start time), before the
 *   lock is taken over.
 * - A holder on another host (another container) cannot be asked: it keeps its lock while it
 *   refreshes the file's mtime. The refresh runs on a thread of its own, so a main thread busy for
 *   minutes (a huge index) does not let the lock go stale.
 * - Each lock carries a random token; `assertHeld()` checks it is still ours, so a run whose lock was
 *   taken over never publishes.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const HEARTBEAT_MS = 10_000;
/** A lock of another host not refreshed for this long belongs to a process that is gone. */
const STALE_MS = 60_000;
/** How far a process' start time read from /proc may be from the one the holder recorded. */
const START_TOLERANCE_MS = 5_000;
const PROCESS_STARTED = new Date(Date.now() - process.uptime() * 1000).toISOString();
/** Tokens of the locks this process holds right now: a lock file naming this process but none of them was leaked. */
const held = new Set<string>();

export interface LockOwner {
  pid: number;
  host: string;
  /** When the holding process started. */
  started: string;
  /** When it took the lock. */
  since: string;
  token: string;
}

/** Another process holds the lock; the message says which and since when. */
export class MirrorBusyError extends Error {
  override name = 'MirrorBusyError';
  constructor(
    message: string,
    readonly holder?: Partial<LockOwner>,
  ) {
    super(message);
  }
}

/** The lock this run took was taken over: it must not publish. */
export class LockLostError extends Error {
  override name = 'LockLostError';
}

export interface MirrorLock {
  readonly owner: LockOwner;
  /** Throws LockLostError unless the lock file still names this lock. */
  assertHeld(): Promise<void>;
  /** Removes the lock file if it is still ours; never throws. */
  release(): Promise<void>;
}

export interface LockOptions {
  now?: () => number;
  /** How often the holder refreshes the lock file's mtime (tests shorten it). */
  heartbeatMs?: number;
}

export async function acquireLock(file: string, options: LockOptions = {}): Promise<MirrorLock> {
  const now = options.now ?? Date.now;
  const owner: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    started: PROCESS_STARTED,
    since: new Date(now()).toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  const staged = `${file}.${owner.token}`;
  try {
    await fs.writeFile(staged, JSON.stringify(owner), { flag: 'wx', mode: 0o644 });
  } catch (error) {
    await fs.rm(staged, { force: true }).catch(() => {});
    throw new Error(`cannot write the lock file ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fs.link(staged, file);
        held.add(owner.token);
        return heldLock(file, owner, options.heartbeatMs ?? HEARTBEAT_MS);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const stat = await fs.stat(file).catch(() => undefined);
      const holder = parseOwner(await fs.readFile(file, 'utf8').catch(() => ''));
      if (stat && !holderIsGone(holder, now() - stat.mtimeMs)) throw busy(file, holder);
      await fs.rm(file, { force: true });
    }
    throw new MirrorBusyError(`could not take the lock ${file}: another process keeps taking it`);
  } finally {
    await fs.rm(staged, { force: true }).catch(() => {});
  }
}

/** What a lock file says about its holder, for messages and status; undefined when there is none. */
export async function readLockOwner(file: string): Promise<Partial<LockOwner> | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (parseOwner(text) ?? {});
}

function heldLock(file: string, owner: LockOwner, heartbeatMs: number): MirrorLock {
  const heartbeat = startHeartbeat(file, owner.token, heartbeatMs);
  let released = false;
  return {
    owner,
    async assertHeld() {
      const holder = parseOwner(await fs.readFile(file, 'utf8').catch(() => ''));
      if (holder?.token !== owner.token) {
        throw new LockLostError(
          `lost the lock ${file} to ${holder ? describe(holder) : 'nobody (it was removed)'}: another sync took over, so this one does not publish`,
        );
      }
    },
    async release() {
      if (released) return;
      released = true;
      held.delete(owner.token);
      await heartbeat.terminate().catch(() => 0);
      // Only our own lock: one taken over in the meantime belongs to its new holder.
      const holder = parseOwner(await fs.readFile(file, 'utf8').catch(() => ''));
      if (holder?.token === owner.token) await fs.rm(file, { force: true }).catch(() => {});
    },
  };
}

/**
 * Refreshes the lock's mtime from a thread of its own while the file still names `token`. Plain
 * CommonJS evaluated in the thread, with no loader flags: it must run the same from the sources
 * (tsx) and from dist/.
 */
function startHeartbeat(file: string, token: string, intervalMs: number): Worker {
  const code = `
    const { workerData } = require('node:worker_threads');
    const fs = require('node:fs');
    setInterval(() => {
      try {
        if (!fs.readFileSync(workerData.file, 'utf8').includes(workerData.token)) return;
        const now = new Date();
        fs.utimesSync(workerData.file, now, now);
      } catch {}
    }, workerData.intervalMs);
  `;
  const worker = new Worker(code, { eval: true, workerData: { file, token, intervalMs }, execArgv: [] });
  worker.unref();
  worker.on('error', () => {});
  return worker;
}

function parseOwner(text: string): Partial<LockOwner> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Partial<LockOwner>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True only when the holder is certainly not running any more: never guesses while a process that
 * may be it is alive. `ageMs` is how long ago the lock file was last refreshed.
 */
function holderIsGone(holder: Partial<LockOwner> | undefined, ageMs: number): boolean {
  // Unreadable (an older version's lock, or a hand-made one): only its age can tell.
  if (holder === undefined || typeof holder.pid !== 'number' || holder.host !== os.hostname()) {
    return ageMs >= STALE_MS;
  }
  if (holder.pid === process.pid) {
    // A lock of this very process that none of its runs holds was leaked; one of an earlier process
    // with our pid (a restarted container's PID 1) is gone.
    return holder.started !== PROCESS_STARTED || !held.has(holder.token ?? '');
  }
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  // Alive: the holder itself, unless the pid was reused by a process that started at another time.
  const started = processStartedAt(holder.pid);
  const recorded = Date.parse(holder.started ?? '');
  return (
    started !== undefined && !Number.isNaN(recorded) && Math.abs(started - recorded) > START_TOLERANCE_MS
  );
}

/** When process `pid` started (epoch ms), from /proc; undefined where /proc cannot tell. */
export function processStartedAt(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks since boot); the command name in field 2 may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(boot)) return undefined;
    // USER_HZ is 100 on every Linux architecture the images run on.
    return (boot + ticks / 100) * 1000;
  } catch {
    return undefined;
  }
}

function describe(holder: Partial<LockOwner>): string {
  const where = holder.host && holder.host !== os.hostname() ? ` on host ${holder.host}` : '';
  const pid = typeof holder.pid === 'number' ? `pid ${holder.pid}` : 'an unknown process';
  return `${pid}${where}${holder.since ? `, since ${holder.since}` : ''}`;
}

function busy(file: string, holder: Partial<LockOwner> | undefined): MirrorBusyError {
  const who = holder ? describe(holder) : `lock ${path.basename(file)} unreadable`;
  return new MirrorBusyError(`another sync is running (${who})`, holder);
}
