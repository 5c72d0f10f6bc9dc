import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { renderMetrics } from '../worker/status/metrics.js';
import { readStatus } from '../worker/status/status-file.js';
import { bytesOf, createHarness, distinctContents, type Harness, sameBytes } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict little reader of the Prometheus text format 0.0.4: every line is a comment, a HELP, a
 * TYPE or `name{labels} value`; every sample's metric has a HELP and a TYPE before it.
 */
function parsePrometheus(text: string): Sample[] {
  expect(text.endsWith('\n'), 'ends with a line feed').to.be.true;
  const help = new Set<string>();
  const type = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (kind === 'HELP') help.add(name);
      else {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped'], line).to.include(rest);
        expect(type.has(name), `one TYPE line for ${name}`).to.be.false;
        type.set(name, rest);
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(sample, `a sample line: ${JSON.stringify(line)}`).to.not.equal(null);
    const [, name, labelText, valueText] = sample as unknown as [string, string, string | undefined, string];
    expect(help.has(name), `HELP before ${name}`).to.be.true;
    expect(type.has(name), `TYPE before ${name}`).to.be.true;
    expect(valueText, line).to.match(/^([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|NaN|[+-]Inf)$/);
    samples.push({ name, labels: parseLabels(labelText ?? '', line), value: Number(valueText) });
  }
  return samples;
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  while (pair.lastIndex < text.length) {
    const match = pair.exec(text);
    expect(match, `labels of ${line}`).to.not.equal(null);
    const [, name, raw] = match as unknown as [string, string, string];
    labels[name] = raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter(
    (s) =>
      s.name === `openwrt_mirror_${name}` &&
      Object.entries(labels).every(([key, wanted]) => s.labels[key] === wanted),
  );
  expect(found.length, `at most one ${name}${JSON.stringify(labels)}`).to.be.at.most(1);
  return found[0]?.value;
}

const isPackage = (p: string) => p.endsWith('.ipk');

describe('metrics', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  const readMetrics = async () =>
    parsePrometheus(await fs.readFile(path.join(h.mirrorDir, 'metrics'), 'utf8'));

  it('after a sync MIRROR_DIR/metrics holds what the upstream saw: files by outcome, result, feeds, times', async () => {
    h = await createHarness();
    const before = Date.now();
    expect((await h.sync()).exitCode).to.equal(0);
    const samples = await readMetrics();

    const images = new Set(
      h.tree.images.filter((image) => image.device === 'dlink_dir-1960-a1').map((image) => image.path),
    );
    const answered = h.upstream.requests.filter((r) => r.method === 'GET' && r.status === 200);
    const packagesAnswered = answered.filter((r) => isPackage(r.path)).length;
    expect(packagesAnswered).to.be.greaterThan(20);
    expect(value(samples, 'last_run_files', { outcome: 'downloaded' })).to.equal(
      packagesAnswered + answered.filter((r) => images.has(r.path)).length,
    );
    // A kernel module listed by both core and kmods is fetched once; its second path counts as skipped.
    const closure = labClosure(h.tree);
    expect(packagesAnswered).to.equal(distinctContents(h.tree, closure));
    expect(value(samples, 'last_run_files', { outcome: 'skipped' })).to.equal(
      closure.size - packagesAnswered,
    );
    expect(value(samples, 'last_run_files', { outcome: 'failed' })).to.equal(0);
    expect(value(samples, 'last_run_planned_files')).to.equal(closure.size + images.size);
    expect(value(samples, 'images')).to.equal(images.size);
    const bytes = answered
      .filter((r) => isPackage(r.path) || images.has(r.path))
      .reduce((sum, r) => sum + r.bytes, 0);
    expect(value(samples, 'last_run_downloaded_bytes')).to.equal(bytes);

    expect(value(samples, 'last_run_result', { result: 'success' })).to.equal(1);
    expect(value(samples, 'last_run_result', { result: 'partial' })).to.equal(0);
    expect(value(samples, 'last_run_result', { result: 'failed' })).to.equal(0);
    const lastSuccess = (value(samples, 'last_success_timestamp_seconds') ?? 0) * 1000;
    expect(lastSuccess).to.be.within(before, Date.now());
    const start = (value(samples, 'last_run_start_timestamp_seconds') ?? 0) * 1000;
    const end = (value(samples, 'last_run_end_timestamp_seconds') ?? 0) * 1000;
    expect(start).to.be.within(before, end);
    expect(value(samples, 'last_run_duration_seconds')).to.be.closeTo((end - start) / 1000, 0.01);

    expect(value(samples, 'last_run_upstream_requests')).to.equal(h.upstream.requests.length);
    expect(value(samples, 'last_run_upstream_retries')).to.equal(0);
    for (const kind of ['http', 'network', 'timeout', 'short-body', 'integrity', 'aborted'])
      expect(value(samples, 'last_run_upstream_errors', { kind }), kind).to.equal(0);

    expect(value(samples, 'feeds')).to.equal(h.tree.feeds.length);
    for (const feed of h.tree.feeds) {
      const served = [...closure].filter((p) => path.posix.dirname(p) === feed.dir).length;
      expect(value(samples, 'feed_packages', { feed: feed.distName }), feed.distName).to.equal(served);
    }
    expect(value(samples, 'served_packages')).to.equal(closure.size);
    const status = await readStatus(h.mirrorDir);
    expect(value(samples, 'served_bytes')).to.equal(status?.served.bytes);
    expect(value(samples, 'next_run_timestamp_seconds')).to.equal(undefined);
    expect(
      value(samples, 'info', { release: '24.10.4', target: 'ramips/mt7621', arch: 'mipsel_24kc' }),
    ).to.equal(1);

    // A re-run downloads nothing; the worker's next run appears.
    const nextRunAt = new Date(Date.now() + 3_600_000);
    expect((await h.sync({}, { nextRunAt })).exitCode).to.equal(0);
    const again = await readMetrics();
    expect(value(again, 'last_run_files', { outcome: 'downloaded' })).to.equal(0);
    expect(value(again, 'last_run_files', { outcome: 'skipped' })).to.equal(closure.size + images.size);
    expect(value(again, 'last_run_downloaded_bytes')).to.equal(0);
    expect(value(again, 'next_run_timestamp_seconds')).to.equal(nextRunAt.getTime() / 1000);
  });

  it('after a sync with a permanently missing package: result partial, the failure and the HTTP error counted', async () => {
    h = await createHarness();
    const missing = [...labClosure(h.tree)][3] as string;
    const isMissing = bytesOf(h.tree, missing);
    h.upstream.fault({ match: isMissing, kind: '404' });
    const { exitCode } = await h.sync();
    expect(exitCode).to.equal(1);
    const samples = await readMetrics();
    expect(value(samples, 'last_run_result', { result: 'success' })).to.equal(0);
    expect(
      (value(samples, 'last_run_result', { result: 'partial' }) ?? 0) +
        (value(samples, 'last_run_result', { result: 'failed' }) ?? 0),
    ).to.equal(1);
    expect(value(samples, 'last_run_files', { outcome: 'failed' })).to.equal(
      sameBytes(h.tree, labClosure(h.tree), missing).length,
    );
    expect(value(samples, 'last_run_failures')).to.be.at.least(1);
    const http404 = h.upstream.requests.filter((r) => isMissing(r.path) && r.status === 404).length;
    expect(http404).to.be.at.least(1);
    expect(value(samples, 'last_run_upstream_errors', { kind: 'http' })).to.equal(http404);
    expect(value(samples, 'last_success_timestamp_seconds')).to.equal(0);
  });

  it('a sync that fails before publishing anything still writes the metrics: result failed', async () => {
    h = await createHarness();
    h.upstream.fault({ match: /profiles\.json$/, kind: '404' });
    const { exitCode } = await h.sync();
    expect(exitCode).to.equal(1);
    const samples = await readMetrics();
    expect(value(samples, 'last_run_result', { result: 'failed' })).to.equal(1);
    expect(value(samples, 'last_run_upstream_errors', { kind: 'http' })).to.be.at.least(1);
    expect(value(samples, 'served_files')).to.equal(0);
  });

  it('escapes label values: backslash, double quote, line feed', async () => {
    h = await createHarness();
    expect((await h.sync({ OPENWRT_DEVICES: '' })).exitCode).to.equal(0);
    const status = await readStatus(h.mirrorDir);
    if (!status) expect.fail('status.json after a sync');
    const odd = 'http://mirror.lab/a\\b"c\nd';
    const samples = parsePrometheus(
      renderMetrics({ ...status, mirror: { ...status.mirror, upstream: odd } }),
    );
    expect(samples.find((s) => s.name === 'openwrt_mirror_info')?.labels.upstream).to.equal(odd);
  });
});
