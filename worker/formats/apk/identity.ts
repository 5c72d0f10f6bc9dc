/**
 * A `.apk`'s identity: the SHA-256 of its decompressed first (ADB) block payload, which the signed
 * index lists as the package's `hashes`. OpenWrt's packages carry no signature of their own, so a
 * downloaded package is trusted through its size and this identity. The ADB block comes first and
 * is small, so only the head of the file is decompressed; the DATA blocks are not read.
 */
import { createHash, type Hash } from 'node:crypto';
import { createInflateRaw, type InflateRaw } from 'node:zlib';
import { IntegrityError, UntrustedInputError } from '../../errors.js';
import type { StreamCheck } from '../../feeds/types.js';
import {
  ADB_FORMAT_MAGIC,
  ADB_HEADER_BYTES,
  ADB_SCHEMA_PACKAGE,
  type AdbCompressionHeader,
  CONTAINER_HEADER_BYTES,
  inflateAdb,
  parseCompressionHeader,
  readBlockHeader,
  schemaName,
} from './adb.js';

/** Largest ADB block accepted; a real package's is a few KiB (its metadata and file list). */
export const MAX_PACKAGE_ADB_BYTES = 64 * 1024 * 1024;

/**
 * Reads the head of a package container from decompressed bytes given in any pieces: the header
 * (`ADB.`, `pckg`), the first block's header (which must be ADB), then hashes its payload. Holds
 * at most a block header's worth of bytes.
 */
class AdbHeadHasher {
  #pending = Buffer.alloc(0);
  #hash: Hash | undefined;
  /** Payload bytes still to hash; -1 until the block header has been read. */
  #remaining = -1;
  #first = true;
  #identity: string | undefined;

  constructor(readonly what: string) {}

  get done(): boolean {
    return this.#identity !== undefined;
  }

  get identity(): string | undefined {
    return this.#identity;
  }

  /** Takes the next decompressed bytes; throws UntrustedInputError when they are not a package. */
  feed(chunk: Buffer): void {
    if (this.done || chunk.length === 0) return;
    if (this.#hash === undefined) {
      this.#pending = Buffer.concat([this.#pending, chunk]);
      const start = this.#readHeaders();
      if (start === undefined) return;
      chunk = this.#pending.subarray(start);
      this.#pending = Buffer.alloc(0);
    }
    this.#hashPayload(chunk);
  }

