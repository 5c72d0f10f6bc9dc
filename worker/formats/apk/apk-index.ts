/**
 * The apk v3 repository index (`packages.adb`, OpenWrt 25.12 on), read into the records the
 * closure and the planner use. A malformed container or value refuses the whole index (the
 * structure is what the signature covers; there is nothing safe to salvage); a well-formed
 * package that cannot be mirrored safely (hostile name, no file size, odd identity) is skipped and
 * described in `problems`, as the opkg parser does with a stanza.
 */
import { UntrustedInputError } from '../../errors.js';
import { encodeDepends } from '../../feeds/depends.js';
import { descriptionLine } from '../../feeds/description.js';
import { assertSafeFileName, FEED_INDEX_NAMES, quoteForMessage } from '../../feeds/filename.js';
import type { Dependency, PackageRecord, RecordFields, VersionOp } from '../../feeds/types.js';
import { ADB_SCHEMA_INDEX, type AdbBlock, type AdbObject, AdbPayload, readAdbFile } from './adb.js';

/** Most packages accepted by default; the largest real feed holds about 10k. */
export const DEFAULT_MAX_APK_PACKAGES = 100_000;
/** Problems kept word for word; past this only a count, so a hostile index cannot flood the log. */
const MAX_PROBLEMS = 100;

// Index root fields.
const ROOT_DESCRIPTION = 1;
const ROOT_PACKAGES = 2;
// Package fields.
const PI_NAME = 1;
const PI_VERSION = 2;
const PI_HASHES = 3;
const PI_DESCRIPTION = 4;
const PI_ARCH = 5;
const PI_ORIGIN = 7;
const PI_FILE_SIZE = 13;
const PI_DEPENDS = 15;
const PI_PROVIDES = 16;
const PI_INSTALL_IF = 18;
const PI_TAGS = 21;
// Dependency fields.
const DEP_NAME = 1;
const DEP_VERSION = 2;
const DEP_MATCH = 3;

// Match bits of a dependency.
const MATCH_EQUAL = 1;
const MATCH_LESS = 2;
const MATCH_GREATER = 4;
const MATCH_FUZZY = 8;
const MATCH_CONFLICT = 16;

/** SIG blocks accepted; real indexes carry one or two, and each costs a signature check. */
export const MAX_APK_SIGNATURES = 16;

/** The identity is SHA-256 (32 bytes); older tools wrote SHA-1 unique ids, which prove nothing. */
const IDENTITY_BYTES = 32;

export interface ApkSignature {
  /** 4 SHA-512, 3 SHA-256 (5 SHA-256 cut to 160 bits). */
  hashAlg: number;
  /** 32 lowercase hex digits. */
  keyId: string;
  signature: Buffer;
}

export interface ApkPackageRecord extends PackageRecord {
  /** OpenWrt's `openwrt:abiversion=N` tag: the name carries N as a suffix (`libubox20260213`). */
  abiVersion?: string;
}

export interface ApkIndex {
  schema: 'indx';
  description?: string;
  packages: ApkPackageRecord[];
  /** One line per skipped package or unusable SIG block. */
  problems: string[];
  signatures: ApkSignature[];
  /** The ADB block payload: what the signatures cover. */
  adbPayload: Buffer;
}

export interface ApkIndexOptions {
  /** The index's name for messages (default `packages.adb`). */
  what?: string;
  /** Most decompressed bytes accepted (default 64 MiB). */
  maxBytes?: number;
  /** Most packages accepted (default 100,000). */
  maxPackages?: number;
  /** Which fields the records carry (default all). */
  fields?: RecordFields;
}

/** A package that is well-formed but cannot be mirrored; it is skipped, not the whole index. */
class EntryError extends UntrustedInputError {}

// Control characters and white space would garble a log line or a dependency list.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const NAME = /^[^\s\u0000-\u001f\u007f-\u009f]+$/;

function checkName(name: string, what: string): string {
  if (!NAME.test(name) || name.length > 255) {
    throw new EntryError(`${what} ${quoteForMessage(name)} is not a package name`);
  }
  return name;
}

/** The relation bits of an apk dependency as our operator; undefined for "any version". */
function toOp(match: number): VersionOp | undefined {
  switch (match & (MATCH_EQUAL | MATCH_LESS | MATCH_GREATER)) {
    case MATCH_EQUAL:
      return '=';
    case MATCH_LESS:
      return '<<';
    case MATCH_GREATER:
      return '>>';
    case MATCH_EQUAL | MATCH_LESS:
      return '<=';
    case MATCH_EQUAL | MATCH_GREATER:
      return '>=';
    case 0:
      // A lone `~`: the fuzzy prefix match on equality.
      return '=';
    default:
      // Every relation (any version), or `><` (a checksum pin, never a version order).
      return undefined;
  }
}

/**
 * A dependency object; undefined for a conflict (`!name`): it names what must not be installed,
 * which the mirror has no use for. No version means any version; a version with match 0 means `=`.
 */
