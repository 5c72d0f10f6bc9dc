/**
 * Where the apk (25.12) form's tables differ from the opkg ones: packages only one form has, and
 * the per-package changes OpenWrt's `package-pack.mk` makes when CONFIG_USE_APK is set (`../apk.ts`
 * derives the rest: versions, dependencies, provides).
 */
import type { FeedName, PackageSpec } from './spec.js';
import { pkg } from './spec.js';

/** An opkg `a | b` item → the virtual name the apk form's candidates provide instead. */
export const ALTERNATIVE_VIRTUALS: Record<string, string> = {
  'libustream-mbedtls | libustream-openssl': 'libustream',
};

export interface ApkChange {
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
export const APK_CHANGES: Record<string, ApkChange> = {
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
export const OPKG_ONLY = new Set(['opkg']);

/** Packages only the apk form has. */
export function apkOnlyTable(): Partial<Record<FeedName, PackageSpec[]>> {
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
