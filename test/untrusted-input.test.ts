import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { verifyMirror } from '../worker/commands/verify.js';
import {
  AdbPayloadWriter,
  adbBlock,
  adbContainer,
  adbFile,
  BLOCK_ADB,
  buildApkIndex,
  buildApkPackage,
  SCHEMA_INDEX,
} from './helpers/adb-writer.js';
import { exists, sha256 } from './helpers/files.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

/** Publishes `text` as a feed's index on the upstream, properly signed: only the content is hostile. */
function replaceIndex(h: Harness, feedDir: string, text: string): void {
  const packages = Buffer.from(text);
  h.upstream.files.set(`${feedDir}/Packages`, packages);
  h.upstream.files.set(`${feedDir}/Packages.gz`, gzipSync(packages));
  h.upstream.files.set(`${feedDir}/Packages.sig`, Buffer.from(h.signer.sign(packages)));
}

describe('untrusted upstream data', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  for (const filename of ['../../../escaped.ipk', '/tmp/absolute.ipk', 'sub/dir.ipk', '..']) {
    it(`refuses a package whose Filename is ${JSON.stringify(filename)} and writes nothing outside the mirror`, async () => {
      h = await createHarness();
      const feed = h.tree.feeds.find((f) => f.name === 'packages');
      const original = h.tree.files.get(`${feed?.dir}/Packages`)?.toString() ?? '';
      const hostile =
        `Package: evil\nVersion: 1.0-r1\nDepends: libc\nArchitecture: mipsel_24kc\nFilename: ${filename}\n` +
        `Size: 5\nSHA256sum: ${'a'.repeat(64)}\nDescription: hostile\n\n`;
      replaceIndex(h, feed?.dir ?? '', original + hostile);
      h.upstream.files.set(path.posix.join(feed?.dir ?? '', filename), Buffer.from('owned'));

      const { exitCode, report } = await h.sync({ REQUIRED_PACKAGES: 'python3,evil' });
      expect(exitCode).to.equal(1);
      expect(
        report.warnings.some((w) => w.includes('evil') && w.includes(JSON.stringify(filename).slice(1, -1))),
      ).to.be.true;
      expect(report.failures.map((f) => f.package)).to.include('evil');
      expect(await exists(path.join(h.root, 'escaped.ipk'))).to.be.false;
      expect(await exists(path.join(h.mirrorDir, 'escaped.ipk'))).to.be.false;
      expect(await exists(path.join(h.mirrorDir, h.tree.releaseDir, 'escaped.ipk'))).to.be.false;
      expect(h.upstream.requests.some((r) => r.path.includes('escaped') || r.path.includes('absolute'))).to.be
        .false;
      // The rest of the feed is still mirrored.
      expect(report.feeds.find((f) => f.name === 'packages')?.state).to.equal('updated');
    });
  }

  it('refuses to write through a symlink planted in MIRROR_DIR', async () => {
    h = await createHarness();
    const outside = path.join(h.root, 'outside');
    await fs.mkdir(outside);
    await fs.mkdir(h.mirrorDir);
    await fs.symlink(outside, path.join(h.mirrorDir, 'releases'));
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.failures[0]?.reason).to.match(/symlink/);
    expect(await fs.readdir(outside)).to.deep.equal([]);
  });

  it('refuses a release link that points outside the mirror', async () => {
    h = await createHarness();
    const outside = path.join(h.root, 'outside');
    await fs.mkdir(outside);
    await fs.mkdir(path.join(h.mirrorDir, 'releases'), { recursive: true });
    await fs.symlink(outside, path.join(h.mirrorDir, h.tree.releaseDir));
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.failures[0]?.reason).to.match(/not a generation of this mirror/);
    expect(await fs.readdir(outside)).to.deep.equal([]);
  });

  it('refuses an index that suddenly lists far fewer packages, keeping the last good state', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const feed = h.tree.feeds.find((f) => f.name === 'base');
    const servedBefore = await fs.readFile(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages'));
    const stanzas = servedBefore.toString().split('\n\n').filter(Boolean);
    expect(stanzas.length).to.be.greaterThan(40);
    replaceIndex(h, feed?.dir ?? '', `${stanzas.slice(0, 5).join('\n\n')}\n\n`);

    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    const failure = report.failures.find((f) => f.feed === 'base');
    expect(failure?.reason).to.match(/lists 5 packages where the last good index listed \d+/);
    expect((await fs.readFile(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages'))).equals(servedBefore)).to
      .be.true;
  });

  for (const [what, body] of [
    ['another index than the signed one', gzipSync(Buffer.from('Package: other\n'))],
    ['no gzip at all', Buffer.from('Package: other\n')],
  ] as const) {
    it(`refuses a Packages.gz holding ${what}`, async () => {
      h = await createHarness();
      const feed = h.tree.feeds.find((f) => f.name === 'luci');
      h.upstream.files.set(`${feed?.dir}/Packages.gz`, body);
      const { exitCode, report } = await h.sync({ OPENWRT_DEVICES: '' });
      expect(exitCode).to.equal(1);
      const failure = report.failures.find((f) => f.feed === 'luci');
      expect(failure?.file).to.match(/luci\/Packages/);
      expect(failure?.reason).to.match(/signature does not match|gzip/);
      expect(await exists(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages.gz'))).to.be.false;
    });
  }

  it('refuses index entries named like the index files, or like each other, and serves the real index', async () => {
    h = await createHarness();
    const feed = h.tree.feeds.find((f) => f.name === 'base');
    const dir = feed?.dir ?? '';
    const original = h.tree.files.get(`${dir}/Packages`)?.toString() ?? '';
    // The upstream serves whatever it likes at the index file's path, and lists it as a package.
    const owned = Buffer.from('owned: not an index\n');
    h.upstream.files.set(`${dir}/Packages`, owned);
    const victim = feed?.packages.find((p) => p.name === 'ip-full');
    const stanza = (name: string, filename: string, body: Buffer) =>
      `Package: ${name}\nVersion: 1.0-r1\nDepends: libc\nArchitecture: mipsel_24kc\nFilename: ${filename}\n` +
      `Size: ${body.length}\nSHA256sum: ${sha256(body)}\nDescription: hostile\n\n`;
    const hostile =
      original +
      stanza('evil-index', 'Packages', owned) +
      stanza('evil-sig', 'packages.sig', owned) +
      stanza('evil-twin', victim?.filename ?? '', owned);
    const packages = Buffer.from(hostile);
    h.upstream.files.set(`${dir}/Packages.gz`, gzipSync(packages));
    h.upstream.files.set(`${dir}/Packages.sig`, Buffer.from(h.signer.sign(packages)));

    const { report } = await h.sync({ OPTIONAL_PACKAGES: 'evil-index,evil-sig,evil-twin' });
    const warned = (name: string) => report.warnings.find((w) => w.includes(`"${name}"`)) ?? '';
    expect(warned('evil-index')).to.contain("the directory's own Packages");
    expect(warned('evil-sig')).to.contain("the directory's own Packages.sig");
    expect(warned('evil-twin')).to.contain(`is also that of package "ip-full"`);
    expect(h.upstream.requests.some((r) => r.path === `${dir}/Packages`)).to.be.false;
    expect((await fs.readFile(path.join(h.mirrorDir, dir, 'Packages'))).equals(packages)).to.be.true;
    expect(
      (await fs.readFile(path.join(h.mirrorDir, dir, victim?.filename ?? ''))).equals(
        h.tree.files.get(`${dir}/${victim?.filename}`) as Buffer,
      ),
    ).to.be.true;
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('holds the indexes of a run to one memory budget: the one that would cross it is refused, named', async () => {
    h = await createHarness();
    const feeds = h.tree.feeds.filter((f) => ['core', 'base', 'kmods', 'packages'].includes(f.name));
    const total = feeds.reduce((sum, f) => sum + (h.tree.files.get(`${f.dir}/Packages`) as Buffer).length, 0);
    // One byte short of all four: whichever index comes in last does not fit.
    const { exitCode, report } = await h.sync(
      { OPENWRT_DEVICES: '', OPENWRT_FEEDS: 'base,packages' },
      { indexMemoryBytes: total - 1 },
    );
    expect(exitCode).to.equal(1);
    const refused = report.failures.filter((f) =>
      /the indexes of this run would unpack to more than/.test(f.reason),
    );
    expect(refused, JSON.stringify(report.failures)).to.have.length(1);
    expect(report.feeds.filter((f) => f.state === 'updated')).to.have.length(3);
  });

  it('refuses a corrupted image: it is never served', async () => {
    h = await createHarness();
    const image = h.tree.images.find((i) => i.device === 'dlink_dir-1960-a1' && i.type === 'sysupgrade');
    h.upstream.fault({ match: image?.path ?? '', kind: 'corrupt' });
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.failures.some((f) => f.file === image?.path.replace(`${h.tree.releaseDir}/`, ''))).to.be
      .true;
    expect(await exists(path.join(h.mirrorDir, image?.path ?? ''))).to.be.false;
  });
});

describe('untrusted apk indexes', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  /** One package that provides `count` distinct names: a few MB of index, a quadratic trap for a naive parser. */
  function bombIndex(count: number, signers?: Parameters<typeof buildApkIndex>[1]) {
    const provides = Array.from({ length: count }, (_, i) => `virtual-${i.toString(36)}`);
    const pkg = { name: 'bomb', version: '1.0-r1', provides };
    return buildApkIndex([{ pkg, apk: buildApkPackage(pkg) }], signers);
  }

  it('checks the signature before it reads a package: an unsigned index is refused for that, whatever it holds', async () => {
    h = await createHarness({ tree: { version: '25.12.0' } });
    const feed = h.tree.feeds.find((f) => f.name === 'telephony');
    // A well-formed container whose package list holds a null entry: reading it would refuse the
    // whole index for that, before any signature was looked at.
    const w = new AdbPayloadWriter();
    const payload = w.finish(w.object([w.blob('hostile'), w.array([w.object([w.blob('x')]), 0])]));
    const unsigned = adbFile(adbContainer(SCHEMA_INDEX, [adbBlock(BLOCK_ADB, payload)]));
    h.upstream.files.set(`${feed?.dir}/packages.adb`, unsigned);
    const { report } = await h.sync({ OPENWRT_DEVICES: '' });
    const failure = report.failures.find((f) => f.feed === 'telephony');
    expect(failure?.reason).to.contain('not signed');
    expect(report.feeds.find((f) => f.name === 'telephony')?.state).to.equal('failed');
    // And a huge unsigned one costs no more than its container.
    h.upstream.files.set(`${feed?.dir}/packages.adb`, bombIndex(230_000, { signers: [] }));
    const again = await h.sync({ OPENWRT_DEVICES: '' });
    expect(again.report.failures.find((f) => f.feed === 'telephony')?.reason).to.contain('not signed');
  });

  it('reads a signed index of 230,000 provided names in time linear in its size', async function () {
    // A hang guard, not a benchmark: the quadratic duplicate check took about 100 s of CPU here.
    this.timeout(45_000);
    h = await createHarness({ tree: { version: '25.12.0' } });
    const feed = h.tree.feeds.find((f) => f.name === 'telephony');
    h.upstream.files.set(
      `${feed?.dir}/packages.adb`,
      bombIndex(230_000, { signers: [h.tree.apkSigner as never] }),
    );
    const { report } = await h.sync({ OPENWRT_DEVICES: '' });
    const telephony = report.feeds.find((f) => f.name === 'telephony');
    expect(telephony?.state, JSON.stringify(report.failures)).to.equal('updated');
    expect(telephony?.packagesInIndex).to.equal(1);
  });
});
