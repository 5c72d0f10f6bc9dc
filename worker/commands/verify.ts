/**
 * `openwrt-mirror verify`: re-checks what nodes are served right now, from the served tree itself —
 * every entry of the generation is a regular file of the pool with the hash it was verified as (this
 * covers files kept for the grace period too), every index's signature, Packages.gz against
 * Packages, every package file against its index entry, every listed file against the signed
 * sha256sums. Exit 0 all match, 1 any mismatch, 3 the check could not be completed.
 *
 * A sync may publish while verify runs and remove the generation being read: verify then starts
 * over on the generation now served. An error it cannot explain that way is no mismatch: it says
 * the check did not complete.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { UntrustedInputError, VerifyIncompleteError } from '../errors.js';
import { parseSha256Sums } from '../feeds/profiles.js';
import { loadConfiguredKeys, type TrustedKeys } from '../feeds/trusted-keys.js';
import { verifyUsign } from '../feeds/usign.js';
import type { ServedFeedFiles } from '../formats/format.js';
import { formatFor } from '../formats/index.js';
import type { Logger } from '../log.js';
import {
  currentGeneration,
  type GenerationListing,
  generationDir,
  generationOfLink,
  readGenerationFiles,
} from '../publish/generation.js';
import { MirrorDir } from '../publish/mirror-dir.js';

export interface VerifyResult {
  checked: number;
  problems: string[];
  /** The generation checked (of the first release, when there are several). */
  generation?: string;
  /** Release → the generation checked. */
  generations: Record<string, string>;
  /** How many times a publish switched the generation under the check and it started over. */
  restarts: number;
}

export interface VerifyOptions {
  /** Called after each file of the pool pass (tests use it to publish in the middle of a check). */
  onFile?: (file: string) => Promise<void>;
}

/** Publishes that may switch the generation under one verify before it gives up. */
const MAX_RESTARTS = 3;

/** Prints what verify found; a check that could not be completed throws VerifyIncompleteError (exit 3, cli.ts). */
export async function verifyCommand(
  config: Config,
  options: { stdout: NodeJS.WritableStream; logger: Logger },
): Promise<number> {
  const result = await verifyMirror(config);
  for (const problem of result.problems) options.stdout.write(`MISMATCH ${problem}\n`);
  const restarted =
    result.restarts > 0
      ? ` (started over ${result.restarts} ${result.restarts === 1 ? 'time' : 'times'}: a sync published meanwhile)`
      : '';
  const of = Object.entries(result.generations)
    .map(([release, generation]) => `${release} generation ${generation}`)
    .join(', ');
  options.stdout.write(
    result.problems.length === 0
      ? `verified ${result.checked} files of ${of}: all match their signed indexes${restarted}\n`
      : `${result.problems.length} problems in ${result.checked} files checked of ${of || 'nothing published'}${restarted}\n`,
  );
  return result.problems.length === 0 ? 0 : 1;
}

export async function verifyMirror(config: Config, options: VerifyOptions = {}): Promise<VerifyResult> {
  const dir = new MirrorDir(config.mirrorDir);
  const keys = await loadConfiguredKeys(config);
  // What releases/ holds is served too: only the mirror's own links into a generation belong there.
  const strangers = await strangeReleaseEntries(dir);
  const total: VerifyResult = { checked: 0, problems: [...strangers], restarts: 0, generations: {} };
  const releases = [...new Set(config.sets.map((set) => set.release))];
  for (const release of releases) {
    let result: Omit<VerifyResult, 'generations'>;
    try {
      result = await verifyRelease(dir, release, keys, options);
    } catch (error) {
      // The release link itself was replaced: the strangers say it.
      if (strangers.length > 0 && error instanceof UntrustedInputError) continue;
      throw error;
    }
    // One release: its problems as they are; several: each named by its served path.
    const prefix = releases.length > 1 ? `releases/${release}/` : '';
    total.checked += result.checked;
    total.problems.push(...result.problems.map((problem) => `${prefix}${problem}`));
    total.restarts += result.restarts;
    if (result.generation) {
      total.generations[release] = result.generation;
      total.generation ??= result.generation;
    }
  }
  return total;
}

