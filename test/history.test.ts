/**
 * history.json: every recorded run, newest last, the last 30 kept — what the page's chart and its
 * list of runs are drawn from.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { HISTORY_RUNS, type HistoryRun, readHistory } from '../worker/status/history.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('history of runs', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('records each run with its result, figures and failures, newest last', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await h.sync({ OPENWRT_DEVICES: 'dlink_dir-1960-a2' })).exitCode).to.equal(1);
    h.upstream.files.clear();
    expect((await h.sync()).exitCode).to.equal(1);

    const { runs } = await readHistory(h.mirrorDir);
    expect(runs.map((run) => run.result)).to.deep.equal(['success', 'partial', 'failed']);
    const [first, partial, failed] = runs as [HistoryRun, HistoryRun, HistoryRun];
    expect(first.downloaded).to.be.greaterThan(100);
    expect(first.bytes).to.be.greaterThan(1_000_000);
    expect(first.requests).to.be.greaterThan(first.downloaded);
    expect(first.durationMs).to.be.a('number');
    expect(first.failures).to.deep.equal([]);
    expect(partial.downloaded).to.equal(0);
    expect(partial.failureCount).to.equal(1);
    expect(partial.failures[0]).to.contain('dlink_dir-1960-a2').and.contain('closest profile ids');
    expect(failed.failureCount).to.be.greaterThan(0);
    expect(Date.parse(failed.startedAt)).to.be.greaterThan(Date.parse(partial.startedAt));
  });

  it(`keeps the last ${HISTORY_RUNS} runs`, async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    const old: HistoryRun[] = Array.from({ length: HISTORY_RUNS }, (_, i) => ({
      startedAt: new Date(Date.UTC(2026, 0, i + 1)).toISOString(),
      result: 'success',
      planned: i,
      downloaded: 0,
      skipped: 0,
      failed: 0,
      bytes: 0,
      requests: 0,
      failures: [],
      failureCount: 0,
    }));
    await fs.mkdir(h.mirrorDir, { recursive: true });
    await fs.writeFile(path.join(h.mirrorDir, 'history.json'), JSON.stringify({ schema: 1, runs: old }));
    expect((await h.sync()).exitCode).to.equal(0);
    const { runs } = await readHistory(h.mirrorDir);
    expect(runs).to.have.length(HISTORY_RUNS);
    expect(runs[0]?.planned, 'the oldest went').to.equal(1);
    expect(runs.at(-1)?.result).to.equal('success');
    expect(runs.at(-1)?.planned).to.be.greaterThan(100);
  });
});
