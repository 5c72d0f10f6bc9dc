/**
 * Fetches a listed package the mirror lacks, verifies it against the served index, and makes it
 * part of what is served: into the pool, and under its path in the served generation — a new name
 * the index already lists, so no reader ever sees a mix. Several nodes asking for one file share
 * one fetch. Its bytes are never handed out before they verified.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { IntegrityError, UntrustedInputError, UpstreamError } from '../errors.js';
import type { Logger } from '../log.js';
import { learnPackage, MAX_LEARNED } from '../publish/learned.js';
import { ensureDirectory, type MirrorDir } from '../publish/mirror-dir.js';
import { settle } from '../publish/pool.js';
import { recordLearned } from '../status/status-store.js';
import type { Upstream } from '../upstream/client.js';
import type { ListedFile } from './request.js';

/** Why a listed file could not be had: `refused` when the upstream's bytes failed the checks. */
export class NotKept extends Error {
  constructor(
    message: string,
    readonly refused: boolean,
  ) {
    super(message);
  }
}

/**
 * The generation the file was resolved in stopped being served (a sync switched and cleaned up, a
 * rollback) while it was fetched or linked: resolving the request again finds the one served now.
 */
export class GenerationGone extends NotKept {
  constructor(file: ListedFile) {
    super(`generation ${file.generation} of ${file.release} is not served any more`, false);
  }
}

export interface Kept {
  /** Where the verified file is served now. */
  path: string;
  size: number;
  /** Whether this call brought it from the upstream (false: it was there, or in the pool). */
  fetched: boolean;
}

/** Downloads in progress on demand: apart from tmp/, which every sync empties when it starts. */
const PARTS = 'ondemand';

/**
 * How long a failed fetch is remembered: routers retry, apk retries a failed package on every later
 * `apk add`, and each attempt costs the upstream 1 + MAX_RETRIES requests. Bytes that failed the
 * checks are remembered longer: an upstream that serves them will not mend within seconds.
 */
export const FAILED_FOR_MS = 60_000;
export const REFUSED_FOR_MS = 10 * 60_000;

export class Keeper {
  readonly #inFlight = new Map<string, Promise<Kept>>();
  readonly #failed = new Map<string, { until: number; error: NotKept }>();

  constructor(
    private readonly dir: MirrorDir,
    private readonly upstream: Upstream,
    private readonly logger: Logger,
  ) {}

  /**
   * Removes what downloads cut short by a killed worker left in `.mirror/ondemand/` (each a
   * package's size, never cleaned otherwise: a sync empties only tmp/). Before the listener
   * listens: no fetch of this process is under way.
   */
  async clearParts(): Promise<void> {
    const parts = path.join(this.dir.internal, PARTS);
    for (const name of await fs.readdir(parts).catch(() => [] as string[])) {
      await fs.rm(path.join(parts, name), { force: true, recursive: true });
    }
  }

  /** How many different files are being fetched now. */
  get pending(): number {
    return this.#inFlight.size;
  }

