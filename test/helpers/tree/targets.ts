/**
 * The known targets, as the real upstream has them: each with its package architecture, its
 * kernel per release series (one kernel version per series, a vermagic of its own per target, as
 * real builds have), its default packages, its own kmods and its devices with their images.
 */
import type { KmodTable } from './feed-tables.js';
import { usbKmods, x86Kmods } from './tables/kmods.js';
import type { Kernel } from './types.js';
import { releaseSeries } from './versions.js';

export interface ImageSpec {
  /** profiles.json `type`: sysupgrade, recovery, kernel, combined, combined-efi, rootfs … */
  type: string;
  /** profiles.json `filesystem`; absent for x86's plain `kernel.bin`. */
  filesystem?: string;
  /** The file name after `openwrt-<ver>-<target>-<subtarget>-<device>-`. */
  suffix: string;
  /** Ends in fwtool metadata, which profiles.json's `sha256_unsigned` leaves out (sysupgrade-able images). */
  metadata?: boolean;
}

export interface DeviceSpec {
  vendor: string;
  model: string;
  variant?: string;
  /** profiles.json `supported_devices`: the board names sysupgrade accepts. */
  supported: string[];
  devicePackages: string[];
  images: ImageSpec[];
}

export interface TargetSpec {
  /** profiles.json `arch_packages`. */
  arch: string;
  /** By release series (`24.10`). */
  kernels: Record<string, Kernel>;
  /** profiles.json `default_packages` of the opkg form (apk's swaps opkg for apk-mbedtls). */
  defaultPackages: string[];
  /** Kmods only this target builds, beside the common table. */
  extraKmods?: KmodTable;
  /** By profile name. */
  devices: Record<string, DeviceSpec>;
}

const initramfs: ImageSpec = { type: 'kernel', filesystem: 'initramfs', suffix: 'initramfs-kernel.bin' };
const squashfsSysupgrade: ImageSpec = {
  type: 'sysupgrade',
  filesystem: 'squashfs',
  suffix: 'squashfs-sysupgrade.bin',
  metadata: true,
};

/** The lab's own target: the defaults of `buildRelease` and of the mirror. */
export const LAB_TARGET = 'ramips/mt7621';

