/**
 * What the tree's tests read it back with: deliberately small readers of usign files, `Packages`,
 * ADB containers and `.apk` files, and the closures a node's opkg or apk could pull in, all
 * independent of the builder and of `worker/`.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import type { ApkSigner } from '../adb-writer.js';
import type { UsignSigner } from '../usign-signer.js';
import type { ReleaseTree, TreeFeed, TreePackage } from './index.js';

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export function file(tree: Pick<ReleaseTree, 'files'>, path: string): Buffer {
  const bytes = tree.files.get(path);
  if (!bytes) throw new Error(`missing ${path}`);
  return bytes;
}

/** usign blob: "Ed" + 8-byte key number + payload. */
function decodeUsign(
  text: string,
  payloadBytes: number,
): { comment: string; fingerprint: string; payload: Buffer } {
  const [commentLine, base64, rest] = text.split('\n');
  expect(rest, 'exactly two lines and a final newline').to.equal('');
  expect(commentLine).to.match(/^untrusted comment: /);
  const blob = Buffer.from(base64 ?? '', 'base64');
  expect(blob.length).to.equal(10 + payloadBytes);
  expect(blob.subarray(0, 2).toString('latin1')).to.equal('Ed');
  return {
    comment: (commentLine ?? '').slice('untrusted comment: '.length),
    fingerprint: blob.subarray(2, 10).toString('hex'),
    payload: blob.subarray(10),
  };
}

function publicKeyOf(signer: UsignSigner): KeyObject {
  const { fingerprint, payload } = decodeUsign(signer.publicKeyFile, 32);
  expect(fingerprint).to.equal(signer.fingerprint);
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: payload.toString('base64url') },
    format: 'jwk',
  });
}

export function signatureValid(data: Buffer, sigFile: Buffer, signer: UsignSigner): boolean {
  const { fingerprint, payload } = decodeUsign(sigFile.toString('utf8'), 64);
  return fingerprint === signer.fingerprint && verify(null, data, publicKeyOf(signer), payload);
}

type Stanza = Map<string, string>;

/** A deliberately small parser, independent of the worker's. */
export function parsePackages(text: string): Stanza[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const fields: Stanza = new Map();
      let last = '';
      for (const line of block.split('\n')) {
        if (line.startsWith(' ')) {
          fields.set(last, `${fields.get(last)}\n${line.slice(1)}`);
          continue;
        }
        const colon = line.indexOf(':');
        last = line.slice(0, colon);
        fields.set(last, line.slice(colon + 1).trim());
      }
      return fields;
    });
}

/** `a (>= 1), b | c` → [['a'], ['b', 'c']] (names only). */
export function dependencyNames(depends: string): string[][] {
  if (depends === '') return [];
  return depends.split(',').map((item) => item.split('|').map((alt) => alt.trim().replace(/\s*\(.*\)$/, '')));
}

export const FIRMWARE = new Set(['libc', 'kernel']);

/** name → every package that satisfies it: a package of that name, or one that provides it. */
export function satisfiers(tree: ReleaseTree): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  const add = (key: string, name: string) => {
    const set = map.get(key) ?? new Set<string>();
    set.add(name);
    map.set(key, set);
  };
  for (const feed of tree.feeds) {
    for (const pkg of feed.packages) {
      add(pkg.name, pkg.name);
      for (const virtual of pkg.provides) add(virtual, pkg.name);
    }
  }
  return map;
}

export function dependsByName(tree: ReleaseTree): Map<string, string> {
  const map = new Map<string, string>();
  for (const feed of tree.feeds) for (const pkg of feed.packages) map.set(pkg.name, pkg.depends);
  return map;
}

