/**
 * The lab's package lists (product.md, `.env.example`) and their closures, written out by hand:
 * the independent truth of what a selective mirror must hold, per format and per set.
 */
import type { ReleaseTree } from './types.js';

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

/** The hand-written lab closure of `tree`'s format: the same names for every target and arch. */
export function labClosurePackages(tree: Pick<ReleaseTree, 'format'>): readonly string[] {
  return tree.format === 'apk' ? LAB_CLOSURE_APK_PACKAGES : LAB_CLOSURE_PACKAGES;
}

/**
 * Feed-dir-relative paths (`<feed dir>/<filename>`) of every package file (ipk or apk) in the lab
 * closure, in every feed of `tree` that has it: for a set of an upstream, its core, its kmods and
 * its arch feeds.
 */
export function labClosure(tree: Pick<ReleaseTree, 'format' | 'feeds'>): Set<string> {
  const wanted = new Set(labClosurePackages(tree));
  const paths = new Set<string>();
  for (const feed of tree.feeds) {
    for (const pkg of feed.packages) if (wanted.has(pkg.name)) paths.add(`${feed.dir}/${pkg.filename}`);
  }
  return paths;
}

/** The feeds of a 24.10 device's distfeeds.conf, in its order: the names a node's feed lines carry. */
export const NODE_FEEDS = [
  'openwrt_core',
  'openwrt_base',
  'openwrt_kmods',
  'openwrt_luci',
  'openwrt_packages',
  'openwrt_routing',
  'openwrt_telephony',
] as const;
