/**
 * A realistic OpenWrt release tree, built in memory, for the fake upstream to serve: 24.10 (opkg:
 * `Packages*` and `.ipk`) or 25.12 (apk v3: `packages.adb`, `index.json` and `.apk`).
 * It is the independent truth the mirror is checked against: it imports nothing from `worker/`,
 * signs and hashes with node:crypto itself (through `adb-writer.ts` for apk), and its lab closure
 * is a hand-written list.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  type ApkSigner,
  apkTestSigner,
  type BuiltApk,
  buildApkIndex,
  buildApkPackage,
  type FakeApk,
} from './adb-writer.js';
import type { UsignSigner } from './usign-signer.js';

export type TreeFormat = 'opkg' | 'apk';

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
  /** Default 6.6.110, release 1, a fixed 32-hex vermagic. */
  kernel?: { version: string; release: string; vermagic: string };
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
  /**
   * Size of each ipk; default a deterministic 1–40 KiB from the name. apk form: the size of the
   * package's content file; the `.apk` adds its ADB metadata (a few hundred bytes) to that.
   */
  packageBytes?: (name: string) => number;
  /** Devices with images; default `dlink_dir-1960-a1` and `xiaomi_mi-router-4a-gigabit`. */
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
  /** Every served path (no leading slash) → bytes. */
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

/** The lab's lists, exactly as in product.md / `.env.example`. */
export const LAB_REQUIRED: string[] = [
  'python3',
  'batctl-full',
  'kmod-batman-adv',
  'wpad-mesh-mbedtls',
  'ip-full',
  'tcpdump-mini',
  'openssh-server',
  'openssh-sftp-server',
  'openssh-keygen',
];

export const LAB_OPTIONAL: string[] = [
  'iperf3',
  'ethtool',
  'nano',
  'htop',
  'rsync',
  'collectd',
  'collectd-mod-cpu',
  'collectd-mod-memory',
  'collectd-mod-load',
  'collectd-mod-interface',
  'collectd-mod-ping',
  'collectd-mod-rrdtool',
  'collectd-mod-network',
  'collectd-mod-iwinfo',
  'luci-app-statistics',
  'vnstat2',
  'vnstat2-json',
];

/** Lab names the real upstream does not have (openwrt/packages builds vnstat2 and vnstati2 only). */
export const LAB_NOT_UPSTREAM: string[] = ['vnstat2-json'];

/**
 * Every package opkg could need for the lab's lists, written out by hand from the table below —
 * every alternative of an `a | b`, every provider of a virtual name, cycles included.
 */
export const LAB_CLOSURE_PACKAGES: readonly string[] = [
  // kmods (also in core when kmodsInCore)
  'kmod-batman-adv',
  'kmod-lib-crc16',
  'kmod-lib-crc32c',
  'kmod-crypto-crc32c',
  'kmod-crypto-hash',
  'kmod-crypto-core',
  'kmod-cfg80211',
  // core
  'libgcc1',
  'libatomic1',
  'libpthread',
  'librt',
  // routing: kmod-batman-adv depends on the virtual `batctl`, which all three provide
  'batctl-full',
  'batctl-default',
  'batctl-tiny',
  // base
  'libubox20240329',
  'libblobmsg-json20240329',
  'libjson-c5',
  'jshn',
  'libubus20250102',
  'ubus',
  'ubusd',
  'libuci20250120',
  'libucode20230711',
  'ucode',
  'ucode-mod-fs',
  'ucode-mod-nl80211',
  'ucode-mod-rtnl',
  'ucode-mod-ubus',
  'ucode-mod-uloop',
  'ucode-mod-uci',
  'ucode-mod-math',
  'libnl-tiny1',
  'libudebug',
  'netifd',
  'libustream-mbedtls20201210',
  'libustream-openssl20201210',
  'libmbedtls21',
  'libopenssl3',
  'zlib',
  'libpcap1',
  'tcpdump-mini',
  'ip-full',
  'libbpf1',
  'libelf1',
  'libmnl0',
  'rpcd',
  'rpcd-mod-file',
  'rpcd-mod-ucode',
  'cgi-io',
  'hostapd-common',
  'wpad-mesh-mbedtls',
  'iw',
  'iwinfo',
  'libiwinfo20230701',
  'libiwinfo-data',
  'wifi-scripts',
  'wireless-regdb',
  'ca-certificates',
  'ethtool',
  'terminfo',
  'libncurses6',
  'libncursesw6',
  'libreadline8',
  'libuuid1',
  'liblz4-1',
  // packages
  'python3',
  'python3-light',
  'python3-base',
  'libpython3-3.11',
  'python3-asyncio',
  'python3-codecs',
  'python3-ctypes',
  'python3-decimal',
  'python3-email',
  'python3-logging',
  'python3-lzma',
  'python3-multiprocessing',
  'python3-ncurses',
  'python3-openssl',
  'python3-pydoc',
  'python3-readline',
  'python3-sqlite3',
  'python3-unittest',
  'python3-urllib',
  'python3-uuid',
  'python3-xml',
  'libffi',
  'libmpdec',
  'liblzma',
  'libsqlite3-0',
  'libexpat',
  'libbz2-1.0',
  'openssh-server',
  'openssh-sftp-server',
  'openssh-keygen',
  'iperf3',
  'libiperf3',
  'nano',
  'htop',
  'rsync',
  'libpopt0',
  'libattr',
  'libacl',
  'libzstd',
  'libxxhash',
  'vnstat2',
  'collectd',
  'libltdl7',
  'collectd-mod-logfile',
  'collectd-mod-cpu',
  'collectd-mod-memory',
  'collectd-mod-load',
  'collectd-mod-interface',
  'collectd-mod-ping',
  'liboping',
  'collectd-mod-rrdtool',
  'librrd1',
  'rrdtool1',
  'collectd-mod-network',
  'libgcrypt',
  'libgpg-error',
  'collectd-mod-iwinfo',
  // luci
  'luci-base',
  'luci-app-statistics',
  'rpcd-mod-luci',
  'ucode-mod-html',
  'liblucihttp-ucode',
  'liblucihttp0',
];

/**
 * The apk (25.12) form's lab closure: the same graph, so the same packages, plus what apk's
 * install-if can bring. `luci-i18n-base-en` installs itself with `luci-base` (install-if
 * `luci-base`), `luci-i18n-statistics-en` once `luci-app-statistics` and `luci-i18n-base-en` are
 * there, and `luci-i18n-statistics-de` on a node that has German LuCI (`luci-i18n-base-de`, which the
 * lab lists do not pull in but a node's image may carry) when `luci-app-statistics` is added: a
 * mirror must hold every install-if package whose items the selection meets in part.
 * Not in it: `luci-i18n-base-de` itself (a trigger, not a need), conflicts (`!tcpdump` of
 * tcpdump-mini, `!wpad-openssl` …), and `apk-mbedtls`/`wget-any` (nothing in the lab lists needs
 * the package manager).
 * luci-base's `libustream-mbedtls | libustream-openssl` is, in apk, a dependency on the virtual
 * `libustream` that both provide — the same two packages.
 */
export const LAB_CLOSURE_APK_PACKAGES: readonly string[] = [
  ...LAB_CLOSURE_PACKAGES,
  // luci, by install-if
  'luci-i18n-base-en',
  'luci-i18n-statistics-en',
  'luci-i18n-statistics-de',
];

/** The hand-written lab closure of `tree`'s format. */
export function labClosurePackages(tree: Pick<ReleaseTree, 'format'>): readonly string[] {
  return tree.format === 'apk' ? LAB_CLOSURE_APK_PACKAGES : LAB_CLOSURE_PACKAGES;
}

/**
 * Feed-dir-relative paths (`<feed dir>/<filename>`) of every package file (ipk or apk) in the lab
 * closure, in every feed that has it.
 */
export function labClosure(tree: ReleaseTree): Set<string> {
  const wanted = new Set(labClosurePackages(tree));
  const paths = new Set<string>();
  for (const feed of tree.feeds) {
    for (const pkg of feed.packages) if (wanted.has(pkg.name)) paths.add(`${feed.dir}/${pkg.filename}`);
  }
  return paths;
}

// ---------------------------------------------------------------------------------------------
// The package table

type FeedName = 'core' | 'kmods' | 'base' | 'luci' | 'packages' | 'routing' | 'telephony';

/** distfeeds.conf order. */
const FEED_ORDER: FeedName[] = ['core', 'base', 'kmods', 'luci', 'packages', 'routing', 'telephony'];

interface PackageSpec {
  name: string;
  version: string;
  /** Exactly as in the index; '' = no Depends field. */
  depends: string;
  provides?: string[];
  alternatives?: string;
  /** ABIVersion; the package then also provides its name without that suffix, like the real build. */
  abi?: string;
  license?: string;
  section?: string;
  url?: string;
  cpe?: string;
  /** Toolchain libraries carry `Status: unknown hold not-installed` and `Essential: yes`. */
  essential?: boolean;
  /** `Architecture: all` and a `_all.ipk` file name. */
  archAll?: boolean;
  description?: string;
}

function pkg(
  name: string,
  version: string,
  depends: string,
  extra: Omit<PackageSpec, 'name' | 'version' | 'depends'> = {},
): PackageSpec {
  return { name, version, depends, ...extra };
}

