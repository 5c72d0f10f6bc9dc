/**
 * apk v3's ADB container (OpenWrt 25.12 on): the compression wrapper, the blocks, and the values
 * inside the ADB block. Written from `../shared/apk-format.md` and apk-tools' `adb.h`/`adb.c`.
 * The input is untrusted: every offset and length is checked before it is used, and anything
 * malformed throws `UntrustedInputError` saying what is wrong and where. Reading is driven by the
 * caller's schema (an object's fields are read by slot), so there is no recursion to bound; the
 * work a hostile file can cause through shared values is bounded by a budget instead.
 */
import { constants, inflateRawSync } from 'node:zlib';
import { UntrustedInputError } from '../../errors.js';

/** `ADB.` as a little-endian u32: the container's first word once decompressed. */
export const ADB_FORMAT_MAGIC = 0x2e424441;
/** `indx`: a repository index (`packages.adb`). */
export const ADB_SCHEMA_INDEX = 0x78646e69;
/** `pckg`: a package (`*.apk`). */
export const ADB_SCHEMA_PACKAGE = 0x676b6370;

/** Largest decompressed container accepted by default; the biggest real index is a few MiB. */
export const DEFAULT_MAX_ADB_BYTES = 64 * 1024 * 1024;

export type AdbCompression = 'none' | 'deflate';

export interface AdbCompressionHeader {
  compression: AdbCompression;
  /** Where the (compressed) container starts in the file. */
  dataOffset: number;
}

/** Bytes 0–3 `ADB.`/`ADBd`/`ADBc`; `ADBc` adds an algorithm byte and a level byte. */
const WRAPPER_HEADER_BYTES = 6;

/**
 * The compression wrapper at the start of an ADB file, or undefined when `head` is too short to
 * tell. zstd (`ADBc` algorithm 2) is refused: OpenWrt builds apk without it.
 */
export function parseCompressionHeader(head: Buffer, what: string): AdbCompressionHeader | undefined {
  const known = Math.min(head.length, 3);
  if (head.subarray(0, known).toString('latin1') !== 'ADB'.slice(0, known)) {
    throw new UntrustedInputError(
      `${what}: not an apk v3 (ADB) file: it starts with ${hexPreview(head, 0, 4)}, expected "ADB"`,
    );
  }
  if (head.length < 4) return undefined;
  const kind = String.fromCharCode(head[3] as number);
  if (kind === '.') return { compression: 'none', dataOffset: 0 };
  if (kind === 'd') return { compression: 'deflate', dataOffset: 4 };
  if (kind !== 'c') {
    throw new UntrustedInputError(`${what}: unknown ADB compression marker ${JSON.stringify(`ADB${kind}`)}`);
  }
  if (head.length < WRAPPER_HEADER_BYTES) return undefined;
  const algorithm = head[4] as number;
  if (algorithm === 0) return { compression: 'none', dataOffset: WRAPPER_HEADER_BYTES };
  if (algorithm === 1) return { compression: 'deflate', dataOffset: WRAPPER_HEADER_BYTES };
  if (algorithm === 2) {
    throw new UntrustedInputError(
      `${what}: zstd-compressed ADB (ADBc algorithm 2) is not supported; OpenWrt's apk uses deflate`,
    );
  }
  throw new UntrustedInputError(`${what}: unknown ADBc compression algorithm ${algorithm}`);
}

/**
 * Raw-deflate decompression of untrusted bytes, at most `maxBytes` out. With `partial`, a stream
 * that stops early yields what it has instead of failing (used to read the head of a file).
 */
