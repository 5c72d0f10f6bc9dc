/** The release picks the format: apk from OpenWrt 25.12 on, opkg before. */
import { apkFormat } from './apk/strategy.js';
import type { FeedFormat, FormatName } from './format.js';
import { opkgFormat } from './opkg/strategy.js';

export type { CheckedIndex, FeedFormat, FormatName } from './format.js';

const FORMATS: Record<FormatName, FeedFormat> = { opkg: opkgFormat, apk: apkFormat };

/** Every format, each once. */
export function allFormats(): FeedFormat[] {
  return Object.values(FORMATS);
}

/** The strategy of a format recorded by name (status.json's `format`). */
export function formatNamed(name: FormatName | undefined): FeedFormat {
  return FORMATS[name ?? 'opkg'];
}

export function formatFor(version: string): FeedFormat {
  const match = /^(\d+)\.(\d+)/.exec(version);
  const major = Number(match?.[1] ?? 0);
  const minor = Number(match?.[2] ?? 0);
  return major > 25 || (major === 25 && minor >= 12) ? apkFormat : opkgFormat;
}
