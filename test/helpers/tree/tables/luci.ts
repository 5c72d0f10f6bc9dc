/** The luci arch feed's table: LuCI's runtime, apps (`Architecture: all`) and a translation. */
import { type PackageSpec, pkg } from './spec.js';

export function luciTable(): PackageSpec[] {
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