function kmodTable(kernelVersion: string, kernelDep: string): PackageSpec[] {
  const inTree = `${kernelVersion}-r1`;
  const backports = `${kernelVersion}.6.12.6-r2`;
  const mt76 = `${kernelVersion}.2025.07.24~9c2d4f6b-r1`;
  const k = (name: string, version: string, deps: string[], description: string, url?: string) =>
    pkg(name, version, [kernelDep, ...deps].join(', '), {
      license: 'GPL-2.0-only',
      section: 'kernel',
      description,
      ...(url ? { url } : {}),
    });
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    k('kmod-batman-adv', `${kernelVersion}.2024.3-r6`, ['kmod-lib-crc16', 'kmod-lib-crc32c', 'kmod-cfg80211', 'batctl'], 'B.A.T.M.A.N. (better approach to mobile ad-hoc networking) is\na routing protocol for multi-hop ad-hoc mesh networks. The\nnetworks may be wired or wireless. See\nhttps://www.open-mesh.org/ for more information and user space\ntools. This package builds version 2024.3 of the kernel\nmodule.', 'https://www.open-mesh.org/'),
    k('kmod-lib-crc16', inTree, [], 'Kernel module for CRC16 support'),
    k('kmod-lib-crc32c', inTree, ['kmod-crypto-crc32c'], 'Kernel module for CRC32 support'),
    k('kmod-crypto-crc32c', inTree, ['kmod-crypto-hash'], 'CRC32c CRC module'),
    k('kmod-crypto-hash', inTree, ['kmod-crypto-core'], 'CryptoAPI hash support'),
    k('kmod-crypto-core', inTree, [], 'Core CryptoAPI modules'),
    k('kmod-cfg80211', backports, ['iw', 'iwinfo', 'wifi-scripts', 'wireless-regdb'], 'cfg80211 is the Linux wireless LAN (802.11) configuration API.', 'https://wireless.wiki.kernel.org/'),
    k('kmod-mac80211', backports, ['kmod-cfg80211', 'kmod-crypto-cmac', 'kmod-crypto-ccm', 'kmod-crypto-gcm', 'hostapd-common'], 'Generic IEEE 802.11 Networking Stack (mac80211)', 'https://wireless.wiki.kernel.org/'),
    k('kmod-crypto-cmac', inTree, ['kmod-crypto-hash'], 'Support for Cipher-based Message Authentication Code'),
    k('kmod-crypto-ccm', inTree, ['kmod-crypto-ctr', 'kmod-crypto-aead'], 'Support for Counter with CBC MAC'),
    k('kmod-crypto-gcm', inTree, ['kmod-crypto-ctr', 'kmod-crypto-ghash'], 'GCM/GMAC CryptoAPI module'),
    k('kmod-crypto-ctr', inTree, ['kmod-crypto-manager'], 'Counter Mode CryptoAPI module'),
    k('kmod-crypto-ghash', inTree, ['kmod-crypto-hash'], 'GHASH digest CryptoAPI module'),
    k('kmod-crypto-aead', inTree, ['kmod-crypto-null'], 'CryptoAPI AEAD support'),
    k('kmod-crypto-null', inTree, ['kmod-crypto-hash'], 'Null CryptoAPI module'),
    k('kmod-crypto-manager', inTree, ['kmod-crypto-aead', 'kmod-crypto-hash'], 'CryptoAPI algorithm manager'),
    k('kmod-mt76-core', mt76, ['kmod-mac80211'], 'MediaTek MT76xx wireless driver common code'),
    k('kmod-mt76-connac', mt76, ['kmod-mt76-core'], 'MediaTek MT76xx wireless driver connac code'),
    k('kmod-mt7603', mt76, ['kmod-mt76-core'], 'MediaTek MT7603E wireless driver'),
    k('kmod-mt76x2', mt76, ['kmod-mt76-core'], 'MediaTek MT76x2 wireless driver'),
    k('kmod-mt7615-common', mt76, ['kmod-mt76-connac'], 'MediaTek MT7615 wireless driver common code'),
    k('kmod-mt7615e', mt76, ['kmod-mt7615-common'], 'MediaTek MT7615e wireless driver'),
    k('kmod-mt7615-firmware', mt76, ['kmod-mt7615e'], 'MediaTek MT7615e firmware'),
    k('kmod-nfnetlink', inTree, [], 'Kernel modules support for netlink-based userspace interface'),
    k('kmod-nf-reject', inTree, [], 'Netfilter IPv4 reject support'),
    k('kmod-nf-conntrack', inTree, [], 'Netfilter connection tracking'),
    k('kmod-nf-conntrack6', inTree, ['kmod-nf-conntrack'], 'Netfilter IPv6 connection tracking'),
    k('kmod-nf-nat', inTree, ['kmod-nf-conntrack'], 'Netfilter NAT'),
    k('kmod-nf-flow', inTree, ['kmod-nf-conntrack'], 'Netfilter flowtable support'),
    k('kmod-nft-core', inTree, ['kmod-nfnetlink', 'kmod-nf-reject', 'kmod-nf-conntrack6', 'kmod-nf-nat'], 'Netfilter nf_tables support'),
    k('kmod-nft-nat', inTree, ['kmod-nft-core', 'kmod-nf-nat'], 'Netfilter nf_tables NAT support'),
    k('kmod-nft-fib', inTree, ['kmod-nft-core'], 'Netfilter nf_tables fib support'),
    k('kmod-nft-offload', inTree, ['kmod-nf-flow', 'kmod-nft-nat'], 'Netfilter nf_tables routing/NAT offload support'),
    k('kmod-gpio-button-hotplug', inTree, [], 'Simple GPIO Button Hotplug driver'),
    k('kmod-leds-gpio', inTree, [], 'Kernel module for LEDs on GPIO lines'),
    k('kmod-tun', inTree, [], 'Kernel support for the TUN/TAP tunneling device'),
  ];
}

function coreTable(): PackageSpec[] {
  const gcc = '13.3.0-r4';
  const musl = '1.2.5-r4';
  const toolchain = { license: 'GPL-3.0-with-GCC-exception', section: 'libs', essential: true } as const;
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    pkg('base-files', '1~a9b5e0c7ef', 'libc, netifd, jsonfilter, usign, openwrt-keyring, fstools, fwtool, procd, procd-seccomp, busybox', { license: 'GPL-2.0', url: 'http://openwrt.org/', description: 'This package contains a base filesystem and system scripts for OpenWrt.' }),
    pkg('block-mount', '2024.07.14~408c2cc4-r1', 'libc, ubox, libubox20240329, libuci20250120, libblobmsg-json20240329, libjson-c5', { license: 'GPL-2.0', description: 'Block device mounting and checking' }),
    pkg('fstools', '2024.07.14~408c2cc4-r1', 'libc, ubox', { license: 'GPL-2.0', description: 'OpenWrt filesystem tools' }),
    pkg('fwtool', '2019.11.12~8f7fe925-r1', 'libc', { license: 'GPL-2.0', description: 'Utility for appending and extracting firmware metadata and signatures' }),
    pkg('mtd', '26-r1', 'libc', { description: 'This package contains an utility useful to upgrade from other firmware or\nolder OpenWrt releases.' }),
    pkg('uboot-envtools', '2024.01-r1', 'libc', { license: 'GPL-2.0 GPL-2.0+', section: 'utils', description: 'This package includes tools to read and modify U-Boot bootloader environment.' }),
    pkg('swconfig', '12-r1', 'libc, libuci20250120, libnl-tiny1', { description: 'Switch configuration utility' }),
    pkg('dropbear', '2024.86-r1', 'libc', { alternatives: '100:/usr/bin/ssh-keygen:/usr/sbin/dropbear, 100:/usr/bin/scp:/usr/sbin/dropbear, 100:/usr/bin/ssh:/usr/sbin/dropbear', license: 'MIT', section: 'net', url: 'https://matt.ucc.asn.au/dropbear/', cpe: 'cpe:/a:dropbear_ssh_project:dropbear_ssh', description: 'A small SSH2 server/client designed for small memory environments.' }),
    pkg('libgcc1', gcc, '', { ...toolchain, url: 'http://gcc.gnu.org/', abi: '1', description: 'GCC support library' }),
    pkg('libatomic1', gcc, 'libgcc1', { ...toolchain, url: 'http://gcc.gnu.org/', abi: '1', description: 'Atomic support library' }),
    pkg('libstdcpp6', gcc, 'libgcc1', { ...toolchain, url: 'http://gcc.gnu.org/', abi: '6', description: 'GNU Standard C++ Library v3' }),
    pkg('libpthread', musl, 'libgcc1', { ...toolchain, url: 'http://www.musl-libc.org/', description: 'POSIX thread library' }),
    pkg('librt', musl, 'libpthread', { ...toolchain, url: 'http://www.musl-libc.org/', description: 'POSIX.1b RealTime extension library' }),
  ];
}