/** Breadth-first over every alternative and every provider: what the hand-written list must equal. */
export function reachable(tree: ReleaseTree, roots: string[]): Set<string> {
  const by = satisfiers(tree);
  const depends = dependsByName(tree);
  const seen = new Set<string>();
  const queue = roots.flatMap((root) => [...(by.get(root) ?? [])]);
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (seen.has(name)) continue;
    seen.add(name);
    for (const item of dependencyNames(depends.get(name) ?? '')) {
      for (const alt of item) if (!FIRMWARE.has(alt)) queue.push(...(by.get(alt) ?? []));
    }
  }
  return seen;
}

export function packagesByName(feed: TreeFeed) {
  return new Map(feed.packages.map((p) => [p.name, p]));
}

export const FIELD_ORDER = [
  'Package',
  'Version',
  'Depends',
  'Provides',
  'Alternatives',
  'License',
  'Section',
  'URL',
  'ABIVersion',
  'CPE-ID',
  'Status',
  'Essential',
  'Architecture',
  'Installed-Size',
  'Filename',
  'Size',
  'SHA256sum',
  'Description',
];

/** An apk v3 file's container, read back here (not with worker/ code, not with the writer). */
export function readAdb(file: Buffer): { schema: string; blocks: { type: number; payload: Buffer }[] } {
  const wrapper = file.subarray(0, 4).toString('latin1');
  expect(wrapper, 'OpenWrt writes ADBd (raw deflate)').to.equal('ADBd');
  const data = inflateRawSync(file.subarray(4));
  expect(data.readUInt32LE(0), 'ADB. magic').to.equal(0x2e424441);
  const blocks: { type: number; payload: Buffer }[] = [];
  for (let at = 8; at < data.length; ) {
    const head = data.readUInt32LE(at);
    const size = head & 0x3fffffff;
    expect(size).to.be.within(4, data.length - at);
    blocks.push({ type: head >>> 30, payload: data.subarray(at + 4, at + size) });
    at += Math.ceil(size / 8) * 8;
  }
  return { schema: data.subarray(4, 8).toString('latin1'), blocks };
}

/** Values of one ADB block payload (offsets relative to it), per apk-format.md. */
class AdbValues {
  constructor(readonly payload: Buffer) {
    expect(payload[0], 'compat version').to.equal(0);
  }
  get root(): number {
    return this.payload.readUInt32LE(4);
  }
  /** An object's or array's slots 1…count-1 (raw values); null is an empty list. */
  slots(value: number): number[] {
    if (value === 0) return [];
    const type = value >>> 28;
    expect(type === 0xd || type === 0xe, `0x${value.toString(16)} is an object`).to.equal(true);
    const at = value & 0x0fffffff;
    const count = this.payload.readUInt32LE(at);
    return Array.from({ length: count - 1 }, (_, i) => this.payload.readUInt32LE(at + 4 * (i + 1)));
  }
  slot(value: number, field: number): number {
    return this.slots(value)[field - 1] ?? 0;
  }
  blob(value: number): Buffer | undefined {
    if (value === 0) return undefined;
    const at = value & 0x0fffffff;
    const width = { 8: 1, 9: 2, 10: 4 }[value >>> 28];
    if (width === undefined) throw new Error(`0x${value.toString(16)} is not a blob`);
    const length = this.payload.readUIntLE(at, width);
    return this.payload.subarray(at + width, at + width + length);
  }
  string(value: number): string | undefined {
    return this.blob(value)?.toString('utf8');
  }
  int(value: number): number | undefined {
    if (value === 0) return undefined;
    const at = value & 0x0fffffff;
    switch (value >>> 28) {
      case 0x1:
        return at;
      case 0x2:
        return this.payload.readUInt32LE(at);
      case 0x3:
        return Number(this.payload.readBigUInt64LE(at));
      default:
        throw new Error(`0x${value.toString(16)} is not an int`);
    }
  }
  /** A dependency object as apk prints it: `!name`, `name`, `name>=1.2`, `kernel=6.6.110~x-r1`. */
  dependency(value: number): string {
    const name = this.string(this.slot(value, 1)) ?? '';
    const version = this.string(this.slot(value, 2));
    const match = this.int(this.slot(value, 3)) ?? 0;
    const prefix = match & 16 ? '!' : '';
    if (version === undefined) return `${prefix}${name}`;
    const bits = match & 15 || 1;
    const op = `${bits & 2 ? '<' : ''}${bits & 4 ? '>' : ''}${bits & 1 ? '=' : ''}${bits & 8 ? '~' : ''}`;
    return `${prefix}${name}${op}${version}`;
  }
  dependencies(value: number): string[] {
    return this.slots(value).map((dep) => this.dependency(dep));
  }
}

