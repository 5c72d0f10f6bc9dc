/**
 * Generations you can go back to: KEEP_GENERATIONS published trees stay on disk, `rollback` switches
 * a release back with the publish's own rename and pins it, the sync leaves a pinned release alone,
 * `unpin` lets it move on. Through the real command line and the real nginx, with a router reading
 * all the while.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { opkgRouterLoop } from './helpers/clients.js';
import { type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

describe('generations: keep, roll back, pin, unpin', function () {
  this.timeout(180_000);
  let h: Harness;
  let nginx: RunningNginx;

  const servedId = async () => path.basename(await fs.readlink(path.join(h.mirrorDir, 'releases/24.10.4')));
  const status = async () => JSON.parse(await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8'));
  const packagesGz = async () =>
    (await request(`${nginx.url}/releases/24.10.4/packages/mipsel_24kc/base/Packages.gz`)).body;

  before(async () => {
    h = await createHarness({ env: { KEEP_GENERATIONS: '2' } });
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
  });
  after(async () => {
    await nginx?.stop();
    await h?.close();
  });

  it('keeps the newest KEEP_GENERATIONS of a release and lists them, the served one marked', async () => {
    const ids: string[] = [];
    for (const revision of [0, 1, 2]) {
      if (revision > 0) h.moveTo(revision);
      expect((await h.sync()).exitCode).to.equal(0);
      ids.push(await servedId());
    }
    expect(new Set(ids).size).to.equal(3);
    const onDisk = (await fs.readdir(path.join(h.mirrorDir, '.mirror/generations'))).sort();
    expect(onDisk).to.deep.equal([ids[1], ids[2]].sort());
    const listed = await runCli(['generations'], h.env);
    expect(listed.code, listed.stderr).to.equal(0);
    expect(listed.stdout).to.match(/^24\.10\.4: 2 kept \(KEEP_GENERATIONS=2\)/);
    expect(listed.stdout).to.include(`* ${ids[2]}`);
    expect(listed.stdout).to.include(`  ${ids[1]}`);
    expect(listed.stdout).to.match(/packages, \d+ files, .*\+\d+ −\d+ files/);
    expect(listed.stdout).not.to.include(ids[0] as string);
    expect((await status()).generations['24.10.4'].kept.map((g: { id: string }) => g.id)).to.deep.equal([
      ids[2],
      ids[1],
    ]);
  });

  it('rollback switches back atomically while a router reads: it never meets a missing or wrong file', async () => {
    const [newer, older] = (await status()).generations['24.10.4'].kept.map((g: { id: string }) => g.id);
    const newIndex = await packagesGz();
    // The router reads the files of both trees: whichever index it verified, its files must be there.
    const wanted = new Set(labClosure(h.tree));
    const router = opkgRouterLoop(nginx.url, h.signer.publicKeyFile, wanted);
    const oldIndex = await fs.readFile(
      path.join(h.mirrorDir, '.mirror/generations', older, 'packages/mipsel_24kc/base/Packages.gz'),
    );
    const back = await runCli(['rollback'], h.env);
    expect(back.code, back.stderr).to.equal(0);
    expect(back.stdout).to.match(
      new RegExp(
        `24\\.10\\.4: now serving generation ${older} .* again .*, with the \\d+ files of the tree served before .* pinned`,
      ),
    );
    expect((await packagesGz()).equals(oldIndex)).to.equal(true);
    // And forth by id, and back again, the router still reading.
    const forth = await runCli(['rollback', newer], h.env);
    expect(forth.code, forth.stderr).to.equal(0);
    expect((await packagesGz()).equals(newIndex)).to.equal(true);
    // KEEP_GENERATIONS=2: the copy the first rollback made is now the one before the served one.
    const again = await runCli(['rollback'], h.env);
    expect(again.code, again.stderr).to.equal(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { problems, rounds } = await router.stop();
    expect(problems).to.deep.equal([]);
    expect(rounds).to.be.at.least(2);
    expect((await packagesGz()).equals(oldIndex)).to.equal(true);
    const s = await status();
    expect(s.generations['24.10.4']).to.include({ served: await servedId(), pinned: await servedId() });
    expect((await runCli(['status'], h.env)).stdout).to.match(/24\.10\.4 is PINNED to generation/);
  });

  it('a sync leaves a pinned release as it is and says so; unpin lets the next one move it on', async () => {
    const pinned = await servedId();
    const run = await h.sync();
    expect(run.exitCode).to.equal(0);
    expect(run.report.warnings.join('\n')).to.match(
      /24\.10\.4: pinned to generation .* by rollback, so this sync leaves it as it is \(openwrt-mirror unpin/,
    );
    expect(await servedId()).to.equal(pinned);
    // status.json's generations still say so after the run (the pin comes from the run, not a reread).
    expect((await status()).generations['24.10.4']).to.include({ served: pinned, pinned });
    const unpin = await runCli(['unpin'], h.env);
    expect(unpin.code, unpin.stderr).to.equal(0);
    expect(unpin.stdout).to.match(/24\.10\.4: unpinned from/);
    expect((await h.sync()).exitCode).to.equal(0);
    expect(await servedId()).not.to.equal(pinned);
    expect((await status()).generations['24.10.4'].pinned).to.equal(undefined);
  });

  it('refuses a generation it does not keep, naming those it does, and changes nothing', async () => {
    const before = await servedId();
    const bad = await runCli(['rollback', '20200101T000000Z-dead'], h.env);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/rollback: 24\.10\.4 has no kept generation 20200101T000000Z-dead; kept: /);
    expect(bad.stderr).to.include(before);
    expect(await servedId()).to.equal(before);
  });
});
