/**
 * Writes apk v3 files for tests, the way apk-tools lays them out: `packages.adb` indexes signed
 * with a throw-away P-256 key and `.apk` packages with their ADB block, file list and DATA blocks.
 * node:crypto and node:zlib only: it stays independent of the worker's own ADB reader, so a test
 * that round-trips through both checks one against the other.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';

export const SCHEMA_INDEX = 0x78646e69; // "indx"
export const SCHEMA_PACKAGE = 0x676b6370; // "pckg"
const MAGIC = 0x2e424441; // "ADB."

export const BLOCK_ADB = 0;
export const BLOCK_SIG = 1;
export const BLOCK_DATA = 2;

const T_INT = 0x1;
const T_INT_32 = 0x2;
const T_INT_64 = 0x3;
const T_BLOB_8 = 0x8;
const T_BLOB_16 = 0x9;
const T_BLOB_32 = 0xa;
const T_OBJECT = 0xe;

const val = (type: number, offset: number): number => ((type << 28) | offset) >>> 0;

/**
 * Builds one ADB block payload: an 8-byte header (compat 0, version 0, root value) then values.
 * Identical values are written once and shared, as apk's writer does.
 */
export class AdbPayloadWriter {
  #bytes: Buffer = Buffer.alloc(4096);
  #length = 8;
  readonly #cache = new Map<string, number>();

  #append(data: Buffer, align: number): number {
    this.#length = Math.ceil(this.#length / align) * align;
    while (this.#length + data.length > this.#bytes.length) {
      this.#bytes = Buffer.concat([this.#bytes, Buffer.alloc(this.#bytes.length)]);
    }
    const offset = this.#length;
    data.copy(this.#bytes, offset);
    this.#length += data.length;
    if (offset > 0x0fffffff) throw new Error('ADB payload too large for 28-bit offsets');
    return offset;
  }

  #shared(key: string, write: () => number): number {
    const known = this.#cache.get(key);
    if (known !== undefined) return known;
    const value = write();
    this.#cache.set(key, value);
    return value;
  }

  blob(data: Buffer | string): number {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.#shared(`b${bytes.toString('hex')}`, () => {
      const [type, width] =
        bytes.length < 0x100 ? [T_BLOB_8, 1] : bytes.length < 0x10000 ? [T_BLOB_16, 2] : [T_BLOB_32, 4];
      const out = Buffer.alloc(width + bytes.length);
      out.writeUIntLE(bytes.length, 0, width);
      bytes.copy(out, width);
      return val(type, this.#append(out, 1));
    });
  }

  int(n: number): number {
    if (n < 0x10000000) return val(T_INT, n);
    return this.#shared(`i${n}`, () => {
      if (n <= 0xffffffff) {
        const out = Buffer.alloc(4);
        out.writeUInt32LE(n);
        return val(T_INT_32, this.#append(out, 4));
      }
      const out = Buffer.alloc(8);
      out.writeBigUInt64LE(BigInt(n));
      return val(T_INT_64, this.#append(out, 8));
    });
  }

  /** An object: `fields[i]` goes to slot i + 1; trailing nulls are left out, as apk does. */
  object(fields: (number | undefined)[]): number {
    let count = fields.length;
    while (count > 0 && !fields[count - 1]) count--;
    const out = Buffer.alloc(4 * (count + 1));
    out.writeUInt32LE(count + 1, 0);
    for (let i = 0; i < count; i++) out.writeUInt32LE(fields[i] ?? 0, 4 * (i + 1));
    return this.#shared(`o${out.toString('hex')}`, () => val(T_OBJECT, this.#append(out, 4)));
  }

  /** An array; apk's writer tags arrays as objects (0xe), so this does too. Empty arrays are null. */
  array(items: number[]): number | undefined {
    return items.length === 0 ? undefined : this.object(items);
  }

  finish(root: number): Buffer {
    const out = Buffer.from(this.#bytes.subarray(0, this.#length));
    out.writeUInt8(0, 0); // compat version
    out.writeUInt8(0, 1); // version
    out.writeUInt16LE(0, 2);
    out.writeUInt32LE(root, 4);
    return out;
  }
}

