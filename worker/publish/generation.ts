/**
 * Generations: a whole served tree of hard links into the pool, switched into view with one
 * rename(2) of the `releases/<version>` symlink. A reader sees the old tree or the new one, never a
 * mix; a run killed before the switch leaves the old tree served.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { UntrustedInputError } from '../errors.js';
import { byCodeUnits } from '../order.js';
import { ensureDirectory, type MirrorDir } from './mirror-dir.js';
import type { Manifest } from './types.js';

const GENERATION_LINK = /^\.\.\/\.mirror\/generations\/([A-Za-z0-9-]+)$/;

export function manifestsEqual(a: Manifest, b: Manifest): boolean {
  if (a.size !== b.size) return false;
  for (const [file, served] of a) {
    if (b.get(file)?.sha256 !== served.sha256) return false;
  }
  return true;
}

/** The generation id a release link's target names, or undefined when it is not the mirror's kind of link. */
export function generationOfLink(target: string): string | undefined {
  return GENERATION_LINK.exec(target)?.[1];
}

/** The generation id the release link points at, or undefined when nothing is published yet. */
export async function currentGeneration(dir: MirrorDir, version: string): Promise<string | undefined> {
  const link = dir.releaseLink(version);
  const stat = await fs.lstat(link).catch(() => undefined);
  if (stat === undefined) return undefined;
  if (!stat.isSymbolicLink()) {
    throw new UntrustedInputError(
      `${link} is a real directory, not the mirror's link: move it away (openwrt-mirror did not create it)`,
    );
  }
  const target = await fs.readlink(link);
  const match = GENERATION_LINK.exec(target);
  if (!match?.[1])
    throw new UntrustedInputError(`${link} points at ${target}, which is not a generation of this mirror`);
  return match[1];
}

export function generationDir(dir: MirrorDir, id: string): string {
  return path.join(dir.generations, id);
}

/**
 * Builds a new generation of hard links from the pool, durably, without making it visible: the
 * caller records it (state) and then switches to it. A generation built but never switched to is
 * removed by the next run.
 */
export async function buildGeneration(dir: MirrorDir, manifest: Manifest, now: Date): Promise<string> {
  const id = newGenerationId(now);
  const root = generationDir(dir, id);
  await fs.mkdir(root);
  const made = new Set<string>();
  for (const [file, served] of [...manifest].sort(([a], [b]) => byCodeUnits(a, b))) {
    const parent = path.dirname(file);
    if (!made.has(parent)) {
      await ensureDirectory(root, parent);
      made.add(parent);
    }
    await fs.link(dir.poolPath(served.sha256), path.join(root, file));
  }
  // The links must be on disk before the switch that makes them visible.
  for (const parent of [...made, '.']) await syncDirectory(path.join(root, parent));
  return id;
}

/**
 * A new generation that serves what generation `from` served, plus every file of `alongside` that
 * `from` lacks, as hard links of the very same files: going back to an older tree while nodes may
 * hold the newer one's index (the files they will ask for next stay, like a publish's grace period).
 * Returns its id and the paths taken from `alongside`.
 */
export async function copyGeneration(
  dir: MirrorDir,
  from: string,
  alongside: string | undefined,
  now: Date,
): Promise<{ id: string; kept: string[] }> {
  const id = newGenerationId(now);
  const root = generationDir(dir, id);
  await fs.mkdir(root);
  const sources: [string, string][] = [];
  const base = await readGenerationFiles(generationDir(dir, from));
  for (const file of base.files.keys()) sources.push([file, generationDir(dir, from)]);
  const kept: string[] = [];
  if (alongside !== undefined && alongside !== from) {
    for (const file of (await readGenerationFiles(generationDir(dir, alongside))).files.keys()) {
      if (base.files.has(file)) continue;
      sources.push([file, generationDir(dir, alongside)]);
      kept.push(file);
    }
  }
  const made = new Set<string>();
  for (const [file, sourceRoot] of sources.sort(([a], [b]) => byCodeUnits(a, b))) {
    const parent = path.dirname(file);
    if (!made.has(parent)) {
      await ensureDirectory(root, parent);
      made.add(parent);
    }
    await fs.link(path.join(sourceRoot, file), path.join(root, file));
  }
  for (const parent of [...made, '.']) await syncDirectory(path.join(root, parent));
  return { id, kept };
}

function newGenerationId(now: Date): string {
  return `${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}-${Math.random().toString(16).slice(2, 6)}`;
}

/** Switches `releases/<version>` to generation `id` with one rename(2): readers see one or the other. */
export async function switchGeneration(dir: MirrorDir, version: string, id: string): Promise<void> {
  const staged = dir.tmpPath(`link-${version}`);
  await fs.symlink(`../.mirror/generations/${id}`, staged);
  await ensureDirectory(dir.root, path.relative(dir.root, dir.releasesDir));
  await currentGeneration(dir, version); // refuses to replace a directory the mirror does not own
  await fs.rename(staged, dir.releaseLink(version));
  await syncDirectory(dir.releasesDir);
}

/** What a generation holds on disk: its regular files, and anything else that is not a directory. */
export interface GenerationListing {
  files: Map<string, { size: number; ino: number }>;
  /** Paths of symlinks, sockets, fifos, devices: the mirror never puts any in a generation. */
  strangers: Map<string, string>;
}

/**
 * Reads a published generation from the tree itself (used by verify and status), without following
 * anything: a symlink planted in it is listed as a stranger, never read through.
 */
export async function readGenerationFiles(root: string): Promise<GenerationListing> {
  const listing: GenerationListing = { files: new Map(), strangers: new Map() };
  async function walk(rel: string): Promise<void> {
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    // A feed directory holds thousands of files: their lstats go out together, a batch at a time,
    // and are listed in the directory's order.
    for (let start = 0; start < entries.length; start += LSTAT_BATCH) {
      const batch = entries.slice(start, start + LSTAT_BATCH);
      const stats = await Promise.all(
        batch.map((entry) =>
          entry.isFile() ? fs.lstat(path.join(root, rel, entry.name)) : Promise.resolve(undefined),
        ),
      );
      for (const [i, entry] of batch.entries()) {
        const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
        const stat = stats[i];
        if (entry.isDirectory()) await walk(child);
        else if (stat) listing.files.set(child, { size: stat.size, ino: stat.ino });
        else listing.strangers.set(child, entry.isSymbolicLink() ? 'a symlink' : 'not a regular file');
      }
    }
  }
  await walk('');
  return listing;
}

const LSTAT_BATCH = 64;

async function syncDirectory(dirPath: string): Promise<void> {
  const handle = await fs.open(dirPath, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