function baseTable(): PackageSpec[] {
  const ubox = '2024.03.29~eb9bcb64-r1';
  const ubus = '2025.01.02~afa57cce-r1';
  const uci = '2025.01.20~16ff0bad-r1';
  const ucode = '2025.07.18~3f64c8a5-r1';
  const procd = '2024.12.22~42d39376-r1';
  const ustream = '2024.07.28~99bd3d2b-r1';
  const hostapd = '2024.09.15~5ace39b0-r8';
  const iwinfo = '2024.10.20~b94f066e-r1';
  const ncurses = '6.4-r2';
  const rpcd = '2025.07.14~5c51cf94-r1';
  const uhttpd = '2025.07.06~b80ea3ed-r1';
  const wpadDeps = (tls: string) =>
    `libc, hostapd-common, libubus20250102, libucode20230711, ucode-mod-fs, ucode-mod-nl80211, ucode-mod-rtnl, ucode-mod-ubus, ucode-mod-uloop, libudebug, ${tls}`;
  const wpadFull = ['hostapd', 'wpa-supplicant', 'wpa-supplicant-mesh', 'wpad', 'wpad-mesh'];
  const hostapdUrl = 'http://hostap.epitest.fi/';
  const ucodeMod = (name: string, deps: string, description: string) =>
    pkg(name, ucode, `libc, libucode20230711${deps}`, { license: 'ISC', section: 'utils', description });
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    pkg('libubox20240329', ubox, 'libc', { abi: '20240329', license: 'ISC', description: 'Basic utility library' }),
    pkg('libblobmsg-json20240329', ubox, 'libc, libjson-c5, libubox20240329', { abi: '20240329', license: 'ISC', description: 'blobmsg <-> json conversion library' }),
    pkg('libjson-script20240329', ubox, 'libc, libubox20240329', { abi: '20240329', license: 'ISC', description: 'Minimalistic JSON based scripting engine' }),
    pkg('jshn', ubox, 'libc, libjson-c5, libubox20240329, libblobmsg-json20240329', { license: 'ISC', section: 'utils', description: 'Library for parsing and generating JSON from shell scripts' }),
    pkg('libjson-c5', '0.18-r1', 'libc', { abi: '5', license: 'MIT', url: 'https://json-c.github.io/json-c/', cpe: 'cpe:/a:json-c_project:json-c', description: 'This package contains a library for javascript object notation backends.' }),
    pkg('jsonfilter', '2025.04.18~8a86fb78-r1', 'libc, libubox20240329, libjson-c5', { license: 'ISC', section: 'utils', description: 'OpenWrt JSON filter utility' }),
    pkg('libubus20250102', ubus, 'libc, libubox20240329', { abi: '20250102', license: 'LGPL-2.1', description: 'OpenWrt RPC client library' }),
    pkg('ubus', ubus, 'libc, libubus20250102, libblobmsg-json20240329, ubusd', { license: 'LGPL-2.1', description: 'OpenWrt RPC client utility' }),
    pkg('ubusd', ubus, 'libc, libubox20240329, libblobmsg-json20240329', { license: 'LGPL-2.1', description: 'OpenWrt RPC daemon' }),
    pkg('libuci20250120', uci, 'libc, libubox20240329', { abi: '20250120', license: 'LGPL-2.1', description: 'C library for the Unified Configuration Interface (UCI)' }),
    pkg('uci', uci, 'libc, libuci20250120', { license: 'LGPL-2.1', description: 'Utility for the Unified Configuration Interface (UCI)' }),
    pkg('libucode20230711', ucode, 'libc, libjson-c5', { abi: '20230711', license: 'ISC', url: 'https://github.com/jow-/ucode', description: 'The ucode library provides an interface to compile and run ucode scripts.' }),
    pkg('ucode', ucode, 'libc, libucode20230711', { license: 'ISC', section: 'utils', url: 'https://github.com/jow-/ucode', description: 'ucode is a tiny script interpreter featuring an ECMAScript oriented\nscript language and Jinja-inspired templating.' }),
    ucodeMod('ucode-mod-fs', '', 'The filesystem plugin adds functions for interacting with the filesystem.'),
    ucodeMod('ucode-mod-nl80211', ', libnl-tiny1', 'The nl80211 plugin provides access to the Linux wireless 802.11 netlink API.'),
    ucodeMod('ucode-mod-rtnl', ', libnl-tiny1', 'The rtnl plugin provides access to the Linux routing netlink API.'),
    ucodeMod('ucode-mod-ubus', ', libubus20250102, libblobmsg-json20240329', 'The ubus module allows ucode template scripts to enumerate and invoke ubus procedures.'),
    ucodeMod('ucode-mod-uloop', ', libubox20240329', 'The uloop module allows ucode scripts to interact with OpenWrt uloop event loop implementation.'),
    ucodeMod('ucode-mod-uci', ', libuci20250120', 'The uci module allows templates to read and modify uci configuration.'),
    ucodeMod('ucode-mod-math', '', 'The math plugin provides access to various <math.h> procedures.'),
    pkg('libnl-tiny1', '2025.03.19~c0df580a-r1', 'libc', { abi: '1', license: 'LGPL-2.1', description: 'This package contains a stripped down version of libnl' }),
    pkg('libudebug', '2023.12.06~6d3f51f9-r1', 'libc, libubox20240329, libubus20250102', { license: 'GPL-2.0', description: 'udebug client library' }),
    pkg('netifd', '2025.10.20~777f5942-r1', 'libc, libuci20250120, libnl-tiny1, libubus20250102, ubus, ubusd, jshn, libubox20240329, libudebug', { license: 'GPL-2.0', description: 'OpenWrt Network Interface Configuration Daemon' }),
    pkg('procd', procd, 'libc, ubusd, ubus, libjson-script20240329, ubox, libubox20240329, libubus20250102, libblobmsg-json20240329, libjson-c5, libudebug', { license: 'GPL-2.0', description: 'OpenWrt system process manager' }),
    pkg('procd-seccomp', procd, 'libc, libubox20240329, libblobmsg-json20240329', { license: 'GPL-2.0', description: 'OpenWrt process seccomp helper + utrace' }),
    pkg('procd-ujail', procd, 'libc, libubox20240329, libubus20250102, libuci20250120, libblobmsg-json20240329', { license: 'GPL-2.0', description: 'OpenWrt process jail helper' }),
    pkg('ubox', '2025.10.03~d8a0bf61-r1', 'libc, libubox20240329, ubusd, ubus, libubus20250102, libuci20250120', { license: 'GPL-2.0', description: 'OpenWrt system helper toolbox' }),
    pkg('logd', '2025.10.03~d8a0bf61-r1', 'libc, libubox20240329, libubus20250102, libblobmsg-json20240329, libudebug', { license: 'GPL-2.0', description: 'OpenWrt system log implementation' }),
    pkg('busybox', '1.36.1-r2', 'libc', { license: 'GPL-2.0', section: 'base', url: 'http://busybox.net/', cpe: 'cpe:/a:busybox:busybox', alternatives: '100:/bin/ash:/bin/busybox, 100:/bin/sh:/bin/busybox, 100:/usr/bin/wget:/bin/busybox', description: 'The Swiss Army Knife of embedded Linux.\nIt slices, it dices, it makes Julian Fries.' }),
    pkg('usign', '2020.05.23~f1f65026-r1', 'libc, libubox20240329', { license: 'ISC', description: 'OpenWrt signature verification utility' }),
    pkg('openwrt-keyring', '2024.11.01~fbae29d7-r1', '', { license: 'GPL-2.0', section: 'base', archAll: true, description: 'The keyring of with the developer using and gpg public keys.' }),
    pkg('opkg', '2024.10.16~38eccbb1-r1', 'libc, uclient-fetch, libpthread, libubox20240329', { license: 'GPL-2.0', description: 'Lightweight package management system\nopkg is the opkg Package Management System, for handling\ninstallation and removal of packages on a system.' }),
    pkg('libuclient20201210', '2024.10.22~88ae8f20-r1', 'libc, libubox20240329', { abi: '20201210', license: 'ISC', description: 'HTTP/1.1 client library' }),
    pkg('uclient-fetch', '2024.10.22~88ae8f20-r1', 'libc, libuclient20201210', { license: 'ISC', alternatives: '200:/usr/bin/wget:/bin/uclient-fetch', description: 'Tiny wget replacement using libuclient' }),
    pkg('libustream-mbedtls20201210', ustream, 'libc, libubox20240329, libmbedtls21', { abi: '20201210', license: 'ISC', description: 'ustream SSL Library (mbedtls)' }),
    pkg('libustream-openssl20201210', ustream, 'libc, libubox20240329, libopenssl3', { abi: '20201210', license: 'ISC', description: 'ustream SSL Library (openssl)' }),
    pkg('libmbedtls21', '3.6.5-r1', 'libc', { abi: '21', license: 'GPL-2.0-or-later', url: 'https://www.trustedfirmware.org/projects/mbed-tls/', cpe: 'cpe:/a:arm:mbed_tls', description: 'The aim of the Mbed TLS project is to provide a quality, open-source\ncryptographic library written in C and targeted at embedded systems.' }),
    pkg('libopenssl3', '3.0.18-r1', 'libc', { abi: '3', license: 'Apache-2.0', url: 'http://www.openssl.org/', cpe: 'cpe:/a:openssl:openssl', description: 'The OpenSSL Project is a collaborative effort to develop a robust,\ncommercial-grade, full-featured, and Open Source toolkit implementing the\nTransport Layer Security (TLS) protocol as well as a full-strength\ngeneral-purpose cryptography library.' }),
    pkg('zlib', '1.3.1-r1', 'libc', { license: 'Zlib', url: 'http://www.zlib.net', cpe: 'cpe:/a:zlib:zlib', description: 'Library implementing the deflate compression method' }),
    pkg('libpcap1', '1.10.5-r1', 'libc', { abi: '1', license: 'BSD-3-Clause', url: 'http://www.tcpdump.org/', cpe: 'cpe:/a:tcpdump:libpcap', description: 'This package contains a system-independent library for user-level network packet\ncapture.' }),
    pkg('tcpdump', '4.99.5-r1', 'libc, libpcap1', { license: 'BSD-3-Clause', section: 'net', url: 'http://www.tcpdump.org/', cpe: 'cpe:/a:tcpdump:tcpdump', description: 'Network monitoring and data acquisition tool' }),
    pkg('tcpdump-mini', '4.99.5-r1', 'libc, libpcap1', { license: 'BSD-3-Clause', section: 'net', url: 'http://www.tcpdump.org/', cpe: 'cpe:/a:tcpdump:tcpdump', description: 'Network monitoring and data acquisition tool (minimal version)' }),
    pkg('ip-full', '6.11.0-r1', 'libc, libnl-tiny1, libbpf1, libelf1, libmnl0', { provides: ['ip'], alternatives: '300:/sbin/ip:/usr/libexec/ip-full', license: 'GPL-2.0', section: 'net', url: 'http://www.linuxfoundation.org/collaborate/workgroups/networking/iproute2', cpe: 'cpe:/a:iproute2_project:iproute2', description: 'Routing control utility (full)' }),
    pkg('ip-tiny', '6.11.0-r1', 'libc, libnl-tiny1', { provides: ['ip'], alternatives: '200:/sbin/ip:/usr/libexec/ip-tiny', license: 'GPL-2.0', section: 'net', cpe: 'cpe:/a:iproute2_project:iproute2', description: 'Routing control utility (minimal)' }),
    pkg('libbpf1', '1.5.0-r1', 'libc, libelf1, zlib', { abi: '1', license: 'LGPL-2.1 OR BSD-2-Clause', description: 'libbpf is a library for loading eBPF programs and reading and\nmanipulating eBPF objects from user-space.' }),
    pkg('libelf1', '0.192-r1', 'libc, zlib', { abi: '1', license: 'GPL-2.0-or-later LGPL-3.0-or-later', cpe: 'cpe:/a:elfutils_project:elfutils', description: 'ELF manipulation library' }),
    pkg('libmnl0', '1.0.5-r1', 'libc', { abi: '0', license: 'LGPL-2.1+', url: 'http://www.netfilter.org/projects/libmnl', description: 'libmnl is a minimalistic user-space library oriented to Netlink developers.' }),
    pkg('libnftnl11', '1.2.8-r1', 'libc, libmnl0', { abi: '11', license: 'GPL-2.0-or-later', description: 'Low-level netlink library for the nf_tables subsystem' }),
    pkg('jansson4', '2.14-r3', 'libc', { abi: '4', license: 'MIT', url: 'http://www.digip.org/jansson/', description: 'Jansson is a C library for encoding, decoding and manipulating JSON data' }),
    pkg('nftables-json', '1.1.1-r1', 'libc, kmod-nft-core, libnftnl11, libmnl0, jansson4', { provides: ['nftables'], license: 'GPL-2.0', section: 'net', url: 'http://netfilter.org/projects/nftables/', description: 'nftables userspace utility with JSON support' }),
    pkg('firewall4', '2025.10.02~fc0e4b2d-r1', 'libc, kmod-nft-core, kmod-nft-fib, kmod-nft-offload, kmod-nft-nat, nftables-json, ucode, ucode-mod-fs, ucode-mod-ubus, ucode-mod-uci', { license: 'ISC', description: 'This package provides an nftables-based implementation of the UCI firewall\nservice.' }),
    pkg('dnsmasq', '2.90-r4', 'libc, libubus20250102', { license: 'GPL-2.0', section: 'net', url: 'http://www.thekelleys.org.uk/dnsmasq/', cpe: 'cpe:/a:thekelleys:dnsmasq', description: 'It is intended to provide coupled DNS and DHCP service to a LAN.' }),
    pkg('odhcpd-ipv6only', '2025.10.02~09efc6ee-r1', 'libc, libubox20240329, libuci20250120, libubus20250102, libnl-tiny1', { license: 'GPL-2.0', section: 'net', description: 'odhcpd is a daemon for serving and relaying IP management protocols to\nconfigure clients and downstream routers.' }),
    pkg('odhcp6c', '2025.10.21~1b1c3ef2-r1', 'libc, libubox20240329', { license: 'GPL-2.0', section: 'net', description: 'Embedded DHCPv6-client for OpenWrt' }),
    pkg('urandom-seed', '3-r1', 'libc', { license: 'GPL-2.0', description: 'This package adds scripts that seed /dev/urandom from a saved seed.' }),
    pkg('urngd', '2023.11.01~44365eb1-r1', 'libc, libubox20240329', { license: 'GPL-2.0 BSD-3-Clause', section: 'utils', description: "urngd is OpenWrt's micro non-physical true random number generator daemon" }),
    pkg('uhttpd', uhttpd, 'libc, libubox20240329, libblobmsg-json20240329, libjson-script20240329, libjson-c5', { license: 'ISC', section: 'net', description: 'uHTTPd is a tiny single threaded HTTP server with TLS, CGI and Lua\nsupport. It is intended as a drop-in replacement for the Busybox\nHTTP daemon.' }),
    pkg('uhttpd-mod-ubus', uhttpd, 'libc, uhttpd, libubus20250102, libblobmsg-json20240329', { license: 'ISC', section: 'net', description: 'The ubus plugin adds a HTTP/JSON RPC proxy for ubus and publishes the\nsession.* namespace and procedures.' }),
    pkg('px5g-mbedtls', '10-r1', 'libc, libmbedtls21', { license: 'LGPL-2.1', section: 'utils', description: 'Px5g is a tiny standalone X.509 certificate generator.' }),
    pkg('rpcd', rpcd, 'libc, libubus20250102, libubox20240329, libuci20250120, libblobmsg-json20240329, libjson-c5', { license: 'ISC', description: 'This package provides the UBUS RPC backend server to expose various\nfunctionality to frontend programs via JSON-RPC.' }),
    pkg('rpcd-mod-file', rpcd, 'libc, libubus20250102, libubox20240329, rpcd', { license: 'ISC', description: 'Provides ubus calls for file and directory operations.' }),
    pkg('rpcd-mod-ucode', rpcd, 'libc, libubus20250102, libucode20230711, rpcd', { license: 'ISC', description: 'Provides ucode plugin support for rpcd.' }),
    pkg('rpcd-mod-iwinfo', rpcd, 'libc, libubus20250102, libubox20240329, rpcd, libiwinfo20230701', { license: 'ISC', description: 'Provides ubus calls for accessing iwinfo data.' }),
    pkg('cgi-io', '2022.08.10~901b0f04-r21', 'libc, libubox20240329, libubus20250102', { license: 'GPL-2.0-or-later', section: 'net', description: 'This package contains an cgi utility that is useful for up/downloading files' }),
    pkg('hostapd-common', hostapd, 'libc', { license: 'BSD-3-Clause', section: 'net', url: hostapdUrl, cpe: 'cpe:/a:w1.fi:hostapd', description: 'hostapd/wpa_supplicant common support files' }),
    pkg('wpad-mesh-mbedtls', hostapd, wpadDeps('libmbedtls21'), { provides: wpadFull, license: 'BSD-3-Clause', section: 'net', url: hostapdUrl, cpe: 'cpe:/a:w1.fi:hostapd', description: 'This package contains a minimal IEEE 802.1x/WPA Authenticator and Supplicant (with 802.11s mesh and SAE support).' }),
    pkg('wpad-basic-mbedtls', hostapd, wpadDeps('libmbedtls21'), { provides: ['hostapd', 'wpa-supplicant', 'wpad', 'wpad-basic'], license: 'BSD-3-Clause', section: 'net', url: hostapdUrl, cpe: 'cpe:/a:w1.fi:hostapd', description: 'This package contains a basic IEEE 802.1x/WPA Authenticator and Supplicant with WPA-PSK, SAE (WPA3-Personal), 802.11r and 802.11w support.' }),
    pkg('wpad-openssl', hostapd, wpadDeps('libopenssl3'), { provides: wpadFull, license: 'BSD-3-Clause', section: 'net', url: hostapdUrl, cpe: 'cpe:/a:w1.fi:hostapd', description: 'This package contains a full featured IEEE 802.1x/WPA/EAP/RADIUS\nAuthenticator and Supplicant' }),
    pkg('iw', '6.9-r1', 'libc, libnl-tiny1', { license: 'GPL-2.0', section: 'net', url: 'http://wireless.kernel.org/en/users/Documentation/iw', description: 'cfg80211 interface configuration utility' }),
    pkg('iwinfo', iwinfo, 'libc, libiwinfo20230701', { license: 'GPL-2.0', section: 'utils', description: 'Command line frontend for the wireless information library.' }),
    pkg('libiwinfo20230701', iwinfo, 'libc, libnl-tiny1, libuci20250120, libubus20250102, libiwinfo-data', { abi: '20230701', license: 'GPL-2.0', description: 'Wireless information library with simplified API for nl80211\nand wext driver interfaces.' }),
    pkg('libiwinfo-data', iwinfo, 'libc', { license: 'GPL-2.0', description: 'Wireless information library data files' }),
    pkg('wifi-scripts', '1.0-r1', 'netifd, ucode, ucode-mod-nl80211, ucode-mod-rtnl, ucode-mod-ubus, ucode-mod-uci', { license: 'GPL-2.0', archAll: true, description: 'A set of scripts that handle setup and configuration of Wi-Fi devices.' }),
    pkg('wireless-regdb', '2025.10.07-r1', '', { license: 'ISC', section: 'firmware', url: 'https://git.kernel.org/pub/scm/linux/kernel/git/sforshee/wireless-regdb.git/', archAll: true, description: 'Wireless Regulatory Database' }),
    pkg('ca-certificates', '20250419-r1', '', { license: 'GPL-2.0-or-later MPL-2.0', url: 'http://ftp.debian.org/debian/pool/main/c/ca-certificates', archAll: true, description: 'System CA certificates' }),
    pkg('ca-bundle', '20250419-r1', '', { license: 'GPL-2.0-or-later MPL-2.0', url: 'http://ftp.debian.org/debian/pool/main/c/ca-certificates', archAll: true, description: 'System CA certificates as a bundle' }),
    pkg('ethtool', '6.11-r1', 'libc', { license: 'GPL-2.0', section: 'net', url: 'https://www.kernel.org/pub/software/network/ethtool/', cpe: 'cpe:/a:kernel:ethtool', description: 'ethtool is a small utility for examining and tuning your ethernet-based\nnetwork interface' }),
    pkg('terminfo', ncurses, 'libc', { license: 'MIT', section: 'libs', url: 'http://www.gnu.org/software/ncurses/', description: 'Terminal Info Database (ncurses)' }),
    pkg('libncurses6', ncurses, 'libc, terminfo', { abi: '6', license: 'MIT', url: 'http://www.gnu.org/software/ncurses/', cpe: 'cpe:/a:gnu:ncurses', description: 'Terminal handling library' }),
    pkg('libncursesw6', ncurses, 'libc, terminfo', { abi: '6', license: 'MIT', url: 'http://www.gnu.org/software/ncurses/', cpe: 'cpe:/a:gnu:ncurses', description: 'Terminal handling library (Unicode)' }),
    pkg('libreadline8', '8.2-r2', 'libc, libncursesw6', { abi: '8', license: 'GPL-3.0-only', url: 'https://tiswww.case.edu/php/chet/readline/rltop.html', cpe: 'cpe:/a:gnu:readline', description: 'The Readline library provides a set of functions for use by applications\nthat allow users to edit command lines as they are typed in.' }),
    pkg('libuuid1', '2.40.2-r1', 'libc, librt', { abi: '1', license: 'BSD-3-Clause', url: 'http://www.kernel.org/pub/linux/utils/util-linux/', cpe: 'cpe:/a:kernel:util-linux', description: 'The UUID library is used to generate unique identifiers for objects\nthat may be accessible beyond the local system.' }),
    pkg('liblz4-1', '1.10.0-r1', 'libc', { abi: '1', license: 'BSD-2-Clause', url: 'https://www.lz4.org/', cpe: 'cpe:/a:lz4_project:lz4', description: 'This package contains the LZ4 library.' }),
  ];
}

