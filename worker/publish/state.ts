/**
 * What the mirror remembers between runs, per release: the manifest it published, the validators
 * (ETag, Last-Modified) of the upstream files it revalidates, each feed's last good index, and the
 * files kept for the grace period. Written atomically; a missing or unreadable file means a first run.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MirrorDir } from './mirror-dir.js';
import { type ServedSummary, summarize } from './served.js';
import type { Manifest, ServedFile } from './types.js';

export interface Validators {
  etag?: string;
  lastModified?: string;
  /** Pool entry of the body these validators belong to. */
  sha256: string;
  size: number;
}

export interface FeedState {
  name: string;
  dir: string;
  /** The index files served for this feed (Packages, Packages.gz, ...), by file name. */
  indexFiles: Record<string, ServedFile>;
  packages: number;
}

export interface DroppedFile extends ServedFile {
  /** When the file stopped being referenced by any index. */
  since: string;
}

/** A set (target) of the release as the last run served it: what withdrawal compares the configuration with. */
export interface SetState {
  arch: string;
  /** Its feed directories, release-relative. */
  feedDirs: string[];
  targetDir: string;
}

export interface ReleaseState {
  schema: 1;
  release: string;
  generation?: string;
  files: Record<string, ServedFile>;
  validators: Record<string, Validators>;
  feeds: Record<string, FeedState>;
  dropped: Record<string, DroppedFile>;
  lastSuccessAt?: string;
  /** By target. Absent in states written before several sets could be mirrored. */
  sets?: Record<string, SetState>;
  /** Directories of sets no longer configured → since when (served whole for the grace period). */
  withdrawn?: Record<string, string>;
  /** When the release itself stopped being configured. */
  withdrawnSince?: string;
  /** The generation `rollback` switched to: syncs leave the release alone until `unpin`. */
  pinned?: string;
  /**
   * What the last publish planned with besides the upstream's files (sync/quiet.ts), when it had
   * no failure: a run that finds every index unchanged and the same here keeps the generation.
   */
  plannedWith?: string;
  /**
   * The generation's files counted (served.ts): what a run that keeps it reports and shows, without
   * the files. Absent in states written before it was kept: counted from the files then.
   */
  served?: ServedSummary;
}

/**
 * A state as it is written: its files may be the publish's manifest itself, written from the Map
 * without first being copied into an object of 11,000 keys (at real size, at the peak of a run).
 */
export type StateToWrite = Omit<ReleaseState, 'files'> & { files: ReleaseState['files'] | Manifest };

export function emptyState(release: string): ReleaseState {
  return { schema: 1, release, files: {}, validators: {}, feeds: {}, dropped: {} };
}

/** The releases that have a state file: every release the mirror serves, configured or not. */
export async function releasesWithState(dir: MirrorDir): Promise<string[]> {
  const names = await fs.readdir(dir.internal).catch(() => [] as string[]);
  return names.flatMap((name) => {
    const match = /^state-(.+)\.json$/.exec(name);
    return match?.[1] ? [match[1]] : [];
  });
}

export async function removeState(dir: MirrorDir, release: string): Promise<void> {
  await fs.rm(stateFile(dir, release), { force: true });
}

function stateFile(dir: MirrorDir, release: string): string {
  return path.join(dir.internal, `state-${release}.json`);
}

export async function readState(dir: MirrorDir, release: string): Promise<ReleaseState> {
  try {
    const parsed = JSON.parse(await fs.readFile(stateFile(dir, release), 'utf8')) as ReleaseState;
    if (parsed.schema !== 1 || parsed.release !== release) return emptyState(release);
    const { served, ...rest } = parsed;
    // A summary edited into something else is counted again from the files.
    return { ...emptyState(release), ...rest, ...(isSummary(served) && { served }) };
  } catch {
    return emptyState(release);
  }
}

/** What the state's generation serves, counted: as the state says, or from its files. */
export function servedOf(
  state: Pick<ReleaseState, 'files' | 'served'>,
  packageExtension: string,
): ServedSummary {
  return state.served ?? summarize(Object.entries(state.files), packageExtension);
}

export async function writeState(dir: MirrorDir, state: StateToWrite): Promise<void> {
  await dir.writeAtomic(path.relative(dir.root, stateFile(dir, state.release)), () => stateText(state));
}

function isSummary(value: unknown): value is ServedSummary {
  const { dirs, loose } = (value ?? {}) as Partial<ServedSummary>;
  return typeof dirs === 'object' && dirs !== null && typeof loose === 'object' && loose !== null;
}

/** Served files per piece of the state's text: about 17 KB of JSON, short-lived (below V8's large objects). */
const FILES_PER_PIECE = 100;

/**
 * The state as JSON, in pieces: one line per top-level field, and the served files (11,000 at real
 * size, 2 MB) a hundred to a line, so that it is written a batch at a time and never built whole.
 * Each piece is one JSON.stringify of a plain object: as fast as stringifying the whole state.
 */
export function* stateText(state: StateToWrite): Generator<string> {
  let separator = '{';
  for (const [key, value] of Object.entries(state)) {
    if (value === undefined) continue;
    yield `${separator}\n${JSON.stringify(key)}:`;
    separator = ',';
    if (key !== 'files') {
      yield JSON.stringify(value);
      continue;
    }
    const files = state.files instanceof Map ? state.files.entries() : Object.entries(state.files);
    let inner = '{';
    // No prototype: a path named __proto__ is a key like any other.
    let piece: ReleaseState['files'] = Object.create(null);
    let inPiece = 0;
    const flush = () => {
      const text = `${inner}\n${JSON.stringify(piece).slice(1, -1)}`;
      inner = ',';
      piece = Object.create(null);
      inPiece = 0;
      return text;
    };
    for (const [file, served] of files) {
      piece[file] = served;
      if (++inPiece === FILES_PER_PIECE) yield flush();
    }
    if (inPiece > 0) yield flush();
    yield inner === '{' ? '{}' : '\n}';
  }
  yield separator === '{' ? '{}\n' : '\n}\n';
}