  keep(file: ListedFile): Promise<Kept> {
    const key = `${file.generation}/${file.rel}`;
    const running = this.#inFlight.get(key);
    if (running) return running;
    const failed = this.#failed.get(key);
    if (failed && failed.until > Date.now()) {
      const seconds = Math.ceil((failed.until - Date.now()) / 1000);
      return Promise.reject(
        new NotKept(
          `${failed.error.message} (a moment ago; asked again in ${seconds} s)`,
          failed.error.refused,
        ),
      );
    }
    this.#failed.delete(key);
    const next = this.#keep(file)
      .catch((error: unknown) => {
        if (error instanceof NotKept && !(error instanceof GenerationGone)) {
          this.#forgetExpired();
          this.#failed.set(key, {
            until: Date.now() + (error.refused ? REFUSED_FOR_MS : FAILED_FOR_MS),
            error,
          });
        }
        throw error;
      })
      .finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, next);
    return next;
  }

  /** The memory of failures stays as small as the failures of the last minutes. */
  #forgetExpired(): void {
    const now = Date.now();
    for (const [key, failed] of this.#failed) if (failed.until <= now) this.#failed.delete(key);
  }

  /** Whether the served generation holds the file already (a HEAD answers from that alone). */
  async held(file: ListedFile): Promise<boolean> {
    return (await regularFile(file.servedPath)) !== undefined;
  }

  async #keep(file: ListedFile): Promise<Kept> {
    const there = await fs.lstat(file.servedPath).catch(() => undefined);
    if (there?.isFile()) return { path: file.servedPath, size: there.size, fetched: false };
    // A symlink or anything else the mirror never puts in a generation: not read through, not replaced.
    if (there) {
      throw new NotKept(
        `${file.rel} in the served generation is not a file the mirror put there (openwrt-mirror verify names it)`,
        false,
      );
    }
    const expected = file.format.expect(file.record, file.rel, undefined);
    // Verified bytes another path or release already brought (opkg names them by their hash).
    if (expected.sha256 && (await regularFile(this.dir.poolPath(expected.sha256)))?.size === expected.size) {
      await this.#serve(file, this.dir.poolPath(expected.sha256));
      await this.#learn(file);
      return { path: file.servedPath, size: expected.size, fetched: false };
    }
    const parts = await ensureDirectory(this.dir.root, path.join('.mirror', PARTS));
    const part = path.join(parts, `${randomBytes(6).toString('hex')}-${path.basename(file.rel).slice(-60)}`);
    const started = Date.now();
    try {
      const result = await this.upstream.download(`releases/${file.release}/${file.rel}`, part, {
        size: expected.size,
        sha256: expected.sha256,
        check: expected.check,
      });
      await settle(part);
      // Served first, then pooled: the pool's clean-up deletes only files no generation links to.
      await this.#serve(file, part);
      await link(part, this.dir.poolPath(result.sha256));
      this.logger.info(
        `on demand: fetched and verified ${file.rel} of ${file.release} (${result.bytes} bytes, ${Date.now() - started} ms) for a node`,
        { phase: 'on-demand', release: file.release, file: file.rel, package: file.record.name },
      );
      await this.#learn(file);
      return { path: file.servedPath, size: result.bytes, fetched: true };
    } catch (error) {
      if (error instanceof GenerationGone) throw error;
      const refused =
        error instanceof IntegrityError ||
        error instanceof UntrustedInputError ||
        (error instanceof UpstreamError && error.details.kind === 'integrity');
      const reason = (error as Error).message;
      this.logger.warn(
        `on demand: ${refused ? 'refused' : 'could not fetch'} ${file.rel} of ${file.release}: ${reason}`,
        { phase: 'on-demand', release: file.release, file: file.rel, package: file.record.name },
      );
      throw new NotKept(reason, refused);
    } finally {
      await fs.rm(part, { force: true });
    }
  }

  /** A hard link at the served path: the generation's own directory, which the index's feed is. */
  async #serve(file: ListedFile, from: string): Promise<void> {
    const dirStat = await fs.lstat(path.dirname(file.servedPath)).catch(() => undefined);
    if (!dirStat?.isDirectory()) throw new GenerationGone(file);
    await link(from, file.servedPath).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'ENOENT' ? new GenerationGone(file) : error;
    });
  }

  /** Into the learned selection, so the nightly sync keeps it; a failure to record it is only logged. */
  async #learn(file: ListedFile): Promise<void> {
    const entry = {
      release: file.release,
      name: file.record.name,
      dir: file.feedDir,
      file: path.posix.basename(file.rel),
      addedAt: new Date().toISOString(),
    };
    try {
      const outcome = await learnPackage(this.dir, entry);
      if (outcome === 'added') {
        await recordLearned(this.dir);
        this.logger.info(
          `on demand: ${entry.name} (${file.release}) joins the selection; openwrt-mirror forget ${entry.name} drops it`,
          { phase: 'on-demand', release: file.release, package: entry.name },
        );
      } else if (outcome === 'full') {
        // Served all the same; only the nightly sync will not keep it. Said, since a node (or a
        // client walking a whole feed) filling the list is something to look at.
        this.logger.warn(
          `on demand: ${entry.name} (${file.release}) was served but not added to the selection: it holds ${MAX_LEARNED} names already (openwrt-mirror status lists them, forget drops one; OPTIONAL_PACKAGES keeps one for good)`,
          { phase: 'on-demand', release: file.release, package: entry.name },
        );
      }
    } catch (error) {
      this.logger.warn(
        `on demand: could not record ${entry.name} in the learned selection: ${(error as Error).message}`,
        {
          phase: 'on-demand',
        },
      );
    }
  }
}

async function regularFile(file: string): Promise<{ size: number } | undefined> {
  const stat = await fs.lstat(file).catch(() => undefined);
  return stat?.isFile() ? { size: stat.size } : undefined;
}

/** link(2), where a name already there is the same verified file another request put there. */
async function link(from: string, to: string): Promise<void> {
  await fs.link(from, to).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}
