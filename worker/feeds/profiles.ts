/**
 * A target's `profiles.json` (package architecture, kernel, device images) and `sha256sums`.
 * Both come from upstream: every field is checked for shape before it names a path.
 */
import { UntrustedInputError } from '../errors.js';
import { byCodeUnits } from '../order.js';
import { assertSafeFileName, assertSafeRelativePath, quoteForMessage, TARGET_DIR_NAMES } from './filename.js';

export interface KernelInfo {
  version: string;
  release: string;
  vermagic: string;
}

export interface DeviceImage {
  /** `sysupgrade`, `factory`, `recovery`, `kernel`, ... */
  type: string;
  /** Bare file name in the target directory. */
  name: string;
  /** Lowercase hex SHA-256. */
  sha256: string;
}

export interface DeviceProfile {
  /** Human names, e.g. `D-Link DIR-1960 A1`. */
  titles?: string[];
  images: DeviceImage[];
}

export interface Profiles {
  /** Package architecture (`arch_packages`), e.g. `mipsel_24kc`. */
  arch: string;
  kernel: KernelInfo;
  /** The kmods feed directory: `${version}-${release}-${vermagic}`. */
  kmodsDir: string;
  /** `ramips/mt7621`, when the file says. */
  target?: string;
  /** `24.10.4`, when the file says. */
  versionNumber?: string;
  profiles: Map<string, DeviceProfile>;
  /** Device profiles or images left out because they were malformed, one line each. */
  problems: string[];
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A non-empty string field; numbers are accepted as their decimal text (`"release": 1`). */
function text(obj: Json, key: string, where: string): string {
  const v = obj[key];
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || v.trim() === '') {
    throw new UntrustedInputError(`profiles.json: ${where}${key} is missing or not a string`);
  }
  return v.trim();
}

/** `{"vendor","model","variant"}` → `Vendor Model Variant`; `{"title"}` as is. */
function titleOf(t: unknown): string | undefined {
  if (!isObject(t)) return undefined;
  if (typeof t.title === 'string') return t.title;
  const parts = [t.vendor, t.model, t.variant].filter((p): p is string => typeof p === 'string' && p !== '');
  return parts.length > 0 ? parts.join(' ') : undefined;
}

function parseImage(image: unknown, id: string, index: number): DeviceImage {
  const where = `profile ${id} image ${index}: `;
  if (!isObject(image)) throw new UntrustedInputError(`profiles.json: ${where}not an object`);
  const type = text(image, 'type', where);
  const name = assertSafeFileName(
    text(image, 'name', where),
    `profiles.json: ${where}name`,
    TARGET_DIR_NAMES,
  );
  const sha256 = text(image, 'sha256', where);
  if (!SHA256_HEX.test(sha256)) {
    throw new UntrustedInputError(
      `profiles.json: ${where}sha256 ${quoteForMessage(sha256)} is not 64 hex digits`,
    );
  }
  return { type, name, sha256: sha256.toLowerCase() };
}

/**
 * Parses `profiles.json`. The release-wide fields (arch, kernel) must be right or nothing can be
 * mirrored: they throw `UntrustedInputError`. A malformed device profile or image is left out and
 * described in `problems`, so one bad entry does not cost every other device its images.
 */
