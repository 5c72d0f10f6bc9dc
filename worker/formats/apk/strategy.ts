/**
 * apk feeds (OpenWrt 25.12 and later): `packages.adb` must carry a valid signature by a trusted key
 * (ECDSA, matched by key id); each `.apk` is checked by size and by its identity — the SHA-256 of its
 * decompressed first block, which the signed index lists. The index is its own change marker.
 */
import { isDeepStrictEqual } from 'node:util';
import { fetchIndexFile, MAX_INDEX_FILE_BYTES } from '../../sync/index-files.js';
import type { FeedFormat } from '../format.js';
import { apkIndexJson, parseApkIndex, readApkIndexEnvelope, readApkIndexPackages } from './apk-index.js';
import { apkIdentityCheck } from './identity.js';
import { verifyApkIndex } from './signature.js';
import { apkAccepts } from './version.js';

export const apkFormat: FeedFormat = {
  name: 'apk',
  marker: 'packages.adb',
  markerMaxBytes: MAX_INDEX_FILE_BYTES,
  indexFile: 'packages.adb',
  distfeedsFile: 'distfeeds.list',
  accepts: apkAccepts,

  async fetchIndex(ctx, ref, adb) {
    const what = `${ref.dir}/packages.adb`;
    // The signature first: nothing an unsigned index says is parsed.
    const envelope = readApkIndexEnvelope(adb, { what, maxBytes: ctx.indexMemory.limit });
    verifyApkIndex(envelope, ctx.keys, what);
    ctx.indexMemory.keep(envelope.adbPayload.length, what);
    const index = readApkIndexPackages(envelope, { what });
    // index.json is unsigned: serve the upstream's bytes only when they say what the signed index says.
    const derived = apkIndexJson(index, ctx.report.arch ?? '');
    const upstream = await fetchIndexFile(ctx, `${ref.dir}/index.json`, { optional: true });
    let json = upstream;
    if (upstream === undefined || !sameJson(upstream, derived)) {
      if (upstream !== undefined) {
        ctx.report.warnings.push(
          `${ref.dir}/index.json does not match packages.adb: serving one made from the signed index`,
        );
      }
      json = Buffer.from(`${JSON.stringify(derived, null, 2)}\n`);
    }
    return {
      packages: index.packages,
      problems: index.problems,
      files: { 'packages.adb': adb, 'index.json': json as Buffer },
    };
  },

  readIndex(bytes) {
    return parseApkIndex(bytes).packages;
  },

  wanted(rel, feedDir, pkg, previous) {
    // The index names a package by its identity, not by the file's hash: the pool holds the file under
    // its own hash, remembered with the identity it was verified against.
    return {
      rel,
      group: feedDir,
      identity: pkg.sha256,
      size: pkg.size,
      check: () => apkIdentityCheck(pkg.sha256, rel),
      reuse: previous?.identity === pkg.sha256 && previous.size === pkg.size ? previous : undefined,
    };
  },

  missingKeys(keys) {
    return keys.ecdsa.size === 0
      ? 'a directory holding at least one apk (.pem) public key (25.12 and later)'
      : undefined;
  },
};

function sameJson(bytes: Buffer, expected: unknown): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(bytes.toString('utf8')), expected);
  } catch {
    return false;
  }
}
