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