function packagesTable(): PackageSpec[] {
  const python = '3.11.14-r1';
  const openssh = '9.9p2-r1';
  const collectd = '5.12.0-r49';
  const py = (name: string, extraDeps: string, description: string) =>
    pkg(name, python, `libc, python3-light${extraDeps}`, {
      license: 'Python-2.0.1 0BSD',
      section: 'lang',
      url: 'https://www.python.org',
      cpe: 'cpe:/a:python:python',
      description,
    });
  const pyPip = (name: string, version: string, deps: string, description: string) =>
    pkg(name, version, `libc, ${deps}`, { license: 'MIT', section: 'lang', description });
  const sshOpts = {
    license: 'BSD ISC',
    section: 'net',
    url: 'https://www.openssh.com/',
    cpe: 'cpe:/a:openbsd:openssh',
  };
  const mod = (name: string, extraDeps: string, description: string) =>
    pkg(`collectd-mod-${name}`, collectd, `libc, collectd${extraDeps}`, {
      license: 'MIT',
      section: 'utils',
      url: 'https://collectd.org/',
      cpe: 'cpe:/a:collectd:collectd',
      description,
    });
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    pkg('python3', python, 'libc, python3-light (>= 3.11.14), python3-asyncio, python3-codecs, python3-ctypes, python3-decimal, python3-email, python3-logging, python3-lzma, python3-multiprocessing, python3-ncurses, python3-openssl, python3-pydoc, python3-readline, python3-sqlite3, python3-unittest, python3-urllib, python3-uuid, python3-xml', { license: 'Python-2.0.1 0BSD', section: 'lang', url: 'https://www.python.org', cpe: 'cpe:/a:python:python', description: "This package contains the (almost) full Python install.\nIt's python3-light + all other packages." }),
    pkg('python3-light', python, 'libc, python3-base, libbz2-1.0, zlib', { license: 'Python-2.0.1 0BSD', section: 'lang', url: 'https://www.python.org', cpe: 'cpe:/a:python:python', description: 'This package is essentially the python3-base package plus\na few of the rarely used (and big) libraries stripped out\ninto separate packages.' }),
    pkg('python3-base', python, 'libc, libpython3-3.11', { license: 'Python-2.0.1 0BSD', section: 'lang', url: 'https://www.python.org', cpe: 'cpe:/a:python:python', description: 'This package contains only the interpreter and the bare minimum\nfor the interpreter to start.' }),
    pkg('libpython3-3.11', python, 'libc, libpthread', { license: 'Python-2.0.1 0BSD', section: 'libs', url: 'https://www.python.org', cpe: 'cpe:/a:python:python', description: 'Python 3.11 core library' }),
    py('python3-asyncio', '', 'Python 3.11 asyncio module'),
    py('python3-codecs', '', 'Python 3.11 codecs + unicode support'),
    py('python3-ctypes', ', libffi', 'Python 3.11 ctypes module'),
    py('python3-decimal', ', libmpdec', 'Python 3.11 decimal module'),
    py('python3-email', '', 'Python 3.11 email module'),
    py('python3-logging', '', 'Python 3.11 logging module'),
    py('python3-lzma', ', liblzma', 'Python 3.11 lzma module'),
    py('python3-multiprocessing', '', 'Python 3.11 multiprocessing'),
    py('python3-ncurses', ', libncursesw6', 'Python 3.11 ncurses module'),
    py('python3-openssl', ', libopenssl3, ca-certificates', 'Python 3.11 SSL module'),
    py('python3-pydoc', '', 'Python 3.11 pydoc module'),
    py('python3-readline', ', libreadline8, libncursesw6', 'Python 3.11 readline module'),
    py('python3-sqlite3', ', libsqlite3-0', 'Python 3.11 sqlite3 module'),
    py('python3-unittest', '', 'Python 3.11 unittest module'),
    py('python3-urllib', ', python3-email', 'Python 3.11 URL library module'),
    py('python3-uuid', ', libuuid1', 'Python 3.11 UUID module'),
    py('python3-xml', ', libexpat', 'Python 3.11 xml libs'),
    pyPip('python3-pip', '25.0.1-r1', 'python3, python3-setuptools', 'pip is the package installer for Python.'),
    pyPip('python3-setuptools', '75.8.0-r1', 'python3', 'Easily download, build, install, upgrade, and uninstall Python packages'),
    pkg('libffi', '3.4.7-r1', 'libc', { license: 'MIT', url: 'https://sourceware.org/libffi/', cpe: 'cpe:/a:libffi_project:libffi', description: 'The libffi library provides a portable, high level programming interface to\nvarious calling conventions.' }),
    pkg('libmpdec', '2.5.1-r2', 'libc', { license: 'BSD-2-Clause', url: 'https://www.bytereef.org/mpdecimal/', description: 'libmpdec is a fast C/C++ library for correctly-rounded arbitrary precision\ndecimal floating point arithmetic.' }),
    pkg('liblzma', '5.6.4-r1', 'libc', { license: '0BSD', url: 'http://tukaani.org/xz', cpe: 'cpe:/a:tukaani:xz', description: 'Library for LZMA compression' }),
    pkg('libsqlite3-0', '3490200-r1', 'libc, zlib', { abi: '0', license: 'PUBLICDOMAIN', url: 'https://www.sqlite.org/', cpe: 'cpe:/a:sqlite:sqlite', description: 'SQLite is a small C library that implements a self-contained, embeddable,\nzero-configuration SQL database engine.' }),
    pkg('libexpat', '2.7.1-r1', 'libc', { license: 'MIT', url: 'https://libexpat.github.io/', cpe: 'cpe:/a:libexpat_project:libexpat', description: 'A fast, non-validating, stream-oriented XML parsing library.' }),
    pkg('libbz2-1.0', '1.0.8-r1', 'libc', { abi: '1.0', license: 'bzip2-1.0.8', url: 'https://sourceware.org/bzip2/', cpe: 'cpe:/a:bzip:bzip2', description: 'bzip2 is a freely available, patent free, high-quality\ndata compressor. This packages provides libbz2 library.' }),
    pkg('openssh-server', openssh, 'libc, libopenssl3, zlib, openssh-keygen (>= 9.9p2)', { ...sshOpts, description: 'OpenSSH server.' }),
    pkg('openssh-sftp-server', openssh, 'libc', { ...sshOpts, description: 'OpenSSH SFTP server.' }),
    pkg('openssh-keygen', openssh, 'libc, libopenssl3', { ...sshOpts, alternatives: '200:/usr/bin/ssh-keygen:/usr/libexec/ssh-keygen-openssh', description: 'OpenSSH keygen.' }),
    pkg('openssh-client', openssh, 'libc, libopenssl3, zlib', { ...sshOpts, alternatives: '200:/usr/bin/scp:/usr/libexec/scp-openssh, 200:/usr/bin/ssh:/usr/libexec/ssh-openssh', description: 'OpenSSH client.' }),
    pkg('openssh-client-utils', openssh, 'libc, openssh-client, openssh-keygen', { ...sshOpts, description: 'OpenSSH client utilities.' }),
    pkg('iperf3', '3.18-r1', 'libc, libiperf3', { license: 'BSD-3-Clause', section: 'net', url: 'https://github.com/esnet/iperf', cpe: 'cpe:/a:es:iperf3', description: 'Iperf is a modern alternative for measuring TCP and UDP bandwidth\nperformance, allowing the tuning of various parameters and\ncharacteristics.' }),
    pkg('iperf3-ssl', '3.18-r1', 'libc, libopenssl3, libatomic1', { license: 'BSD-3-Clause', section: 'net', url: 'https://github.com/esnet/iperf', cpe: 'cpe:/a:es:iperf3', description: 'Iperf is a modern alternative for measuring TCP and UDP bandwidth\nperformance (with iperf_auth support).' }),
    pkg('libiperf3', '3.18-r1', 'libc, libatomic1', { license: 'BSD-3-Clause', url: 'https://github.com/esnet/iperf', cpe: 'cpe:/a:es:iperf3', description: 'Libiperf is a library providing an API for iperf3 functionality.' }),
    pkg('nano', '8.3-r1', 'libc, libncurses6', { license: 'GPL-3.0-or-later', section: 'utils', url: 'https://www.nano-editor.org/', cpe: 'cpe:/a:gnu:nano', description: "Nano (Nano's ANOther editor, or Not ANOther editor) is an enhanced clone\nof the Pico text editor." }),
    pkg('htop', '3.3.0-r1', 'libc, libncurses6', { license: 'GPL-2.0-or-later', section: 'admin', url: 'https://htop.dev/', cpe: 'cpe:/a:htop:htop', description: 'Htop is an ncursed-based process viewer similar to top, but\nit allows to scroll the list vertically and horizontally to\nsee all processes and their full command lines.' }),
    pkg('rsync', '3.4.1-r1', 'libc, libpopt0, zlib, libzstd, libxxhash, liblz4-1, libattr, libacl', { license: 'GPL-3.0-or-later', section: 'net', url: 'https://rsync.samba.org/', cpe: 'cpe:/a:samba:rsync', description: 'rsync is a program that allows files to be copied to and from remote machines\nin much the same way as rcp. It has many more options than rcp, and uses the\nrsync remote-update protocol to greatly speed up file transfers when the\ndestination file already exists.' }),
    pkg('rsyncd', '3.4.1-r1', 'libc, rsync', { license: 'GPL-3.0-or-later', section: 'net', url: 'https://rsync.samba.org/', description: 'rsyncd is a configuration file and initscript to utilize rsync as a daemon.' }),
    pkg('libpopt0', '1.19-r1', 'libc', { abi: '0', license: 'MIT', url: 'https://github.com/rpm-software-management/popt', description: 'A command line option parsing library' }),
    pkg('libattr', '2.5.2-r1', 'libc', { license: 'LGPL-2.1-or-later', url: 'http://savannah.nongnu.org/projects/attr', description: 'Extended attributes support library' }),
    pkg('libacl', '2.3.2-r1', 'libc, libattr', { license: 'LGPL-2.1-or-later', url: 'http://savannah.nongnu.org/projects/acl', description: 'Access control list support library' }),
    pkg('libzstd', '1.5.7-r1', 'libc', { license: 'BSD-3-Clause', url: 'https://github.com/facebook/zstd', cpe: 'cpe:/a:facebook:zstandard', description: 'Zstandard - Fast real-time compression algorithm (library)' }),
    pkg('libxxhash', '0.8.3-r1', 'libc', { license: 'BSD-2-Clause', url: 'https://cyan4973.github.io/xxHash/', description: 'Extremely fast non-cryptographic hash algorithm (library)' }),
    pkg('vnstat2', '2.12-r1', 'libc, libsqlite3-0', { license: 'GPL-2.0-only', section: 'net', url: 'https://humdi.net/vnstat/', description: 'vnStat is a network traffic monitor for Linux that keeps a log of daily\nnetwork traffic for the selected interface(s).' }),
    pkg('vnstati2', '2.12-r1', 'libc, vnstat2, libgd', { license: 'GPL-2.0-only', section: 'net', url: 'https://humdi.net/vnstat/', description: 'The purpose of vnstati is to provide image output support for statistics\ncollected using vnstat.' }),
    pkg('libgd', '2.3.3-r1', 'libc, libpng, zlib', { license: 'GD', url: 'https://libgd.github.io/', cpe: 'cpe:/a:libgd:libgd', description: 'GD is a graphics library. It allows your code to quickly draw images\ncomplete with lines, arcs, text, multiple colors, cut and paste from other\nimages, and flood fills, and write out the result as a PNG file.' }),
    pkg('libpng', '1.6.48-r1', 'libc, zlib', { license: 'Libpng GPL-2.0+ BSD-3-Clause', url: 'http://www.libpng.org/pub/png/libpng.html', cpe: 'cpe:/a:libpng:libpng', description: 'A PNG format files handling library' }),
    pkg('collectd', collectd, 'libc, libltdl7, zlib, collectd-mod-logfile', { license: 'MIT', section: 'utils', url: 'https://collectd.org/', cpe: 'cpe:/a:collectd:collectd', description: 'collectd is a small daemon which collects system information periodically\nand provides mechanisms to store the values in a variety of ways.' }),
    mod('logfile', '', 'Log-file output plugin'),
    mod('cpu', '', 'CPU input plugin'),
    mod('memory', '', 'physical memory usage input plugin'),
    mod('load', '', 'system load input plugin'),
    mod('interface', '', 'network interfaces input plugin'),
    mod('ping', ', liboping', 'ping status input plugin'),
    mod('rrdtool', ', librrd1', 'RRDtool output plugin'),
    mod('network', ', libgcrypt', 'network input/output plugin'),
    mod('iwinfo', ', libiwinfo20230701', 'libiwinfo wireless statistics plugin'),
    mod('df', '', 'disk space input plugin'),
    mod('disk', '', 'disk usage/timing input plugin'),
    mod('dns', ', libpcap1', 'DNS traffic input plugin'),
    mod('exec', '', 'process exec input plugin'),
    mod('netlink', ', libmnl0', 'netlink input plugin'),
    mod('uptime', '', 'uptime status input plugin'),
    pkg('libltdl7', '2.4.7-r1', 'libc', { abi: '7', license: 'GPL-2.0+', url: 'http://www.gnu.org/software/libtool/', cpe: 'cpe:/a:gnu:libtool', description: 'A generic dynamic object loading library' }),
    pkg('liboping', '1.10.0-r1', 'libc', { license: 'LGPL-2.1+', url: 'http://noping.cc/', description: 'C library to generate ICMP echo requests.' }),
    pkg('librrd1', '1.2.30-r1', 'libc, zlib', { license: 'GPL-2.0+', url: 'https://oss.oetiker.ch/rrdtool/', description: 'RRD is the Acronym for Round Robin Database. This package contains\nthe RRDtool library.' }),
    pkg('rrdtool1', '1.2.30-r1', 'libc, librrd1', { license: 'GPL-2.0+', section: 'utils', url: 'https://oss.oetiker.ch/rrdtool/', description: 'Round Robin Database (RRD) management tools' }),
    pkg('libgcrypt', '1.10.3-r1', 'libc, libgpg-error', { license: 'LGPL-2.1-or-later', url: 'https://www.gnupg.org/related_software/libgcrypt/', cpe: 'cpe:/a:gnupg:libgcrypt', description: 'This is a general purpose cryptographic library based on the code\nfrom GnuPG.' }),
    pkg('libgpg-error', '1.51-r1', 'libc', { license: 'LGPL-2.1-or-later', url: 'https://www.gnupg.org/related_software/libgpg-error/', description: 'An helper library for common error codes and descriptions.' }),
    pkg('coreutils', '9.5-r1', 'libc', { license: 'GPL-3.0-or-later', section: 'utils', url: 'http://www.gnu.org/software/coreutils/', cpe: 'cpe:/a:gnu:coreutils', description: 'Full versions of standard GNU utilities.' }),
    pkg('libevent2-7', '2.1.12-r1', 'libc', { abi: '7', license: 'BSD-3-Clause', url: 'http://libevent.org', cpe: 'cpe:/a:libevent_project:libevent', description: 'The libevent API provides a mechanism to execute a callback function when\na specific event occurs on a file descriptor or after a timeout has been\nreached.' }),
    pkg('tmux', '3.5a-r1', 'libc, libevent2-7, libncurses6', { license: 'ISC', section: 'utils', url: 'https://github.com/tmux/tmux/wiki', cpe: 'cpe:/a:tmux_project:tmux', description: 'tmux is a modern, BSD-licensed alternative to GNU screen.' }),
    pkg('wget-ssl', '1.25.0-r1', 'libc, libopenssl3, zlib', { license: 'GPL-3.0-or-later', section: 'net', url: 'https://www.gnu.org/software/wget/index.html', cpe: 'cpe:/a:gnu:wget', alternatives: '300:/usr/bin/wget:/usr/libexec/wget-ssl', description: 'Wget is a network utility to retrieve files from the Web using http\nand ftp, the two most widely used Internet protocols.' }),
    pkg('libxml2-16', '2.13.8-r1', 'libc, zlib', { abi: '16', license: 'MIT', url: 'http://xmlsoft.org/', cpe: 'cpe:/a:xmlsoft:libxml2', description: 'A library for manipulating XML and HTML resources.' }),
  ];
}

