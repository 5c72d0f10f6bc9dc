/** What a generation serves: the contract between the sync that assembles it and the publish step. */

/** What a generation serves: release-relative path ('/'-separated) → content. */
export type Manifest = Map<string, ServedFile>;

export interface ServedFile {
  /** SHA-256 of the file's bytes: its name in the pool. */
  sha256: string;
  size: number;
  /** apk packages: the identity the signed index gave, which the bytes were verified against. */
  identity?: string;
}
