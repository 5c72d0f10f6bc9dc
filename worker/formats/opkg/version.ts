/**
 * opkg version comparison. It must order versions exactly as opkg on a node does, or the mirror
 * would leave out the package a versioned dependency (`kernel (=6.6.110~…-r1)`) makes opkg pick.
 * Behaviour follows opkg-lede's `parse_version`, `verrevcmp` (from dpkg) and `pkg_compare_versions`.
 */
import type { Dependency, PackageRecord, VersionOp } from '../../feeds/types.js';
import { meetsOp } from '../../feeds/version-op.js';

interface ParsedVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

/** `[epoch:]upstream[-revision]`: epoch before the first `:`, revision after the last `-`. */
function parseVersion(version: string): ParsedVersion {
  let rest = version.trimStart();
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    // opkg reads the epoch with strtoul: leading digits count, anything else reads as 0.
    const digits = /^\s*(\d+)/.exec(rest.slice(0, colon));
    epoch = digits?.[1] !== undefined ? Number(digits[1]) : 0;
    rest = rest.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return { epoch, upstream: rest, revision: '' };
  return { epoch, upstream: rest.slice(0, dash), revision: rest.slice(dash + 1) };
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Sort weight of one character outside a digit run: `~` before the end, the end before letters, letters before the rest. */
function order(c: number): number {
  if (c === 126) return -1; // '~'
  if (Number.isNaN(c) || isDigit(c)) return 0; // end of string (NaN from charCodeAt) ranks like a digit
  if (isAlpha(c)) return c;
  return c + 256;
}

/** dpkg's verrevcmp: alternate non-digit runs (compared by `order`) and digit runs (compared numerically). */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(a.charCodeAt(i));
      const bc = order(b.charCodeAt(j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    // Equal-length digit runs are decided by their first differing digit; a longer run is larger.
    let firstDiff = 0;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** Negative when `a` is older than `b`, 0 when opkg considers them equal, positive when newer. */
export function compareVersions(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch > vb.epoch ? 1 : -1;
  return Math.sign(verrevcmp(va.upstream, vb.upstream) || verrevcmp(va.revision, vb.revision));
}

/** Whether `version` meets `op wanted`, with the Debian meaning of each operator (`<<` strictly less). */
export function satisfies(version: string, op: VersionOp, wanted: string): boolean {
  return meetsOp(compareVersions(version, wanted), op);
}

/**
 * The operator at the start of a constraint such as `>=1.2` or `= 1.2`, with its length in the
 * text. The legacy `<` and `>` mean `<=` and `>=` (as in opkg and dpkg); undefined when none.
 */
export function parseVersionOp(text: string): { op: VersionOp; length: number } | undefined {
  const two = text.slice(0, 2);
  if (two === '<<' || two === '<=' || two === '>=' || two === '>>') return { op: two, length: 2 };
  if (text.startsWith('=')) return { op: '=', length: 1 };
  if (text.startsWith('<')) return { op: '<=', length: 1 };
  if (text.startsWith('>')) return { op: '>=', length: 1 };
  return undefined;
}

/**
 * Whether opkg's resolver takes `pkg` for `dep`. Its version_constraints_satisfied accepts an
 * equal version whatever the operator (so `<<`/`>>` also match equality): follow opkg, not Debian,
 * because the mirror must hold what opkg would pick. A provider is judged by its own version.
 */
export function opkgAccepts(pkg: PackageRecord, dep: Dependency): boolean {
  if (dep.op === undefined || dep.version === undefined) return true;
  return compareVersions(pkg.version, dep.version) === 0 || satisfies(pkg.version, dep.op, dep.version);
}