function luciTable(): PackageSpec[] {
  const luci = '25.292.66247~1ab6a58';
  const app = (name: string, deps: string, description: string) =>
    pkg(name, luci, deps, {
      license: 'Apache-2.0',
      section: 'luci',
      url: 'https://github.com/openwrt/luci',
      archAll: true,
      description,
    });
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    pkg('luci-base', luci, 'libc, rpcd, rpcd-mod-file, rpcd-mod-luci, rpcd-mod-ucode, cgi-io, ucode, ucode-mod-fs, ucode-mod-uci, ucode-mod-ubus, ucode-mod-math, ucode-mod-html, liblucihttp-ucode, libustream-mbedtls | libustream-openssl', { license: 'Apache-2.0', section: 'luci', url: 'https://github.com/openwrt/luci', description: 'LuCI core runtime' }),
    pkg('rpcd-mod-luci', '20240305-r1', 'libc, rpcd, libubox20240329, libubus20250102, libuci20250120, libnl-tiny1', { license: 'Apache-2.0', section: 'libs', description: 'Provides ubus calls for LuCI specific functionality.' }),
    pkg('ucode-mod-html', '1-r1', 'libc, libucode20230711', { license: 'ISC', section: 'utils', description: 'The html plugin provides functions for HTML entity encoding and decoding.' }),
    pkg('liblucihttp0', '2023.03.15~9b5b683f-r1', 'libc, libubox20240329', { abi: '0', license: 'ISC', description: 'Shared library for HTTP request handling' }),
    pkg('liblucihttp-ucode', '2023.03.15~9b5b683f-r1', 'libc, liblucihttp0, libucode20230711', { license: 'ISC', description: 'HTTP utility library - ucode binding' }),
    pkg('rpcd-mod-rrdns', '20170710-r1', 'libc, rpcd, libubox20240329, libubus20250102', { license: 'Apache-2.0', section: 'libs', description: 'Provides rDNS lookup functionality via the ubus RPC backend server' }),
    app('luci-app-statistics', 'libc, luci-base, collectd, rrdtool1, collectd-mod-rrdtool, collectd-mod-iwinfo, collectd-mod-cpu, collectd-mod-memory, collectd-mod-interface, collectd-mod-load, collectd-mod-network', 'LuCI Statistics Application'),
    app('luci', 'libc, luci-light, luci-app-package-manager', 'Standard OpenWrt set including full admin with ppp support and the default\nOpenWrt theme'),
    app('luci-light', 'libc, luci-proto-ipv6, luci-app-firewall, luci-mod-admin-full, luci-proto-ppp, luci-theme-bootstrap, rpcd-mod-rrdns, uhttpd, uhttpd-mod-ubus', 'Minimum LuCI for OpenWrt'),
    app('luci-ssl', 'libc, luci-light, libustream-mbedtls20201210, px5g-mbedtls', 'LuCI with HTTPS support (mbedtls as SSL backend)'),
    app('luci-mod-admin-full', 'libc, luci-base, luci-mod-network, luci-mod-status, luci-mod-system', 'LuCI Administration - full-featured for full control'),
    app('luci-mod-network', 'libc, luci-base, rpcd-mod-iwinfo', 'LuCI Network Administration'),
    app('luci-mod-status', 'libc, luci-base, rpcd-mod-iwinfo', 'LuCI Status Pages'),
    app('luci-mod-system', 'libc, luci-base', 'LuCI System Administration'),
    app('luci-theme-bootstrap', 'libc', 'Bootstrap Theme (default)'),
    app('luci-app-firewall', 'libc, luci-base, firewall4', 'Firewall and Portforwarding application'),
    app('luci-app-package-manager', 'libc, luci-base, opkg', 'LuCI Package Management Application'),
    app('luci-app-vnstat2', 'libc, luci-base, vnstat2, vnstati2', 'LuCI Support for vnStat 2'),
    app('luci-proto-ipv6', 'libc', 'Support for DHCPv6/6in4/6to4/6rd/DS-Lite/aiccu'),
    app('luci-proto-ppp', 'libc', 'Support for PPP/PPPoE/PPPoA/PPtP'),
    app('luci-i18n-statistics-de', 'libc, luci-app-statistics', 'Translation for luci-app-statistics - Deutsch (German)'),
  ];
}

