/** The shape every index format is parsed into; closure, planning and publishing only see these. */
import type { EncodedDepends } from './depends.js';

export type VersionOp = '<<' | '<=' | '=' | '>=' | '>>';

/** One name a package needs, with an optional version constraint. */
export interface Dependency {
  name: string;
  op?: VersionOp;
  version?: string;
  /** apk's `~`: `version` is a token-wise prefix to match, with `op`'s direction (see apk-version.ts). */
  fuzzy?: boolean;
}

export interface PackageRecord {
  name: string;
  version: string;
  architecture?: string;
  /** Bare file name inside the feed directory, already checked to be safe. */
  filename: string;
  size: number;
  /** Lowercase hex SHA-256 of the file (opkg), or of the package identity (apk): its task's content key. */
  sha256: string;
  /** Each item lists alternatives (`a | b`); any one satisfies the item. Kept as text: `dependsOf`. */
  depends: EncodedDepends;
  /** Virtual names this package provides (versions stripped). */
  provides: string[];
  /** apk: installed automatically once every item is installed (conflict items dropped). */
  installIf?: Dependency[];
  /** apk: the source package it was built from, e.g. `feeds/base/system/fstools`. */
  origin?: string;
  /** The first line of its description, for people (search); cut by `descriptionLine`. */
  description?: string;
}

/**
 * Which fields a parse fills in. `plan`: what the closure and the downloads need, without those only
 * people read (architecture, description), for the records a run holds while it plans (11,000 at
 * real size); `all`: every field, for the package lists (sync/feed-records.ts).
 */
export type RecordFields = 'plan' | 'all';

/**
 * A check fed a download's bytes as they stream (an apk identity, say). It lives here, not beside
 * the HTTP client, so that the checks feeds/ provides need nothing from the layer above.
 */
export interface StreamCheck {
  update(chunk: Buffer): void;
  /** Throws (or rejects with) IntegrityError when the bytes are not what was expected. */
  finish(): void | Promise<void>;
}
