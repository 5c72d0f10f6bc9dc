/** The base arch feed's table (`packages/<arch>/base/`): OpenWrt's own packages. */
import { type PackageSpec, pkg } from './spec.js';

export function baseTable(): PackageSpec[] {
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