/** One release's served generation; started over when a sync switches it meanwhile. */
async function verifyRelease(
  dir: MirrorDir,
  release: string,
  keys: TrustedKeys,
  options: VerifyOptions,
): Promise<Omit<VerifyResult, 'generations'>> {
  for (let restarts = 0; ; restarts++) {
    const generation = await currentGeneration(dir, release);
    if (generation === undefined) {
      return { checked: 0, problems: [`nothing published for ${release} in ${dir.root}`], restarts };
    }
    let result: Omit<VerifyResult, 'generation' | 'generations' | 'restarts'> | undefined;
    let failure: unknown;
    try {
      result = await verifyGeneration(dir, generation, release, keys, options);
    } catch (error) {
      failure = error;
    }
    // A tree switched away from meanwhile is being removed: what was read of it proves nothing.
    const switched = (await currentGeneration(dir, release).catch(() => undefined)) !== generation;
    if (switched && restarts < MAX_RESTARTS) continue;
    if (result !== undefined && !switched) return { ...result, generation, restarts };
    const reason = switched
      ? `a sync published ${MAX_RESTARTS + 1} times while it ran; run verify again`
      : failure instanceof Error
        ? failure.message
        : String(failure);
    throw new VerifyIncompleteError(`checking ${release} generation ${generation}: ${reason}`, {
      cause: failure,
    });
  }
}

/**
 * Entries of releases/ that are not a link the mirror made into one of its generations (a link to
 * /etc, a file, a directory), and releases/ itself when it is not a real directory.
 */
async function strangeReleaseEntries(dir: MirrorDir): Promise<string[]> {
  const releases = await fs.lstat(dir.releasesDir).catch(() => undefined);
  if (releases === undefined) return [];
  if (!releases.isDirectory()) return ['releases: not a directory of the mirror (a symlink or a file)'];
  const problems: string[] = [];
  for (const name of await fs.readdir(dir.releasesDir)) {
    const entry = path.join(dir.releasesDir, name);
    const stat = await fs.lstat(entry);
    if (!stat.isSymbolicLink()) {
      problems.push(
        `releases/${name}: ${stat.isDirectory() ? 'a directory' : 'a file'}, not a release link of this mirror`,
      );
      continue;
    }
    const target = await fs.readlink(entry);
    const generation = generationOfLink(target);
    if (generation === undefined) {
      problems.push(`releases/${name}: a link to ${target}, not to a generation of this mirror`);
    } else if (
      !(await fs.lstat(generationDir(dir, generation)).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    ) {
      problems.push(`releases/${name}: a link to generation ${generation}, which does not exist`);
    }
  }
  return problems;
}

async function verifyGeneration(
  dir: MirrorDir,
  generation: string,
  release: string,
  keys: TrustedKeys,
  options: VerifyOptions,
): Promise<Omit<VerifyResult, 'generation' | 'generations' | 'restarts'>> {
  const root = generationDir(dir, generation);
  const result = { checked: 0, problems: [] as string[] };
  const listing = await readGenerationFiles(root);
  const hashes = new HashCache(root, listing);
  await verifyAgainstPool(dir, listing, hashes, result, options);
  const format = formatFor(release);
  for (const feedDir of await findDirsWith(root, format.indexFile)) {
    result.problems.push(...(await format.verifyFeed(servedFeed(root, feedDir, keys, hashes))));
  }
  // Every target's signed sums: targets/<target>/<subtarget>/sha256sums.
  for (const targetDir of await findDirsWith(root, 'sha256sums')) {
    if (/^targets\/[^/]+\/[^/]+$/.test(targetDir))
      await verifyTargetSums(root, targetDir, keys, hashes, result);
  }
  return result;
}

/** Files hashed at once: reads of one overlap the hashing of another (sha256sum reads and hashes in turn). */
const HASH_CONCURRENCY = 4;
/** The most of a file read at once. */
const READ_BYTES = 1024 * 1024;

/**
 * Every served file is a hard link to `pool/<sha256>` of the bytes that were verified: re-hash them,
 * and find the pool's file of that hash to be this very inode. Anything in the generation that is
 * not a regular file (a symlink planted there) is a problem.
 */
async function verifyAgainstPool(
  dir: MirrorDir,
  listing: GenerationListing,
  hashes: HashCache,
  result: { checked: number; problems: string[] },
  options: VerifyOptions,
): Promise<void> {
  for (const [file, kind] of listing.strangers) {
    result.checked++;
    result.problems.push(`${file}: ${kind}, not a verified file of the pool`);
  }
  /** Which pool file each inode is: read only to name what a file that is not its own pool entry is. */
  let poolByInode: Promise<Map<number, string>> | undefined;
  const files = [...listing.files];
  const problems = await eachLimited(files, HASH_CONCURRENCY, async ([file, { ino }]) => {
    const actual = await hashes.of(file);
    const pooled = await fs.lstat(path.join(dir.pool, actual.sha256)).catch(() => undefined);
    let problem: string | undefined;
    if (!pooled?.isFile() || pooled.ino !== ino) {
      poolByInode ??= poolInodes(dir);
      const promised = (await poolByInode).get(ino);
      problem =
        promised === undefined
          ? `${file}: not a verified file of the pool`
          : `${file}: sha256 ${actual.sha256}, verified as ${promised}`;
    }
    await options.onFile?.(file);
    return problem;
  });
  result.checked += files.length;
  for (const problem of problems) if (problem !== undefined) result.problems.push(problem);
}

async function poolInodes(dir: MirrorDir): Promise<Map<number, string>> {
  const byInode = new Map<number, string>();
  for (const name of await fs.readdir(dir.pool)) {
    const stat = await fs.lstat(path.join(dir.pool, name)).catch(() => undefined);
    if (stat?.isFile()) byInode.set(stat.ino, name);
  }
  return byInode;
}

/**
 * `work` over every item, at most `limit` at once; the results in the items' order. On a failure
 * nothing more starts, and it rejects once the work under way has ended (a sync may be removing
 * the tree: what is still reading must be done before anyone looks at why).
 */
async function eachLimited<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
  return results;
}

