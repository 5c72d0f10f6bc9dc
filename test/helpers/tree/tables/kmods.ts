/** The kmods feed's table: kernel modules pinned to one kernel, the same names on every target. */
import { type PackageSpec, pkg } from './spec.js';

export function kmodTable(kernelVersion: string, kernelDep: string): PackageSpec[] {
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

/** A kmod of a target's own table: in-tree, pinned to the kernel like the common ones. */
function targetKmod(kernelVersion: string, kernelDep: string) {
  return (name: string, deps: string[], description: string) =>
    pkg(name, `${kernelVersion}-r1`, [kernelDep, ...deps].join(', '), {
      license: 'GPL-2.0-only',
      section: 'kernel',
      description,
    });
}

/** x86/64's own network and bus drivers (what its `generic` device pulls in), beside the common table. */
export function x86Kmods(kernelVersion: string, kernelDep: string): PackageSpec[] {
  const k = targetKmod(kernelVersion, kernelDep);
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    k('kmod-e1000', [], 'Kernel modules for Intel(R) PRO/1000 PCI Ethernet adapters.'),
    k('kmod-e1000e', ['kmod-ptp'], 'Kernel modules for Intel(R) PRO/1000 PCIe Ethernet adapters.'),
    k('kmod-igb', ['kmod-i2c-core', 'kmod-i2c-algo-bit', 'kmod-ptp', 'kmod-hwmon-core'], 'Kernel modules for Intel(R) 82575/82576 PCI-Express Gigabit Ethernet adapters.'),
    k('kmod-igc', ['kmod-ptp'], 'Kernel modules for Intel(R) Ethernet Controller I225 Series'),
    k('kmod-ptp', ['kmod-pps'], 'The IEEE 1588 standard defines a method to precisely\nsynchronize distributed clocks over Ethernet networks.'),
    k('kmod-pps', [], 'PPS (Pulse Per Second) is a special pulse provided by some GPS\nantennae.'),
    k('kmod-i2c-core', [], 'Kernel modules for I2C support'),
    k('kmod-i2c-algo-bit', ['kmod-i2c-core'], 'Kernel modules for I2C bit-banging interfaces'),
    k('kmod-hwmon-core', [], 'Kernel modules for hardware monitoring'),
  ];
}

/** USB host drivers, for the ramips/mt76x8 boards with a USB port (GL.iNet GL-MT300N V2). */
export function usbKmods(kernelVersion: string, kernelDep: string): PackageSpec[] {
  const k = targetKmod(kernelVersion, kernelDep);
  // biome-ignore format: one package per line, so the table reads as a table
  return [
    k('kmod-nls-base', [], 'Kernel module for NLS (Native Language Support)'),
    k('kmod-usb-core', ['kmod-nls-base'], 'Kernel support for USB'),
    k('kmod-usb-ehci', ['kmod-usb-core'], 'Kernel support for USB EHCI controllers'),
    k('kmod-usb2', ['kmod-usb-core', 'kmod-usb-ehci'], 'Kernel support for USB2 (EHCI) controllers'),
    k('kmod-usb-ohci', ['kmod-usb-core'], 'Kernel support for USB OHCI controllers'),
  ];
}
