/**
 * `openwrt-mirror generations`, `rollback [ID] [--release R]`, `unpin [--release R]`: the kept
 * generations of each release, going back to one (the publish's own atomic switch, under the sync's
 * lock, then pinned so that the nightly sync leaves it), and letting the syncs move on again.
 */
import type { Config } from '../config.js';
import { UsageError } from '../errors.js';
import { copyGeneration, currentGeneration, switchGeneration } from '../publish/generation.js';
import {
  type KeptGeneration,
  keptGenerations,
  keptWithStates,
  recordGeneration,
  removeUnkeptGenerations,
} from '../publish/kept.js';
import { acquireLock } from '../publish/lock.js';
import { MirrorDir } from '../publish/mirror-dir.js';
import { readState, releasesWithState, servedFiles, writeState } from '../publish/state.js';
import type { ServedFile } from '../publish/types.js';
import { recordGenerations } from '../status/status-store.js';
import { formatBytes } from '../status/units.js';

interface Io {
  stdout: NodeJS.WritableStream;
}

export async function generationsCommand(
  config: Config,
  options: Io & { release?: string },
): Promise<number> {
  const dir = new MirrorDir(config.mirrorDir);
  const releases = await chosenReleases(dir, options.release);
  for (const release of releases) {
    const served = await currentGeneration(dir, release).catch(() => undefined);
    const { pinned } = await readState(dir, release);
    const kept = await keptWithStates(dir, release);
    options.stdout.write(
      `${release}: ${kept.length} kept (KEEP_GENERATIONS=${config.keepGenerations})${pinned ? `, pinned to ${pinned} (openwrt-mirror unpin)` : ''}\n`,
    );
    kept.forEach((generation, i) => {
      const mark = generation.id === served ? '*' : ' ';
      const change = changeFrom(kept[i + 1], generation);
      const again = generation.rollbackOf ? ` (rollback to ${generation.rollbackOf})` : '';
      options.stdout.write(
        `${mark} ${generation.id}  ${generation.publishedAt}  ${generation.packages} packages, ${generation.files} files, ${formatBytes(generation.bytes)}${change}${again}\n`,
      );
    });
    if (served !== undefined && !kept.some((g) => g.id === served)) {
      options.stdout.write(`* ${served}  (published before generations were recorded)\n`);
    }
  }
  options.stdout.write('* served now\n');
  return 0;
}

export async function rollbackCommand(
  config: Config,
  options: Io & { id?: string; release?: string },
): Promise<number> {
  const dir = new MirrorDir(config.mirrorDir);
  const release = await oneRelease(dir, options.release, options.id);
  // What is served and kept is read under the lock: a sync that publishes (and cleans up) in between
  // would leave this rollback going back from a tree no longer served, or to one removed.
  const lock = await acquireLock(dir.lockFile);
  let target: KeptGeneration | undefined;
  let id: string;
  let held: string[];
  try {
    const served = await currentGeneration(dir, release);
    const kept = await keptWithStates(dir, release);
    const ids = kept.map((g) => g.id).join(', ') || 'none';
    if (options.id === undefined) {
      const index = kept.findIndex((g) => g.id === served);
      target = index >= 0 ? kept[index + 1] : undefined;
      if (!target)
        throw new UsageError(
          `rollback: ${release} has no generation before the one served (${served}); kept: ${ids}`,
        );
    } else {
      target = kept.find((g) => g.id === options.id);
      if (!target)
        throw new UsageError(`rollback: ${release} has no kept generation ${options.id}; kept: ${ids}`);
    }
    // A node may have read the served tree's index just before: the files it will ask for next stay
    // in the tree switched to, for PRUNE_GRACE_HOURS after the next sync, as after a publish.
    const now = new Date();
    ({ id, kept: held } = await copyGeneration(dir, target.id, served, now));
    const current = await readState(dir, release);
    // Only to say how long the held files stay: a manifest that does not read holds none of them.
    const currentFiles = await servedFiles(dir, current).catch(() => new Map<string, ServedFile>());
    const dropped = { ...target.state.dropped };
    for (const file of held) {
      const known = currentFiles.get(file) ?? current.dropped[file];
      if (known) dropped[file] = { sha256: known.sha256, size: known.size, since: now.toISOString() };
    }
    const state = { ...target.state, dropped, generation: id, pinned: id };
    // The record and the state first, as a publish does: a switch that fails leaves what the next run repairs.
    await recordGeneration(dir, {
      ...target,
      id,
      publishedAt: now.toISOString(),
      rollbackOf: target.id,
      state,
    });
    await writeState(dir, state);
    await switchGeneration(dir, release, id);
    await removeUnkeptGenerations(dir, config.keepGenerations);
  } finally {
    await lock.release();
  }
  await recordGenerations(dir);
  options.stdout.write(
    `${release}: now serving generation ${target.id} of ${target.publishedAt} again (${target.packages} packages) as ${id}` +
      `${held.length > 0 ? `, with the ${held.length} files of the tree served before that it lacks kept for nodes that read its index` : ''}; ` +
      `pinned: syncs leave ${release} alone until openwrt-mirror unpin\n`,
  );
  return 0;
}

export async function unpinCommand(config: Config, options: Io & { release?: string }): Promise<number> {
  const dir = new MirrorDir(config.mirrorDir);
  const releases = await chosenReleases(dir, options.release);
  const lock = await acquireLock(dir.lockFile);
  let unpinned = 0;
  try {
    for (const release of releases) {
      const state = await readState(dir, release);
      if (state.pinned === undefined) continue;
      const { pinned: _pin, ...rest } = state;
      await writeState(dir, rest);
      options.stdout.write(`${release}: unpinned from ${state.pinned}; the next sync moves it on\n`);
      unpinned++;
    }
  } finally {
    await lock.release();
  }
  await recordGenerations(dir);
  if (unpinned === 0) options.stdout.write('nothing was pinned\n');
  return 0;
}

async function chosenReleases(dir: MirrorDir, release: string | undefined): Promise<string[]> {
  const all = (await releasesWithState(dir)).sort();
  if (release === undefined) return all;
  if (!all.includes(release)) {
    throw new UsageError(`no release ${release} here; the mirror has ${all.join(', ') || 'none yet'}`);
  }
  return [release];
}

/** The release a rollback means: the one given, the one holding the generation, or the only one. */
async function oneRelease(
  dir: MirrorDir,
  release: string | undefined,
  id: string | undefined,
): Promise<string> {
  if (release !== undefined) return (await chosenReleases(dir, release))[0] as string;
  if (id !== undefined) {
    const owner = (await keptGenerations(dir)).find((g) => g.id === id);
    if (owner) return owner.release;
  }
  const all = await chosenReleases(dir, undefined);
  if (all.length === 1) return all[0] as string;
  throw new UsageError(
    `rollback: the mirror has several releases (${all.join(', ')}): say which with --release`,
  );
}

/** `, +3 −1 packages` against the generation before it, by package file. */
function changeFrom(before: KeptGeneration | undefined, after: KeptGeneration): string {
  if (!before) return '';
  const old = new Set(Object.keys(before.state.files));
  const now = new Set(Object.keys(after.state.files));
  const added = [...now].filter((f) => !old.has(f)).length;
  const removed = [...old].filter((f) => !now.has(f)).length;
  return added + removed === 0 ? ', same files' : `, +${added} −${removed} files`;
}
