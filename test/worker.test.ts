import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from 'chai';
import type { Config } from '../worker/config.js';
import { AbortedError } from '../worker/errors.js';
import { createLogger } from '../worker/log.js';
import { runWorker } from '../worker/schedule/worker.js';
import { readStatus } from '../worker/status/status-file.js';
import { emptyReport } from '../worker/sync/report.js';
import { runSync, type SyncOptions, type SyncResult } from '../worker/sync/run.js';
import { sha256 } from './helpers/files.js';
import { type CliRun, spawnCli as spawnCliRun, waitFor } from './helpers/spawn-cli.js';
import { createHarness, distinctContents, type Harness } from './helpers/sync-harness.js';
import { labClosure, type ReleaseTree } from './helpers/tree/index.js';

interface LogLine {
  level: string;
  message: string;
  timestamp: string;
  stack?: string;
  [key: string]: unknown;
}

/** A winston logger writing JSON lines into an array, as the container's log collector sees them. */
function capturedLogger() {
  const stream = new PassThrough();
  const lines: LogLine[] = [];
  let pending = '';
  stream.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      lines.push(JSON.parse(pending.slice(0, end)) as LogLine);
      pending = pending.slice(end + 1);
    }
  });
  return { logger: createLogger({ level: 'debug', pretty: false, stream }), lines };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new AbortedError());
      },
      { once: true },
    );
  });

type Sync = (config: Config, options: SyncOptions) => Promise<SyncResult>;
const emptyResult = (): SyncResult => ({
  exitCode: 0,
  report: emptyReport(new Date().toISOString()),
});

/** Every file nodes are served under `releases/`, following the release link like nginx does. */
async function servedFiles(mirrorDir: string, rel = 'releases'): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(path.join(mirrorDir, rel)).catch(() => []);
  for (const name of entries) {
    const child = `${rel}/${name}`;
    const stat = await fs.stat(path.join(mirrorDir, child));
    if (stat.isDirectory()) out.push(...(await servedFiles(mirrorDir, child)));
    else out.push(child);
  }
  return out;
}

/** Every served file is whole and byte-identical to what one of `trees` publishes. */
async function expectServedFrom(mirrorDir: string, ...trees: ReleaseTree[]): Promise<number> {
  const files = await servedFiles(mirrorDir);
  for (const file of files) {
    const expected = trees.map((tree) => tree.files.get(file)).find((bytes) => bytes !== undefined);
    expect(expected, `${file} belongs to the tree`).to.not.equal(undefined);
    expect(sha256(await fs.readFile(path.join(mirrorDir, file))), file).to.equal(sha256(expected as Buffer));
  }
  return files.length;
}