function routingTable(): PackageSpec[] {
  const batctl = '2024.3-r5';
  const batctlDesc = (extra: string) =>
    `batctl is a more intuitive management utility for B.A.T.M.A.N.-Advanced.\nIt is an easier method for configuring batman-adv and provides some\nadditional tools for debugging as well. This package builds\nversion 2024.3 of the user space utility.\n${extra}`;
  const batctlOpts = {
    provides: ['batctl'],
    license: 'GPL-2.0-only ISC MIT',
    section: 'net',
    url: 'https://www.open-mesh.org/',
  };
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    pkg('batctl-full', batctl, 'libc, libnl-tiny1, librt, kmod-batman-adv', { ...batctlOpts, alternatives: '300:/usr/sbin/batctl:/usr/libexec/batctl-full', description: batctlDesc('Subcommands for configuration, online and offline debugging are enabled.') }),
    pkg('batctl-default', batctl, 'libc, libnl-tiny1, librt', { ...batctlOpts, alternatives: '200:/usr/sbin/batctl:/usr/libexec/batctl-default', description: batctlDesc('Standard subcommands for configuration and online debugging are enabled.') }),
    pkg('batctl-tiny', batctl, 'libc, libnl-tiny1, librt', { ...batctlOpts, alternatives: '100:/usr/sbin/batctl:/usr/libexec/batctl-tiny', description: batctlDesc('Only configuration relevant subcommands are enabled.') }),
    pkg('alfred', '2024.3-r1', 'libc, libnl-tiny1, librt', { license: 'GPL-2.0-only MIT', section: 'net', url: 'https://www.open-mesh.org/', description: 'alfred is a user space daemon for distributing arbitrary local information\nover the mesh/network in a decentralized fashion.' }),
    pkg('babeld', '1.13.1-r1', 'libc', { license: 'MIT', section: 'net', url: 'https://www.irif.fr/~jch/software/babel/', description: 'Babel is a loop-avoiding distance-vector routing protocol.' }),
    pkg('bird2', '2.15.1-r1', 'libc', { license: 'GPL-2.0-or-later', section: 'net', url: 'https://bird.network.cz/', cpe: 'cpe:/a:nic:bird', description: 'BIRD is an internet routing daemon.' }),
    pkg('olsrd', '0.9.8-r7', 'libc', { license: 'BSD-3-Clause', section: 'net', url: 'http://www.olsr.org/', description: 'OLSR (Optimized Link State Routing) daemon' }),
    pkg('olsrd-mod-jsoninfo', '0.9.8-r7', 'libc, olsrd', { license: 'BSD-3-Clause', section: 'net', description: 'Plugin to return requested information in json format.' }),
    pkg('bmx7', '7.1.1-r6', 'libc, kmod-tun', { license: 'GPL-2.0-or-later', section: 'net', url: 'https://github.com/bmx-routing/bmx7', description: 'BMX7 layer 3 routing daemon supporting IPv4, IPv6, and IPv4 over IPv6' }),
    pkg('ndppd', '0.2.5-r2', 'libc, libstdcpp6', { license: 'GPL-3.0-or-later', section: 'net', url: 'https://github.com/DanielAdolfsson/ndppd', description: 'ndppd, or NDP Proxy Daemon, is a daemon that proxies NDP (Neighbor Discovery\nProtocol) messages between interfaces.' }),
    pkg('pimbd', '2015.08.18~68f5fc80-r3', 'libc, libubox20240329', { license: 'Apache-2.0', section: 'net', description: 'PIM BIDIR daemon' }),
  ];
}

function telephonyTable(): PackageSpec[] {
  const asterisk = '20.11.1-r1';
  const opts = {
    license: 'GPL-2.0',
    section: 'net',
    url: 'https://www.asterisk.org/',
    cpe: 'cpe:/a:digium:asterisk',
  };
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    pkg('asterisk', asterisk, 'libc, libopenssl3, libncurses6, libpopt0, libsqlite3-0, libuuid1, jansson4, libxml2-16', { ...opts, description: 'Asterisk is a complete PBX in software. It provides all of the features\nyou would expect from a PBX and more.' }),
    pkg('asterisk-pjsip', asterisk, 'libc, asterisk, libpjsip', { ...opts, description: 'Basic SIP Resource using PJSIP' }),
    pkg('asterisk-sounds', asterisk, 'libc, asterisk', { ...opts, archAll: true, description: 'Sound files for Asterisk' }),
    pkg('libpjsip', '2.14.1-r1', 'libc, libopenssl3', { license: 'GPL-2.0', section: 'libs', url: 'https://www.pjsip.org', cpe: 'cpe:/a:teluu:pjsip', description: 'Multimedia communication library' }),
    pkg('baresip', '3.16.0-r1', 'libc, libre', { license: 'BSD-3-Clause', section: 'net', url: 'https://github.com/baresip/baresip', description: 'Portable and modular SIP User-Agent with audio and video support' }),
    pkg('libre', '3.16.0-r1', 'libc, libopenssl3, zlib', { license: 'BSD-3-Clause', section: 'libs', url: 'https://github.com/baresip/re', description: 'Generic library for real-time communications with async IO support' }),
    pkg('coturn', '4.6.3-r1', 'libc, libevent2-7, libopenssl3', { license: 'BSD-3-Clause', section: 'net', url: 'https://github.com/coturn/coturn', description: 'The TURN Server is a VoIP media traffic NAT traversal server and gateway.' }),
  ];
}

// ---------------------------------------------------------------------------------------------
// The apk (25.12) form of the same tables
//
// The tables above are written as opkg writes them; the apk form derives from them what OpenWrt's
// `package-pack.mk` makes of the same Makefiles when CONFIG_USE_APK is set:
// - versions as apk spells them (`9.9p2` → `9.9_p2`); file names `<name>-<version>.apk`;
// - dependencies without spaces or parentheses (`python3-light>=3.11.14`,
//   `kernel=6.6.110~<vermagic>-r1`), sorted by name as apk stores them;
// - an ABI-versioned library (`libubox20240329`) provides its unversioned name (`libubox`) with
//   provider-priority 10 and carries the tag `openwrt:abiversion=<suffix>` (`-1.0` for
//   `libbz2-1.0`, the dash included, as `FormatABISuffix` builds it); other provides are
//   versioned (`ip=6.11.0-r1`) unless virtual (`libustream`, `wget-any`); a default variant has
//   provider-priority 100; every package provides `<name>-any` (`libubox-any` for the library);
// - apk has no `a | b`: an opkg alternative becomes a virtual name its candidates provide;
// - conflicts are `!name` dependencies; translations get install-if rules.