/** One block: u32 type << 30 | size (header included), the payload, zeros to 8 bytes. */
export function adbBlock(type: number, payload: Buffer, options: { extended?: boolean } = {}): Buffer {
  let header: Buffer;
  if (options.extended) {
    header = Buffer.alloc(16);
    header.writeUInt32LE(((3 << 30) | type) >>> 0, 0);
    header.writeBigUInt64LE(BigInt(16 + payload.length), 8);
  } else {
    header = Buffer.alloc(4);
    header.writeUInt32LE(((type << 30) | (4 + payload.length)) >>> 0, 0);
  }
  const raw = header.length + payload.length;
  return Buffer.concat([header, payload, Buffer.alloc(Math.ceil(raw / 8) * 8 - raw)]);
}

/** The decompressed container: `ADB.`, the schema, the blocks. */
export function adbContainer(schema: number, blocks: Buffer[]): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32LE(MAGIC, 0);
  header.writeUInt32LE(schema, 4);
  return Buffer.concat([header, ...blocks]);
}

export type AdbFileCompression = 'deflate' | 'none' | 'adbc-deflate' | 'adbc-none';

/** The file as served: `ADBd` + raw deflate (apk's default), or uncompressed, or the `ADBc` forms. */
export function adbFile(container: Buffer, compression: AdbFileCompression = 'deflate'): Buffer {
  switch (compression) {
    case 'none':
      return container;
    case 'deflate':
      return Buffer.concat([Buffer.from('ADBd'), deflateRawSync(container)]);
    case 'adbc-deflate':
      return Buffer.concat([Buffer.from('ADBc'), Buffer.from([1, 6]), deflateRawSync(container)]);
    case 'adbc-none':
      return Buffer.concat([Buffer.from('ADBc'), Buffer.from([0, 0]), container]);
  }
}

export interface ApkSigner {
  /** 32 hex digits: first 16 bytes of SHA-512 of the public point `04‖X‖Y`. */
  keyId: string;
  /** The public key as an `/etc/apk/keys/*.pem` file. */
  publicKeyPem: string;
  /**
   * A SIG block payload over `adbPayload` for `schema`: version 0, the hash algorithm (4 SHA-512,
   * the default, or 3 SHA-256), the key id, then the DER signature.
   */
  sign(schema: number, adbPayload: Buffer, hashAlg?: 3 | 4): Buffer;
}

export function createApkSigner(): ApkSigner {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return signerFor(publicKey, privateKey);
}

function signerFor(publicKey: KeyObject, privateKey: KeyObject): ApkSigner {
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') throw new Error('EC JWK without coordinates');
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  ]);
  const id = createHash('sha512').update(point).digest().subarray(0, 16);
  return {
    keyId: id.toString('hex'),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    sign(schema, adbPayload, hashAlg = 4) {
      const head = Buffer.concat([Buffer.from([0, hashAlg]), id]);
      const schemaBytes = Buffer.alloc(4);
      schemaBytes.writeUInt32LE(schema);
      const digest = createHash(hashAlg === 4 ? 'sha512' : 'sha256')
        .update(adbPayload)
        .digest();
      const signature = sign('sha512', Buffer.concat([schemaBytes, head, digest]), privateKey);
      return Buffer.concat([head, signature]);
    },
  };
}

/** One signer for a whole test run; its `publicKeyPem` goes into the trusted keys directory. */
export const apkTestSigner: ApkSigner = createApkSigner();
export const publicKeyPem: string = apkTestSigner.publicKeyPem;