/**
 * Each inode is hashed once, however many paths and checks refer to it. Only the generation's
 * regular files are hashed, as its listing found them: nothing is followed.
 */
class HashCache {
  private readonly byInode = new Map<number, Promise<{ sha256: string; size: number }>>();
  private readonly buffers: Buffer[] = [];

  constructor(
    private readonly root: string,
    private readonly listing: GenerationListing,
  ) {}

  /** `rel`'s hash and size, undefined when it is not a regular file of the generation. */
  of(rel: string): Promise<{ sha256: string; size: number }>;
  of(rel: string, optional: true): Promise<{ sha256: string; size: number } | undefined>;
  async of(rel: string, optional?: true): Promise<{ sha256: string; size: number } | undefined> {
    const listed = this.listing.files.get(rel);
    if (listed === undefined) {
      if (optional) return undefined;
      throw new Error(`${rel}: not a regular file of the generation`);
    }
    let hash = this.byInode.get(listed.ino);
    if (!hash) {
      hash = this.#hash(path.join(this.root, rel), listed.size);
      this.byInode.set(listed.ino, hash);
    }
    return hash;
  }

  /** Read into a buffer of its own, reused: no stream, no garbage per chunk. */
  async #hash(file: string, size: number): Promise<{ sha256: string; size: number }> {
    const buffer = this.buffers.pop() ?? Buffer.allocUnsafe(READ_BYTES);
    try {
      return await hashFile(file, buffer, size);
    } finally {
      this.buffers.push(buffer);
    }
  }
}

/** A served feed directory, read without following anything, as a format's verifyFeed wants it. */
function servedFeed(root: string, dir: string, keys: TrustedKeys, hashes: HashCache): ServedFeedFiles {
  const at = (name: string) => path.join(root, dir, name);
  return {
    dir,
    keys,
    read: async (name) => ((await isRegularFile(at(name))) ? fs.readFile(at(name)) : undefined),
    hash: (name) => hashes.of(`${dir}/${name}`, true),
    stream: async (name) => ((await isRegularFile(at(name))) ? createReadStream(at(name)) : undefined),
  };
}

/** The signed sha256sums and every file it lists that the generation serves: images, profiles.json, core and kmods. */
async function verifyTargetSums(
  root: string,
  targetDir: string,
  keys: TrustedKeys,
  hashes: HashCache,
  result: { checked: number; problems: string[] },
): Promise<void> {
  const sums = await fs.readFile(path.join(root, targetDir, 'sha256sums'));
  try {
    verifyUsign(sums, await fs.readFile(path.join(root, targetDir, 'sha256sums.sig'), 'utf8'), keys);
  } catch (error) {
    result.problems.push(`${targetDir}/sha256sums: ${(error as Error).message}`);
  }
  for (const [name, sha256] of parseSha256Sums(sums.toString('utf8'))) {
    const actual = await hashes.of(path.posix.join(targetDir, name), true);
    if (actual === undefined) continue;
    if (actual.sha256 !== sha256)
      result.problems.push(`${targetDir}/${name}: sha256 ${actual.sha256}, sha256sums says ${sha256}`);
  }
}

async function findDirsWith(root: string, fileName: string, rel = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
    const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
    if (entry.isDirectory()) found.push(...(await findDirsWith(root, fileName, child)));
    else if (entry.name === fileName && entry.isFile()) found.push(rel);
  }
  return found;
}

/** Whether `file` is a regular file, not following a symlink: what the pool check has not flagged. */
async function isRegularFile(file: string): Promise<boolean> {
  const stat = await fs.lstat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  return stat?.isFile() === true;
}

/** The file's SHA-256 and size, read through `buffer` (`expected`: its size when listed, for a first read that fits). */
async function hashFile(
  file: string,
  buffer: Buffer,
  expected: number,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const handle = await fs.open(file, 'r');
  try {
    // One byte more than listed: a file that grew meanwhile is read to its end all the same.
    let want = Math.min(buffer.length, expected + 1);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, want, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
      want = buffer.length;
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest('hex'), size };
}
