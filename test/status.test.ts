import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { renderStatus, statusCommand } from '../worker/commands/status.js';
import { emptyStatus, readStatus, type StatusFile } from '../worker/status/status-file.js';
import { formatBytes } from '../worker/status/units.js';
import { bytesOf, createHarness, type Harness, sameBytes } from './helpers/sync-harness.js';
import { LAB_REQUIRED, labClosure } from './helpers/tree/index.js';

/** Runs `openwrt-mirror status [--json]` in process; returns what it printed and its exit code. */
async function status(h: Harness, json = false): Promise<{ code: number; out: string }> {
  let out = '';
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const code = await statusCommand(h.config(), { json, stdout });
  return { code, out };
}

/** The value printed after a label such as `total size`. */
function row(out: string, label: string): string | undefined {
  const line = out.split('\n').find((l) => l.startsWith(`${label} `));
  return line?.slice(label.length).trim();
}

describe('status', function () {
  this.timeout(60_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('before any sync says nothing is mirrored yet; --json prints null', async () => {
    h = await createHarness();
    const people = await status(h);
    expect(people.code).to.equal(0);
    expect(row(people.out, 'location')).to.equal(h.mirrorDir);
    expect(people.out).to.match(/nothing mirrored yet/);
    const machine = await status(h, true);
    expect(machine.code).to.equal(0);
    expect(JSON.parse(machine.out)).to.equal(null);
  });

  it('after a sync shows location, total size, counts per feed, the last sync and the next run', async () => {
    h = await createHarness();
    const nextRunAt = new Date(Date.now() + 3_600_000);
    expect((await h.sync({}, { nextRunAt })).exitCode).to.equal(0);
    const { code, out } = await status(h);
    expect(code).to.equal(0);

    const closure = labClosure(h.tree);
    const images = h.tree.images.filter((image) => image.device === 'dlink_dir-1960-a1');
    let bytes = 0;
    for (const [upstreamPath, data] of h.tree.files) {
      // What the releases serve: /.versions.json is the upstream's, beside them.
      if (!upstreamPath.startsWith('releases/')) continue;
      const served = await fs.stat(path.join(h.mirrorDir, upstreamPath)).catch(() => undefined);
      if (served) bytes += data.length;
    }
    expect(row(out, 'location')).to.equal(h.mirrorDir);
    expect(row(out, 'total size')).to.match(new RegExp(`^${formatBytes(bytes)} in \\d+ files$`));
    expect(row(out, 'packages cached')).to.equal(`${closure.size} in 7 feeds`);
    expect(row(out, 'images cached')).to.equal(String(images.length));
    for (const feed of h.tree.feeds) {
      const packages = [...closure].filter((p) => path.posix.dirname(p) === feed.dir).length;
      expect(out, feed.distName).to.match(new RegExp(`^  ${feed.distName} +${packages} packages `, 'm'));
    }
    for (const image of images) expect(out).to.contain(image.path);
    expect(row(out, 'result')).to.equal('success');
    expect(row(out, 'last sync')).to.match(/^\d{4}-\d\d-\d\dT[\d:.]+Z → \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(row(out, 'duration')).to.match(/^\d+\.\d s$/);
    expect(row(out, 'files')).to.match(new RegExp(`^${closure.size + images.length} planned: `));
    expect(row(out, 'next run')).to.equal(nextRunAt.toISOString());
  });

  it('lists each failure with its reason', async () => {
    h = await createHarness();
    const missing = [...labClosure(h.tree)][5] as string;
    h.upstream.fault({ match: bytesOf(h.tree, missing), kind: '404' });
    expect(
      (await h.sync({ REQUIRED_PACKAGES: [...LAB_REQUIRED, 'no-such-package'].join(',') })).exitCode,
    ).to.equal(1);
    const { out } = await status(h);
    expect(row(out, 'result')).to.equal('partial');
    // The missing file (twice if core and kmods both list it) and the missing package.
    expect(row(out, 'failures')).to.equal(String(sameBytes(h.tree, labClosure(h.tree), missing).length + 1));
    expect(out).to.match(
      new RegExp(`^  .*${path.posix.basename(missing).replace(/[.+]/g, '\\$&')}.*: .*404`, 'm'),
    );
    expect(out).to.match(/^ {2}.*no-such-package.*: /m);
    expect(row(out, 'next run')).to.match(/none scheduled/);
  });

  it('says sizes in the units the page uses, and counts with their plural', async () => {
    h = await createHarness();
    expect(
      (await h.sync({ REQUIRED_PACKAGES: 'ip-full', OPTIONAL_PACKAGES: '', OPENWRT_FEEDS: 'base' })).exitCode,
    ).to.equal(0);
    const { out } = await status(h);
    expect(out).to.not.match(/\b1 (packages|feeds|files|requests)\b/);
    expect(out).to.not.match(/\d (KB|MB|GB)\b/);
    expect(row(out, 'total size')).to.match(/^\d+\.\d (KiB|MiB) in \d+ files$/);
    expect(formatBytes(3_800_000)).to.equal('3.6 MiB');
    // One feed, one package, one image: singular.
    const one = (await readStatus(h.mirrorDir)) as StatusFile;
    const single: StatusFile = {
      ...one,
      feeds: one.feeds.slice(0, 1).map((feed) => ({ ...feed, packages: 1 })),
      served: { ...one.served, files: 1 },
      lastRun: {
        ...(one.lastRun as NonNullable<StatusFile['lastRun']>),
        upstream: { requests: 1, retries: 1, errors: {} },
      },
    };
    const text = renderStatus(h.config(), single);
    expect(row(text, 'total size')).to.match(/ in 1 file$/);
    expect(row(text, 'packages cached')).to.match(/ in 1 feed$/);
    expect(text).to.match(/ 1 package +\d/);
    expect(text).to.match(/^upstream +1 request, 1 retry$/m);
  });

  it('describes each image with its device and type, which the page shows', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const { images } = (await readStatus(h.mirrorDir)) as StatusFile;
    const expected = h.tree.images.filter((image) => image.device === 'dlink_dir-1960-a1');
    expect(
      images.map(({ path: p, device, type }) => ({ p, device, type })).sort((a, b) => a.p.localeCompare(b.p)),
    ).to.deep.equal(
      expected
        .map((image) => ({ p: image.path, device: image.device, type: image.type }))
        .sort((a, b) => a.p.localeCompare(b.p)),
    );
    const app = await fs.readFile(new URL('../nginx/html/app.js', import.meta.url), 'utf8');
    expect(app).to.contain('image.device').and.contain('image.type');
  });

  it('--json prints exactly MIRROR_DIR/status.json', async () => {
    h = await createHarness();
    expect((await h.sync({}, { nextRunAt: new Date(Date.now() + 60_000) })).exitCode).to.equal(0);
    const { code, out } = await status(h, true);
    expect(code).to.equal(0);
    expect(out).to.equal(await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8'));
    expect(JSON.parse(out).schema).to.equal(1);
  });

  it('shows a running sync: phase, release, files, bytes, rate and time left; and when it has gone quiet', async () => {
    h = await createHarness();
    const now = new Date();
    const running = {
      phase: 'downloading' as const,
      startedAt: new Date(now.getTime() - 60_000).toISOString(),
      updatedAt: now.toISOString(),
      release: '25.12.0',
      sets: ['25.12.0 x86/64'],
      releaseIndex: 2,
      releases: 2,
      filesDone: 120,
      filesTotal: 340,
      bytesDone: 1_258_291,
      bytesTotal: 10_276_044,
      bytesPerSecond: 430_080,
      etaSeconds: 21,
      by: 'worker' as const,
      pid: 4242,
    };
    const text = renderStatus(h.config(), { ...emptyStatus('https://downloads.openwrt.org'), running });
    expect(row(text, 'sync running')).to.equal(
      `downloading, 25.12.0 (2 of 2): 120/340 files, 1.2 MiB of 9.8 MiB, 420.0 KiB/s, about 21.0 s left (worker pid 4242, since ${running.startedAt})`,
    );
    expect(row(text, 'last sync')).to.equal('none has finished yet');
    const quiet = renderStatus(h.config(), {
      ...emptyStatus('x'),
      running: { ...running, updatedAt: new Date(now.getTime() - 120_000).toISOString() },
    });
    expect(row(quiet, 'sync running')).to.match(
      /no word from it for 2 min 0 s: the sync may have been killed$/,
    );
  });
});
