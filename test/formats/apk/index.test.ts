import { readFileSync, statSync } from 'node:fs';
import { expect } from 'chai';
import { dependsOf, NO_DEPENDS } from '../../../worker/feeds/depends.js';
import { apkIndexJson, parseApkIndex } from '../../../worker/formats/apk/apk-index.js';
import {
  AdbPayloadWriter,
  adbBlock,
  adbContainer,
  adbFile,
  BLOCK_ADB,
  BLOCK_SIG,
  buildApkFeed,
  buildApkPackage,
  SCHEMA_INDEX,
} from '../../helpers/adb-writer.js';
import { refusal } from './helpers.js';

/** No record: reads as no dependencies, so that a missing record fails on what is asserted of it. */
const NONE = { depends: NO_DEPENDS };

const FIXTURES = new URL('../../fixtures/apk/', import.meta.url);
const FEED = new URL('signed-feed/', FIXTURES);
const feedIndex = readFileSync(new URL('packages.adb', FEED));
const kmodsIndex = readFileSync(new URL('aarch64-25.12.2-kmods.packages.adb', FIXTURES));
const kmodsJson = readFileSync(new URL('aarch64-25.12.2-kmods.index.json', FIXTURES), 'utf8');

/** An unsigned index whose package objects the test writes field by field (fields[i] is field i + 1). */
function indexOf(build: (w: AdbPayloadWriter) => (number | undefined)[][]): Buffer {
  const w = new AdbPayloadWriter();
  const packages = build(w).map((fields) => w.object(fields));
  const payload = w.finish(w.object([undefined, w.array(packages)]));
  return adbFile(adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, payload)]));
}

/** Package fields 1–13: name, version, a 32-byte identity, file size; `patch` overrides. */
function fields(w: AdbPayloadWriter, name: string, patch: Record<number, number | undefined> = {}) {
  const out: (number | undefined)[] = [];
  out[0] = w.blob(name);
  out[1] = w.blob('1.0-r1');
  out[2] = w.blob(Buffer.alloc(32, 7));
  out[12] = w.int(1234);
  for (const [field, value] of Object.entries(patch)) out[Number(field) - 1] = value;
  return out;
}

