/**
 * What a release asks before its sets are discovered (worker/sync/ahead.ts): the requests whose
 * paths are known without profiles.json go out beside it, not one round trip after it; a guess the
 * discovery proves wrong costs a request and nothing else.
 */
import { expect } from 'chai';
import type { RequestRecord } from './helpers/fake-upstream.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { buildRelease } from './helpers/tree/index.js';

describe('asked ahead', function () {
  this.timeout(120_000);
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  // A long first byte, so that "asked before profiles.json answered" is an order, not a race.
  const upstream = { latencyMs: 600 };
  const env = { RATE_LIMIT: '100', CONCURRENCY: '16' };
  const profiles = (requests: RequestRecord[]) =>
    requests.find((r) => r.path.endsWith('/profiles.json')) as RequestRecord;

  it('on a quiet night asks for every index and the image sums while profiles.json is on its way', async () => {
    h = await createHarness({ upstream, env });
    expect((await h.sync()).exitCode).to.equal(0);
    h.upstream.resetLog();
    const quiet = await h.sync();
    expect(quiet.exitCode).to.equal(0);
    expect(quiet.report.failures).to.deep.equal([]);
    const requests = [...h.upstream.requests];
    const markers = requests.filter((r) => /\/(Packages|sha256sums)\.sig$/.test(r.path));
    // Core, base, kmods, luci, packages, routing, telephony, and the target's sums.
    expect(markers.map((r) => r.path)).to.have.length(8);
    for (const marker of markers) {
      expect(marker.status, marker.path).to.equal(304);
      expect(marker.start, `${marker.path} asked before profiles.json answered`).to.be.below(
        profiles(requests).end,
      );
    }
    // Each asked once: the index phase took the answers instead of asking again.
    expect(new Set(requests.map((r) => r.path)).size).to.equal(requests.length);
  });

  it('on a first sync asks for the core feed, signature and index, beside profiles.json', async () => {
    h = await createHarness({ upstream, env: { ...env, OPENWRT_DEVICES: '' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const requests = [...h.upstream.requests];
    const core = `${h.tree.releaseDir}/targets/ramips/mt7621/packages/`;
    for (const file of ['Packages.sig', 'Packages.gz']) {
      const asked = requests.filter((r) => r.path === `${core}${file}`);
      expect(asked, file).to.have.length(1);
      expect((asked[0] as RequestRecord).start, file).to.be.below(profiles(requests).end);
    }
    // The arch feeds' directory comes from profiles.json: those wait for it.
    const base = requests.find((r) => r.path.endsWith('/base/Packages.sig')) as RequestRecord;
    expect(base.start).to.be.at.least(profiles(requests).end);
  });

  it('a guess the discovery proves wrong (a new kernel) costs one request and changes nothing else', async () => {
    h = await createHarness({ env });
    expect((await h.sync()).exitCode).to.equal(0);
    const oldKmods = h.tree.kmodsDir;
    // The same release rebuilt with another kernel: another kmods directory.
    const rebuilt = buildRelease({
      signer: h.signer,
      kernel: { version: '6.6.111', release: '1', vermagic: '0123456789abcdef0123456789abcdef' },
    });
    expect(rebuilt.kmodsDir).not.to.equal(oldKmods);
    h.upstream.setFiles(new Map(rebuilt.files));
    h.upstream.resetLog();
    const run = await h.sync();
    expect(run.exitCode, run.report.failures.map((f) => f.reason).join('\n')).to.equal(0);
    const requests = [...h.upstream.requests];
    const stale = requests.filter((r) => r.path.includes(`/kmods/${oldKmods}/`));
    expect(stale.map((r) => r.path)).to.deep.equal([
      `${h.tree.releaseDir}/targets/ramips/mt7621/kmods/${oldKmods}/Packages.sig`,
    ]);
    expect(run.report.warnings.join('\n')).not.to.include(oldKmods);
    // The new kernel's modules are served, from the signed index of the new directory.
    const index = `targets/ramips/mt7621/kmods/${rebuilt.kmodsDir}/Packages`;
    expect(
      (await h.readServed(index))?.equals(rebuilt.files.get(`${rebuilt.releaseDir}/${index}`) as Buffer),
    ).to.equal(true);
  });
});
