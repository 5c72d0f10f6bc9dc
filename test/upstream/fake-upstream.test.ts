import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { type FakeUpstream, startFakeUpstream } from '../helpers/fake-upstream.js';

interface Reply {
  status?: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** How many pieces the body came in. */
  chunks: number;
  /** How the exchange ended: 'end', or the error code of the request or the response. */
  ending: string;
  firstByteMs?: number;
  totalMs: number;
}

/** A bare node:http request that reports what a client would see, faults included. */
function get(
  upstream: FakeUpstream,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; giveUpAfterMs?: number } = {},
): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const reply: Omit<Reply, 'ending' | 'totalMs' | 'body' | 'chunks'> = { headers: {} };
    let giveUp: NodeJS.Timeout | undefined;
    const done = (ending: string) => {
      clearTimeout(giveUp);
      resolve({
        ...reply,
        body: Buffer.concat(chunks),
        chunks: chunks.length,
        ending,
        totalMs: performance.now() - started,
      });
    };
    const req = request(
      `${upstream.url}/${path}`,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false },
      (res) => {
        reply.status = res.statusCode;
        reply.headers = res.headers;
        res.on('data', (chunk: Buffer) => {
          reply.firstByteMs ??= performance.now() - started;
          chunks.push(chunk);
        });
        res.on('end', () => done('end'));
        res.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    if (opts.giveUpAfterMs !== undefined) {
      giveUp = setTimeout(() => {
        req.destroy();
        done('gave up');
      }, opts.giveUpAfterMs);
    }
    req.end();
  });
}

