/**
 * nginx/upgrade.sh as a router runs it: a mirror synced from the fake upstream (three releases of
 * ramips/mt7621, one of ramips/mt76x8), served by the real nginx with the project's template, the
 * script fetched from nginx and run by busybox sh with nothing but busybox applets on PATH, on a
 * fake router root whose sbin/sysupgrade records the arguments it was run with.
 */
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../worker/config.js';
import { runSync } from '../worker/sync/run.js';
import { sha256 } from './helpers/files.js';
import { HOSTILE_HOSTS, type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { busyboxBin, busyboxSh, openwrtRelease, type RouterInfo } from './helpers/router.js';
import { createSetsHarness, type SetsHarness } from './helpers/sets-harness.js';
import type { TreeImage } from './helpers/tree/index.js';

const OLDER = '24.10.3';
const NEWEST = '24.10.4';
const NEXT = '25.12.0';
const MT7621 = 'ramips/mt7621';
const MT76X8 = 'ramips/mt76x8';
const DIR_1960 = 'dlink,dir-1960-a1';
/** An old board name of the Archer C50 v4: only its profile's supported_devices lists it. */
const ARCHER_C50 = 'tplink,c50-v4';

describe('upgrade.sh on a router (busybox sh)', function () {
  this.timeout(180_000);
  let work: string;
  let bin: string;
  let h: SetsHarness;
  let nginx: RunningNginx;
  let script: string;

  before(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-upgrade-'));
    bin = await busyboxBin(work);
    h = await createSetsHarness({
      releases: [{ version: OLDER }, { version: NEWEST }, { version: NEXT }],
      targets: [MT7621, MT76X8],
    });
    // The DIR-1960 and the Archer C50 have their images mirrored; the Xiaomi 4A, in the same
    // profiles.json as the DIR-1960, does not.
    const config = path.join(h.root, 'upgrade.yaml');
    await fs.writeFile(
      config,
      [
        'sets:',
        `  - release: ["${OLDER}", "${NEWEST}", "${NEXT}"]`,
        `    target: ${MT7621}`,
        '    devices: [dlink_dir-1960-a1]',
        `  - release: "${NEWEST}"`,
        `    target: ${MT76X8}`,
        '    devices: [tplink_archer-c50-v4]',
        '',
      ].join('\n'),
    );
    const env = { ...h.env, MIRROR_CONFIG: config, REQUIRED_PACKAGES: 'ip-full', OPTIONAL_PACKAGES: '' };
    const { exitCode, report } = await runSync(loadConfig(env, h.root));
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    expect(exitCode).to.equal(0);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    script = path.join(work, 'upgrade.sh');
    const served = await request(`${nginx.url}/upgrade.sh`);
    expect(served.status).to.equal(200);
    await fs.writeFile(script, served.body);
  });

  after(async () => {
    await nginx?.stop();
    await h?.close();
    if (work) await fs.rm(work, { recursive: true, force: true });
  });

  /** A router root: its release file, its board name, and a sysupgrade that records its arguments. */
  const router = async (name: string, info: RouterInfo, board: string) => {
    const root = path.join(work, name);
    await fs.mkdir(path.join(root, 'etc'), { recursive: true });
    await fs.mkdir(path.join(root, 'tmp/sysinfo'), { recursive: true });
    await fs.mkdir(path.join(root, 'sbin'));
    await fs.writeFile(path.join(root, 'etc/openwrt_release'), openwrtRelease(info));
    await fs.writeFile(path.join(root, 'tmp/sysinfo/board_name'), `${board}\n`);
    const args = path.join(root, 'sysupgrade.args');
    await fs.writeFile(
      path.join(root, 'sbin/sysupgrade'),
      `#!/bin/sh\nfor arg in "$@"; do printf '%s\\n' "$arg"; done > '${args}'\n`,
      { mode: 0o755 },
    );
    return {
      root,
      /** What sysupgrade was run with, one argument a line; undefined when it never ran. */
      ran: async () => (await fs.readFile(args, 'utf8').catch(() => undefined))?.split('\n').slice(0, -1),
      /** The router's /tmp, but for sysinfo: what the script left there. */
      left: async () => (await fs.readdir(path.join(root, 'tmp'))).filter((entry) => entry !== 'sysinfo'),
    };
  };
  const dir1960 = (release: string) => ({ release, target: MT7621, arch: 'mipsel_24kc' });
  const upgrade = (...args: string[]) => busyboxSh(bin, [script, ...args], { cwd: work });
  /** The sysupgrade image of `device` in the upstream's `release` of `target`. */
  const imageOf = (release: string, target: string, device: string): TreeImage => {
    const image = h.set(release, target).images.find((i) => i.device === device && i.type === 'sysupgrade');
    if (!image) throw new Error(`no sysupgrade image of ${device} in ${release} ${target}`);
    return image;
  };

  it('without --yes says what it would do, and downloads and runs nothing', async () => {
    const r = await router('dry', dir1960('24.10.2'), DIR_1960);
    const run = await upgrade('--root', r.root);
    expect(run.code, run.stderr).to.equal(0);
    const image = imageOf(NEWEST, MT7621, 'dlink_dir-1960-a1');
    // The newest release of the router's own series: not 24.10.3, not 25.12.0.
    expect(run.stdout)
      .to.contain(`release:   ${NEWEST} (profile dlink_dir-1960-a1)`)
      .and.contain(`image:     ${nginx.url}/${image.path}`)
      .and.contain(`size:      ${image.size} bytes`)
      .and.contain(`sha256:    ${image.sha256}`)
      .and.contain(`command:   ${r.root}/sbin/sysupgrade ${r.root}/tmp/${path.basename(image.path)}`)
      .and.contain('dry run: nothing downloaded, nothing run');
    expect(await r.ran()).to.equal(undefined);
    expect(await r.left()).to.deep.equal([]);
  });

  it('with --yes downloads the image, checks it and runs sysupgrade with the options after -- and its path', async () => {
    const r = await router('yes', dir1960('24.10.2'), DIR_1960);
    const run = await upgrade('--root', r.root, '--yes', '--', '-n');
    expect(run.code, run.stderr).to.equal(0);
    const image = imageOf(NEWEST, MT7621, 'dlink_dir-1960-a1');
    const local = path.join(r.root, 'tmp', path.basename(image.path));
    expect(await r.ran()).to.deep.equal(['-n', local]);
    // What sysupgrade was handed is the upstream's image, byte for byte.
    expect(sha256(await fs.readFile(local))).to.equal(image.sha256);
    expect(run.stdout).to.contain(`verified: ${local} (${image.size} bytes`);
    expect(await r.left()).to.deep.equal([path.basename(image.path)]);
  });

  it("fetches with the router's uclient-fetch where there is one", async () => {
    // A router's PATH: busybox, and uclient-fetch (here busybox wget behind a log of its calls).
    const routerBin = await busyboxBin(await fs.mkdtemp(path.join(work, 'uclient-')));
    const calls = path.join(work, 'uclient-fetch.calls');
    await fs.writeFile(
      path.join(routerBin, 'uclient-fetch'),
      `#!/bin/sh\necho "$@" >> '${calls}'\nexec wget "$@"\n`,
      { mode: 0o755 },
    );
    const r = await router('uclient', dir1960('24.10.2'), DIR_1960);
    const run = await busyboxSh(routerBin, [script, '--root', r.root, '--yes'], { cwd: work });
    expect(run.code, run.stderr).to.equal(0);
    const image = imageOf(NEWEST, MT7621, 'dlink_dir-1960-a1');
    const fetched = (await fs.readFile(calls, 'utf8')).trim().split('\n');
    expect(fetched).to.have.length(4);
    expect(fetched.at(-1)).to.match(new RegExp(`^-q -O \\S+ ${nginx.url}/${image.path}$`));
    expect(await r.ran()).to.deep.equal([path.join(r.root, 'tmp', path.basename(image.path))]);
  });

  it('refuses an image the mirror serves corrupted: deleted, sysupgrade never run', async () => {
    const r = await router('corrupt', dir1960('24.10.2'), DIR_1960);
    const image = imageOf(NEWEST, MT7621, 'dlink_dir-1960-a1');
    const served = h.served(image.path);
    const handle = await fs.open(served, 'r+');
    const byte = Buffer.alloc(1);
    try {
      await handle.read(byte, 0, 1, 1000);
      await handle.write(Buffer.from([(byte[0] as number) ^ 0xff]), 0, 1, 1000);
      const run = await upgrade('--root', r.root, '--yes');
      expect(run.code).to.equal(1);
      expect(run.stderr)
        .to.contain(`profiles.json says ${image.sha256}: refused, deleted, nothing was run`)
        .and.not.contain(`SHA-256 is ${image.sha256}`);
      expect(await r.ran()).to.equal(undefined);
      expect(await r.left()).to.deep.equal([]);
    } finally {
      await handle.write(byte, 0, 1, 1000);
      await handle.close();
    }
    expect(sha256(await fs.readFile(served))).to.equal(image.sha256);
  });

  it('deletes the image when sysupgrade refuses it, and fails', async () => {
    const r = await router('sysupgrade-says-no', dir1960('24.10.2'), DIR_1960);
    const sysupgrade = path.join(r.root, 'sbin/sysupgrade');
    await fs.appendFile(sysupgrade, 'echo "Image check failed." >&2\nexit 1\n');
    const run = await upgrade('--root', r.root, '--yes');
    expect(run.code).to.equal(1);
    expect(run.stderr)
      .to.contain('Image check failed.')
      .and.contain('sysupgrade refused')
      .and.contain('(exit 1)');
    expect(await r.ran()).to.have.length(1);
    expect(await r.left()).to.deep.equal([]);
  });

  it('refuses a board no profile supports, naming the devices the mirror has images for', async () => {
    const r = await router('unknown', dir1960('24.10.2'), 'acme,router-9000');
    const run = await upgrade('--root', r.root, '--yes');
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain(
      `no device profile of ${MT7621} in ${NEWEST} supports board acme,router-9000; the mirror has images for: dlink_dir-1960-a1`,
    );
    expect(await r.ran()).to.equal(undefined);
    expect(await r.left()).to.deep.equal([]);
  });

  it('refuses a board whose profile the mirror holds no image of, and says how to add it', async () => {
    const r = await router('not-mirrored', dir1960('24.10.2'), 'xiaomi,mi-router-4a-gigabit');
    const run = await upgrade('--root', r.root, '--yes');
    expect(run.code).to.equal(1);
    expect(run.stderr)
      .to.contain(
        `the mirror holds no image of xiaomi_mi-router-4a-gigabit (board xiaomi,mi-router-4a-gigabit)`,
      )
      .and.contain('OPENWRT_DEVICES')
      .and.contain('it has images for: dlink_dir-1960-a1');
    expect(await r.ran()).to.equal(undefined);
  });

  it('finds the board through supported_devices, not the profile id', async () => {
    expect(ARCHER_C50.replace(',', '_')).to.not.equal('tplink_archer-c50-v4');
    const r = await router('archer', { release: '24.10.2', target: MT76X8, arch: 'mipsel_24kc' }, ARCHER_C50);
    const run = await upgrade('--root', r.root, '--yes');
    expect(run.code, run.stderr).to.equal(0);
    const image = imageOf(NEWEST, MT76X8, 'tplink_archer-c50-v4');
    const local = path.join(r.root, 'tmp', path.basename(image.path));
    expect(run.stdout).to.contain(`release:   ${NEWEST} (profile tplink_archer-c50-v4)`);
    expect(await r.ran()).to.deep.equal([local]);
    expect(sha256(await fs.readFile(local))).to.equal(image.sha256);
  });

  it('--release moves on to another release the mirror carries; one it does not carry is refused', async () => {
    const r = await router('next', dir1960(NEWEST), DIR_1960);
    const same = await upgrade('--root', r.root, '--yes');
    expect(same.code, same.stderr).to.equal(0);
    expect(same.stdout).to.contain('nothing to upgrade to');
    expect(await r.ran()).to.equal(undefined);

    const run = await upgrade('--root', r.root, '--release', NEXT, '--yes', '--', '-v');
    expect(run.code, run.stderr).to.equal(0);
    const image = imageOf(NEXT, MT7621, 'dlink_dir-1960-a1');
    const local = path.join(r.root, 'tmp', path.basename(image.path));
    expect(run.stdout).to.contain(`release:   ${NEXT} (profile dlink_dir-1960-a1)`);
    expect(await r.ran()).to.deep.equal(['-v', local]);
    expect(sha256(await fs.readFile(local))).to.equal(image.sha256);

    const none = await upgrade('--root', r.root, '--release', '24.10.9');
    expect(none.code).to.equal(1);
    expect(none.stderr).to.contain(`--release 24.10.9: the mirror carries ${MT7621} only for release(s)`);
  });

  it('refuses a router of a series or a target the mirror does not carry, saying what it has', async () => {
    const old = await router('old-series', dir1960('23.05.5'), DIR_1960);
    const series = await upgrade('--root', old.root);
    expect(series.code).to.equal(1);
    expect(series.stderr)
      .to.contain('this router (dlink,dir-1960-a1) runs OpenWrt 23.05.5 on ramips/mt7621')
      .and.contain('the mirror carries no 23.05 release of ramips/mt7621')
      .and.contain('--release');
    const x86 = await router('x86', { release: '24.10.2', target: 'x86/64', arch: 'x86_64' }, 'generic');
    const target = await upgrade('--root', x86.root);
    expect(target.code).to.equal(1);
    expect(target.stderr)
      .to.contain('the mirror carries no release of x86/64')
      .and.contain(`${NEWEST} ${MT76X8}`);
    expect(await old.ran()).to.equal(undefined);
    expect(await x86.ran()).to.equal(undefined);
  });

  it('reads a pretty-printed profiles.json as well as the upstream one-line form', async () => {
    const profiles = h.served(`releases/${NEWEST}/targets/${MT7621}/profiles.json`);
    const original = await fs.readFile(profiles);
    expect(original.toString()).to.not.contain('\n');
    // A new file renamed over the served one: the pool's copy stays as it was.
    const pretty = `${profiles}.pretty`;
    await fs.writeFile(pretty, JSON.stringify(JSON.parse(original.toString()), null, 2));
    await fs.rename(pretty, profiles);
    try {
      const r = await router('pretty', dir1960('24.10.2'), DIR_1960);
      const run = await upgrade('--root', r.root);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.contain(`sha256:    ${imageOf(NEWEST, MT7621, 'dlink_dir-1960-a1').sha256}`);
    } finally {
      await fs.writeFile(pretty, original);
      await fs.rename(pretty, profiles);
    }
  });

  it("runs nothing a hostile Host holds: the script it gets points at the server's own address", async () => {
    let served = 0;
    for (const [index, host] of HOSTILE_HOSTS.entries()) {
      const r = await router(`hostile-${index}`, dir1960('24.10.2'), DIR_1960);
      const cwd = path.join(work, `hostile-${index}-cwd`);
      await fs.mkdir(cwd);
      const run = await busyboxSh(
        bin,
        ['-c', 'wget -qO- --header "Host: $HOST_HEADER" "$URL/upgrade.sh" | sh -s -- --root "$ROOT"'],
        { cwd, env: { HOST_HEADER: host, URL: nginx.url, ROOT: r.root } },
      );
      const pwned = (await fs.readdir(work, { recursive: true })).filter((f) => path.basename(f) === 'PWNED');
      expect(pwned, host).to.deep.equal([]);
      expect(await r.ran(), host).to.equal(undefined);
      if ((await request(`${nginx.url}/upgrade.sh`, { headers: { Host: host } })).status !== 200) continue;
      served++;
      expect(run.code, `${host}: ${run.stderr}`).to.equal(0);
      expect(run.stdout, host).to.contain(`image:     ${nginx.url}/releases/${NEWEST}/`);
    }
    expect(served, 'hostile Hosts nginx let through').to.be.greaterThan(8);
  });

  it('refuses a mirror URL with characters no URL needs', async () => {
    const r = await router('bad-url', dir1960('24.10.2'), DIR_1960);
    for (const url of ['http://x$(touch PWNED)', "http://x';touch PWNED;'", 'http://mirror lab:8080']) {
      const run = await upgrade('--root', r.root, '--yes', '--mirror', url);
      expect(run.code, url).to.equal(1);
      expect(run.stderr, url).to.contain('has characters no mirror URL needs');
    }
    expect(existsSync(path.join(work, 'PWNED'))).to.equal(false);
    expect(await r.ran()).to.equal(undefined);
  });

  it('explains itself with --help and refuses unknown options', async () => {
    const help = await upgrade('--help');
    expect(help.code).to.equal(0);
    expect(help.stdout).to.contain('--yes').and.contain(`default: ${nginx.url}`);
    const wrong = await upgrade('--frobnicate');
    expect(wrong.code).to.equal(2);
    expect(wrong.stderr).to.contain('unknown option: --frobnicate');
  });

  it('serves the upstream’s .versions.json and each release’s .targets.json byte for byte', async () => {
    const versions = await request(`${nginx.url}/.versions.json`);
    expect(versions.status).to.equal(200);
    expect(versions.headers['content-type']).to.equal('application/json');
    expect(versions.body.equals(h.tree.files.get('.versions.json') as Buffer)).to.equal(true);
    for (const release of [OLDER, NEWEST, NEXT]) {
      const targets = await request(`${nginx.url}/releases/${release}/.targets.json`);
      expect(targets.status, release).to.equal(200);
      expect(targets.body.equals(h.tree.files.get(`releases/${release}/.targets.json`) as Buffer), release).to
        .be.true;
    }
    // Other hidden names stay hidden, in the root and in a release.
    for (const hidden of ['/.mirror/lock', `/releases/${NEWEST}/.lock`, '/.targets.json']) {
      expect((await request(`${nginx.url}${hidden}`)).status, hidden).to.equal(404);
    }
  });
});
