/** The routing arch feed's table: batctl's three variants (providers of `batctl`) and other mesh daemons. */
import { type PackageSpec, pkg } from './spec.js';

export function routingTable(): PackageSpec[] {
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
