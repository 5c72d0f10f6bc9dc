import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { AbortedError, IntegrityError, UntrustedInputError, UpstreamError } from '../../worker/errors.js';
import type { StreamCheck } from '../../worker/feeds/types.js';
import { backoffDelay, parseRetryAfter } from '../../worker/upstream/backoff.js';
import { Upstream } from '../../worker/upstream/client.js';
import type { UpstreamOptions } from '../../worker/upstream/types.js';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const pattern = (size: number, seed = 0) =>
  Buffer.from(Array.from({ length: size }, (_, i) => (i * 31 + seed) % 253));
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );

const FEED = 'releases/24.10.4/packages/mipsel_24kc/packages';
const PKG = `${FEED}/tcpdump-mini_4.99.5-r1_mipsel_24kc.ipk`;
const INDEX = `${FEED}/Packages.gz`;

describe('upstream client', function () {
  this.slow(2000);
  const pkg = pattern(300_000, 1);
  const index = pattern(5_000, 2);
  let upstream: FakeUpstream;
  let dir: string;
  let dest: string;

  const client = (opts: Partial<UpstreamOptions> = {}) =>
    new Upstream({
      baseUrl: upstream.url,
      rateLimit: 1000,
      concurrency: 4,
      maxRetries: 3,
      retryDelayMs: 20,
      timeoutMs: 2000,
      ...opts,
    });
  const expectPkg = { size: pkg.length, sha256: sha256(pkg) };

  beforeEach(async () => {
    upstream = await startFakeUpstream({
      files: new Map([
        [PKG, pkg],
        [INDEX, index],
      ]),
    });
    dir = await mkdtemp(join(tmpdir(), 'openwrt-mirror-upstream-'));
    dest = join(dir, 'download.tmp');
  });
  afterEach(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('download', () => {
    it('streams a package to disk byte-exact and reports its SHA-256', async () => {
      const upstreamClient = client();
      const result = await upstreamClient.download(PKG, dest, expectPkg);
      expect(result).to.deep.equal({ bytes: pkg.length, sha256: sha256(pkg) });
      expect((await readFile(dest)).equals(pkg)).to.equal(true);
      expect(upstream.requests.map((r) => [r.method, r.path])).to.deep.equal([['GET', PKG]]);
      expect(upstreamClient.stats).to.deep.include({ requests: 1, retries: 0, bytes: pkg.length });
    });

    it('replaces a leftover temporary file', async () => {
      await writeFile(dest, 'half of an earlier run');
      await client().download(PKG, dest, expectPkg);
      expect((await readFile(dest)).equals(pkg)).to.equal(true);
    });

    it('gets through 503 twice with two retries', async () => {
      upstream.fault({ match: PKG, kind: '503', times: 2 });
      const retries: { attempt: number; reason: string }[] = [];
      const upstreamClient = client({ onRetry: ({ attempt, reason }) => retries.push({ attempt, reason }) });
      await upstreamClient.download(PKG, dest, expectPkg);
      expect(upstream.requests.map((r) => r.status)).to.deep.equal([503, 503, 200]);
      expect(retries.map((r) => r.attempt)).to.deep.equal([1, 2]);
      expect(retries[0]?.reason).to.contain('503');
      expect(upstreamClient.stats).to.deep.include({ requests: 3, retries: 2 });
      expect(upstreamClient.stats.errors.http).to.equal(2);
    });

    it('waits as long as a 429 Retry-After asks', async () => {
      upstream.fault({ match: PKG, kind: '429', times: 1, retryAfter: 1 });
      await client().download(PKG, dest, expectPkg);
      const [refused, served] = upstream.requests;
      expect(refused?.status).to.equal(429);
      expect(served?.status).to.equal(200);
      expect((served?.start ?? 0) - (refused?.end ?? 0)).to.be.at.least(990);
    });

    for (const kind of ['reset', 'short', 'corrupt'] as const) {
      it(`retries a body broken by "${kind}" and ends with the right bytes`, async () => {
        upstream.fault({ match: PKG, kind, times: 1, afterBytes: 100_000 });
        const result = await client().download(PKG, dest, expectPkg);
        expect(result.sha256).to.equal(sha256(pkg));
        expect((await readFile(dest)).equals(pkg)).to.equal(true);
        expect(upstream.requests.map((r) => r.fault)).to.deep.equal([kind, undefined]);
      });
    }

    it('gives up on a stalled body after timeoutMs without a byte and retries', async () => {
      upstream.fault({ match: PKG, kind: 'stall', times: 1, afterBytes: 50_000 });
      const reasons: string[] = [];
      const upstreamClient = client({ timeoutMs: 300, onRetry: ({ reason }) => reasons.push(reason) });
      await upstreamClient.download(PKG, dest, expectPkg);
      expect(reasons).to.deep.equal(['no data for 0.3 s after 50000 bytes (DOWNLOAD_TIMEOUT)']);
      expect((await readFile(dest)).equals(pkg)).to.equal(true);
      const [stalled, served] = upstream.requests;
      expect(stalled?.fault).to.equal('stall');
      expect((served?.start ?? 0) - (stalled?.start ?? 0)).to.be.within(280, 1500);
      expect(upstreamClient.stats.errors.timeout).to.equal(1);
    });

    it('gives up on a server that sends no headers at all', async () => {
      await upstream.close();
      upstream = await startFakeUpstream({ files: new Map([[PKG, pkg]]), latencyMs: 2000 });
      const started = performance.now();
      const error = await failure(client({ timeoutMs: 200, maxRetries: 1 }).download(PKG, dest, expectPkg));
      expect(error).to.be.instanceOf(UpstreamError);
      expect((error as UpstreamError).details).to.include({ kind: 'timeout', attempt: 2 });
      expect((error as UpstreamError).message).to.contain('no response within 0.2 s (DOWNLOAD_TIMEOUT)');
      expect(upstream.requests).to.have.length(2);
      expect(performance.now() - started).to.be.below(1500);
    });

    it('fails a 404 at once, naming the URL and the status, with one request', async () => {
      const missing = `${FEED}/nonexistent_1.0_mipsel_24kc.ipk`;
      const error = await failure(client().download(missing, dest, expectPkg));
      expect(error).to.be.instanceOf(UpstreamError);
      const upstreamError = error as UpstreamError;
      expect(upstreamError.url).to.equal(`${upstream.url}/${missing}`);
      expect(upstreamError.details).to.include({ status: 404, attempt: 1, kind: 'http' });
      expect(upstreamError.message).to.contain(upstreamError.url).and.contain('404');
      expect(upstream.requests).to.have.length(1);
      expect(existsSync(dest)).to.equal(false);
    });

    it('stops after 1 + maxRetries requests when a 503 never clears, leaving no file', async () => {
      await writeFile(dest, 'leftover');
      upstream.fault({ match: PKG, kind: '503' });
      const error = await failure(client({ maxRetries: 3 }).download(PKG, dest, expectPkg));
      expect(error).to.be.instanceOf(UpstreamError);
      expect((error as UpstreamError).details).to.include({ status: 503, attempt: 4 });
      expect(upstream.requests).to.have.length(4);
      expect(existsSync(dest)).to.equal(false);
    });

    it('stops after 1 + maxRetries requests when the body always breaks', async () => {
      upstream.fault({ match: PKG, kind: 'reset', afterBytes: 1000 });
      const error = await failure(client({ maxRetries: 2 }).download(PKG, dest, expectPkg));
      expect(error).to.be.instanceOf(UpstreamError);
      expect((error as UpstreamError).details).to.include({ attempt: 3, kind: 'short-body' });
      expect(upstream.requests).to.have.length(3);
      expect(existsSync(dest)).to.equal(false);
    });

    it('spends one budget on faults before and inside the body', async () => {
      upstream.fault({ match: PKG, kind: '503', times: 2 });
      upstream.fault({ match: PKG, kind: 'short' });
      const error = await failure(client({ maxRetries: 3 }).download(PKG, dest, expectPkg));
      expect(error).to.be.instanceOf(UpstreamError);
      expect(upstream.requests.map((r) => r.fault)).to.deep.equal(['503', '503', 'short', 'short']);
    });

    it('never leaves a file whose SHA-256 does not match', async () => {
      const wrong = { size: pkg.length, sha256: sha256(Buffer.from('something else')) };
      const error = await failure(client({ maxRetries: 1 }).download(PKG, dest, wrong));
      expect(error).to.be.instanceOf(IntegrityError);
      expect(error as IntegrityError).to.include({ file: PKG, expected: wrong.sha256, actual: sha256(pkg) });
      expect(upstream.requests, 'retried: a CDN may serve a stale copy once').to.have.length(2);
      expect(existsSync(dest)).to.equal(false);
    });

    it('refuses a size that differs from the index without reading the body', async () => {
      const error = await failure(client({ maxRetries: 0 }).download(PKG, dest, { size: 1234 }));
      expect(error).to.be.instanceOf(IntegrityError);
      expect((error as IntegrityError).message).to.contain('1234 bytes');
      expect(existsSync(dest)).to.equal(false);
    });

    it('feeds the bytes to a pluggable check and fails when it does', async () => {
      let seen = 0;
      const counting = (): StreamCheck => ({
        update: (chunk) => {
          seen += chunk.length;
        },
        finish: () => {
          throw new IntegrityError(PKG, 'an apk identity', 'another');
        },
      });
      const error = await failure(
        client({ maxRetries: 0 }).download(PKG, dest, { ...expectPkg, check: counting }),
      );
      expect(error).to.be.instanceOf(IntegrityError);
      expect(seen).to.equal(pkg.length);
      expect(existsSync(dest)).to.equal(false);
    });

    it('refuses a body over maxBytes without retrying', async () => {
      const error = await failure(client().download(PKG, dest, { maxBytes: 1000 }));
      expect(error).to.be.instanceOf(UntrustedInputError);
      expect(upstream.requests).to.have.length(1);
      expect(existsSync(dest)).to.equal(false);
    });

    it('stops promptly with AbortedError when shut down in the middle of a stall, leaving no file', async () => {
      upstream.fault({ match: PKG, kind: 'stall', afterBytes: 50_000 });
      const shutdown = new AbortController();
      const download = failure(
        client({ signal: shutdown.signal, timeoutMs: 10_000 }).download(PKG, dest, expectPkg),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(upstream.requests[0]?.bytes).to.equal(50_000);
      const aborted = performance.now();
      shutdown.abort();
      const error = await download;
      expect(performance.now() - aborted).to.be.below(100);
      expect(error).to.be.instanceOf(AbortedError);
      expect(existsSync(dest)).to.equal(false);
      expect(upstream.requests).to.have.length(1);
    });

    it('stops promptly when shut down while waiting out a Retry-After', async () => {
      upstream.fault({ match: PKG, kind: '503', retryAfter: 30 });
      const shutdown = new AbortController();
      const download = failure(client({ signal: shutdown.signal }).download(PKG, dest, expectPkg));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const aborted = performance.now();
      shutdown.abort();
      expect(await download).to.be.instanceOf(AbortedError);
      expect(performance.now() - aborted).to.be.below(100);
      expect(upstream.requests).to.have.length(1);
    });

    it('follows a redirect, and each hop is a request of its own', async () => {
      const redirector = createServer((req, res) => {
        res.writeHead(302, { Location: `${upstream.url}${req.url}` }).end();
      });
      await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
      try {
        const port = (redirector.address() as AddressInfo).port;
        const upstreamClient = client({ baseUrl: `http://127.0.0.1:${port}` });
        await upstreamClient.download(PKG, dest, expectPkg);
        expect((await readFile(dest)).equals(pkg)).to.equal(true);
        expect(upstreamClient.stats.requests).to.equal(2);
      } finally {
        redirector.closeAllConnections();
        await new Promise((resolve) => redirector.close(resolve));
      }
    });

    it('takes a 304 to a request that was not conditional for the error it is, never for a file', async () => {
      const confused = createServer((_req, res) => {
        res.writeHead(304, { ETag: '"x"' }).end();
      });
      await new Promise<void>((resolve) => confused.listen(0, '127.0.0.1', resolve));
      try {
        const port = (confused.address() as AddressInfo).port;
        const upstreamClient = client({ baseUrl: `http://127.0.0.1:${port}` });
        const fetched = await failure(upstreamClient.fetch(INDEX));
        expect(fetched).to.be.instanceOf(UpstreamError);
        expect((fetched as Error).message).to.contain('HTTP 304');
        expect(await failure(upstreamClient.download(PKG, dest, {}))).to.be.instanceOf(UpstreamError);
        expect(await readFile(dest).catch(() => undefined)).to.equal(undefined);
      } finally {
        confused.closeAllConnections();
        await new Promise((resolve) => confused.close(resolve));
      }
    });

    it('refuses a path that climbs out of the base URL', async () => {
      const error = await failure(client().download(`${FEED}/../../../../etc/passwd`, dest, {}));
      expect(error).to.be.instanceOf(UntrustedInputError);
      expect(upstream.requests).to.have.length(0);
    });
  });

  describe('fetch', () => {
    it('returns a small file with its validators, then notModified for a conditional request', async () => {
      const upstreamClient = client();
      const first = await upstreamClient.fetch(INDEX);
      expect(first.notModified).to.equal(false);
      expect(first.body?.equals(index)).to.equal(true);
      expect(first.etag).to.be.a('string');
      expect(first.lastModified).to.be.a('string');

      const byTag = await upstreamClient.fetch(INDEX, { etag: first.etag });
      expect(byTag).to.deep.include({ notModified: true, etag: first.etag });
      expect(byTag.body).to.equal(undefined);
      const byDate = await upstreamClient.fetch(INDEX, { lastModified: first.lastModified });
      expect(byDate.notModified).to.equal(true);
      expect(upstream.requests.map((r) => [r.conditional, r.status])).to.deep.equal([
        [false, 200],
        [true, 304],
        [true, 304],
      ]);
    });

    it('gets the new file when the validators no longer match', async () => {
      const first = await client().fetch(INDEX);
      upstream.files.set(INDEX, pattern(10, 9));
      const second = await client().fetch(INDEX, { etag: first.etag });
      expect(second.notModified).to.equal(false);
      expect(second.body?.equals(pattern(10, 9))).to.equal(true);
    });

    it('refuses an index larger than maxBytes, without retrying', async () => {
      const error = await failure(client().fetch(INDEX, { maxBytes: 1000 }));
      expect(error).to.be.instanceOf(UntrustedInputError);
      expect((error as Error).message).to.contain('1000');
      expect(upstream.requests).to.have.length(1);
    });

    it('retries a reset in the middle of an index', async () => {
      upstream.fault({ match: INDEX, kind: 'reset', times: 1, afterBytes: 100 });
      const result = await client().fetch(INDEX);
      expect(result.body?.equals(index)).to.equal(true);
      expect(upstream.requests).to.have.length(2);
    });
  });

  describe('transfer rate floor', function () {
    this.timeout(20_000);
    const slow = pattern(64 * 1024, 3);
    const SLOW = `${FEED}/luci-i18n-base-de_25.0_all.ipk`;
    const expectSlow = { size: slow.length, sha256: sha256(slow) };
    beforeEach(() => upstream.files.set(SLOW, slow));

    it('abandons a body slower than minBytesPerSecond, retries it within the budget, and leaves no file', async () => {
      upstream.fault({ match: SLOW, kind: 'trickle', bytesPerSecond: 50 });
      const reasons: string[] = [];
      const upstreamClient = client({
        timeoutMs: 1000,
        minBytesPerSecond: 1024,
        maxRetries: 2,
        onRetry: ({ reason }) => reasons.push(reason),
      });
      const error = await failure(upstreamClient.download(SLOW, dest, expectSlow));
      expect(error).to.be.instanceOf(UpstreamError);
      expect((error as UpstreamError).details).to.include({ kind: 'timeout', attempt: 3 });
      expect((error as UpstreamError).message)
        .to.match(/slower than 1024 B\/s for 1 s \(\d+ bytes in the last 1 s; DOWNLOAD_MIN_RATE\)/)
        .and.contain('(after 3 attempts)');
      expect(reasons).to.have.length(2);
      for (const reason of reasons) expect(reason).to.contain('DOWNLOAD_MIN_RATE');
      expect(upstream.requests.map((r) => [r.method, r.fault])).to.deep.equal([
        ['GET', 'trickle'],
        ['GET', 'trickle'],
        ['GET', 'trickle'],
      ]);
      expect(upstreamClient.stats.errors.timeout).to.equal(3);
      expect(existsSync(dest)).to.equal(false);
    });

    it('downloads a body at a fine rate with the floor on', async () => {
      upstream.fault({ match: SLOW, kind: 'trickle', bytesPerSecond: 40 * 1024 });
      const upstreamClient = client({ timeoutMs: 1000, minBytesPerSecond: 1024 });
      const result = await upstreamClient.download(SLOW, dest, expectSlow);
      expect(result.sha256).to.equal(sha256(slow));
      expect((await readFile(dest)).equals(slow)).to.equal(true);
      expect(upstream.requests).to.have.length(1);
      expect(upstreamClient.stats.errors.timeout).to.equal(0);
    });

    it('applies the floor to a fetch as well', async () => {
      upstream.fault({ match: INDEX, kind: 'trickle', bytesPerSecond: 50 });
      const error = await failure(
        client({ timeoutMs: 500, minBytesPerSecond: 1024, maxRetries: 0 }).fetch(INDEX),
      );
      expect(error).to.be.instanceOf(UpstreamError);
      expect((error as UpstreamError).message)
        .to.contain('slower than 1024 B/s for 0.5 s')
        .and.contain('DOWNLOAD_MIN_RATE');
      expect(upstream.requests).to.have.length(1);
    });

    it('leaves a slow but steady body alone when the floor is off', async () => {
      upstream.fault({ match: SLOW, kind: 'trickle', bytesPerSecond: 50 });
      const shutdown = new AbortController();
      const download = failure(
        client({ timeoutMs: 300, signal: shutdown.signal }).download(SLOW, dest, expectSlow),
      );
      // Several windows of 300 ms at 50 B/s: a floor would have struck by now.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const [record] = upstream.requests;
      expect(upstream.requests).to.have.length(1);
      expect(Number.isNaN(record?.end), 'still downloading').to.equal(true);
      expect(record?.bytes).to.be.above(0);
      shutdown.abort();
      expect(await download).to.be.instanceOf(AbortedError);
      expect(existsSync(dest)).to.equal(false);
    });
  });

  describe('memory for fetched bodies', function () {
    this.timeout(20_000);
    const MiB = 1024 * 1024;
    const endless = Array.from(
      { length: 8 },
      (_, i) => `releases/24.10.4/packages/mipsel_24kc/feed${i}/Packages.gz`,
    );
    const isEndless = (r: { path: string }) => endless.includes(r.path);

    it('holds fetches of endless bodies to maxBufferedBytes, refusing each as too large', async () => {
      upstream.fault({ match: (path) => endless.includes(path), kind: 'endless', bytesPerSecond: 4 * MiB });
      const upstreamClient = client({ maxBufferedBytes: 2 * MiB, concurrency: 16 });
      const results = await Promise.allSettled(
        endless.map((path) => upstreamClient.fetch(path, { maxBytes: MiB })),
      );
      for (const result of results) {
        expect(result.status).to.equal('rejected');
        const reason = (result as PromiseRejectedResult).reason as Error;
        expect(reason).to.be.instanceOf(UntrustedInputError);
        expect(reason.message).to.contain(`refusing a body that goes on past the limit of ${MiB} bytes`);
      }
      expect(upstream.requests, 'too large is not retried').to.have.length(8);
      expect(upstream.maxInFlight(), '2 MiB holds two bodies of up to 1 MiB').to.be.at.most(2);
    });

    it('rejects fetches still waiting for memory at once on shutdown, sending none of them', async () => {
      upstream.fault({ match: (path) => endless.includes(path), kind: 'endless', bytesPerSecond: 64 * 1024 });
      const shutdown = new AbortController();
      const upstreamClient = client({ maxBufferedBytes: 2 * MiB, concurrency: 16, signal: shutdown.signal });
      const all = Promise.allSettled(endless.map((path) => upstreamClient.fetch(path, { maxBytes: MiB })));
      while (upstream.requests.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
      shutdown.abort();
      const results = await all;
      for (const result of results) {
        expect(result.status).to.equal('rejected');
        expect((result as PromiseRejectedResult).reason).to.be.instanceOf(AbortedError);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(upstream.requests).to.have.length(2);
    });

    it('lets fetches with a Content-Length through while endless ones hold part of the budget', async () => {
      upstream.fault({
        match: (path) => endless.includes(path),
        kind: 'endless',
        bytesPerSecond: 128 * 1024,
      });
      const small = Array.from(
        { length: 8 },
        (_, i) => [`${FEED}/small${i}.sig`, pattern(10_000, i)] as const,
      );
      for (const [path, bytes] of small) upstream.files.set(path, bytes);
      // ~250 ms per small body: long enough for the others to overlap it, if the budget lets them.
      upstream.fault({ match: /small\d\.sig$/, kind: 'trickle', bytesPerSecond: 40_000 });
      const shutdown = new AbortController();
      const upstreamClient = client({ maxBufferedBytes: 2 * MiB, concurrency: 16, signal: shutdown.signal });
      // Two endless fetches of up to 512 KiB hold 1 MiB for seconds.
      let endlessSettled = 0;
      const holding = endless.slice(0, 2).map((path) =>
        failure(upstreamClient.fetch(path, { maxBytes: MiB / 2 })).finally(() => {
          endlessSettled += 1;
        }),
      );
      const results = await Promise.all(
        small.map(([path]) => upstreamClient.fetch(path, { maxBytes: MiB / 4 })),
      );
      expect(endlessSettled, 'the small ones finish while the endless ones still run').to.equal(0);
      for (const [i, result] of results.entries())
        expect(result.body?.equals(small[i]?.[1] ?? Buffer.alloc(0))).to.equal(true);
      // Eight reservations of 256 KiB do not fit in the 1 MiB left; they overlap because each shrinks
      // to its Content-Length at the headers.
      expect(upstream.maxInFlight((r) => !isEndless(r))).to.be.above(4);
      expect(upstream.requests.filter(isEndless).every((r) => Number.isNaN(r.end))).to.equal(true);
      shutdown.abort();
      for (const error of await Promise.all(holding)) expect(error).to.be.instanceOf(AbortedError);
    });
  });

  describe('rate and concurrency', function () {
    this.timeout(15_000);
    const files = new Map(Array.from({ length: 30 }, (_, i) => [`${FEED}/p${i}.ipk`, pattern(20_000, i)]));
    const downloadAll = (upstreamClient: Upstream) =>
      Promise.all(
        [...files].map(([path, bytes], i) =>
          upstreamClient.download(path, join(dir, `p${i}.tmp`), {
            size: bytes.length,
            sha256: sha256(bytes),
          }),
        ),
      );

    it('starts no more than rateLimit requests in any second', async () => {
      upstream.setFiles(files);
      await downloadAll(client({ rateLimit: 10, concurrency: 3 }));
      expect(upstream.requests).to.have.length(30);
      expect(upstream.maxStartsInWindow(1000)).to.be.at.most(10);
      expect(upstream.maxInFlight()).to.be.at.most(3);
      const starts = upstream.requests.map((r) => r.start);
      // …and no slower than the limit needs: 29 gaps of 100 ms (plus the safety margin).
      expect(Math.max(...starts) - Math.min(...starts)).to.be.below(3400);
    });

    it('keeps no more than concurrency requests in flight, bodies included, when responses are slow', async () => {
      await upstream.close();
      // ~150 ms to the headers and ~250 ms of body: unlimited, about 4 would be in flight.
      upstream = await startFakeUpstream({ files, latencyMs: 150, bytesPerSecond: 80_000 });
      await downloadAll(client({ rateLimit: 10, concurrency: 3 }));
      expect(upstream.maxInFlight()).to.equal(3);
      expect(upstream.maxStartsInWindow(1000)).to.be.at.most(10);
    });

    it('lets background downloads take at most every other start while indexes wait, the last slot only when a start is spare', async () => {
      await upstream.close();
      // Slow bodies: ~100 ms to the headers and ~250 ms of body each.
      const small = new Map(Array.from({ length: 6 }, (_, i) => [`${FEED}/i${i}.gz`, pattern(2_000, i)]));
      upstream = await startFakeUpstream({
        files: new Map([...files, ...small]),
        latencyMs: 100,
        bytesPerSecond: 80_000,
      });
      const upstreamClient = client({ rateLimit: 50, concurrency: 3 });
      const background = [...files].slice(0, 8).map(([path, bytes], i) =>
        upstreamClient.download(path, join(dir, `b${i}.tmp`), {
          size: bytes.length,
          sha256: sha256(bytes),
          background: true,
        }),
      );
      // The indexes a plan waits for come a little later, while the background ones hold slots.
      await new Promise((resolve) => setTimeout(resolve, 150));
      const indexes = await Promise.all([...small.keys()].map((path) => upstreamClient.fetch(path)));
      await Promise.all(background);
      expect(indexes.every((r) => !r.notModified && r.body?.length === 2_000)).to.be.true;
      const isBackground = (r: { path: string }) => r.path.endsWith('.ipk');
      // 50/s and 100 ms of latency: starts to spare, the connections bind, so the background ones may
      // hold all three slots (the rate-bound case keeps one for the indexes: gate.test.ts).
      expect(upstream.maxInFlight(isBackground)).to.equal(3);
      expect(upstream.maxInFlight()).to.equal(3);
      // From the first index on, no two background downloads start in a row until the last index has.
      const indexStarts = upstream.requests.filter((r) => !isBackground(r)).map((r) => r.start);
      const [first, last] = [Math.min(...indexStarts), Math.max(...indexStarts)];
      const kinds = [...upstream.requests]
        .sort((a, b) => a.start - b.start)
        .filter((r) => r.start >= first && r.start <= last)
        .map((r) => (isBackground(r) ? 'b' : 'i'))
        .join('');
      expect(kinds).to.not.contain('bb');
      expect(upstream.maxStartsInWindow(1000)).to.be.at.most(50);
    });

    it('rejects every queued download at once on shutdown, starting no more requests', async () => {
      upstream.setFiles(files);
      const shutdown = new AbortController();
      const upstreamClient = client({ rateLimit: 10, concurrency: 3, signal: shutdown.signal });
      const all = Promise.allSettled(
        [...files].map(([path], i) => upstreamClient.download(path, join(dir, `p${i}.tmp`), {})),
      );
      await new Promise((resolve) => setTimeout(resolve, 250));
      const aborted = performance.now();
      shutdown.abort();
      const results = await all;
      expect(performance.now() - aborted).to.be.below(100);
      const rejected = results.filter((r) => r.status === 'rejected');
      expect(rejected.length).to.be.at.least(25);
      for (const r of rejected) expect(r.reason).to.be.instanceOf(AbortedError);
      const started = upstream.requests.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(upstream.requests).to.have.length(started);
    });

    it('spaces starts from when each request was really sent, also when one is delayed after the gate', async () => {
      const small = new Map(Array.from({ length: 20 }, (_, i) => [`${FEED}/p${i}.sig`, pattern(100, i)]));
      upstream.setFiles(small);
      const spacingMs = 1000 / 8;
      // A loaded machine: request 3 is let through, then held up on its way to the socket.
      const beforeSend = async (requestNumber: number) => {
        if (requestNumber === 3) await new Promise((resolve) => setTimeout(resolve, 0.9 * spacingMs));
      };
      const upstreamClient = client({ rateLimit: 8, concurrency: 8, beforeSend });
      await Promise.all([...small.keys()].map((path) => upstreamClient.fetch(path)));
      expect(upstream.requests).to.have.length(20);
      expect(upstream.maxStartsInWindow(1000)).to.be.at.most(8);
      const starts = upstream.requests.map((r) => r.start).sort((a, b) => a - b);
      const gaps = starts.slice(1).map((start, i) => start - (starts[i] ?? 0));
      expect(Math.min(...gaps)).to.be.at.least(0.97 * spacingMs);
    });

    it('keeps a fractional rate evenly spaced', async () => {
      const upstreamClient = client({ rateLimit: 2.5, concurrency: 4 });
      await Promise.all([0, 1, 2, 3].map(() => upstreamClient.fetch(INDEX)));
      const starts = upstream.requests.map((r) => r.start).sort((a, b) => a - b);
      const gaps = starts.slice(1).map((start, i) => start - (starts[i] ?? 0));
      expect(gaps).to.have.length(3);
      expect(Math.min(...gaps)).to.be.at.least(0.97 * 400);
    });

    it('lets the next request through when one fails before it is sent', async () => {
      const beforeSend = async (requestNumber: number) => {
        if (requestNumber === 2) throw new Error('no route to the upstream');
      };
      const upstreamClient = client({ rateLimit: 8, concurrency: 1, beforeSend });
      const results = await Promise.allSettled([0, 1, 2, 3].map(() => upstreamClient.fetch(INDEX)));
      expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      expect(upstream.requests).to.have.length(3);
    });

    it('does not stall on connections refused before anything is sent', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const upstreamClient = client({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0, rateLimit: 8 });
      const results = await Promise.allSettled([0, 1, 2, 3, 4].map(() => upstreamClient.fetch(INDEX)));
      for (const result of results) {
        expect(result.status).to.equal('rejected');
        expect((result as PromiseRejectedResult).reason).to.be.instanceOf(UpstreamError);
        expect(((result as PromiseRejectedResult).reason as UpstreamError).message).to.contain(
          'ECONNREFUSED',
        );
      }
    });

    it('passes retries through the same throttle', async () => {
      upstream.setFiles(new Map([...files].slice(0, 8)));
      upstream.fault({ match: /p\d+\.ipk$/, kind: '503', times: 8 });
      upstream.fault({ match: /p[0-3]\.ipk$/, kind: 'reset', times: 4, afterBytes: 100 });
      const upstreamClient = client({ rateLimit: 8, concurrency: 8 });
      await Promise.all(
        [...files]
          .slice(0, 8)
          .map(([path, bytes], i) =>
            upstreamClient.download(path, join(dir, `p${i}.tmp`), { size: bytes.length }),
          ),
      );
      expect(upstream.requests).to.have.length(20);
      expect(upstreamClient.stats.retries).to.equal(12);
      expect(upstream.maxStartsInWindow(1000)).to.be.at.most(8);
    });
  });

  describe('backoff', () => {
    it('doubles from the first delay and never waits less than Retry-After', () => {
      const none = () => 0;
      expect([1, 2, 3, 4].map((retry) => backoffDelay(retry, 2000, 0, none))).to.deep.equal([
        2000, 4000, 8000, 16000,
      ]);
      expect(backoffDelay(1, 20, 1000, none)).to.equal(1000);
      expect(backoffDelay(1, 2000, 0, () => 0.999)).to.be.within(2000, 2200);
    });

    it('caps the exponential part at an hour, and never goes below the first delay', () => {
      const none = () => 0;
      const most = () => 0.999;
      const hour = 3_600_000;
      // Uncapped, the 12th retry at an hour would be 85 days: past what a timer can hold.
      expect(backoffDelay(12, hour, 0, none)).to.equal(hour);
      expect(backoffDelay(12, hour, 0, most)).to.be.within(hour, 1.1 * hour);
      expect(backoffDelay(30, 2000, 0, most)).to.be.within(hour, 1.1 * hour);
      expect(backoffDelay(2000, 0, 0, none)).to.equal(0);
      expect(backoffDelay(3, 2 * hour, 0, none), 'a first delay above the cap stays').to.equal(2 * hour);
      for (let retry = 1; retry <= 40; retry++)
        expect(backoffDelay(retry, 20_000, 0, none)).to.be.at.least(20_000);
    });

    it('reads Retry-After as seconds or as an HTTP date', () => {
      const now = Date.parse('2026-11-26T03:00:00Z');
      expect(parseRetryAfter('120', now)).to.equal(120_000);
      expect(parseRetryAfter('Thu, 26 Nov 2026 03:00:30 GMT', now)).to.equal(30_000);
      expect(parseRetryAfter('Thu, 26 Nov 2026 02:00:00 GMT', now)).to.equal(0);
      expect(parseRetryAfter('soon', now)).to.equal(undefined);
      expect(parseRetryAfter(undefined, now)).to.equal(undefined);
    });
  });

  describe('options', () => {
    it('names the option and the bad value', () => {
      expect(() => client({ rateLimit: 0 })).to.throw(TypeError, /rateLimit.*0/);
      expect(() => client({ concurrency: 1.5 })).to.throw(TypeError, /concurrency/);
      expect(() => client({ baseUrl: 'ftp://example.org' })).to.throw(TypeError, /baseUrl/);
      expect(() => client({ minBytesPerSecond: -1 })).to.throw(TypeError, /minBytesPerSecond.*-1/);
      expect(() => client({ maxBufferedBytes: 0 })).to.throw(TypeError, /maxBufferedBytes.*0/);
    });

    it('refuses durations that a timer cannot hold', () => {
      // One request every 324 years: setTimeout would overflow and fire at once.
      expect(() => client({ rateLimit: 1e-7 })).to.throw(TypeError, /rateLimit.*1e-7/);
      expect(() => client({ retryDelayMs: 2 ** 31 })).to.throw(TypeError, /retryDelayMs/);
      expect(() => client({ timeoutMs: 2 ** 31 })).to.throw(TypeError, /timeoutMs/);
      expect(() =>
        client({ rateLimit: 5e-7, retryDelayMs: 2 ** 31 - 1, timeoutMs: 2 ** 31 - 1 }),
      ).to.not.throw();
    });
  });
});
