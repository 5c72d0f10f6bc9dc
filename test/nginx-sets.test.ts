/**
 * nginx in front of a mirror of several sets: each set's feed lines at /distfeeds/<release>/<target>/,
 * /distfeeds.conf and /distfeeds.list answering the lines where one set of that format is mirrored
 * and 300 with the per-set URLs where there are several, and what it says before the first sync.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { emptyStatus } from '../worker/status/status-file.js';
import { HOSTILE_HOSTS, type RunningNginx, rawRequest, request, startNginx } from './helpers/nginx.js';
import { createSetsHarness, type SetsHarness } from './helpers/sets-harness.js';
import { NODE_FEEDS } from './helpers/tree/index.js';

const OPKG = '24.10.4';
const APK = '25.12.0';
const MT7621 = 'ramips/mt7621';
const X86 = 'x86/64';

/** The body of a raw HTTP/1.1 reply, de-chunked when it came chunked. */
function bodyOf(text: string): string {
  const split = text.indexOf('\r\n\r\n');
  const head = text.slice(0, split);
  let rest = text.slice(split + 4);
  if (!/^transfer-encoding: chunked\r?$/im.test(head)) return rest;
  let body = '';
  for (;;) {
    const end = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, end), 16);
    if (!(size > 0)) return body;
    body += rest.slice(end + 2, end + 2 + size);
    rest = rest.slice(end + 2 + size + 2);
  }
}