describe('worker', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  let stop: AbortController;

  beforeEach(() => {
    stop = new AbortController();
  });

  /** Children a failed test left running are killed, not leaked. */
  const children: CliRun[] = [];
  const spawnCli = (args: string[], env: Record<string, string>) => {
    const run = spawnCliRun(args, env);
    children.push(run);
    return run;
  };

  afterEach(async () => {
    stop.abort();
    for (const run of children.splice(0)) {
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill('SIGKILL');
        await run.exited;
      }
    }
    await h?.close();
    h = undefined;
  });

  it('syncs at start, logs the next run, then syncs again on its schedule after the upstream moved on', async () => {
    const harness = await createHarness();
    h = harness;
    const config = harness.config({ SYNC_ON_START: 'true', SYNC_SCHEDULE: '*/1 * * * * *' });
    const { logger, lines } = capturedLogger();
    const results: SyncResult[] = [];
    let nextRunBeforeSecond: string | undefined;
    let metricsBeforeSecond = '';
    let firstReturnedAt = Number.NaN;
    const sync: Sync = async (c, options) => {
      if (results.length === 1) {
        nextRunBeforeSecond = (await readStatus(harness.mirrorDir))?.nextRunAt;
        metricsBeforeSecond = await fs.readFile(path.join(harness.mirrorDir, 'metrics'), 'utf8');
      }
      const result = await runSync(c, options);
      results.push(result);
      if (results.length === 1) {
        // A sync that outlives the tick it was started before.
        await sleep(1200);
        harness.moveTo(1);
        firstReturnedAt = Date.now();
      }
      if (results.length === 2) stop.abort();
      return result;
    };
    const oldClosure = labClosure(harness.tree);
    expect(await runWorker(config, { logger, sync, signal: stop.signal, handleSignals: false })).to.equal(0);
    await settle();

    expect(results.map((r) => r.exitCode)).to.deep.equal([0, 0]);
    const first = results[0]?.report;
    expect((first?.downloaded ?? 0) + (first?.skipped ?? 0)).to.equal(first?.planned);
    expect(first?.downloaded).to.equal(
      distinctContents(harness.tree, labClosure(harness.tree)) + (first?.sets[0]?.images?.downloaded ?? 0),
    );
    // The second run fetched what the upstream changed, nothing else.
    const newClosure = labClosure(harness.tree);
    const added = [...newClosure].filter((p) => !oldClosure.has(p));
    expect(added.length).to.be.greaterThan(0);
    expect(results[1]?.report.downloaded).to.equal(distinctContents(harness.tree, added));
    for (const p of newClosure) {
      const served = await fs.readFile(path.join(harness.mirrorDir, p)).catch(() => undefined);
      expect(served && sha256(served), p).to.equal(sha256(harness.tree.files.get(p) as Buffer));
    }

    // After the first sync the log and status.json say when the next run is: within the next second.
    const firstSummary = lines.findIndex((l) => l.phase === 'summary');
    const next = lines.findIndex((l, i) => i > firstSummary && /^next sync at /.test(l.message));
    expect(next, JSON.stringify(lines.map((l) => l.message))).to.be.greaterThan(firstSummary);
    const nextRunAt = Date.parse(String(lines[next]?.nextRunAt));
    const loggedAt = Date.parse(lines[next]?.timestamp ?? '');
    expect(nextRunAt - loggedAt).to.be.within(-50, 1000);
    expect(nextRunBeforeSecond).to.be.a('string');
    expect(Date.parse(nextRunBeforeSecond ?? '') - firstReturnedAt).to.be.within(0, 1500);
    expect(metricsBeforeSecond).to.contain(
      `openwrt_mirror_next_run_timestamp_seconds ${Date.parse(nextRunBeforeSecond ?? '') / 1000}\n`,
    );
    // A stopped worker schedules nothing.
    expect((await readStatus(harness.mirrorDir))?.nextRunAt).to.equal(undefined);
  });

  it('a tick while a sync runs is skipped with one log line; never two syncs at once', async () => {
    h = await createHarness();
    const config = h.config({ SYNC_ON_START: 'false', SYNC_SCHEDULE: '*/1 * * * * *' });
    const { logger, lines } = capturedLogger();
    let active = 0;
    let most = 0;
    let calls = 0;
    const sync: Sync = async (_config, options) => {
      calls++;
      active++;
      most = Math.max(most, active);
      try {
        await sleep(2500, options.signal);
        return emptyResult();
      } finally {
        active--;
      }
    };
    setTimeout(() => stop.abort(), 5200);
    await runWorker(config, { logger, sync, signal: stop.signal, handleSignals: false });
    await settle();

    expect(calls).to.be.at.least(1);
    expect(most).to.equal(1);
    const skips = lines.filter((l) => /skipped/.test(l.message));
    expect(skips.length, JSON.stringify(lines.map((l) => l.message))).to.be.at.least(2);
    for (const skip of skips) {
      expect(skip.level).to.equal('warn');
      expect(skip.message).to.match(/still running/);
    }
    // One line per skipped tick, and every tick either ran a sync or was skipped.
    const ticks = new Set(skips.map((l) => l.skipped));
    expect(ticks.size).to.equal(skips.length);
    expect(calls + skips.length).to.be.within(4, 6);
    expect(lines.filter((l) => /overlap|missed/i.test(l.message))).to.deep.equal([]);
  });

  it('a sync that throws is logged with its stack and the schedule goes on', async () => {
    h = await createHarness();
    const config = h.config({ SYNC_ON_START: 'true', SYNC_SCHEDULE: '*/1 * * * * *' });
    const { logger, lines } = capturedLogger();
    let calls = 0;
    const sync: Sync = async () => {
      calls++;
      if (calls === 1) throw new TypeError('something nobody expected');
      stop.abort();
      return emptyResult();
    };
    expect(await runWorker(config, { logger, sync, signal: stop.signal, handleSignals: false })).to.equal(0);
    await settle();
    expect(calls).to.equal(2);
    const error = lines.find((l) => l.level === 'error');
    expect(error?.message).to.contain('something nobody expected');
    expect(error?.stack).to.match(/TypeError: something nobody expected\n\s+at /);
    const after = lines.slice(lines.indexOf(error as LogLine));
    expect(after.some((l) => /^next sync at /.test(l.message))).to.be.true;
  });

  it('SYNC_JITTER delays the start by the random share of its seconds', async () => {
    h = await createHarness();
    const config = h.config({ SYNC_ON_START: 'true', SYNC_JITTER: '2' });
    const startAfter = async (random: number) => {
      const { logger, lines } = capturedLogger();
      const run = new AbortController();
      let calledAfter = Number.NaN;
      const began = Date.now();
      const sync: Sync = async () => {
        calledAfter = Date.now() - began;
        run.abort();
        return emptyResult();
      };
      await runWorker(config, {
        logger,
        sync,
        random: () => random,
        signal: run.signal,
        handleSignals: false,
      });
      await settle();
      return { calledAfter, lines };
    };
    const late = await startAfter(0.5);
    expect(late.calledAfter).to.be.within(950, 1800);
    expect(late.lines.some((l) => l.message === 'sync (start) starts in 1.0 s (SYNC_JITTER)')).to.be.true;
    const early = await startAfter(0);
    expect(early.calledAfter).to.be.below(500);
  });

  it('SIGTERM in the middle of a download: exits 0 within seconds, the served tree untouched', async () => {
    const harness = await createHarness();
    h = harness;
    expect((await harness.sync()).exitCode).to.equal(0);
    const release = path.join(harness.mirrorDir, harness.tree.releaseDir);
    const generation = await fs.readlink(release);
    const before = harness.tree;
    const servedBefore = await expectServedFrom(harness.mirrorDir, before);

    const oldClosure = labClosure(before);
    harness.moveTo(1);
    const stalled = [...labClosure(harness.tree)].find((p) => !oldClosure.has(p)) as string;
    harness.upstream.fault({ match: stalled, kind: 'stall', afterBytes: 512 });
    harness.upstream.resetLog();
    const worker = spawnCli(['worker'], {
      ...harness.env,
      SYNC_ON_START: 'true',
      SYNC_SCHEDULE: '0 3 * * *',
      DOWNLOAD_TIMEOUT: '60',
    });
    await waitFor('the stalled download to be in flight', () =>
      harness.upstream.requests.some((r) => r.path === stalled && r.bytes > 0),
    );
    const killedAt = Date.now();
    worker.child.kill('SIGTERM');
    const { code, at } = await worker.exited;
    expect(code, worker.stdout() + worker.stderr()).to.equal(0);
    expect(at - killedAt).to.be.below(5000);
    expect(worker.stdout()).to.match(/sync stopped; the tree served before stays served/);

    expect(await fs.readlink(release)).to.equal(generation);
    expect(await expectServedFrom(harness.mirrorDir, before)).to.equal(servedBefore);
    expect(await fs.stat(path.join(harness.mirrorDir, stalled)).catch(() => undefined)).to.equal(undefined);

    // The next run cleans up whatever the stopped one left in tmp/ and completes.
    harness.upstream.clearFaults();
    expect((await harness.sync()).exitCode).to.equal(0);
    expect(await fs.readdir(path.join(harness.mirrorDir, '.mirror/tmp'))).to.deep.equal([]);
    // Replaced files stay for the grace period, so the tree is the new one plus some of the old.
    await expectServedFrom(harness.mirrorDir, harness.tree, before);
    expect(await fs.stat(path.join(harness.mirrorDir, stalled))).to.exist;
  });

  it('kill -9 in the middle, then a restart: resumes without fetching again what was already verified', async () => {
    const harness = await createHarness();
    h = harness;
    const paths = new Map<string, string>();
    for (const feed of harness.tree.feeds)
      for (const pkg of feed.packages) paths.set(`${feed.dir}/${pkg.filename}`, pkg.sha256);
    let passed = 0;
    harness.upstream.fault({
      match: (p) => p.endsWith('.ipk') && ++passed > 40,
      kind: 'stall',
      afterBytes: 512,
    });
    const env = { ...harness.env, SYNC_ON_START: 'true', SYNC_SCHEDULE: '0 3 * * *', DOWNLOAD_TIMEOUT: '60' };
    const first = spawnCli(['worker'], env);
    const stalledInFlight = () =>
      harness.upstream.requests.filter((r) => r.fault === 'stall' && r.bytes > 0).length >= 4;
    await waitFor('every connection to hang in a stalled download', stalledInFlight);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).to.equal('SIGKILL');

    const dir = harness.mirrorDir;
    expect(await fs.lstat(path.join(dir, harness.tree.releaseDir)).catch(() => undefined)).to.equal(
      undefined,
    );
    expect((await fs.readdir(path.join(dir, '.mirror/tmp'))).length, 'partial downloads left').to.be.at.least(
      1,
    );
    const pool = new Set(await fs.readdir(path.join(dir, '.mirror/pool')));
    const admitted = [...paths].filter(([, sha]) => pool.has(sha)).map(([p]) => p);
    expect(admitted.length).to.be.at.least(20);
    // The killed worker's lock is still fresh, but its process is gone: the restart takes it over at once.
    expect(await fs.stat(path.join(dir, '.mirror/lock')).catch(() => undefined)).to.exist;

    harness.upstream.clearFaults();
    harness.upstream.resetLog();
    const second = spawnCli(['worker'], env);
    await waitFor('the restarted worker to finish its sync', async () => {
      const status = await readStatus(dir);
      return status?.lastRun?.result !== undefined;
    });
    second.child.kill('SIGTERM');
    const { code } = await second.exited;
    expect(code, second.stdout() + second.stderr()).to.equal(0);
    expect((await readStatus(dir))?.lastRun?.result, second.stdout()).to.equal('success');
    expect(second.stdout()).to.match(/cleaned up after an interrupted run: [1-9]\d* temporary files/);

    const fetchedAgain = harness.upstream.requests
      .filter((r) => admitted.includes(r.path))
      .map((r) => r.path);
    expect(fetchedAgain).to.deep.equal([]);
    expect(await fs.readdir(path.join(dir, '.mirror/tmp'))).to.deep.equal([]);
    const served = await expectServedFrom(dir, harness.tree);
    for (const p of labClosure(harness.tree)) expect(await fs.stat(path.join(dir, p)), p).to.exist;
    expect(served).to.be.greaterThan(labClosure(harness.tree).size);
  });
});