/** Polls until `condition` holds (or fails after `ms`): for what the server notices on its own time. */
async function eventually(condition: () => boolean, ms = 2000): Promise<void> {
  const until = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > until) expect.fail('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const pattern = (size: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + 3) % 251));

describe('fake upstream', () => {
  const file = pattern(100_000);
  let upstream: FakeUpstream;

  beforeEach(async () => {
    upstream = await startFakeUpstream({
      files: new Map([
        ['releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz', file],
        ['releases/24.10.4/packages/mipsel_24kc/base/libstdcpp6_13.3.0-r4 x+y.ipk', Buffer.from('odd name')],
      ]),
    });
  });
  afterEach(() => upstream.close());

  it('serves a file byte-exact with validators and the length', async () => {
    const reply = await get(upstream, 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz');
    expect(reply.status).to.equal(200);
    expect(reply.body.equals(file)).to.equal(true);
    expect(reply.headers['content-length']).to.equal(String(file.length));
    expect(reply.headers['content-type']).to.equal('application/octet-stream');
    expect(reply.headers.etag).to.match(/^"[0-9a-f]+"$/);
    expect(Date.parse(String(reply.headers['last-modified']))).to.be.closeTo(Date.now(), 2000);
    expect(upstream.requests).to.have.length(1);
    expect(upstream.requests[0]).to.include({
      method: 'GET',
      path: 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz',
      status: 200,
      bytes: file.length,
      conditional: false,
    });
  });

  it('answers HEAD without a body, decodes %-escapes, and 404s what it does not have', async () => {
    const head = await get(upstream, 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz', {
      method: 'HEAD',
    });
    expect(head.status).to.equal(200);
    expect(head.headers['content-length']).to.equal(String(file.length));
    expect(head.body.length).to.equal(0);

    const odd = await get(
      upstream,
      'releases/24.10.4/packages/mipsel_24kc/base/libstdcpp6_13.3.0-r4%20x%2By.ipk',
    );
    expect(odd.body.toString()).to.equal('odd name');

    const missing = await get(upstream, 'releases/24.10.4/nothing-here');
    expect(missing.status).to.equal(404);
  });

  it('answers conditional requests with 304 until the file changes', async () => {
    const path = 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz';
    const first = await get(upstream, path);
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers['last-modified']);

    expect((await get(upstream, path, { headers: { 'If-None-Match': etag } })).status).to.equal(304);
    expect((await get(upstream, path, { headers: { 'If-Modified-Since': lastModified } })).status).to.equal(
      304,
    );
    expect(upstream.requests.map((r) => r.conditional)).to.deep.equal([false, true, true]);

    upstream.files.set(path, pattern(10));
    const byTag = await get(upstream, path, { headers: { 'If-None-Match': etag } });
    expect(byTag.status).to.equal(200);
    expect(byTag.headers.etag).to.not.equal(etag);
    const byDate = await get(upstream, path, { headers: { 'If-Modified-Since': lastModified } });
    expect(byDate.status, 'a change within the same second still moves Last-Modified').to.equal(200);
  });

  it('fails with 503 and Retry-After as many times as told, then serves', async () => {
    upstream.fault({ match: /Packages\.gz$/, kind: '503', times: 2, retryAfter: 7 });
    const path = 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz';
    const replies = [await get(upstream, path), await get(upstream, path), await get(upstream, path)];
    expect(replies.map((r) => r.status)).to.deep.equal([503, 503, 200]);
    expect(replies[0]?.headers['retry-after']).to.equal('7');
    expect(upstream.requests.map((r) => r.fault)).to.deep.equal(['503', '503', undefined]);
  });

  it('sends 429 with Retry-After, and 500 and 404 on demand', async () => {
    const path = 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz';
    upstream.fault({ match: path, kind: '429', times: 1 });
    upstream.fault({ match: path, kind: '500', times: 1 });
    upstream.fault({ match: (p) => p.endsWith('.gz'), kind: '404', times: 1 });
    const replies = [await get(upstream, path), await get(upstream, path), await get(upstream, path)];
    expect(replies.map((r) => r.status)).to.deep.equal([429, 500, 404]);
    expect(replies[0]?.headers['retry-after']).to.equal('1');
  });

  it('resets the connection in the middle of the body', async () => {
    upstream.fault({ match: /Packages\.gz$/, kind: 'reset', afterBytes: 30_000, times: 1 });
    const reply = await get(upstream, 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz');
    expect(reply.status).to.equal(200);
    expect(reply.ending).to.equal('ECONNRESET');
    expect(reply.body.length).to.equal(30_000);
  });

  it('ends a short body early although Content-Length promised more', async () => {
    upstream.fault({ match: /Packages\.gz$/, kind: 'short', afterBytes: 1000 });
    const reply = await get(upstream, 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz');
    expect(reply.headers['content-length']).to.equal(String(file.length));
    expect(reply.ending).to.not.equal('end');
    expect(reply.body.length).to.equal(1000);
  });

  it('flips exactly one byte and keeps the length when corrupting', async () => {
    upstream.fault({ match: /Packages\.gz$/, kind: 'corrupt', afterBytes: 5 });
    const reply = await get(upstream, 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz');
    expect(reply.ending).to.equal('end');
    expect(reply.body.length).to.equal(file.length);
    const differing = [...reply.body.keys()].filter((i) => reply.body[i] !== file[i]);
    expect(differing).to.deep.equal([5]);
    expect(createHash('sha256').update(reply.body).digest('hex')).to.not.equal(
      createHash('sha256').update(file).digest('hex'),
    );
  });

  it('drops the connection before any response', async () => {
    upstream.fault({ match: /Packages\.gz$/, kind: 'drop' });
    const reply = await get(upstream, 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz');
    expect(reply.status).to.equal(undefined);
    expect(reply.ending).to.equal('ECONNRESET');
    expect(upstream.requests[0]).to.include({ status: 0, fault: 'drop' });
  });

  it('stalls after part of the body, and close() still ends promptly', async () => {
    upstream.fault({ match: /Packages\.gz$/, kind: 'stall', afterBytes: 2048 });
    const path = 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz';
    const stalled = get(upstream, path);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(upstream.requests[0]?.bytes).to.equal(2048);
    expect(Number.isNaN(upstream.requests[0]?.end), 'still open').to.equal(true);
    const closing = performance.now();
    await upstream.close();
    expect(performance.now() - closing).to.be.below(500);
    const reply = await stalled;
    expect(reply.body.length).to.equal(2048);
    expect(reply.ending).to.not.equal('end');
  });

  it('waits before the first byte and caps the bandwidth', async () => {
    await upstream.close();
    upstream = await startFakeUpstream({
      files: new Map([['big.bin', pattern(64 * 1024)]]),
      latencyMs: 150,
      bytesPerSecond: 256 * 1024,
    });
    const reply = await get(upstream, 'big.bin');
    expect(reply.body.equals(pattern(64 * 1024))).to.equal(true);
    expect(reply.firstByteMs).to.be.at.least(145);
    // 64 KiB at 256 KiB/s: about 250 ms on top of the latency.
    expect(reply.totalMs).to.be.at.least(145 + 200);
  });

  it('trickles a body with its Content-Length in small, steady writes', async () => {
    await upstream.close();
    upstream = await startFakeUpstream({ files: new Map([['slow.bin', pattern(600)]]) });
    upstream.fault({ match: 'slow.bin', kind: 'trickle', bytesPerSecond: 1000 });
    const reply = await get(upstream, 'slow.bin');
    expect(reply.ending).to.equal('end');
    expect(reply.headers['content-length']).to.equal('600');
    expect(reply.body.equals(pattern(600))).to.equal(true);
    // 100 bytes every 100 ms: six pieces, over about 600 ms.
    expect(reply.chunks).to.be.at.least(5);
    expect(reply.totalMs).to.be.at.least(450);
    expect(upstream.requests[0]).to.include({ status: 200, bytes: 600, fault: 'trickle' });
  });

  it('streams an endless body without Content-Length until the client goes away', async () => {
    upstream.fault({ match: /\.endless$/, kind: 'endless', bytesPerSecond: 256 * 1024 });
    const reply = await get(upstream, 'releases/24.10.4/nowhere/Packages.endless', { giveUpAfterMs: 300 });
    expect(reply.status).to.equal(200);
    expect(reply.ending).to.equal('gave up');
    expect(reply.headers['content-length']).to.equal(undefined);
    expect(reply.headers['transfer-encoding']).to.equal('chunked');
    expect(reply.body.length).to.be.above(16 * 1024);
    expect(reply.body.subarray(0, 19).toString()).to.equal('endless index line\n');
    const [record] = upstream.requests;
    await eventually(() => !Number.isNaN(record?.end));
    const sent = record?.bytes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(record?.bytes, 'stops writing once the client is gone').to.equal(sent);
  });

  it('repeats the file in an endless body, and close() still ends promptly', async () => {
    const path = 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz';
    upstream.fault({ match: path, kind: 'endless' });
    const endless = get(upstream, path);
    await eventually(() => (upstream.requests[0]?.bytes ?? 0) > file.length);
    const closing = performance.now();
    await upstream.close();
    expect(performance.now() - closing).to.be.below(500);
    const reply = await endless;
    expect(reply.ending).to.not.equal('end');
    expect(reply.body.subarray(0, file.length).equals(file)).to.equal(true);
    expect(
      reply.body
        .subarray(file.length, 2 * file.length)
        .equals(file.subarray(0, reply.body.length - file.length)),
    ).to.equal(true);
  });

  it('computes in-flight and start-rate figures from its log', async () => {
    await upstream.close();
    upstream = await startFakeUpstream({
      files: new Map([
        ['a', pattern(10)],
        ['b', pattern(10)],
      ]),
      latencyMs: 200,
    });
    await Promise.all([get(upstream, 'a'), get(upstream, 'a'), get(upstream, 'b')]);
    await get(upstream, 'a');
    expect(upstream.maxInFlight()).to.equal(3);
    expect(upstream.maxInFlight((r) => r.path === 'b')).to.equal(1);
    expect(upstream.maxStartsInWindow(100)).to.equal(3);
    expect(upstream.maxStartsInWindow(1000)).to.equal(4);
    upstream.resetLog();
    expect(upstream.requests).to.have.length(0);
    expect(upstream.maxInFlight()).to.equal(0);
  });

  it('counts a request left hanging as in flight', async () => {
    upstream.fault({ match: /Packages\.gz$/, kind: 'stall', afterBytes: 0 });
    const path = 'releases/24.10.4/targets/ramips/mt7621/packages/Packages.gz';
    const hanging = get(upstream, path, { giveUpAfterMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    upstream.clearFaults();
    await get(upstream, path);
    expect(upstream.maxInFlight()).to.equal(2);
    await upstream.close();
    await hanging;
  });
});