  /** Where the ADB payload starts in the pending bytes, once both headers are there. */
  #readHeaders(): number | undefined {
    const bytes = this.#pending;
    if (bytes.length < CONTAINER_HEADER_BYTES) return undefined;
    if (bytes.readUInt32LE(0) !== ADB_FORMAT_MAGIC) {
      throw new UntrustedInputError(
        `${this.what}: bad container magic 0x${bytes.subarray(0, 4).toString('hex')}, expected "ADB."`,
      );
    }
    const schema = bytes.readUInt32LE(4);
    if (schema !== ADB_SCHEMA_PACKAGE) {
      throw new UntrustedInputError(
        `${this.what}: schema is ${schemaName(schema)}, expected ${schemaName(ADB_SCHEMA_PACKAGE)}`,
      );
    }
    const block = readBlockHeader(bytes, CONTAINER_HEADER_BYTES, this.what);
    if (block === undefined) return undefined;
    if (block.type !== 'adb') {
      throw new UntrustedInputError(
        `${this.what}: the first block is ${block.type.toUpperCase()}, expected ADB`,
      );
    }
    const length = block.rawSize - block.headerSize;
    if (length < ADB_HEADER_BYTES) {
      throw new UntrustedInputError(`${this.what}: ADB block of ${length} bytes has no 8-byte header`);
    }
    if (length > MAX_PACKAGE_ADB_BYTES) {
      throw new UntrustedInputError(
        `${this.what}: ADB block of ${length} bytes is larger than the limit of ${MAX_PACKAGE_ADB_BYTES}`,
      );
    }
    this.#remaining = length;
    this.#hash = createHash('sha256');
    return CONTAINER_HEADER_BYTES + block.headerSize;
  }

  #hashPayload(chunk: Buffer): void {
    if (chunk.length === 0 || this.#hash === undefined) return;
    if (this.#first) {
      this.#first = false;
      if (chunk[0] !== 0) {
        throw new UntrustedInputError(
          `${this.what}: ADB compat version ${chunk[0]} is not supported (only 0)`,
        );
      }
    }
    const take = chunk.subarray(0, this.#remaining);
    this.#hash.update(take);
    this.#remaining -= take.length;
    if (this.#remaining === 0) this.#identity = this.#hash.digest('hex');
  }
}

/** Compressed prefix tried first by `apkIdentityOfFile`; it grows fourfold until the block is whole. */
const FIRST_PREFIX_BYTES = 16 * 1024;
/** Decompressed bytes `apkIdentityOfFile` holds at once. */
const MAX_HEAD_OUTPUT_BYTES = 256 * 1024 * 1024;

/**
 * The identity of a whole `.apk` in memory (lowercase hex); for `verify` and tests. Throws
 * `UntrustedInputError` when the file is not a package or ends before its ADB block does.
 */
export function apkIdentityOfFile(file: Buffer, what = 'package'): string {
  const header = parseCompressionHeader(file, what);
  if (header === undefined) throw new UntrustedInputError(`${what}: ${file.length} bytes is too short`);
  const data = file.subarray(header.dataOffset);
  for (let prefix = FIRST_PREFIX_BYTES; ; prefix *= 4) {
    const whole = prefix >= data.length;
    const head =
      header.compression === 'none'
        ? data
        : inflateAdb(data.subarray(0, prefix), MAX_HEAD_OUTPUT_BYTES, what, !whole);
    const hasher = new AdbHeadHasher(what);
    hasher.feed(head);
    if (hasher.identity !== undefined) return hasher.identity;
    if (whole || header.compression === 'none') {
      throw new UntrustedInputError(`${what}: the file ends before its ADB block does`);
    }
  }
}

/**
 * A download check (`DownloadExpectation.check`) that the package's identity is `expectedHex`.
 * Bytes are decompressed as they stream in, through zlib's stream (Node has no synchronous
 * incremental inflate), so `finish` is async. Only the compressed head is ever queued: once the
 * ADB block is hashed the inflater is dropped. Throws IntegrityError naming the file, the
 * expected identity and what was found, for a mismatch and for a file that is not a package alike.
 */
export function apkIdentityCheck(expectedHex: string, file: string): StreamCheck {
  const expected = expectedHex.toLowerCase();
  const hasher = new AdbHeadHasher(file);
  let head = Buffer.alloc(0);
  let wrapper: AdbCompressionHeader | undefined;
  let inflater: InflateRaw | undefined;
  let failure: unknown;

  const mismatch = (actual: string): IntegrityError =>
    new IntegrityError(file, expected, actual, 'apk identity');
  const unreadable = (error: unknown): IntegrityError => {
    const reason = error instanceof Error ? error.message : String(error);
    // The readers name the file first; the IntegrityError already does.
    return mismatch(
      `an unreadable package (${reason.startsWith(`${file}: `) ? reason.slice(file.length + 2) : reason})`,
    );
  };

  const stop = (): void => {
    inflater?.destroy();
  };
  /** Decompressed bytes in; a fault is kept and reported by the next update or by finish. */
  const consume = (bytes: Buffer): void => {
    try {
      hasher.feed(bytes);
    } catch (error) {
      failure ??= error;
    }
    if (hasher.done || failure !== undefined) stop();
  };
  const startInflater = (): InflateRaw => {
    const stream = createInflateRaw();
    stream.on('data', consume);
    stream.on('error', (error) => {
      if (!hasher.done)
        failure ??= new UntrustedInputError(`the deflate stream is corrupt: ${error.message}`);
    });
    return stream;
  };
  const sink = (bytes: Buffer): void => {
    if (bytes.length === 0) return;
    if (wrapper?.compression === 'none') consume(bytes);
    else if (!inflater?.destroyed) inflater?.write(bytes);
  };

  return {
    update(chunk: Buffer): void {
      if (failure !== undefined) throw unreadable(failure);
      if (hasher.done) return;
      if (wrapper === undefined) {
        head = Buffer.concat([head, chunk]);
        try {
          wrapper = parseCompressionHeader(head, file);
        } catch (error) {
          failure = error;
          throw unreadable(error);
        }
        if (wrapper === undefined) return;
        if (wrapper.compression === 'deflate') inflater = startInflater();
        chunk = head.subarray(wrapper.dataOffset);
        head = Buffer.alloc(0);
      }
      sink(chunk);
      if (failure !== undefined) throw unreadable(failure);
    },

    async finish(): Promise<void> {
      const stream = inflater;
      if (!hasher.done && failure === undefined && stream !== undefined && !stream.destroyed) {
        // Let zlib work through what is queued; the output handler stops it once the block is whole.
        await new Promise<void>((resolve) => {
          stream.once('end', resolve);
          stream.once('close', resolve);
          stream.once('error', () => resolve());
          stream.end();
        });
      }
      stop();
      if (failure !== undefined) throw unreadable(failure);
      if (wrapper === undefined) throw unreadable(`${head.length} bytes is too short for an ADB file`);
      const actual = hasher.identity;
      if (actual === undefined) throw unreadable('the file ends before its ADB block does');
      if (actual !== expected) throw mismatch(actual);
    },
  };
}
