/** The target core feed's (`targets/<t>/<s>/packages/`) own packages: toolchain libraries and target tools. */
import { type PackageSpec, pkg } from './spec.js';

export function coreTable(): PackageSpec[] {
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