export interface IndexedApk {
  name: string;
  version: string;
  identity: string;
  arch: string;
  fileSize: number;
  priority: number | undefined;
  depends: string[];
  provides: string[];
  installIf: string[];
  tags: string[];
}

function packageInfo(adb: AdbValues, info: number): IndexedApk {
  return {
    name: adb.string(adb.slot(info, 1)) ?? '',
    version: adb.string(adb.slot(info, 2)) ?? '',
    identity: adb.blob(adb.slot(info, 3))?.toString('hex') ?? '',
    arch: adb.string(adb.slot(info, 5)) ?? '',
    fileSize: adb.int(adb.slot(info, 13)) ?? 0,
    priority: adb.int(adb.slot(info, 14)),
    depends: adb.dependencies(adb.slot(info, 15)),
    provides: adb.dependencies(adb.slot(info, 16)),
    installIf: adb.dependencies(adb.slot(info, 18)),
    tags: adb.slots(adb.slot(info, 21)).map((tag) => adb.string(tag) ?? ''),
  };
}

/** The packages a `packages.adb` lists. */
export function indexPackages(file: Buffer): IndexedApk[] {
  const { schema, blocks } = readAdb(file);
  expect(schema).to.equal('indx');
  const adb = new AdbValues(blocks[0]?.payload ?? Buffer.alloc(0));
  return adb.slots(adb.slot(adb.root, 2)).map((info) => packageInfo(adb, info));
}

/** Whether the index carries a SIG block by `signer` over its ADB block (apk-format.md, "Signatures"). */
export function adbSignatureValid(file: Buffer, signer: ApkSigner): boolean {
  const { blocks } = readAdb(file);
  const [adb, ...rest] = blocks;
  if (adb?.type !== 0) return false;
  const jwk = createPublicKey(signer.publicKeyPem).export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(String(jwk.x), 'base64url'),
    Buffer.from(String(jwk.y), 'base64url'),
  ]);
  const keyId = createHash('sha512').update(point).digest().subarray(0, 16);
  const schema = Buffer.alloc(4);
  schema.writeUInt32LE(0x78646e69);
  return rest.some((block) => {
    const sig = block.payload;
    if (block.type !== 1 || sig[0] !== 0 || sig[1] !== 4 || !sig.subarray(2, 18).equals(keyId)) return false;
    const digest = createHash('sha512').update(adb.payload).digest();
    const message = Buffer.concat([schema, sig.subarray(0, 18), digest]);
    return verify('sha512', message, createPublicKey(signer.publicKeyPem), sig.subarray(18));
  });
}

/** A `.apk`'s identity (SHA-256 of its ADB block payload) and its own name and version. */
export function apkFileInfo(file: Buffer): {
  identity: string;
  name: string;
  version: string;
  dataBlocks: number;
} {
  const { schema, blocks } = readAdb(file);
  expect(schema).to.equal('pckg');
  const [adbBlock, ...rest] = blocks;
  if (adbBlock?.type !== 0) throw new Error('a package starts with its ADB block');
  const adb = new AdbValues(adbBlock.payload);
  const info = adb.slot(adb.root, 1);
  return {
    identity: sha256(adbBlock.payload),
    name: adb.string(adb.slot(info, 1)) ?? '',
    version: adb.string(adb.slot(info, 2)) ?? '',
    dataBlocks: rest.filter((b) => b.type === 2).length,
  };
}