export function inflateAdb(data: Buffer, maxBytes: number, what: string, partial = false): Buffer {
  try {
    return inflateRawSync(data, {
      maxOutputLength: maxBytes,
      ...(partial && { finishFlush: constants.Z_SYNC_FLUSH }),
    });
  } catch (error) {
    if (error instanceof RangeError) {
      throw new UntrustedInputError(`${what}: decompresses to more than ${maxBytes} bytes`, { cause: error });
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new UntrustedInputError(`${what}: the deflate stream is corrupt: ${reason}`, { cause: error });
  }
}

export interface AdbReadOptions {
  /** The file's name for messages, e.g. `packages.adb`. */
  what?: string;
  /** Most decompressed bytes accepted (default 64 MiB). */
  maxBytes?: number;
}

/** Unwraps the compression: the container (`ADB.` magic, schema, blocks) and how it was stored. */
export function decompressAdb(
  file: Buffer,
  options: AdbReadOptions = {},
): { container: Buffer; compression: AdbCompression } {
  const what = options.what ?? 'ADB file';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_ADB_BYTES;
  const header = parseCompressionHeader(file, what);
  if (header === undefined) {
    throw new UntrustedInputError(`${what}: ${file.length} bytes is too short for an ADB file`);
  }
  const data = file.subarray(header.dataOffset);
  if (header.compression === 'none') {
    if (data.length > maxBytes) {
      throw new UntrustedInputError(`${what}: ${data.length} bytes is larger than the limit of ${maxBytes}`);
    }
    return { container: data, compression: 'none' };
  }
  return { container: inflateAdb(data, maxBytes, what), compression: 'deflate' };
}

export type AdbBlockType = 'adb' | 'sig' | 'data';
const BLOCK_TYPES: readonly AdbBlockType[] = ['adb', 'sig', 'data'];
const EXTENDED_BLOCK = 3;

export interface AdbBlockHeader {
  type: AdbBlockType;
  /** 4, or 16 for an extended block. */
  headerSize: number;
  /** Header plus payload, without the padding to 8 bytes. */
  rawSize: number;
  /** rawSize rounded up to 8: where the next block starts. */
  paddedSize: number;
}

/** The container's file header: u32 magic, u32 schema. */
export const CONTAINER_HEADER_BYTES = 8;
/** ADB block payload header: u8 compat version, u8 version, u16 reserved, u32 root value. */
export const ADB_HEADER_BYTES = 8;

/**
 * The block header at `at` in `bytes`, or undefined when the header is not all there yet. Checks
 * the type and that the size covers the header; whether the block fits is the caller's business.
 */
export function readBlockHeader(bytes: Buffer, at: number, what: string): AdbBlockHeader | undefined {
  if (bytes.length - at < 4) return undefined;
  const typeSize = bytes.readUInt32LE(at);
  let type = typeSize >>> 30;
  let headerSize = 4;
  let rawSize = typeSize & 0x3fffffff;
  if (type === EXTENDED_BLOCK) {
    headerSize = 16;
    if (bytes.length - at < headerSize) return undefined;
    type = typeSize & 0x3fffffff;
    const size = bytes.readBigUInt64LE(at + 8);
    if (size > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new UntrustedInputError(`${what}: block at offset ${at} claims an absurd size of ${size} bytes`);
    }
    rawSize = Number(size);
  }
  const blockType = BLOCK_TYPES[type];
  if (blockType === undefined) {
    throw new UntrustedInputError(`${what}: block at offset ${at} has unknown type ${type}`);
  }
  if (rawSize < headerSize) {
    throw new UntrustedInputError(
      `${what}: block at offset ${at} claims ${rawSize} bytes, less than its ${headerSize}-byte header`,
    );
  }
  return { type: blockType, headerSize, rawSize, paddedSize: Math.ceil(rawSize / 8) * 8 };
}

export interface AdbBlock {
  type: AdbBlockType;
  /** Offset of the block's header in the container. */
  offset: number;
  payload: Buffer;
}

export interface AdbContainer {
  schema: number;
  blocks: AdbBlock[];
  /** The payload of the (first and only) ADB block: what identities and signatures cover. */
  adb: Buffer;
}

/** Most blocks accepted by default: an index has two or three, a package one DATA block per file. */
export const DEFAULT_MAX_ADB_BLOCKS = 65_536;

/** A schema as text when it is four printable characters (`indx`), as hex otherwise. */
export function schemaName(schema: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(schema >>> 0);
  return /^[\x20-\x7e]{4}$/.test(bytes.toString('latin1'))
    ? JSON.stringify(bytes.toString('latin1'))
    : `0x${(schema >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The blocks of a decompressed container, checked as apk does: magic, schema (when `schema` is
 * given), each block inside the container with its padding, the first block ADB, then only SIG
 * or DATA, and nothing but DATA after the first DATA.
 */
export function parseAdbContainer(
  container: Buffer,
  options: { what?: string; schema?: number; maxBlocks?: number } = {},
): AdbContainer {
  const what = options.what ?? 'ADB file';
  const maxBlocks = options.maxBlocks ?? DEFAULT_MAX_ADB_BLOCKS;
  if (container.length < CONTAINER_HEADER_BYTES) {
    throw new UntrustedInputError(
      `${what}: ${container.length} bytes is too short for an ADB container header (8 bytes)`,
    );
  }
  const magic = container.readUInt32LE(0);
  if (magic !== ADB_FORMAT_MAGIC) {
    throw new UntrustedInputError(
      `${what}: bad container magic ${hexPreview(container, 0, 4)}, expected "ADB." once decompressed`,
    );
  }
  const schema = container.readUInt32LE(4);
  if (options.schema !== undefined && schema !== options.schema) {
    throw new UntrustedInputError(
      `${what}: schema is ${schemaName(schema)}, expected ${schemaName(options.schema)}`,
    );
  }
  const blocks: AdbBlock[] = [];
  let allowed = new Set<AdbBlockType>(['adb']);
  let at = CONTAINER_HEADER_BYTES;
  while (at < container.length) {
    const header = readBlockHeader(container, at, what);
    if (header === undefined) {
      throw new UntrustedInputError(`${what}: block header at offset ${at} is cut short`);
    }
    if (header.paddedSize > container.length - at) {
      throw new UntrustedInputError(
        `${what}: ${header.type.toUpperCase()} block at offset ${at} claims ${header.rawSize} bytes ` +
          `(${header.paddedSize} padded), but only ${container.length - at} remain`,
      );
    }
    if (blocks.length >= maxBlocks) {
      throw new UntrustedInputError(`${what}: more than ${maxBlocks} blocks`);
    }
    if (!allowed.has(header.type)) {
      const rule =
        blocks.length === 0 ? 'the first block must be ADB' : 'blocks are ADB, then SIG, then DATA';
      throw new UntrustedInputError(
        `${what}: unexpected ${header.type.toUpperCase()} block at offset ${at}: ${rule}`,
      );
    }
    const payload = container.subarray(at + header.headerSize, at + header.rawSize);
    if (header.type === 'adb') {
      allowed = new Set(['sig', 'data']);
      if (payload.length < ADB_HEADER_BYTES) {
        throw new UntrustedInputError(
          `${what}: ADB block at offset ${at} holds ${payload.length} bytes, less than its 8-byte header`,
        );
      }
    } else if (header.type === 'data') {
      allowed = new Set(['data']);
    }
    blocks.push({ type: header.type, offset: at, payload });
    at += header.paddedSize;
  }
  const first = blocks[0];
  if (first === undefined) throw new UntrustedInputError(`${what}: the container holds no ADB block`);
  return { schema, blocks, adb: first.payload };
}

/** Decompresses and parses an ADB file in one go. */
export function readAdbFile(
  file: Buffer,
  options: AdbReadOptions & { schema?: number; maxBlocks?: number } = {},
): AdbContainer {
  const { container } = decompressAdb(file, options);
  return parseAdbContainer(container, options);
}

// Value types: the top 4 bits of a u32le value.
const TYPE_SPECIAL = 0x0;
const TYPE_INT = 0x1;
const TYPE_INT_32 = 0x2;
const TYPE_INT_64 = 0x3;
const TYPE_BLOB_8 = 0x8;
const TYPE_BLOB_16 = 0x9;
const TYPE_BLOB_32 = 0xa;
const TYPE_ARRAY = 0xd;
const TYPE_OBJECT = 0xe;

const VALUE_MASK = 0x0fffffff;

const TYPE_NAMES: Record<number, string> = {
  [TYPE_SPECIAL]: 'special',
  [TYPE_INT]: 'int',
  [TYPE_INT_32]: 'u32',
  [TYPE_INT_64]: 'u64',
  [TYPE_BLOB_8]: 'blob8',
  [TYPE_BLOB_16]: 'blob16',
  [TYPE_BLOB_32]: 'blob32',
  [TYPE_ARRAY]: 'array',
  [TYPE_OBJECT]: 'object',
};
const typeName = (type: number): string => TYPE_NAMES[type] ?? `unknown type 0x${type.toString(16)}`;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The values of one ADB block payload. Offsets in values are relative to the payload's start.
 * Each slot read costs one unit of work and each blob byte one more. The default budget, 4 units
 * per payload byte plus a million, is several times what parsing a real index costs (250k units
 * for the 289 KB kmods index of 1,091 packages) and bounds the time and the memory (decoded
 * strings) that values shared many times can cost.
 */
export class AdbPayload {
  readonly what: string;
  readonly version: number;
  #work = 0;
  readonly #maxWork: number;

  constructor(
    readonly bytes: Buffer,
    options: { what?: string; maxWork?: number } = {},
  ) {
    this.what = options.what ?? 'ADB block';
    if (bytes.length < ADB_HEADER_BYTES) {
      throw new UntrustedInputError(`${this.what}: ADB block of ${bytes.length} bytes has no 8-byte header`);
    }
    const compat = bytes[0] as number;
    if (compat !== 0) {
      throw new UntrustedInputError(`${this.what}: ADB compat version ${compat} is not supported (only 0)`);
    }
    this.version = bytes[1] as number;
    this.#maxWork = options.maxWork ?? 4 * bytes.length + 1_000_000;
  }

  /** Work spent so far, in slot reads plus blob bytes. */
  get work(): number {
    return this.#work;
  }

  /** The root value, which must be an object (or array). */
  root(): AdbObject {
    const root = this.objectAt(this.bytes.readUInt32LE(4), 'root');
    if (root === undefined) throw this.fail('root', 'is null, expected an object');
    return root;
  }

  charge(units: number, where: string): void {
    this.#work += units;
    if (this.#work > this.#maxWork) {
      throw this.fail(where, `reading this ADB block costs more than ${this.#maxWork} units of work`);
    }
  }

  fail(where: string, problem: string): UntrustedInputError {
    return new UntrustedInputError(`${this.what}: ${where} ${problem}`);
  }

  /** Checks that `length` bytes at payload offset `offset` exist, for a value at `where`. */
  #span(offset: number, length: number, where: string, what: string): void {
    if (offset + length > this.bytes.length) {
      throw this.fail(
        where,
        `${what} at offset ${offset} (${length} bytes) runs past the end of the ${this.bytes.length}-byte ADB block`,
      );
    }
  }

  /** An object or array value, undefined for null. Both 0xd and 0xe read as a list of slots. */
  objectAt(value: number, where: string): AdbObject | undefined {
    const type = value >>> 28;
    const offset = value & VALUE_MASK;
    if (type === TYPE_SPECIAL && offset === 0) return undefined;
    if (type !== TYPE_OBJECT && type !== TYPE_ARRAY) {
      throw this.fail(where, `is ${typeName(type)}, expected an object or array`);
    }
    this.#span(offset, 4, where, 'object count');
    const count = this.bytes.readUInt32LE(offset);
    if (count === 0)
      throw this.fail(where, `object at offset ${offset} has count 0 (the count includes itself)`);
    // Before any slot is read: an absurd count fails here, not after a long loop.
    this.#span(offset, count * 4, where, `object of ${count} slots`);
    this.charge(1, where);
    return new AdbObject(this, offset, count, where);
  }

  /** An integer value (inline, u32 or u64), undefined for null. */
  intAt(value: number, where: string): number | undefined {
    const type = value >>> 28;
    const offset = value & VALUE_MASK;
    switch (type) {
      case TYPE_SPECIAL:
        if (offset === 0) return undefined;
        break;
      case TYPE_INT:
        return offset;
      case TYPE_INT_32:
        this.#span(offset, 4, where, 'u32');
        return this.bytes.readUInt32LE(offset);
      case TYPE_INT_64: {
        this.#span(offset, 8, where, 'u64');
        const n = this.bytes.readBigUInt64LE(offset);
        if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw this.fail(where, `integer ${n} is too large`);
        return Number(n);
      }
    }
    throw this.fail(
      where,
      `is ${typeName(type)}${type === TYPE_SPECIAL ? ` ${offset}` : ''}, expected an integer`,
    );
  }

  /** A blob value as the bytes it holds (a view, not a copy), undefined for null. */
  blobAt(value: number, where: string): Buffer | undefined {
    const type = value >>> 28;
    const offset = value & VALUE_MASK;
    let width: number;
    if (type === TYPE_BLOB_8) width = 1;
    else if (type === TYPE_BLOB_16) width = 2;
    else if (type === TYPE_BLOB_32) width = 4;
    else if (type === TYPE_SPECIAL && offset === 0) return undefined;
    else throw this.fail(where, `is ${typeName(type)}, expected a blob`);
    this.#span(offset, width, where, 'blob length');
    const length = this.bytes.readUIntLE(offset, width);
    this.#span(offset + width, length, where, `blob of ${length} bytes`);
    this.charge(1 + length, where);
    return this.bytes.subarray(offset + width, offset + width + length);
  }

  /** A blob value decoded as UTF-8 (invalid UTF-8 is refused), undefined for null. */
  stringAt(value: number, where: string): string | undefined {
    const blob = this.blobAt(value, where);
    if (blob === undefined) return undefined;
    try {
      return utf8.decode(blob);
    } catch {
      throw this.fail(where, 'is not valid UTF-8');
    }
  }
}

