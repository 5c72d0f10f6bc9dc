/**
 * Assembling the next generation's manifest from the last one: a feed or the images kept as they
 * were, the files kept for the grace period, and the validators that go with what is served.
 * Pure: maps in, maps out.
 */
import type { Manifest, ServedFile } from '../publish/generation.js';
import type { DroppedFile, ReleaseState } from '../publish/state.js';
import type { SyncContext } from './context.js';

/** The feed directory's files as the last generation served them. */
export function copyFeed(from: Map<string, ServedFile>, into: Manifest, feedDir: string): void {
  for (const [file, served] of from) {
    if (file.startsWith(`${feedDir}/`) && !file.slice(feedDir.length + 1).includes('/'))
      into.set(file, served);
  }
}

/** The target directory's own files (profiles.json, sums, images) as the last generation served them. */
export function copyTargetFiles(from: Map<string, ServedFile>, into: Manifest, targetDir: string): void {
  for (const [file, served] of from) {
    const name = file.slice(targetDir.length + 1);
    if (file.startsWith(`${targetDir}/`) && !name.includes('/')) into.set(file, served);
  }
}

/**
 * Files the previous generation served and this one does not stay for the grace period, so a node
 * holding a slightly older index still finds them. Returns the new grace list.
 */
export function keepForGrace(
  previousFiles: Map<string, ServedFile>,
  manifest: Manifest,
  dropped: Record<string, DroppedFile>,
  now: Date,
  graceHours: number,
): Record<string, DroppedFile> {
  const next: Record<string, DroppedFile> = {};
  for (const [file, served] of previousFiles) {
    if (manifest.has(file)) continue;
    const since = dropped[file]?.since ?? now.toISOString();
    if (now.getTime() - new Date(since).getTime() < graceHours * 3_600_000) {
      manifest.set(file, served);
      next[file] = { ...served, since };
    }
  }
  return next;
}

export function committedValidators(
  previous: ReleaseState,
  learnt: SyncContext['validators'],
  served: Set<string>,
  kept: Set<string>,
): ReleaseState['validators'] {
  const result: ReleaseState['validators'] = {};
  for (const key of served) {
    const value = learnt[key] ?? previous.validators[key];
    if (value) result[key] = value;
  }
  // A kept feed must be fetched again next run even if the upstream does not change any more.
  for (const key of kept) {
    const value = previous.validators[key];
    if (value) result[key] = value;
  }
  return result;
}