/** `name>=1.2` → `name`; undefined for a conflict (`!name`), which pulls nothing in. */
export function apkDepName(dep: string): string | undefined {
  if (dep.startsWith('!')) return undefined;
  return /^[^<>=~]+/.exec(dep)?.[0];
}

/** name → every package that satisfies it: one of that name, or one that provides it (any version). */
export function apkSatisfiers(tree: ReleaseTree): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const feed of tree.feeds) {
    for (const pkg of feed.packages) {
      for (const key of [pkg.name, ...pkg.provides]) map.set(key, (map.get(key) ?? new Set()).add(pkg.name));
    }
  }
  return map;
}

export function apkByName(tree: ReleaseTree): Map<string, TreePackage> {
  return new Map(tree.feeds.flatMap((feed) => feed.packages.map((p): [string, TreePackage] => [p.name, p])));
}

export const depList = (pkg: TreePackage | undefined): string[] =>
  pkg?.depends ? pkg.depends.split(', ') : [];

/**
 * What apk could install for `roots`: every provider of every dependency (conflicts pull nothing
 * in), then every install-if package whose conditions are all met, until nothing changes.
 */
export function apkReachable(tree: ReleaseTree, roots: string[]): Set<string> {
  const by = apkSatisfiers(tree);
  const packages = apkByName(tree);
  const seen = new Set<string>();
  const queue = roots.flatMap((root) => [...(by.get(root) ?? [])]);
  for (;;) {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      if (seen.has(name)) continue;
      seen.add(name);
      for (const dep of depList(packages.get(name))) {
        const wanted = apkDepName(dep);
        if (wanted !== undefined && !FIRMWARE.has(wanted)) queue.push(...(by.get(wanted) ?? []));
      }
    }
    for (const pkg of packages.values()) {
      if (seen.has(pkg.name) || !pkg.installIf?.length) continue;
      const met = pkg.installIf.some((cond) => {
        const wanted = apkDepName(cond);
        return wanted !== undefined && [...(by.get(wanted) ?? [])].some((n) => seen.has(n));
      });
      if (met) queue.push(pkg.name);
    }
    if (queue.length === 0) return seen;
  }
}

/** Every line of the target's sha256sums names a file of the tree with that hash, and every file below the target directory is listed. */
export function expectSumsMatch(tree: ReleaseTree): void {
  const listed = new Set<string>();
  for (const line of file(tree, `${tree.targetDir}/sha256sums`).toString('utf8').trimEnd().split('\n')) {
    const [hex, name] = line.split(' *');
    expect(sha256(file(tree, `${tree.targetDir}/${name}`)), line).to.equal(hex);
    listed.add(`${tree.targetDir}/${name}`);
  }
  for (const path of tree.files.keys()) {
    if (path.startsWith(`${tree.targetDir}/`) && !/\/sha256sums(\.sig)?$/.test(path)) {
      expect(listed.has(path), path).to.equal(true);
    }
  }
}

/** Digest of every file but the signatures (their keys are random per run) and the sums that list them. */
export function filesDigest(tree: ReleaseTree): string {
  const hash = createHash('sha256');
  for (const [path, bytes] of [...tree.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // The signatures are made with a key of this run, and sha256sums lists the core feed's.
    if (path.endsWith('.sig') || path.endsWith('/sha256sums')) continue;
    // The release metadata came later; the digest keeps proving the rest is as it was.
    if (/(^|\/)\.(versions|targets)\.json$/.test(path)) continue;
    hash.update(path).update('\0').update(createHash('sha256').update(bytes).digest()).update('\0');
  }
  return hash.digest('hex');
}

export const APK_VERSION =
  /^\d+(\.\d+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(~[0-9a-f]+)?(-r\d+)?$/;