/**
 * An object or array: `count` slots, slot 0 being the count itself. Object field `i` is slot `i`;
 * slots past the end read as null. Array items are slots 1 … length.
 */
export class AdbObject {
  constructor(
    readonly adb: AdbPayload,
    /** Payload offset of the count. */
    readonly offset: number,
    /** Slots including the count itself. */
    readonly count: number,
    /** Where this value was reached, for messages: `packages[3].depends`. */
    readonly where: string,
  ) {}

  /** Items of an array (slots after the count). */
  get length(): number {
    return this.count - 1;
  }

  /** The raw u32 value in slot `i` (0, null, past the end). */
  value(i: number): number {
    if (!Number.isInteger(i) || i < 1 || i >= this.count) return 0;
    this.adb.charge(1, this.where);
    return this.adb.bytes.readUInt32LE(this.offset + 4 * i);
  }

  #at(i: number, label: string | undefined): string {
    return `${this.where}${label === undefined ? `[${i}]` : `.${label}`}`;
  }

  int(i: number, label?: string): number | undefined {
    return this.adb.intAt(this.value(i), this.#at(i, label));
  }

  blob(i: number, label?: string): Buffer | undefined {
    return this.adb.blobAt(this.value(i), this.#at(i, label));
  }

  string(i: number, label?: string): string | undefined {
    return this.adb.stringAt(this.value(i), this.#at(i, label));
  }

  object(i: number, label?: string): AdbObject | undefined {
    return this.adb.objectAt(this.value(i), this.#at(i, label));
  }

  /** Items 1 … length of an array of objects; a null item is refused. */
  *objects(): Generator<AdbObject> {
    for (let i = 1; i < this.count; i++) {
      const item = this.object(i);
      if (item === undefined) throw this.adb.fail(this.#at(i, undefined), 'is null, expected an object');
      yield item;
    }
  }

  /** Items 1 … length of an array of strings; a null item is refused. */
  *strings(): Generator<string> {
    for (let i = 1; i < this.count; i++) {
      const item = this.string(i);
      if (item === undefined) throw this.adb.fail(this.#at(i, undefined), 'is null, expected a string');
      yield item;
    }
  }
}

function hexPreview(bytes: Buffer, start: number, length: number): string {
  const slice = bytes.subarray(start, start + length);
  return slice.length === 0 ? 'nothing' : `0x${slice.toString('hex')}`;
}
