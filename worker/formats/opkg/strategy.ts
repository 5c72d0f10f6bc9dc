/**
 * opkg feeds (OpenWrt 24.10 and older): `Packages.gz` is fetched and unpacked, and `Packages.sig`
 * must verify what it unpacks to with a trusted usign key; the served `Packages` is that content.
 * Each `.ipk` is checked by size and SHA-256.
 * ed25519 signatures are deterministic, so an unchanged `Packages.sig` means an unchanged index.
 */
import { gunzipSync } from 'node:zlib';
import { IntegrityError } from '../../errors.js';
import { verifyUsign } from '../../feeds/usign.js';
import { fetchIndexFile } from '../../sync/index-files.js';
import type { FeedFormat } from '../format.js';
import { parsePackagesIndex } from './packages-index.js';
import { opkgAccepts } from './version.js';

/** Served when the upstream has them; nothing checks them but they describe the same index. */
const OPTIONAL_INDEX_FILES = ['Packages.manifest', 'index.json'];

export const opkgFormat: FeedFormat = {
  name: 'opkg',
  marker: 'Packages.sig',
  markerMaxBytes: 64 * 1024,
  indexFile: 'Packages',
  distfeedsFile: 'distfeeds.conf',
  accepts: opkgAccepts,

  async fetchIndex(ctx, ref, signature) {
    // Packages is the gzip's content: fetching it too would cost a request and prove nothing more.
    const gz = await fetchIndexFile(ctx, `${ref.dir}/Packages.gz`);
    let packages: Buffer;
    const limit = ctx.indexMemory.limit;
    try {
      packages = gunzipSync(gz, { maxOutputLength: limit });
    } catch (error) {
      if (error instanceof RangeError && ctx.indexMemory.tight)
        throw ctx.indexMemory.refusal(`${ref.dir}/Packages.gz`);
      throw new IntegrityError(
        `${ref.dir}/Packages.gz`,
        'a gzip stream',
        `unreadable data (${(error as Error).message})`,
      );
    }
    verifyUsign(packages, signature.toString('utf8'), ctx.keys);
    ctx.indexMemory.keep(packages.length, `${ref.dir}/Packages`);
    const parsed = parsePackagesIndex(packages.toString('utf8'));
    return {
      packages: parsed.packages,
      problems: parsed.problems,
      files: { Packages: packages, 'Packages.gz': gz, 'Packages.sig': signature },
      extras: OPTIONAL_INDEX_FILES,
    };
  },

  readIndex(bytes) {
    return parsePackagesIndex(bytes.toString('utf8')).packages;
  },

  wanted(rel, feedDir, pkg) {
    return { rel, group: feedDir, sha256: pkg.sha256, size: pkg.size };
  },

  missingKeys(keys) {
    return keys.usign.size === 0
      ? 'a directory holding at least one usign public key (24.10 and older)'
      : undefined;
  },
};
