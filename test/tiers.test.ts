/**
 * Tiered mirrors: central mirrors the (fake) internet, a site mirrors central through central's
 * nginx, a router installs from the site. The tree stays upstream-identical at every tier, so the
 * router verifies with OpenWrt's own keys; freshness travels up as /lastsync and /trace.json.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { type Config, loadConfig } from '../worker/config.js';
import type { OnDemandListener } from '../worker/ondemand/listener.js';
import { runSync } from '../worker/sync/run.js';
import { opkgInstallAll } from './helpers/clients.js';
import { type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { serveWithOnDemand } from './helpers/on-demand.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

describe('tiered mirrors: internet → central → site → router', function () {
  this.timeout(180_000);
  let h: Harness;
  let central: RunningNginx;
  let site: RunningNginx | undefined;
  let listener: OnDemandListener | undefined;

  /** A site mirroring central, in its own directory, with `env` on top. */
  const siteEnv = (name: string, env: Record<string, string> = {}) => ({
    ...h.env,
    UPSTREAM_URL: central.url,
    MIRROR_DIR: path.join(h.root, name),
    ...env,
  });
  const siteConfig = (name: string, env: Record<string, string> = {}): Config =>
    loadConfig(siteEnv(name, env), h.root);

  before(async () => {
    h = await createHarness({ env: { ON_DEMAND_LISTEN: '127.0.0.1:0' } });
    expect((await h.sync()).exitCode).to.equal(0);
    ({ listener, nginx: central } = await serveWithOnDemand(h.config()));
  });
  afterEach(async () => {
    await site?.stop();
    site = undefined;
  });
  after(async () => {
    await listener?.close();
    await central?.stop();
    await h?.close();
  });

  it('a site mirrors central without a request to the internet, and its router verifies everything', async () => {
    h.upstream.resetLog();
    const run = await runSync(siteConfig('site-a'));
    expect(run.exitCode, run.report.failures.map((f) => f.reason).join('\n')).to.equal(0);
    expect(h.upstream.requests, 'the site never reached past central').to.deep.equal([]);
    site = await startNginx({ mirrorRoot: path.join(h.root, 'site-a') });
    const wanted = labClosure(h.tree);
    const router = await opkgInstallAll(site.url, 'site.lab', h.signer.publicKeyFile, wanted);
    expect(router.problems).to.deep.equal([]);
    expect(router.fetched).to.equal(wanted.size);
    // Byte-identical indexes at both tiers: the signatures are OpenWrt's own.
    const rel = 'releases/24.10.4/packages/mipsel_24kc/base/Packages.gz';
    expect((await request(`${site.url}/${rel}`)).body.equals(h.tree.files.get(rel) as Buffer)).to.equal(true);
  });

  it('serves /lastsync and /trace.json, and a site shows its upstream’s last sync', async () => {
    const lastsync = await request(`${central.url}/lastsync`);
    expect(lastsync.status).to.equal(200);
    expect(lastsync.headers['content-type']).to.match(/^text\/plain/);
    const epoch = Number(lastsync.body.toString().trim());
    expect(Math.abs(epoch * 1000 - Date.now())).to.be.below(10 * 60 * 1000);
    const trace = JSON.parse((await request(`${central.url}/trace.json`)).body.toString());
    expect(trace).to.include({ software: 'openwrt-mirror', upstream: h.upstream.url, lastSyncEpoch: epoch });
    expect(trace.generations['24.10.4']).to.match(/^[0-9TZ-]+/);
    expect(trace.version).to.match(/^\d+\.\d+\.\d+/);

    const run = await runSync(siteConfig('site-b'));
    expect(run.exitCode).to.equal(0);
    const status = JSON.parse(await fs.readFile(path.join(h.root, 'site-b', 'status.json'), 'utf8'));
    expect(Date.parse(status.mirror.upstreamLastSync) / 1000).to.equal(epoch);
    const text = await runCli(['status'], siteEnv('site-b'));
    expect(text.stdout).to.match(/upstream synced\s+\S+ \(.* ago\)\n/);
    expect(run.report.warnings.join('\n')).not.to.match(/last synced/);
  });

  it('warns when the upstream last synced more than a day ago, and fails nothing for it', async () => {
    const file = path.join(h.mirrorDir, 'lastsync');
    const real = await fs.readFile(file);
    await fs.writeFile(file, `${Math.floor(Date.now() / 1000) - 2 * 86_400}\n`);
    try {
      const run = await runSync(siteConfig('site-c'));
      expect(run.exitCode).to.equal(0);
      expect(run.report.warnings.join('\n')).to.match(
        /the upstream http:\/\/127\.0\.0\.1:\d+ last synced 48 h 0 min ago \(.*\): this mirror can be no fresher/,
      );
      const text = await runCli(['status'], siteEnv('site-c'));
      expect(text.stdout).to.match(/more than a day ago: this mirror can be no fresher/);
    } finally {
      await fs.writeFile(file, real);
    }
  });

  it('a site that asks for more than central holds gets it through central’s on-demand', async () => {
    const tcpdump = [...h.tree.files.keys()].find((f) => /\/tcpdump_[^/]*\.ipk$/.test(f)) as string;
    expect(await h.readServed(tcpdump.split('/').slice(2).join('/'))).to.equal(undefined);
    h.upstream.resetLog();
    const run = await runSync(siteConfig('site-d', { REQUIRED_PACKAGES: 'tcpdump' }));
    expect(run.exitCode, run.report.failures.map((f) => f.reason).join('\n')).to.equal(0);
    expect(h.upstream.requests.map((r) => r.path)).to.deep.equal([tcpdump]);
    const served = await fs.readFile(path.join(h.root, 'site-d', tcpdump));
    expect(served.equals(h.tree.files.get(tcpdump) as Buffer)).to.equal(true);
  });

  it('without on-demand at central, the site names the package central lacks', async () => {
    // A package the index lists that central does not hold (nor learned above).
    const held = labClosure(h.tree);
    const lacking = [...h.tree.files.keys()]
      .filter(
        (f) =>
          f.includes('/packages/mipsel_24kc/base/') &&
          f.endsWith('.ipk') &&
          !held.has(f) &&
          !f.includes('/tcpdump_'),
      )
      .sort()[0] as string;
    const name = /\/([^/]+?)_[^_/]+_mipsel_24kc\.ipk$/.exec(lacking)?.[1] as string;
    expect(await h.readServed(lacking.split('/').slice(2).join('/'))).to.equal(undefined);
    const plain = await startNginx({ mirrorRoot: h.mirrorDir });
    try {
      const run = await runSync(
        loadConfig({ ...siteEnv('site-e', { REQUIRED_PACKAGES: name }), UPSTREAM_URL: plain.url }, h.root),
      );
      expect(run.exitCode).to.equal(1);
      const failures = run.report.failures.map((f) => `${f.package ?? ''}: ${f.reason}`).join('\n');
      expect(failures).to.include(path.basename(lacking));
      expect(failures).to.match(/404/);
    } finally {
      await plain.stop();
    }
  });
});
