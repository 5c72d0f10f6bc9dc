/**
 * What the mirror remembers between runs, per release: the generation it serves and that
 * generation's files counted, the validators (ETag, Last-Modified) of the upstream files it
 * revalidates, each feed's last good index, and the files kept for the grace period. Written
 * atomically; a missing or unreadable file means a first run.
 *
 * The generation's files themselves (11,000 at real size, 2 MB) are beside it, in a manifest of
 * their own per generation (`manifests/<release>/<generation>.json`), written once when the
 * generation is first recorded: a run that plans reads them, a quiet night reads and writes only
 * the few kilobytes of the state. A state written before they moved holds them inside, and is read
 * as it is.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { RELEASE } from '../config/rules.js';
import { formatFor } from '../formats/index.js';
import type { MirrorDir } from './mirror-dir.js';
import { nothingServed, type ServedSummary, summarize } from './served.js';
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
  /**
   * The generation's files, inside only a state written before they moved to its manifest (and a
   * kept generation's state, kept.ts): read them with servedFiles().
   */
  files?: Record<string, ServedFile>;
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
   * the files. Counted from the files when read from a state written before it was kept.
   */
  served: ServedSummary;
}

/**
 * A state as it is written, and the files of its generation if its manifest is not on disk yet: a
 * publish's manifest itself (written from the Map, not copied into an object of 11,000 keys), or
 * how to get them (only asked when needed: a quiet night's generation has its manifest).
 */
export type StateToWrite = Omit<ReleaseState, 'files'> & {
  files?: Record<string, ServedFile> | Manifest | (() => Promise<Manifest>);
};

export function emptyState(release: string): ReleaseState {
  return { schema: 1, release, validators: {}, feeds: {}, dropped: {}, served: nothingServed() };
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
  const manifests = manifestsDir(dir, release);
  if (manifests !== undefined) await fs.rm(manifests, { recursive: true, force: true });
}

function stateFile(dir: MirrorDir, release: string): string {
  return path.join(dir.internal, `state-${release}.json`);
}

/** Generation ids as generation.ts makes them: a path segment of safe characters. */
const GENERATION = /^[0-9A-Za-z-]+$/;

/** Where a release's generations' manifests are; undefined for a name no configuration could give. */
function manifestsDir(dir: MirrorDir, release: string): string | undefined {
  return RELEASE.pattern.test(release) ? path.join(dir.internal, 'manifests', release) : undefined;
}

function manifestFile(dir: MirrorDir, release: string, generation: string): string | undefined {
  const manifests = manifestsDir(dir, release);
  if (manifests === undefined || !GENERATION.test(generation)) return undefined;
  return path.join(manifests, `${generation}.json`);
}

export async function readState(dir: MirrorDir, release: string): Promise<ReleaseState> {
  try {
    const parsed = JSON.parse(await fs.readFile(stateFile(dir, release), 'utf8')) as ReleaseState;
    if (parsed.schema !== 1 || parsed.release !== release) return emptyState(release);
    const { files, served, ...rest } = parsed;
    const state: ReleaseState = { ...emptyState(release), ...rest };
    // Written before the files moved to the generation's manifest: they are here.
    if (isFiles(files)) return { ...state, files, served: countedInside({ release, files, served }) };
    if (isSummary(served)) return { ...state, served };
    // A summary edited into something else is counted again from the files.
    return {
      ...state,
      served: summarize(await servedFiles(dir, state), formatFor(release).packageExtension),
    };
  } catch {
    return emptyState(release);
  }
}

/**
 * The counts of a state that holds its files inside (one written before they moved out, or a kept
 * generation's): as it says, or, when it has none or they were edited into something else, counted.
 */
export function countedInside(state: {
  release: string;
  files: Record<string, ServedFile>;
  served?: unknown;
}): ServedSummary {
  if (isSummary(state.served)) return state.served;
  return summarize(Object.entries(state.files), formatFor(state.release).packageExtension);
}

/**
 * The state a sync starts from: the state, unless its generation's files are gone (a manifest
 * deleted by hand, a disk restored in part). Then it describes nothing the sync could keep, and the
 * sync starts as a first run, re-downloading nothing the pool holds. Other readers, which want
 * only its pin or its counts, read the state as it is: a sync switching generations while they
 * read may have just replaced the manifest their state names.
 */
