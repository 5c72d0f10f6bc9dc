/**
 * The metadata that firmware-selector and attended-sysupgrade (ASU) clients read, which the mirror
 * serves upstream-identical: the upstream's `/.versions.json` (which releases there are) and each
 * release's `.targets.json` (target → package architecture). Neither is signed, so each is held to
 * what those clients read of it, with the characters a release, target or architecture has: every
 * one of them ends up in a URL.
 */
import { UntrustedInputError } from '../errors.js';
import { quoteForMessage } from './filename.js';

export const VERSIONS_FILE = '.versions.json';
export const TARGETS_FILE = '.targets.json';
/** Real ones are a few hundred bytes (.versions.json) and a few KB (.targets.json, ~100 targets). */
export const MAX_METADATA_BYTES = 256 * 1024;

/** What firmware-selector reads of `/.versions.json`. */
export interface VersionsFile {
  stable_version: string;
  versions_list: string[];
  upcoming_version?: string | null | false;
  oldstable_version?: string | null | false;
}

/** `24.10.4`, `25.12.0-rc1`, `SNAPSHOT`: a path segment of `releases/`, and nothing more. */
const VERSION = /^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9.+~-]{0,63}$/;
const TARGET = /^[a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9_-]*$/;
/** `mipsel_24kc`, `arm_cortex-a9_vfpv3-d16`, `x86_64`. */
const ARCH = /^[a-z0-9][a-z0-9_+.-]*$/;
const MAX_ENTRIES = 10_000;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function parse(bytes: Buffer, file: string): unknown {
  if (bytes.length > MAX_METADATA_BYTES) {
    throw new UntrustedInputError(`${file}: ${bytes.length} bytes, more than ${MAX_METADATA_BYTES}`);
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new UntrustedInputError(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** A value as a message shows it: a string quoted, anything else as JSON; long ones cut. */
function shown(value: unknown): string {
  return typeof value === 'string' ? quoteForMessage(value) : String(JSON.stringify(value)).slice(0, 120);
}

function version(value: unknown, file: string, where: string): string {
  if (typeof value !== 'string' || !VERSION.test(value)) {
    throw new UntrustedInputError(`${file}: ${where} ${shown(value)} is not a release name like 24.10.4`);
  }
  return value;
}

/**
 * Checks `/.versions.json` as firmware-selector reads it: `versions_list` (the releases it offers),
 * `stable_version` (its default), `upcoming_version`. An `image_url_override` would send the
 * selector elsewhere for every image, past this mirror: refused. `file` names it in messages.
 */
export function checkVersionsFile(bytes: Buffer, file = VERSIONS_FILE): VersionsFile {
  const doc = parse(bytes, file);
  if (!isObject(doc)) throw new UntrustedInputError(`${file}: the top level is not an object`);
  const list = doc.versions_list;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_ENTRIES) {
    throw new UntrustedInputError(`${file}: versions_list is missing, empty or not a list`);
  }
  for (const [index, entry] of list.entries()) version(entry, file, `versions_list[${index}]`);
  version(doc.stable_version, file, 'stable_version');
  for (const key of ['upcoming_version', 'oldstable_version'] as const) {
    const value = doc[key];
    if (value !== undefined && value !== null && value !== false) version(value, file, key);
  }
  if (
    doc.image_url_override !== undefined &&
    doc.image_url_override !== null &&
    doc.image_url_override !== ''
  ) {
    throw new UntrustedInputError(
      `${file}: image_url_override would send firmware-selector past this mirror for every image`,
    );
  }
  return doc as unknown as VersionsFile;
}

/**
 * Checks a release's `.targets.json` as ASU reads it: an object of `target/subtarget` →
 * package architecture, at least one. Returns it.
 */
export function checkTargetsFile(bytes: Buffer, file = TARGETS_FILE): Record<string, string> {
  const doc = parse(bytes, file);
  if (!isObject(doc)) throw new UntrustedInputError(`${file}: the top level is not an object`);
  const entries = Object.entries(doc);
  if (entries.length === 0 || entries.length > MAX_ENTRIES) {
    throw new UntrustedInputError(`${file}: lists ${entries.length} targets`);
  }
  for (const [target, arch] of entries) {
    if (!TARGET.test(target)) {
      throw new UntrustedInputError(`${file}: ${quoteForMessage(target)} is not a target/subtarget`);
    }
    if (typeof arch !== 'string' || !ARCH.test(arch)) {
      throw new UntrustedInputError(`${file}: ${target}: ${shown(arch)} is not a package architecture`);
    }
  }
  return doc as Record<string, string>;
}
