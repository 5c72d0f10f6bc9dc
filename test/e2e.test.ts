/**
 * The whole path a router takes: the worker syncs from the fake upstream, the real nginx serves the
 * result with the project's template, and a client does what opkg does — through HTTP only.
 */
import { expect } from 'chai';
import { apkInstallAll, opkgInstallAll, opkgRouterLoop } from './helpers/clients.js';
import { type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { createSetsHarness, type SetsHarness } from './helpers/sets-harness.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

describe('end to end: worker → nginx → router', function () {
  this.timeout(120_000);
  let h: Harness;
  let nginx: RunningNginx;

  async function start(options: Parameters<typeof createHarness>[0] = {}): Promise<void> {
    h = await createHarness(options);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
  }

  afterEach(async () => {
    await nginx?.stop();
    await h?.close();
  });

  it('a router following /distfeeds.conf verifies every index and gets every package of the lab lists', async () => {
    await start();
    expect((await h.sync()).exitCode).to.equal(0);
    const wanted = labClosure(h.tree);
    const { fetched, problems } = await opkgInstallAll(
      nginx.url,
      'mirror.lab:8080',
      h.signer.publicKeyFile,
      wanted,
    );
    expect(problems).to.deep.equal([]);
    expect(fetched).to.equal(wanted.size);
    const status = await request(`${nginx.url}/status.json`);
    expect(JSON.parse(status.body.toString()).lastRun?.result).to.equal('success');
  });

  it('a router installing through nginx during a sync to new versions never meets a missing or wrong file', async () => {
    // A slower upstream, so the router makes many rounds before, during and after the switch.
    await start({ upstream: { latencyMs: 15 }, env: { RATE_LIMIT: '100', CONCURRENCY: '2' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const before = labClosure(h.tree);
    h.moveTo(1);
    // Whichever index the router gets, old or new, every lab file it names must be there and right.
    const wanted = new Set([...before, ...labClosure(h.tree)]);
    const router = opkgRouterLoop(nginx.url, h.signer.publicKeyFile, wanted);
    const { exitCode } = await h.sync();
    const { problems, rounds } = await router.stop();
    expect(exitCode).to.equal(0);
    expect(problems).to.deep.equal([]);
    expect(rounds).to.be.at.least(2);
  });

  it('an apk router (25.12) following /distfeeds.list gets every package, also when it asks for ~ as %7e', async () => {
    await start({ tree: { version: '25.12.0' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const wanted = labClosure(h.tree);
    const { feeds, fetched, problems } = await apkInstallAll(
      nginx.url,
      'mirror.lab:8080',
      h.keysDir,
      wanted,
      {
        escapes: true,
      },
    );
    expect(problems).to.deep.equal([]);
    expect(feeds).to.have.length(h.tree.feeds.length);
    expect(fetched).to.equal(2 * wanted.size);
    expect((await request(`${nginx.url}/distfeeds.conf`)).status).to.equal(404);
  });
});

describe('end to end, several sets: worker → nginx → each router its own set', function () {
  this.timeout(180_000);
  let h: SetsHarness;
  let nginx: RunningNginx;

  afterEach(async () => {
    await nginx?.stop();
    await h?.close();
  });

  it("two releases × three targets: every router following its set's lines verifies every index and gets its closure", async () => {
    const releases = ['24.10.4', '25.12.0'];
    const targets = ['ramips/mt7621', 'ramips/mt76x8', 'x86/64'];
    h = await createSetsHarness({ releases: releases.map((version) => ({ version })), targets });
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    const sets = releases.flatMap((release) => targets.map((target) => ({ release, target })));
    const { exitCode, report } = await h.sync(sets);
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    expect(exitCode).to.equal(0);
    for (const { release, target } of sets) {
      const set = h.set(release, target);
      const wanted = labClosure(set);
      const host = 'mirror.lab:8080';
      const result =
        set.format === 'apk'
          ? await apkInstallAll(nginx.url, host, h.keysDir, wanted, {
              linesPath: `/distfeeds/${release}/${target}/distfeeds.list`,
            })
          : await opkgInstallAll(
              nginx.url,
              host,
              h.signer.publicKeyFile,
              wanted,
              `/distfeeds/${release}/${target}/distfeeds.conf`,
            );
      expect(result.problems, `${release} ${target}`).to.deep.equal([]);
      expect(result.fetched, `${release} ${target}`).to.equal(wanted.size);
      // Its own core and kmods, and its architecture's feeds.
      expect(result.feeds.filter((url) => url.includes(`/targets/${target}/`))).to.have.length(2);
      expect(result.feeds.filter((url) => url.includes(`/packages/${set.arch}/`))).to.have.length(5);
    }
  });
});
