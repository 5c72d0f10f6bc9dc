/**
 * The content pool: every verified file once, named by its SHA-256. A file only enters it after its
 * bytes were checked, so a name here is a promise about the content; `verify` re-checks the promise.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { MirrorDir } from './mirror-dir.js';

const PRUNE_BATCH = 64;

export class Pool {
  constructor(private readonly dir: MirrorDir) {}

  path(sha256: string): string {
    return this.dir.poolPath(sha256);
  }

  /** True when the pool holds `sha256` as a regular file of the expected size. */
  async has(sha256: string, size?: number): Promise<boolean> {
    const stat = await fs.lstat(this.path(sha256)).catch(() => undefined);
    return stat?.isFile() === true && (size === undefined || stat.size === size);
  }

  /** Moves a verified temporary file into the pool, durably: its data reaches the disk before its name. */
  async admitFile(tmpPath: string, sha256: string): Promise<void> {
    await settle(tmpPath);
    await fs.rename(tmpPath, this.path(sha256));
  }

  /** Stores bytes already held in memory (indexes, which are verified as a whole before this). */
  async admitBuffer(data: Buffer): Promise<string> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (await this.has(sha256, data.length)) return sha256;
    const tmp = this.dir.tmpPath(sha256);
    await fs.writeFile(tmp, data, { flag: 'wx', mode: 0o644 });
    await this.admitFile(tmp, sha256);
    return sha256;
  }

  async sizeOf(sha256: string): Promise<number> {
    return (await fs.stat(this.path(sha256))).size;
  }

  async read(sha256: string): Promise<Buffer> {
    return fs.readFile(this.path(sha256));
  }

  /** A file's bytes as they are read, a chunk at a time (a big index need not be whole in memory). */
  stream(sha256: string): AsyncIterable<Buffer> {
    return createReadStream(this.path(sha256));
  }

  /**
   * Deletes every pool file that no generation links to (link count 1). Generations of every
   * release hold links, so an older release left in place keeps its files.
   */
  async pruneUnlinked(): Promise<{ files: number; bytes: number }> {
    let files = 0;
    let bytes = 0;
    const names = await fs.readdir(this.dir.pool);
    // Every run of a full mirror looks at thousands of files: their lstats go out a batch at a time.
    for (let start = 0; start < names.length; start += PRUNE_BATCH) {
      const batch = names.slice(start, start + PRUNE_BATCH).map((name) => this.path(name));
      const stats = await Promise.all(batch.map((file) => fs.lstat(file).catch(() => undefined)));
      for (const [i, file] of batch.entries()) {
        const stat = stats[i];
        if (stat?.isFile() && stat.nlink > 1) continue;
        await fs.rm(file, { force: true, recursive: true });
        files++;
        bytes += stat?.size ?? 0;
      }
    }
    return { files, bytes };
  }
}

/** A verified file made ready for a served name: its data on disk first, readable by nginx. */
export async function settle(file: string): Promise<void> {
  const handle = await fs.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.chmod(file, 0o644);
}
