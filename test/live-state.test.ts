/**
 * The state a lab admin watches while things happen: a running sync's progress in status.json and
 * /metrics, the worker's heartbeat, a configuration the worker refused, and status.json's writers
 * never losing each other's fields.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { renderStatus, workerLine } from '../worker/commands/status.js';
import { MirrorDir } from '../worker/publish/mirror-dir.js';
import { runWorker } from '../worker/schedule/worker.js';
import {
  emptyStatus,
  type RunningStatus,
  readStatus,
  type StatusFile,
} from '../worker/status/status-file.js';
import { updateStatus } from '../worker/status/status-store.js';
import { capturingLogger } from './helpers/log-capture.js';
import { REPO_ROOT, runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('live state', function () {
  this.timeout(90_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('a running sync writes its progress into status.json and /metrics, and removes it when it ends', async () => {
    // Slow enough to be watched: about 150 kB/s per connection, two connections.
    h = await createHarness({
      upstream: { latencyMs: 20, bytesPerSecond: 150_000 },
      env: { CONCURRENCY: '2', OPENWRT_DEVICES: '' },
    });
    const seen: RunningStatus[] = [];
    const metricsSeen: string[] = [];
    let done = false;
    const watcher = (async () => {
      while (!done) {
        const status = await readStatus(h.mirrorDir);
        if (status?.running && seen.at(-1)?.updatedAt !== status.running.updatedAt) {
          seen.push(status.running);
          metricsSeen.push(await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8'));
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const { logger, lines } = capturingLogger();
    const { exitCode } = await h.sync({}, { progressIntervalMs: 250, logger });
    done = true;
    await watcher;
    expect(exitCode).to.equal(0);

    expect(seen.length, 'progress written while it ran').to.be.at.least(4);
    const downloading = seen.filter((r) => r.phase === 'downloading' && r.filesTotal > 0);
    expect(downloading.length).to.be.at.least(3);
    const first = downloading[0] as RunningStatus;
    const last = downloading.at(-1) as RunningStatus;
    expect(last.filesDone).to.be.greaterThan(first.filesDone);
    expect(last.bytesDone).to.be.greaterThan(first.bytesDone);
    expect(last.filesTotal).to.be.greaterThan(100);
    expect(last.bytesTotal).to.be.greaterThan(1_000_000);
    expect(downloading.some((r) => r.bytesPerSecond > 0 && (r.etaSeconds ?? 0) > 0)).to.be.true;
    for (const r of seen) {
      if (r.phase !== 'indexes') expect(r.release).to.equal('24.10.4');
      expect(r.by).to.equal('sync');
      expect(r.filesDone).to.be.at.most(r.filesTotal);
    }
    expect(seen.map((r) => r.phase)).to.include.members(['indexes', 'downloading']);
    expect(metricsSeen.some((m) => /^openwrt_mirror_sync_running 1$/m.test(m))).to.be.true;
    expect(metricsSeen.some((m) => /^openwrt_mirror_sync_progress_files\{state="total"\} \d+$/m.test(m))).to
      .be.true;

    // The log's progress lines carry the total and the time left too.
    const progressLines = lines().filter((l) => l.message.startsWith('progress '));
    expect(progressLines.length).to.be.at.least(1);
    expect(progressLines[0]?.message).to.match(
      /^progress \d+\/\d+ files, [\d.]+ (B|KiB|MiB) of [\d.]+ MiB, [\d.]+ (B|KiB|MiB)\/s, about [\d.]+ s left, 0 failed$/,
    );
    expect(progressLines[0]?.etaSeconds).to.be.a('number');

    const after = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(after.running).to.equal(undefined);
    expect(after.lastRun?.result).to.equal('success');
    expect(await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8')).to.match(
      /^openwrt_mirror_sync_running 0$/m,
    );
  });

  it('a failed run removes its progress too', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    h.upstream.files.clear();
    const { exitCode } = await h.sync({}, { progressIntervalMs: 50 });
    expect(exitCode).to.equal(1);
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.running).to.equal(undefined);
    expect(status.lastRun?.result).to.equal('failed');
  });

  it('the worker beats in status.json and /metrics, through its sync and until it stops', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    const stop = new AbortController();
    const running: Promise<number> = runWorker(h.config({ SYNC_ON_START: 'true' }), {
      logger: capturingLogger().logger,
      signal: stop.signal,
      handleSignals: false,
      heartbeatSeconds: 0.2,
    });
    const beats = new Set<string>();
    const deadline = Date.now() + 20_000;
    while (beats.size < 4 && Date.now() < deadline) {
      const beat = (await readStatus(h.mirrorDir))?.worker?.heartbeatAt;
      if (beat) beats.add(beat);
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(beats.size, 'heartbeats seen').to.be.at.least(4);
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.worker?.heartbeatSeconds).to.equal(0.2);
    expect(await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8')).to.match(
      /^openwrt_mirror_worker_heartbeat_timestamp_seconds \d+(\.\d+)?$/m,
    );
    // It keeps beating through its sync, whose record keeps the worker's fields.
    const deadlineRun = Date.now() + 30_000;
    while (!(await readStatus(h.mirrorDir))?.lastRun && Date.now() < deadlineRun)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const ran = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(ran.lastRun?.result).to.equal('success');
    expect(ran.worker?.heartbeatAt).to.be.a('string');
    stop.abort();
    expect(await running).to.equal(0);
    // Stopped: no more beats, and `status` says so once the last one is old.
    const last = (await readStatus(h.mirrorDir)) as StatusFile;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await readStatus(h.mirrorDir))?.worker?.heartbeatAt).to.equal(last.worker?.heartbeatAt);
    const beatAt = Date.parse(last.worker?.heartbeatAt as string);
    expect(workerLine(last, new Date(beatAt + 300))).to.match(/^running \(heartbeat /);
    expect(workerLine(last, new Date(beatAt + 10_000))).to.match(
      /^not running: its last heartbeat is 10\.0 s old/,
    );
    expect(renderStatus(h.config(), last)).to.match(/^worker +not running/m);
  });

  it('a configuration the worker refuses is in status.json and /metrics until one is accepted', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const refused = await runCli(['worker'], { ...h.env, RATE_LIMIT: 'fast' });
    expect(refused.code).to.equal(2);
    expect(refused.stderr.trim()).to.equal(
      'openwrt-mirror: configuration error: RATE_LIMIT="fast" is not valid: expected a number >= 0.001 and <= 1000',
    );
    const status = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(status.worker?.configError).to.equal(
      'RATE_LIMIT="fast" is not valid: expected a number >= 0.001 and <= 1000',
    );
    expect(status.lastRun?.result, 'the last run is still described').to.equal('success');
    expect(await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8')).to.match(
      /^openwrt_mirror_worker_config_error 1$/m,
    );
    expect(renderStatus(h.config(), status)).to.match(/^config error +RATE_LIMIT="fast"/m);

    // A one-off sync with a bad value is not the worker's: nothing recorded as the worker's.
    const oneOff = await runCli(['sync'], { ...h.env, CONCURRENCY: '0' });
    expect(oneOff.code).to.equal(2);
    expect((await readStatus(h.mirrorDir))?.worker?.configError).to.contain('RATE_LIMIT');

    // Accepted: the worker clears it at start.
    const stop = new AbortController();
    const worker = runWorker(h.config({ SYNC_ON_START: 'false' }), {
      logger: capturingLogger().logger,
      signal: stop.signal,
      handleSignals: false,
    });
    const deadline = Date.now() + 10_000;
    while ((await readStatus(h.mirrorDir))?.worker?.configError && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    stop.abort();
    await worker;
    const cleared = (await readStatus(h.mirrorDir)) as StatusFile;
    expect(cleared.worker?.configError).to.equal(undefined);
    expect(cleared.worker?.heartbeatAt).to.be.a('string');
    expect(await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8')).to.match(
      /^openwrt_mirror_worker_config_error 0$/m,
    );
  });

  it("several processes writing status.json at once lose none of each other's fields", async () => {
    h = await createHarness();
    const dir = new MirrorDir(h.mirrorDir);
    await dir.prepareRoot();
    // Three processes and this one, each adding its own keys to the worker object, 40 times.
    const script = `
      import { MirrorDir } from './worker/publish/mirror-dir.ts';
      import { updateStatus } from './worker/status/status-store.ts';
      import { emptyStatus } from './worker/status/status-file.ts';
      const dir = new MirrorDir(process.argv[1]);
      for (let i = 0; i < 40; i++) {
        await updateStatus(dir, (s) => {
          const base = s ?? emptyStatus('x');
          return { ...base, worker: { ...base.worker, ['k' + process.argv[2] + '_' + i]: i } };
        });
      }`;
    const child = (name: string) =>
      new Promise<number | null>((resolve) => {
        const proc = spawn(
          process.execPath,
          ['--import', 'tsx', '--input-type=module', '-e', script, h.mirrorDir, name],
          {
            cwd: REPO_ROOT,
            stdio: 'inherit',
          },
        );
        proc.once('exit', resolve);
      });
    await updateStatus(dir, () => emptyStatus('x'));
    const local = (async () => {
      for (let i = 0; i < 40; i++) {
        await updateStatus(dir, (s) => {
          const base = s ?? emptyStatus('x');
          return { ...base, worker: { ...base.worker, [`kz_${i}`]: i } as StatusFile['worker'] };
        });
      }
    })();
    const codes = await Promise.all([child('a'), child('b'), child('c'), local]);
    expect(codes.slice(0, 3)).to.deep.equal([0, 0, 0]);
    const worker = (await readStatus(h.mirrorDir))?.worker as Record<string, number>;
    for (const name of ['a', 'b', 'c', 'z']) {
      for (let i = 0; i < 40; i++) expect(worker[`k${name}_${i}`], `k${name}_${i}`).to.equal(i);
    }
    expect(await fs.readdir(path.join(h.mirrorDir, '.mirror'))).to.not.include('status.lock');
  });
});
