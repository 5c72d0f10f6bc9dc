/**
 * One mirror, several releases and targets: every set complete and verified at the upstream's
 * paths, arch feeds shared between targets of one architecture, a failing set failing alone, a set
 * removed from the configuration withdrawn after the grace period, and the per-set feed lines.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { verifyMirror } from '../worker/commands/verify.js';
import { failureLine } from '../worker/status/lines.js';
import { readStatus, type StatusFile } from '../worker/status/status-file.js';
import type { Failure } from '../worker/sync/types.js';
import { exists, sha256 } from './helpers/files.js';
import { createSetsHarness, type SetsHarness } from './helpers/sets-harness.js';
import { runCli } from './helpers/spawn-cli.js';
import { labClosure, NODE_FEEDS } from './helpers/tree/index.js';

const OPKG = '24.10.4';
const APK = '25.12.0';
const MT7621 = 'ramips/mt7621';
const MT76X8 = 'ramips/mt76x8';
const X86 = 'x86/64';

const isPackage = (p: string) => p.endsWith('.ipk') || p.endsWith('.apk');

describe('sync of several releases and targets', function () {
  this.timeout(120_000);
  let h: SetsHarness;

  afterEach(async () => {
    await h?.close();
  });

  const ALL = [OPKG, APK].flatMap((release) => [MT7621, MT76X8, X86].map((target) => ({ release, target })));

  it('serves every set complete and verified, indexes byte-identical, each arch feed fetched once', async () => {
    h = await createSetsHarness({
      releases: [{ version: OPKG }, { version: APK }],
      targets: [MT7621, MT76X8, X86],
    });
    const { exitCode, report } = await h.sync(ALL);
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    expect(exitCode).to.equal(0);

    for (const { release, target } of ALL) {
      const set = h.set(release, target);
      for (const upstreamPath of labClosure(set)) {
        const served = await fs.readFile(h.served(upstreamPath)).catch(() => undefined);
        expect(served, `${release} ${target}: ${upstreamPath}`).to.not.equal(undefined);
        expect(sha256(served as Buffer)).to.equal(sha256(h.tree.files.get(upstreamPath) as Buffer));
      }
      for (const feed of set.feeds) {
        const index = set.format === 'apk' ? 'packages.adb' : 'Packages.gz';
        const served = await fs.readFile(h.served(`${feed.dir}/${index}`));
        expect(served.equals(h.tree.files.get(`${feed.dir}/${index}`) as Buffer), `${feed.dir}/${index}`).to
          .be.true;
      }
    }
    // The two mipsel targets share their arch feeds: each index fetched once per run.
    const markers = h.upstream.requests
      .filter((r) => /\/(Packages\.sig|packages\.adb)$/.test(r.path))
      .map((r) => r.path);
    expect(new Set(markers).size, 'each feed index once').to.equal(markers.length);
    expect(markers.filter((p) => p.includes('/packages/mipsel_24kc/base/'))).to.have.length(2); // one per release
    // Every package file once, however many sets want it.
    const fetched = h.upstream.requests.filter((r) => isPackage(r.path)).map((r) => r.path);
    expect(new Set(fetched).size).to.equal(fetched.length);
    expect((await verifyMirror(h.config(ALL))).problems).to.deep.equal([]);

    h.upstream.resetLog();
    const again = await h.sync(ALL);
    expect(again.exitCode).to.equal(0);
    expect(h.upstream.requests.filter((r) => isPackage(r.path))).to.deep.equal([]);
  });

  it('writes each set its own feed lines, and a list of them where a format has several', async () => {
    h = await createSetsHarness({ releases: [{ version: OPKG }, { version: APK }], targets: [MT7621, X86] });
    const sets = [
      { release: OPKG, target: MT7621 },
      { release: OPKG, target: X86 },
      { release: APK, target: MT7621 },
    ];
    expect((await h.sync(sets)).exitCode).to.equal(0);
    const read = (rel: string) => fs.readFile(path.join(h.mirrorDir, rel), 'utf8');
    const x86 = await read(`distfeeds/${OPKG}/${X86}/distfeeds.conf`);
    expect(x86.trim().split('\n')).to.have.length(7);
    expect(x86).to.contain(`@MIRROR_URL@/releases/${OPKG}/targets/${X86}/packages`);
    expect(x86).to.contain(`@MIRROR_URL@/releases/${OPKG}/packages/x86_64/base`);
    const apk = await read(`distfeeds/${APK}/${MT7621}/distfeeds.list`);
    expect(apk).to.contain(`@MIRROR_URL@/releases/${APK}/packages/mipsel_24kc/base/packages.adb`);
    // Two opkg sets: a list of both; one apk set: its lines at the top.
    expect(await exists(path.join(h.mirrorDir, 'distfeeds.conf'))).to.be.false;
    const choices = await read('distfeeds/choices.conf');
    const [comment, ...urls] = choices.trim().split('\n');
    expect(comment).to.match(/^# 2 opkg sets are mirrored here; .*setup\.sh/);
    expect(urls).to.have.length(2);
    expect(choices).to.contain(`@MIRROR_URL@/distfeeds/${OPKG}/${X86}/distfeeds.conf\t${OPKG} ${X86} x86_64`);
    expect(await read('distfeeds.list')).to.equal(apk);
    expect((await read('distfeeds/sets')).trim().split('\n').sort()).to.deep.equal(
      [
        `${APK} ${MT7621} mipsel_24kc apk`,
        `${OPKG} ${MT7621} mipsel_24kc opkg`,
        `${OPKG} ${X86} x86_64 opkg`,
      ].sort(),
    );

    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.mirror.sets).to.equal(3);
    expect(status.mirror.release).to.equal(undefined);
    expect(status.sets.map((s) => `${s.release} ${s.target} ${s.state}`).sort()).to.deep.equal(
      [`${APK} ${MT7621} served`, `${OPKG} ${MT7621} served`, `${OPKG} ${X86} served`].sort(),
    );
    const x86Set = status.sets.find((s) => s.target === X86) as StatusFile['sets'][number];
    expect(x86Set.distfeeds).to.equal(`distfeeds/${OPKG}/${X86}/distfeeds.conf`);
    expect(x86Set.feeds.map((f) => f.distName)).to.deep.equal([...NODE_FEEDS]);
    expect(x86Set.served.packages).to.be.greaterThan(20);
    const metrics = await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8');
    expect(metrics).to.match(
      new RegExp(`openwrt_mirror_set_packages\\{release="${OPKG}",target="x86/64"\\} \\d+`),
    );
  });

  it('one set whose index is missing upstream fails alone: exit 1, the set named, the others complete', async () => {
    h = await createSetsHarness({ releases: [{ version: OPKG }], targets: [MT7621, X86] });
    const sets = [
      { release: OPKG, target: MT7621 },
      { release: OPKG, target: X86 },
    ];
    const x86 = h.set(OPKG, X86);
    const core = x86.feeds.find((f) => f.name === 'core');
    h.upstream.files.delete(`${core?.dir}/Packages.sig`);
    const { exitCode, report } = await h.sync(sets);
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('partial');
    const failure = report.failures.find((f) => f.feed === 'core');
    expect(failure?.file).to.contain(`targets/${X86}/packages`);
    // Said as the set's: `24.10.4 x86/64: core …`, in the output and in status.
    expect(failure?.set).to.equal(`${OPKG} ${X86}`);
    expect(failureLine(failure as Failure)).to.match(new RegExp(`^${OPKG} ${X86}: core `));
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.lastRun?.failures.some((f) => f.set === `${OPKG} ${X86}` && f.feed === 'core')).to.be.true;
    // The other set is complete.
    for (const upstreamPath of labClosure(h.set(OPKG, MT7621))) {
      expect(await exists(h.served(upstreamPath)), upstreamPath).to.be.true;
    }
    // What the failing set needs from core is named as the x86 set's.
    const needs = report.failures.filter((f) => f.set === `${OPKG} ${X86}`);
    expect(needs.length, JSON.stringify(report.failures)).to.be.greaterThan(0);
  });

  it('applies OPENWRT_DEVICES to each target that lists the device; one no target lists fails the images only', async () => {
    h = await createSetsHarness({ releases: [{ version: OPKG }], targets: [MT7621, X86] });
    const sets = [
      { release: OPKG, target: MT7621 },
      { release: OPKG, target: X86 },
    ];
    const ok = await h.sync(sets, { OPENWRT_DEVICES: 'dlink_dir-1960-a1 generic' });
    expect(ok.report.failures, JSON.stringify(ok.report.failures)).to.deep.equal([]);
    for (const target of [MT7621, X86]) {
      const images = h
        .set(OPKG, target)
        .images.filter((i) => ['dlink_dir-1960-a1', 'generic'].includes(i.device));
      expect(images.length, target).to.be.greaterThan(0);
      for (const image of images) {
        const served = await fs.readFile(h.served(image.path));
        expect(sha256(served), image.path).to.equal(sha256(h.tree.files.get(image.path) as Buffer));
      }
    }
    // The x86 target does not list the DIR-1960: no request for its images there, and no failure.
    expect(h.upstream.requests.some((r) => r.path.includes(`targets/${X86}/`) && r.path.includes('dir-1960')))
      .to.be.false;

    const typo = await h.sync(sets, { OPENWRT_DEVICES: 'dlink_dir-1960-a2 generic' });
    expect(typo.exitCode).to.equal(1);
    expect(typo.report.result).to.equal('partial');
    expect(typo.report.failures).to.have.length(1);
    expect(typo.report.failures[0]?.reason)
      .to.contain('OPENWRT_DEVICES: dlink_dir-1960-a2 is not a device profile of ramips/mt7621 or x86/64')
      .and.contain('closest profile ids: dlink_dir-1960-a1');
    // The feeds were not held back, the x86 image is still served.
    expect(typo.report.feeds.every((feed) => feed.state !== 'failed' && feed.state !== 'kept')).to.be.true;
    for (const image of h.set(OPKG, X86).images)
      expect(await exists(h.served(image.path)), image.path).to.be.true;
  });

  it('status and distfeeds speak per set: each set with its feeds, the lines of the set asked for', async () => {
    h = await createSetsHarness({ releases: [{ version: OPKG }, { version: APK }], targets: [MT7621, X86] });
    const sets = [
      { release: OPKG, target: MT7621 },
      { release: OPKG, target: X86 },
      { release: APK, target: MT7621 },
    ];
    expect((await h.sync(sets)).exitCode).to.equal(0);
    const env = { ...h.env, MIRROR_CONFIG: path.join(h.root, 'mirror.yaml') };
    const status = await runCli(['status'], env);
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.contain(`set ${OPKG} ${X86} (x86_64, opkg, selective mode): served`);
    expect(status.stdout).to.contain(`set ${APK} ${MT7621} (mipsel_24kc, apk, selective mode): served`);
    expect(status.stdout).to.contain(`feed lines at /distfeeds/${OPKG}/${X86}/distfeeds.conf`);
    // Under each set, its seven feeds.
    const x86Block = status.stdout.split('\nset ').find((block) => block.startsWith(`${OPKG} ${X86}`)) ?? '';
    expect(x86Block.match(/^ {2}openwrt_\w+/gm)).to.have.length(7);

    // With several sets, distfeeds needs to be told which; the message names them.
    const unsure = await runCli(['distfeeds', '--url', 'http://10.1.2.3:8080'], env);
    expect(unsure.code).to.equal(2);
    expect(unsure.stderr.split('\n')[0]).to.equal(
      `openwrt-mirror: distfeeds: 3 sets match; say which: --release ${OPKG} --target ${MT7621}, or --release ${OPKG} --target ${X86}, or --release ${APK} --target ${MT7621}`,
    );
    const fewer = await runCli(['distfeeds', '--url', 'http://10.1.2.3:8080', '--release', OPKG], env);
    expect(fewer.code).to.equal(2);
    expect(fewer.stderr).to.contain('2 sets match').and.contain(`--target ${X86}`);
    const none = await runCli(
      ['distfeeds', '--url', 'http://10.1.2.3:8080', '--target', 'mediatek/filogic'],
      env,
    );
    expect(none.code).to.equal(2);
    expect(none.stderr).to.contain('serves no set mediatek/filogic; it serves');
    const x86 = await runCli(
      ['distfeeds', '--url', 'http://10.1.2.3:8080', '--release', OPKG, '--target', X86],
      env,
    );
    expect(x86.code, x86.stderr).to.equal(0);
    expect(x86.stdout).to.equal(
      (
        await fs.readFile(path.join(h.mirrorDir, `distfeeds/${OPKG}/${X86}/distfeeds.conf`), 'utf8')
      ).replaceAll('@MIRROR_URL@', 'http://10.1.2.3:8080'),
    );
    const apk = await runCli(['distfeeds', '--url', 'http://10.1.2.3:8080', '--release', APK], env);
    expect(apk.code, apk.stderr).to.equal(0);
    expect(apk.stdout).to.contain(
      `http://10.1.2.3:8080/releases/${APK}/packages/mipsel_24kc/base/packages.adb`,
    );
  });

  it('keeps a file two releases share once: fetched once, one pool file served under both', async () => {
    h = await createSetsHarness({ releases: [{ version: '24.10.3' }, { version: OPKG }], targets: [MT7621] });
    const sets = [
      { release: '24.10.3', target: MT7621 },
      { release: OPKG, target: MT7621 },
    ];
    const { exitCode, report } = await h.sync(sets);
    expect(exitCode).to.equal(0);
    const older = h.set('24.10.3', MT7621);
    const newer = h.set(OPKG, MT7621);
    // The arch feeds' packages are the same bytes in both releases of the generated upstream.
    const same = [...labClosure(newer)].filter((p) => {
      const twin = p.replace(`releases/${OPKG}/`, 'releases/24.10.3/');
      const a = h.tree.files.get(p);
      const b = h.tree.files.get(twin);
      return a !== undefined && b !== undefined && a.equals(b);
    });
    expect(same.length).to.be.greaterThan(50);
    // Each content fetched once, whatever number of paths and releases serve it.
    const fetched = h.upstream.requests
      .filter((r) => isPackage(r.path))
      .map((r) => sha256(h.tree.files.get(r.path) as Buffer));
    expect(new Set(fetched).size).to.equal(fetched.length);
    for (const p of same) {
      const twin = p.replace(`releases/${OPKG}/`, 'releases/24.10.3/');
      const [a, b] = await Promise.all([fs.stat(h.served(p)), fs.stat(h.served(twin))]);
      expect(a.ino, p).to.equal(b.ino);
    }
    expect(report.skipped).to.be.at.least(same.length);
    expect(older.feeds.length).to.equal(7);
  });

  it('withdraws a target removed from the configuration after the grace period', async () => {
    h = await createSetsHarness({ releases: [{ version: OPKG }], targets: [MT7621, X86] });
    const both = [
      { release: OPKG, target: MT7621 },
      { release: OPKG, target: X86 },
    ];
    expect((await h.sync(both)).exitCode).to.equal(0);
    const x86Core = h.served(`releases/${OPKG}/targets/${X86}/packages/Packages`);
    expect(await exists(x86Core)).to.be.true;

    const one = [{ release: OPKG, target: MT7621 }];
    expect((await h.sync(one, { PRUNE_GRACE_HOURS: '1' })).exitCode).to.equal(0);
    // Still served, and status says it goes.
    expect(await exists(x86Core)).to.be.true;
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    const withdrawn = status.sets.find((s) => s.target === X86);
    expect(withdrawn?.state).to.equal('withdrawn');
    expect(withdrawn?.withdrawnUntil).to.be.a('string');

    const later = new Date(Date.now() + 2 * 3_600_000);
    expect((await h.sync(one, { PRUNE_GRACE_HOURS: '1' }, { now: () => later })).exitCode).to.equal(0);
    expect(await exists(x86Core)).to.be.false;
    expect(await exists(h.served(`releases/${OPKG}/packages/x86_64/base`))).to.be.false;
    expect(await exists(h.served(`releases/${OPKG}/targets/${MT7621}/packages/Packages`))).to.be.true;
    const after = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(after.sets.map((s) => s.target)).to.deep.equal([MT7621]);
    expect(await exists(path.join(h.mirrorDir, `distfeeds/${OPKG}/${X86}/distfeeds.conf`))).to.be.false;
    expect((await verifyMirror(h.config(one))).problems).to.deep.equal([]);
  });

  it('withdraws a whole release no longer configured after the grace period', async () => {
    h = await createSetsHarness({ releases: [{ version: OPKG }, { version: APK }], targets: [MT7621] });
    const both = [
      { release: OPKG, target: MT7621 },
      { release: APK, target: MT7621 },
    ];
    expect((await h.sync(both)).exitCode).to.equal(0);
    const apkLink = path.join(h.mirrorDir, 'releases', APK);
    expect(await exists(apkLink)).to.be.true;
    const apkState = path.join(h.mirrorDir, '.mirror', `state-${APK}.json`);
    const apkFiles = path.join(h.mirrorDir, '.mirror', 'manifests', APK);
    expect(await fs.readdir(apkFiles), 'the served generation files beside the state').to.have.length(1);
    const only = [{ release: OPKG, target: MT7621 }];
    expect((await h.sync(only, { PRUNE_GRACE_HOURS: '1' })).exitCode).to.equal(0);
    expect(await exists(apkLink)).to.be.true;
    const later = new Date(Date.now() + 2 * 3_600_000);
    expect((await h.sync(only, { PRUNE_GRACE_HOURS: '1' }, { now: () => later })).exitCode).to.equal(0);
    expect(await exists(apkLink)).to.be.false;
    expect(await exists(apkState), 'its state goes').to.be.false;
    expect(await exists(apkFiles), 'and its files with it').to.be.false;
    expect(await exists(path.join(h.mirrorDir, 'distfeeds.list'))).to.be.false;
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.sets.map((s) => s.release)).to.deep.equal([OPKG]);
  });
});
