import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { sha256 } from './helpers/files.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

/** Package name → {filename, sha256} of a Packages text: the reader's own minimal parse. */
function indexEntries(text: string): Map<string, { filename: string; sha256: string }> {
  const entries = new Map<string, { filename: string; sha256: string }>();
  for (const stanza of text.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(stanza)?.[1];
    const name = field('Package');
    const filename = field('Filename');
    const sum = field('SHA256sum');
    if (name && filename && sum) entries.set(name, { filename, sha256: sum });
  }
  return entries;
}

describe('consistency while a sync runs', function () {
  this.timeout(120_000);
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('a reader polling indexes and files during a sync to new versions never sees an index pointing at a missing or different file', async () => {
    // Slow enough that the reader gets many looks before, during and after the switch.
    h = await createHarness({ upstream: { latencyMs: 15 }, env: { RATE_LIMIT: '100', CONCURRENCY: '2' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const wanted = new Set([...labClosure(h.tree)].map((p) => path.posix.basename(p)));
    h.moveTo(1);

    let done = false;
    let looks = 0;
    const seenIndexes = new Set<string>();
    const problems: string[] = [];
    const reader = (async () => {
      while (!done) {
        for (const feed of h.tree.feeds) {
          const packages = await fs
            .readFile(path.join(h.mirrorDir, feed.dir, 'Packages'), 'utf8')
            .catch(() => undefined);
          if (packages === undefined) {
            problems.push(`${feed.dir}/Packages missing`);
            continue;
          }
          seenIndexes.add(`${feed.dir}:${sha256(Buffer.from(packages))}`);
          for (const entry of indexEntries(packages).values()) {
            if (!wanted.has(entry.filename)) continue;
            const file = await fs
              .readFile(path.join(h.mirrorDir, feed.dir, entry.filename))
              .catch(() => undefined);
            looks++;
            if (file === undefined) problems.push(`${feed.dir}/${entry.filename} missing`);
            else if (sha256(file) !== entry.sha256)
              problems.push(`${feed.dir}/${entry.filename} differs from its index`);
          }
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const { exitCode } = await h.sync();
    done = true;
    await reader;

    expect(exitCode).to.equal(0);
    expect(problems).to.deep.equal([]);
    expect(looks).to.be.greaterThan(100);
    // The reader saw both the old and the new index of the feeds that changed.
    const perFeed = new Map<string, number>();
    for (const seen of seenIndexes) {
      const dir = seen.split(':')[0] as string;
      perFeed.set(dir, (perFeed.get(dir) ?? 0) + 1);
    }
    expect([...perFeed.values()].some((count) => count >= 2)).to.be.true;
  });

  it('a sync stopped while the indexes come in ends cleanly, with nothing unhandled left behind', async () => {
    h = await createHarness({ upstream: { latencyMs: 30 }, env: { RATE_LIMIT: '100', CONCURRENCY: '2' } });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const controller = new AbortController();
      const stopWhen = setInterval(() => {
        if (h.upstream.requests.some((r) => r.path.endsWith('Packages.sig'))) controller.abort();
      }, 2);
      const stopped = await h.sync({}, { signal: controller.signal }).then(
        () => undefined,
        (error: unknown) => error,
      );
      clearInterval(stopWhen);
      expect((stopped as Error)?.name).to.equal('AbortedError');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).to.deep.equal([]);
      expect(await fs.readdir(path.join(h.mirrorDir, '.mirror/tmp'))).to.deep.equal([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a sync stopped half-way leaves the previous tree served, and the next run completes without fetching twice', async () => {
    h = await createHarness({ upstream: { latencyMs: 20 }, env: { RATE_LIMIT: '100', CONCURRENCY: '2' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const link = path.join(h.mirrorDir, h.tree.releaseDir);
    const before = await fs.readlink(link);
    const oldClosure = labClosure(h.tree);
    h.moveTo(1);
    const added = [...labClosure(h.tree)].filter((p) => !oldClosure.has(p));
    h.upstream.resetLog();

    const controller = new AbortController();
    const stopWhen = setInterval(() => {
      const fetched = h.upstream.requests.filter((r) => r.path.endsWith('.ipk') && r.status === 200).length;
      if (fetched >= 3) controller.abort();
    }, 5);
    let stopped: unknown;
    try {
      await h.sync({}, { signal: controller.signal });
    } catch (error) {
      stopped = error;
    } finally {
      clearInterval(stopWhen);
    }
    expect((stopped as Error)?.name).to.equal('AbortedError');
    expect(await fs.readlink(link)).to.equal(before);
    for (const p of oldClosure)
      expect(await fs.stat(path.join(h.mirrorDir, p)).catch(() => undefined), p).to.exist;

    // What the stopped run verified and admitted to the pool before it stopped.
    const pool = new Set(await fs.readdir(path.join(h.mirrorDir, '.mirror/pool')));
    const admitted = added.filter((p) => pool.has(sha256(h.tree.files.get(p) as Buffer)));
    expect(admitted.length).to.be.greaterThan(0);
    h.upstream.resetLog();
    const { exitCode } = await h.sync();
    expect(exitCode).to.equal(0);
    const secondRun = h.upstream.requests
      .filter((r) => r.path.endsWith('.ipk') && r.status === 200)
      .map((r) => r.path);
    for (const p of added)
      expect(await fs.stat(path.join(h.mirrorDir, p)).catch(() => undefined), p).to.exist;
    // Whatever the stopped run verified stays in the pool: it is not fetched again.
    expect(secondRun.filter((p) => admitted.includes(p))).to.deep.equal([]);
    expect(await fs.readdir(path.join(h.mirrorDir, '.mirror/tmp'))).to.deep.equal([]);
  });
});
