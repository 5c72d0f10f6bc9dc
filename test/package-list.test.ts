/**
 * search/<release>/<target>/packages.json, the page's search list: every package of every index a
 * set serves, which of them are on this mirror, and a description cut to one line.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { DESCRIPTION_CHARS, descriptionLine } from '../worker/feeds/description.js';
import type { PackageList } from '../worker/status/package-list.js';
import { exists } from './helpers/files.js';
import { createSetsHarness, type SetsHarness } from './helpers/sets-harness.js';
import { labClosure } from './helpers/tree/index.js';

describe('package lists for the search', function () {
  this.timeout(60_000);
  let h: SetsHarness;

  afterEach(async () => {
    await h?.close();
  });

  const read = async (release: string, target: string) =>
    JSON.parse(
      await fs.readFile(path.join(h.mirrorDir, 'search', release, target, 'packages.json'), 'utf8'),
    ) as PackageList;

  it("lists every package of each set's indexes, says which are here, and goes with a withdrawn set", async () => {
    h = await createSetsHarness({
      releases: [{ version: '24.10.4' }, { version: '25.12.0' }],
      targets: ['ramips/mt7621', 'x86/64'],
    });
    const sets = [
      { release: '24.10.4', target: 'ramips/mt7621' },
      { release: '24.10.4', target: 'x86/64' },
      { release: '25.12.0', target: 'x86/64' },
    ];
    expect((await h.sync(sets)).exitCode).to.equal(0);
    for (const { release, target } of sets) {
      const list = await read(release, target);
      const tree = h.set(release, target);
      expect(list.feeds.map((f) => f.name)).to.deep.equal(tree.feeds.map((f) => f.name));
      const expected = tree.feeds.flatMap((feed) =>
        feed.packages.map((pkg) => `${feed.name} ${pkg.name} ${pkg.version}`),
      );
      expect(list.packages.map((p) => `${list.feeds[p.f]?.name} ${p.n} ${p.v}`).sort()).to.deep.equal(
        expected.sort(),
      );
      const closure = labClosure(tree);
      for (const pkg of list.packages) {
        const feed = list.feeds[pkg.f] as { dir: string };
        const served = closure.has(`releases/${release}/${feed.dir}/${pkg.u}`);
        expect(pkg.m, `${release} ${target} ${pkg.n}`).to.equal(served ? 1 : 0);
      }
      expect(list.optional.source).to.match(/^MIRROR_CONFIG .* line \d+|^OPTIONAL_PACKAGES$/);
    }
    const mini = (await read('24.10.4', 'ramips/mt7621')).packages.find((p) => p.n === 'tcpdump-mini');
    expect(mini?.d).to.equal('Network monitoring and data acquisition tool (minimal version)');
    expect(mini?.p).to.deep.equal(['libc', 'libpcap1']);
    const apk = (await read('25.12.0', 'x86/64')).packages.find((p) => p.n === 'tcpdump-mini');
    expect(apk?.d).to.equal('Network monitoring and data acquisition tool (minimal version)');

    // x86/64 of 24.10.4 leaves: its list goes when it is no longer served.
    const later = new Date(Date.now() + 2 * 3_600_000);
    const two = [sets[0], sets[2]] as typeof sets;
    expect((await h.sync(two, { PRUNE_GRACE_HOURS: '1' })).exitCode).to.equal(0);
    expect(await exists(path.join(h.mirrorDir, 'search/24.10.4/x86/64/packages.json'))).to.be.true;
    expect((await h.sync(two, { PRUNE_GRACE_HOURS: '1' }, { now: () => later })).exitCode).to.equal(0);
    expect(await exists(path.join(h.mirrorDir, 'search/24.10.4/x86/64/packages.json'))).to.be.false;
    expect(await exists(path.join(h.mirrorDir, 'search/24.10.4/ramips/mt7621/packages.json'))).to.be.true;
  });

  it('a re-run with nothing new leaves the list and the feed lines as they were; new versions rewrite the list', async () => {
    h = await createSetsHarness({ releases: [{ version: '24.10.4' }], targets: ['ramips/mt7621'] });
    const sets = [{ release: '24.10.4', target: 'ramips/mt7621' }];
    const files = [
      'search/24.10.4/ramips/mt7621/packages.json',
      'distfeeds/24.10.4/ramips/mt7621/distfeeds.conf',
      'distfeeds/sets',
      'distfeeds.conf',
    ];
    // Every write goes through a new file renamed into place: an unchanged inode was not written.
    const inodes = () => Promise.all(files.map(async (f) => (await fs.stat(path.join(h.mirrorDir, f))).ino));
    expect((await h.sync(sets)).exitCode).to.equal(0);
    const before = await inodes();
    const first = await read('24.10.4', 'ramips/mt7621');
    expect((await h.sync(sets, {}, { now: () => new Date(Date.now() + 60_000) })).exitCode).to.equal(0);
    expect(await inodes()).to.deep.equal(before);
    expect((await read('24.10.4', 'ramips/mt7621')).at).to.equal(first.at);

    h.moveTo(1);
    const later = new Date(Date.now() + 120_000);
    expect((await h.sync(sets, {}, { now: () => later })).exitCode).to.equal(0);
    const moved = await read('24.10.4', 'ramips/mt7621');
    expect(moved.at).to.equal(later.toISOString());
    const version = (list: PackageList, name: string) => list.packages.find((p) => p.n === name)?.v;
    const changed = first.packages.filter((p) => version(moved, p.n) !== p.v);
    expect(changed.length).to.be.greaterThan(0);
    // The feed lines say the same: still not written.
    expect((await inodes()).slice(1)).to.deep.equal(before.slice(1));
  });

  it("keeps a description to its first line, and a long one to a line's length", () => {
    expect(descriptionLine('  Basic utility library\n more text')).to.equal('Basic utility library');
    const long = descriptionLine('x'.repeat(10_000));
    expect(long).to.have.length(DESCRIPTION_CHARS);
    expect(long.endsWith('…')).to.be.true;
  });
});