export const KNOWN_TARGETS: Readonly<Record<string, TargetSpec>> = {
  'ramips/mt7621': {
    arch: 'mipsel_24kc',
    kernels: {
      '23.05': { version: '5.15.167', release: '1', vermagic: 'a4c123b1612dd272d1371c17149d4395' },
      '24.10': { version: '6.6.110', release: '1', vermagic: 'f4c2d95b0e7a3816c5d9e02a47b1f368' },
      '25.12': { version: '6.12.74', release: '1', vermagic: '36b3216fdaeeb975729fae923d5a4fd1' },
    },
    // biome-ignore format: a list of names reads best filled
    defaultPackages: [
      'base-files', 'ca-bundle', 'dnsmasq', 'dropbear', 'firewall4', 'fstools', 'kmod-gpio-button-hotplug',
      'kmod-leds-gpio', 'kmod-nft-offload', 'libc', 'libgcc', 'libustream-mbedtls', 'logd', 'mtd', 'netifd',
      'nftables', 'odhcp6c', 'odhcpd-ipv6only', 'opkg', 'ppp', 'ppp-mod-pppoe', 'procd-ujail', 'uboot-envtools',
      'uci', 'uclient-fetch', 'urandom-seed', 'urngd', 'wpad-basic-mbedtls',
    ],
    devices: {
      'dlink_dir-1960-a1': {
        vendor: 'D-Link',
        model: 'DIR-1960',
        variant: 'A1',
        supported: ['dlink,dir-1960-a1'],
        devicePackages: ['kmod-mt7615-firmware', '-uboot-envtools'],
        images: [
          initramfs,
          { type: 'recovery', filesystem: 'squashfs', suffix: 'squashfs-recovery.bin' },
          squashfsSysupgrade,
        ],
      },
      'xiaomi_mi-router-4a-gigabit': {
        vendor: 'Xiaomi',
        model: 'Mi Router 4A',
        variant: 'Gigabit Edition',
        supported: ['xiaomi,mi-router-4a-gigabit'],
        devicePackages: ['kmod-mt7603', 'kmod-mt76x2', '-uboot-envtools'],
        images: [initramfs, squashfsSysupgrade],
      },
    },
  },
  'ramips/mt76x8': {
    arch: 'mipsel_24kc',
    kernels: {
      '23.05': { version: '5.15.167', release: '1', vermagic: '2aabfe228f219e9cb0eb53f16947ccf2' },
      '24.10': { version: '6.6.110', release: '1', vermagic: '5ec84d8dbc74254770f58904dba41ecc' },
      '25.12': { version: '6.12.74', release: '1', vermagic: 'cc3fc1626e53a13043b026c48bbf33fe' },
    },
    // biome-ignore format: a list of names reads best filled
    defaultPackages: [
      'base-files', 'ca-bundle', 'dnsmasq', 'dropbear', 'firewall4', 'fstools', 'kmod-gpio-button-hotplug',
      'kmod-leds-gpio', 'kmod-mt7603', 'kmod-nft-offload', 'libc', 'libgcc', 'libustream-mbedtls', 'logd', 'mtd',
      'netifd', 'nftables', 'odhcp6c', 'odhcpd-ipv6only', 'opkg', 'ppp', 'ppp-mod-pppoe', 'procd-ujail',
      'swconfig', 'uci', 'uclient-fetch', 'urandom-seed', 'urngd', 'wpad-basic-mbedtls',
    ],
    extraKmods: usbKmods,
    devices: {
      'glinet_gl-mt300n-v2': {
        vendor: 'GL.iNet',
        model: 'GL-MT300N',
        variant: 'V2',
        supported: ['glinet,gl-mt300n-v2', 'gl-mt300n-v2'],
        devicePackages: ['kmod-usb2', 'kmod-usb-ohci'],
        images: [initramfs, squashfsSysupgrade],
      },
      'tplink_archer-c50-v4': {
        vendor: 'TP-Link',
        model: 'Archer C50',
        variant: 'v4',
        supported: ['tplink,archer-c50-v4', 'tplink,c50-v4'],
        devicePackages: ['kmod-mt76x2'],
        images: [squashfsSysupgrade],
      },
    },
  },
  // Two more ramips subtargets of the same arch: the benchmark's four sets of one arch.
  'ramips/mt7620': {
    arch: 'mipsel_24kc',
    kernels: {
      '23.05': { version: '5.15.167', release: '1', vermagic: 'dab6b04657f0b51e020aebd125230793' },
      '24.10': { version: '6.6.110', release: '1', vermagic: '3ec7c7ad079f2555ce99897e981e6a31' },
      '25.12': { version: '6.12.74', release: '1', vermagic: 'c2209897736c18ca8cb56c4417696951' },
    },
    // biome-ignore format: a list of names reads best filled
    defaultPackages: [
      'base-files', 'ca-bundle', 'dnsmasq', 'dropbear', 'firewall4', 'fstools', 'kmod-gpio-button-hotplug',
      'kmod-leds-gpio', 'kmod-nft-offload', 'libc', 'libgcc', 'libustream-mbedtls', 'logd', 'mtd', 'netifd',
      'nftables', 'odhcp6c', 'odhcpd-ipv6only', 'opkg', 'ppp', 'ppp-mod-pppoe', 'procd-ujail', 'swconfig',
      'uci', 'uclient-fetch', 'urandom-seed', 'urngd', 'wpad-basic-mbedtls',
    ],
    extraKmods: usbKmods,
    devices: {
      'xiaomi_miwifi-mini': {
        vendor: 'Xiaomi',
        model: 'MiWiFi Mini',
        supported: ['xiaomi,miwifi-mini', 'miwifi-mini'],
        devicePackages: ['kmod-mt76x2', 'kmod-usb2', 'kmod-usb-ohci'],
        images: [initramfs, squashfsSysupgrade],
      },
    },
  },
  'ramips/rt305x': {
    arch: 'mipsel_24kc',
    kernels: {
      '23.05': { version: '5.15.167', release: '1', vermagic: '16b63bac3d5164385aeb667eba7ae41d' },
      '24.10': { version: '6.6.110', release: '1', vermagic: 'd253a09ef204cb53873af3d284441822' },
      '25.12': { version: '6.12.74', release: '1', vermagic: 'bbd85a498cb94dc7c03bd49e57965f98' },
    },
    // biome-ignore format: a list of names reads best filled
    defaultPackages: [
      'base-files', 'ca-bundle', 'dnsmasq', 'dropbear', 'firewall4', 'fstools', 'kmod-gpio-button-hotplug',
      'kmod-leds-gpio', 'kmod-nft-offload', 'libc', 'libgcc', 'logd', 'mtd', 'netifd', 'nftables', 'odhcp6c',
      'odhcpd-ipv6only', 'opkg', 'ppp', 'ppp-mod-pppoe', 'swconfig', 'uci', 'uclient-fetch', 'urandom-seed',
      'urngd', 'wpad-basic-mbedtls',
    ],
    extraKmods: usbKmods,
    devices: {
      'asus_rt-n10-plus': {
        vendor: 'ASUS',
        model: 'RT-N10+',
        supported: ['asus,rt-n10-plus', 'rt-n10-plus'],
        devicePackages: [],
        images: [squashfsSysupgrade],
      },
    },
  },
  'x86/64': {
    arch: 'x86_64',
    kernels: {
      '23.05': { version: '5.15.167', release: '1', vermagic: 'ff9243a8f506b40928b5b7a767c76fb0' },
      '24.10': { version: '6.6.110', release: '1', vermagic: '08f86bebb2737f6a6f0fb23c6f5da2ce' },
      '25.12': { version: '6.12.74', release: '1', vermagic: 'c255404e4fb440034d6608697a8d41be' },
    },
    // biome-ignore format: a list of names reads best filled
    defaultPackages: [
      'base-files', 'ca-bundle', 'dnsmasq', 'dropbear', 'e2fsprogs', 'firewall4', 'fstools', 'grub2-bios-setup',
      'kmod-button-hotplug', 'kmod-nft-offload', 'libc', 'libgcc', 'libustream-mbedtls', 'logd', 'mkf2fs', 'mtd',
      'netifd', 'nftables', 'odhcp6c', 'odhcpd-ipv6only', 'opkg', 'partx-utils', 'ppp', 'ppp-mod-pppoe',
      'procd-ujail', 'uci', 'uclient-fetch', 'urandom-seed', 'urngd',
    ],
    extraKmods: x86Kmods,
    devices: {
      generic: {
        vendor: 'Generic',
        model: 'x86/64',
        supported: ['generic'],
        devicePackages: ['kmod-e1000e', 'kmod-e1000', 'kmod-igb', 'kmod-igc'],
        // x86 upgrades with a combined image: it carries the metadata, there is no `sysupgrade` type.
        images: [
          { type: 'combined-efi', filesystem: 'ext4', suffix: 'ext4-combined-efi.img.gz', metadata: true },
          { type: 'combined', filesystem: 'ext4', suffix: 'ext4-combined.img.gz', metadata: true },
          { type: 'rootfs', filesystem: 'ext4', suffix: 'ext4-rootfs.img.gz' },
          { type: 'kernel', suffix: 'kernel.bin' },
          {
            type: 'combined-efi',
            filesystem: 'squashfs',
            suffix: 'squashfs-combined-efi.img.gz',
            metadata: true,
          },
          { type: 'combined', filesystem: 'squashfs', suffix: 'squashfs-combined.img.gz', metadata: true },
          { type: 'rootfs', filesystem: 'squashfs', suffix: 'squashfs-rootfs.img.gz' },
        ],
      },
    },
  },
};

/** The known target `target`, or a TypeError naming the known ones. */
export function knownTarget(target: string): TargetSpec {
  const spec = KNOWN_TARGETS[target];
  if (!spec) {
    throw new TypeError(`unknown target ${target}: known are ${Object.keys(KNOWN_TARGETS).join(', ')}`);
  }
  return spec;
}

/** `target`'s kernel in `version`'s release series, or a TypeError naming the series it has. */
export function targetKernel(target: string, version: string): Kernel {
  const kernels = knownTarget(target).kernels;
  const kernel = kernels[releaseSeries(version) ?? ''];
  if (!kernel) {
    throw new TypeError(
      `${target} has no kernel for ${version}: known series are ${Object.keys(kernels).join(', ')}`,
    );
  }
  return kernel;
}
