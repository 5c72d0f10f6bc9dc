/**
 * What status.json, the log and the exit code say when a run does not simply succeed: every run that
 * fails is recorded as failed or partial with its cause, said once; a busy mirror is no failed run;
 * a one-off sync leaves the worker's schedule alone; nothing empty is published.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { renderStatus } from '../worker/commands/status.js';
import { verifyMirror } from '../worker/commands/verify.js';
import { acquireLock } from '../worker/publish/lock.js';
import { MirrorDir } from '../worker/publish/mirror-dir.js';
import { readStatus, type StatusFile } from '../worker/status/status-file.js';
import { exists } from './helpers/files.js';
import { capturingLogger } from './helpers/log-capture.js';
import { runCli, spawnCli, waitFor } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('honest state', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('a device that profiles.json does not list fails the images only: named with the nearest ids, result partial', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const { exitCode, report } = await h.sync({ OPENWRT_DEVICES: 'dlink_dir-1960-a1,dlink_dir-1960-a2' });
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('partial');
    const failure = report.failures.find((f) => f.reason.includes('dlink_dir-1960-a2'));
    expect(failure?.reason)
      .to.contain('OPENWRT_DEVICES')
      .and.contain('closest profile ids: dlink_dir-1960-a1');
    // The feeds synced as usual, and the listed device's images are served.
    expect(report.feeds.every((feed) => feed.state === 'unchanged')).to.be.true;
    for (const image of h.tree.images.filter((i) => i.device === 'dlink_dir-1960-a1')) {
      expect(await exists(path.join(h.mirrorDir, image.path)), image.path).to.be.true;
    }
    // Recorded as what it was, not as the previous success.
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.lastRun?.result).to.equal('partial');
    expect(status.lastRun?.failures.some((f) => f.reason.includes('dlink_dir-1960-a2'))).to.be.true;
  });

  it('a device gone from the upstream profiles.json does not freeze the feeds: they follow the upstream', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const next = h.moveTo(1);
    const profilesPath = `${next.targetDir}/profiles.json`;
    const profiles = JSON.parse((next.files.get(profilesPath) as Buffer).toString());
    delete profiles.profiles['dlink_dir-1960-a1'];
    h.upstream.files.set(profilesPath, Buffer.from(JSON.stringify(profiles)));
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('partial');
    expect(report.feeds.some((feed) => feed.state === 'updated')).to.be.true;
    const core = next.feeds[0];
    expect(
      (await h.readServed(`${core?.dir.slice(next.releaseDir.length + 1)}/Packages`))?.toString(),
    ).to.equal(next.files.get(`${core?.dir}/Packages`)?.toString());
  });

  it('a configuration error found during the run is recorded as failed, and still exits 2', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const run = await runCli(['sync'], { ...h.env, OPENWRT_KEYS_DIR: path.join(h.root, 'no-such-keys') });
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain('OPENWRT_KEYS_DIR');
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.lastRun?.result).to.equal('failed');
    expect(status.lastRun?.failures[0]?.reason).to.contain('OPENWRT_KEYS_DIR');
    expect(await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8')).to.match(
      /openwrt_mirror_last_run_result\{result="failed"\} 1/,
    );
  });

  it('indexes signed by a key that is not trusted: exit 1, failed, nothing published, one line that says how to trust it', async () => {
    h = await createHarness({ env: { OPENWRT_EXTRA_KEYS_DIR: '' } });
    await fs.rm(path.join(h.keysDir, h.signer.fingerprint));
    await fs.copyFile(
      new URL('../keys/d310c6f2833e97f7', import.meta.url),
      path.join(h.keysDir, 'd310c6f2833e97f7'),
    );
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('failed');
    const first = report.failures[0]?.reason ?? '';
    expect(first).to.contain(`usign key ${h.signer.fingerprint}`).and.contain('not trusted');
    expect(first).to.contain('OPENWRT_KEYS_DIR').and.contain(h.keysDir);
    // Every feed and the image sums share the cause: folded into that one line, no "required package" noise.
    expect(report.failures, JSON.stringify(report.failures)).to.have.length(1);
    expect(first).to.contain('core').and.contain('telephony').and.contain('sha256sums');
    expect(await exists(path.join(h.mirrorDir, 'releases', h.tree.version))).to.be.false;
    expect(await exists(path.join(h.mirrorDir, 'distfeeds.conf'))).to.be.false;
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.lastRun?.result).to.equal('failed');
    expect(status.served.files).to.equal(0);
  });

  it('a key rotation after a good sync: every index refused is a failed run, and the tree stays', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const link = path.join(h.mirrorDir, 'releases', h.tree.version);
    const served = await fs.readlink(link);
    const { createUsignSigner } = await import('./helpers/usign-signer.js');
    const stranger = createUsignSigner('a rotated key');
    for (const feed of h.tree.feeds) {
      const body = h.upstream.files.get(`${feed.dir}/Packages`) as Buffer;
      h.upstream.files.set(`${feed.dir}/Packages.sig`, Buffer.from(stranger.sign(body)));
    }
    const sums = h.upstream.files.get(`${h.tree.targetDir}/sha256sums`) as Buffer;
    h.upstream.files.set(`${h.tree.targetDir}/sha256sums.sig`, Buffer.from(stranger.sign(sums)));
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('failed');
    expect(report.failures[0]?.reason)
      .to.contain(`usign key ${stranger.fingerprint}`)
      .and.contain('nothing new is served');
    expect(await fs.readlink(link)).to.equal(served);
    expect(((await readStatus(h.mirrorDir)) as StatusFile).lastRun?.result).to.equal('failed');
  });

  it('names ./keys.d in the stack, and trusts a key put there beside the bundled ones', async () => {
    const keysD = 'keys.d';
    h = await createHarness();
    await fs.mkdir(path.join(h.root, keysD));
    await fs.rename(
      path.join(h.keysDir, h.signer.fingerprint),
      path.join(h.root, keysD, h.signer.fingerprint),
    );
    await fs.writeFile(path.join(h.root, keysD, 'README.md'), 'Put public keys here.\n');
    const env = {
      OPENWRT_KEYS_DIR: path.join(h.root, 'keys'),
      OPENWRT_EXTRA_KEYS_DIR: path.join(h.root, 'empty'),
    };
    await fs.mkdir(env.OPENWRT_EXTRA_KEYS_DIR);
    await fs.copyFile(
      new URL('../keys/d310c6f2833e97f7', import.meta.url),
      path.join(h.keysDir, 'd310c6f2833e97f7'),
    );
    const refused = await h.sync(env);
    expect(refused.report.failures[0]?.reason).to.contain('keys.d').and.contain(env.OPENWRT_EXTRA_KEYS_DIR);
    const trusted = await h.sync({ ...env, OPENWRT_EXTRA_KEYS_DIR: path.join(h.root, keysD) });
    expect(trusted.report.failures).to.deep.equal([]);
    expect(trusted.report.warnings.some((w) => w.includes('README'))).to.be.false;
  });

  it('one feed signed by an untrusted key fails that feed; its packages are not listed one by one', async () => {
    h = await createHarness();
    const packagesFeed = h.tree.feeds.find((f) => f.name === 'packages');
    const { createUsignSigner } = await import('./helpers/usign-signer.js');
    const stranger = createUsignSigner('a stranger');
    const body = h.upstream.files.get(`${packagesFeed?.dir}/Packages`) as Buffer;
    h.upstream.files.set(`${packagesFeed?.dir}/Packages.sig`, Buffer.from(stranger.sign(body)));
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('partial');
    expect(report.failures[0]?.reason)
      .to.contain(`usign key ${stranger.fingerprint}`)
      .and.contain('packages')
      .and.contain('it is not used');
    expect(report.failures.filter((f) => /required/.test(f.reason))).to.have.length(1);
    expect(report.failures.some((f) => /depends on/.test(f.reason))).to.be.false;
    const folded = report.failures.find((f) => /required list needs/.test(f.reason));
    expect(folded?.reason)
      .to.contain('python3')
      .and.match(/the feed packages without a usable index may hold them/);
    const listed = /\((.*)\);/.exec(folded?.reason ?? '')?.[1]?.split(', ') ?? [];
    expect(new Set(listed).size, 'each need once').to.equal(listed.length);
  });

  it('the state is written before the switch: a run that cannot write it leaves the old tree served', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const link = path.join(h.mirrorDir, 'releases', h.tree.version);
    const served = await fs.readlink(link);
    h.moveTo(1);
    // The state file cannot be replaced while a directory stands in its place (a full disk, in effect).
    const stateFile = path.join(h.mirrorDir, '.mirror', `state-${h.tree.version}.json`);
    await fs.rm(stateFile);
    await fs.mkdir(stateFile);
    const { logger, lines } = capturingLogger();
    const { exitCode, report } = await h.sync({}, { logger });
    expect(exitCode).to.equal(1);
    expect(report.result).to.equal('failed');
    expect(await fs.readlink(link)).to.equal(served);
    // Said in one line, not as a stack trace.
    const said = lines().find((l) => l.level === 'error' && /EISDIR|EEXIST|ENOTEMPTY/.test(l.message));
    expect(said?.stack, JSON.stringify(said)).to.equal(undefined);
    await fs.rm(stateFile, { recursive: true });
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it("the served generation's files deleted by hand: the next sync starts afresh, from the pool, and serves the same", async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const statusBefore = await readStatus(h.mirrorDir);
    await fs.rm(path.join(h.mirrorDir, '.mirror', 'manifests'), { recursive: true });
    h.upstream.resetLog();
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(0);
    // Nothing of the state is trusted: every index asked for whole, no package downloaded again.
    expect(report.downloaded).to.equal(0);
    expect(h.upstream.requests.filter((r) => r.path.endsWith('.ipk'))).to.deep.equal([]);
    expect((await readStatus(h.mirrorDir))?.served).to.deep.equal(statusBefore?.served);
    expect(await fs.readdir(path.join(h.mirrorDir, '.mirror', 'manifests', h.tree.version))).to.have.length(
      1,
    );
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('says up front that a key file in the keys directory does not load', async () => {
    h = await createHarness();
    await fs.writeFile(path.join(h.keysDir, 'deadbeefdeadbeef'), 'untrusted comment: cut short\nRWTT\n');
    const { logger, lines } = capturingLogger();
    await h.sync({}, { logger });
    const warned = lines().find((l) => l.level === 'warn' && l.message.startsWith('trusted keys: '));
    expect(warned?.message).to.contain('deadbeefdeadbeef').and.contain('skipped');
  });

  it('a busy mirror: one line naming the holder, exit 1, and nothing recorded', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const before = await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8');
    const dir = new MirrorDir(h.mirrorDir);
    const lock = await acquireLock(dir.lockFile);
    try {
      const { logger, lines } = capturingLogger();
      const { exitCode, report } = await h.sync({}, { logger });
      expect(exitCode).to.equal(1);
      const logged = lines();
      expect(logged, JSON.stringify(logged)).to.have.length(1);
      expect(logged[0]?.message).to.equal(
        `another sync is running (pid ${process.pid}, since ${lock.owner.since})`,
      );
      expect(report.failures).to.deep.equal([]);
      expect(await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8')).to.equal(before);
    } finally {
      await lock.release();
    }
  });

  it('a run whose lock was taken over does not publish, and leaves the new holder its lock', async () => {
    h = await createHarness({ upstream: { bytesPerSecond: 200_000 } });
    expect((await h.sync()).exitCode).to.equal(0);
    const link = path.join(h.mirrorDir, 'releases', h.tree.version);
    const served = await fs.readlink(link);
    h.moveTo(1);
    h.upstream.resetLog();
    const running = h.sync();
    await waitFor('a download', () => h.upstream.requests.some((r) => r.path.endsWith('.ipk')));
    // What a second sync in another container does with a lock it (wrongly) takes for stale.
    const lockFile = path.join(h.mirrorDir, '.mirror/lock');
    const other = {
      pid: 7,
      host: 'another-container',
      started: 'x',
      since: '2026-12-04T03:00:00.000Z',
      token: 'other',
    };
    await fs.writeFile(lockFile, JSON.stringify(other));
    const { exitCode, report } = await running;
    expect(exitCode).to.equal(1);
    const lost = report.failures.find((f) => f.reason.includes('lost the lock'));
    expect(lost?.reason, JSON.stringify(report.failures)).to.contain('pid 7 on host another-container');
    expect(await fs.readlink(link)).to.equal(served);
    expect(JSON.parse(await fs.readFile(lockFile, 'utf8')).token).to.equal('other');
  });

  it('a one-off sync beside a running worker keeps the next run the worker wrote', async () => {
    h = await createHarness();
    const nextRunAt = new Date(Date.now() + 3_600_000);
    expect((await h.sync({}, { nextRunAt })).exitCode).to.equal(0);
    h.moveTo(1);
    expect((await h.sync()).exitCode).to.equal(0);
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.nextRunAt).to.equal(nextRunAt.toISOString());
    // A failing one-off run too.
    h.upstream.fault({ match: /profiles\.json$/, kind: '500' });
    expect((await h.sync()).exitCode).to.equal(1);
    expect(((await readStatus(h.mirrorDir)) as StatusFile).nextRunAt).to.equal(nextRunAt.toISOString());
  });

  it('says each failure with one label, once', async () => {
    h = await createHarness();
    const core = h.tree.feeds[0];
    h.upstream.files.set(`${core?.dir}/Packages.sig`, Buffer.from('untrusted comment: garbage\nAAAA\n'));
    h.upstream.fault({ match: /sha256sums$/, kind: '404' });
    const { logger, lines } = capturingLogger();
    const { report } = await h.sync({}, { logger });
    const summary = lines()
      .filter((line) => line.message.startsWith('failed: '))
      .map((line) => line.message);
    expect(summary.length).to.be.greaterThan(0);
    for (const line of summary) {
      expect(line, line).to.not.match(/^failed: :/);
      // The label's file is not said again as the start of the reason.
      const label = /^failed: ([^:]+): (.*)$/.exec(line);
      for (const word of (label?.[1] ?? '').split(' ').filter((w) => w.includes('/'))) {
        expect(label?.[2]?.startsWith(`${word}:`), line).to.equal(false);
        expect(label?.[2]?.startsWith(`${path.posix.basename(word)}:`), line).to.equal(false);
      }
    }
    expect(summary.some((line) => line.includes('packages/Packages: malformed signature'))).to.be.true;
    const rendered = renderStatus(h.config(), (await readStatus(h.mirrorDir)) as StatusFile);
    expect(rendered).to.not.match(/Packages: [^\n]*Packages:/);
    expect(report.failures.length).to.be.greaterThan(0);
  });

  it('a stopped run is recorded as failed with why, and the served tree stays', async () => {
    h = await createHarness({ upstream: { bytesPerSecond: 200_000 } });
    expect((await h.sync()).exitCode).to.equal(0);
    const link = await fs.readlink(path.join(h.mirrorDir, 'releases', h.tree.version));
    h.moveTo(1);
    h.upstream.resetLog();
    const controller = new AbortController();
    const running = h.sync({}, { signal: controller.signal });
    await waitFor('a download', () => h.upstream.requests.some((r) => r.path.endsWith('.ipk')));
    controller.abort();
    const error = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error)?.name).to.equal('AbortedError');
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.lastRun?.result).to.equal('failed');
    expect(status.lastRun?.failures[0]?.reason).to.match(/stopped .*before the sync finished/);
    expect(await fs.readlink(path.join(h.mirrorDir, 'releases', h.tree.version))).to.equal(link);
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('MIRROR_DIR that is a file, or under /proc, is one line naming the variable, exit 2', async () => {
    h = await createHarness();
    const file = path.join(h.root, 'a-file');
    await fs.writeFile(file, 'x');
    const onFile = await runCli(['sync'], { ...h.env, MIRROR_DIR: file });
    expect(onFile.code).to.equal(2);
    expect(onFile.stderr.trim().split('\n')).to.have.length(1);
    expect(onFile.stderr).to.contain(`MIRROR_DIR="${file}"`).and.contain('is a file');
    const proc = spawnCli(['sync'], { ...h.env, MIRROR_DIR: '/proc/openwrt-mirror-test' });
    const timer = setTimeout(() => proc.child.kill('SIGTERM'), 20_000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    expect(code).to.equal(2);
    expect(proc.stderr()).to.contain('MIRROR_DIR="/proc/openwrt-mirror-test"');
  });
});
