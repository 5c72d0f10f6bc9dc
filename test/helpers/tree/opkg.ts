/**
 * The opkg (24.10) form of a feed directory: `<name>_<version>_<arch>.ipk` files, `Packages` in
 * the real field order, `Packages.gz`, the usign `Packages.sig` over the uncompressed index,
 * `Packages.manifest` and `index.json`.
 */
import { gzipSync } from 'node:zlib';
import type { UsignSigner } from '../usign-signer.js';
import { packageSize, pseudoRandomBytes, sha256 } from './bytes.js';
import { bumpVersion } from './revision.js';
import type { FeedName, PackageSpec } from './tables/spec.js';
import type { TreeFeed, TreePackage } from './types.js';

/** ipk bytes by file name: a kmod of the kmods feed and its copy in core are one file. */
export type IpkCache = Map<string, { bytes: Buffer; sha256: string }>;

export interface OpkgFeedInput {
  name: FeedName;
  /** Path from the root, no leading or trailing slash. */
  dir: string;
  specs: PackageSpec[];
  bumps: Map<string, number>;
  arch: string;
  sizeOf: (name: string) => number;
  /** Appended to an arch-specific package's byte seed (see `set.ts`); `all` packages never get it. */
  salt: string;
  signer: UsignSigner;
  cache: IpkCache;
}

/** The feed directory's files, in the order the tree has always listed them, and its description. */
export function buildOpkgFeed(input: OpkgFeedInput): { feed: TreeFeed; files: Map<string, Buffer> } {
  const { name: feed, dir, arch } = input;
  const files = new Map<string, Buffer>();
  const entries = input.specs.map((spec) => {
    const pkgVersion = bumpVersion(spec.version, input.bumps.get(spec.name) ?? 0);
    const architecture = spec.archAll ? 'all' : arch;
    const filename = `${spec.name}_${pkgVersion}_${architecture}.ipk`;
    let ipk = input.cache.get(filename);
    if (!ipk) {
      const size = packageSize(input.sizeOf, spec.name);
      const salt = spec.archAll ? '' : input.salt;
      const bytes = pseudoRandomBytes(`ipk ${spec.name} ${pkgVersion}${salt}`, size);
      ipk = { bytes, sha256: sha256(bytes) };
      input.cache.set(filename, ipk);
    }
    files.set(`${dir}/${filename}`, ipk.bytes);
    const record: TreePackage = {
      name: spec.name,
      version: pkgVersion,
      architecture,
      filename,
      size: ipk.bytes.length,
      sha256: ipk.sha256,
      depends: spec.depends,
      provides: abiProvides(spec),
    };
    return { spec, record };
  });
  entries.sort((a, b) =>
    a.record.filename < b.record.filename ? -1 : a.record.filename > b.record.filename ? 1 : 0,
  );

  const packagesText = entries.map(({ spec, record }) => stanza(spec, feed, record)).join('');
  const packagesBytes = Buffer.from(packagesText, 'utf8');
  const index: Record<string, string> = {};
  for (const { spec, record } of entries) index[indexName(spec)] = record.version;

  files.set(`${dir}/Packages`, packagesBytes);
  files.set(`${dir}/Packages.gz`, gzipSync(packagesBytes, { level: 9 }));
  files.set(`${dir}/Packages.sig`, Buffer.from(input.signer.sign(packagesBytes), 'utf8'));
  files.set(`${dir}/Packages.manifest`, packagesBytes);
  files.set(
    `${dir}/index.json`,
    Buffer.from(`${JSON.stringify({ version: 2, architecture: arch, packages: index }, null, 2)}\n`, 'utf8'),
  );
  return {
    feed: { name: feed, distName: `openwrt_${feed}`, dir, packages: entries.map((e) => e.record) },
    files,
  };
}

function defaultSection(feed: FeedName, name: string): string {
  if (feed === 'kmods') return 'kernel';
  if (feed === 'luci') return 'luci';
  if (name.startsWith('lib')) return 'libs';
  if (feed === 'routing' || feed === 'telephony') return 'net';
  return feed === 'packages' ? 'utils' : 'base';
}

function stanza(
  spec: PackageSpec,
  feed: FeedName,
  fields: {
    version: string;
    architecture: string;
    filename: string;
    size: number;
    sha256: string;
    provides: string[];
  },
): string {
  const lines = [`Package: ${spec.name}`, `Version: ${fields.version}`];
  if (spec.depends) lines.push(`Depends: ${spec.depends}`);
  if (fields.provides.length > 0) lines.push(`Provides: ${fields.provides.join(', ')}`);
  if (spec.alternatives) lines.push(`Alternatives: ${spec.alternatives}`);
  if (spec.license) lines.push(`License: ${spec.license}`);
  lines.push(`Section: ${spec.section ?? defaultSection(feed, spec.name)}`);
  if (spec.url) lines.push(`URL: ${spec.url}`);
  if (spec.abi) lines.push(`ABIVersion: ${spec.abi}`);
  if (spec.cpe) lines.push(`CPE-ID: ${spec.cpe}`);
  if (spec.essential) lines.push('Status: unknown hold not-installed', 'Essential: yes');
  const installed = Math.ceil((fields.size * 2.6) / 10240) * 10240;
  lines.push(
    `Architecture: ${fields.architecture}`,
    `Installed-Size: ${installed}`,
    `Filename: ${fields.filename}`,
    `Size: ${fields.size}`,
    `SHA256sum: ${fields.sha256}`,
  );
  const [first, ...rest] = (spec.description ?? `The ${spec.name} package.`).split('\n');
  lines.push(`Description:  ${first}`, ...rest.map((line) => ` ${line}`));
  return `${lines.join('\n')}\n\n`;
}

function abiProvides(spec: PackageSpec): string[] {
  const own = spec.provides ?? [];
  if (!spec.abi || !spec.name.endsWith(spec.abi)) return own;
  return [spec.name.slice(0, -spec.abi.length).replace(/-$/, ''), ...own];
}

/** index.json names ABI-versioned packages without their ABI suffix, like the real one. */
function indexName(spec: PackageSpec): string {
  if (!spec.abi || !spec.name.endsWith(spec.abi)) return spec.name;
  return spec.name.slice(0, -spec.abi.length).replace(/-$/, '');
}
