/**
 * What a generation serves, counted once when it is published: files and bytes by directory, and
 * each file that sits directly in the release's top or in a target directory (images, their sums,
 * profiles.json, .targets.json). It is all that status, the feed lines and a quiet night's report
 * need of the generation, so a run that keeps it reads this, not the 11,000 files of the manifest.
 */
import type { ServedFile } from './types.js';

export interface DirectoryTally {
  files: number;
  bytes: number;
  /** Package files (`.ipk`, `.apk`) among them, and their bytes. */
  packages: number;
  packageBytes: number;
}

export interface ServedSummary {
  /** By release-relative directory ('.' for the top); only directories that hold a file directly. */
  dirs: Record<string, DirectoryTally>;
  /** The files directly in the release's top or in a target directory, by path. */
  loose: Record<string, ServedFile>;
}

/** One pass over the served files; `extension` is the release's package files' (`.ipk`, `.apk`). */
export function summarize(files: Iterable<[string, ServedFile]>, extension: string): ServedSummary {
  // No prototype: a directory or a path named __proto__ is a key like any other.
  const dirs: Record<string, DirectoryTally> = Object.create(null);
  const loose: Record<string, ServedFile> = Object.create(null);
  for (const [file, served] of files) {
    const slash = file.lastIndexOf('/');
    const dir = slash < 0 ? '.' : file.slice(0, slash);
    let tally = dirs[dir];
    if (tally === undefined) {
      tally = { files: 0, bytes: 0, packages: 0, packageBytes: 0 };
      dirs[dir] = tally;
    }
    tally.files++;
    tally.bytes += served.size;
    if (file.endsWith(extension)) {
      tally.packages++;
      tally.packageBytes += served.size;
    }
    if (isLoose(file)) loose[file] = served;
  }
  return { dirs, loose };
}

/** Files directly in the release's top (`.targets.json`) or in a target directory (`targets/<t>/<s>/`). */
function isLoose(file: string): boolean {
  return !file.includes('/') || /^targets\/[^/]+\/[^/]+\/[^/]+$/.test(file);
}

/** The files directly in `dir`, counted; undefined when it holds none. */
export function tallyIn(served: ServedSummary, dir: string): DirectoryTally | undefined {
  // A state's summary is parsed JSON: `dirs` has a prototype, which names no directory.
  return Object.hasOwn(served.dirs, dir) ? served.dirs[dir] : undefined;
}

/** Whether the generation serves a file at or under `dir`. */
export function servesUnder(served: ServedSummary, dir: string): boolean {
  const prefix = `${dir}/`;
  return Object.keys(served.dirs).some((known) => known === dir || known.startsWith(prefix));
}

/** The files directly in `dir` (a target directory, or '.'), with their contents. */
export function looseIn(served: ServedSummary, dir: string): [string, ServedFile][] {
  const prefix = dir === '.' ? '' : `${dir}/`;
  return Object.entries(served.loose).filter(
    ([file]) => file.startsWith(prefix) && !file.includes('/', prefix.length),
  );
}

/** Every served file and byte, and the package files among them. */
export function servedTotals(served: ServedSummary): { files: number; bytes: number; packages: number } {
  let files = 0;
  let bytes = 0;
  let packages = 0;
  for (const tally of Object.values(served.dirs)) {
    files += tally.files;
    bytes += tally.bytes;
    packages += tally.packages;
  }
  return { files, bytes, packages };
}

/** A generation of nothing: what a release never published serves. */
export function nothingServed(): ServedSummary {
  return { dirs: Object.create(null), loose: Object.create(null) };
}