describe('apk/index', () => {
  it('reads the 13 packages of the signed feed, each matching its .apk file size', () => {
    const index = parseApkIndex(feedIndex);
    expect(index.schema).to.equal('indx');
    expect(index.problems).to.deep.equal([]);
    expect(index.packages).to.have.length(13);
    expect(index.signatures.map((s) => [s.hashAlg, s.keyId])).to.deep.equal([
      [4, 'bf8e0c844269e563e20782a19fde51e2'],
    ]);
    const pbr = index.packages.find((p) => p.name === 'pbr');
    expect(pbr).to.include({ version: '1.2.3-r67', filename: 'pbr-1.2.3-r67.apk', architecture: 'noarch' });
    expect(
      dependsOf(pbr ?? NONE)
        .flat()
        .map((d) => d.name),
    ).to.include('libc');
    expect(pbr?.provides).to.include('pbr-any');
    for (const pkg of index.packages) {
      expect(pkg.filename).to.equal(`${pkg.name}-${pkg.version}.apk`);
      expect(pkg.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(pkg.size, pkg.filename).to.equal(statSync(new URL(pkg.filename, FEED)).size);
      expect(pkg.origin).to.be.a('string');
    }
  });

  it('reads all 1,091 packages of a real kmods index, names and versions as in its index.json', () => {
    const index = parseApkIndex(kmodsIndex);
    expect(index.problems).to.deep.equal([]);
    expect(index.packages).to.have.length(1091);
    const listed = (JSON.parse(kmodsJson) as { packages: Record<string, string> }).packages;
    const derived = apkIndexJson(index, 'aarch64_cortex-a53');
    expect(derived.packages).to.deep.equal(listed);
    // Byte for byte what OpenWrt's make-index-json.py wrote.
    expect(`${JSON.stringify(derived, null, 2)}\n`).to.equal(kmodsJson);

    const kmod = index.packages.find((p) => p.name === 'kmod-3c59x');
    expect(dependsOf(kmod ?? NONE)).to.deep.equal([
      [{ name: 'kernel', op: '=', version: '6.12.74~ea63eca8388c3b20e2a7a5d5cbdbc7e1-r1' }],
      [{ name: 'kmod-mii' }],
    ]);
    const lib = index.packages.find((p) => p.name === 'libatomic1');
    expect(lib).to.include({ abiVersion: '1' });
    expect(lib?.provides).to.deep.equal(['libatomic', 'libatomic-any']);
  });

  it('leaves out only what people read when the records are to plan with', () => {
    const all = parseApkIndex(kmodsIndex);
    const plan = parseApkIndex(kmodsIndex, { fields: 'plan' });
    expect(plan.problems).to.deep.equal(all.problems);
    expect(plan.packages).to.deep.equal(
      all.packages.map(({ architecture: _a, description: _d, ...planned }) => planned),
    );
    expect(all.packages.filter((p) => p.description && p.architecture)).to.have.length(1091);
  });

  it('maps apk dependency operators, drops conflicts and keeps install-if', () => {
    const feed = buildApkFeed(
      [
        {
          name: 'app',
          version: '1.0-r1',
          depends: ['libc', 'a=1', 'b<2', 'c>3', 'd<=4', 'e>=5', 'f~6.1', 'g>~7', '!h', '!i<2', 'j><Q1abc'],
          provides: ['app-virtual=1.0-r1', 'other'],
          installIf: ['luci-base', 'app-helper>=2', '!nope'],
          origin: 'feeds/packages/app',
          description: 'an app',
        },
        { name: 'only-conflict-trigger', version: '1', installIf: ['!x'] },
      ],
      { description: 'test feed' },
    );
    const index = parseApkIndex(feed.index);
    expect(index.description).to.equal('test feed');
    const [app, other] = index.packages;
    expect(dependsOf(app ?? NONE)).to.deep.equal([
      [{ name: 'libc' }],
      [{ name: 'a', op: '=', version: '1' }],
      [{ name: 'b', op: '<<', version: '2' }],
      [{ name: 'c', op: '>>', version: '3' }],
      [{ name: 'd', op: '<=', version: '4' }],
      [{ name: 'e', op: '>=', version: '5' }],
      [{ name: 'f', op: '=', version: '6.1', fuzzy: true }],
      [{ name: 'g', op: '>=', version: '7', fuzzy: true }],
      // `><` pins a checksum, not a version: any version will do for the mirror.
      [{ name: 'j' }],
    ]);
    expect(app?.provides).to.deep.equal(['app-virtual', 'other', 'app-any']);
    expect(app?.installIf).to.deep.equal([
      { name: 'luci-base' },
      { name: 'app-helper', op: '>=', version: '2' },
    ]);
    expect(app?.origin).to.equal('feeds/packages/app');
    expect(app?.size).to.equal(feed.files.get('app-1.0-r1.apk')?.length);
    expect(other?.installIf).to.equal(undefined);
  });

  it('reads stored, ADBd and ADBc indexes alike', () => {
    const pkg = { name: 'a', version: '1' };
    const entries = [{ pkg, apk: buildApkPackage(pkg) }];
    for (const compression of ['none', 'deflate', 'adbc-deflate', 'adbc-none'] as const) {
      const index = parseApkIndex(buildApkFeed([pkg], { compression }).index);
      expect(
        index.packages.map((p) => p.sha256),
        compression,
      ).to.deep.equal([entries[0]?.apk.identity]);
    }
  });

  it('skips packages that cannot be mirrored safely, naming each, and keeps the others', () => {
    const file = indexOf((w) => [
      fields(w, 'good'),
      fields(w, '../../etc/passwd'),
      fields(w, 'evil', { 2: w.blob('1.0/../../x') }),
      fields(w, 'spaced name'),
      fields(w, 'newline', { 2: w.blob('1.0\n-r1') }),
      fields(w, 'sha1', { 3: w.blob(Buffer.alloc(20, 1)) }),
      fields(w, 'no-identity', { 3: undefined }),
      fields(w, 'no-size', { 13: undefined }),
      fields(w, 'no-version', { 2: undefined }),
      fields(w, 'bad-dep', { 15: w.array([w.object([w.blob('')])]) }),
      // Kept as text, a dependency's version with a space in it would read back as two.
      fields(w, 'spaced-dep', { 15: w.array([w.object([w.blob('libc'), w.blob('1.0 -r1')])]) }),
      [undefined, w.blob('1.0')],
    ]);
    const index = parseApkIndex(file, { what: 'base/packages.adb' });
    expect(index.packages.map((p) => p.name)).to.deep.equal(['good']);
    expect(index.problems).to.deep.equal([
      'base/packages.adb: package #2 "../../etc/passwd" skipped: package file name "../../etc/passwd-1.0-r1.apk" is not a safe file name: it contains \'/\'',
      'base/packages.adb: package #3 "evil" skipped: package file name "evil-1.0/../../x.apk" is not a safe file name: it contains \'/\'',
      'base/packages.adb: package #4 "spaced name" skipped: name "spaced name" is not a package name',
      'base/packages.adb: package #5 "newline" skipped: version "1.0\\n-r1" is empty or contains white space or a control character',
      'base/packages.adb: package #6 "sha1" skipped: its identity is 20 bytes, expected a 32-byte SHA-256',
      'base/packages.adb: package #7 "no-identity" skipped: it has no identity (hashes)',
      'base/packages.adb: package #8 "no-size" skipped: it has no file-size',
      'base/packages.adb: package #9 "no-version" skipped: it has no version',
      'base/packages.adb: package #10 "bad-dep" skipped: dependency "" is not a package name',
      'base/packages.adb: package #11 "spaced-dep" skipped: dependency "libc" version "1.0 -r1" is empty or contains white space or a control character',
      'base/packages.adb: package #12 skipped: it has no name',
    ]);
  });

  it('refuses a package file, too many packages, and keeps the problem list short', () => {
    const apk = buildApkPackage({ name: 'a', version: '1' }).file;
    expect(refusal(() => parseApkIndex(apk)).message).to.equal(
      'packages.adb: schema is "pckg", expected "indx"',
    );
    const many = indexOf((w) => Array.from({ length: 50 }, (_, i) => fields(w, `p${i}`)));
    expect(refusal(() => parseApkIndex(many, { maxPackages: 49 })).message).to.equal(
      'packages.adb: 50 packages is more than the limit of 49',
    );
    const hostile = indexOf((w) => Array.from({ length: 500 }, () => fields(w, '..')));
    const index = parseApkIndex(hostile);
    expect(index.problems).to.have.length(101);
    expect(index.problems.at(-1)).to.equal('packages.adb: 400 more packages skipped');
  });

  it('skips a second entry for the same file', () => {
    const file = indexOf((w) => [
      fields(w, 'twice'),
      fields(w, 'other'),
      fields(w, 'twice', { 3: w.blob(Buffer.alloc(32, 9)) }),
    ]);
    const index = parseApkIndex(file);
    expect(index.packages.map((p) => p.name)).to.deep.equal(['twice', 'other']);
    expect(index.packages[0]?.sha256).to.equal('07'.repeat(32));
    expect(index.problems).to.deep.equal([
      'packages.adb: package #3 "twice" skipped: it names the same file as package #1',
    ]);
  });

  it('refuses an index with more SIG blocks than any real one carries', () => {
    const w = new AdbPayloadWriter();
    const payload = w.finish(w.object([]));
    const sig = adbBlock(BLOCK_SIG, Buffer.alloc(80));
    const file = adbFile(adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, payload), ...Array(17).fill(sig)]));
    expect(refusal(() => parseApkIndex(file)).message).to.equal('packages.adb: 17 SIG blocks, more than 16');
  });

  it('describes SIG blocks it cannot use and leaves them out', () => {
    const w = new AdbPayloadWriter();
    const payload = w.finish(w.object([]));
    const file = adbFile(
      adbContainer(SCHEMA_INDEX, [
        adbBlock(BLOCK_ADB, payload),
        adbBlock(BLOCK_SIG, Buffer.alloc(10)),
        adbBlock(BLOCK_SIG, Buffer.concat([Buffer.from([1, 4]), Buffer.alloc(80)])),
      ]),
    );
    const index = parseApkIndex(file);
    expect(index.signatures).to.deep.equal([]);
    expect(index.packages).to.deep.equal([]);
    expect(index.problems).to.deep.equal([
      'packages.adb: SIG block at offset 24 ignored: 10 bytes is too short',
      'packages.adb: SIG block at offset 40 ignored: signature version 1 is unknown',
    ]);
  });
});