function toDependency(dep: AdbObject): Dependency | undefined {
  const name = dep.string(DEP_NAME, 'name');
  if (name === undefined) throw new EntryError(`${dep.where} has no name`);
  checkName(name, 'dependency');
  const version = dep.string(DEP_VERSION, 'version');
  const match = dep.int(DEP_MATCH, 'match') ?? 0;
  if (match & MATCH_CONFLICT) return undefined;
  if (version === undefined) return { name };
  if (!NAME.test(version)) {
    throw new EntryError(
      `dependency ${quoteForMessage(name)} version ${quoteForMessage(version)} is empty or contains white space or a control character`,
    );
  }
  const op = toOp(match === 0 ? MATCH_EQUAL : match);
  if (op === undefined) return { name };
  const result: Dependency = { name, op, version };
  if (match & MATCH_FUZZY) result.fuzzy = true;
  return result;
}

function dependencies(list: AdbObject | undefined): Dependency[] {
  const result: Dependency[] = [];
  if (list === undefined) return result;
  for (const item of list.objects()) {
    const dep = toDependency(item);
    if (dep !== undefined) result.push(dep);
  }
  return result;
}

function toRecord(pkg: AdbObject, fields: RecordFields): ApkPackageRecord {
  const name = pkg.string(PI_NAME, 'name');
  const version = pkg.string(PI_VERSION, 'version');
  if (name === undefined) throw new EntryError('it has no name');
  if (version === undefined) throw new EntryError('it has no version');
  checkName(name, 'name');
  if (!NAME.test(version)) {
    throw new EntryError(
      `version ${quoteForMessage(version)} is empty or contains white space or a control character`,
    );
  }
  let filename: string;
  try {
    filename = assertSafeFileName(`${name}-${version}.apk`, 'package file name', FEED_INDEX_NAMES);
  } catch (error) {
    throw new EntryError((error as Error).message);
  }
  const identity = pkg.blob(PI_HASHES, 'hashes');
  if (identity === undefined) throw new EntryError('it has no identity (hashes)');
  if (identity.length !== IDENTITY_BYTES) {
    throw new EntryError(
      `its identity is ${identity.length} bytes, expected a ${IDENTITY_BYTES}-byte SHA-256`,
    );
  }
  const size = pkg.int(PI_FILE_SIZE, 'file-size');
  if (size === undefined || size === 0) throw new EntryError('it has no file-size');

  // A Set: a hostile index may list hundreds of thousands of names, and a list scan per name is quadratic.
  const provides = new Set<string>();
  for (const item of pkg.object(PI_PROVIDES, 'provides')?.objects() ?? []) {
    const provided = item.string(DEP_NAME, 'name');
    if (provided === undefined) throw new EntryError(`${item.where} has no name`);
    checkName(provided, 'provided name');
    provides.add(provided);
  }
  const record: ApkPackageRecord = {
    name,
    version,
    filename,
    size,
    sha256: identity.toString('hex'),
    // apk has no `a | b`: every item is a single alternative.
    depends: encodeDepends(dependencies(pkg.object(PI_DEPENDS, 'depends')).map((dep) => [dep])),
    provides: [...provides],
  };
  // Read in either case, so that both parses skip the same packages; kept only when asked for.
  const architecture = pkg.string(PI_ARCH, 'arch');
  const origin = pkg.string(PI_ORIGIN, 'origin');
  if (origin !== undefined) record.origin = origin;
  const description = pkg.string(PI_DESCRIPTION, 'description');
  if (fields === 'all') {
    if (architecture !== undefined) record.architecture = architecture;
    if (description) record.description = descriptionLine(description);
  }
  // Conflict items are dropped; a rule made only of them never fires here.
  const installIf = dependencies(pkg.object(PI_INSTALL_IF, 'install-if'));
  if (installIf.length > 0) record.installIf = installIf;
  for (const tag of pkg.object(PI_TAGS, 'tags')?.strings() ?? []) {
    if (tag.startsWith('openwrt:abiversion=')) record.abiVersion = tag.slice('openwrt:abiversion='.length);
  }
  return record;
}

/** The SIG blocks that have apk's v0 layout: u8 version 0, u8 hash algorithm, 16-byte key id, signature. */
function readSignatures(blocks: readonly AdbBlock[], problems: string[], what: string): ApkSignature[] {
  const signatures: ApkSignature[] = [];
  const sigBlocks = blocks.filter((block) => block.type === 'sig');
  if (sigBlocks.length > MAX_APK_SIGNATURES) {
    throw new UntrustedInputError(`${what}: ${sigBlocks.length} SIG blocks, more than ${MAX_APK_SIGNATURES}`);
  }
  for (const block of sigBlocks) {
    const sig = block.payload;
    if (sig.length < 18 || sig[0] !== 0) {
      problems.push(
        `${what}: SIG block at offset ${block.offset} ignored: ` +
          (sig.length < 18 ? `${sig.length} bytes is too short` : `signature version ${sig[0]} is unknown`),
      );
      continue;
    }
    signatures.push({
      hashAlg: sig[1] as number,
      keyId: sig.subarray(2, 18).toString('hex'),
      signature: sig.subarray(18),
    });
  }
  return signatures;
}

