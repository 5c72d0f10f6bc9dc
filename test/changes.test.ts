/**
 * What a run changed: the packages routers can install that were added, updated (old → new) or
 * removed per feed, and the images, in status.json's lastRun.changes, `status --changes` and
 * history.json — checked against the generated upstream's own lists.
 */
import { expect } from 'chai';
import { readHistory } from '../worker/status/history.js';
import { readStatus, type StatusFile } from '../worker/status/status-file.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure, type ReleaseTree } from './helpers/tree/index.js';

/** `feed name` → version of every lab closure package the tree serves. */
function served(tree: ReleaseTree): Map<string, string> {
  const wanted = labClosure(tree);
  const out = new Map<string, string>();
  for (const feed of tree.feeds) {
    for (const pkg of feed.packages) {
      if (wanted.has(`${feed.dir}/${pkg.filename}`)) out.set(`${feed.name} ${pkg.name}`, pkg.version);
    }
  }
  return out;
}

describe('changes of a run', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('lists the packages added, updated and removed per feed, and the images, as the upstream moved', async () => {
    h = await createHarness();
    const before = served(h.tree);
    const first = await h.sync();
    expect(first.exitCode).to.equal(0);
    // A first sync adds everything it serves.
    expect(first.report.changes.added).to.have.length(before.size);
    expect(first.report.changes.updated).to.deep.equal([]);

    const next = h.moveTo(1);
    const after = served(next);
    const { exitCode, report } = await h.sync();
    expect(exitCode).to.equal(0);
    const expected = {
      added: [...after].filter(([key]) => !before.has(key)),
      updated: [...after].filter(([key, version]) => before.has(key) && before.get(key) !== version),
      removed: [...before].filter(([key]) => !after.has(key)),
    };
    expect(expected.updated.length, 'the upstream moved some lab packages on').to.be.greaterThan(5);
    const key = (c: { feed: string; name: string }) => `${c.feed} ${c.name}`;
    expect(report.changes.updated.map((c) => [key(c), c.to]).sort()).to.deep.equal(expected.updated.sort());
    for (const c of report.changes.updated) expect(c.from).to.equal(before.get(key(c)));
    expect(report.changes.added.map((c) => [key(c), c.version]).sort()).to.deep.equal(expected.added.sort());
    expect(report.changes.removed.map((c) => [key(c), c.version]).sort()).to.deep.equal(
      expected.removed.sort(),
    );
    for (const c of [...report.changes.added, ...report.changes.updated])
      expect(c.release).to.equal('24.10.4');

    // The same in status.json, `status --changes` and the history.
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.lastRun?.changes?.counts.updated).to.equal(expected.updated.length);
    expect(status.lastRun?.changes?.updated).to.deep.equal(report.changes.updated);
    const printed = await runCli(['status', '--changes'], h.env);
    expect(printed.code, printed.stderr).to.equal(0);
    const [one] = report.changes.updated;
    expect(printed.stdout).to.match(
      new RegExp(`^changes of the last sync \\(.*, success\\): .* ${expected.updated.length} updated`),
    );
    expect(printed.stdout)
      .to.contain(`  updated  24.10.4 ${one?.feed}`)
      .and.contain(`${one?.name} ${one?.from} → ${one?.to}`);
    const { runs } = await readHistory(h.mirrorDir);
    expect(runs.at(-1)?.changes?.counts.updated).to.equal(expected.updated.length);

    // Nothing new: nothing changed.
    const again = await h.sync();
    expect(again.report.changes).to.deep.equal({ added: [], updated: [], removed: [], images: [] });
  });

  it('lists the images that came and went', async () => {
    h = await createHarness();
    const lab = h.tree.images.filter((i) => i.device === 'dlink_dir-1960-a1');
    const rel = (p: string) => p.slice(`releases/${h.tree.version}/`.length);
    expect((await h.sync({ OPENWRT_DEVICES: '' })).report.changes.images).to.deep.equal([]);
    const came = await h.sync();
    expect(came.report.changes.images.map((c) => `${c.change} ${c.path}`).sort()).to.deep.equal(
      lab.map((i) => `added ${rel(i.path)}`).sort(),
    );
    // The device leaves the configuration: its images go once the grace period is over.
    const went = await h.sync({ OPENWRT_DEVICES: '', PRUNE_GRACE_HOURS: '0' });
    expect(went.report.changes.images.map((c) => `${c.change} ${c.path}`).sort()).to.deep.equal(
      lab.map((i) => `removed ${rel(i.path)}`).sort(),
    );
  });
});
