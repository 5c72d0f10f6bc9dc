/**
 * apk feeds (OpenWrt 25.12 and later): `packages.adb` must carry a valid signature by a trusted key
 * (ECDSA, matched by key id); each `.apk` is checked by size and by its identity — the SHA-256 of its
 * decompressed first block, which the signed index lists. The index is its own change marker.
 */
import { isDeepStrictEqual } from 'node:util';
import type { FeedFormat } from '../format.js';
import { apkIndexJson, parseApkIndex, readApkIndexEnvelope, readApkIndexPackages } from './apk-index.js';
import { apkIdentityCheck } from './identity.js';
import { verifyApkIndex } from './signature.js';
import { apkAccepts, isValidApkVersion } from './version.js';

/** packages.adb is compressed on the wire; what it unpacks to has its own cap. */
const MAX_ADB_FILE_BYTES = 16 * 1024 * 1024;

export const apkFormat: FeedFormat = {
  name: 'apk',
  marker: 'packages.adb',
  markerMaxBytes: MAX_ADB_FILE_BYTES,
  companions: ['index.json'],
  indexFile: 'packages.adb',
  packageExtension: '.apk',
  distfeedsFile: 'distfeeds.list',
  updateFile: 'packages.adb',
  accepts: apkAccepts,

  // <name>-<version>.apk, where a name may hold '-' too: the name ends at the first '-' after which
  // a whole valid apk version follows (`libstdcpp6-14.3.0-r1.apk`).
  packageOfFile(fileName) {
    const match = /^([a-z0-9][a-z0-9.+_~-]*)\.apk$/i.exec(fileName);
    if (!match) return undefined;
    const stem = match[1] as string;
    for (let dash = stem.indexOf('-'); dash > 0; dash = stem.indexOf('-', dash + 1)) {
      if (isValidApkVersion(stem.slice(dash + 1))) return stem.slice(0, dash);
    }
    return undefined;
  },

  async checkIndex({ dir, marker: adb, fetch, keys, arch, memory }) {
    const what = `${dir}/packages.adb`;
    // The signature first: nothing an unsigned index says is parsed.
    const envelope = readApkIndexEnvelope(adb, { what, maxBytes: memory.limit });
    verifyApkIndex(envelope, keys, what);
    memory.keep(envelope.adbPayload.length, what);
    const index = readApkIndexPackages(envelope, { what, fields: 'plan' });
    // index.json is unsigned: serve the upstream's bytes only when they say what the signed index says.
    const derived = apkIndexJson(index, arch);
    const upstream = await fetch('index.json', { optional: true });
    const warnings: string[] = [];
    let json = upstream;
    if (upstream === undefined || !sameJson(upstream, derived)) {
      if (upstream !== undefined) {
        warnings.push(
          `${dir}/index.json does not match packages.adb: serving one made from the signed index`,
        );
      }
      json = Buffer.from(`${JSON.stringify(derived, null, 2)}\n`);
    }
    return {
      packages: index.packages,
      problems: index.problems,
      warnings,
      files: { 'packages.adb': adb, 'index.json': json as Buffer },
      extras: [],
    };
  },

  readIndex(bytes, fields) {
    return parseApkIndex(bytes, { fields }).packages;
  },

  async *streamIndex(chunks, fields) {
    // An ADB container is read by offset: whole.
    const parts: Buffer[] = [];
    for await (const chunk of chunks) parts.push(chunk);
    yield* parseApkIndex(Buffer.concat(parts), { fields }).packages;
  },

  expect(pkg, rel, previous) {
    // The index names a package by its identity, not by the file's hash: the pool holds the file under
    // its own hash, remembered with the identity it was verified against.
    // The check holds the identity, not the record: the records go while the files download
    // (sync/feed-records.ts).
    const { sha256: identity, size } = pkg;
    return {
      identity,
      size,
      check: () => apkIdentityCheck(identity, rel),
      reuse: previous?.identity === identity && previous.size === size ? previous : undefined,
    };
  },

  missingKeys(keys) {
    return keys.ecdsa.size === 0
      ? 'a directory holding at least one apk (.pem) public key (25.12 and later)'
      : undefined;
  },

  feedLine({ url }) {
    return `${url}/packages.adb\n`;
  },

  async verifyFeed({ dir, keys, read, hash, stream }) {
    const what = `${dir}/packages.adb`;
    const adb = await read('packages.adb');
    if (adb === undefined) return [`${what}: not served`];
    let index: ReturnType<typeof readApkIndexPackages>;
    try {
      const envelope = readApkIndexEnvelope(adb, { what });
      verifyApkIndex(envelope, keys, what);
      index = readApkIndexPackages(envelope, { what, fields: 'plan' });
    } catch (error) {
      const message = (error as Error).message;
      return [message.startsWith(`${what}: `) ? message : `${what}: ${message}`];
    }
    const problems: string[] = [];
    for (const pkg of index.packages) {
      const actual = await hash(pkg.filename);
      if (actual === undefined) continue; // selective mode serves part of each feed
      if (actual.size !== pkg.size) {
        problems.push(`${dir}/${pkg.filename}: size ${actual.size}, index says ${pkg.size}`);
        continue;
      }
      // Streamed through the same check as a download: bounded memory whatever the package's size.
      const check = apkIdentityCheck(pkg.sha256, `${dir}/${pkg.filename}`);
      try {
        for await (const chunk of (await stream(pkg.filename)) ?? []) check.update(chunk);
        await check.finish();
      } catch (error) {
        problems.push(`${dir}/${pkg.filename}: ${(error as Error).message}`);
      }
    }
    return problems;
  },
};

function sameJson(bytes: Buffer, expected: unknown): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(bytes.toString('utf8')), expected);
  } catch {
    return false;
  }
}
