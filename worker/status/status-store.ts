/**
 * status.json has several writers: a sync at its end and, while it runs, its progress; the worker's
 * heartbeat, next run and a configuration it refused; a one-off sync in another container beside a
 * running worker. Each write is a read-modify-write of the fields it owns, under a short lock of its
 * own (`.mirror/status.lock`, not the sync's lock, which a sync holds for hours), so that no writer
 * loses another's fields. The file itself still appears by rename, whole, with the metrics beside it.
 */
import { underFileLock } from '../publish/file-lock.js';
import { currentGeneration } from '../publish/generation.js';
import { keptGenerations } from '../publish/kept.js';
import { readLearned } from '../publish/learned.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import { readState, releasesWithState } from '../publish/state.js';
import type { SyncReport } from '../sync/types.js';
import {
  buildStatus,
  emptyStatus,
  type ReleaseGenerations,
  type RunningStatus,
  readStatus,
  type StatusFile,
  type WorkerStatus,
  writeStatus,
} from './status-file.js';

/**
 * Applies `change` to the current status.json (undefined when there is none yet) and writes the
 * result with the metrics; `undefined` from `change` writes nothing. Resolves to what was written.
 */
export function updateStatus(
  dir: MirrorDir,
  change: (current: StatusFile | undefined) => StatusFile | undefined,
): Promise<StatusFile | undefined> {
  return underFileLock(dir, 'status.lock', 'status.json', async () => {
    const next = change(await readStatus(dir.root));
    if (next !== undefined) await writeStatus(dir, next);
    return next;
  });
}

/**
 * status.json's fields that describe what is on this disk beside what a sync published: the learned
 * selection (rewritten by on demand and `forget`) and the kept generations (by `rollback`, `unpin`
 * and a sync that finishes a rollback). Each writer rewrites only its own field; before the first
 * sync there is no status.json to add it to, and the sync's end writes both.
 */
export async function recordLearned(dir: MirrorDir): Promise<void> {
  await replaceField(dir, 'learned', await learnedField(dir));
}

export async function recordGenerations(dir: MirrorDir): Promise<void> {
  await replaceField(dir, 'generations', await generationsField(dir));
}

async function replaceField<K extends 'learned' | 'generations'>(
  dir: MirrorDir,
  key: K,
  value: StatusFile[K],
): Promise<void> {
  await updateStatus(dir, (current) => {
    if (current === undefined) return undefined;
    const next = { ...current };
    delete next[key];
    if (value !== undefined) next[key] = value;
    return next;
  });
}

async function learnedField(dir: MirrorDir): Promise<StatusFile['learned']> {
  const learned = await readLearned(dir);
  return learned.length > 0 ? learned : undefined;
}

/** `pinned`: each release's pin where the caller knows it, so that its state is not read again. */
async function generationsField(
  dir: MirrorDir,
  pinned: Map<string, string | undefined> = new Map(),
): Promise<StatusFile['generations']> {
  const generations: Record<string, ReleaseGenerations> = {};
  for (const release of (await releasesWithState(dir)).sort()) {
    const served = await currentGeneration(dir, release).catch(() => undefined);
    const pin = pinned.has(release) ? pinned.get(release) : (await readState(dir, release)).pinned;
    const kept = (await keptGenerations(dir, release)).map(({ id, publishedAt, packages, files, bytes }) => ({
      id,
      publishedAt,
      packages,
      files,
      bytes,
    }));
    generations[release] = { ...(served && { served }), ...(pin && { pinned: pin }), kept };
  }
  return Object.keys(generations).length > 0 ? generations : undefined;
}

/**
 * The end of a run that published: `status` as built from it, with the worker's fields and the
 * download statistics kept, the learned selection and kept generations as they are now, `running`
 * gone.
 */
export async function recordRun(
  dir: MirrorDir,
  status: StatusFile,
  options: {
    keepNextRun: boolean;
    /** Each release the run handled → the generation it is pinned to, as its state now says. */
    pinned: Map<string, string | undefined>;
  },
): Promise<void> {
  const learned = await learnedField(dir);
  const generations = await generationsField(dir, options.pinned);
  await updateStatus(dir, (current) =>
    withoutRunning({
      ...status,
      ...(current?.worker && { worker: current.worker }),
      ...(current?.downloads && { downloads: current.downloads }),
      ...(learned && { learned }),
      ...(generations && { generations }),
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