describe('nginx serving several sets', function () {
  this.timeout(120_000);
  let h: SetsHarness;
  let nginx: RunningNginx;
  const get = (urlPath: string, headers: Record<string, string> = {}) =>
    request(`${nginx.url}${urlPath}`, { headers });

  before(async () => {
    h = await createSetsHarness({ releases: [{ version: OPKG }, { version: APK }], targets: [MT7621, X86] });
    // Two opkg sets and one apk set.
    const sets = [
      { release: OPKG, target: MT7621 },
      { release: OPKG, target: X86 },
      { release: APK, target: MT7621 },
    ];
    const { exitCode, report } = await h.sync(sets);
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    expect(exitCode).to.equal(0);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
  });

  after(async () => {
    await nginx?.stop();
    await h?.close();
  });

  it("serves each set's lines at /distfeeds/<release>/<target>/, with the host the router used", async () => {
    const reply = await get(`/distfeeds/${OPKG}/${X86}/distfeeds.conf`, { Host: 'mirror.lab:8080' });
    expect(reply.status).to.equal(200);
    expect(reply.headers['content-type']).to.match(/^text\/plain/);
    expect(reply.headers['cache-control']).to.equal('no-store');
    const lines = reply.body.toString().trim().split('\n');
    expect(lines.map((line) => line.split(' ')[1])).to.deep.equal([...NODE_FEEDS]);
    expect(lines[0]).to.equal(
      `src/gz openwrt_core http://mirror.lab:8080/releases/${OPKG}/targets/${X86}/packages`,
    );
    expect(lines[1]).to.equal(
      `src/gz openwrt_base http://mirror.lab:8080/releases/${OPKG}/packages/x86_64/base`,
    );

    const apk = await get(`/distfeeds/${APK}/${MT7621}/distfeeds.list`, { Host: '10.0.0.5' });
    expect(apk.status).to.equal(200);
    expect(apk.body.toString()).to.contain(
      `http://10.0.0.5/releases/${APK}/packages/mipsel_24kc/base/packages.adb\n`,
    );
  });

  it('answers /distfeeds.conf with 300 and the per-set URLs where several opkg sets are mirrored', async () => {
    const reply = await get('/distfeeds.conf', { Host: 'mirror.lab:8080' });
    expect(reply.status).to.equal(300);
    expect(reply.headers['content-type']).to.match(/^text\/plain/);
    expect(reply.headers['cache-control']).to.equal('no-store');
    const [comment, ...lines] = reply.body.toString().trim().split('\n');
    expect(comment).to.contain('setup.sh').and.contain('http://mirror.lab:8080/setup.sh');
    const urls = lines.map((line) => line.split('\t')[0]);
    expect(urls.sort()).to.deep.equal(
      [
        `http://mirror.lab:8080/distfeeds/${OPKG}/${MT7621}/distfeeds.conf`,
        `http://mirror.lab:8080/distfeeds/${OPKG}/${X86}/distfeeds.conf`,
      ].sort(),
    );
    // Each listed URL is the set's lines.
    for (const url of urls) expect((await get(new URL(url as string).pathname)).status).to.equal(200);
  });

  it('answers /distfeeds.list with the lines of the one apk set', async () => {
    const top = await get('/distfeeds.list', { Host: 'mirror.lab' });
    const own = await get(`/distfeeds/${APK}/${MT7621}/distfeeds.list`, { Host: 'mirror.lab' });
    expect(top.status).to.equal(200);
    expect(top.body.toString()).to.equal(own.body.toString());
  });

  it('says which sets it carries at /distfeeds/sets, and 404 with that hint for a set it does not', async () => {
    const sets = await get('/distfeeds/sets');
    expect(sets.status).to.equal(200);
    expect(sets.body.toString().trim().split('\n').sort()).to.deep.equal(
      [
        `${APK} ${MT7621} mipsel_24kc apk`,
        `${OPKG} ${MT7621} mipsel_24kc opkg`,
        `${OPKG} ${X86} x86_64 opkg`,
      ].sort(),
    );
    for (const missing of [
      `/distfeeds/${APK}/${X86}/distfeeds.list`,
      `/distfeeds/23.05.5/${MT7621}/distfeeds.conf`,
      // The right set in the other format's name.
      `/distfeeds/${APK}/${MT7621}/distfeeds.conf`,
    ]) {
      const reply = await get(missing);
      expect(reply.status, missing).to.equal(404);
      expect(reply.body.toString(), missing).to.contain('/distfeeds/sets');
      expect(reply.headers['cache-control']).to.equal('no-store');
    }
  });

  it('puts its own address, not a malformed Host, into the per-set lines and the list of sets', async () => {
    const own = `127.0.0.1:${nginx.port}`;
    let filledIn = 0;
    for (const host of HOSTILE_HOSTS) {
      for (const [urlPath, status] of [
        ['/distfeeds.conf', 300],
        [`/distfeeds/${OPKG}/${X86}/distfeeds.conf`, 200],
      ] as const) {
        const reply = await rawRequest(nginx.port, urlPath, { host });
        const what = `${urlPath} for Host: ${host}`;
        // nginx answers some of these with 400 itself; what matters is that no hostile text is served.
        expect([status, 400], what).to.include(reply.status);
        expect(reply.text, what).not.to.include('PWNED');
        if (reply.status === 400) continue;
        filledIn++;
        const body = bodyOf(reply.text);
        const lines = body.trim().split('\n');
        expect(lines.length, what).to.be.at.least(2);
        for (const line of lines.filter((l) => !l.startsWith('#')))
          expect(line, what).to.match(new RegExp(`(^src/gz \\S+ |^)http://${own}/`));
      }
    }
    expect(filledIn, 'hosts nginx let through').to.be.greaterThan(20);
  });

  it('serves nothing hidden or temporary below /distfeeds/', async () => {
    const dir = path.join(h.mirrorDir, 'distfeeds', OPKG, X86);
    await fs.writeFile(path.join(dir, '.distfeeds.conf'), 'hidden\n');
    await fs.mkdir(path.join(h.mirrorDir, 'distfeeds', '.x', 'a', 'b'), { recursive: true });
    await fs.writeFile(path.join(h.mirrorDir, 'distfeeds', '.x', 'a', 'b', 'distfeeds.conf'), 'hidden\n');
    try {
      expect((await get(`/distfeeds/${OPKG}/${X86}/.distfeeds.conf`)).status).to.equal(404);
      expect((await get('/distfeeds/.x/a/b/distfeeds.conf')).status).to.equal(404);
    } finally {
      await fs.rm(path.join(dir, '.distfeeds.conf'));
      await fs.rm(path.join(h.mirrorDir, 'distfeeds', '.x'), { recursive: true });
    }
  });
});

describe('nginx with sets, before the first sync has finished', () => {
  let dir: string;
  let nginx: RunningNginx;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-empty-sets-'));
    await fs.mkdir(path.join(dir, 'releases'));
    // A first sync under way: status.json is there (heartbeat, progress), nothing is published.
    await fs.writeFile(
      path.join(dir, 'status.json'),
      JSON.stringify({
        ...emptyStatus('https://downloads.openwrt.org'),
        worker: { heartbeatAt: new Date().toISOString() },
      }),
    );
    nginx = await startNginx({ mirrorRoot: dir });
  });

  after(async () => {
    await nginx?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('answers 503 for every kind of feed lines, and says why, although status.json is there', async () => {
    for (const urlPath of [
      '/distfeeds.conf',
      '/distfeeds.list',
      `/distfeeds/${OPKG}/${MT7621}/distfeeds.conf`,
      `/distfeeds/${APK}/${X86}/distfeeds.list`,
      '/distfeeds/sets',
    ]) {
      const reply = await request(`${nginx.url}${urlPath}`);
      expect(reply.status, urlPath).to.equal(503);
      expect(reply.headers['retry-after'], urlPath).to.equal('300');
      expect(reply.body.toString(), urlPath).to.contain('no sync has published yet');
    }
  });
});
