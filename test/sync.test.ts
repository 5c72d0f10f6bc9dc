import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import { verifyMirror } from '../worker/commands/verify.js';
import { readStatus } from '../worker/status/status-file.js';
import { listFiles, sha256 } from './helpers/files.js';
import { bytesOf, createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

const isPackageRequest = (p: string) => p.endsWith('.ipk');

describe('sync', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('mirrors every file opkg needs for the lab lists, verified, at the upstream paths, with byte-identical indexes', async () => {
    h = await createHarness();
    const { exitCode, report } = await h.sync();
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    expect(exitCode).to.equal(0);

    const expected = labClosure(h.tree);
    expect(expected.size).to.be.greaterThan(20);
    for (const upstreamPath of expected) {
      const served = await fs.readFile(path.join(h.mirrorDir, upstreamPath)).catch(() => undefined);
      expect(served, `${upstreamPath} is served`).to.not.equal(undefined);
      expect(sha256(served as Buffer)).to.equal(sha256(h.tree.files.get(upstreamPath) as Buffer));
    }
    for (const feed of h.tree.feeds) {
      for (const name of ['Packages', 'Packages.gz', 'Packages.sig', 'Packages.manifest', 'index.json']) {
        const upstreamPath = `${feed.dir}/${name}`;
        const served = await fs.readFile(path.join(h.mirrorDir, upstreamPath));
        expect(
          served.equals(h.tree.files.get(upstreamPath) as Buffer),
          `${upstreamPath} byte-identical`,
        ).to.equal(true);
      }
    }
    // Each distinct file is fetched once, also the kernel modules that core and kmods both list.
    const fetched = h.upstream.requests.filter((r) => isPackageRequest(r.path));
    const distinct = new Set([...expected].map((p) => sha256(h.tree.files.get(p) as Buffer)));
    expect(distinct.size).to.be.lessThan(expected.size);
    expect(fetched.length).to.equal(distinct.size);
    // Selective: nothing outside the closure.
    const servedPackages = (await listFiles(h.mirrorDir, 'releases')).filter((p) => p.endsWith('.ipk'));
    expect(servedPackages.sort()).to.deep.equal([...expected].sort());
  });

  it('serves the device images verified against profiles.json and the signed sha256sums', async () => {
    h = await createHarness();
    const { exitCode } = await h.sync();
    expect(exitCode).to.equal(0);
    const images = h.tree.images.filter((image) => image.device === 'dlink_dir-1960-a1');
    expect(images.map((image) => image.type)).to.include.members(['sysupgrade', 'recovery']);
    for (const image of images) {
      const served = await fs.readFile(path.join(h.mirrorDir, image.path));
      expect(sha256(served)).to.equal(image.sha256);
    }
    const other = h.tree.images.filter((image) => image.device !== 'dlink_dir-1960-a1');
    for (const image of other) {
      expect(await fs.stat(path.join(h.mirrorDir, image.path)).catch(() => undefined), image.path).to.equal(
        undefined,
      );
    }
    for (const name of ['profiles.json', 'sha256sums', 'sha256sums.sig']) {
      const upstreamPath = `${h.tree.releaseDir}/targets/ramips/mt7621/${name}`;
      expect(
        (await fs.readFile(path.join(h.mirrorDir, upstreamPath))).equals(
          h.tree.files.get(upstreamPath) as Buffer,
        ),
      ).to.be.true;
    }
  });

  it('a second run with nothing new downloads no package and sends only conditional requests', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const before = await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir));
    h.upstream.resetLog();
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(0);
    expect(h.upstream.requests.filter((r) => isPackageRequest(r.path))).to.deep.equal([]);
    expect(
      h.upstream.requests.every((r) => r.conditional && r.status === 304),
      JSON.stringify(h.upstream.requests),
    ).to.be.true;
    // One revalidation per signature, the feeds' and the target sums', plus profiles.json and the
    // metadata firmware-selector reads (the release's targets, the upstream's releases).
    expect(h.upstream.requests.map((r) => r.path).sort()).to.deep.equal(
      [
        `${h.tree.targetDir}/profiles.json`,
        `${h.tree.targetDir}/sha256sums.sig`,
        ...h.tree.feeds.map((f) => `${f.dir}/Packages.sig`),
        `${h.tree.releaseDir}/.targets.json`,
        '.versions.json',
      ].sort(),
    );
    expect(report.downloaded).to.equal(0);
    expect(report.skipped).to.equal(report.planned);
    expect(await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir))).to.equal(before);
  });

  it('follows the upstream to new versions, keeps replaced files for the grace period, then prunes them', async () => {
    // No older generation kept for rollback: the pool then holds exactly what is served.
    h = await createHarness({ env: { KEEP_GENERATIONS: '1' } });
    let clock = new Date('2026-11-26T03:00:00Z');
    const now = () => clock;
    expect((await h.sync({}, { now })).exitCode).to.equal(0);
    const oldClosure = labClosure(h.tree);
    h.moveTo(1);
    const newClosure = labClosure(h.tree);
    const replaced = [...oldClosure].filter((p) => !newClosure.has(p));
    expect(replaced.length).to.be.greaterThan(0);

    h.upstream.resetLog();
    clock = new Date('2026-11-27T03:00:00Z');
    const second = await h.sync({}, { now });
    expect(second.exitCode).to.equal(0);
    const fetched = h.upstream.requests.filter((r) => isPackageRequest(r.path)).map((r) => r.path);
    const newBytes = new Set(
      [...newClosure].filter((p) => !oldClosure.has(p)).map((p) => sha256(h.tree.files.get(p) as Buffer)),
    );
    expect(fetched.map((p) => sha256(h.tree.files.get(p) as Buffer)).sort()).to.deep.equal(
      [...newBytes].sort(),
    );
    for (const p of newClosure)
      expect(await fs.stat(path.join(h.mirrorDir, p)).catch(() => undefined), p).to.exist;
    // Within the grace period a node holding the old index still finds the old files.
    for (const p of replaced)
      expect(await fs.stat(path.join(h.mirrorDir, p)).catch(() => undefined), p).to.exist;

    // verify covers files kept for the grace period too: they are not in any current index.
    const graceFile = path.join(h.mirrorDir, replaced[0] as string);
    const bytes = await fs.readFile(graceFile);
    await fs.writeFile(
      graceFile,
      Buffer.concat([bytes.subarray(0, -1), Buffer.from([(bytes.at(-1) ?? 0) ^ 1])]),
    );
    const { problems } = await verifyMirror(h.config());
    expect(problems.some((p) => p.includes(path.basename(replaced[0] as string)) && /verified as/.test(p))).to
      .be.true;

    clock = new Date('2026-11-28T04:00:00Z');
    expect((await h.sync({}, { now })).exitCode).to.equal(0);
    for (const p of replaced)
      expect(await fs.stat(path.join(h.mirrorDir, p)).catch(() => undefined), p).to.equal(undefined);
    const pool = await fs.readdir(path.join(h.mirrorDir, '.mirror/pool'));
    const served = await listFiles(h.mirrorDir, 'releases');
    expect(pool.length).to.equal(
      new Set(await Promise.all(served.map(async (p) => (await fs.stat(path.join(h.mirrorDir, p))).ino)))
        .size,
    );
  });

  it('rides out transient faults: 503, 429 with Retry-After, reset, stall, short body, wrong bytes', async () => {
    h = await createHarness({ env: { DOWNLOAD_TIMEOUT: '0.5' } });
    const targets = [...labClosure(h.tree)].slice(0, 6);
    const kinds = ['503', '429', 'reset', 'stall', 'short', 'corrupt'] as const;
    kinds.forEach((kind, i) => {
      h.upstream.fault({
        match: bytesOf(h.tree, targets[i] as string),
        kind,
        times: 1,
        retryAfter: kind === '429' ? 1 : undefined,
      });
    });
    const { exitCode, report } = await h.sync();
    expect(report.failures).to.deep.equal([]);
    expect(exitCode).to.equal(0);
    for (const target of targets) {
      const served = await fs.readFile(path.join(h.mirrorDir, target));
      expect(served.equals(h.tree.files.get(target) as Buffer), target).to.be.true;
      const hits = h.upstream.requests.filter((r) => bytesOf(h.tree, target)(r.path));
      expect(hits.length, `${target} was retried`).to.equal(2);
    }
    const limited = h.upstream.requests.filter((r) => bytesOf(h.tree, targets[1] as string)(r.path));
    expect((limited[1]?.start ?? 0) - (limited[0]?.start ?? 0)).to.be.at.least(950);
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('gives up on a package that trickles in below DOWNLOAD_MIN_RATE, naming the setting, instead of holding the run', async () => {
    h = await createHarness({ env: { DOWNLOAD_TIMEOUT: '1', DOWNLOAD_MIN_RATE: '1024', MAX_RETRIES: '1' } });
    const victim = [...labClosure(h.tree)].find(
      (p) => p.endsWith('.ipk') && (h.tree.files.get(p)?.length ?? 0) > 8192,
    ) as string;
    const isVictim = bytesOf(h.tree, victim);
    // One byte every 20 ms: never silent, and a day for a few MB.
    h.upstream.fault({ match: isVictim, kind: 'trickle', bytesPerSecond: 50 });
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    const failure = report.failures.find((f) => victim.endsWith(f.file ?? '\0'));
    expect(failure?.reason).to.match(/slower than 1024 B\/s for 1 s .*DOWNLOAD_MIN_RATE/);
    expect(h.upstream.requests.filter((r) => isVictim(r.path))).to.have.length(2);
  });

  it('a permanent fault fails with exit 1 naming the file, and the previous state stays served', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const before = new Map<string, Buffer>();
    for (const feed of h.tree.feeds) {
      before.set(
        `${feed.dir}/Packages`,
        (await fs.readFile(path.join(h.mirrorDir, feed.dir, 'Packages'))) as Buffer,
      );
    }
    const oldClosure = labClosure(h.tree);
    h.moveTo(1);
    const added = [...labClosure(h.tree)].filter((p) => !oldClosure.has(p));
    const broken = added[0] as string;
    h.upstream.fault({ match: broken, kind: 'corrupt' });
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    const failure = report.failures.find((f) => broken.endsWith(f.file ?? '\0'));
    expect(failure, JSON.stringify(report.failures)).to.exist;
    expect(failure?.reason).to.match(/sha256|mismatch/i);
    expect(h.upstream.requests.filter((r) => r.path === broken)).to.have.length(4); // 1 + MAX_RETRIES
    expect(await fs.stat(path.join(h.mirrorDir, broken)).catch(() => undefined)).to.equal(undefined);
    // The feed of the broken file still serves its previous index, whole.
    const feed = h.tree.feeds.find((f) => broken.startsWith(`${f.dir}/`));
    expect(feed).to.exist;
    const served = await fs.readFile(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages'));
    expect(served.equals(before.get(`${feed?.dir}/Packages`) as Buffer)).to.be.true;
    for (const p of oldClosure) {
      if (p.startsWith(`${feed?.dir}/`))
        expect(await fs.stat(path.join(h.mirrorDir, p)).catch(() => undefined), p).to.exist;
    }
    const status = await readStatus(h.mirrorDir);
    expect(status?.lastRun?.result).to.equal('partial');
    expect(status?.lastRun?.failures.some((f) => broken.endsWith(f.file ?? '\0'))).to.be.true;
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);

    // Once the upstream serves the file right, the next run catches up: the kept feed is not stuck.
    h.upstream.clearFaults();
    expect((await h.sync()).exitCode).to.equal(0);
    const caughtUp = await fs.readFile(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages'));
    expect(caughtUp.equals(h.tree.files.get(`${feed?.dir}/Packages`) as Buffer)).to.be.true;
    expect(await fs.stat(path.join(h.mirrorDir, broken)).catch(() => undefined)).to.exist;
  });

  it('serves an index only with its index.json and Packages.manifest: one that cannot be had keeps the feed', async () => {
    h = await createHarness();
    const feed = h.tree.feeds.find((f) => f.name === 'luci');
    h.upstream.fault({ match: `${feed?.dir}/index.json`, kind: '503' });
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.failures.find((f) => f.feed === 'luci')?.reason).to.contain('index.json');
    expect(
      await fs.stat(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages')).catch(() => undefined),
    ).to.equal(undefined);
    h.upstream.clearFaults();
    expect((await h.sync()).exitCode).to.equal(0);
    const served = await fs.readFile(path.join(h.mirrorDir, feed?.dir ?? '', 'index.json'));
    expect(served.equals(h.tree.files.get(`${feed?.dir}/index.json`) as Buffer)).to.be.true;
  });

  it('an upstream that is down, or no longer serves the release, leaves the mirror serving what it had and says so', async () => {
    h = await createHarness();
    const first = await h.sync();
    expect(first.exitCode).to.equal(0);
    const link = await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir));
    const lastSuccess = (await readStatus(h.mirrorDir))?.lastSuccessAt;

    for (const kind of ['503', '404'] as const) {
      h.upstream.clearFaults();
      h.upstream.fault({ match: /./, kind });
      const { exitCode, report } = await h.sync();
      expect(exitCode, kind).to.equal(1);
      expect(report.failures[0]?.reason, kind).to.match(kind === '404' ? /404/ : /503/);
      expect(await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir))).to.equal(link);
      const status = await readStatus(h.mirrorDir);
      expect(status?.lastRun?.result).to.equal('failed');
      expect(status?.lastSuccessAt).to.equal(lastSuccess);
      expect(status?.served.packages).to.be.greaterThan(0);
    }
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('on a first sync, a feed missing a file it needs is not served at all; the other feeds are', async () => {
    h = await createHarness();
    const needed = [...labClosure(h.tree)].find((p) =>
      p.includes('/packages/mipsel_24kc/routing/'),
    ) as string;
    h.upstream.fault({ match: needed, kind: '404' });
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    const routing = h.tree.feeds.find((f) => f.name === 'routing');
    expect(report.feeds.find((f) => f.name === 'routing')?.state).to.equal('failed');
    expect(
      await fs.stat(path.join(h.mirrorDir, routing?.dir ?? '', 'Packages')).catch(() => undefined),
    ).to.equal(undefined);
    const base = h.tree.feeds.find((f) => f.name === 'base');
    expect(await fs.stat(path.join(h.mirrorDir, base?.dir ?? '', 'Packages'))).to.exist;
    const distfeeds = await fs.readFile(path.join(h.mirrorDir, 'distfeeds.conf'), 'utf8');
    expect(distfeeds).to.contain('openwrt_base').and.not.contain('openwrt_routing');
  });

  it('images that fail keep the previous images with the profiles.json and sums that describe them, until they verify', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const profilesPath = `${h.tree.targetDir}/profiles.json`;
    const before = await fs.readFile(path.join(h.mirrorDir, profilesPath));
    // The upstream rebuilds the image: new bytes, new hash in profiles.json and sha256sums; the CDN serves junk.
    const image = h.tree.images.find((i) => i.device === 'dlink_dir-1960-a1' && i.type === 'sysupgrade');
    const rebuilt = Buffer.concat([h.tree.files.get(image?.path ?? '') as Buffer, Buffer.from('rebuilt')]);
    const newSha = sha256(rebuilt);
    const profiles = (h.tree.files.get(profilesPath) as Buffer)
      .toString()
      .replaceAll(image?.sha256 ?? '', newSha);
    const sumsPath = `${h.tree.targetDir}/sha256sums`;
    // The real sums list profiles.json too.
    const sums = Buffer.from(
      (h.tree.files.get(sumsPath) as Buffer)
        .toString()
        .replaceAll(image?.sha256 ?? '', newSha)
        .replace(sha256(h.tree.files.get(profilesPath) as Buffer), sha256(Buffer.from(profiles))),
    );
    h.upstream.files.set(profilesPath, Buffer.from(profiles));
    h.upstream.files.set(sumsPath, sums);
    h.upstream.files.set(`${sumsPath}.sig`, Buffer.from(h.signer.sign(sums)));
    h.upstream.files.set(image?.path ?? '', rebuilt);
    h.upstream.fault({ match: image?.path ?? '', kind: 'corrupt' });

    const failing = await h.sync();
    expect(failing.exitCode).to.equal(1);
    expect((await fs.readFile(path.join(h.mirrorDir, profilesPath))).equals(before)).to.be.true;
    expect(sha256(await fs.readFile(path.join(h.mirrorDir, image?.path ?? '')))).to.equal(image?.sha256);
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);

    h.upstream.clearFaults();
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await fs.readFile(path.join(h.mirrorDir, profilesPath))).toString()).to.equal(profiles);
    expect(sha256(await fs.readFile(path.join(h.mirrorDir, image?.path ?? '')))).to.equal(newSha);
  });

  it('refuses an index whose signature does not verify and keeps serving the last good one', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const feed = h.tree.feeds.find((f) => f.name === 'packages');
    const goodPackages = await fs.readFile(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages'));
    const tree = h.moveTo(1);
    // A CDN serving an index that its signature does not cover.
    const tampered = Buffer.concat([tree.files.get(`${feed?.dir}/Packages`) as Buffer, Buffer.from('\n')]);
    h.upstream.files.set(`${feed?.dir}/Packages`, tampered);
    h.upstream.files.set(`${feed?.dir}/Packages.gz`, gzipSync(tampered));
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    const failure = report.failures.find((f) => f.feed === 'packages');
    expect(failure?.reason).to.match(/signature/);
    expect(report.feeds.find((f) => f.name === 'packages')?.state).to.equal('kept');
    expect((await fs.readFile(path.join(h.mirrorDir, feed?.dir ?? '', 'Packages'))).equals(goodPackages)).to
      .be.true;
    // The other feeds moved on.
    const base = h.tree.feeds.find((f) => f.name === 'base');
    expect(
      (await fs.readFile(path.join(h.mirrorDir, base?.dir ?? '', 'Packages'))).equals(
        h.tree.files.get(`${base?.dir}/Packages`) as Buffer,
      ),
    ).to.be.true;
  });

  it('refuses an index signed by a key it does not trust, naming the key', async () => {
    h = await createHarness();
    await fs.rm(path.join(h.keysDir, h.signer.fingerprint));
    await fs.copyFile(
      new URL('../keys/d310c6f2833e97f7', import.meta.url),
      path.join(h.keysDir, 'd310c6f2833e97f7'),
    );
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(
      report.failures.some((f) => f.reason.includes(h.signer.fingerprint) && /not trusted/.test(f.reason)),
    ).to.be.true;
    expect(
      await fs.stat(path.join(h.mirrorDir, h.tree.releaseDir, 'packages')).catch(() => undefined),
    ).to.equal(undefined);
  });

  it('fails with exit 1 naming a required package that no feed has; a missing optional one only warns', async () => {
    h = await createHarness();
    const optionalOnly = await h.sync({ OPTIONAL_PACKAGES: 'no-such-optional' });
    expect(optionalOnly.exitCode).to.equal(0);
    expect(optionalOnly.report.warnings.some((w) => w.includes('no-such-optional'))).to.be.true;
    const required = await h.sync({ REQUIRED_PACKAGES: 'python3,no-such-required' });
    expect(required.exitCode).to.equal(1);
    expect(required.report.failures.map((f) => f.package)).to.include('no-such-required');
  });

  it('an unknown device fails the images, not the run: the feeds are served and the nearest ids named', async () => {
    h = await createHarness();
    const { exitCode, report } = await h.sync({ OPENWRT_DEVICES: 'dlink_dir-1960-a2' });
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('partial');
    expect(report.failures).to.have.length(1);
    expect(report.failures[0]?.reason).to.contain('OPENWRT_DEVICES').and.contain('dlink_dir-1960-a1');
    expect(report.feeds.every((feed) => feed.state === 'updated')).to.be.true;
  });

  it('mirrors every package of every feed in full mode', async () => {
    h = await createHarness();
    const { exitCode } = await h.sync({ MIRROR_MODE: 'full', OPENWRT_DEVICES: '' });
    expect(exitCode).to.equal(0);
    for (const feed of h.tree.feeds) {
      for (const pkg of feed.packages) {
        const served = await fs
          .readFile(path.join(h.mirrorDir, feed.dir, pkg.filename))
          .catch(() => undefined);
        expect(served && sha256(served), `${feed.dir}/${pkg.filename}`).to.equal(pkg.sha256);
      }
    }
  });

  it('never starts more than RATE_LIMIT requests in a second nor runs more than CONCURRENCY at once', async () => {
    h = await createHarness({ upstream: { latencyMs: 30 }, env: { RATE_LIMIT: '20', CONCURRENCY: '3' } });
    h.upstream.fault({ match: /\.ipk$/, kind: '503', times: 5 });
    const { exitCode } = await h.sync();
    expect(exitCode).to.equal(0);
    expect(h.upstream.requests.length).to.be.greaterThan(40);
    expect(h.upstream.maxStartsInWindow(1000)).to.be.at.most(20);
    expect(h.upstream.maxInFlight()).to.be.at.most(3);
  });

  it('verify finds a served file whose bytes changed on disk, and names it', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
    const victim = [...labClosure(h.tree)][0] as string;
    const file = path.join(h.mirrorDir, victim);
    const bytes = await fs.readFile(file);
    bytes[10] = (bytes[10] ?? 0) ^ 0xff;
    await fs.writeFile(file, bytes);
    const { problems } = await verifyMirror(h.config());
    // The same bytes may be served from two feeds (core and kmods share kernel modules): both are named.
    expect(problems.length).to.be.at.least(1);
    for (const problem of problems) expect(problem).to.contain(path.basename(victim));
    expect(problems.some((problem) => victim.endsWith(problem.split(':')[0] as string))).to.be.true;
  });
});
