/**
 * Names that come from upstream (an index's `Filename`, an image name, a sha256sums path) become
 * paths under MIRROR_DIR. Everything that can climb out of a directory, hide a file or confuse a
 * shell or a log line is refused here, before any path is built.
 */
import { UntrustedInputError } from '../errors.js';

/** Longest file name most file systems accept (ext4, xfs, btrfs: 255 bytes). */
const MAX_NAME_BYTES = 255;
/** Longest relative path we accept; PATH_MAX is 4096 and MIRROR_DIR needs room too. */
const MAX_PATH_BYTES = 1024;

// C0 controls, DEL and C1 controls: they break log lines and terminals, and NUL truncates paths.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `name` is not a safe bare file name, or undefined when it is. */
function fileNameFault(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.includes('/')) return "it contains '/'";
  if (name.includes('\\')) return "it contains '\\'";
  if (name === '.' || name === '..') return 'it names a directory';
  if (name.startsWith('.')) return "it starts with '.'";
  if (CONTROL.test(name)) return 'it contains a control character';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `it is longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

/** A value quoted for an error message, cut short so a hostile megabyte does not flood the log. */
export function quoteForMessage(value: string, max = 120): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(cut);
}

/** A feed directory's own files: a package file of one of these names would replace it. */
export const FEED_INDEX_NAMES: readonly string[] = [
  'Packages',
  'Packages.gz',
  'Packages.sig',
  'Packages.manifest',
  'index.json',
  'packages.adb',
];

/** What a target directory holds besides its images: an image of one of these names would replace it. */
export const TARGET_DIR_NAMES: readonly string[] = [
  'profiles.json',
  'sha256sums',
  'sha256sums.sig',
  'packages',
  'kmods',
];

/**
 * Returns `name` when it is a bare file name that is safe to create inside a directory and is none
 * of `reserved` (compared without case, as a case-insensitive file system would); throws
 * `UntrustedInputError` naming `what`, the value and the reason otherwise.
 */
export function assertSafeFileName(name: string, what: string, reserved: readonly string[] = []): string {
  const lower = name.toLowerCase();
  const taken = reserved.find((other) => other.toLowerCase() === lower);
  const fault = fileNameFault(name) ?? (taken && `it is the name of the directory's own ${taken}`);
  if (fault !== undefined) {
    throw new UntrustedInputError(`${what} ${quoteForMessage(name)} is not a safe file name: ${fault}`);
  }
  return name;
}

/**
 * Returns `path` when it is a relative path (`targets/ramips/mt7621/x.bin`) whose every segment is
 * a safe file name: no absolute path, no empty segment, no `.`/`..`, no hidden segment.
 */
export function assertSafeRelativePath(path: string, what = 'path'): string {
  const refuse = (fault: string): never => {
    throw new UntrustedInputError(`${what} ${quoteForMessage(path)} is not a safe relative path: ${fault}`);
  };
  if (path.length === 0) refuse('it is empty');
  if (path.startsWith('/')) refuse('it is absolute');
  if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) refuse(`it is longer than ${MAX_PATH_BYTES} bytes`);
  for (const segment of path.split('/')) {
    if (segment.length === 0) refuse('it has an empty segment');
    const fault = fileNameFault(segment);
    if (fault !== undefined) refuse(`segment ${quoteForMessage(segment)}: ${fault}`);
  }
  return path;
}
