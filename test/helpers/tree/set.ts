/**
 * One set, release × target, from the pieces `buildRelease` and `buildUpstream` share: the arch
 * feeds of a release and arch (built once, then shared by every target of that arch), the target's
 * own core and kmods feeds, its target directory, and the signed sums over the latter.
 */
import { type ApkSigner, apkTestSigner } from '../adb-writer.js';
import type { UsignSigner } from '../usign-signer.js';
import { type ApkCache, buildApkFeed } from './apk.js';
import { defaultPackageBytes } from './bytes.js';
import { type KmodTable, setTables } from './feed-tables.js';
import { labClosurePackages } from './lab.js';
import { buildOpkgFeed, type IpkCache } from './opkg.js';
import { revisionBumps } from './revision.js';
import type { FillerShares } from './tables/filler.js';
import { ARCH_FEEDS, FEED_ORDER, type FeedName, type PackageSpec } from './tables/spec.js';
import { buildTargetDir, signTargetSums } from './target-dir.js';
import { type DeviceSpec, KNOWN_TARGETS, LAB_TARGET } from './targets.js';
import type { ArchFeeds, Kernel, SetTree, TreeFeed, TreeFormat } from './types.js';

export interface ReleaseInput {
  version: string;
  format: TreeFormat;
  revision?: number;
  fillerPackages?: number;
  fillerShares?: FillerShares;
  packageBytes?: (name: string) => number;
  signer: UsignSigner;
  apkSigner?: ApkSigner;
  /**
   * Whether package bytes tell builds apart. Off (`buildRelease`), a package's bytes follow from its
   * name and version alone, as they always have. On (`buildUpstream`), an arch-specific package's
   * bytes also follow from its arch (arch feeds) or its target (core, kmods: another vermagic is
   * another binary), so a mirror that mixes up sets is caught by the hashes; the lab's own arch and
   * target keep the bytes they always had. `all`/`noarch` packages are the same bytes everywhere.
   */
  distinctBuilds: boolean;
}

/** A release being built: its settings and the arch feeds built so far, by arch. */
export interface ReleaseBuild extends Required<Omit<ReleaseInput, 'packageBytes' | 'fillerShares'>> {
  fillerShares?: FillerShares;
  releaseDir: string;
  sizeOf: (name: string) => number;
  archBuilds: Map<string, ArchBuild>;
}

interface ArchBuild {
  archFeeds: ArchFeeds;
  /** Each feed's files, in the order they were written. */
  files: Map<FeedName, Map<string, Buffer>>;
}

export interface SetChoice {
  target: string;
  arch: string;
  kernel: Kernel;
  devices: [name: string, spec: DeviceSpec][];
  defaultPackages: string[];
  extraKmods?: KmodTable;
  /** Real 24.10 core feeds repeat every kmod, byte-identical; 25.12's do not. */
  kmodsInCore: boolean;
}

const LAB_ARCH = KNOWN_TARGETS[LAB_TARGET]?.arch;

export function newRelease(input: ReleaseInput): ReleaseBuild {
  const revision = input.revision ?? 0;
  const fillerPackages = input.fillerPackages ?? 0;
  if (!Number.isInteger(revision) || revision < 0)
    throw new TypeError(`revision must be an integer >= 0, got ${revision}`);
  if (!Number.isInteger(fillerPackages) || fillerPackages < 0) {
    throw new TypeError(`fillerPackages must be an integer >= 0, got ${fillerPackages}`);
  }
  return {
    version: input.version,
    format: input.format,
    revision,
    fillerPackages,
    ...(input.fillerShares && { fillerShares: input.fillerShares }),
    signer: input.signer,
    apkSigner: input.apkSigner ?? apkTestSigner,
    distinctBuilds: input.distinctBuilds,
    releaseDir: `releases/${input.version}`,
    sizeOf: input.packageBytes ?? defaultPackageBytes,
    archBuilds: new Map(),
  };
}

