/**
 * Hostile bytes: truncated and corrupted copies of real indexes and packages must each be parsed
 * or refused with UntrustedInputError (IntegrityError from the download check): never another
 * exception, never a hang. Seeded, so a failure can be replayed from its message.
 */
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { IntegrityError, UntrustedInputError } from '../../../worker/errors.js';
import { parseApkPublicKey, type TrustedKeys } from '../../../worker/feeds/trusted-keys.js';
import { parseApkIndex } from '../../../worker/formats/apk/apk-index.js';
import { apkIdentityCheck, apkIdentityOfFile } from '../../../worker/formats/apk/identity.js';
import { verifyApkIndex } from '../../../worker/formats/apk/signature.js';
import { prng } from './helpers.js';

const FIXTURES = new URL('../../fixtures/apk/', import.meta.url);
const feedIndex = readFileSync(new URL('signed-feed/packages.adb', FIXTURES));
const kmodsIndex = readFileSync(new URL('aarch64-25.12.2-kmods.packages.adb', FIXTURES));
const apkFile = readFileSync(new URL('signed-feed/pbr-1.2.3-r67.apk', FIXTURES));
const melmac = parseApkPublicKey(
  readFileSync(new URL('signed-feed/apk.openwrt.melmac.ca.pem', FIXTURES), 'utf8'),
  'apk.openwrt.melmac.ca.pem',
);
const keys: Pick<TrustedKeys, 'ecdsa'> = { ecdsa: new Map([[melmac.keyId, melmac]]) };

/** The same file stored (`ADB.`): corruption then reaches the container and values, not just zlib. */
const stored = (file: Buffer): Buffer => inflateRawSync(file.subarray(4));

/** Values that hit the edges of the format: types with offsets near and past the end, huge counts. */
function hostileWord(random: () => number, size: number): number {
  const type = [0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa, 0xd, 0xe, 0xf, 0x5][Math.floor(random() * 11)] as number;
  const offsets = [0, 1, 4, size - 4, size - 1, size, size + 1, 0x0fffffff, Math.floor(random() * size)];
  const offset = (offsets[Math.floor(random() * offsets.length)] as number) & 0x0fffffff;
  const plain = [0, 1, 0xffffffff, 0x7fffffff, 0x3fffffff, 0xc0000010, size, Math.floor(random() * 2 ** 32)];
  return random() < 0.7
    ? ((type << 28) | offset) >>> 0
    : (plain[Math.floor(random() * plain.length)] as number) >>> 0;
}

/** One seeded corruption: a bit flip, a byte overwrite, or a hostile u32 written over a word. */
function corrupt(original: Buffer, random: () => number, from = 0): Buffer {
  const copy = Buffer.from(original);
  const edits = 1 + Math.floor(random() * 3);
  for (let e = 0; e < edits; e++) {
    const at = from + Math.floor(random() * (copy.length - from));
    const kind = random();
    if (kind < 0.3) copy[at] = (copy[at] as number) ^ (1 << Math.floor(random() * 8));
    else if (kind < 0.45) copy[at] = Math.floor(random() * 256);
    else {
      const word = Math.min(at - (at % 4), copy.length - 4);
      copy.writeUInt32LE(hostileWord(random, copy.length), word);
    }
  }
  return copy;
}

/** Runs `fn` and returns what it threw; an exception of another class fails with the case's label. */
function outcome(
  label: string,
  fn: () => void,
  allowed: readonly (new (...args: never[]) => Error)[],
): string {
  try {
    fn();
    return 'ok';
  } catch (error) {
    if (!allowed.some((type) => error instanceof type)) {
      throw new Error(`${label}: threw ${(error as Error)?.name}: ${(error as Error)?.message}`, {
        cause: error,
      });
    }
    return (error as Error).name;
  }
}

const indexCase = (file: Buffer) => () => {
  const index = parseApkIndex(file);
  verifyApkIndex(index, keys);
};