export interface FakeApk {
  name: string;
  version: string;
  arch?: string;
  /** apk dependency strings: `libc`, `kernel=6.6.110~abc-r1`, `foo>=1.2`, `bar~1`, `!conflict`. */
  depends?: string[];
  /** Names, or `name=version`. */
  provides?: string[];
  installIf?: string[];
  description?: string;
  origin?: string;
  /** Adds the `openwrt:abiversion=N` tag (the name should end in N). */
  abiVersion?: string;
  /** Files inside the package, path → content; default one small file. */
  files?: Record<string, string | Buffer>;
  /** Field 6; default `GPL-2.0-only`. */
  license?: string;
  /** Field 8. */
  maintainer?: string;
  /** Field 9. */
  url?: string;
  /** Field 11; default 1,700,000,000. */
  buildTime?: number;
  /** Field 12; default 1024. */
  installedSize?: number;
  /** Field 14: OpenWrt writes 100 for a default variant, 10 for an ABI-versioned library. */
  providerPriority?: number;
  /**
   * The virtual every OpenWrt package provides (`@<name>-any`); default `<name>-any`. OpenWrt
   * uses the name without the ABI suffix: `libubox20240329` provides `libubox-any`.
   */
  anyName?: string;
}

export interface BuiltApk {
  /** `<name>-<version>.apk`, as apk requests it. */
  fileName: string;
  file: Buffer;
  /** The SHA-256 of the ADB block payload: the index's `hashes`. */
  identity: string;
}

const MATCH = { '=': 1, '<': 2, '>': 4, '~': 9 } as const;

/** A dependency string as apk's `dependency_fromstring` stores it. */
function dependency(w: AdbPayloadWriter, text: string): number {
  const m = /^(!?)([^<>=~!]+)(?:([<>=~]+)(.+))?$/.exec(text);
  const name = m?.[2];
  if (m === null || name === undefined) throw new Error(`bad dependency ${JSON.stringify(text)}`);
  const conflict = m[1] === '!';
  const version = m[4];
  let match = 0;
  for (const c of m[3] ?? '') match |= MATCH[c as keyof typeof MATCH];
  if (version === undefined) match = 7; // any version
  if (conflict) match |= 16;
  return w.object([
    w.blob(name),
    version === undefined ? undefined : w.blob(version),
    match === 1 || match === 7 ? undefined : w.int(match),
  ]);
}

const dependencies = (w: AdbPayloadWriter, list: string[] | undefined): number | undefined =>
  w.array((list ?? []).map((text) => dependency(w, text)));

/** The package info fields 1–21 shared by a package's ADB block and the index entry. */
function packageInfo(
  w: AdbPayloadWriter,
  pkg: FakeApk,
  extra: { identity?: Buffer; fileSize?: number },
): number {
  const fields: (number | undefined)[] = [];
  fields[0] = w.blob(pkg.name);
  fields[1] = w.blob(pkg.version);
  if (extra.identity) fields[2] = w.blob(extra.identity);
  fields[3] = w.blob(pkg.description ?? `${pkg.name} for tests`);
  fields[4] = w.blob(pkg.arch ?? 'noarch');
  fields[5] = w.blob(pkg.license ?? 'GPL-2.0-only');
  if (pkg.origin) fields[6] = w.blob(pkg.origin);
  if (pkg.maintainer) fields[7] = w.blob(pkg.maintainer);
  if (pkg.url) fields[8] = w.blob(pkg.url);
  fields[10] = w.int(pkg.buildTime ?? 1_700_000_000); // build-time
  fields[11] = w.int(pkg.installedSize ?? 1024); // installed-size
  if (extra.fileSize !== undefined) fields[12] = w.int(extra.fileSize);
  if (pkg.providerPriority !== undefined) fields[13] = w.int(pkg.providerPriority);
  fields[14] = dependencies(w, pkg.depends);
  // OpenWrt has every package provide `<name>-any`.
  fields[15] = dependencies(w, [...(pkg.provides ?? []), pkg.anyName ?? `${pkg.name}-any`]);
  fields[17] = dependencies(w, pkg.installIf);
  if (pkg.abiVersion) fields[20] = w.array([w.blob(`openwrt:abiversion=${pkg.abiVersion}`)]);
  return w.object(fields);
}

/**
 * A `.apk` as OpenWrt builds it: ADBd of `ADB.` + `pckg` + the ADB block (package info, the file
 * list with each file's SHA-256) + one DATA block per file (u32 path index, u32 file index, bytes).
 */