export function parseProfiles(json: string): Profiles {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new UntrustedInputError(`profiles.json is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(doc)) throw new UntrustedInputError('profiles.json: top level is not an object');

  // Both end up as directory names of feeds on disk and in URLs.
  const arch = assertSafeFileName(text(doc, 'arch_packages', ''), 'profiles.json: arch_packages');
  const linux = doc.linux_kernel;
  if (!isObject(linux))
    throw new UntrustedInputError('profiles.json: linux_kernel is missing or not an object');
  const kernel: KernelInfo = {
    version: text(linux, 'version', 'linux_kernel.'),
    release: text(linux, 'release', 'linux_kernel.'),
    vermagic: text(linux, 'vermagic', 'linux_kernel.'),
  };
  const kmodsDir = assertSafeFileName(
    `${kernel.version}-${kernel.release}-${kernel.vermagic}`,
    'profiles.json: kmods directory (linux_kernel)',
  );

  const problems: string[] = [];
  const profiles = new Map<string, DeviceProfile>();
  const devices = doc.profiles;
  if (devices !== undefined && !isObject(devices)) {
    throw new UntrustedInputError('profiles.json: profiles is not an object');
  }
  for (const [id, raw] of Object.entries(devices ?? {})) {
    try {
      if (!isObject(raw)) throw new UntrustedInputError(`profiles.json: profile ${id}: not an object`);
      const images = raw.images ?? [];
      if (!Array.isArray(images))
        throw new UntrustedInputError(`profiles.json: profile ${id}: images is not a list`);
      const profile: DeviceProfile = { images: images.map((image, i) => parseImage(image, id, i)) };
      if (Array.isArray(raw.titles)) {
        const titles = raw.titles.map(titleOf).filter((t): t is string => t !== undefined);
        if (titles.length > 0) profile.titles = titles;
      }
      profiles.set(id, profile);
    } catch (err) {
      if (!(err instanceof UntrustedInputError)) throw err;
      problems.push(`${err.message}; device left out`);
    }
  }

  const result: Profiles = { arch, kernel, kmodsDir, profiles, problems };
  if (typeof doc.target === 'string') result.target = doc.target;
  if (typeof doc.version_number === 'string') result.versionNumber = doc.version_number;
  return result;
}

/**
 * Parses `sha256sums` (`<hex> *<path>` from `sha256sum -b`, or `<hex>  <path>` in text mode) into
 * path → lowercase hex. The file is signed, so a line that does not fit means a broken or forged
 * file: it throws `UntrustedInputError` naming the line rather than guessing.
 */
export function parseSha256Sums(content: string): Map<string, string> {
  const sums = new Map<string, string>();
  const lines = content.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    const hex = m?.[1];
    const rawPath = m?.[2];
    if (hex === undefined || rawPath === undefined) {
      throw new UntrustedInputError(
        `sha256sums line ${i + 1} ${quoteForMessage(line)} is not "<sha256> *<path>"`,
      );
    }
    const path = assertSafeRelativePath(rawPath.replace(/^(\.\/)+/, ''), `sha256sums line ${i + 1}: path`);
    const sha256 = hex.toLowerCase();
    const earlier = sums.get(path);
    if (earlier !== undefined && earlier !== sha256) {
      throw new UntrustedInputError(`sha256sums lists ${quoteForMessage(path)} twice with different sums`);
    }
    sums.set(path, sha256);
  }
  return sums;
}

/** Levenshtein distance, two rows. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * Up to `n` of `known` closest to `unknown`, for "did you mean". A known id containing the typed
 * one (`dir-1960` → `dlink_dir-1960-a1`) counts as close; otherwise ids further than about a third
 * of the length away are not suggested, since a far-off guess helps nobody.
 */
export function closestIds(unknown: string, known: string[], n = 3): string[] {
  const wanted = unknown.toLowerCase();
  const limit = Math.max(2, Math.ceil(wanted.length / 3));
  return known
    .map((id) => {
      const lower = id.toLowerCase();
      if (lower.includes(wanted) && wanted.length > 0) return { id, distance: 0.5 };
      // The distance is at least the difference in length: skip the quadratic work where that
      // already rules an id out (a hostile profiles.json may list thousands of huge ids).
      if (Math.abs(lower.length - wanted.length) > limit) return { id, distance: Number.POSITIVE_INFINITY };
      return { id, distance: editDistance(wanted, lower) };
    })
    .filter((c) => c.distance <= limit)
    .sort((a, b) => a.distance - b.distance || a.id.length - b.id.length || byCodeUnits(a.id, b.id))
    .slice(0, n)
    .map((c) => c.id);
}
