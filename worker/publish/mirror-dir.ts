/**
 * The layout of MIRROR_DIR and the only ways the mirror writes into it: directories are created one
 * checked segment at a time (a symlink the mirror did not make is never followed), and files at
 * served paths appear by rename(2) only.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, UntrustedInputError } from '../errors.js';

export class MirrorDir {
  readonly internal: string;
  readonly pool: string;
  readonly generations: string;
  readonly tmp: string;
  readonly lockFile: string;
  readonly releasesDir: string;

  constructor(readonly root: string) {
    this.internal = path.join(root, '.mirror');
    this.pool = path.join(this.internal, 'pool');
    this.generations = path.join(this.internal, 'generations');
    this.tmp = path.join(this.internal, 'tmp');
    this.lockFile = path.join(this.internal, 'lock');
    this.releasesDir = path.join(root, 'releases');
  }

  /** The served link of a release: `releases/<version>`. */
  releaseLink(version: string): string {
    return path.join(this.releasesDir, version);
  }

  poolPath(sha256: string): string {
    return path.join(this.pool, sha256);
  }

  /**
   * Creates MIRROR_DIR and the internal directories, refusing any that is a planted symlink. A
   * MIRROR_DIR that cannot be a writable directory is a ConfigError naming it.
   */
  async prepare(): Promise<void> {
    await this.prepareRoot();
    for (const dir of [this.pool, this.generations, this.tmp, this.releasesDir]) {
      await ensureDirectory(this.root, path.relative(this.root, dir));
    }
  }

  /** MIRROR_DIR and `.mirror/`: enough to take the lock. */
  async prepareRoot(): Promise<void> {
    await this.#createRoot();
    await ensureDirectory(this.root, path.relative(this.root, this.internal));
  }

  /**
   * One segment at a time from the nearest existing ancestor: `mkdir -p` in Node spins forever on
   * some paths (`/proc/x`), and a segment that exists but is no directory must say so.
   */
  async #createRoot(): Promise<void> {
    const refuse = (expected: string): never => {
      throw new ConfigError('MIRROR_DIR', this.root, expected);
    };
    const missing: string[] = [];
    let existing = this.root;
    for (;;) {
      const stat = await fs.stat(existing).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        return refuse(`a directory the worker can use (${existing}: ${error.code ?? error.message})`);
      });
      if (stat !== undefined) {
        if (!stat.isDirectory()) {
          refuse(`a directory, but ${existing === this.root ? 'it' : existing} is ${kindOf(stat)}`);
        }
        break;
      }
      missing.unshift(existing);
      const parent = path.dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
    for (const dir of missing) {
      await fs.mkdir(dir).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST')
          refuse(`a directory the worker can create (${dir}: ${error.code ?? error.message})`);
      });
    }
    await fs
      .access(this.root, constants.W_OK | constants.X_OK)
      .catch((error: NodeJS.ErrnoException) =>
        refuse(`a directory the worker can write to (${error.code ?? error.message})`),
      );
  }

  /** Empties tmp/: downloads a killed run left behind are never reused unverified. */
  async cleanTmp(): Promise<number> {
    const entries = await fs.readdir(this.tmp);
    await Promise.all(
      entries.map((name) => fs.rm(path.join(this.tmp, name), { recursive: true, force: true })),
    );
    return entries.length;
  }

  /** A fresh path inside tmp/ for a download or a file about to be renamed into place. */
  tmpPath(hint: string): string {
    return path.join(
      this.tmp,
      `${randomBytes(6).toString('hex')}-${hint.replace(/[^A-Za-z0-9._-]/g, '_').slice(-60)}`,
    );
  }

  /**
   * Writes `data` to `relPath` under the root atomically (temp file, fsync, rename). Text given as
   * a function of its pieces (a big state, a package list) is written a batch at a time, never held
   * whole; the function is called again if the write has to start over.
   */
  async writeAtomic(
    relPath: string,
    data: string | Buffer | (() => Iterable<string> | AsyncIterable<string>),
  ): Promise<void> {
    const target = path.join(this.root, relPath);
    await ensureDirectory(this.root, path.dirname(relPath));
    // status.json is written from the first heartbeat on, before a sync made tmp/; and a sync that
    // starts empties tmp/, so a writer in another process may see its temporary file go: once more.
    for (let attempt = 1; ; attempt++) {
      await ensureDirectory(this.root, path.relative(this.root, this.tmp));
      const tmp = this.tmpPath(path.basename(relPath));
      try {
        const handle = await fs.open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o644);
        try {
          if (typeof data === 'function') await writePieces(handle, data());
          else await handle.writeFile(data);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.rename(tmp, target);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw error;
      }
    }
  }
}

/** The pieces of a big text are joined up to about this much, then written (writeFile goes on from the last). */
const WRITE_BATCH_CHARS = 64 * 1024;

async function writePieces(
  handle: fs.FileHandle,
  pieces: Iterable<string> | AsyncIterable<string>,
): Promise<void> {
  let batch: string[] = [];
  let length = 0;
  /** Whether the batch is big enough to be written. */
  const full = (piece: string): boolean => {
    batch.push(piece);
    length += piece.length;
    return length >= WRITE_BATCH_CHARS;
  };
  const write = async () => {
    await handle.writeFile(batch.join(''));
    batch = [];
    length = 0;
  };
  // Pieces made at once (the state) are not awaited one by one; a package list's come as it reads.
  if (Symbol.asyncIterator in pieces) {
    for await (const piece of pieces) if (full(piece)) await write();
  } else {
    for (const piece of pieces) if (full(piece)) await write();
  }
  if (length > 0) await write();
}

/**
 * Makes `relPath` (relative to `root`) a directory, creating missing segments. Every existing
 * segment must be a real directory: a symlink there would let upstream data or a stranger redirect
 * writes outside the mirror.
 */
export async function ensureDirectory(root: string, relPath: string): Promise<string> {
  let current = root;
  for (const segment of relPath.split(path.sep).filter((s) => s !== '' && s !== '.')) {
    if (segment === '..') throw new UntrustedInputError(`refusing path ${relPath}: it climbs out of ${root}`);
    current = path.join(current, segment);
    const stat = await fs.lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (stat === undefined) {
      await fs.mkdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      continue;
    }
    if (stat.isSymbolicLink()) {
      throw new UntrustedInputError(
        `refusing to write through ${current}: it is a symlink the mirror did not create`,
      );
    }
    if (!stat.isDirectory())
      throw new UntrustedInputError(`refusing to write into ${current}: it is not a directory`);
  }
  return current;
}

function kindOf(stat: { isFile(): boolean }): string {
  return stat.isFile() ? 'a file' : 'not a directory';
}
