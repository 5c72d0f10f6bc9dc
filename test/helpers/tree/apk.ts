/**
 * The apk (25.12) form of a feed directory, through `../adb-writer.ts`: `<name>-<version>.apk`
 * files, the signed `packages.adb` and `index.json`.
 *
 * The tables are written as opkg writes them; this derives from them what OpenWrt's
 * `package-pack.mk` makes of the same Makefiles when CONFIG_USE_APK is set:
 * - versions as apk spells them (`9.9p2` → `9.9_p2`); file names `<name>-<version>.apk`;
 * - dependencies without spaces or parentheses (`python3-light>=3.11.14`,
 *   `kernel=6.6.110~<vermagic>-r1`), sorted by name as apk stores them;
 * - an ABI-versioned library (`libubox20240329`) provides its unversioned name (`libubox`) with
 *   provider-priority 10 and carries the tag `openwrt:abiversion=<suffix>` (`-1.0` for
 *   `libbz2-1.0`, the dash included, as `FormatABISuffix` builds it); other provides are
 *   versioned (`ip=6.11.0-r1`) unless virtual (`libustream`, `wget-any`); a default variant has
 *   provider-priority 100; every package provides `<name>-any` (`libubox-any` for the library);
 * - apk has no `a | b`: an opkg alternative becomes a virtual name its candidates provide;
 * - conflicts are `!name` dependencies; translations get install-if rules (`tables/apk.ts`).
 */
import {
  type ApkSigner,
  type BuiltApk,
  buildApkIndex,
  buildApkPackage,
  type FakeApk,
} from '../adb-writer.js';
import { packageSize, pseudoRandomBytes, sha256 } from './bytes.js';
import { bumpVersion } from './revision.js';
import { ALTERNATIVE_VIRTUALS, APK_CHANGES } from './tables/apk.js';
import type { FeedName, PackageSpec } from './tables/spec.js';
import type { TreeFeed, TreePackage } from './types.js';

