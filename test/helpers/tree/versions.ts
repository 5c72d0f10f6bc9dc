/** What a version string implies: its release series (`24.10` of `24.10.4`) and its package format. */
import type { TreeFormat } from './types.js';

/** `24.10.4` → `24.10`; undefined for a version that does not start with `<major>.<minor>`. */
export function releaseSeries(version: string): string | undefined {
  return /^(\d+\.\d+)(\.|-|$)/.exec(version)?.[1];
}

/** OpenWrt switched to apk with 25.12. */
export function defaultFormat(version: string): TreeFormat {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return 'opkg';
  const major = Number(m[1]);
  return major > 25 || (major === 25 && Number(m[2]) >= 12) ? 'apk' : 'opkg';
}

/** Newest first: numerically by `<major>.<minor>.<patch>`, a final release after its release candidates. */
function byNewest(a: string, b: string): number {
  const key = (v: string) => {
    const [numbers = '', pre] = v.split('-', 2);
    return { parts: numbers.split('.').map(Number), pre };
  };
  const x = key(a);
  const y = key(b);
  for (let i = 0; i < Math.max(x.parts.length, y.parts.length); i++) {
    const d = (y.parts[i] ?? 0) - (x.parts[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return -1;
  if (y.pre === undefined) return 1;
  return y.pre.localeCompare(x.pre);
}

/**
 * The upstream's `/.versions.json` for these releases, as downloads.openwrt.org words it: the newest
 * final release is stable, a newer release candidate is upcoming, the list newest first.
 */
export function versionsFile(versions: string[]): Buffer {
  const list = [...versions].sort(byNewest);
  const stable = list.find((v) => !v.includes('-')) ?? (list[0] as string);
  const upcoming = list.find((v) => v.includes('-') && byNewest(v, stable) < 0);
  const doc = {
    stable_version: stable,
    ...(upcoming !== undefined && { upcoming_version: upcoming }),
    versions_list: list,
  };
  return Buffer.from(`${JSON.stringify(doc, null, 2)}\n`, 'utf8');
}

/** A release's `.targets.json`: target → package architecture, as downloads.openwrt.org lists them. */
export function targetsFile(targets: Record<string, string>): Buffer {
  const sorted = Object.fromEntries(Object.entries(targets).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return Buffer.from(JSON.stringify(sorted), 'utf8');
}
