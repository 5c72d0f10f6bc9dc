/**
 * nginx/setup.sh as a node runs it: fetched from the real nginx, run by busybox sh with nothing but
 * busybox applets on PATH (wget included), on a fake router root.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { CERT_FILE, ensureSelfSigned } from '../worker/schedule/tls.js';
import {
  FEEDS,
  HOSTILE_HOSTS,
  PLACEHOLDER,
  type RunningNginx,
  request,
  startNginx,
  writeServedTree,
} from './helpers/nginx.js';
import { busyboxBin, busyboxSh, LAB_ROUTER, openwrtRelease, type RouterInfo } from './helpers/router.js';
import { createSetsHarness, type SetsHarness } from './helpers/sets-harness.js';
import { startTlsNginx, type TlsNginx } from './helpers/tls-nginx.js';

const ORIGINAL_FEEDS = `${FEEDS.map((feed) => `src/gz ${feed.name} https://downloads.openwrt.org/${feed.dir}`).join('\n')}\n`;

describe('setup.sh on a router (busybox sh)', () => {
  let work: string;
  let bin: string;
  let nginx: RunningNginx;
  let script: string;

  const sh = (args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) =>
    busyboxSh(bin, args, { cwd: work, ...options });
  const setup = (...args: string[]) => sh([script, ...args]);

  const opkgRouter = async (name: string, router: RouterInfo = LAB_ROUTER) => {
    const root = path.join(work, name);
    await fs.mkdir(path.join(root, 'etc/opkg/keys'), { recursive: true });
    await fs.writeFile(path.join(root, 'etc/openwrt_release'), openwrtRelease(router));
    await fs.writeFile(path.join(root, 'etc/opkg/distfeeds.conf'), ORIGINAL_FEEDS);
    await fs.writeFile(
      path.join(root, 'etc/opkg/customfeeds.conf'),
      '# add your custom package feeds here\n',
    );
    return {
      root,
      feeds: path.join(root, 'etc/opkg/distfeeds.conf'),
      backup: path.join(root, 'etc/opkg/distfeeds.conf.orig'),
    };
  };
  const mirrorLines = (url = nginx.url) =>
    FEEDS.map((feed) => `src/gz ${feed.name} ${url}/${feed.dir}`)
      .join('\n')
      .concat('\n');
  const read = (file: string) => fs.readFile(file, 'utf8');
  /** The one-liner a user runs, with the Host header of their choice (`curl -H 'Host: …' | sh`). */
  const oneLinerWithHost = (url: string, host: string, root: string, cwd: string) =>
    sh(['-c', 'wget -qO- --header "Host: $HOST_HEADER" "$URL/setup.sh" | sh -s -- --root "$ROOT"'], {
      cwd,
      env: { HOST_HEADER: host, URL: url, ROOT: root },
    });
  /** Every file named PWNED under the test's directory: what a hostile Host's command would make. */
  const pwned = async () =>
    (await fs.readdir(work, { recursive: true })).filter((name) => path.basename(name) === 'PWNED');

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-setup-'));
    bin = await busyboxBin(work);

    await writeServedTree(path.join(work, 'mirror'));
    nginx = await startNginx({ mirrorRoot: path.join(work, 'mirror') });
    script = path.join(work, 'setup.sh');
    const served = await request(`${nginx.url}/setup.sh`);
    expect(served.status).to.equal(200);
    await fs.writeFile(script, served.body);
  });

  after(async () => {
    await nginx?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  it('backs up the original once and writes feed lines that resolve through nginx', async () => {
    const router = await opkgRouter('first');
    const run = await setup('--root', router.root);
    expect(run.code, run.stderr).to.equal(0);
    expect(await read(router.backup)).to.equal(ORIGINAL_FEEDS);
    expect(await read(router.feeds)).to.equal(mirrorLines());
    expect(run.stdout).to.include(`backed up ${router.feeds}`);
    expect(run.stdout).to.include(nginx.url);

    // What opkg update then fetches for every feed.
    for (const line of (await read(router.feeds)).trim().split('\n')) {
      const feedUrl = line.split(' ')[2] as string;
      for (const file of ['Packages.gz', 'Packages.sig']) {
        expect((await request(`${feedUrl}/${file}`)).status, `${feedUrl}/${file}`).to.equal(200);
      }
    }
  });

  it('changes nothing when run a second time', async () => {
    const router = await opkgRouter('twice');
    expect((await setup('--root', router.root)).code).to.equal(0);
    const before = await Promise.all([fs.stat(router.feeds), fs.stat(router.backup)]);

    const again = await setup('--root', router.root);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.include('nothing to do');
    expect(await read(router.feeds)).to.equal(mirrorLines());
    expect(await read(router.backup)).to.equal(ORIGINAL_FEEDS);
    const after = await Promise.all([fs.stat(router.feeds), fs.stat(router.backup)]);
    expect(after.map((stat) => stat.mtimeMs)).to.deep.equal(before.map((stat) => stat.mtimeMs));
    expect((await fs.readdir(path.dirname(router.feeds))).sort()).to.deep.equal([
      'customfeeds.conf',
      'distfeeds.conf',
      'distfeeds.conf.orig',
      'keys',
    ]);
  });

  it('never overwrites an existing backup', async () => {
    const router = await opkgRouter('old-backup');
    await fs.writeFile(router.backup, 'the very first original\n');
    const run = await setup('--root', router.root);
    expect(run.code, run.stderr).to.equal(0);
    expect(await read(router.backup)).to.equal('the very first original\n');
    expect(await read(router.feeds)).to.equal(mirrorLines());
  });

  it('--restore puts the original bytes back, and a second --restore changes nothing', async () => {
    const router = await opkgRouter('restore');
    expect((await setup('--root', router.root)).code).to.equal(0);

    const restored = await setup('--restore', '--root', router.root);
    expect(restored.code, restored.stderr).to.equal(0);
    expect(await read(router.feeds)).to.equal(ORIGINAL_FEEDS);
    expect(existsSync(router.backup)).to.equal(false);

    const again = await setup('--restore', '--root', router.root);
    expect(again.code).to.equal(0);
    expect(again.stdout).to.include('nothing to restore');
    expect(await read(router.feeds)).to.equal(ORIGINAL_FEEDS);
  });

  it('works as the one-liner: wget -qO- http://SERVER/setup.sh | sh', async () => {
    const router = await opkgRouter('one-liner');
    const run = await sh(['-c', `wget -qO- ${nginx.url}/setup.sh | sh -s -- --root ${router.root}`]);
    expect(run.code, run.stderr).to.equal(0);
    expect(await read(router.feeds)).to.equal(mirrorLines());
  });

  it("runs nothing a hostile Host holds: the script it gets points at the server's own address", async () => {
    let served = 0;
    for (const [index, host] of HOSTILE_HOSTS.entries()) {
      const router = await opkgRouter(`hostile-${index}`);
      const cwd = path.join(work, `hostile-${index}-cwd`);
      await fs.mkdir(cwd);
      const run = await oneLinerWithHost(nginx.url, host, router.root, cwd);
      expect(await pwned(), host).to.deep.equal([]);
      // nginx refuses some of these Hosts outright; the others get a script for its own address.
      if ((await request(`${nginx.url}/setup.sh`, { headers: { Host: host } })).status !== 200) {
        expect(await read(router.feeds), host).to.equal(ORIGINAL_FEEDS);
        continue;
      }
      served++;
      expect(run.code, `${host}: ${run.stderr}`).to.equal(0);
      expect(await read(router.feeds), host).to.equal(mirrorLines());
    }
    expect(served, 'hostile Hosts nginx let through').to.be.greaterThan(8);
  });

  it('an IPv6 server puts its own bracketed address in the script a hostile Host gets', async () => {
    const v6 = await startNginx({ mirrorRoot: path.join(work, 'mirror'), address: '::1' });
    try {
      const router = await opkgRouter('hostile-v6');
      const run = await oneLinerWithHost(v6.url, HOSTILE_HOSTS[0] as string, router.root, work);
      expect(await pwned()).to.deep.equal([]);
      expect(run.code, run.stderr).to.equal(0);
      expect(await read(router.feeds)).to.equal(mirrorLines(`http://[::1]:${v6.port}`));
    } finally {
      await v6.stop();
    }
  });

  it('refuses a mirror URL with characters no URL needs, and changes nothing', async () => {
    const router = await opkgRouter('bad-url');
    for (const url of [
      'http://x$(touch PWNED)',
      'http://x`touch PWNED`',
      "http://x';touch PWNED;'",
      'http://x";touch PWNED;"',
      'http://mirror.lab:8080;touch PWNED',
      'http://mirror lab:8080',
      'http://mirror.lab:8080\ntouch PWNED',
      'http://mirror.lab:8080/a\\b',
    ]) {
      const run = await setup('--root', router.root, '--mirror', url);
      expect(run.code, url).to.equal(1);
      expect(run.stderr, url).to.include('has characters no mirror URL needs');
      expect(await read(router.feeds), url).to.equal(ORIGINAL_FEEDS);
      expect(await fs.readdir(path.dirname(router.feeds)), url).to.have.members([
        'customfeeds.conf',
        'distfeeds.conf',
        'keys',
      ]);
    }
    expect(await pwned()).to.deep.equal([]);
  });

  it('leaves the router untouched and fails when the mirror answers with an error', async () => {
    const router = await opkgRouter('error');
    const run = await setup('--root', router.root, '--mirror', `${nginx.url}/no-such-mirror`);
    expect(run.code).not.to.equal(0);
    expect(run.stderr).to.include('could not fetch');
    expect(await read(router.feeds)).to.equal(ORIGINAL_FEEDS);
    expect(await fs.readdir(path.dirname(router.feeds))).to.have.members([
      'customfeeds.conf',
      'distfeeds.conf',
      'keys',
    ]);
  });

  it('leaves the router untouched and fails when the mirror has not synced yet', async () => {
    const empty = await startNginx({ mirrorRoot: path.join(work, 'empty') });
    try {
      const router = await opkgRouter('unsynced');
      const run = await setup('--root', router.root, '--mirror', empty.url);
      expect(run.code).not.to.equal(0);
      expect(await read(router.feeds)).to.equal(ORIGINAL_FEEDS);
      expect(existsSync(router.backup)).to.equal(false);
    } finally {
      await empty.stop();
    }
  });

  it('leaves the router untouched and fails when the mirror sends something that is not feed lines', async () => {
    const bodies = {
      'a captive portal page': '<html><body>Please log in</body></html>\n',
      'an empty file': '',
      'lines nginx did not fill in': `src/gz openwrt_core ${PLACEHOLDER}/releases/24.10.4/targets/ramips/mt7621/packages\n`,
      'feed lines followed by junk': `src/gz openwrt_core http://x/releases/24.10.4/targets/ramips/mt7621/packages\n<html>\n`,
    };
    for (const [what, body] of Object.entries(bodies)) {
      // A mirror that carries the router's set, and answers its lines with the body.
      const server = http.createServer((req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(req.url === '/distfeeds/sets' ? '24.10.4 ramips/mt7621 mipsel_24kc opkg\n' : body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const router = await opkgRouter(`garbage-${Object.keys(bodies).indexOf(what)}`);
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const run = await setup('--root', router.root, '--mirror', url);
        expect(run.code, what).not.to.equal(0);
        expect(run.stderr, what).to.include('is unchanged').and.include('/distfeeds/24.10.4/ramips/mt7621/');
        expect(await read(router.feeds), what).to.equal(ORIGINAL_FEEDS);
        expect(await fs.readdir(path.dirname(router.feeds)), what).to.have.members([
          'customfeeds.conf',
          'distfeeds.conf',
          'keys',
        ]);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }
  });

  it('sets up an apk router (25.12) from /distfeeds.list', async () => {
    const list = ['base', 'luci'].map(
      (feed) => `/releases/25.12.0/packages/mipsel_24kc/${feed}/packages.adb`,
    );
    const setLines = path.join(work, 'mirror/distfeeds/25.12.0/ramips/mt7621/distfeeds.list');
    await fs.mkdir(path.dirname(setLines), { recursive: true });
    await fs.writeFile(setLines, list.map((line) => `${PLACEHOLDER}${line}\n`).join(''));
    const sets = path.join(work, 'mirror/distfeeds/sets');
    const opkgOnly = await read(sets);
    await fs.writeFile(sets, `${opkgOnly}25.12.0 ramips/mt7621 mipsel_24kc apk\n`);
    const root = path.join(work, 'apk-router');
    const feeds = path.join(root, 'etc/apk/repositories.d/distfeeds.list');
    const original = list.map((line) => `https://downloads.openwrt.org${line}\n`).join('');
    await fs.mkdir(path.dirname(feeds), { recursive: true });
    await fs.writeFile(feeds, original);
    await fs.writeFile(
      path.join(root, 'etc/openwrt_release'),
      openwrtRelease({ ...LAB_ROUTER, release: '25.12.0' }),
    );
    try {
      const run = await setup('--root', root);
      expect(run.code, run.stderr).to.equal(0);
      expect(await read(feeds)).to.equal(list.map((line) => `${nginx.url}${line}\n`).join(''));
      expect(await read(`${feeds}.orig`)).to.equal(original);
      expect(run.stdout).to.include('apk update');

      expect((await setup('--restore', '--root', root)).code).to.equal(0);
      expect(await read(feeds)).to.equal(original);
    } finally {
      await fs.rm(path.join(work, 'mirror/distfeeds/25.12.0'), { recursive: true });
      await fs.writeFile(sets, opkgOnly);
    }
  });

  it('explains itself with --help and refuses unknown options', async () => {
    const help = await setup('--help');
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('--restore');
    expect(help.stdout).to.include(`default: ${nginx.url}`);

    const wrong = await setup('--frobnicate');
    expect(wrong.code).to.equal(2);
    expect(wrong.stderr).to.include('unknown option: --frobnicate');
  });

  it('refuses a root that is not an OpenWrt system', async () => {
    await fs.mkdir(path.join(work, 'not-openwrt'));
    const run = await setup('--root', path.join(work, 'not-openwrt'));
    expect(run.code).not.to.equal(0);
    expect(run.stderr).to.include('is this an OpenWrt root?');
  });
});

describe('setup.sh against a mirror of several sets: each router its own set', function () {
  this.timeout(120_000);
  let work: string;
  let bin: string;
  let h: SetsHarness;
  let nginx: RunningNginx;
  let script: string;
  const OPKG = '24.10.4';
  const APK = '25.12.0';

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-setup-sets-'));
    bin = await busyboxBin(work);
    h = await createSetsHarness({
      releases: [{ version: OPKG }, { version: APK }],
      targets: ['ramips/mt7621', 'x86/64'],
    });
    const sets = [
      { release: OPKG, target: 'ramips/mt7621' },
      { release: OPKG, target: 'x86/64' },
      { release: APK, target: 'ramips/mt7621' },
    ];
    expect((await h.sync(sets)).exitCode).to.equal(0);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    script = path.join(work, 'setup.sh');
    await fs.writeFile(script, (await request(`${nginx.url}/setup.sh`)).body);
  });

  after(async () => {
    await nginx?.stop();
    await h?.close();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  /** A router root of `format` that says it is `info`, with the upstream's own feed lines. */
  const router = async (name: string, info: RouterInfo, format: 'opkg' | 'apk' = 'opkg') => {
    const root = path.join(work, name);
    const feeds =
      format === 'opkg'
        ? path.join(root, 'etc/opkg/distfeeds.conf')
        : path.join(root, 'etc/apk/repositories.d/distfeeds.list');
    await fs.mkdir(path.dirname(feeds), { recursive: true });
    const original = `# the upstream's lines of ${info.release} ${info.target}\n`;
    await fs.writeFile(feeds, original);
    await fs.writeFile(path.join(root, 'etc/openwrt_release'), openwrtRelease(info));
    /** The router's files are as they were: the feeds, no backup, nothing half-written. */
    const untouched = async () => {
      expect(await fs.readFile(feeds, 'utf8')).to.equal(original);
      expect(await fs.readdir(path.dirname(feeds))).to.deep.equal([path.basename(feeds)]);
    };
    return { root, feeds, untouched };
  };
  const setup = (...args: string[]) => busyboxSh(bin, [script, ...args], { cwd: work });
  const setLines = async (release: string, target: string, file: string) =>
    (await request(`${nginx.url}/distfeeds/${release}/${target}/${file}`)).body.toString();

  it('writes each router the lines of its own release and target', async () => {
    for (const [info, format, file] of [
      [{ release: OPKG, target: 'x86/64', arch: 'x86_64' }, 'opkg', 'distfeeds.conf'],
      [{ release: OPKG, target: 'ramips/mt7621', arch: 'mipsel_24kc' }, 'opkg', 'distfeeds.conf'],
      [{ release: APK, target: 'ramips/mt7621', arch: 'mipsel_24kc' }, 'apk', 'distfeeds.list'],
    ] as const) {
      const r = await router(`own-${info.release}-${info.arch}`, info, format);
      const run = await setup('--root', r.root);
      const what = `${info.release} ${info.target}`;
      expect(run.code, `${what}: ${run.stderr}`).to.equal(0);
      const written = await fs.readFile(r.feeds, 'utf8');
      expect(written, what).to.equal(await setLines(info.release, info.target, file));
      expect(written, what).to.contain(`/releases/${info.release}/targets/${info.target}/`);
      expect(written, what).to.contain(`/releases/${info.release}/packages/${info.arch}/base`);
      expect(run.stdout).to.contain(`the feeds of ${what}`);
    }
  });

  it('refuses a router of a release and arch the mirror does not carry, saying what it is and what the mirror has', async () => {
    const r = await router('filogic', {
      release: '23.05.5',
      target: 'mediatek/filogic',
      arch: 'aarch64_cortex-a53',
    });
    const run = await setup('--root', r.root);
    expect(run.code).to.equal(1);
    expect(run.stderr)
      .to.contain('this router is OpenWrt 23.05.5 on mediatek/filogic (aarch64_cortex-a53, opkg)')
      .and.contain(`${OPKG} ramips/mt7621 (mipsel_24kc, opkg)`)
      .and.contain(`${OPKG} x86/64 (x86_64, opkg)`)
      .and.contain(`${APK} ramips/mt7621 (mipsel_24kc, apk)`)
      .and.contain('is unchanged');
    await r.untouched();
  });

  it('refuses a router whose target the mirror carries for another arch', async () => {
    const r = await router('odd-arch', { release: OPKG, target: 'x86/64', arch: 'i386_pentium4' });
    const run = await setup('--root', r.root);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('carries no set of its target and arch');
    await r.untouched();
  });

  it('refuses a router of a release the mirror does not carry for its target, and names --release; --release moves it on', async () => {
    const r = await router('old', { release: '24.10.2', target: 'x86/64', arch: 'x86_64' });
    const refused = await setup('--root', r.root);
    expect(refused.code).to.equal(1);
    expect(refused.stderr)
      .to.contain('this router is OpenWrt 24.10.2 on x86/64')
      .and.contain(`x86/64 only for release(s) ${OPKG}`)
      .and.contain('--release');
    await r.untouched();

    const moved = await setup('--root', r.root, '--release', OPKG);
    expect(moved.code, moved.stderr).to.equal(0);
    expect(await fs.readFile(r.feeds, 'utf8')).to.equal(await setLines(OPKG, 'x86/64', 'distfeeds.conf'));
    expect(await fs.readFile(`${r.feeds}.orig`, 'utf8')).to.contain('24.10.2');
  });

  it('refuses --release of another package manager: sysupgrade first', async () => {
    const r = await router('to-apk', { release: OPKG, target: 'ramips/mt7621', arch: 'mipsel_24kc' });
    const run = await setup('--root', r.root, '--release', APK);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain(`release ${APK} uses apk`).and.contain('sysupgrade');
    await r.untouched();
    const none = await setup('--root', r.root, '--release', '19.07.10');
    expect(none.code).to.equal(1);
    expect(none.stderr).to.contain(
      `--release 19.07.10: the mirror carries ramips/mt7621 only for release(s) ${OPKG} ${APK}`,
    );
    await r.untouched();
  });

  it('refuses a root without /etc/openwrt_release, or with one it cannot read', async () => {
    const r = await router('no-release', { release: OPKG, target: 'x86/64', arch: 'x86_64' });
    await fs.rm(path.join(r.root, 'etc/openwrt_release'));
    const missing = await setup('--root', r.root);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.contain('no /etc/openwrt_release');
    await r.untouched();
    await fs.writeFile(
      path.join(r.root, 'etc/openwrt_release'),
      "DISTRIB_RELEASE='$(reboot)'\nDISTRIB_TARGET='x86/64'\nDISTRIB_ARCH='x86_64'\n",
    );
    const odd = await setup('--root', r.root);
    expect(odd.code).to.equal(1);
    expect(odd.stderr).to.contain('no usable DISTRIB_RELEASE');
    await r.untouched();
  });
});

describe('setup.sh --https: HTTPS feed lines only where the router verifies the certificate', () => {
  let work: string;
  let bin: string;
  /** openssl alone: with it on PATH, busybox wget verifies certificates (through openssl s_client). */
  let sslBin: string;
  let tls: TlsNginx;
  let plain: RunningNginx;
  let script: string;
  let cert: string;
  let otherCert: string;
  let httpUrl: string;

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-setup-https-'));
    bin = await busyboxBin(work);
    sslBin = path.join(work, 'ssl-bin');
    await fs.mkdir(sslBin);
    await fs.symlink(findOnPath('openssl'), path.join(sslBin, 'openssl'));
    await writeServedTree(path.join(work, 'mirror'));
    // The worker's own certificate, for the one name routers here use for the mirror.
    await ensureSelfSigned({ dir: path.join(work, 'tls'), names: ['localhost'] });
    cert = path.join(work, 'tls', CERT_FILE);
    await ensureSelfSigned({ dir: path.join(work, 'other-tls'), names: ['localhost'] });
    otherCert = path.join(work, 'other-tls', CERT_FILE);
    tls = await startTlsNginx({
      mirrorRoot: path.join(work, 'mirror'),
      tlsDir: path.join(work, 'tls'),
      work,
    });
    expect(tls.scriptLog()).to.include('HTTPS on');
    plain = await startNginx({ mirrorRoot: path.join(work, 'mirror') });
    httpUrl = `http://localhost:${tls.nginx.port}`;
    script = path.join(work, 'setup.sh');
    await fs.writeFile(script, (await request(`${tls.nginx.url}/setup.sh`)).body);
  });

  after(async () => {
    await tls?.nginx.stop();
    await plain?.stop();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  const opkgRouter = async (name: string) => {
    const root = path.join(work, name);
    await fs.mkdir(path.join(root, 'etc/opkg'), { recursive: true });
    await fs.writeFile(path.join(root, 'etc/openwrt_release'), openwrtRelease(LAB_ROUTER));
    await fs.writeFile(path.join(root, 'etc/opkg/distfeeds.conf'), ORIGINAL_FEEDS);
    const feeds = path.join(root, 'etc/opkg/distfeeds.conf');
    return {
      root,
      feeds,
      async untouched() {
        expect(await fs.readFile(feeds, 'utf8')).to.equal(ORIGINAL_FEEDS);
        expect(await fs.readdir(path.dirname(feeds))).to.deep.equal(['distfeeds.conf']);
      },
    };
  };
  /** A router whose wget verifies against `trusted` (its CA store), or one without openssl (busybox's own TLS). */
  const setup = (args: string[], trusted: string | 'no-openssl') =>
    busyboxSh(bin, [script, ...args], {
      cwd: work,
      env: trusted === 'no-openssl' ? { PATH: bin } : { PATH: `${bin}:${sslBin}`, SSL_CERT_FILE: trusted },
    });
  const httpsLines = () =>
    `${FEEDS.map((feed) => `src/gz ${feed.name} https://localhost:${tls.httpsPort}/${feed.dir}`).join('\n')}\n`;

  it('writes https lines when the router trusts the certificate, and opkg can then fetch each feed', async () => {
    const router = await opkgRouter('trusting');
    const run = await setup(['--https', '--root', router.root, '--mirror', httpUrl], cert);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.include(`https://localhost:${tls.httpsPort} verified by this router's wget`);
    expect(await fs.readFile(router.feeds, 'utf8')).to.equal(httpsLines());
    expect(await fs.readFile(`${router.feeds}.orig`, 'utf8')).to.equal(ORIGINAL_FEEDS);
    for (const line of httpsLines().trim().split('\n')) {
      const fetched = await busyboxSh(
        bin,
        ['-c', `wget -qO- "${line.split(' ')[2]}/Packages.sig" >/dev/null`],
        {
          cwd: work,
          env: { PATH: `${bin}:${sslBin}`, SSL_CERT_FILE: cert },
        },
      );
      expect(fetched.code, `${line}: ${fetched.stderr}`).to.equal(0);
    }
  });

  it('fetched over HTTPS itself, setup.sh writes https lines without being asked', async () => {
    const router = await opkgRouter('over-https');
    const run = await busyboxSh(
      bin,
      ['-c', `wget -qO- https://localhost:${tls.httpsPort}/setup.sh | sh -s -- --root ${router.root}`],
      { cwd: work, env: { PATH: `${bin}:${sslBin}`, SSL_CERT_FILE: cert } },
    );
    expect(run.code, run.stderr).to.equal(0);
    expect(await fs.readFile(router.feeds, 'utf8')).to.equal(httpsLines());
  });

  it('refuses, router untouched, when the router does not trust the certificate', async () => {
    const router = await opkgRouter('distrustful');
    const run = await setup(['--https', '--root', router.root, '--mirror', httpUrl], otherCert);
    expect(run.code).to.equal(1);
    expect(run.stderr)
      .to.include(
        `this router cannot fetch https://localhost:${tls.httpsPort}/ with a certificate it verifies`,
      )
      .and.include('/etc/ssl/certs/openwrt-mirror.crt')
      .and.include('is unchanged');
    await router.untouched();
  });

  it('refuses, router untouched, when the router reaches the mirror by a name the certificate lacks', async () => {
    const router = await opkgRouter('by-address');
    // The script as served over http://127.0.0.1:…: the address is no name of the certificate.
    const run = await setup(['--https', '--root', router.root], cert);
    expect(run.code).to.equal(1);
    expect(run.stderr)
      .to.include(`cannot fetch https://127.0.0.1:${tls.httpsPort}/`)
      .and.include('TLS_NAMES');
    await router.untouched();
  });

  it("refuses, router untouched, when the router's wget does not verify certificates at all", async () => {
    const router = await opkgRouter('unverifying');
    const run = await setup(['--https', '--root', router.root, '--mirror', httpUrl], 'no-openssl');
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include("this router's wget does not verify certificates");
    await router.untouched();
  });

  it('refuses, router untouched, when the mirror has no HTTPS', async () => {
    const router = await opkgRouter('no-https');
    const run = await setup(['--https', '--root', router.root, '--mirror', plain.url], cert);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.include(`${plain.url} serves no HTTPS`);
    await router.untouched();
    // Without --https the same router is set up over HTTP as before.
    const http = await setup(['--root', router.root, '--mirror', plain.url], cert);
    expect(http.code, http.stderr).to.equal(0);
    expect(await fs.readFile(router.feeds, 'utf8')).to.include(`src/gz openwrt_core ${plain.url}/`);
  });
});

function findOnPath(name: string): string {
  const found = (process.env.PATH ?? '/usr/bin:/bin')
    .split(':')
    .map((dir) => path.join(dir, name))
    .find((candidate) => existsSync(candidate));
  if (!found) throw new Error(`${name} not found on PATH: apt-get install -y ${name}`);
  return found;
}
