/**
 * A quiet night (worker/sync/quiet.ts): the upstream changed nothing and neither did what the mirror
 * plans with, so the release keeps its generation without parsing an index or planning. What a user
 * would notice if it went wrong: a run that should have fetched something (a new list entry, a
 * package that failed last time) fetching nothing, different counts on the page, or a pool that is
 * never cleaned.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { NO_DEPENDS } from '../worker/feeds/depends.js';
import { readStatus, type StatusFile } from '../worker/status/status-file.js';
import type { SyncReport } from '../worker/sync/types.js';
import { capturingLogger } from './helpers/log-capture.js';
import { bytesOf, createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

const QUIET = /the plan stays as it was/;
const isPackage = (p: string) => p.endsWith('.ipk');

describe('quiet night', function () {
  this.timeout(60_000);
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  /** A sync with its log: whether it took the quiet path. */
  const syncLogged = async (env: Record<string, string> = {}) => {
    const capture = capturingLogger();
    const result = await h.sync(env, { logger: capture.logger });
    return { ...result, quiet: capture.lines().some((line) => QUIET.test(line.message)) };
  };
  const stateFile = () => path.join(h.mirrorDir, '.mirror', `state-${h.tree.version}.json`);
  /** Forget what the last publish planned with: the next run plans as before this change. */
  const forgetPlan = async () => {
    const state = JSON.parse(await fs.readFile(stateFile(), 'utf8'));
    delete state.plannedWith;
    await fs.writeFile(stateFile(), JSON.stringify(state));
  };
  const counts = (report: SyncReport) => ({
    planned: report.planned,
    skipped: report.skipped,
    downloaded: report.downloaded,
    feeds: report.feeds.map((feed) => [
      feed.name,
      feed.state,
      feed.planned,
      feed.skipped,
      feed.packagesInIndex,
    ]),
    images: report.sets.map((set) => set.images),
  });

  /** What the page shows of what is served: totals, and each set's feeds and images. */
  const shown = (status: StatusFile | undefined) => ({
    served: status?.served,
    sets: (status?.sets ?? []).map((set) => ({
      served: set.served,
      feeds: set.feeds.map((feed) => [feed.path, feed.packages, feed.bytes]),
      images: set.images,
    })),
  });

  it('keeps the generation without planning, and reports what a run that planned reports', async () => {
    h = await createHarness();
    const cold = await syncLogged();
    expect(cold.exitCode).to.equal(0);
    expect(cold.quiet).to.be.false;
    const served = await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir));

    await forgetPlan();
    const planned = await syncLogged();
    expect(planned.quiet, 'without a record of the plan, the run plans').to.be.false;
    const plannedServed = shown(await readStatus(h.mirrorDir));
    expect(plannedServed.served?.packages).to.be.greaterThan(100);
    h.upstream.resetLog();
    const quiet = await syncLogged();
    expect(quiet.exitCode).to.equal(0);
    expect(quiet.quiet, 'nothing changed: the quiet path').to.be.true;
    expect(h.upstream.requests.filter((r) => isPackage(r.path))).to.deep.equal([]);
    expect(counts(quiet.report)).to.deep.equal(counts(planned.report));
    expect(quiet.report.planned).to.be.greaterThan(100);
    expect(await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir))).to.equal(served);
    const status = await readStatus(h.mirrorDir);
    expect(status?.lastRun?.result).to.equal('success');
    expect(status?.lastRun?.planned).to.equal(planned.report.planned);
    expect(shown(status), 'the page shows what it showed after the run that planned').to.deep.equal(
      plannedServed,
    );

    // A state written before it kept the generation's counts: counted from its files, the same.
    const state = JSON.parse(await fs.readFile(stateFile(), 'utf8'));
    expect(state.served, 'the state keeps the counts').to.be.an('object');
    delete state.served;
    await fs.writeFile(stateFile(), JSON.stringify(state));
    const older = await syncLogged();
    expect(older.quiet).to.be.true;
    expect(counts(older.report)).to.deep.equal(counts(planned.report));
    expect(shown(await readStatus(h.mirrorDir))).to.deep.equal(plannedServed);

    // A state written before the files moved beside it holds them inside: read as it is, and the
    // quiet night that renews it moves them out.
    const manifests = path.join(h.mirrorDir, '.mirror', 'manifests', h.tree.version);
    const [manifest] = await fs.readdir(manifests);
    const { files } = JSON.parse(await fs.readFile(path.join(manifests, manifest as string), 'utf8'));
    const inside = JSON.parse(await fs.readFile(stateFile(), 'utf8'));
    delete inside.served;
    await fs.writeFile(stateFile(), JSON.stringify({ ...inside, files }));
    await fs.rm(manifests, { recursive: true });
    const before = await syncLogged();
    expect(before.quiet).to.be.true;
    expect(counts(before.report)).to.deep.equal(counts(planned.report));
    expect(shown(await readStatus(h.mirrorDir))).to.deep.equal(plannedServed);
    expect(JSON.parse(await fs.readFile(stateFile(), 'utf8')).files).to.equal(undefined);
    expect(await fs.readdir(manifests)).to.deep.equal([manifest]);
    expect(await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir))).to.equal(served);
  });

  it('plans again when the lists change, though the upstream did not', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const closure = labClosure(h.tree);
    const outside = h.tree.feeds
      .flatMap((feed) => feed.packages.map((pkg) => ({ feed, pkg })))
      .find(({ feed, pkg }) => !closure.has(`${feed.dir}/${pkg.filename}`) && pkg.depends === NO_DEPENDS);
    expect(outside, 'a package outside the lab closure with no dependencies').to.exist;
    const name = outside?.pkg.name as string;
    h.upstream.resetLog();
    const optional = [...(h.config().sets[0]?.optional ?? []), name].join(',');
    const run = await syncLogged({ OPTIONAL_PACKAGES: optional });
    expect(run.exitCode).to.equal(0);
    expect(run.quiet).to.be.false;
    const fetched = h.upstream.requests.filter((r) => isPackage(r.path)).map((r) => r.path);
    expect(fetched).to.deep.equal([`${outside?.feed.dir}/${outside?.pkg.filename}`]);
    expect(
      await h.readServed(`${outside?.feed.dir.slice(h.tree.releaseDir.length + 1)}/${outside?.pkg.filename}`),
    ).to.exist;
  });

  it('after a run that failed, plans again and fetches what failed; a quiet night then owes no prune', async () => {
    h = await createHarness();
    const closure = [...labClosure(h.tree)];
    const broken = closure[0] as string;
    const isBroken = bytesOf(h.tree, broken);
    h.upstream.fault({ match: isBroken, kind: '503' });
    expect((await h.sync()).exitCode).to.equal(1);
    h.upstream.clearFaults();
    h.upstream.resetLog();
    const retry = await syncLogged();
    expect(retry.exitCode).to.equal(0);
    expect(retry.quiet, 'the failed run left no plan to keep').to.be.false;
    expect(h.upstream.requests.filter((r) => isBroken(r.path))).to.have.length(1);
    expect(await h.readServed(broken.slice(h.tree.releaseDir.length + 1))).to.exist;

    // A file only the pool holds (left by an interrupted run) goes with the prune a changed run
    // makes; a quiet night does not walk the pool, unless a failed run left the walk owed.
    const orphan = path.join(h.mirrorDir, '.mirror', 'pool', 'ab'.padEnd(64, '0'));
    await fs.writeFile(orphan, 'left behind');
    const quiet = await syncLogged();
    expect(quiet.quiet).to.be.true;
    expect(await fs.stat(orphan).catch(() => undefined), 'a quiet night leaves the pool alone').to.exist;
    await fs.writeFile(path.join(h.mirrorDir, '.mirror', 'prune-owed'), '');
    expect((await syncLogged()).quiet).to.be.true;
    expect(await fs.stat(orphan).catch(() => undefined), 'the owed prune is made').to.equal(undefined);
  });
});
