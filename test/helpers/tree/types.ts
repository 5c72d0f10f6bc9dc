/** The public shapes of a generated tree: options in, files and their descriptions out. */
import type { ApkSigner } from '../adb-writer.js';
import type { UsignSigner } from '../usign-signer.js';
import type { FillerShares } from './tables/filler.js';

export type TreeFormat = 'opkg' | 'apk';

/** A target's kernel, as `profiles.json` → `linux_kernel` names it; the kmods directory is `<version>-<release>-<vermagic>`. */
export interface Kernel {
  version: string;
  release: string;
  vermagic: string;
}

/**
 * One release, one target (`buildRelease`). Target, arch, kernel and devices are independent
 * settings here, defaulting to the lab's 24.10 set whatever the version: the trees the tests were
 * written against. `buildUpstream` takes them from the target table instead.
 */
export interface TreeOptions {
  /** Default '24.10.4'. */
  version?: string;
  /**
   * Package format. Default 'apk' for 25.12 and later (as OpenWrt switched), 'opkg' before that
   * (and for a version that does not start with `<major>.<minor>`).
   */
  format?: TreeFormat;
  /** target/subtarget; default 'ramips/mt7621'. */
  target?: string;
  /** Package architecture; default 'mipsel_24kc'. */
  arch?: string;
  /** Default ramips/mt7621's 24.10 kernel: 6.6.110, release 1, a fixed 32-hex vermagic. */
  kernel?: Kernel;
  /** usign key: `Packages.sig` (opkg) and, in both formats, the target's `sha256sums.sig`. */
  signer: UsignSigner;
  /**
   * apk form: the key that signs every `packages.adb`. Default adb-writer's `apkTestSigner`, one
   * key per test run, so every revision of a tree is signed by the same key.
   */
  apkSigner?: ApkSigner;
  /** 0 = first state; each increment gives a deterministic ~15% of packages a new version and new bytes. */
  revision?: number;
  /** Extra `filler-<feed>-<n>` packages spread over the feeds (full-mode and benchmark trees). */
  fillerPackages?: number;
  /** How the fillers are shared among the feeds (e.g. most in `packages`, as upstream); default evenly, in turn. */
  fillerShares?: FillerShares;
  /**
   * Size of each ipk; default a deterministic 1–40 KiB from the name. apk form: the size of the
   * package's content file; the `.apk` adds its ADB metadata (a few hundred bytes) to that.
   */
  packageBytes?: (name: string) => number;
  /**
   * Devices with images; default `dlink_dir-1960-a1` and `xiaomi_mi-router-4a-gigabit`. Those two
   * are known by name (whatever the target); any other gets a generic sysupgrade-only profile.
   */
  devices?: string[];
  /**
   * Real 24.10 target `packages/` (core) feeds also carry every kmod of the kmods feed, byte-identical;
   * 25.12 ones do not. Default true for opkg, false for apk; false keeps kmods only in the kmods feed.
   */
  kmodsInCore?: boolean;
}

export interface TreePackage {
  name: string;
  version: string;
  /** The package's own architecture: the tree's arch, or `all` (opkg) / `noarch` (apk). */
  architecture: string;
  /** Bare file name inside the feed directory: `<name>_<version>_<arch>.ipk` or `<name>-<version>.apk`. */
  filename: string;
  /** The file's size in bytes (the index's `Size` / `file-size`). */
  size: number;
  /** SHA-256 of the whole file, in both formats (opkg's `SHA256sum`; for apk see `identity`). */
  sha256: string;
  /**
   * opkg: the `Depends:` value as written in the index ('' when the field is absent).
   * apk: the dependencies as apk writes them (`libc`, `kernel=6.6.110~<vermagic>-r1`,
   * `python3-light>=3.11.14`, `!tcpdump` for a conflict), sorted by name, joined with ', '.
   */
  depends: string;
  /**
   * opkg: the `Provides:` names. apk: every provided name, without its version (`ip` for
   * `ip=6.11.0-r1`), `<name>-any` included.
   */
  provides: string[];
  /** apk: the index's `hashes`, SHA-256 of the package's ADB block payload (hex). */
  identity?: string;
  /** apk: install-if conditions, as apk writes them. */
  installIf?: string[];
  /** apk: the `openwrt:abiversion=` tag's value (`20240329`, or `-1.0` for `libbz2-1.0`). */
  abiVersion?: string;
  /** apk: provider-priority (100 default variant, 10 ABI-versioned library). */
  providerPriority?: number;
}

