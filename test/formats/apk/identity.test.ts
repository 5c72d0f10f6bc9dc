import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { IntegrityError, UntrustedInputError } from '../../../worker/errors.js';
import { parseApkIndex } from '../../../worker/formats/apk/apk-index.js';
import { apkIdentityCheck, apkIdentityOfFile } from '../../../worker/formats/apk/identity.js';
import { Upstream } from '../../../worker/upstream/client.js';
import { buildApkFeed, buildApkPackage } from '../../helpers/adb-writer.js';
import { startFakeUpstream } from '../../helpers/fake-upstream.js';
import { prng } from './helpers.js';

const FEED = new URL('../../fixtures/apk/signed-feed/', import.meta.url);
const index = parseApkIndex(readFileSync(new URL('packages.adb', FEED)));

/** Deterministic pseudo-random numbers (mulberry32), so a failing chunking can be replayed. */

/** Feeds `file` to a fresh check in chunks of 1 … maxChunk bytes, then finishes it. */
async function check(expected: string, name: string, file: Buffer, seed = 1, maxChunk = 4096): Promise<void> {
  const random = prng(seed);
  const c = apkIdentityCheck(expected, name);
  for (let at = 0; at < file.length; ) {
    const size = 1 + Math.floor(random() * maxChunk);
    c.update(file.subarray(at, at + size));
    at += size;
  }
  await c.finish();
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error as Error,
  );
}

/** A copy of an ADBd package with one byte of its decompressed ADB block changed, recompressed. */
function flipInAdbBlock(file: Buffer, offset: number): Buffer {
  const container = inflateRawSync(file.subarray(4));
  container[12 + offset] = (container[12 + offset] as number) ^ 0x01;
  return Buffer.concat([Buffer.from('ADBd'), deflateRawSync(container)]);
}

describe('apk/identity', () => {
  it('matches every .apk of the signed feed with its index size and identity, in random chunks', async () => {
    expect(index.packages).to.have.length(13);
    for (const [i, pkg] of index.packages.entries()) {
      const file = readFileSync(new URL(pkg.filename, FEED));
      expect(file.length, pkg.filename).to.equal(pkg.size);
      expect(apkIdentityOfFile(file, pkg.filename)).to.equal(pkg.sha256);
      await check(pkg.sha256, pkg.filename, file, i + 1);
      await check(pkg.sha256.toUpperCase(), pkg.filename, file, i + 100, 7);
    }
  });

  it('fails when a byte inside the ADB block changed, naming the file, the expected and the actual identity', async () => {
    const pkg = index.packages.find((p) => p.name === 'pbr');
    if (pkg === undefined) throw new Error('pbr is in the fixture');
    const file = readFileSync(new URL(pkg.filename, FEED));
    const tampered = flipInAdbBlock(file, 200);
    const actual = apkIdentityOfFile(tampered);
    expect(actual).to.not.equal(pkg.sha256);
    const error = await rejection(check(pkg.sha256, pkg.filename, tampered));
    expect(error).to.be.instanceOf(IntegrityError);
    expect(error.message).to.equal(
      `${pkg.filename}: apk identity mismatch: expected ${pkg.sha256}, got ${actual}`,
    );
  });

  it('fails, as an IntegrityError, on a file that is cut short, corrupt or not a package', async () => {
    const pkg = index.packages.find((p) => p.name === 'pbr');
    if (pkg === undefined) throw new Error('pbr is in the fixture');
    const file = readFileSync(new URL(pkg.filename, FEED));
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(0), /too short for an ADB file/],
      [file.subarray(0, 3), /too short for an ADB file/],
      [file.subarray(0, 600), /deflate stream is corrupt|ends before its ADB block/],
      [Buffer.from('PK\x03\x04 a zip file'), /not an apk v3 \(ADB\) file/],
      [readFileSync(new URL('packages.adb', FEED)), /schema is "indx", expected "pckg"/],
      [Buffer.concat([Buffer.from('ADBd'), Buffer.alloc(64, 0xff)]), /deflate stream is corrupt/],
      [Buffer.concat([Buffer.from('ADBc'), Buffer.from([2, 3]), file.subarray(4)]), /zstd/],
    ];
    for (const [bytes, message] of cases) {
      const error = await rejection(check(pkg.sha256, pkg.filename, bytes));
      expect(error, String(message)).to.be.instanceOf(IntegrityError);
      expect(error.message).to.match(message);
      expect(error.message).to.contain(
        `${pkg.filename}: apk identity mismatch: expected ${pkg.sha256}, got an unreadable package`,
      );
      expect(() => apkIdentityOfFile(bytes), String(message)).to.throw(UntrustedInputError);
    }
  });

  it('reads stored and ADBc packages, and large ones without decompressing their data', async () => {
    for (const compression of ['none', 'deflate', 'adbc-deflate', 'adbc-none'] as const) {
      const apk = buildApkPackage({ name: 'a', version: '1' }, compression);
      expect(apkIdentityOfFile(apk.file), compression).to.equal(apk.identity);
      await check(apk.identity, apk.fileName, apk.file, 3, 5);
    }
    // 24 MiB of incompressible data behind the ADB block: the check is done after the head.
    const big = buildApkPackage({
      name: 'big',
      version: '1',
      files: { 'usr/lib/big.bin': randomBytes(24 << 20) },
    });
    const started = Date.now();
    await check(big.identity, big.fileName, big.file, 4, 65536);
    expect(apkIdentityOfFile(big.file)).to.equal(big.identity);
    expect(Date.now() - started).to.be.below(2000);
  });

  it('works as the download check of the upstream client, and refuses a package whose identity differs', async function () {
    this.slow(3000);
    const feed = buildApkFeed([{ name: 'pkg', version: '2025.10.03~04cd252e-r1' }]);
    const apk = feed.packages[0];
    if (apk === undefined) throw new Error('one package');
    const [record] = parseApkIndex(feed.index).packages;
    if (record === undefined) throw new Error('one record');
    const path = `releases/25.12.0/packages/aarch64_cortex-a53/base/${record.filename}`;
    const upstream = await startFakeUpstream({ files: new Map([[path, apk.file]]) });
    const dir = await mkdtemp(join(tmpdir(), 'owm-apk-identity-'));
    try {
      const client = new Upstream({
        baseUrl: upstream.url,
        rateLimit: 1000,
        concurrency: 2,
        maxRetries: 0,
        retryDelayMs: 10,
        timeoutMs: 2000,
      });
      const dest = join(dir, 'pkg.apk');
      // The index's sha256 is the identity, not the file's hash: it goes to the check, never to `sha256`.
      await client.download(path, dest, {
        size: record.size,
        check: () => apkIdentityCheck(record.sha256, record.filename),
      });
      expect((await readFile(dest)).equals(apk.file)).to.equal(true);

      const other = buildApkPackage({
        name: 'pkg',
        version: '2025.10.03~04cd252e-r1',
        description: 'not the same',
      });
      const error = await rejection(
        client.download(path, dest, { check: () => apkIdentityCheck(other.identity, record.filename) }),
      );
      expect(error).to.be.instanceOf(IntegrityError);
      expect(error.message).to.contain(`expected ${other.identity}, got ${record.sha256}`);
      expect(existsSync(dest)).to.equal(false);
    } finally {
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
