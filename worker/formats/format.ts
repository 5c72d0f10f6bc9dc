/**
 * What differs between the index formats the mirror serves: opkg (`Packages`, usign, `.ipk`, OpenWrt
 * 24.10 and older) and apk (`packages.adb`, ECDSA, `.apk`, 25.12 and later). Everything else — the
 * closure, downloads, the pool, generations, status — is the same code for both.
 */

import type { TrustedKeys } from '../feeds/trusted-keys.js';
import type { Dependency, PackageRecord } from '../feeds/types.js';
import type { ServedFile } from '../publish/generation.js';
import type { SyncContext } from '../sync/context.js';
import type { FeedRef } from '../sync/discover.js';
import type { WantedFile } from '../sync/download.js';

export type FormatName = 'opkg' | 'apk';

/** An index whose checks passed, with the bytes to serve for it. */
export interface CheckedIndex {
  packages: PackageRecord[];
  /** Entries that were skipped, with the reason. */
  problems: string[];
  /** File name in the feed directory → bytes, the marker file included. */
  files: Record<string, Buffer>;
  /** Further index files to serve, fetched beside the packages when the upstream has them. */
  extras?: string[];
}

export interface FeedFormat {
  name: FormatName;
  /** Revalidated first on every run; an unchanged marker means an unchanged feed. */
  marker: string;
  markerMaxBytes: number;
  /** The file the packages are read from when the feed is unchanged. */
  indexFile: string;
  /** Fetches the rest of the index and checks all of it; throws on anything not right. */
  fetchIndex(ctx: SyncContext, ref: FeedRef, marker: Buffer): Promise<CheckedIndex>;
  /** Reads a stored, already checked index. */
  readIndex(bytes: Buffer): PackageRecord[];
  /** How a package file of this format is fetched and checked; `previous` is what was served at that path. */
  wanted(rel: string, feedDir: string, pkg: PackageRecord, previous: ServedFile | undefined): WantedFile;
  /** Version rules of the format's package manager, for the closure. */
  accepts: (pkg: PackageRecord, dep: Dependency) => boolean;
  /** The feed list a node uses (rendered by status/distfeeds.ts). */
  distfeedsFile: 'distfeeds.conf' | 'distfeeds.list';
  /** An error message when `keys` cannot check this format's indexes, else undefined. */
  missingKeys(keys: TrustedKeys): string | undefined;
}