export function buildSet(release: ReleaseBuild, choice: SetChoice): SetTree {
  const { version, format, releaseDir } = release;
  const { target, arch, kernel } = choice;
  const targetDir = `${releaseDir}/targets/${target}`;
  const kmodsDir = `${kernel.version}-${kernel.release}-${kernel.vermagic}`;
  const { specs, targetOnly } = setTables({
    format,
    kernel,
    kmodsInCore: choice.kmodsInCore,
    fillerPackages: release.fillerPackages,
    fillerShares: release.fillerShares,
    extraKmods: choice.extraKmods,
  });
  const bumps = setBumps(release, specs, targetOnly);

  const files = new Map<string, Buffer>();
  // The target directory (profiles.json, images, signed sums) is the same in both formats.
  const images = buildTargetDir(files, {
    version,
    target,
    targetDir,
    arch,
    kernel,
    devices: choice.devices,
    defaultPackages: choice.defaultPackages,
    format,
  });
  const archBuild = archFeedsOf(release, arch, specs, bumps);
  const targetSalt = release.distinctBuilds && target !== LAB_TARGET ? ` ${target}` : '';
  const cache = newCache(); // kmods in core are the kmods feed's files
  const feeds: TreeFeed[] = [];
  for (const name of FEED_ORDER) {
    if (ARCH_FEEDS.has(name)) {
      const feed = archBuild.archFeeds.feeds.find((f) => f.name === name);
      if (!feed) throw new Error(`arch feed ${name} missing`);
      for (const [path, bytes] of archBuild.files.get(name) ?? []) files.set(path, bytes);
      feeds.push(feed);
      continue;
    }
    const dir = name === 'core' ? `${targetDir}/packages` : `${targetDir}/kmods/${kmodsDir}`;
    const built = buildFeed(release, { name, dir, specs: specs[name], bumps, arch, salt: targetSalt, cache });
    for (const [path, bytes] of built.files) files.set(path, bytes);
    feeds.push(built.feed);
  }
  signTargetSums(files, targetDir, release.signer);

  return {
    format,
    ...(format === 'apk' ? { apkSigner: release.apkSigner } : {}),
    files,
    feeds,
    images,
    kmodsDir,
    releaseDir,
    targetDir,
    version,
    target,
    arch,
    kernel,
    devices: [...new Set(choice.devices.map(([name]) => name))].sort(),
    archFeeds: archBuild.archFeeds,
  };
}

/**
 * How far each package moved on: the names every set of the release shares are ranked together
 * (the same bumps in every set, so shared arch feeds agree), a target's own kmods apart.
 */
function setBumps(
  release: ReleaseBuild,
  specs: Record<FeedName, PackageSpec[]>,
  targetOnly: Set<string>,
): Map<string, number> {
  const names = [...new Set(FEED_ORDER.flatMap((feed) => specs[feed].map((s) => s.name)))].sort();
  const shared = names.filter((name) => !targetOnly.has(name));
  const bumps = revisionBumps(shared, release.revision, labClosurePackages(release));
  for (const [name, steps] of revisionBumps([...targetOnly].sort(), release.revision, [])) {
    bumps.set(name, steps);
  }
  return bumps;
}

/** The release's arch feeds for `arch`, built by the first set of that arch. */
function archFeedsOf(
  release: ReleaseBuild,
  arch: string,
  specs: Record<FeedName, PackageSpec[]>,
  bumps: Map<string, number>,
): ArchBuild {
  const known = release.archBuilds.get(arch);
  if (known) return known;
  const dir = `${release.releaseDir}/packages/${arch}`;
  const salt = release.distinctBuilds && arch !== LAB_ARCH ? ` ${arch}` : '';
  const cache = newCache();
  const files = new Map<FeedName, Map<string, Buffer>>();
  const feeds: TreeFeed[] = [];
  for (const name of FEED_ORDER) {
    if (!ARCH_FEEDS.has(name)) continue;
    const built = buildFeed(release, {
      name,
      dir: `${dir}/${name}`,
      specs: specs[name],
      bumps,
      arch,
      salt,
      cache,
    });
    files.set(name, built.files);
    feeds.push(built.feed);
  }
  const build = { archFeeds: { version: release.version, arch, dir, feeds }, files };
  release.archBuilds.set(arch, build);
  return build;
}

function buildFeed(
  release: ReleaseBuild,
  feed: {
    name: FeedName;
    dir: string;
    specs: PackageSpec[];
    bumps: Map<string, number>;
    arch: string;
    salt: string;
    cache: FeedCache;
  },
): { feed: TreeFeed; files: Map<string, Buffer> } {
  const { cache, ...common } = { ...feed, sizeOf: release.sizeOf };
  return release.format === 'apk'
    ? buildApkFeed({ ...common, apkSigner: release.apkSigner, cache: cache.apk })
    : buildOpkgFeed({ ...common, signer: release.signer, cache: cache.ipk });
}

/** Built packages by file name, shared by the feeds of one build (a set's core and kmods, an arch's feeds). */
interface FeedCache {
  ipk: IpkCache;
  apk: ApkCache;
}

function newCache(): FeedCache {
  return { ipk: new Map(), apk: new Map() };
}
