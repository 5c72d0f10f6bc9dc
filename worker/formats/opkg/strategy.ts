/**
 * opkg feeds (OpenWrt 24.10 and older): `Packages.gz` is fetched and unpacked, and `Packages.sig`
 * must verify what it unpacks to with a trusted usign key; the served `Packages` is that content.
 * Each `.ipk` is checked by size and SHA-256.
 * ed25519 signatures are deterministic, so an unchanged `Packages.sig` means an unchanged index.
 */
import { gunzipSync } from 'node:zlib';
import { IntegrityError } from '../../errors.js';
import { verifyUsign } from '../../feeds/usign.js';
import type { FeedFormat } from '../format.js';
import { MAX_INDEX_BYTES, packagesIndexRecords, parsePackagesIndex } from './packages-index.js';
import { opkgAccepts } from './version.js';

/** Served when the upstream has them; nothing checks them but they describe the same index. */
const OPTIONAL_INDEX_FILES = ['Packages.manifest', 'index.json'];

export const opkgFormat: FeedFormat = {
  name: 'opkg',
  marker: 'Packages.sig',
  markerMaxBytes: 64 * 1024,
  companions: ['Packages.gz'],
  indexFile: 'Packages',
  packageExtension: '.ipk',
  distfeedsFile: 'distfeeds.conf',
  updateFile: 'Packages.gz',
  accepts: opkgAccepts,

  // <name>_<version>_<arch>.ipk, where a name may hold '_' (kmod-iio-st_accel-i2c) and so may an
  // arch (mipsel_24kc): the name ends at the first '_' before a digit, where every version starts.
  packageOfFile(fileName) {
    const match = /^([a-z0-9][a-z0-9._+-]*?)_[0-9][^/]*_[^/]+\.ipk$/i.exec(fileName);
    return match?.[1];
  },

  async checkIndex({ dir, marker: signature, fetch, keys, memory }) {
    // Packages is the gzip's content: fetching it too would cost a request and prove nothing more.
    const gz = (await fetch('Packages.gz')) as Buffer;
    let packages: Buffer;
    try {
      packages = gunzipSync(gz, { maxOutputLength: memory.limit });
    } catch (error) {
      if (error instanceof RangeError && memory.tight) throw memory.refusal(`${dir}/Packages.gz`);
      throw new IntegrityError(
        `${dir}/Packages.gz`,
        'a gzip stream',
        `unreadable data (${(error as Error).message})`,
      );
    }
    verifyUsign(packages, signature.toString('utf8'), keys);
    memory.keep(packages.length, `${dir}/Packages`);
    const parsed = parsePackagesIndex(packages, { fields: 'plan' });
    return {
      packages: parsed.packages,
      problems: parsed.problems,
      warnings: [],
      files: { Packages: packages, 'Packages.gz': gz, 'Packages.sig': signature },
      extras: OPTIONAL_INDEX_FILES,
    };
  },

  readIndex(bytes, fields) {
    return parsePackagesIndex(bytes, { fields }).packages;
  },

  streamIndex(chunks, fields) {
    return packagesIndexRecords(chunks, { fields });
  },

  expect(pkg) {
    return { sha256: pkg.sha256, size: pkg.size };
  },

  missingKeys(keys) {
    return keys.usign.size === 0
      ? 'a directory holding at least one usign public key (24.10 and older)'
      : undefined;
  },

  feedLine({ distName, url }) {
    return `src/gz ${distName} ${url}\n`;
  },

  async verifyFeed({ dir, keys, read, hash }) {
    const problems: string[] = [];
    const packages = await read('Packages');
    if (packages === undefined) return [`${dir}/Packages: not served`];
    try {
      verifyUsign(packages, (await read('Packages.sig'))?.toString('utf8') ?? '', keys);
    } catch (error) {
      problems.push(`${dir}/Packages: ${(error as Error).message}`);
    }
    const gz = await read('Packages.gz');
    if (gz !== undefined) {
      let same = false;
      try {
        same = gunzipSync(gz, { maxOutputLength: MAX_INDEX_BYTES }).equals(packages);
      } catch {}
      if (!same) problems.push(`${dir}/Packages.gz: does not unpack to Packages`);
    }
    for (const pkg of parsePackagesIndex(packages, { fields: 'plan' }).packages) {
      const actual = await hash(pkg.filename);
      if (actual === undefined) continue; // selective mode serves part of each feed
      if (actual.size !== pkg.size) {
        problems.push(`${dir}/${pkg.filename}: size ${actual.size}, index says ${pkg.size}`);
      } else if (actual.sha256 !== pkg.sha256) {
        problems.push(`${dir}/${pkg.filename}: sha256 ${actual.sha256}, index says ${pkg.sha256}`);
      }
    }
    return problems;
  },
};
