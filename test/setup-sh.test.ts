/**
 * nginx/setup.sh as a node runs it: fetched from the real nginx, run by busybox sh with nothing but
 * busybox applets on PATH (wget included), on a fake router root.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import {
  FEEDS,
  HOSTILE_HOSTS,
  PLACEHOLDER,
  type RunningNginx,
  request,
  startNginx,
  writeServedTree,
} from './helpers/nginx.js';

const ORIGINAL_FEEDS = `${FEEDS.map((feed) => `src/gz ${feed.name} https://downloads.openwrt.org/${feed.dir}`).join('\n')}\n`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('setup.sh on a router (busybox sh)', () => {
  let work: string;
  let bin: string;
  let nginx: RunningNginx;
  let script: string;

  /** Runs busybox sh with only busybox on PATH and no proxy settings, as on a router. */
  const sh = (args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(path.join(bin, 'sh'), args, {
        cwd: options.cwd ?? work,
        env: { PATH: bin, HOME: work, ...options.env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });
  const setup = (...args: string[]) => sh([script, ...args]);

  const opkgRouter = async (name: string) => {
    const root = path.join(work, name);
    await fs.mkdir(path.join(root, 'etc/opkg/keys'), { recursive: true });
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
    bin = path.join(work, 'bin');
    await fs.mkdir(bin);
    const busybox = ['/usr/bin/busybox', '/bin/busybox'].find((candidate) => existsSync(candidate));
    if (!busybox) throw new Error('busybox not found: apt-get install -y busybox');
    // Every applet, wget among them, is busybox itself: the script may use nothing a router lacks.
    const applets = await new Promise<string>((resolve, reject) => {
      let out = '';
      const child = spawn(busybox, ['--list']);
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.once('error', reject);
      child.once('close', () => resolve(out));
    });
    for (const applet of applets.split('\n').filter((name) => /^[a-z0-9_.-]+$/.test(name))) {
      await fs.symlink(busybox, path.join(bin, applet));
    }

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
      const server = http.createServer((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(body);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const router = await opkgRouter(`garbage-${Object.keys(bodies).indexOf(what)}`);
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const run = await setup('--root', router.root, '--mirror', url);
        expect(run.code, what).not.to.equal(0);
        expect(run.stderr, what).to.include('is unchanged');
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
    await fs.writeFile(
      path.join(work, 'mirror/distfeeds.list'),
      list.map((line) => `${PLACEHOLDER}${line}\n`).join(''),
    );
    const root = path.join(work, 'apk-router');
    const feeds = path.join(root, 'etc/apk/repositories.d/distfeeds.list');
    const original = list.map((line) => `https://downloads.openwrt.org${line}\n`).join('');
    await fs.mkdir(path.dirname(feeds), { recursive: true });
    await fs.writeFile(feeds, original);
    try {
      const run = await setup('--root', root);
      expect(run.code, run.stderr).to.equal(0);
      expect(await read(feeds)).to.equal(list.map((line) => `${nginx.url}${line}\n`).join(''));
      expect(await read(`${feeds}.orig`)).to.equal(original);
      expect(run.stdout).to.include('apk update');

      expect((await setup('--restore', '--root', root)).code).to.equal(0);
      expect(await read(feeds)).to.equal(original);
    } finally {
      await fs.rm(path.join(work, 'mirror/distfeeds.list'));
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