export interface TreeFeed {
  /** core | kmods | base | luci | packages | routing | telephony */
  name: string;
  /** openwrt_core, … as in a device's distfeeds.conf (apk's distfeeds.list has URLs only). */
  distName: string;
  /** Path from the root, no leading or trailing slash. */
  dir: string;
  packages: TreePackage[];
}

export interface TreeImage {
  device: string;
  type: string;
  /** Path from the root. */
  path: string;
  sha256: string;
  size: number;
}

export interface ReleaseTree {
  /** 'opkg': each feed directory holds `Packages*`, `index.json`, `*.ipk`; 'apk': `packages.adb`, `index.json`, `*.apk`. */
  format: TreeFormat;
  /** apk form: the key every `packages.adb` is signed with (its `publicKeyPem` goes in the trusted keys). */
  apkSigner?: ApkSigner;
  /** Every served path (no leading slash) → bytes; with the release's `.targets.json` and `/.versions.json`. */
  files: Map<string, Buffer>;
  /** In distfeeds order: core, base, kmods, luci, packages, routing, telephony. */
  feeds: TreeFeed[];
  images: TreeImage[];
  /** `<kver>-<krel>-<vermagic>` */
  kmodsDir: string;
  /** `releases/<version>` */
  releaseDir: string;
  /** `releases/<version>/targets/<target>` */
  targetDir: string;
  version: string;
  target: string;
  arch: string;
}

/** One release of an upstream: its version and, when not the one the version implies, its package format. */
export interface UpstreamRelease {
  version: string;
  /** Default as for `buildRelease`: 'apk' from 25.12 on, 'opkg' before. */
  format?: TreeFormat;
}

export interface UpstreamOptions {
  /** Each release is built for every target; a version may appear once. */
  releases: UpstreamRelease[];
  /** target/subtarget names of `KNOWN_TARGETS`; each gets its arch, kernel and devices from there. */
  targets: string[];
  /** usign key: `Packages.sig` (opkg) and every target's `sha256sums.sig`. */
  signer: UsignSigner;
  /** The key of every `packages.adb` of every apk release; default adb-writer's `apkTestSigner`. */
  apkSigner?: ApkSigner;
  /** 0 = first state; each increment moves a deterministic ~15% of the packages of every set on. */
  revision?: number;
  /**
   * Device profiles with images, each in the chosen target that has it; default every device of
   * every chosen target; empty: no images anywhere. A name no chosen target has is refused.
   */
  devices?: string[];
  /** Extra `filler-<feed>-<n>` packages spread over the feeds of every set, as in `buildRelease`. */
  fillerPackages?: number;
  /** As in `buildRelease`. */
  packageBytes?: (name: string) => number;
}

/** The five arch feeds of one release and arch: one directory each, served once, shared by every target of that arch. */
export interface ArchFeeds {
  version: string;
  arch: string;
  /** `releases/<version>/packages/<arch>` */
  dir: string;
  /** In distfeeds order: base, luci, packages, routing, telephony. */
  feeds: TreeFeed[];
}

/**
 * One set, release × target: a `ReleaseTree` of its own (usable wherever one is) whose `files` are
 * this set's paths only — its target directory and its arch feeds, the latter the very buffers
 * every set of that arch in that release shares.
 */
export interface SetTree extends ReleaseTree {
  kernel: Kernel;
  /** The devices with images in this set, sorted. */
  devices: string[];
  /** The same objects as `feeds`' arch feeds and as the upstream's `archFeeds` entry. */
  archFeeds: ArchFeeds;
}

export interface UpstreamTree {
  /** Every served path (no leading slash) → bytes: every set's files, each release's `.targets.json`, `/.versions.json`. */
  files: Map<string, Buffer>;
  /** Release × target, releases outer, each in the order given. */
  sets: SetTree[];
  /** One entry per release × arch. */
  archFeeds: ArchFeeds[];
  /** Set when some release is apk. */
  apkSigner?: ApkSigner;
}
