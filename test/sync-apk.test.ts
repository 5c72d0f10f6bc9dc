import fs from 'node:fs/promises';
import path from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { verifyMirror } from '../worker/commands/verify.js';
import { ConfigError } from '../worker/errors.js';
import { readStatus } from '../worker/status/status-file.js';
import { exists, listFiles, sha256 } from './helpers/files.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

const RELEASE = '25.12.0';

describe('sync of an apk release (25.12)', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('mirrors every .apk the lab lists need, byte-identical, with the signed indexes and a distfeeds.list', async () => {
    h = await createHarness({ tree: { version: RELEASE } });
    expect(h.tree.format).to.equal('apk');
    const { exitCode, report } = await h.sync();
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    expect(exitCode).to.equal(0);

    const expected = labClosure(h.tree);
    expect([...expected].some((p) => p.includes('~'))).to.be.true;
    expect([...expected].some((p) => p.includes('luci-i18n-statistics-en'))).to.be.true; // install_if
    for (const upstreamPath of expected) {
      const served = await fs.readFile(path.join(h.mirrorDir, upstreamPath)).catch(() => undefined);
      expect(served, upstreamPath).to.not.equal(undefined);
      expect(sha256(served as Buffer), upstreamPath).to.equal(
        sha256(h.tree.files.get(upstreamPath) as Buffer),
      );
    }
    const servedApks = (await listFiles(h.mirrorDir, 'releases')).filter((p) => p.endsWith('.apk'));
    expect(servedApks.sort()).to.deep.equal([...expected].sort());
    for (const feed of h.tree.feeds) {
      const adb = await fs.readFile(path.join(h.mirrorDir, feed.dir, 'packages.adb'));
      expect(adb.equals(h.tree.files.get(`${feed.dir}/packages.adb`) as Buffer), feed.dir).to.be.true;
      const json = await fs.readFile(path.join(h.mirrorDir, feed.dir, 'index.json'));
      expect(json.equals(h.tree.files.get(`${feed.dir}/index.json`) as Buffer), `${feed.dir}/index.json`).to
        .be.true;
      expect(await exists(path.join(h.mirrorDir, feed.dir, 'Packages'))).to.be.false;
    }

    const list = await fs.readFile(path.join(h.mirrorDir, 'distfeeds.list'), 'utf8');
    expect(list.trim().split('\n')).to.deep.equal(
      h.tree.feeds.map((feed) => `@MIRROR_URL@/${feed.dir}/packages.adb`),
    );
    expect(await exists(path.join(h.mirrorDir, 'distfeeds.conf'))).to.be.false;
    expect((await readStatus(h.mirrorDir))?.mirror.format).to.equal('apk');
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('a re-run with nothing new fetches no package: one revalidation per index, profiles.json, the sums signature and the metadata', async () => {
    h = await createHarness({ tree: { version: RELEASE } });
    expect((await h.sync()).exitCode).to.equal(0);
    h.upstream.resetLog();
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(0);
    expect(report.downloaded).to.equal(0);
    expect(h.upstream.requests.map((r) => r.path).sort()).to.deep.equal(
      [
        `${h.tree.targetDir}/profiles.json`,
        `${h.tree.targetDir}/sha256sums.sig`,
        ...h.tree.feeds.map((f) => `${f.dir}/packages.adb`),
        `${h.tree.releaseDir}/.targets.json`,
        '.versions.json',
      ].sort(),
    );
    expect(h.upstream.requests.every((r) => r.status === 304)).to.be.true;
  });

  it('follows the upstream to new versions and keeps the replaced packages for the grace period', async () => {
    h = await createHarness({ tree: { version: RELEASE } });
    expect((await h.sync()).exitCode).to.equal(0);
    const before = labClosure(h.tree);
    h.moveTo(1);
    const after = labClosure(h.tree);
    const replaced = [...before].filter((p) => !after.has(p));
    expect(replaced.length).to.be.greaterThan(0);
    h.upstream.resetLog();
    expect((await h.sync()).exitCode).to.equal(0);
    const fetched = h.upstream.requests.filter((r) => r.path.endsWith('.apk')).map((r) => r.path);
    expect(fetched.sort()).to.deep.equal([...after].filter((p) => !before.has(p)).sort());
    for (const p of [...after, ...replaced]) expect(await exists(path.join(h.mirrorDir, p)), p).to.be.true;
  });

  it('refuses a package whose identity does not match the signed index, naming it; the old state stays', async () => {
    h = await createHarness({ tree: { version: RELEASE } });
    expect((await h.sync()).exitCode).to.equal(0);
    const before = labClosure(h.tree);
    h.moveTo(1);
    const added = [...labClosure(h.tree)].filter((p) => !before.has(p));
    const victim = added[0] as string;
    // Same size, different bytes inside the package's ADB block: the identity no longer matches.
    const bytes = Buffer.from(h.tree.files.get(victim) as Buffer);
    bytes[20] = (bytes[20] ?? 0) ^ 0x55;
    h.upstream.files.set(victim, bytes);
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    const failure = report.failures.find((f) => f.file && victim.endsWith(f.file));
    expect(failure, JSON.stringify(report.failures)).to.exist;
    expect(await exists(path.join(h.mirrorDir, victim))).to.be.false;
    const feed = h.tree.feeds.find((f) => victim.startsWith(`${f.dir}/`));
    expect(
      report.feeds.find((f) => f.dir === feed?.dir.replace(`${h.tree.releaseDir}/`, ''))?.state,
    ).to.equal('kept');
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('refuses an index whose signature does not verify, and one signed by a key it does not trust', async () => {
    h = await createHarness({ tree: { version: RELEASE } });
    const luci = h.tree.feeds.find((f) => f.name === 'luci');
    h.upstream.files.set(
      `${luci?.dir}/packages.adb`,
      withBadSignature(h.tree.files.get(`${luci?.dir}/packages.adb`) as Buffer),
    );
    let result = await h.sync();
    expect(result.exitCode).to.equal(1);
    const reason = result.report.failures.find((f) => f.feed === 'luci')?.reason;
    expect(reason, reason).to.match(/bad signature/);
    expect(await exists(path.join(h.mirrorDir, luci?.dir ?? '', 'packages.adb'))).to.be.false;

    // Trust only OpenWrt's real 25.12 key: every index is signed by another one, named in the message.
    await fs.rm(path.join(h.keysDir, 'test-release-apk.pem'));
    await fs.copyFile(
      new URL('../keys/openwrt-25.12.pem', import.meta.url),
      path.join(h.keysDir, 'openwrt-25.12.pem'),
    );
    h.upstream.setFiles(new Map(h.tree.files));
    result = await h.sync();
    expect(result.exitCode).to.equal(1);
    const keyId = h.tree.apkSigner?.keyId ?? '';
    expect(result.report.failures.some((f) => f.reason.includes(keyId))).to.be.true;
  });

  it('stops with a configuration error when the keys directory has no apk key', async () => {
    h = await createHarness({ tree: { version: RELEASE } });
    await fs.rm(path.join(h.keysDir, 'test-release-apk.pem'));
    let error: unknown;
    try {
      await h.sync();
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as Error).message)
      .to.contain('OPENWRT_KEYS_DIR')
      .and.contain('.pem');
  });

  it('verify names a served .apk whose bytes changed on disk', async () => {
    h = await createHarness({ tree: { version: RELEASE } });
    expect((await h.sync()).exitCode).to.equal(0);
    const victim = [...labClosure(h.tree)][0] as string;
    const file = path.join(h.mirrorDir, victim);
    const bytes = await fs.readFile(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await fs.writeFile(file, bytes);
    const { problems } = await verifyMirror(h.config());
    expect(problems.length).to.be.at.least(1);
    for (const problem of problems) expect(problem).to.contain(path.basename(victim));
  });
});

/** The same index with one byte of its signature changed (the signed ADB block itself untouched). */
function withBadSignature(adb: Buffer): Buffer {
  const container = inflateRawSync(adb.subarray(4));
  const padded = (size: number) => (size + 7) & ~7;
  const sigStart = 8 + padded(container.readUInt32LE(8) & 0x3fffffff);
  const sigEnd = sigStart + (container.readUInt32LE(sigStart) & 0x3fffffff);
  container[sigEnd - 1] = (container[sigEnd - 1] ?? 0) ^ 0x01;
  return Buffer.concat([Buffer.from('ADBd'), deflateRawSync(container)]);
}
