/**
 * The strategy's contract: everything that differs between the index formats the mirror serves,
 * opkg (`Packages`, usign, `.ipk`, OpenWrt 24.10 and older) and apk (`packages.adb`, ECDSA, `.apk`,
 * 25.12 and later). Everything else — the closure, downloads, the pool, generations, status — is the
 * same code for both, and no other module asks which format it has.
 *
 * A strategy is handed what it needs (the bytes, a way to fetch another file of the feed, the keys)
 * and returns values: it never reaches into a sync's state or writes its report.
 */
import type { TrustedKeys } from '../feeds/trusted-keys.js';
import type { Dependency, PackageRecord, RecordFields, StreamCheck } from '../feeds/types.js';
import type { ServedFile } from '../publish/types.js';

export type FormatName = 'opkg' | 'apk';

/** What the unpacked indexes of a run may hold, and where what an index keeps is counted. */
export interface UnpackBudget {
  /** Most bytes the next index may unpack to. */
  readonly limit: number;
  /** Whether the run's budget, not the index's own cap, is what `limit` is now. */
  readonly tight: boolean;
  keep(bytes: number, what: string): void;
  refusal(what: string): Error;
}

/** A feed's index as fetched: what checkIndex is handed. */
export interface IndexSource {
  /** The feed directory, release-relative, for messages: `packages/mipsel_24kc/base`. */
  dir: string;
  /** The marker's bytes (fetched, or revalidated as unchanged, already). */
  marker: Buffer;
  /** Another file of the feed directory, whole and capped; undefined when `optional` and absent. */
  fetch(name: string, options?: { optional?: boolean }): Promise<Buffer | undefined>;
  keys: TrustedKeys;
  /** The package architecture of the feed (apk's index.json names it). */
  arch: string;
  memory: UnpackBudget;
}

/** An index whose checks passed, with the bytes to serve for it. */
export interface CheckedIndex {
  /** The records to plan with: without the fields only people read (`RecordFields` 'plan'). */
  packages: PackageRecord[];
  /** Entries that were skipped, with the reason. */
  problems: string[];
  /** Things worth a warning that did not refuse the index. */
  warnings: string[];
  /** File name in the feed directory → bytes, the marker file included. */
  files: Record<string, Buffer>;
  /** Further index files to serve, fetched beside the packages when the upstream has them. */
  extras: string[];
}

/** What a package file must be before the pool takes it. */
export interface PackageExpectation {
  size: number;
  /** The file's SHA-256, when the index gives it (opkg): also its pool name. */
  sha256?: string;
  /** apk: the identity the bytes must have, checked by `check` while they stream. */
  identity?: string;
  check?: () => StreamCheck;
  /** What was served at this path before, when it is known to be this very file (apk). */
  reuse?: ServedFile;
}

/** A feed directory as it is served, for `verify` to re-check. */
export interface ServedFeedFiles {
  /** Release-relative feed directory, for messages. */
  dir: string;
  keys: TrustedKeys;
  /** A file of the directory, or undefined when it is not a regular file there. */
  read(name: string): Promise<Buffer | undefined>;
  /** A file's size and SHA-256 (each inode hashed once), or undefined when it is not served. */
  hash(name: string): Promise<{ sha256: string; size: number } | undefined>;
  /** A file's bytes as they stream, for checks beyond a hash; undefined when it is not served. */
  stream(name: string): Promise<AsyncIterable<Buffer> | undefined>;
}

export interface FeedFormat {
  name: FormatName;
  /** Revalidated first on every run; an unchanged marker means an unchanged feed. */
  marker: string;
  markerMaxBytes: number;
  /**
   * The files checkIndex fetches besides the marker, every time: a feed's first sync, with no
   * marker to revalidate, asks for them beside it (sync/feed-index.ts).
   */
  companions: readonly string[];
  /** The file the packages are read from when the feed is unchanged. */
  indexFile: string;
  /** How a package file's name ends: what status counts as packages. */
  packageExtension: '.ipk' | '.apk';
  /** The feed list a node uses. */
  distfeedsFile: 'distfeeds.conf' | 'distfeeds.list';
  /** What a node's update (`opkg update`, `apk update`) fetches from every feed. */
  updateFile: 'Packages.gz' | 'packages.adb';
  /**
   * The package a file of this format is named after (`tcpdump_4.99.5-1_x86_64.ipk`,
   * `tcpdump-4.99.5-r1.apk`: `tcpdump`), read from the name alone; undefined when the name does not
   * have the format's shape.
   */
  packageOfFile(fileName: string): string | undefined;
  /** Fetches the rest of the index and checks all of it; throws on anything not right. */
  checkIndex(source: IndexSource): Promise<CheckedIndex>;
  /** Reads a stored, already checked index; every field unless `fields` says 'plan'. */
  readIndex(bytes: Buffer, fields?: RecordFields): PackageRecord[];
  /** The same, a record at a time as the stored bytes stream in (opkg never holds the whole index). */
  streamIndex(chunks: AsyncIterable<Buffer>, fields?: RecordFields): AsyncIterable<PackageRecord>;
  /** How a package file of this format is checked; `previous` is what was served at that path. */
  expect(pkg: PackageRecord, rel: string, previous: ServedFile | undefined): PackageExpectation;
  /** Version rules of the format's package manager, for the closure. */
  accepts: (pkg: PackageRecord, dep: Dependency) => boolean;
  /** An error message when `keys` cannot check this format's indexes, else undefined. */
  missingKeys(keys: TrustedKeys): string | undefined;
  /** A node's line for one feed, `url` being the feed directory's. */
  feedLine(feed: { distName: string; url: string }): string;
  /** What `verify` re-checks in a served feed: the problems found, one line each. */
  verifyFeed(feed: ServedFeedFiles): Promise<string[]>;
}