export async function readSyncState(dir: MirrorDir, release: string): Promise<ReleaseState> {
  const state = await readState(dir, release);
  if (state.files !== undefined || state.generation === undefined) return state;
  const manifest = manifestFile(dir, release, state.generation);
  return manifest !== undefined && (await isFile(manifest)) ? state : emptyState(release);
}

/**
 * The files the state's generation serves: from its manifest, or from inside a state written
 * before they moved. Throws, naming the file, when the manifest on disk does not read.
 */
export async function servedFiles(
  dir: MirrorDir,
  state: Pick<ReleaseState, 'release' | 'generation' | 'files'>,
): Promise<Manifest> {
  if (state.files !== undefined) return new Map(Object.entries(state.files));
  if (state.generation === undefined) return new Map();
  const file = manifestFile(dir, state.release, state.generation);
  if (file === undefined) return new Map();
  let files: unknown;
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<ManifestFile>;
    if (parsed.release === state.release && parsed.generation === state.generation) files = parsed.files;
  } catch (error) {
    throw new Error(
      `${state.release}: the files of generation ${state.generation} do not read (${path.relative(dir.root, file)}: ${(error as Error).message}): remove .mirror/state-${state.release}.json and the next sync plans the release afresh`,
    );
  }
  if (!isFiles(files)) {
    throw new Error(
      `${state.release}: ${path.relative(dir.root, file)} does not list the files of generation ${state.generation}: remove .mirror/state-${state.release}.json and the next sync plans the release afresh`,
    );
  }
  return new Map(Object.entries(files));
}

interface ManifestFile {
  schema: 1;
  release: string;
  generation: string;
  files: Record<string, ServedFile>;
}

function isFiles(value: unknown): value is Record<string, ServedFile> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSummary(value: unknown): value is ServedSummary {
  const { dirs, loose } = (value ?? {}) as Partial<ServedSummary>;
  return typeof dirs === 'object' && dirs !== null && typeof loose === 'object' && loose !== null;
}

async function isFile(file: string): Promise<boolean> {
  return (await fs.lstat(file).catch(() => undefined))?.isFile() === true;
}

/**
 * Writes the generation's manifest unless it is on disk already (a generation's files never
 * change), then the state, then removes the release's manifests of other generations: killed at
 * any point, the state on disk names a generation whose manifest is there.
 */
export async function writeState(dir: MirrorDir, state: StateToWrite): Promise<void> {
  const { files, ...head } = state;
  const manifest =
    head.generation === undefined ? undefined : manifestFile(dir, head.release, head.generation);
  if (
    manifest !== undefined &&
    head.generation !== undefined &&
    files !== undefined &&
    !(await isFile(manifest))
  ) {
    const record: Omit<ManifestFile, 'files'> & { files: Record<string, ServedFile> | Manifest } = {
      schema: 1,
      release: head.release,
      generation: head.generation,
      files: typeof files === 'function' ? await files() : files,
    };
    await dir.writeAtomic(path.relative(dir.root, manifest), () => stateText(record));
  }
  await dir.writeAtomic(path.relative(dir.root, stateFile(dir, head.release)), () => stateText(head));
  const manifests = manifestsDir(dir, head.release);
  if (manifests === undefined) return;
  for (const name of await fs.readdir(manifests).catch(() => [] as string[])) {
    if (path.join(manifests, name) !== manifest) await fs.rm(path.join(manifests, name), { force: true });
  }
}

/** Served files per piece of the state's text: about 17 KB of JSON, short-lived (below V8's large objects). */
const FILES_PER_PIECE = 100;

/**
 * The state as JSON, in pieces: one line per top-level field, and the served files (11,000 at real
 * size, 2 MB) a hundred to a line, so that it is written a batch at a time and never built whole.
 * Each piece is one JSON.stringify of a plain object: as fast as stringifying the whole state.
 */
export function* stateText(
  state: object & { files?: Record<string, ServedFile> | Manifest },
): Generator<string> {
  let separator = '{';
  for (const [key, value] of Object.entries(state)) {
    if (value === undefined) continue;
    yield `${separator}\n${JSON.stringify(key)}:`;
    separator = ',';
    if (key !== 'files') {
      yield JSON.stringify(value);
      continue;
    }
    const files =
      value instanceof Map ? value.entries() : Object.entries(value as Record<string, ServedFile>);
    let inner = '{';
    // No prototype: a path named __proto__ is a key like any other.
    let piece: Record<string, ServedFile> = Object.create(null);
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
