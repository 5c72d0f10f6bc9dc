/**
 * apk's version comparison (OpenWrt 25.12 on). It is not dpkg's: a version is
 * `digits{.digits}{letter}{_suffix{digits}}…{~hash}{-rN}`, read token by token, and the order of
 * token kinds decides what an extra part means (`1.0_rc1` < `1.0` < `1.0a` < `1.0.1`,
 * `1.0` < `1.0-r1`). Behaviour follows apk-tools' `src/version.c`, invalid versions included:
 * a token that does not fit sorts below any valid one.
 */
import type { Dependency, PackageRecord, VersionOp } from '../../feeds/types.js';
import { meetsOp } from '../../feeds/version-op.js';

// Token kinds, in apk's order: where two versions part ways, the larger kind is the older one.
const INITIAL_DIGIT = 0;
const DIGIT = 1;
const LETTER = 2;
const SUFFIX = 3;
const SUFFIX_NO = 4;
const COMMIT_HASH = 5;
const REVISION_NO = 6;
const END = 7;
const INVALID = 8;

// Suffix ranks: pre-releases below NONE (a plain release), post-releases above it.
const SUFFIX_RANK = new Map<string, number>([
  ['alpha', 1],
  ['beta', 2],
  ['pre', 3],
  ['rc', 4],
  ['cvs', 6],
  ['svn', 7],
  ['git', 8],
  ['hg', 9],
  ['p', 10],
]);
const SUFFIX_NONE = 5;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);

/** One side of a comparison: the version text, where reading stands, and the last token read. */
class Tokens {
  pos = 0;
  token = INITIAL_DIGIT;
  /** The token's text (digits without the `.`, the letter, the suffix name, the hash). */
  value = '';
  number: number | bigint = 0;
  suffix = 0;

  constructor(readonly text: string) {
    if (!this.#digits()) this.token = INVALID;
  }

  #span(accept: (c: number) => boolean): string {
    const start = this.pos;
    while (this.pos < this.text.length && accept(this.text.charCodeAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  /** A run of digits, false when there is none. apk reads it as a wrapping u64: long runs are bigint. */
  #digits(): boolean {
    this.value = this.#span(isDigit);
    if (this.value === '') return false;
    this.number = this.value.length <= 15 ? Number(this.value) : BigInt.asUintN(64, BigInt(this.value));
    return true;
  }

  next(): void {
    this.token = this.#read();
  }

  /** The kind of the token at `pos`, given the one before; INVALID when it may not follow that one. */
  #read(): number {
    const previous = this.token;
    if (this.pos >= this.text.length) return END;
    const c = this.text.charCodeAt(this.pos);
    if (isLower(c)) {
      if (previous > DIGIT) return INVALID;
      this.value = this.text[this.pos] as string;
      this.pos++;
      return LETTER;
    }
    if (c === 46 /* . */ || isDigit(c)) {
      if (c === 46) {
        if (previous > DIGIT) return INVALID;
        this.pos++;
      }
      if (previous !== INITIAL_DIGIT && previous !== DIGIT && previous !== SUFFIX) return INVALID;
      return this.#digits() ? (previous === SUFFIX ? SUFFIX_NO : DIGIT) : INVALID;
    }
    if (c === 95 /* _ */) {
      if (previous > SUFFIX_NO) return INVALID;
      this.pos++;
      this.value = this.#span(isLower);
      const rank = SUFFIX_RANK.get(this.value);
      if (rank === undefined) return INVALID;
      this.suffix = rank;
      return SUFFIX;
    }
    if (c === 126 /* ~ */) {
      if (previous >= COMMIT_HASH) return INVALID;
      this.pos++;
      this.value = this.#span(isHex);
      return this.value === '' ? INVALID : COMMIT_HASH;
    }
    if (c === 45 /* - */) {
      if (previous >= REVISION_NO || this.text[this.pos + 1] !== 'r') return INVALID;
      this.pos += 2;
      return this.#digits() ? REVISION_NO : INVALID;
    }
    return INVALID;
  }
}

/** Byte order, then length: apk's `apk_blob_sort` (the texts compared here are ASCII). */
function sortText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return Math.sign(d);
  }
  return Math.sign(a.length - b.length);
}

const order = (a: number | bigint, b: number | bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/** Two tokens of the same kind. */
function compareTokens(a: Tokens, b: Tokens): number {
  switch (a.token) {
    case DIGIT:
      // A leading zero makes the part compare as text (Gentoo's rule): 1.05 < 1.1.
      if (a.value.startsWith('0') || b.value.startsWith('0')) return sortText(a.value, b.value);
      return order(a.number, b.number);
    case INITIAL_DIGIT:
    case SUFFIX_NO:
    case REVISION_NO:
      return order(a.number, b.number);
    case LETTER:
      return order(a.value.charCodeAt(0), b.value.charCodeAt(0));
    case SUFFIX:
      return order(a.suffix, b.suffix);
    default:
      return sortText(a.value, b.value);
  }
}

/** apk's comparison; with `fuzzy`, `a` matches when `b` is a token-wise prefix of it. */
function compare(a: string, b: string, fuzzy: boolean): number {
  const ta = new Tokens(a);
  const tb = new Tokens(b);
  while (ta.token === tb.token && ta.token < END) {
    const r = compareTokens(ta, tb);
    if (r !== 0) return r;
    ta.next();
    tb.next();
  }
  if (ta.token === tb.token) return 0;
  if (tb.token === END && fuzzy) return 0;
  // Equal so far: the longer one is newer, unless what it has more is a pre-release suffix.
  if (ta.token === SUFFIX && ta.suffix < SUFFIX_NONE) return -1;
  if (tb.token === SUFFIX && tb.suffix < SUFFIX_NONE) return 1;
  if (ta.token > tb.token) return -1;
  if (tb.token > ta.token) return 1;
  return 0;
}

/** Negative when `a` is older than `b`, 0 when apk considers them equal, positive when newer. */
export function compareApkVersions(a: string, b: string): number {
  return compare(a, b, false);
}

/** Whether apk's `isValid` accepts the version: it reads to the end without an invalid token. */
export function isValidApkVersion(version: string): boolean {
  const t = new Tokens(version);
  while (t.token < END) t.next();
  return t.token === END;
}

/**
 * Whether `version` meets `op wanted`. With `fuzzy` (apk's `~`), equality means "`wanted` is a
 * token-wise prefix of `version`": `~1.2` matches 1.2, 1.2.3, 1.2-r1 and 1.2_rc1.
 */
export function satisfiesApk(version: string, op: VersionOp, wanted: string, fuzzy = false): boolean {
  return meetsOp(compare(version, wanted, fuzzy), op);
}

/**
 * The closure's version check for apk feeds (`ClosureRequest.accepts`). A package found by its own
 * name is judged by its version. A provider is accepted whatever the constraint: apk judges it by
 * the version on its `provides` entry, which records do not keep, and holding one package too many
 * is harmless where leaving one out is not.
 */
export function apkAccepts(pkg: PackageRecord, dep: Dependency): boolean {
  if (dep.op === undefined || dep.version === undefined) return true;
  if (pkg.name !== dep.name) return true;
  return satisfiesApk(pkg.version, dep.op, dep.version, dep.fuzzy === true);
}