/** An opkg `a | b` item → the virtual name the apk form's candidates provide instead. */
const ALTERNATIVE_VIRTUALS: Record<string, string> = {
  'libustream-mbedtls | libustream-openssl': 'libustream',
};

interface ApkChange {
  /** Replaces the opkg Depends (written opkg-style; converted like the rest). */
  depends?: string;
  /** Written as `!name` dependencies. */
  conflicts?: string[];
  /** Virtual names provided without a version (OpenWrt's `@name` in PROVIDES). */
  virtuals?: string[];
  installIf?: string[];
  /** DEFAULT_VARIANT:=1 → provider-priority 100. */
  defaultVariant?: boolean;
}

/** Where the apk form differs from the tables, package by package. */
const APK_CHANGES: Record<string, ApkChange> = {
  'libustream-mbedtls20201210': { virtuals: ['libustream'], defaultVariant: true },
  'libustream-openssl20201210': { virtuals: ['libustream'] },
  'batctl-default': { defaultVariant: true },
  'tcpdump-mini': { conflicts: ['tcpdump'] },
  'wpad-mesh-mbedtls': { conflicts: ['wpad-basic-mbedtls', 'wpad-openssl'] },
  'uclient-fetch': { virtuals: ['wget-any'], defaultVariant: true },
  'wget-ssl': { virtuals: ['wget-any'] },
  'apk-mbedtls': { defaultVariant: true },
  // 25.12's package manager app manages apk; there is no opkg to depend on.
  'luci-app-package-manager': { depends: 'libc, luci-base' },
  // A translation installs itself once its app and its language's base translation are there.
  'luci-i18n-statistics-de': { installIf: ['luci-app-statistics', 'luci-i18n-base-de'] },
  'luci-i18n-statistics-en': { installIf: ['luci-app-statistics', 'luci-i18n-base-en'] },
  // English, LuCI's default language, comes along with luci-base.
  'luci-i18n-base-en': { installIf: ['luci-base'] },
};

/** Packages of the opkg form that 25.12 does not build. */
const OPKG_ONLY = new Set(['opkg']);

/** Packages only the apk form has. */
function apkOnlyTable(): Partial<Record<FeedName, PackageSpec[]>> {
  const apk = '3.0.5-r1';
  const luci = '25.292.66247~1ab6a58';
  const apkOpts = {
    provides: ['apk'],
    license: 'GPL-2.0-only',
    section: 'base',
    url: 'https://gitlab.alpinelinux.org/alpine/apk-tools',
  };
  const i18n = (name: string, deps: string, description: string) =>
    pkg(name, luci, deps, {
      license: 'Apache-2.0',
      section: 'luci',
      url: 'https://github.com/openwrt/luci',
      archAll: true,
      description,
    });
  // biome-ignore format: one package per line, so the table reads as a table
  return {
    base: [
      pkg('apk-mbedtls', apk, 'libc, libmbedtls21, wget-any, zlib', { ...apkOpts, description: 'Alpine Package Keeper - fast package manager (mbedtls)' }),
      pkg('apk-openssl', apk, 'libc, libopenssl3, wget-any, zlib', { ...apkOpts, description: 'Alpine Package Keeper - fast package manager (openssl)' }),
    ],
    luci: [
      i18n('luci-i18n-base-en', 'libc, luci-base', 'Translation for luci-base - English'),
      i18n('luci-i18n-base-de', 'libc, luci-base', 'Translation for luci-base - Deutsch (German)'),
      i18n('luci-i18n-statistics-en', 'libc, luci-app-statistics', 'Translation for luci-app-statistics - English'),
    ],
  };
}

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

/** The apk form's tables: the shared ones less what only opkg has, plus what only apk has. */
function apkSpecs(specs: Record<FeedName, PackageSpec[]>): Record<FeedName, PackageSpec[]> {
  const extra = apkOnlyTable();
  const result = {} as Record<FeedName, PackageSpec[]>;
  for (const feed of FEED_ORDER) {
    result[feed] = [...specs[feed].filter((spec) => !OPKG_ONLY.has(spec.name)), ...(extra[feed] ?? [])];
  }
  return result;
}

interface ApkEntry {
  fake: FakeApk;
  apk: BuiltApk;
  record: TreePackage;
}

