/**
 * Attacks on the on-demand listener, the learned selection and rollback (issue #12): a router on the
 * LAN that sends anything to nginx, a hostile upstream, a mirror directory with planted or corrupted
 * files. The real listener, the real nginx with the template, the real command line.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { type OnDemandListener, startOnDemand } from '../worker/ondemand/listener.js';
import { MAX_LEARNED, readLearned } from '../worker/publish/learned.js';
import { MirrorDir } from '../worker/publish/mirror-dir.js';
import { openUpstream } from '../worker/sync/run.js';
import { listFiles, sha256 } from './helpers/files.js';
import { capturingLogger } from './helpers/log-capture.js';
import { type RunningNginx, rawRequest, request } from './helpers/nginx.js';
import { serveWithOnDemand } from './helpers/on-demand.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('attack: on demand', function () {
  this.timeout(180_000);
  let h: Harness;
  let nginx: RunningNginx | undefined;
  let listener: OnDemandListener | undefined;

  async function start(options: Parameters<typeof createHarness>[0] = {}): Promise<void> {
    h = await createHarness({ ...options, env: { PRUNE_GRACE_HOURS: '0', ...options.env } });
    expect((await h.sync()).exitCode).to.equal(0);
    ({ listener, nginx } = await serveWithOnDemand(h.config({ ON_DEMAND_LISTEN: '127.0.0.1:0' })));
  }

  afterEach(async () => {
    await listener?.close();
    listener = undefined;
    await nginx?.stop();
    nginx = undefined;
    await h?.close();
  });

  const servedRoot = async () => path.join(h.mirrorDir, 'releases', '24.10.4');

  /** The upstream path (`releases/…`) of the one package file named `name`. */
  function upstreamPathOf(name: string): string {
    const pattern = new RegExp(`/${name}[-_][0-9][^/]*\\.ipk$`);
    const found = [...h.tree.files.keys()].filter((file) => pattern.test(file));
    expect(found, name).to.have.length(1);
    return found[0] as string;
  }
  const releaseRel = (upstreamPath: string) => upstreamPath.split('/').slice(2).join('/');

  /** A Packages index of `count` stanzas, the size of a real packages feed at 8,000. */
  function bigIndex(count: number): string {
    const stanzas: string[] = [];
    for (let i = 0; i < count; i++) {
      stanzas.push(
        [
          `Package: pkg${i}`,
          'Version: 1.0-r1',
          'Depends: libc, libfoo, libbar',
          'License: GPL-2.0',
          'Section: utils',
          'Architecture: mipsel_24kc',
          'Installed-Size: 123456',
          `Filename: pkg${i}_1.0-r1_mipsel_24kc.ipk`,
          'Size: 45678',
          `SHA256sum: ${i.toString(16).padStart(64, '0')}`,
          `Description: ${'a package that does something useful for routers '.repeat(6)}`,
        ].join('\n'),
      );
    }
    return `${stanzas.join('\n\n')}\n`;
  }

  it('many routers asking at once in a feed whose index is not parsed yet share one parse: no memory blow-up', async () => {
    await start();
    const feed = path.join(await servedRoot(), 'packages/mipsel_24kc/big');
    await fs.mkdir(feed);
    const index = bigIndex(8000);
    await fs.writeFile(path.join(feed, 'Packages'), index);
    const port = listener?.address.port as number;
    let peak = process.memoryUsage().rss;
    const before = peak;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const started = Date.now();
    const agent = new http.Agent({ maxSockets: 1000 });
    const replies = await Promise.all(
      Array.from(
        { length: 200 },
        (_, i) =>
          new Promise<number>((resolve, reject) => {
            http
              .get(
                {
                  port,
                  host: '127.0.0.1',
                  agent,
                  path: `/releases/24.10.4/packages/mipsel_24kc/big/none${i}.ipk`,
                },
                (res) => {
                  res.resume();
                  res.on('end', () => resolve(res.statusCode ?? 0));
                },
              )
              .on('error', reject);
          }),
      ),
    );
    clearInterval(sampler);
    agent.destroy();
    const growth = Math.round((peak - before) / 1e6);
    console.log(
      `      index ${index.length} bytes; 200 requests at once: ${Date.now() - started} ms, rss +${growth} MB`,
    );
    expect(new Set(replies)).to.deep.equal(new Set([404]));
    // One parse of a 4.6 MB index takes some tens of MB; 200 of them at once took +356 MB and 7 s.
    expect(growth, 'rss growth in MB').to.be.below(120);
  });

  it('a symlink planted at a listed path is never read through: no bytes from outside the mirror', async () => {
    await start();
    const tcpdump = upstreamPathOf('tcpdump');
    const secret = path.join(h.root, 'secret.txt');
    await fs.writeFile(secret, 'root:SECRET-HASH:19000:0:99999:7:::\n'.repeat(4000));
    const planted = path.join(await servedRoot(), releaseRel(tcpdump));
    await fs.symlink(secret, planted);
    h.upstream.resetLog();
    const port = listener?.address.port as number;
    // Through nginx (what a router reaches) and straight at the listener (the compose network).
    for (const url of [`${nginx?.url}/${tcpdump}`, `http://127.0.0.1:${port}/${tcpdump}`]) {
      const reply = await request(url);
      expect(reply.body.toString('latin1'), url).not.to.include('SECRET');
      expect(reply.status, url).not.to.equal(200);
    }
    expect(await fs.readFile(secret, 'utf8')).to.match(/^root:SECRET/);
    expect(
      (await fs.lstat(planted)).isSymbolicLink(),
      'the planted link is left for verify to name',
    ).to.equal(true);
    expect(h.upstream.requests, 'nothing fetched for a path the mirror does not own').to.deep.equal([]);
  });

  it('a learned.json that does not parse (a hand edit) is not replaced by the next package fetched on demand', async () => {
    await start();
    const tcpdump = upstreamPathOf('tcpdump');
    const file = path.join(h.mirrorDir, '.mirror/learned.json');
    // An operator's edit with a trailing comma: the names in it are what the nightly sync should keep.
    const edited =
      '{"schema":1,"packages":[{"release":"24.10.4","name":"iperf3","dir":"packages/mipsel_24kc/base","file":"iperf3.ipk","addedAt":"2026-01-01T00:00:00Z"},]}\n';
    await fs.writeFile(file, edited);
    const reply = await request(`${nginx?.url}/${tcpdump}`);
    expect(reply.status, 'the package is still served').to.equal(200);
    expect(await fs.readFile(file, 'utf8'), 'learned.json as the operator left it').to.equal(edited);
    const forget = await runCli(['forget', 'iperf3'], h.env);
    expect(forget.code).to.not.equal(0);
    expect(forget.stderr).to.match(/learned\.json/);
    expect(forget.stderr).not.to.match(/it is empty/);
    expect(await fs.readFile(file, 'utf8')).to.equal(edited);
    // The nightly sync keeps none of it this time, and says why.
    const run = await h.sync();
    expect(run.report.warnings.join('\n')).to.match(/learned\.json is not the learned selection's JSON/);
    expect(await fs.readFile(file, 'utf8')).to.equal(edited);
  });

  it('what a killed worker left half-downloaded in .mirror/ondemand/ is gone when the listener starts again', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const parts = path.join(h.mirrorDir, '.mirror/ondemand');
    await fs.mkdir(parts, { recursive: true });
    const left = path.join(parts, 'a1b2c3d4e5f6-tcpdump_4.99.5-r1_mipsel_24kc.ipk');
    await fs.writeFile(left, Buffer.alloc(1024 * 1024));
    ({ listener, nginx } = await serveWithOnDemand(h.config({ ON_DEMAND_LISTEN: '127.0.0.1:0' })));
    expect(await fs.readdir(parts)).to.deep.equal([]);
  });

  it('with the learned selection full, a package is served, not learned, and the log says so', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    const full = Array.from({ length: MAX_LEARNED }, (_, i) => ({
      release: '24.10.4',
      name: `walked${i}`,
      dir: 'packages/mipsel_24kc/base',
      file: `walked${i}_1_mipsel_24kc.ipk`,
      addedAt: '2026-01-01T00:00:00Z',
    }));
    const file = path.join(h.mirrorDir, '.mirror/learned.json');
    await fs.writeFile(file, JSON.stringify({ schema: 1, packages: full }));
    const { logger, lines } = capturingLogger();
    const config = h.config({ ON_DEMAND_LISTEN: '127.0.0.1:0' });
    const dir = new MirrorDir(h.mirrorDir);
    listener = await startOnDemand(config, dir, openUpstream(config, { logger }), logger);
    const reply = await request(`http://127.0.0.1:${listener.address.port}/${upstreamPathOf('tcpdump')}`);
    expect(reply.status).to.equal(200);
    expect((await readLearned(dir)).map((p) => p.name)).not.to.include('tcpdump');
    const warned = lines().filter((line) => line.level === 'warn' && /tcpdump/.test(line.message));
    expect(warned.map((line) => line.message).join('\n')).to.match(
      /tcpdump \(24\.10\.4\) was served but not added to the selection: it holds 2000 names already/,
    );
  });

  it('a client walking every listed package at once: 503 past 64 fetches, the upstream sees CONCURRENCY, all learned', async () => {
    await start({ upstream: { latencyMs: 300 } });
    const held = new Set(await listFiles(await servedRoot()));
    const walk = [...h.tree.files.keys()].filter(
      (f) => f.endsWith('.ipk') && !held.has(releaseRel(f)) && !f.includes('/targets/'),
    );
    expect(walk.length).to.be.above(64);
    h.upstream.resetLog();
    const port = listener?.address.port as number;
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    const started = Date.now();
    const first = await Promise.all(walk.map((f) => request(`http://127.0.0.1:${port}/${f}`)));
    const busy = first.filter((r) => r.status === 503);
    expect(busy.length, 'told to come back').to.equal(walk.length - 64);
    expect(new Set(busy.map((r) => r.headers['retry-after']))).to.deep.equal(new Set(['30']));
    expect(first.filter((r) => r.status === 200).length).to.equal(64);
    expect(h.upstream.maxInFlight(), 'the gate holds: CONCURRENCY=4').to.be.at.most(4);
    // The client comes back as told (without waiting): now everything is fetched and learned.
    for (const [i, reply] of first.entries()) {
      if (reply.status === 503)
        expect((await request(`http://127.0.0.1:${port}/${walk[i]}`)).status).to.equal(200);
    }
    const learned = await readLearned(new MirrorDir(h.mirrorDir));
    console.log(
      `      walked ${walk.length} listed packages in ${Date.now() - started} ms: ${learned.length} learned, ${busy.length} first told 503`,
    );
    const run = await h.sync();
    expect(run.exitCode).to.equal(0);
    process.off('warning', onWarning);
    // Every file sent was closed by the listener: none left for the garbage collector to close.
    expect(warnings.filter((w) => /file descriptor|FileHandle/.test(w))).to.deep.equal([]);
    const after = new Set(await listFiles(await servedRoot()));
    expect(
      walk.filter((f) => !after.has(releaseRel(f))),
      'the nightly sync now mirrors the whole walk',
    ).to.deep.equal([]);
  });

  it('on demand while syncs switch and clean up (KEEP_GENERATIONS=1), 10 times: no sync fails, no router gets a wrong byte or a 500', async () => {
    h = await createHarness({
      env: { KEEP_GENERATIONS: '1', PRUNE_GRACE_HOURS: '0' },
      upstream: { latencyMs: 20 },
    });
    expect((await h.sync()).exitCode).to.equal(0);
    const { logger, lines } = capturingLogger();
    const config = h.config({ ON_DEMAND_LISTEN: '127.0.0.1:0' });
    listener = await startOnDemand(
      config,
      new MirrorDir(h.mirrorDir),
      openUpstream(config, { logger }),
      logger,
    );
    const port = listener.address.port;
    // Every package file of both revisions, by path: a router may hold either index.
    const known = new Map<string, Set<string>>();
    const note = () => {
      for (const [f, bytes] of h.tree.files) {
        if (!f.endsWith('.ipk')) continue;
        const set = known.get(f) ?? new Set<string>();
        set.add(sha256(bytes));
        known.set(f, set);
      }
    };
    note();
    const candidates = [...h.tree.files.keys()].filter((f) => f.endsWith('.ipk') && !f.includes('/targets/'));
    const statuses = new Map<number, number>();
    const wrong: string[] = [];
    let stop = false;
    const routers = Array.from({ length: 4 }, async (_, r) => {
      for (let i = r; !stop; i += 4) {
        const f = candidates[i % candidates.length] as string;
        const reply = await request(`http://127.0.0.1:${port}/${f}`);
        statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        if (reply.status === 200 && !known.get(f)?.has(sha256(reply.body))) wrong.push(f);
        if (reply.status >= 500 && reply.status !== 503) wrong.push(`${f}: ${reply.status} ${reply.body}`);
      }
    });
    const runs: number[] = [];
    for (let n = 1; n <= 10; n++) {
      h.moveTo(n % 2);
      note();
      const run = await h.sync();
      runs.push(run.exitCode);
      expect(run.report.failures, `sync ${n}`).to.deep.equal([]);
    }
    stop = true;
    await Promise.all(routers);
    console.log(`      ${JSON.stringify(Object.fromEntries(statuses))} over 10 syncs`);
    // Nothing failed in the listener itself (what became a 500).
    expect(lines().filter((l) => /^on demand: \//.test(l.message))).to.deep.equal([]);
    expect(runs).to.deep.equal(Array(10).fill(0));
    expect(wrong).to.deep.equal([]);
    const verify = await runCli(['verify'], h.env);
    expect(verify.code, verify.stdout + verify.stderr).to.equal(0);
  });

  it('slowloris at nginx, HEAD, odd and very long paths: the listener answers the router and fetches nothing else', async () => {
    await start();
    const tcpdump = upstreamPathOf('tcpdump');
    const port = Number(new URL(nginx?.url as string).port);
    // 40 clients that never finish their request headers (the test nginx has 64 connections).
    const slow = Array.from({ length: 40 }, () => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.write(`GET /${tcpdump} HTTP/1.1\r\nHost: mirror.test\r\nX-Slow: `);
      return socket;
    });
    try {
      h.upstream.resetLog();
      // A HEAD (a probe, a crawler) makes the mirror fetch nothing; once a GET brought it, HEAD sees it.
      const probe = await request(`${nginx?.url}/${tcpdump}`, { method: 'HEAD' });
      expect(probe.status).to.equal(404);
      expect(h.upstream.requests).to.deep.equal([]);
      const bytes = h.tree.files.get(tcpdump) as Buffer;
      const get = await request(`${nginx?.url}/${tcpdump}`);
      expect(get.status).to.equal(200);
      expect(sha256(get.body)).to.equal(sha256(bytes));
      const head = await request(`${nginx?.url}/${tcpdump}`, { method: 'HEAD' });
      expect(head.status).to.equal(200);
      expect(head.body.length).to.equal(0);
      expect(Number(head.headers['content-length'])).to.equal(bytes.length);
      const odd = [
        `/releases/24.10.4/packages/mipsel_24kc/base/${'a'.repeat(3000)}.ipk`,
        '/releases/24.10.4%2F..%2F23.05.5/packages/mipsel_24kc/base/x.ipk',
        '/releases/..%252f..%252fetc/x.ipk',
        '/releases/24.10.4/packages/mipsel_24kc/base/tcpdump_4.99.5-r1_mipsel_24kc.ipk%00.ipk',
        '/releases/24.10.4/packages/mipsel_24kc/base/../base/x.ipk',
      ];
      for (const url of odd) {
        const reply = await rawRequest(port, url);
        expect([400, 404, 414], url).to.include(reply.status);
      }
      // One GET of tcpdump (the GET's), nothing else.
      expect(h.upstream.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([`GET ${tcpdump}`]);
    } finally {
      for (const socket of slow) socket.destroy();
    }
  });
});
