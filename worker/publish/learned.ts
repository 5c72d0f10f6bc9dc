/**
 * The learned selection: packages a node asked for that a served index listed but the mirror did
 * not hold, fetched on demand. The nightly sync adds them to the optional list of every set whose
 * feeds hold their directory, so they are kept and refreshed with their dependencies, until
 * `openwrt-mirror forget NAME`. Kept in `.mirror/learned.json`, changed under its own short lock
 * (the worker adds, `forget` in another process removes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { underFileLock } from './file-lock.js';
import type { MirrorDir } from './mirror-dir.js';

export interface LearnedPackage {
  release: string;
  name: string;
  /** The feed directory whose index listed it, release-relative (`packages/mipsel_24kc/packages`). */
  dir: string;
  /** The file first fetched, for people: `tcpdump_4.99.5-r1_mipsel_24kc.ipk`. */
  file: string;
  addedAt: string;
}

interface LearnedFile {
  schema: 1;
  packages: LearnedPackage[];
}

/**
 * Every name is one a signed index listed, so the list cannot grow past the indexes; the cap only
 * keeps a hostile or runaway client from making the nightly sync mirror a whole feed this way.
 */
export const MAX_LEARNED = 2000;

const FILE = 'learned.json';

/** The learned selection; empty when there is none, or when it cannot be read (see changes: they refuse). */
export async function readLearned(dir: MirrorDir): Promise<LearnedPackage[]> {
  return readLearnedStrictly(dir).catch(() => []);
}

/**
 * The learned selection, or an error that says what is wrong with the file: a change made on top of
 * an unreadable file (a hand edit with a typo, a damaged disk) would replace every name in it.
 */
export async function readLearnedStrictly(dir: MirrorDir): Promise<LearnedPackage[]> {
  const file = path.join(dir.internal, FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  let parsed: LearnedFile;
  try {
    parsed = JSON.parse(text) as LearnedFile;
  } catch (error) {
    throw new UsageError(
      `${file} is not the learned selection's JSON (${(error as Error).message}): mend it or move it away; it was left as it is`,
    );
  }
  if (parsed?.schema !== 1 || !Array.isArray(parsed.packages)) {
    throw new UsageError(
      `${file} is not the learned selection (schema 1, a "packages" list): mend it or move it away; it was left as it is`,
    );
  }
  return parsed.packages.filter(
    (entry) =>
      typeof entry?.release === 'string' && typeof entry.name === 'string' && typeof entry.dir === 'string',
  );
}

/**
 * Adds `entry` unless its release already has that name in that directory. Resolves to what became
 * of it: `full` when the list holds MAX_LEARNED names already (the file was still served).
 */
export async function learnPackage(
  dir: MirrorDir,
  entry: LearnedPackage,
): Promise<'added' | 'known' | 'full'> {
  let outcome: 'added' | 'known' | 'full' = 'added';
  await change(dir, (packages) => {
    const known = packages.some(
      (p) => p.release === entry.release && p.name === entry.name && p.dir === entry.dir,
    );
    if (known) outcome = 'known';
    else if (packages.length >= MAX_LEARNED) outcome = 'full';
    return outcome === 'added' ? [...packages, entry] : undefined;
  });
  return outcome;
}

/** Removes `name` (of `release` only, when given); resolves to the entries removed. */
export async function forgetPackage(
  dir: MirrorDir,
  name: string,
  release?: string,
): Promise<LearnedPackage[]> {
  let removed: LearnedPackage[] = [];
  await change(dir, (packages) => {
    const matches = (p: LearnedPackage) =>
      p.name === name && (release === undefined || p.release === release);
    removed = packages.filter(matches);
    return removed.length === 0 ? undefined : packages.filter((p) => !matches(p));
  });
  return removed;
}

/** The learned names of `release` whose directory is one of `feedDirs`: what a set's plan adds. */
export function learnedFor(learned: LearnedPackage[], release: string, feedDirs: string[]): string[] {
  const dirs = new Set(feedDirs);
  return [...new Set(learned.filter((p) => p.release === release && dirs.has(p.dir)).map((p) => p.name))];
}

function change(
  dir: MirrorDir,
  edit: (packages: LearnedPackage[]) => LearnedPackage[] | undefined,
): Promise<LearnedPackage[] | undefined> {
  return underFileLock(dir, 'learned.lock', FILE, async () => {
    const next = edit(await readLearnedStrictly(dir));
    if (next !== undefined) {
      const file: LearnedFile = { schema: 1, packages: next };
      await dir.writeAtomic(path.join('.mirror', FILE), `${JSON.stringify(file, null, 1)}\n`);
    }
    return next;
  });
}