describe('apk/fuzz', function () {
  this.timeout(30_000);
  const caseBudgetMs = 1000;
  let total = 0;

  /** Runs one case with its time budget. */
  const run = (
    label: string,
    fn: () => void,
    allowed: readonly (new (...args: never[]) => Error)[] = [UntrustedInputError],
  ) => {
    const started = performance.now();
    const result = outcome(label, fn, allowed);
    const took = performance.now() - started;
    total += took;
    expect(took, `${label} took ${took.toFixed(0)} ms`).to.be.below(caseBudgetMs);
    return result;
  };

  after(() => {
    // Every case of this file together.
    expect(total, `all fuzz cases took ${total.toFixed(0)} ms`).to.be.below(10_000);
  });

  it('refuses or parses every truncation of the signed index, compressed and stored', () => {
    for (const [name, file] of [
      ['ADBd', feedIndex],
      ['ADB.', stored(feedIndex)],
    ] as const) {
      const cuts = new Set<number>();
      for (let n = 0; n <= 200; n++) cuts.add(n);
      for (let n = 201; n < file.length; n += 37) cuts.add(n);
      cuts.add(file.length - 1);
      const results = new Map<string, number>();
      for (const n of cuts) {
        const r = run(`${name} cut at ${n}`, indexCase(file.subarray(0, n)));
        results.set(r, (results.get(r) ?? 0) + 1);
      }
      // Only the whole file is accepted: a cut loses the padded SIG block, or the deflate stream's end.
      expect(results.get('ok') ?? 0, name).to.equal(0);
      expect(run(`${name} whole`, indexCase(file))).to.equal('ok');
    }
  });

  it('refuses or parses thousands of seeded corruptions of the signed index', () => {
    const container = stored(feedIndex);
    const random = prng(0x5eed);
    const results = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const file = corrupt(container, random, 8);
      const r = run(`signed index corruption #${i}`, indexCase(file));
      results.set(r, (results.get(r) ?? 0) + 1);
    }
    // A changed ADB block fails the signature: only corruptions outside what is signed (the
    // signature's padding) or that leave it intact can pass.
    expect(results.get('UntrustedInputError') ?? 0).to.be.above(2900);
    for (let i = 0; i < 500; i++)
      run(`compressed index corruption #${i}`, indexCase(corrupt(feedIndex, random, 4)));
  });

  it('refuses or parses corruptions of the 1,091-package kmods index', () => {
    const container = stored(kmodsIndex);
    const random = prng(0xadb);
    for (let i = 0; i < 150; i++) {
      run(`kmods corruption #${i}`, () => parseApkIndex(corrupt(container, random, 8)));
    }
    for (let n = 0; n <= 200; n++) run(`kmods cut at ${n}`, () => parseApkIndex(kmodsIndex.subarray(0, n)));
  });

  it('refuses or identifies truncated and corrupted packages, in memory and while streaming', async () => {
    const container = stored(apkFile);
    const storedApk = container; // `ADB.`: the container is the file
    const random = prng(0xa9c);
    const files: [string, Buffer][] = [];
    for (let n = 0; n <= 200; n++) files.push([`apk cut at ${n}`, apkFile.subarray(0, n)]);
    for (let n = 201; n < storedApk.length; n += 997)
      files.push([`stored apk cut at ${n}`, storedApk.subarray(0, n)]);
    for (let i = 0; i < 1000; i++) files.push([`stored apk corruption #${i}`, corrupt(storedApk, random)]);
    for (let i = 0; i < 200; i++) files.push([`apk corruption #${i}`, corrupt(apkFile, random)]);
    for (const [label, file] of files) run(label, () => apkIdentityOfFile(file));
    // The streaming check on a sample, fed in odd chunks: IntegrityError or a match, nothing else.
    const expected = apkIdentityOfFile(apkFile);
    for (const [label, file] of files.filter((_, i) => i % 10 === 0)) {
      const started = performance.now();
      const check = apkIdentityCheck(expected, 'pbr-1.2.3-r67.apk');
      try {
        for (let at = 0; at < file.length; at += 333) check.update(file.subarray(at, at + 333));
        await check.finish();
      } catch (error) {
        if (!(error instanceof IntegrityError)) throw new Error(`${label}: threw ${String(error)}`);
      }
      const took = performance.now() - started;
      total += took;
      expect(took, label).to.be.below(caseBudgetMs);
    }
  });
});