/** apk's version syntax: numbers, one letter, `_suffix[N]`s, `~hash`, `-rN`. */
const APK_VERSION = /^\d+(\.\d+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(~[0-9a-f]+)?(-r\d+)?$/;

/** An opkg version as OpenWrt's apk build writes it: `9.9p2-r1` → `9.9_p2-r1`. */
function apkVersion(version: string): string {
  const converted = version.replace(/^(\d+(?:\.\d+)*)p(\d+)/, '$1_p$2');
  if (!APK_VERSION.test(converted)) throw new Error(`${version} has no apk spelling`);
  return converted;
}

const OPKG_TO_APK_OP: Record<string, string> = { '>=': '>=', '<=': '<=', '=': '=', '>>': '>', '<<': '<' };

/** An opkg Depends value → apk dependency strings, sorted by name. */
function apkDepends(depends: string, conflicts: string[]): string[] {
  const items = depends === '' ? [] : depends.split(',').map((item) => item.trim());
  const result = items.map((item) => {
    if (item.includes('|')) {
      const virtual = ALTERNATIVE_VIRTUALS[item];
      if (!virtual) throw new Error(`no apk virtual for the alternatives ${item}`);
      return virtual;
    }
    const m = /^(\S+)(?: \((<<|<=|=|>=|>>) ?(\S+)\))?$/.exec(item);
    if (!m?.[1]) throw new Error(`cannot read the dependency ${item}`);
    if (!m[2] || !m[3]) return m[1];
    return `${m[1]}${OPKG_TO_APK_OP[m[2]]}${apkVersion(m[3])}`;
  });
  result.push(...conflicts.map((name) => `!${name}`));
  const key = (dep: string) => /^!?([^<>=~]+)/.exec(dep)?.[1] ?? dep;
  return result.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The `openwrt:abiversion=` value: the ABI version, after a dash when the name would run digits together. */
function abiSuffix(spec: PackageSpec): string | undefined {
  if (!spec.abi || !spec.name.endsWith(spec.abi)) return undefined;
  return spec.name.endsWith(`-${spec.abi}`) ? `-${spec.abi}` : spec.abi;
}

interface ApkEntry {
  fake: FakeApk;
  apk: BuiltApk;
  record: TreePackage;
}

/** Built packages by file name: a kmod of the kmods feed and its copy in core are one file. */
export type ApkCache = Map<string, ApkEntry>;

function apkEntry(
  spec: PackageSpec,
  feed: FeedName,
  version: string,
  arch: string,
  sizeOf: (name: string) => number,
  salt: string,
): { fake: FakeApk; record: Omit<TreePackage, 'filename' | 'size' | 'sha256' | 'identity'> } {
  const change = APK_CHANGES[spec.name] ?? {};
  const abi = abiSuffix(spec);
  const base = abi ? spec.name.slice(0, -abi.length) : spec.name;
  const depends = apkDepends(change.depends ?? spec.depends, change.conflicts ?? []);
  // FormatProvides: an ABI library provides its base name unversioned and each provide also with
  // the ABI suffix; other provides are versioned; virtuals never are.
  const provides = [
    ...(abi ? [base] : []),
    ...(spec.provides ?? []).flatMap((p) => (abi ? [p, `${p}${abi}=${version}`] : [`${p}=${version}`])),
    ...(change.virtuals ?? []),
  ].sort();
  const priority = change.defaultVariant ? 100 : abi ? 10 : undefined;
  const size = packageSize(sizeOf, spec.name);
  const content = `usr/share/${base}/${spec.name}.bin`;
  const fake: FakeApk = {
    name: spec.name,
    version,
    arch: spec.archAll ? 'noarch' : arch,
    depends,
    provides,
    description: (spec.description ?? `The ${spec.name} package.`).replace(/\s*\n\s*/g, ' '),
    origin: feed === 'kmods' ? 'feeds/base/kernel/linux' : `feeds/${feed === 'core' ? 'base' : feed}/${base}`,
    license: spec.license,
    buildTime: 1759339553,
    installedSize: Math.ceil((size * 2.6) / 10240) * 10240,
    anyName: `${base}-any`,
    files: {
      [`lib/apk/packages/${spec.name}.list`]: `/${content}\n`,
      [content]: pseudoRandomBytes(`apk ${spec.name} ${version}${salt}`, size),
    },
  };
  if (spec.url) fake.url = spec.url;
  if (abi) fake.abiVersion = abi;
  if (priority !== undefined) fake.providerPriority = priority;
  if (change.installIf) fake.installIf = change.installIf;
  const record: Omit<TreePackage, 'filename' | 'size' | 'sha256' | 'identity'> = {
    name: spec.name,
    version,
    architecture: fake.arch ?? arch,
    depends: depends.join(', '),
    provides: [...provides.map((p) => p.replace(/[<>=~].*$/, '')), `${base}-any`],
  };
  if (change.installIf) record.installIf = [...change.installIf];
  if (abi) record.abiVersion = abi;
  if (priority !== undefined) record.providerPriority = priority;
  return { fake, record };
}

export interface ApkFeedInput {
  name: FeedName;
  /** Path from the root, no leading or trailing slash. */
  dir: string;
  specs: PackageSpec[];
  bumps: Map<string, number>;
  arch: string;
  sizeOf: (name: string) => number;
  /** Appended to an arch-specific package's content seed (see `set.ts`); `noarch` ones never get it. */
  salt: string;
  apkSigner: ApkSigner;
  cache: ApkCache;
}

/** The feed directory's files (`.apk`s, `packages.adb`, `index.json`) and its description. */
export function buildApkFeed(input: ApkFeedInput): { feed: TreeFeed; files: Map<string, Buffer> } {
  const { name: feed, dir } = input;
  const files = new Map<string, Buffer>();
  const entries = input.specs.map((spec): ApkEntry => {
    const version = apkVersion(bumpVersion(spec.version, input.bumps.get(spec.name) ?? 0));
    const filename = `${spec.name}-${version}.apk`;
    let entry = input.cache.get(filename);
    if (!entry) {
      const salt = spec.archAll ? '' : input.salt;
      const { fake, record } = apkEntry(spec, feed, version, input.arch, input.sizeOf, salt);
      const apk = buildApkPackage(fake);
      if (apk.fileName !== filename) throw new Error(`${apk.fileName} is not ${filename}`);
      entry = {
        fake,
        apk,
        record: {
          ...record,
          filename,
          size: apk.file.length,
          sha256: sha256(apk.file),
          identity: apk.identity,
        },
      };
      input.cache.set(filename, entry);
    }
    files.set(`${dir}/${filename}`, entry.apk.file);
    return entry;
  });
  // apk keeps an index's packages sorted by name.
  entries.sort((a, b) => (a.fake.name < b.fake.name ? -1 : a.fake.name > b.fake.name ? 1 : 0));
  files.set(
    `${dir}/packages.adb`,
    buildApkIndex(
      entries.map((e) => ({ pkg: e.fake, apk: e.apk })),
      { signers: [input.apkSigner] },
    ),
  );
  // make-index-json.py: the name less its `openwrt:abiversion` suffix, keys sorted.
  const index: Record<string, string> = {};
  const named = entries.map(({ fake }): [string, string] => [
    fake.abiVersion ? fake.name.slice(0, -fake.abiVersion.length) : fake.name,
    fake.version,
  ]);
  named.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, version] of named) index[name] = version;
  files.set(
    `${dir}/index.json`,
    Buffer.from(
      `${JSON.stringify({ version: 2, architecture: input.arch, packages: index }, null, 2)}\n`,
      'utf8',
    ),
  );
  return {
    feed: { name: feed, distName: `openwrt_${feed}`, dir, packages: entries.map((e) => ({ ...e.record })) },
    files,
  };
}