export function buildApkPackage(pkg: FakeApk, compression: AdbFileCompression = 'deflate'): BuiltApk {
  const files = Object.entries(
    pkg.files ?? { [`usr/share/${pkg.name}/README`]: `${pkg.name} ${pkg.version}\n` },
  );
  const w = new AdbPayloadWriter();
  const acl = w.object([w.int(0o644), w.blob('root'), w.blob('root')]);
  const dirs = new Map<string, { name: string; content: Buffer }[]>();
  for (const [path, content] of files) {
    const slash = path.lastIndexOf('/');
    const dir = slash < 0 ? '' : path.slice(0, slash);
    const list = dirs.get(dir) ?? [];
    list.push({ name: path.slice(slash + 1), content: Buffer.from(content) });
    dirs.set(dir, list);
  }
  const dirList = [...dirs.entries()];
  const paths = dirList.map(([dir, entries]) =>
    w.object([
      w.blob(dir),
      acl,
      w.array(
        entries.map((f) =>
          w.object([
            w.blob(f.name),
            acl,
            w.int(f.content.length),
            w.int(1_700_000_000),
            w.blob(createHash('sha256').update(f.content).digest()),
          ]),
        ),
      ),
    ]),
  );
  const root = w.object([packageInfo(w, pkg, {}), w.array(paths)]);
  const payload = w.finish(root);
  const data = dirList.flatMap(([, entries], d) =>
    entries.map((f, i) => {
      const head = Buffer.alloc(8);
      head.writeUInt32LE(d + 1, 0);
      head.writeUInt32LE(i + 1, 4);
      return adbBlock(BLOCK_DATA, Buffer.concat([head, f.content]));
    }),
  );
  const file = adbFile(adbContainer(SCHEMA_PACKAGE, [adbBlock(BLOCK_ADB, payload), ...data]), compression);
  return {
    fileName: `${pkg.name}-${pkg.version}.apk`,
    file,
    identity: createHash('sha256').update(payload).digest('hex'),
  };
}

export interface IndexOptions {
  /** Signers whose SIG blocks follow the ADB block; default the test signer. Empty: unsigned. */
  signers?: ApkSigner[];
  description?: string;
  compression?: AdbFileCompression;
}

/** The index's ADB block payload for packages already built (their size and identity go in). */
export function buildIndexPayload(entries: { pkg: FakeApk; apk: BuiltApk }[], description?: string): Buffer {
  const w = new AdbPayloadWriter();
  const packages = entries.map(({ pkg, apk }) =>
    packageInfo(w, pkg, { identity: Buffer.from(apk.identity, 'hex'), fileSize: apk.file.length }),
  );
  return w.finish(w.object([description === undefined ? undefined : w.blob(description), w.array(packages)]));
}

/** A signed `packages.adb` listing `entries`. */
export function buildApkIndex(
  entries: { pkg: FakeApk; apk: BuiltApk }[],
  options: IndexOptions = {},
): Buffer {
  const payload = buildIndexPayload(entries, options.description);
  const signers = options.signers ?? [apkTestSigner];
  const blocks = [
    adbBlock(BLOCK_ADB, payload),
    ...signers.map((s) => adbBlock(BLOCK_SIG, s.sign(SCHEMA_INDEX, payload))),
  ];
  return adbFile(adbContainer(SCHEMA_INDEX, blocks), options.compression);
}

export interface BuiltApkFeed {
  /** `packages.adb` */
  index: Buffer;
  packages: BuiltApk[];
  /** File name → bytes, `packages.adb` included: a feed directory. */
  files: Map<string, Buffer>;
}

/** A whole feed directory: the packages and the signed index that lists them. */
export function buildApkFeed(pkgs: FakeApk[], options: IndexOptions = {}): BuiltApkFeed {
  const entries = pkgs.map((pkg) => ({ pkg, apk: buildApkPackage(pkg) }));
  const index = buildApkIndex(entries, options);
  const files = new Map<string, Buffer>([['packages.adb', index]]);
  for (const { apk } of entries) files.set(apk.fileName, apk.file);
  return { index, packages: entries.map((e) => e.apk), files };
}
