/** Deterministic bytes and hashes: every package and image body, size and ranking comes from here. */
import { createCipheriv, createHash } from 'node:crypto';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A stable 32-bit number for `text`: sizes, rankings and filler shapes are drawn with it. */
export function hash32(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0);
}

/** Deterministic pseudo-random bytes: AES-CTR keystream keyed by the seed (fast enough for benchmark trees). */
export function pseudoRandomBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

/** A package's default size: 1–40 KiB, from its name. */
export function defaultPackageBytes(name: string): number {
  return 1024 + (hash32(`size ${name}`) % (39 * 1024 + 1));
}

/** `sizeOf(name)`, refused unless it is a whole number of bytes. */
export function packageSize(sizeOf: (name: string) => number, name: string): number {
  const size = sizeOf(name);
  if (!Number.isInteger(size) || size < 0) throw new TypeError(`packageBytes(${name}) gave ${size}`);
  return size;
}
