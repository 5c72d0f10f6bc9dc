/**
 * On demand: a router asks nginx for a package outside the selection that a served index lists;
 * nginx hands the request to the worker's listener, which fetches it from the (fake) upstream,
 * verifies it against the served index, links it into the served generation and sends it. The
 * real worker process, the real nginx with the project's template, routers that check what they get.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type { OnDemandListener } from '../worker/ondemand/listener.js';
import { readLearned } from '../worker/publish/learned.js';
import { MirrorDir } from '../worker/publish/mirror-dir.js';
import { apkInstallAll, opkgInstallAll } from './helpers/clients.js';
import { listFiles, sha256 } from './helpers/files.js';
import { freePort, type RunningNginx, rawRequest, request, startNginx } from './helpers/nginx.js';
import { serveWithOnDemand } from './helpers/on-demand.js';
import { type CliRun, runCli, spawnCli, waitFor } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

describe('on demand: a listed package outside the selection, fetched and verified for a router', function () {
  this.timeout(120_000);
  let h: Harness;
  let nginx: RunningNginx | undefined;
  let listener: OnDemandListener | undefined;
  let worker: CliRun | undefined;

  /** A synced lab mirror, its own on-demand listener (in this process), nginx in front. */
  async function start(options: Parameters<typeof createHarness>[0] = {}): Promise<void> {
    h = await createHarness({ ...options, env: { PRUNE_GRACE_HOURS: '0', ...options.env } });
    expect((await h.sync()).exitCode).to.equal(0);
    ({ listener, nginx } = await serveWithOnDemand(h.config({ ON_DEMAND_LISTEN: '127.0.0.1:0' })));
  }

  /** The upstream path (`releases/…`) of the one package file named `name`. */
  function upstreamPathOf(name: string): string {
    const ext = h.tree.version.startsWith('25.') ? 'apk' : 'ipk';
    const pattern = new RegExp(`/${name}[-_][0-9][^/]*\\.${ext}$`);
    const found = [...h.tree.files.keys()].filter((file) => pattern.test(file));
    expect(found, name).to.have.length(1);
    return found[0] as string;
  }

  const releaseRel = (upstreamPath: string) => upstreamPath.split('/').slice(2).join('/');
  const fetchesOf = (upstreamPath: string) =>
    h.upstream.requests.filter((r) => r.path === upstreamPath && r.method === 'GET').length;

  afterEach(async () => {
    worker?.child.kill('SIGTERM');
    await worker?.exited;
    worker = undefined;
    await listener?.close();
    listener = undefined;
    await nginx?.stop();
    nginx = undefined;
    await h?.close();
  });

  it('the real worker fetches tcpdump for an opkg router, serves it verified, keeps it, and forget drops it', async () => {
    h = await createHarness({ env: { PRUNE_GRACE_HOURS: '0' } });
    const port = await freePort();
    worker = spawnCli(['worker'], { ...h.env, ON_DEMAND_LISTEN: `127.0.0.1:${port}`, LOG_FORMAT: 'json' });
    await waitFor(
      'the first sync',
      async () => (await h.readServed('packages/mipsel_24kc/base/Packages.gz')) !== undefined,
      60_000,
    );
    await waitFor(
      'the sync to end',
      async () => {
        const status = JSON.parse(
          await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8').catch(() => '{}'),
        );
        return status.lastRun?.result === 'success' && status.running === undefined;
      },
      60_000,
    );
    nginx = await startNginx({ mirrorRoot: h.mirrorDir, onDemandUrl: `http://127.0.0.1:${port}` });
    const tcpdump = upstreamPathOf('tcpdump');
    expect(labClosure(h.tree).has(tcpdump), 'tcpdump is outside the lab selection').to.equal(false);
    expect(await h.readServed(releaseRel(tcpdump))).to.equal(undefined);
    h.upstream.resetLog();

    // The router: every lab package and tcpdump, each checked against the signed index it verified.
    const wanted = new Set([...labClosure(h.tree), tcpdump]);
    const first = await opkgInstallAll(nginx.url, 'mirror.lab', h.signer.publicKeyFile, wanted);
    expect(first.problems).to.deep.equal([]);
    expect(first.fetched).to.equal(wanted.size);
    expect(fetchesOf(tcpdump)).to.equal(1);
    // Now served from the tree itself, byte for byte the upstream's.
    const served = await h.readServed(releaseRel(tcpdump));
    expect(served && sha256(served)).to.equal(sha256(h.tree.files.get(tcpdump) as Buffer));
    const again = await request(`${nginx.url}/${tcpdump}`);
    expect(again.status).to.equal(200);
    expect(fetchesOf(tcpdump), 'the second router is served by nginx').to.equal(1);
    const learned = await readLearned(new MirrorDir(h.mirrorDir));
    expect(learned.map((p) => [p.release, p.name, p.dir])).to.deep.equal([
      ['24.10.4', 'tcpdump', 'packages/mipsel_24kc/base'],
    ]);
    await waitFor('status.json to list it', async () => {
      const status = JSON.parse(await fs.readFile(path.join(h.mirrorDir, 'status.json'), 'utf8'));
      return status.learned?.[0]?.name === 'tcpdump';
    });
    const status = await runCli(['status'], h.env);
    expect(status.stdout).to.match(/tcpdump/);
    expect(worker.stdout()).to.match(/on demand: fetched and verified packages\/mipsel_24kc\/base\/tcpdump_/);

    // The next sync keeps it (from the pool: no new fetch), and its dependencies with it.
    h.upstream.resetLog();
    expect((await h.sync()).exitCode).to.equal(0);
    expect(fetchesOf(tcpdump)).to.equal(0);
    expect(await h.readServed(releaseRel(tcpdump))).not.to.equal(undefined);

    // forget: the next sync no longer keeps it.
    const forgot = await runCli(['forget', 'tcpdump'], h.env);
    expect(forgot.code, forgot.stderr).to.equal(0);
    expect(forgot.stdout).to.match(/forgot tcpdump \(24\.10\.4\)/);
    expect(await readLearned(new MirrorDir(h.mirrorDir))).to.deep.equal([]);
    const unknown = await runCli(['forget', 'tcpdump'], h.env);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.match(/tcpdump is not in the learned selection; it is empty/);
    expect((await h.sync()).exitCode).to.equal(0);
    expect(await h.readServed(releaseRel(tcpdump))).to.equal(undefined);
  });

  it('several routers asking at once share one upstream fetch', async () => {
    await start();
    const tcpdump = upstreamPathOf('tcpdump');
    h.upstream.resetLog();
    const replies = await Promise.all(Array.from({ length: 6 }, () => request(`${nginx?.url}/${tcpdump}`)));
    const expected = sha256(h.tree.files.get(tcpdump) as Buffer);
    for (const reply of replies) {
      expect(reply.status).to.equal(200);
      expect(sha256(reply.body)).to.equal(expected);
    }
    expect(fetchesOf(tcpdump)).to.equal(1);
  });

  it('refuses bytes that do not match the signed index: 502, nothing served, nothing kept', async () => {
    await start({ env: { MAX_RETRIES: '1' } });
    const tcpdump = upstreamPathOf('tcpdump');
    h.upstream.fault({ match: tcpdump, kind: 'corrupt' });
    const before = await listFiles(h.mirrorDir);
    const reply = await request(`${nginx?.url}/${tcpdump}`);
    expect(reply.status).to.equal(502);
    expect(reply.body.toString()).to.match(
      /^openwrt-mirror: refused tcpdump \(packages\/mipsel_24kc\/base\/tcpdump_.*\) from http:\/\/127\.0\.0\.1:\d+: its bytes do not match the signed index .*nothing of it was served/,
    );
    expect(await h.readServed(releaseRel(tcpdump))).to.equal(undefined);
    expect(await readLearned(new MirrorDir(h.mirrorDir))).to.deep.equal([]);
    // Nothing new anywhere in the mirror (the on-demand download directory is left empty).
    const after = (await listFiles(h.mirrorDir)).filter((f) => !f.startsWith('.mirror/ondemand/'));
    expect(after.filter((f) => !f.endsWith('.lock')).sort()).to.deep.equal(before.sort());
    // Remembered for a while: a router that asks again gets the same answer, and the upstream no request.
    h.upstream.clearFaults();
    h.upstream.resetLog();
    const again = await request(`${nginx?.url}/${tcpdump}`);
    expect(again.status).to.equal(502);
    expect(again.body.toString()).to.match(/a moment ago; asked again in \d+ s/);
    expect(h.upstream.requests).to.deep.equal([]);
  });

  it('remembers a failed fetch for a minute: routers retrying cost the upstream nothing more', async () => {
    await start({ env: { MAX_RETRIES: '0' } });
    const tcpdump = upstreamPathOf('tcpdump');
    h.upstream.fault({ match: tcpdump, kind: '503' });
    h.upstream.resetLog();
    for (let i = 0; i < 5; i++) {
      const reply = await request(`${nginx?.url}/${tcpdump}`);
      expect(reply.status).to.equal(404);
      expect(reply.body.toString()).to.match(
        /tcpdump is listed .* but not mirrored, and fetching it from .* failed/,
      );
    }
    expect(fetchesOf(tcpdump), 'one fetch for five routers').to.equal(1);
  });

  it('with the upstream down, a 404 that names the package and how to mirror it', async () => {
    await start({ env: { MAX_RETRIES: '0' } });
    const tcpdump = upstreamPathOf('tcpdump');
    h.upstream.fault({ match: tcpdump, kind: '503' });
    const reply = await request(`${nginx?.url}/${tcpdump}`);
    expect(reply.status).to.equal(404);
    expect(reply.body.toString()).to.match(
      /^openwrt-mirror: tcpdump is listed in the index of packages\/mipsel_24kc\/base \(release 24\.10\.4\) but not mirrored, and fetching it from http:\/\/127\.0\.0\.1:\d+ failed: .*503.*add tcpdump to OPTIONAL_PACKAGES/,
    );
    expect(reply.headers['cache-control']).to.equal('no-store');
  });

  it('ON_DEMAND=false: the same 404 with the way to mirror it, and no upstream request', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    ({ listener, nginx } = await serveWithOnDemand(
      h.config({ ON_DEMAND: 'false', ON_DEMAND_LISTEN: '127.0.0.1:0' }),
    ));
    const tcpdump = upstreamPathOf('tcpdump');
    h.upstream.resetLog();
    const reply = await request(`${nginx.url}/${tcpdump}`);
    expect(reply.status).to.equal(404);
    expect(reply.body.toString()).to.match(
      /tcpdump is listed .* but not mirrored, and ON_DEMAND=false\. To mirror it: add tcpdump to OPTIONAL_PACKAGES/,
    );
    expect(h.upstream.requests).to.deep.equal([]);
  });

  it('fetches only files a served index lists: anything else is a 404 or 400, and the tree is untouched', async () => {
    await start();
    h.upstream.resetLog();
    const before = await listFiles(h.mirrorDir);
    const asked = [
      // Not in the index, though the upstream may have it.
      '/releases/24.10.4/packages/mipsel_24kc/base/evil_1.0_mipsel_24kc.ipk',
      // Not a feed of the release, not a release served, not a package file.
      '/releases/24.10.4/packages/mipsel_24kc/nofeed/tcpdump_4.99.5-r1_mipsel_24kc.ipk',
      '/releases/23.05.5/packages/mipsel_24kc/base/tcpdump_4.99.5-r1_mipsel_24kc.ipk',
    ];
    for (const url of asked) {
      const reply = await request(`${nginx?.url}${url}`);
      expect(reply.status, url).to.equal(404);
      expect(reply.body.toString(), url).to.match(/^openwrt-mirror: /);
    }
    // Straight at the listener, past nginx's normalisation: climbing, hidden and encoded names.
    for (const url of [
      '/releases/24.10.4/%2e%2e/%2e%2e/etc/passwd.ipk',
      '/releases/24.10.4/packages/..%2f..%2f..%2fetc/x.ipk',
      '/releases/24.10.4/.mirror/pool/x.ipk',
      '/releases/%00/x.ipk',
      '/releases/24.10.4/packages/mipsel_24kc/base/%E0%A4%A.ipk',
      'http://evil.example/releases/24.10.4/x.ipk',
    ]) {
      const reply = await rawRequest(listener?.address.port as number, url);
      expect([400, 404], url).to.include(reply.status);
    }
    const post = await request(`http://127.0.0.1:${listener?.address.port}/releases/24.10.4/x.ipk`, {
      method: 'POST',
    });
    expect(post.status).to.equal(405);
    expect(h.upstream.requests, 'nothing was asked of the upstream').to.deep.equal([]);
    expect((await listFiles(h.mirrorDir)).filter((f) => !f.endsWith('.lock')).sort()).to.deep.equal(
      before.sort(),
    );
  });

  it('a worker that does not answer: nginx says plainly that the package is not mirrored', async () => {
    h = await createHarness();
    expect((await h.sync()).exitCode).to.equal(0);
    // The default: ONDEMAND_URL at a port where nothing listens.
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    const reply = await request(`${nginx.url}/${upstreamPathOf('tcpdump')}`);
    expect(reply.status).to.equal(404);
    expect(reply.body.toString()).to.match(
      /^openwrt-mirror: no such file here: it is not mirrored, and the worker that fetches listed packages on demand does not answer/,
    );
  });

  it('an apk router (25.12) gets a package outside the selection, checked for its identity', async () => {
    await start({ tree: { version: '25.12.0' } });
    const tcpdump = upstreamPathOf('tcpdump');
    expect(labClosure(h.tree).has(tcpdump)).to.equal(false);
    const wanted = new Set([...labClosure(h.tree), tcpdump]);
    const result = await apkInstallAll(nginx?.url as string, 'mirror.lab', h.keysDir, wanted);
    expect(result.problems).to.deep.equal([]);
    expect(result.fetched).to.equal(wanted.size);
    expect(await h.readServed(releaseRel(tcpdump))).not.to.equal(undefined);
    expect((await readLearned(new MirrorDir(h.mirrorDir))).map((p) => p.name)).to.deep.equal(['tcpdump']);
  });
});