/** The container and its signatures: what a signature check needs, before any package is read. */
export type ApkIndexEnvelope = Pick<ApkIndex, 'schema' | 'signatures' | 'adbPayload' | 'problems'>;

/**
 * Reads only the container and the SIG blocks of a `packages.adb` (ADB., ADBd or ADBc deflate), so
 * that its signature can be checked before anything it signs is parsed. Throws
 * `UntrustedInputError` when the file is not a well-formed ADB index container.
 */
export function readApkIndexEnvelope(file: Buffer, options: ApkIndexOptions = {}): ApkIndexEnvelope {
  const what = options.what ?? 'packages.adb';
  const container = readAdbFile(file, { what, schema: ADB_SCHEMA_INDEX, maxBytes: options.maxBytes });
  const problems: string[] = [];
  const signatures = readSignatures(container.blocks, problems, what);
  // The ADB block header is checked as for a full parse.
  new AdbPayload(container.adb, { what });
  return { schema: 'indx', signatures, adbPayload: container.adb, problems };
}

/**
 * Reads the packages of an index whose envelope was read (and, for anything from upstream, whose
 * signature was checked) first. The work is linear in the size of the ADB block: every slot read
 * and blob byte is charged to the payload's budget, and nothing per package grows with the square
 * of anything. Skipped packages are listed in `problems`.
 */
export function readApkIndexPackages(envelope: ApkIndexEnvelope, options: ApkIndexOptions = {}): ApkIndex {
  const what = options.what ?? 'packages.adb';
  const maxPackages = options.maxPackages ?? DEFAULT_MAX_APK_PACKAGES;
  const problems = [...envelope.problems];
  let dropped = 0;
  const problem = (line: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push(line);
    else dropped++;
  };
  const adb = new AdbPayload(envelope.adbPayload, { what });
  const root = adb.root();
  const index: ApkIndex = {
    schema: 'indx',
    packages: [],
    problems,
    signatures: envelope.signatures,
    adbPayload: envelope.adbPayload,
  };
  const description = root.string(ROOT_DESCRIPTION, 'description');
  if (description !== undefined) index.description = description;

  const list = root.object(ROOT_PACKAGES, 'packages');
  if (list === undefined) return index;
  if (list.length > maxPackages) {
    throw new UntrustedInputError(
      `${what}: ${list.length} packages is more than the limit of ${maxPackages}`,
    );
  }
  const seen = new Map<string, number>(); // file name → package number, to catch duplicates
  for (let i = 1; i <= list.length; i++) {
    const pkg = list.object(i);
    if (pkg === undefined) throw adb.fail(`${list.where}[${i}]`, 'is null, expected a package');
    try {
      const record = toRecord(pkg, options.fields ?? 'all');
      const earlier = seen.get(record.filename);
      // Two entries for one file would make it ambiguous which identity the file must have.
      if (earlier !== undefined) throw new EntryError(`it names the same file as package #${earlier}`);
      seen.set(record.filename, i);
      index.packages.push(record);
    } catch (error) {
      if (!(error instanceof EntryError)) throw error;
      const name = safeName(pkg);
      problem(`${what}: package #${i}${name ? ` ${quoteForMessage(name)}` : ''} skipped: ${error.message}`);
    }
  }
  if (dropped > 0) problems.push(`${what}: ${dropped} more packages skipped`);
  return index;
}

/**
 * Parses a `packages.adb` whole. Does not check the signature: for anything from upstream use
 * `readApkIndexEnvelope`, `verifyApkIndex`, then `readApkIndexPackages`, so that an unsigned index
 * costs no more than its container.
 */
export function parseApkIndex(file: Buffer, options: ApkIndexOptions = {}): ApkIndex {
  return readApkIndexPackages(readApkIndexEnvelope(file, options), options);
}

/** The package's name for a message, if it can be read at all. */
function safeName(pkg: AdbObject): string | undefined {
  try {
    return pkg.string(PI_NAME, 'name');
  } catch {
    return undefined;
  }
}

/**
 * OpenWrt's `index.json` for a feed (`{"version":2,"architecture":…,"packages":{name: version}}`),
 * names without their ABI suffix, sorted: what `make-index-json.py` derives from the same index.
 */
export function apkIndexJson(
  index: Pick<ApkIndex, 'packages'>,
  architecture: string,
): { version: 2; architecture: string; packages: Record<string, string> } {
  const entries = index.packages.map((pkg): [string, string] => {
    const abi = pkg.abiVersion;
    const name = abi && pkg.name.endsWith(abi) ? pkg.name.slice(0, -abi.length) : pkg.name;
    return [name, pkg.version];
  });
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { version: 2, architecture, packages: Object.fromEntries(entries) };
}
