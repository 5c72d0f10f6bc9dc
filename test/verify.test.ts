/**
 * `openwrt-mirror verify` against what is really served: the target directory agrees with the feeds
 * beside it, anything planted in a generation is found, and a sync publishing meanwhile is no
 * mismatch.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { verifyMirror } from '../worker/commands/verify.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

describe('verify', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  /** The generation directory the release link points at. */
  const servedGeneration = async () =>
    path.resolve(
      path.join(h.mirrorDir, 'releases'),
      await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir)),
    );

  it('the target sums always agree with the feeds served beside them, also when only the feeds moved', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    // The next revision rebuilds core packages: the sums, which list them, change; profiles.json does not.
    const next = h.moveTo(1);
    const { exitCode } = await h.sync();
    expect(exitCode).to.equal(0);
    const sums = `${next.targetDir}/sha256sums`;
    expect((await fs.readFile(path.join(h.mirrorDir, sums))).equals(next.files.get(sums) as Buffer)).to.be
      .true;
    const run = await runCli(['verify'], h.env);
    expect(run.stdout, run.stdout).to.not.contain('MISMATCH');
    expect(run.code).to.equal(0);
  });

  it('a core feed kept as it was keeps the directory consistent: sums that disagree with it are not served', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const before = labClosure(h.tree);
    // A revision that rebuilds a package below the target directory that the lab needs.
    let next = h.moveTo(1);
    for (
      let revision = 2;
      ![...labClosure(next)].some((p) => p.startsWith(next.targetDir) && !before.has(p));
      revision++
    ) {
      next = h.moveTo(revision);
    }
    h.upstream.fault({ match: (p) => p.startsWith(`${next.targetDir}/`) && p.endsWith('.ipk'), kind: '404' });
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(1);
    expect(report.feeds.find((f) => f.name === 'core')?.state).to.equal('kept');
    // The new sums list the new core; the old ones the old kmods index: neither may be served with this tree.
    expect(report.failures.find((f) => f.file?.endsWith('/sha256sums'))?.reason).to.match(
      /with another sha256 than the files served beside it: (the target directory stays as it was|not served until it agrees again)/,
    );
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
    // Once the packages can be had, everything moves on together.
    h.upstream.clearFaults();
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await verifyMirror(h.config())).problems).to.deep.equal([]);
  });

  it('finds a symlink planted in a served generation, and nginx-style following does not hide it', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const base = h.tree.feeds.find((f) => f.name === 'base');
    const feedDir = path.join(await servedGeneration(), base?.dir.slice(h.tree.releaseDir.length + 1) ?? '');
    await fs.symlink('/etc/passwd', path.join(feedDir, 'evil.ipk'));
    await fs.symlink('/etc', path.join(feedDir, 'evil-dir'));
    const run = await runCli(['verify'], h.env);
    expect(run.code).to.equal(1);
    expect(run.stdout).to.match(/MISMATCH .*base\/evil\.ipk: a symlink/);
    expect(run.stdout).to.match(/MISMATCH .*base\/evil-dir: a symlink/);
  });

  it('finds anything in releases/ that is not a link of the mirror into one of its generations', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const releases = path.join(h.mirrorDir, 'releases');
    await fs.symlink('/etc', path.join(releases, 'evil-dir'));
    await fs.symlink('../.mirror', path.join(releases, 'inside'));
    await fs.writeFile(path.join(releases, 'stray'), 'x');
    const planted = await runCli(['verify'], h.env);
    expect(planted.code).to.equal(1);
    expect(planted.stdout).to.contain(
      'MISMATCH releases/evil-dir: a link to /etc, not to a generation of this mirror',
    );
    expect(planted.stdout).to.contain('MISMATCH releases/inside: a link to ../.mirror');
    expect(planted.stdout).to.contain('MISMATCH releases/stray: a file');
    // The release link itself turned elsewhere: a mismatch said in one line, not a stack trace.
    const link = path.join(releases, h.tree.version);
    await fs.rm(link);
    await fs.symlink('/etc', link);
    const hijacked = await runCli(['verify'], h.env);
    expect(hijacked.code).to.equal(1);
    expect(hijacked.stdout).to.contain(`MISMATCH releases/${h.tree.version}: a link to /etc`);
    expect(hijacked.stderr).to.not.contain('    at ');
  });

  it('a sync that publishes while verify runs is no mismatch: verify starts over on the new generation', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const before = path.basename(await servedGeneration());
    h.moveTo(1);
    let published = false;
    const result = await verifyMirror(h.config(), {
      onFile: async () => {
        if (published) return;
        published = true;
        // The old generation is removed as soon as the new one is switched in.
        expect((await h.sync()).exitCode).to.equal(0);
      },
    });
    expect(result.problems).to.deep.equal([]);
    expect(result.restarts).to.equal(1);
    expect(result.generation).to.not.equal(before);
    expect(result.generation).to.equal(path.basename(await servedGeneration()));
  });

  it('when syncs keep publishing under it, verify says it could not complete: no mismatch', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    let revision = 0;
    let checking = '';
    const error = await verifyMirror(h.config(), {
      // One publish per pass, each right after the pass's first file.
      onFile: async () => {
        const generation = await servedGeneration();
        if (generation === checking) return;
        checking = generation;
        h.moveTo(++revision);
        expect((await h.sync()).exitCode).to.equal(0);
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error)?.name).to.equal('VerifyIncompleteError');
    expect((error as Error).message).to.match(/a sync published 4 times while it ran; run verify again/);
  });
});