function apkEntry(
  spec: PackageSpec,
  feed: FeedName,
  version: string,
  arch: string,
  sizeOf: (name: string) => number,
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
  const size = sizeOf(spec.name);
  if (!Number.isInteger(size) || size < 0) throw new TypeError(`packageBytes(${spec.name}) gave ${size}`);
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
      [content]: pseudoRandomBytes(`apk ${spec.name} ${version}`, size),
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

/** Each feed directory of the apk form: the `.apk` files, `packages.adb` (signed) and `index.json`. */
function buildApkFeeds(ctx: {
  files: Map<string, Buffer>;
  specs: Record<FeedName, PackageSpec[]>;
  feedDirs: Record<FeedName, string>;
  bumps: Map<string, number>;
  arch: string;
  sizeOf: (name: string) => number;
  apkSigner: ApkSigner;
}): TreeFeed[] {
  const built = new Map<string, ApkEntry>(); // file name → the package (kmods in core share it)
  const feeds: TreeFeed[] = [];
  for (const feed of FEED_ORDER) {
    const dir = ctx.feedDirs[feed];
    const entries = ctx.specs[feed].map((spec): ApkEntry => {
      const version = apkVersion(bumpVersion(spec.version, ctx.bumps.get(spec.name) ?? 0));
      const filename = `${spec.name}-${version}.apk`;
      let entry = built.get(filename);
      if (!entry) {
        const { fake, record } = apkEntry(spec, feed, version, ctx.arch, ctx.sizeOf);
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
        built.set(filename, entry);
      }
      ctx.files.set(`${dir}/${filename}`, entry.apk.file);
      return entry;
    });
    // apk keeps an index's packages sorted by name.
    entries.sort((a, b) => (a.fake.name < b.fake.name ? -1 : a.fake.name > b.fake.name ? 1 : 0));
    ctx.files.set(
      `${dir}/packages.adb`,
      buildApkIndex(
        entries.map((e) => ({ pkg: e.fake, apk: e.apk })),
        { signers: [ctx.apkSigner] },
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
    ctx.files.set(
      `${dir}/index.json`,
      Buffer.from(
        `${JSON.stringify({ version: 2, architecture: ctx.arch, packages: index }, null, 2)}\n`,
        'utf8',
      ),
    );
    feeds.push({
      name: feed,
      distName: `openwrt_${feed}`,
      dir,
      packages: entries.map((e) => ({ ...e.record })),
    });
  }
  return feeds;
}

/** OpenWrt switched to apk with 25.12. */
function defaultFormat(version: string): TreeFormat {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return 'opkg';
  const major = Number(m[1]);
  return major > 25 || (major === 25 && Number(m[2]) >= 12) ? 'apk' : 'opkg';
}

// ---------------------------------------------------------------------------------------------
// Building the tree

const DEFAULT_KERNEL = { version: '6.6.110', release: '1', vermagic: 'f4c2d95b0e7a3816c5d9e02a47b1f368' };
const REVISION_SHARE = 0.15;

interface DeviceInfo {
  vendor: string;
  model: string;
  variant?: string;
  supported: string;
  devicePackages: string[];
  /** [type, filesystem, file name suffix] */
  images: [string, string, string][];
}

const KNOWN_DEVICES: Record<string, DeviceInfo> = {
  'dlink_dir-1960-a1': {
    vendor: 'D-Link',
    model: 'DIR-1960',
    variant: 'A1',
    supported: 'dlink,dir-1960-a1',
    devicePackages: ['kmod-mt7615-firmware', '-uboot-envtools'],
    images: [
      ['kernel', 'initramfs', 'initramfs-kernel.bin'],
      ['recovery', 'squashfs', 'squashfs-recovery.bin'],
      ['sysupgrade', 'squashfs', 'squashfs-sysupgrade.bin'],
    ],
  },
  'xiaomi_mi-router-4a-gigabit': {
    vendor: 'Xiaomi',
    model: 'Mi Router 4A',
    variant: 'Gigabit Edition',
    supported: 'xiaomi,mi-router-4a-gigabit',
    devicePackages: ['kmod-mt7603', 'kmod-mt76x2', '-uboot-envtools'],
    images: [
      ['kernel', 'initramfs', 'initramfs-kernel.bin'],
      ['sysupgrade', 'squashfs', 'squashfs-sysupgrade.bin'],
    ],
  },
};

const DEFAULT_PACKAGES = [
  'base-files',
  'ca-bundle',
  'dnsmasq',
  'dropbear',
  'firewall4',
  'fstools',
  'kmod-gpio-button-hotplug',
  'kmod-leds-gpio',
  'kmod-nft-offload',
  'libc',
  'libgcc',
  'libustream-mbedtls',
  'logd',
  'mtd',
  'netifd',
  'nftables',
  'odhcp6c',
  'odhcpd-ipv6only',
  'opkg',
  'ppp',
  'ppp-mod-pppoe',
  'procd-ujail',
  'uboot-envtools',
  'uci',
  'uclient-fetch',
  'urandom-seed',
  'urngd',
  'wpad-basic-mbedtls',
];

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** Deterministic pseudo-random bytes: AES-CTR keystream keyed by the seed (fast enough for benchmark trees). */
function pseudoRandomBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

function defaultPackageBytes(name: string): number {
  return 1024 + (hash32(`size ${name}`) % (39 * 1024 + 1));
}

function bumpVersion(version: string, steps: number): string {
  if (steps === 0) return version;
  const release = /-r(\d+)$/.exec(version);
  if (!release?.[1]) return `${version}-r${steps}`;
  return `${version.slice(0, release.index)}-r${Number(release[1]) + steps}`;
}

/** How many times each name moved on by `revision`: per step the ~15% with the lowest step hash, at least one lab package. */
function revisionBumps(
  names: string[],
  revision: number,
  labPackages: readonly string[] = LAB_CLOSURE_PACKAGES,
): Map<string, number> {
  const bumps = new Map<string, number>();
  const quota = Math.max(1, Math.round(names.length * REVISION_SHARE));
  const lab = new Set(labPackages);
  for (let step = 1; step <= revision; step++) {
    const ranked = names
      .map((name) => ({ name, rank: hash32(`revision ${step} ${name}`) }))
      .sort((a, b) => a.rank - b.rank || (a.name < b.name ? -1 : 1));
    const chosen = ranked.slice(0, quota).map((r) => r.name);
    if (!chosen.some((name) => lab.has(name))) {
      const firstLab = ranked.find((r) => lab.has(r.name));
      if (firstLab) chosen[chosen.length - 1] = firstLab.name;
    }
    for (const name of chosen) bumps.set(name, (bumps.get(name) ?? 0) + 1);
  }
  return bumps;
}

function fillerTable(count: number, kernelDep: string): Map<FeedName, PackageSpec[]> {
  const byFeed = new Map<FeedName, PackageSpec[]>();
  const feedOf = (i: number): FeedName => FEED_ORDER[i % FEED_ORDER.length] ?? 'packages';
  const nameOf = (i: number) => `filler-${feedOf(i)}-${i}`;
  for (let i = 0; i < count; i++) {
    const feed = feedOf(i);
    const h = hash32(`filler ${i}`);
    const deps = feed === 'kmods' ? [kernelDep] : ['libc'];
    for (const back of [1 + (h % 7), 8 + ((h >>> 8) % 31)]) {
      if (i - back >= 0 && (h >>> 16) % 4 !== 0) deps.push(nameOf(i - back));
    }
    const list = byFeed.get(feed) ?? [];
    list.push(
      pkg(nameOf(i), `1.${i % 7}.${i % 13}-r1`, deps.join(', '), {
        license: 'MIT',
        section: feed === 'kmods' ? 'kernel' : 'utils',
        description: `Generated filler package number ${i}.`,
      }),
    );
    byFeed.set(feed, list);
  }
  return byFeed;
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

export function buildRelease(opts: TreeOptions): ReleaseTree {
  const version = opts.version ?? '24.10.4';
  const format = opts.format ?? defaultFormat(version);
  const target = opts.target ?? 'ramips/mt7621';
  const arch = opts.arch ?? 'mipsel_24kc';
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  const revision = opts.revision ?? 0;
  const fillerCount = opts.fillerPackages ?? 0;
  const sizeOf = opts.packageBytes ?? defaultPackageBytes;
  const devices = opts.devices ?? Object.keys(KNOWN_DEVICES);
  const kmodsInCore = opts.kmodsInCore ?? format === 'opkg';
  if (!Number.isInteger(revision) || revision < 0)
    throw new TypeError(`revision must be an integer >= 0, got ${revision}`);
  if (!Number.isInteger(fillerCount) || fillerCount < 0) {
    throw new TypeError(`fillerPackages must be an integer >= 0, got ${fillerCount}`);
  }

  const releaseDir = `releases/${version}`;
  const targetDir = `${releaseDir}/targets/${target}`;
  const kmodsDir = `${kernel.version}-${kernel.release}-${kernel.vermagic}`;
  const kernelDep = `kernel (=${kernel.version}~${kernel.vermagic}-r${kernel.release})`;
  const feedDirs: Record<FeedName, string> = {
    core: `${targetDir}/packages`,
    kmods: `${targetDir}/kmods/${kmodsDir}`,
    base: `${releaseDir}/packages/${arch}/base`,
    luci: `${releaseDir}/packages/${arch}/luci`,
    packages: `${releaseDir}/packages/${arch}/packages`,
    routing: `${releaseDir}/packages/${arch}/routing`,
    telephony: `${releaseDir}/packages/${arch}/telephony`,
  };

  const kmods = kmodTable(kernel.version, kernelDep);
  const shared: Record<FeedName, PackageSpec[]> = {
    core: kmodsInCore ? [...coreTable(), ...kmods] : coreTable(),
    kmods,
    base: baseTable(),
    luci: luciTable(),
    packages: packagesTable(),
    routing: routingTable(),
    telephony: telephonyTable(),
  };
  for (const [feed, fillers] of fillerTable(fillerCount, kernelDep)) shared[feed].push(...fillers);
  const specs = format === 'apk' ? apkSpecs(shared) : shared;

  const allNames = [...new Set(FEED_ORDER.flatMap((feed) => specs[feed].map((s) => s.name)))].sort();
  const bumps = revisionBumps(allNames, revision, labClosurePackages({ format }));

  const files = new Map<string, Buffer>();
  // The target directory (profiles.json, images, signed sums) is the same in both formats.
  const images = buildTarget({
    files,
    version,
    target,
    targetDir,
    arch,
    kernel,
    devices,
    format,
  });
  if (format === 'apk') {
    const apkSigner = opts.apkSigner ?? apkTestSigner;
    const feeds = buildApkFeeds({ files, specs, feedDirs, bumps, arch, sizeOf, apkSigner });
    signTargetSums(files, targetDir, opts.signer);
    return {
      format,
      apkSigner,
      files,
      feeds,
      images,
      kmodsDir,
      releaseDir,
      targetDir,
      version,
      target,
      arch,
    };
  }
  const ipkCache = new Map<string, { bytes: Buffer; sha256: string }>();
  const feeds: TreeFeed[] = [];

  for (const feed of FEED_ORDER) {
    const dir = feedDirs[feed];
    const entries = specs[feed].map((spec) => {
      const pkgVersion = bumpVersion(spec.version, bumps.get(spec.name) ?? 0);
      const architecture = spec.archAll ? 'all' : arch;
      const filename = `${spec.name}_${pkgVersion}_${architecture}.ipk`;
      let ipk = ipkCache.get(filename);
      if (!ipk) {
        const size = sizeOf(spec.name);
        if (!Number.isInteger(size) || size < 0)
          throw new TypeError(`packageBytes(${spec.name}) gave ${size}`);
        const bytes = pseudoRandomBytes(`ipk ${spec.name} ${pkgVersion}`, size);
        ipk = { bytes, sha256: sha256(bytes) };
        ipkCache.set(filename, ipk);
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
    files.set(`${dir}/Packages.sig`, Buffer.from(opts.signer.sign(packagesBytes), 'utf8'));
    files.set(`${dir}/Packages.manifest`, packagesBytes);
    files.set(
      `${dir}/index.json`,
      Buffer.from(
        `${JSON.stringify({ version: 2, architecture: arch, packages: index }, null, 2)}\n`,
        'utf8',
      ),
    );
    feeds.push({ name: feed, distName: `openwrt_${feed}`, dir, packages: entries.map((e) => e.record) });
  }
  signTargetSums(files, targetDir, opts.signer);

  return { format, files, feeds, images, kmodsDir, releaseDir, targetDir, version, target, arch };
}

function buildTarget(ctx: {
  files: Map<string, Buffer>;
  version: string;
  target: string;
  targetDir: string;
  arch: string;
  kernel: { version: string; release: string; vermagic: string };
  devices: string[];
  format: TreeFormat;
}): TreeImage[] {
  const { files, version, target, targetDir } = ctx;
  const prefix = `openwrt-${version}-${target.replace('/', '-')}`;
  const artifacts = new Map<string, Buffer>();
  const images: TreeImage[] = [];
  const profiles: Record<string, unknown> = {};

  for (const device of [...ctx.devices].sort()) {
    const info = KNOWN_DEVICES[device] ?? {
      vendor: 'Generic',
      model: device,
      supported: device.replace('_', ','),
      devicePackages: [],
      images: [['sysupgrade', 'squashfs', 'squashfs-sysupgrade.bin']],
    };
    const imagePrefix = `${prefix}-${device}`;
    const profileImages = info.images.map(([type, filesystem, suffix]) => {
      const name = `${imagePrefix}-${suffix}`;
      const size = (192 + (hash32(`image size ${device} ${type}`) % 257)) * 1024;
      const bytes = pseudoRandomBytes(`image ${version} ${target} ${device} ${type}`, size);
      const digest = sha256(bytes);
      artifacts.set(name, bytes);
      images.push({ device, type, path: `${targetDir}/${name}`, sha256: digest, size });
      // Signed sysupgrade images end in a metadata trailer that sha256_unsigned leaves out.
      const unsigned = type === 'sysupgrade' ? sha256(bytes.subarray(0, size - 1024)) : digest;
      return { filesystem, name, sha256: digest, sha256_unsigned: unsigned, type };
    });
    const title: Record<string, string> = { model: info.model };
    if (info.variant) title.variant = info.variant;
    title.vendor = info.vendor;
    profiles[device] = {
      device_packages: info.devicePackages,
      image_prefix: imagePrefix,
      images: profileImages,
      supported_devices: [info.supported],
      titles: [title],
    };
  }

  // 25.12 images carry apk instead of opkg.
  const defaultPackages =
    ctx.format === 'apk'
      ? DEFAULT_PACKAGES.map((p) => (p === 'opkg' ? 'apk-mbedtls' : p)).sort()
      : DEFAULT_PACKAGES;
  const profilesJson = {
    arch_packages: ctx.arch,
    default_packages: defaultPackages,
    linux_kernel: { release: ctx.kernel.release, vermagic: ctx.kernel.vermagic, version: ctx.kernel.version },
    metadata_version: 1,
    profiles,
    source_date_epoch: 1759339553,
    target,
    version_code: 'r29087-d9c5716d1d',
    version_number: version,
  };
  artifacts.set('profiles.json', Buffer.from(JSON.stringify(profilesJson), 'utf8'));
  artifacts.set('version.buildinfo', Buffer.from('r29087-d9c5716d1d\n', 'utf8'));
  artifacts.set(
    'feeds.buildinfo',
    Buffer.from(
      [
        'src-git packages https://git.openwrt.org/feed/packages.git^c4d3f1e2b0a9',
        'src-git luci https://git.openwrt.org/project/luci.git^1ab6a58c2d4e',
        'src-git routing https://git.openwrt.org/feed/routing.git^7d0a3c1f9e2b',
        'src-git telephony https://git.openwrt.org/feed/telephony.git^e29b4f7a0c31',
        '',
      ].join('\n'),
      'utf8',
    ),
  );
  artifacts.set(
    'config.buildinfo',
    Buffer.from(
      `CONFIG_TARGET_${target.replace('/', '_')}=y\nCONFIG_ALL_KMODS=y\nCONFIG_ALL_NONSHARED=y\n`,
      'utf8',
    ),
  );
  artifacts.set(
    `${prefix}.manifest`,
    Buffer.from(
      defaultPackages
        .filter((p) => p !== 'libc')
        .map((p) => `${p} - ${version}`)
        .join('\n')
        .concat('\n'),
      'utf8',
    ),
  );

  for (const [name, bytes] of artifacts) files.set(`${targetDir}/${name}`, bytes);
  return images;
}

/**
 * The target's `sha256sums`, signed: as OpenWrt's build writes it, over every file below the target
 * directory — images and profiles.json, and the core (`packages/`) and `kmods/` feeds too.
 */
function signTargetSums(files: Map<string, Buffer>, targetDir: string, signer: UsignSigner): void {
  const names = [...files.keys()]
    .filter((p) => p.startsWith(`${targetDir}/`))
    .map((p) => p.slice(targetDir.length + 1))
    .filter((name) => name !== 'sha256sums' && name !== 'sha256sums.sig')
    .sort();
  const sums = Buffer.from(
    names.map((name) => `${sha256(files.get(`${targetDir}/${name}`) as Buffer)} *${name}\n`).join(''),
    'utf8',
  );
  files.set(`${targetDir}/sha256sums`, sums);
  files.set(`${targetDir}/sha256sums.sig`, Buffer.from(signer.sign(sums), 'utf8'));
}
