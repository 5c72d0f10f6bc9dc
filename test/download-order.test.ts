/**
 * The order downloads go out in, as the upstream sees it: largest first, the images while the
 * indexes still come in, and in full mode a feed's packages as soon as its own index verifies —
 * with the rate and the connections the politeness allows, and the same tree at the end.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { RequestRecord } from './helpers/fake-upstream.js';
import { listFiles } from './helpers/files.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

const PACKAGE = /\.(ipk|apk)$/;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('download order', function () {
  this.timeout(120_000);
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  const sizeOf = (record: RequestRecord) => h.tree.files.get(record.path)?.length ?? 0;
  const byStart = () => [...h.upstream.requests].sort((a, b) => a.start - b.start);

  it('fetches the packages largest first once the indexes are in, so the run ends on small ones', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '', RATE_LIMIT: '100', CONCURRENCY: '2' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const requests = byStart();
    const packages = requests.filter((r) => PACKAGE.test(r.path));
    expect(packages.length).to.be.greaterThan(100);
    // Each feed's share starts as its index verifies; once every index is in (and its closure
    // taken, given half a second), everything still waiting goes out in one order, largest first.
    const lastIndex = Math.max(...requests.filter((r) => r.path.endsWith('/Packages.gz')).map((r) => r.end));
    const sizes = packages.filter((r) => r.start > lastIndex + 500).map(sizeOf);
    expect(sizes.length, 'packages started after the indexes').to.be.greaterThan(20);
    expect(sizes).to.deep.equal([...sizes].sort((a, b) => b - a));
  });

  it('starts the images while the indexes still come in, behind them, within the politeness', async () => {
    h = await createHarness({ upstream: { latencyMs: 20 }, env: { RATE_LIMIT: '50', CONCURRENCY: '3' } });
    // One feed's index comes slowly: about a second.
    h.upstream.fault({ match: /\/telephony\/Packages\.gz$/, kind: 'trickle', bytesPerSecond: 2_000 });
    expect((await h.sync()).exitCode).to.equal(0);
    const requests = byStart();
    const slowIndex = requests.find((r) => r.path.endsWith('/telephony/Packages.gz')) as RequestRecord;
    const images = requests.filter((r) => /\.(bin|img|itb)$/.test(r.path));
    expect(images.length).to.be.greaterThan(0);
    expect(images[0]?.start, 'the first image starts before the slow index has come').to.be.below(
      slowIndex.end,
    );
    expect(h.upstream.maxInFlight()).to.be.at.most(3);
    expect(h.upstream.maxStartsInWindow(1000)).to.be.at.most(50);
    // Each image fetched once, and served.
    expect(new Set(images.map((r) => r.path)).size).to.equal(images.length);
    for (const image of images) {
      const served = await h.readServed(image.path.replace(`${h.tree.releaseDir}/`, ''));
      expect(served?.equals(h.tree.files.get(image.path) as Buffer), image.path).to.be.true;
    }
  });

  it('in selective mode, starts what the closure over the verified feeds holds while the others come in', async () => {
    h = await createHarness({
      upstream: { latencyMs: 20 },
      env: { OPENWRT_DEVICES: '', RATE_LIMIT: '100', CONCURRENCY: '3' },
    });
    // The lab's lists need packages of telephony too; its index comes slowly.
    h.upstream.fault({ match: /\/telephony\/Packages\.gz$/, kind: 'trickle', bytesPerSecond: 2_000 });
    expect((await h.sync()).exitCode).to.equal(0);
    const requests = byStart();
    const slowIndex = requests.find((r) => r.path.endsWith('/telephony/Packages.gz')) as RequestRecord;
    const packages = requests.filter((r) => PACKAGE.test(r.path));
    const early = packages.filter((r) => r.start < slowIndex.end);
    expect(early.length, 'packages fetched while the slow index came').to.be.greaterThan(5);
    // A feed's packages wait for its own index.
    expect(packages.filter((r) => r.path.includes('/telephony/')).every((r) => r.start > slowIndex.end)).to.be
      .true;
    // While the index came, a slot stayed free for it.
    expect(h.upstream.maxInFlight((r) => PACKAGE.test(r.path) && r.start < slowIndex.start)).to.be.at.most(2);
    // Nothing was fetched that the plan did not keep, and nothing twice: every package fetched is
    // served, and the tree is the one a sync without the slow index makes.
    expect(new Set(packages.map((r) => r.path)).size).to.equal(packages.length);
    for (const request of packages) {
      const served = await h.readServed(request.path.replace(`${h.tree.releaseDir}/`, ''));
      expect(served?.equals(h.tree.files.get(request.path) as Buffer), request.path).to.be.true;
    }
    const slowTree = await listFiles(h.served(''));
    const quick = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    try {
      expect((await quick.sync()).exitCode).to.equal(0);
      expect(slowTree.sort()).to.deep.equal((await listFiles(quick.served(''))).sort());
    } finally {
      await quick.close();
    }
  });

  it("in full mode, starts a feed's packages as soon as its own index verifies, each fetched once", async () => {
    h = await createHarness({
      upstream: { latencyMs: 20 },
      env: { MIRROR_MODE: 'full', OPENWRT_DEVICES: '', RATE_LIMIT: '100', CONCURRENCY: '3' },
    });
    h.upstream.fault({ match: /\/telephony\/Packages\.gz$/, kind: 'trickle', bytesPerSecond: 2_000 });
    expect((await h.sync()).exitCode).to.equal(0);
    const requests = byStart();
    const slowIndex = requests.find((r) => r.path.endsWith('/telephony/Packages.gz')) as RequestRecord;
    const early = requests.filter((r) => PACKAGE.test(r.path) && r.start < slowIndex.end);
    expect(early.length, 'packages fetched while the slow index came').to.be.greaterThan(5);
    expect(early.every((r) => !r.path.includes('/telephony/'))).to.be.true;
    // While the index came, a slot stayed free for it: at most 2 early downloads at once.
    expect(h.upstream.maxInFlight((r) => PACKAGE.test(r.path) && r.start < slowIndex.start)).to.be.at.most(2);
    // Each content once: the tree has the same bytes in two feeds, fetched by one of them.
    const packages = requests.filter((r) => PACKAGE.test(r.path));
    const contents = packages.map((r) => sha256(h.tree.files.get(r.path) as Buffer));
    expect(new Set(contents).size, 'no content fetched twice').to.equal(packages.length);
    const all = new Set(
      [...h.tree.files].filter(([path]) => PACKAGE.test(path)).map(([, bytes]) => sha256(bytes)),
    );
    expect(all.size).to.be.below([...h.tree.files.keys()].filter((path) => PACKAGE.test(path)).length);
    expect(packages.length).to.equal(all.size);
    expect(h.upstream.maxInFlight()).to.be.at.most(3);
    expect(h.upstream.maxStartsInWindow(1000)).to.be.at.most(100);
    // The status counts each file once.
    const second = await h.sync();
    expect(second.exitCode).to.equal(0);
  });
});
