/**
 * Where a node's request enters the on-demand listener and is checked: the path must name a package
 * file that a served release's published index lists, in the generation that release serves now.
 * Nothing else is ever fetched: no other URL, no other path, no file an index does not name.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { RELEASE } from '../config/rules.js';
import type { PackageRecord } from '../feeds/types.js';
import type { FeedFormat } from '../formats/format.js';
import { formatFor } from '../formats/index.js';
import { currentGeneration, generationDir } from '../publish/generation.js';
import type { MirrorDir } from '../publish/mirror-dir.js';

/** A package file a served index lists, in the generation served now. */
export interface ListedFile {
  release: string;
  generation: string;
  /** Release-relative: `packages/mipsel_24kc/packages/tcpdump_4.99.5-r1_mipsel_24kc.ipk`. */
  rel: string;
  /** The feed directory whose index lists it. */
  feedDir: string;
  record: PackageRecord;
  format: FeedFormat;
  /** Where it is (or will be) in the served generation. */
  servedPath: string;
}

/** Why a request is not for a listed file: the status and one line for the node's user. */
export interface NotListed {
  status: 400 | 404;
  message: string;
}

const SEGMENT = /^[A-Za-z0-9_.+~-]+$/;
/** An index this large is no feed's (the packages feed of a release is a few MB unpacked). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Parsed indexes kept: a node installing a few packages asks the same feeds over and over. */
const CACHED_INDEXES = 8;

export class ServedIndexes {
  /**
   * By generation and feed: the parse itself, so that many nodes asking at once while it runs share
   * it (each its own read and parse of a 5 MB index would take hundreds of MB and seconds).
   */
  readonly #cache = new Map<string, Promise<Map<string, PackageRecord> | undefined>>();

  constructor(private readonly dir: MirrorDir) {}

  /** The listed file `urlPath` (as the node sent it, percent-escapes and all) names, or why not. */
  async resolve(urlPath: string, attempt = 1): Promise<ListedFile | NotListed> {
    const segments = decodePath(urlPath);
    if (!segments) return { status: 400, message: `openwrt-mirror: not a path this mirror serves` };
    const [top, release, ...rest] = segments;
    const file = rest.pop();
    if (top !== 'releases' || release === undefined || file === undefined || rest.length === 0) {
      return { status: 404, message: `openwrt-mirror: no ${shown(urlPath)} here` };
    }
    if (!RELEASE.pattern.test(release)) {
      return { status: 404, message: `openwrt-mirror: no release ${shown(release)} here` };
    }
    const generation = await currentGeneration(this.dir, release).catch(() => undefined);
    if (generation === undefined) {
      return {
        status: 404,
        message: `openwrt-mirror: release ${release} is not served here (/distfeeds/sets lists what is)`,
      };
    }
    const format = formatFor(release);
    const feedDir = rest.join('/');
    const rel = `${feedDir}/${file}`;
    if (!file.endsWith(format.packageExtension)) {
      return { status: 404, message: `openwrt-mirror: no ${shown(rel)} in release ${release}` };
    }
    const root = generationDir(this.dir, generation);
    const listed = await this.#index(root, generation, feedDir, format);
    if (listed === undefined) {
      // The generation read a moment ago may have been switched away from and removed meanwhile.
      const now = await currentGeneration(this.dir, release).catch(() => undefined);
      if (now !== undefined && now !== generation && attempt < 3) return this.resolve(urlPath, attempt + 1);
      return {
        status: 404,
        message: `openwrt-mirror: ${shown(feedDir)} is no feed of release ${release} on this mirror`,
      };
    }
    const record = listed.get(file);
    if (record === undefined) {
      return {
        status: 404,
        message: `openwrt-mirror: ${shown(file)} is not in the index of ${feedDir} (release ${release}) this mirror serves; update the package lists (${format.name} update) and try again`,
      };
    }
    return {
      release,
      generation,
      rel,
      feedDir,
      record,
      format,
      servedPath: path.join(root, ...rel.split('/')),
    };
  }

  /** The served generation's index of `feedDir`, by file name; undefined when it has none. */
  #index(
    root: string,
    generation: string,
    feedDir: string,
    format: FeedFormat,
  ): Promise<Map<string, PackageRecord> | undefined> {
    const key = `${generation}/${feedDir}`;
    const cached = this.#cache.get(key);
    if (cached) {
      // Most recently used last.
      this.#cache.delete(key);
      this.#cache.set(key, cached);
      return cached;
    }
    const loading = readServedIndex(root, feedDir, format);
    this.#cache.set(key, loading);
    // Only an index is remembered: a directory without one (any name a node sends) takes no place
    // of a real feed's, and a failed read is tried again by the next request.
    const forget = () => {
      if (this.#cache.get(key) === loading) this.#cache.delete(key);
    };
    loading.then((byFile) => {
      if (byFile === undefined) forget();
    }, forget);
    while (this.#cache.size > CACHED_INDEXES) this.#cache.delete(this.#cache.keys().next().value as string);
    return loading;
  }
}

async function readServedIndex(
  root: string,
  feedDir: string,
  format: FeedFormat,
): Promise<Map<string, PackageRecord> | undefined> {
  const indexPath = path.join(root, ...feedDir.split('/'), format.indexFile);
  // Every segment lstat'ed: only the generation's own directories lead to an index.
  let current = root;
  for (const segment of feedDir.split('/')) {
    current = path.join(current, segment);
    const stat = await fs.lstat(current).catch(() => undefined);
    if (!stat?.isDirectory()) return undefined;
  }
  const stat = await fs.lstat(indexPath).catch(() => undefined);
  if (!stat?.isFile() || stat.size > MAX_INDEX_BYTES) return undefined;
  // Published indexes were checked (signature and all) before their generation was switched in.
  const records = format.readIndex(await fs.readFile(indexPath));
  return new Map(records.map((record) => [record.filename, record]));
}

/** The path's segments, decoded; undefined for anything but plain segments (`..`, `.`, empty, hidden). */
function decodePath(urlPath: string): string[] | undefined {
  const bare = urlPath.split(/[?#]/, 1)[0] ?? '';
  if (!bare.startsWith('/') || bare.length > 1024) return undefined;
  const segments: string[] = [];
  for (const raw of bare.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (!SEGMENT.test(segment) || segment.startsWith('.')) return undefined;
    segments.push(segment);
  }
  return segments;
}

/** A value from the request, cut short and stripped of anything but the path characters, for a message. */
function shown(value: string): string {
  return value.replace(/[^A-Za-z0-9_.+~/%-]/g, '?').slice(0, 200);
}
