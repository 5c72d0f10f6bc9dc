/**
 * The landing page in a real browser (Chromium), served by the real nginx from a mirror the worker
 * synced: what a lab admin reads there — the sets, each set's feeds, the feed lines for a router of
 * each set — with the page's strict Content-Security-Policy in force.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { ingestAccessLog } from '../worker/downloads/ingest.js';
import { MirrorDir } from '../worker/publish/mirror-dir.js';
import type { StatusFile } from '../worker/status/status-file.js';
import { rotateAccessLog } from './helpers/access-log.js';
import { launchBrowser, openPage } from './helpers/browser.js';
import { opkgInstallAll } from './helpers/clients.js';
import { type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { serveWithOnDemand } from './helpers/on-demand.js';
import { createSetsHarness, type SetsHarness } from './helpers/sets-harness.js';
import { runCli } from './helpers/spawn-cli.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

const OPKG = '24.10.4';
const APK = '25.12.0';
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? os.tmpdir();

describe('landing page in a browser', function () {
  this.timeout(120_000);
  let browser: Browser;
  let h: SetsHarness;
  let nginx: RunningNginx;

  before(async () => {
    browser = await launchBrowser();
    h = await createSetsHarness({
      releases: [{ version: OPKG }, { version: APK }],
      targets: ['ramips/mt7621', 'x86/64'],
    });
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
  });

  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await h?.close();
  });

  it('shows every set, its feeds, and the feed lines of the set a router picks, with this server in them', async () => {
    const sets = [
      { release: OPKG, target: 'ramips/mt7621' },
      { release: OPKG, target: 'x86/64' },
      { release: APK, target: 'ramips/mt7621' },
    ];
    expect((await h.sync(sets)).exitCode).to.equal(0);
    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    await page.locator('#feeds').filter({ hasNotText: /^…$/ }).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'openwrt-mirror-page-sets.png'), fullPage: true });

    expect(await page.textContent('#summary'))
      .to.contain('3 sets')
      .and.contain(`${OPKG} x86/64`);
    const rows = await page.$$eval('#set-rows tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(rows.map((row) => `${row[0]} ${row[1]} ${row[2]} ${row[3]} ${row[4]}`).sort()).to.deep.equal(
      [
        `${APK} ramips/mt7621 mipsel_24kc apk, selective served`,
        `${OPKG} ramips/mt7621 mipsel_24kc opkg, selective served`,
        `${OPKG} x86/64 x86_64 opkg, selective served`,
      ].sort(),
    );
    // A table of feeds per set, under a heading naming it.
    const headings = await page.$$eval('#feeds-by-set h3', (hs) => hs.map((h3) => h3.textContent ?? ''));
    expect(headings).to.have.length(3);
    expect(headings.some((text) => text.startsWith(`${OPKG} x86/64 (x86_64`))).to.be.true;
    expect(
      await page.$$eval('#feeds-by-set table', (tables) => tables.map((t) => t.tBodies[0]?.rows.length)),
    ).to.deep.equal([7, 7, 7]);

    // The choice of set, and its lines with the address the browser used.
    expect(await page.isVisible('#feeds-set')).to.be.true;
    const options = await page.$$eval('#feeds-set option', (os) => os.map((o) => o.textContent));
    expect(options).to.have.members([`${OPKG} ramips/mt7621`, `${OPKG} x86/64`, `${APK} ramips/mt7621`]);
    const pick = async (name: string, shows: string) => {
      await page.selectOption('#feeds-set', { label: name });
      await page.locator('#feeds').filter({ hasText: shows }).waitFor();
    };
    await pick(`${OPKG} x86/64`, '/targets/x86/64/');
    const x86 = (await page.textContent('#feeds')) ?? '';
    expect(x86.trim().split('\n')).to.have.length(7);
    expect(x86).to.contain(`src/gz openwrt_core ${nginx.url}/releases/${OPKG}/targets/x86/64/packages`);
    expect(await page.textContent('#feeds-file')).to.equal('/etc/opkg/distfeeds.conf');
    expect(await page.getAttribute('#feeds-link', 'href')).to.equal(
      `/distfeeds/${OPKG}/x86/64/distfeeds.conf`,
    );
    await pick(`${APK} ramips/mt7621`, 'packages.adb');
    expect(await page.textContent('#feeds')).to.contain(
      `${nginx.url}/releases/${APK}/packages/mipsel_24kc/base/packages.adb`,
    );
    expect(await page.textContent('#feeds-file')).to.equal('/etc/apk/repositories.d/distfeeds.list');
    expect(errors, 'the browser reported no error (CSP included)').to.deep.equal([]);
    await page.close();
  });

  it('names the set of each failure of the last sync', async () => {
    const sets = [
      { release: OPKG, target: 'ramips/mt7621' },
      { release: OPKG, target: 'x86/64' },
    ];
    const core = h.set(OPKG, 'x86/64').feeds.find((feed) => feed.name === 'core');
    h.upstream.files.delete(`${core?.dir}/Packages.sig`);
    try {
      expect((await h.sync(sets)).exitCode).to.equal(1);
    } finally {
      h.upstream.setFiles(new Map(h.tree.files));
    }
    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    await page.waitForSelector('#problems li');
    const problems = await page.$$eval('#problems li.bad', (items) =>
      items.map((li) => li.textContent ?? ''),
    );
    expect(
      problems.some((text) => text.startsWith(`${OPKG} x86/64: `)),
      problems.join('\n'),
    ).to.be.true;
    expect(await page.textContent('#last-run')).to.contain('partial');
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it('shows one set as before: its name in the summary, its lines, no choice to make', async () => {
    expect((await h.sync([{ release: OPKG, target: 'x86/64' }])).exitCode).to.equal(0);
    const later = new Date(Date.now() + 48 * 3_600_000);
    expect((await h.sync([{ release: OPKG, target: 'x86/64' }], {}, { now: () => later })).exitCode).to.equal(
      0,
    );
    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    await page.locator('#feeds').filter({ hasNotText: /^…$/ }).waitFor();
    await page.screenshot({
      path: path.join(SCREENSHOTS, 'openwrt-mirror-page-one-set.png'),
      fullPage: true,
    });
    expect(await page.textContent('#summary')).to.match(
      /^OpenWrt 24\.10\.4 · x86\/64 · x86_64 · opkg · selective mode/,
    );
    expect(await page.isVisible('#feeds-set')).to.be.false;
    expect(await page.isVisible('#feeds-one')).to.be.true;
    expect(await page.textContent('#feeds')).to.contain(
      `${nginx.url}/releases/${OPKG}/targets/x86/64/packages`,
    );
    expect(await page.$$eval('#feeds-by-set h3', (hs) => hs.length)).to.equal(0);
    expect(errors).to.deep.equal([]);
    await page.close();
  });
});

describe('landing page in a browser, while things happen', function () {
  this.timeout(120_000);
  let browser: Browser;
  let h: Harness;
  let nginx: RunningNginx;

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await nginx?.stop();
    await h?.close();
  });

  it('follows a running sync with a progress bar that moves and a time left, then shows its result', async () => {
    h = await createHarness({
      upstream: { latencyMs: 20, bytesPerSecond: 150_000 },
      env: { CONCURRENCY: '2', OPENWRT_DEVICES: '' },
    });
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    const sync = h.sync({}, { progressIntervalMs: 250 });
    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    await page.locator('#progress').waitFor({ state: 'visible', timeout: 30_000 });
    await page.locator('#progress-text').filter({ hasText: 'left' }).waitFor({ timeout: 30_000 });
    const first = Number(await page.getAttribute('#progress-bar', 'value'));
    await page.screenshot({
      path: path.join(SCREENSHOTS, 'openwrt-mirror-page-progress.png'),
      fullPage: true,
    });
    const text = (await page.textContent('#progress-text')) ?? '';
    expect(text).to.match(/^Sync running: downloading 24\.10\.4 · \d+ of \d+ files, /);
    expect(text).to.match(/about \d+ s left/);
    await page.waitForTimeout(4500);
    const later = Number(await page.getAttribute('#progress-bar', 'value'));
    expect(later, 'the bar moved').to.be.greaterThan(first);
    expect((await sync).exitCode).to.equal(0);
    await page.locator('#progress').waitFor({ state: 'hidden', timeout: 10_000 });
    await page.locator('#last-run').filter({ hasText: 'success' }).waitFor({ timeout: 20_000 });
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it('charts the last runs and unfolds the failures of one', async () => {
    h = await createHarness();
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await h.sync({ OPENWRT_DEVICES: 'dlink_dir-1960-a2' })).exitCode).to.equal(1);
    expect((await h.sync()).exitCode).to.equal(0);
    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    await page.locator('#history-rows tr').nth(2).waitFor();
    // Two charts of three bars: duration and bytes.
    expect(
      await page.$$eval('#history-chart svg', (svgs) =>
        svgs.map((svg) => svg.querySelectorAll('rect').length),
      ),
    ).to.deep.equal([3, 3]);
    expect(
      await page.$$eval('#history-chart rect', (rects) => rects.map((r) => r.getAttribute('class'))),
    ).to.deep.equal(['ok', 'warn', 'ok', 'ok', 'warn', 'ok']);
    const rows = page.locator('#history-rows tr');
    expect(await rows.count()).to.equal(3);
    // Newest first; the partial run in the middle holds its failure, folded.
    const partial = rows.nth(1);
    expect(await partial.locator('summary').textContent()).to.equal('partial: 1 failure');
    const failure = partial.locator('li');
    expect(await failure.isVisible()).to.be.false;
    await partial.locator('summary').click();
    expect(await failure.isVisible()).to.be.true;
    expect(await failure.textContent()).to.contain('dlink_dir-1960-a2 is not a device profile');
    // The first run added what it serves: its changes unfold to a line each.
    const oldest = rows.nth(2).locator('td').nth(2);
    expect(await oldest.locator('summary').textContent()).to.match(/^\d+ added, 3 images$/);
    await oldest.locator('summary').click();
    expect(await oldest.locator('li').first().textContent()).to.match(/^\+ \S+ \S+ \(\w+, 24\.10\.4\)$/);
    expect(await rows.nth(0).locator('td').nth(2).textContent()).to.equal('none');
    await page.screenshot({
      path: path.join(SCREENSHOTS, 'openwrt-mirror-page-history.png'),
      fullPage: true,
    });
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it('lists the generations kept for rollback, marks the one served and a pin, and the packages learned on demand', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '', ON_DEMAND_LISTEN: '127.0.0.1:0' } });
    expect((await h.sync()).exitCode).to.equal(0);
    h.moveTo(1);
    expect((await h.sync()).exitCode).to.equal(0);
    const stack = await serveWithOnDemand(h.config());
    nginx = stack.nginx;
    try {
      const tcpdump = [...h.tree.files.keys()].find((f) => /\/tcpdump_[^/]*\.ipk$/.test(f)) as string;
      expect((await request(`${nginx.url}/${tcpdump}`)).status).to.equal(200);
      const { page, errors } = await openPage(browser, `${nginx.url}/`);
      const rows = page.locator('#generation-rows tr');
      await rows.nth(1).waitFor();
      expect(await rows.count()).to.equal(2);
      expect(await rows.nth(0).textContent()).to.match(/^24\.10\.4\d{8}T\d{6}Z-[0-9a-f]+.*served$/);
      expect(await rows.nth(1).textContent()).not.to.match(/served/);
      const learned = page.locator('#learned-rows tr');
      expect(await learned.first().textContent()).to.match(/^tcpdump24\.10\.4packages\/mipsel_24kc\/base/);
      expect(await learned.first().locator('a').getAttribute('href')).to.equal('/?q=tcpdump');
      expect((await runCli(['rollback'], h.env)).code).to.equal(0);
      await page.reload();
      await page.locator('#generation-rows tr', { hasText: 'pinned by rollback' }).waitFor();
      // The two sections, from the first heading to the end of the learned table.
      const top = await page.locator('h2', { hasText: 'Generations to go back to' }).boundingBox();
      const end = await page.locator('#learned-rows').boundingBox();
      expect(top && end, 'both sections are on the page').to.be.ok;
      if (top && end) {
        await page.screenshot({
          path: path.join(SCREENSHOTS, 'openwrt-mirror-page-generations.png'),
          fullPage: true,
          clip: { x: 0, y: top.y - 16, width: 1100, height: end.y + end.height - top.y + 32 },
        });
      }
      expect(errors).to.deep.equal([]);
      await page.close();
    } finally {
      await stack.listener.close();
    }
  });

  it('says in red that the worker is not running, and which configuration it refused', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    expect((await h.sync()).exitCode).to.equal(0);
    const file = path.join(h.mirrorDir, 'status.json');
    const status = JSON.parse(await fs.readFile(file, 'utf8')) as StatusFile;
    const fiveMinutesAgo = new Date(Date.now() - 300_000).toISOString();
    await fs.writeFile(
      file,
      JSON.stringify({
        ...status,
        worker: {
          heartbeatAt: fiveMinutesAgo,
          heartbeatSeconds: 30,
          configError: 'RATE_LIMIT="fast" is not valid: expected a number >= 0.001 and <= 1000',
        },
      }),
    );
    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    const line = page.locator('#worker-state');
    await line.waitFor({ state: 'visible' });
    // A loaded machine may take a few seconds from writing the file to the page reading it.
    expect(await line.textContent())
      .to.contain('The worker refused its configuration: RATE_LIMIT="fast" is not valid')
      .and.match(/Worker not running: its last heartbeat was 5 min \d s ago/);
    expect(
      await line.evaluate(
        (element) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(
            element,
          ).color,
      ),
    ).to.equal('rgb(170, 17, 17)');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'openwrt-mirror-page-worker.png') });

    // A live worker, nothing refused: no red line.
    await fs.writeFile(
      file,
      JSON.stringify({ ...status, worker: { heartbeatAt: new Date().toISOString(), heartbeatSeconds: 30 } }),
    );
    await page.reload({ waitUntil: 'networkidle' });
    expect(await page.isVisible('#worker-state')).to.be.false;
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it('shows the packages routers fetched this week and those they asked for in vain, with the line that adds them', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    const logDir = path.join(h.root, 'access-log');
    await fs.mkdir(logDir);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir, accessLogDir: logDir });
    expect((await h.sync()).exitCode).to.equal(0);
    const wanted = labClosure(h.tree);
    const round = await opkgInstallAll(nginx.url, 'mirror.lab', h.signer.publicKeyFile, wanted);
    expect(round.problems).to.deep.equal([]);
    // tcpdump: listed in the signed index, not in this selective mirror. Asked for 4 times.
    const tcpdump = [...h.tree.files.keys()].find((f) => /\/tcpdump_[^/]*\.ipk$/.test(f)) as string;
    for (let i = 0; i < 4; i++) expect((await request(`${nginx.url}/${tcpdump}`)).status).to.equal(404);
    // python3 fetched twice more: the most fetched.
    const python3 = [...wanted].find((f) => /\/python3_[^/]*\.ipk$/.test(f)) as string;
    for (let i = 0; i < 2; i++) expect((await request(`${nginx.url}/${python3}`)).status).to.equal(200);
    rotateAccessLog(logDir, nginx);
    await ingestAccessLog(new MirrorDir(h.mirrorDir), {
      logDir,
      timeZone: 'UTC',
      upstream: h.upstream.url,
    });

    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    await page.locator('#downloads-info').filter({ hasText: 'Since' }).waitFor();
    expect(await page.textContent('#downloads-info'))
      .to.contain(`${wanted.size + 2} packages fetched`)
      .and.contain('1 client, 1 update')
      .and.contain('4 not found');
    const top = await page.$$eval('#top-rows tr', (trs) =>
      trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
    );
    expect(top).to.have.length(20);
    expect(top[0]?.[0]).to.equal('python3');
    expect(top[0]?.[2]).to.equal('3');
    expect(await page.getAttribute('#top-rows a >> nth=0', 'href')).to.equal('/?q=python3');
    const missing = page.locator('#missing-rows tr');
    await missing.filter({ hasText: 'listed in the index' }).waitFor();
    expect(await missing.count()).to.equal(1);
    expect(await missing.first().textContent())
      .to.contain('tcpdump')
      .and.contain('24.10.4 base')
      .and.contain('4');
    const lab = h.config().sets[0]?.optional ?? [];
    expect(await page.textContent('#missing-how pre')).to.equal(
      `OPTIONAL_PACKAGES=${[...lab, 'tcpdump'].join(',')}`,
    );
    expect(await page.locator('#downloads-chart svg').count()).to.equal(2);
    await page.locator('#downloads-info').scrollIntoViewIfNeeded();
    await page.screenshot({
      path: path.join(SCREENSHOTS, 'openwrt-mirror-page-downloads.png'),
      fullPage: true,
    });
    expect(errors).to.deep.equal([]);

    // On a phone: nothing reaches past the screen; only the boxes of long lines (pre) and wide
    // tables scroll sideways, within themselves.
    await page.setViewportSize({ width: 390, height: 844 });
    // A string: tsx would wrap named functions in a helper the page does not have.
    const wide = (await page.evaluate(`(() => {
      const fits = (el) => el.getBoundingClientRect().right <= window.innerWidth + 1;
      const scrollBox = (el) => {
        const box = el.parentElement && el.parentElement.closest('pre, table');
        return box && fits(box) && getComputedStyle(box).overflowX === 'auto';
      };
      return [...document.body.querySelectorAll('*')]
        .filter((el) => !fits(el) && !scrollBox(el))
        .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''));
    })()`)) as string[];
    expect(wide).to.deep.equal([]);
    expect(await page.evaluate('document.documentElement.scrollWidth')).to.be.at.most(390);
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'openwrt-mirror-page-phone.png') });
    await page.close();
  });
});

describe('landing page in a browser: finding a package', function () {
  this.timeout(120_000);
  let browser: Browser;
  let h: Harness;
  let nginx: RunningNginx;

  before(async () => {
    browser = await launchBrowser();
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    expect((await h.sync()).exitCode).to.equal(0);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await h?.close();
  });

  const names = (page: Page) =>
    page.$$eval('#results .name', (spans) => spans.map((s) => s.textContent ?? ''));

  it('finds a package by a word of its description, by its name with a typo, and keeps the search in the address', async () => {
    const { page, errors } = await openPage(browser, `${nginx.url}/`);
    await page.locator('#search-info').filter({ hasText: 'Type to search' }).waitFor();
    await page.fill('#q', 'packet');
    await page.locator('#results li').first().waitFor();
    // libpcap1 by its description ("network packet capture"), tcpdump through it.
    const found = await names(page);
    expect(found[0]).to.equal('libpcap1');
    expect(found).to.include.members(['tcpdump', 'tcpdump-mini']);
    const tcpdump = page
      .locator('#results li')
      .filter({ has: page.locator('.name', { hasText: /^tcpdump$/ }) });
    expect(await tcpdump.textContent()).to.contain('found through libpcap1, which it depends on');
    expect(new URL(page.url()).searchParams.get('q')).to.equal('packet');
    // One typo in a name is forgiven.
    await page.fill('#q', 'tcpdmp');
    await page
      .locator('#results .name')
      .filter({ hasText: /^tcpdump$/ })
      .waitFor();
    expect((await names(page)).slice(0, 2).sort()).to.deep.equal(['tcpdump', 'tcpdump-mini']);
    // Every word must match.
    await page.fill('#q', 'tcpdump minimal');
    await page.locator('#search-info').filter({ hasText: '1 package of' }).waitFor();
    expect(await names(page)).to.deep.equal(['tcpdump-mini']);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'openwrt-mirror-page-search.png'), fullPage: true });
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it('opens with a search done from /?q=, links the dependencies, and offers the download', async () => {
    const { page, errors } = await openPage(browser, `${nginx.url}/?q=tcpdump-mini`);
    const first = page.locator('#results li').first();
    await first.waitFor();
    expect(await page.inputValue('#q')).to.equal('tcpdump-mini');
    expect(await first.locator('.name').textContent()).to.equal('tcpdump-mini');
    expect(await first.textContent())
      .to.contain('on this mirror')
      .and.contain('Network monitoring');
    const download = await first.locator('a', { hasText: 'download' }).getAttribute('href');
    expect(download).to.match(/^\/releases\/24\.10\.4\/packages\/mipsel_24kc\/base\/tcpdump-mini_.*\.ipk$/);
    const fetched = await request(`${nginx.url}${download}`);
    expect(fetched.status).to.equal(200);
    // A dependency is a link that searches for it.
    await first.locator('.deps a', { hasText: 'libpcap1' }).click();
    await page
      .locator('#results .name')
      .first()
      .filter({ hasText: /^libpcap1$/ })
      .waitFor();
    expect(new URL(page.url()).searchParams.get('q')).to.equal('libpcap1');
    expect(errors).to.deep.equal([]);
    await page.close();
  });

  it('says plainly that a package is not on this mirror, and gives the .env line that adds it', async () => {
    const { page } = await openPage(browser, `${nginx.url}/?q=tcpdump`);
    const full = page.locator('#results li').filter({ has: page.locator('.name', { hasText: /^tcpdump$/ }) });
    await full.waitFor();
    expect(await full.textContent()).to.contain('not on this mirror');
    const line = (await full.locator('pre').textContent()) ?? '';
    const lab = h.config().sets[0]?.optional ?? [];
    expect(line).to.equal(`OPTIONAL_PACKAGES=${[...lab, 'tcpdump'].join(',')}`);
    expect(await full.locator('a', { hasText: 'download' }).count()).to.equal(0);
    await page.close();
  });

  it('stays quick with a full mirror of 12,000 packages: the first result and the bytes loaded are measured', async () => {
    const file = path.join(h.mirrorDir, 'search/24.10.4/ramips/mt7621/packages.json');
    const real = JSON.parse(await fs.readFile(file, 'utf8')) as { packages: unknown[] };
    const words = [
      'network',
      'daemon',
      'library',
      'utility',
      'kernel',
      'module',
      'support',
      'wireless',
      'tool',
    ];
    const packages = Array.from({ length: 12_000 }, (_, i) => ({
      n: `pkg-${i}-${words[i % words.length]}`,
      v: `1.${i % 50}.${i % 7}-r1`,
      f: i % 5,
      s: 1000 + i,
      d: `A ${words[(i * 7) % words.length]} ${words[(i * 3) % words.length]} for the lab, number ${i}`,
      p: ['libc', `pkg-${(i + 1) % 12_000}-${words[(i + 1) % words.length]}`],
      u: `pkg-${i}_1.0-r1_mipsel_24kc.ipk`,
      m: i % 10 === 0 ? 1 : 0,
    }));
    await fs.writeFile(file, JSON.stringify({ ...real, packages }));
    try {
      const page = await browser.newPage();
      const listResponse = page.waitForResponse((response) => response.url().includes('/search/'));
      const started = Date.now();
      await page.goto(`${nginx.url}/?q=wireles+daemon`);
      await page.locator('#results li').first().waitFor();
      const firstResult = Date.now() - started;
      const info = (await page.textContent('#search-info')) ?? '';
      expect(info).to.match(/^\d+ packages of 24\.10\.4 ramips\/mt7621 match; the first 50:/);
      // Typing on: each keystroke searches the whole list again.
      const typed = Date.now();
      await page.fill('#q', 'wireless daemon lab');
      await page.locator('#search-info').filter({ hasText: 'match' }).waitFor();
      const again = Date.now() - typed;
      const response = await listResponse;
      expect(response.headers()['content-encoding']).to.equal('gzip');
      await response.finished();
      const transferred = (await response.request().sizes()).responseBodySize;
      const raw = (await fs.stat(file)).size;
      console.log(
        `      search over 12,000 packages: list ${(raw / 1e6).toFixed(2)} MB, ${(transferred / 1e3).toFixed(0)} kB gzipped over the wire; first result ${firstResult} ms after navigation, a new query ${again} ms`,
      );
      expect(transferred)
        .to.be.greaterThan(0)
        .and.lessThan(raw / 4);
      await page.close();
    } finally {
      await fs.writeFile(file, JSON.stringify(real));
    }
  });

  it('has the set-up command and the feed lines in the HTML itself, for a browser without JavaScript', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${nginx.url}/`);
    expect(await page.textContent('#setup-command')).to.equal(`wget -qO- ${nginx.url}/setup.sh | sh`);
    const lines = ((await page.textContent('#feeds')) ?? '').trim().split('\n');
    expect(lines).to.have.length(7);
    expect(lines[0]).to.equal(
      `src/gz openwrt_core ${nginx.url}/releases/24.10.4/targets/ramips/mt7621/packages`,
    );
    await context.close();
  });
});
