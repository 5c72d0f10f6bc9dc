/**
 * MIRROR_DIR/search/<release>/<target>/packages.json: every package of every index a set serves,
 * for people — the page's search. Name, version, feed, size, the first line of the description,
 * what it depends on, its file, and whether that file is on this mirror (selective mode serves the
 * whole signed index but holds only the selection's files: the list says which are not here, and
 * how to add one). Short keys and one object a line keep it small and gzip well.
 */
import { dependsOf } from '../feeds/depends.js';
import type { PackageRecord } from '../feeds/types.js';
import type { FormatName } from '../formats/format.js';
import type { Manifest } from '../publish/types.js';

export const SEARCH_DIR = 'search';

export interface ListedPackage {
  /** name, version, feed (index into `feeds`), size, description, depends (names), file */
  n: string;
  v: string;
  f: number;
  s: number;
  d?: string;
  p?: string[];
  u: string;
  /** 1 when the file is on this mirror. */
  m: 0 | 1;
}

export interface PackageList {
  schema: 1;
  release: string;
  target: string;
  arch?: string;
  format: FormatName;
  mode: string;
  /** Written at. */
  at: string;
  /** The set's feeds: `dir` is release-relative. */
  feeds: { name: string; dir: string }[];
  /** How a package that is not here is added: the optional list and where it is set. */
  optional: { list: string[]; source: string };
  packages: ListedPackage[];
}

export interface SetForList {
  release: string;
  target: string;
  arch?: string;
  format: FormatName;
  mode: string;
  optional: string[];
  optionalSource: string;
  /** `records` reads a feed's records, one at a time (sync/feed-records.ts). */
  feeds: { name: string; dir: string; records: () => AsyncIterable<PackageRecord> }[];
}

/**
 * A set's list as it is to be written: its head, and the feeds whose records make its rows. The rows
 * are made one at a time as the records are read and the text is written: neither the rows nor the
 * records are ever all in memory (11,000 at real size).
 */
export interface ListSource {
  head: Omit<PackageList, 'packages'>;
  feeds: { dir: string; records: () => AsyncIterable<PackageRecord> }[];
  /** What the generation serves: a row's file is on this mirror when it is here. */
  manifest: Manifest;
}

export function packageListSource(set: SetForList, manifest: Manifest, at: Date): ListSource {
  return {
    head: {
      schema: 1,
      release: set.release,
      target: set.target,
      ...(set.arch && { arch: set.arch }),
      format: set.format,
      mode: set.mode,
      at: at.toISOString(),
      feeds: set.feeds.map((feed) => ({ name: feed.name, dir: feed.dir })),
      optional: { list: set.optional, source: set.optionalSource },
    },
    feeds: set.feeds,
    manifest,
  };
}

function listedPackage(pkg: PackageRecord, feed: number, here: boolean): ListedPackage {
  const depends = [...new Set(dependsOf(pkg).flatMap((item) => item.map((dep) => dep.name)))];
  return {
    n: pkg.name,
    v: pkg.version,
    f: feed,
    s: pkg.size,
    ...(pkg.description && { d: pkg.description }),
    ...(depends.length > 0 && { p: depends }),
    u: pkg.filename,
    m: here ? 1 : 0,
  };
}

/**
 * The list as written, in pieces: the head on the first line, then one package a line, so a diff or
 * `grep` of it reads well and 11,000 packages are never one string.
 */
export async function* packageListText(list: ListSource): AsyncGenerator<string> {
  yield `${JSON.stringify(list.head).slice(0, -1)},"packages":[`;
  let separator = '\n';
  for (const [index, feed] of list.feeds.entries()) {
    for await (const pkg of feed.records()) {
      const here = list.manifest.has(`${feed.dir}/${pkg.filename}`);
      yield `${separator}${JSON.stringify(listedPackage(pkg, index, here))}`;
      separator = ',\n';
    }
  }
  yield '\n]}\n';
}

export function packageListPath(set: { release: string; target: string }): string {
  return `${SEARCH_DIR}/${set.release}/${set.target}/packages.json`;
}
