/**
 * Download statistics: what the routers use. The real nginx runs the template with the stack's
 * nginx/openwrt-mirror.d/ (the JSON access log), the stack's own rotation script rotates the log,
 * and the worker's ingest counts it: every request made here is counted exactly once, through
 * rotations and restarts, and what a user sees (status.json, /metrics) says so.
 */
import { renameSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { renderStatus } from '../worker/commands/status.js';
import { ACCESS_LOG, ROTATED_LOG, readNewLines, START_CURSOR } from '../worker/downloads/access-log.js';
import { DOWNLOADS_STATE, ingestAccessLog } from '../worker/downloads/ingest.js';
import { classify, parseLogLine } from '../worker/downloads/requests.js';
import { DownloadTally } from '../worker/downloads/tally.js';
import { apkFormat } from '../worker/formats/apk/strategy.js';
import { opkgFormat } from '../worker/formats/opkg/strategy.js';
import { MirrorDir } from '../worker/publish/mirror-dir.js';
import { runWorker } from '../worker/schedule/worker.js';
import { readStatus } from '../worker/status/status-file.js';
import { rotateAccessLog } from './helpers/access-log.js';
import { opkgInstallAll } from './helpers/clients.js';
import { capturingLogger } from './helpers/log-capture.js';
import { REPO_ROOT, type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';
import { labClosure } from './helpers/tree/index.js';

function log(entry: Record<string, unknown>): string {
  return JSON.stringify({
    t: '2026-12-06T10:00:00+00:00',
    a: '10.0.0.2',
    m: 'GET',
    s: 200,
    b: 100,
    ua: 'x',
    ...entry,
  });
}

describe('download statistics', function () {
  this.timeout(120_000);

  describe('from the real nginx access log', () => {
    let h: Harness;
    let nginx: RunningNginx;
    let logDir: string;
    let dir: MirrorDir;
    const ingest = () => ingestAccessLog(dir, { logDir, timeZone: 'UTC', upstream: h.upstream.url });

    beforeEach(async () => {
      h = await createHarness();
      expect((await h.sync()).exitCode).to.equal(0);
      logDir = path.join(h.root, 'access-log');
      await fs.mkdir(logDir);
      nginx = await startNginx({ mirrorRoot: h.mirrorDir, accessLogDir: logDir });
      dir = new MirrorDir(h.mirrorDir);
    });

    afterEach(async () => {
      await nginx?.stop();
      await h?.close();
    });

    it('counts the packages a router fetched, its update, and a package asked for in vain, per feed', async () => {
      const wanted = labClosure(h.tree);
      const round = await opkgInstallAll(nginx.url, 'mirror.lab', h.signer.publicKeyFile, wanted);
      expect(round.problems).to.deep.equal([]);
      // A package the signed index lists but this selective mirror does not hold, asked for 3 times.
      const notHeld = [...h.tree.files.keys()].find(
        (file) => file.endsWith('.ipk') && file.includes('/packages/') && !wanted.has(file),
      ) as string;
      expect(notHeld, 'a package outside the selection').to.be.a('string');
      for (let i = 0; i < 3; i++) expect((await request(`${nginx.url}/${notHeld}`)).status).to.equal(404);
      // Not counted as fetched: a HEAD.
      await request(`${nginx.url}/distfeeds.conf`, { method: 'HEAD' });

      rotateAccessLog(logDir, nginx);
      const { summary } = await ingest();

      const requests = 1 + 2 * round.feeds.length + round.fetched + 3;
      expect(summary.totals.requests).to.equal(requests);
      expect(summary.totals.packages).to.equal(wanted.size);
      expect(summary.totals.notFound).to.equal(3);
      expect(summary.totals.updates).to.deep.equal({ opkg: 1, apk: 0 });
      const day = summary.days.at(-1);
      expect(day?.clients).to.equal(1);
      expect(day?.requests).to.equal(requests);
      const missingName = opkgFormat.packageOfFile(path.posix.basename(notHeld));
      expect(summary.week.missing).to.deep.equal([
        { feed: path.posix.dirname(notHeld), name: missingName, requests: 3 },
      ]);
      // Each fetched package once, under its feed, with its bytes; the most fetched first, then by name.
      expect(summary.week.top).to.have.length(20);
      for (const entry of summary.week.top) {
        const fetched = [...wanted].filter(
          (f) => opkgFormat.packageOfFile(path.posix.basename(f)) === entry.name,
        );
        expect(fetched, entry.name).to.have.length(1);
        expect(entry.feed).to.equal(path.posix.dirname(fetched[0] as string));
        expect(entry.requests).to.equal(1);
        expect(entry.bytes).to.equal(h.tree.files.get(fetched[0] as string)?.length);
      }
      const feedBytes = summary.week.feeds.reduce((sum, feed) => sum + feed.bytes, 0);
      expect(feedBytes).to.be.greaterThan(0);

      // What a user sees: status.json through nginx, and counters in /metrics.
      const status = JSON.parse((await request(`${nginx.url}/status.json`)).body.toString());
      expect(status.downloads.totals.packages).to.equal(wanted.size);
      expect(status.lastRun.result).to.equal('success');
      const metrics = (await request(`${nginx.url}/metrics`)).body.toString();
      expect(metrics).to.include('# TYPE openwrt_mirror_downloads_packages_total counter');
      expect(metrics).to.include(`openwrt_mirror_downloads_packages_total ${wanted.size}\n`);
      expect(metrics).to.include('openwrt_mirror_downloads_updates_total{manager="opkg"} 1\n');
      expect(metrics).to.include('openwrt_mirror_downloads_not_found_total 3\n');

      // And `openwrt-mirror status`.
      const text = renderStatus(h.config(), status);
      expect(text).to.match(
        new RegExp(`asked, not here +${missingName} \\(3\\): OPTIONAL_PACKAGES adds one`),
      );
      expect(text).to.match(/most fetched +\S+ \(1\)/);

      // A sync afterwards keeps the statistics in status.json.
      expect((await h.sync()).exitCode).to.equal(0);
      const after = JSON.parse((await request(`${nginx.url}/status.json`)).body.toString());
      expect(after.downloads?.totals.packages).to.equal(wanted.size);
    });

    it('loses no line and counts none twice: a backlog read in steps, a worker killed before it stored', async () => {
      const file = [...labClosure(h.tree)][0] as string;
      let made = 0;
      const burst = async (n: number) => {
        for (let done = 0; done < n; done += 20) {
          const batch = Math.min(20, n - done);
          await Promise.all(
            Array.from({ length: batch }, async () => {
              expect((await request(`${nginx.url}/${file}`)).status).to.equal(200);
            }),
          );
          made += batch;
        }
      };
      const small = { logDir, timeZone: 'UTC', upstream: h.upstream.url, maxBytes: 2000 };

      await burst(1000);
      rotateAccessLog(logDir, nginx);
      // A backlog read in steps of a few lines: each step stores where it got to.
      let step = await ingestAccessLog(dir, small);
      expect(step.more).to.equal(true);
      let steps = 1;
      while (step.more) {
        step = await ingestAccessLog(dir, small);
        steps++;
      }
      expect(steps).to.be.greaterThan(2);
      expect(step.summary.totals.requests).to.equal(1000);
      expect(await fs.readdir(logDir)).to.deep.equal([ACCESS_LOG]);

      // Killed after reading, before storing: here the store fails (its file is a directory), which
      // leaves everything as a kill at that point would.
      await burst(10);
      rotateAccessLog(logDir, nginx);
      const stateFile = path.join(dir.internal, DOWNLOADS_STATE);
      await fs.rename(stateFile, `${stateFile}.kept`);
      await fs.mkdir(stateFile);
      let failed: unknown;
      await ingest().catch((error: unknown) => {
        failed = error;
      });
      expect(failed, 'the store failed').to.be.instanceOf(Error);
      await fs.rmdir(stateFile);
      await fs.rename(`${stateFile}.kept`, stateFile);
      expect(await fs.readdir(logDir)).to.include(ROTATED_LOG);

      // The next run counts those 10 once, and what follows.
      expect((await ingest()).summary.totals.requests).to.equal(1010);
      await burst(5);
      rotateAccessLog(logDir, nginx);
      const { summary } = await ingest();
      expect(summary.totals.requests).to.equal(made);
      expect(made).to.equal(1015);
    });

    it('counts every request once when it kills nothing: through rotations under load', async () => {
      const file = [...labClosure(h.tree)][0] as string;
      let made = 0;
      let stop = false;
      const load = (async () => {
        while (!stop) {
          await Promise.all(
            Array.from({ length: 5 }, async () => {
              expect((await request(`${nginx.url}/${file}`)).status).to.equal(200);
            }),
          );
          made += 5;
        }
      })();
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        await ingest();
        rotateAccessLog(logDir, nginx);
        await ingest();
      }
      stop = true;
      await load;
      rotateAccessLog(logDir, nginx);
      const { summary } = await ingest();
      expect(made).to.be.greaterThan(20);
      expect(summary.totals.requests).to.equal(made);
      expect(summary.totals.packages).to.equal(made);
      // Nothing is left behind to grow: the rotated file was taken, the current one is new.
      const files = (await fs.readdir(logDir)).sort();
      expect(files).to.deep.equal([ACCESS_LOG]);
    });
  });

  describe('in the worker', () => {
    let h: Harness;
    afterEach(async () => {
      await h?.close();
    });

    it('counts on every heartbeat with ACCESS_LOG_DIR, takes a rotated log, and keeps the counts when a sync ends', async () => {
      h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
      const logDir = path.join(h.root, 'access-log');
      await fs.mkdir(logDir);
      const lines = (n: number, from: number) =>
        Array.from({ length: n }, (_, i) => `${log({ u: `/r${from + i}` })}\n`).join('');
      await fs.writeFile(path.join(logDir, ROTATED_LOG), lines(3, 0));
      await fs.writeFile(path.join(logDir, ACCESS_LOG), lines(4, 3));
      const stop = new AbortController();
      const running = runWorker(h.config({ SYNC_ON_START: 'true', ACCESS_LOG_DIR: logDir }), {
        logger: capturingLogger().logger,
        signal: stop.signal,
        handleSignals: false,
        heartbeatSeconds: 0.2,
      });
      const counted = async (n: number) => {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const status = await readStatus(h.mirrorDir);
          if (status?.downloads?.totals.requests === n) return status;
          if (Date.now() > deadline) expect.fail(`counted ${status?.downloads?.totals.requests}, not ${n}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      };
      await counted(7);
      expect(await fs.readdir(logDir)).to.deep.equal([ACCESS_LOG]);
      await fs.appendFile(path.join(logDir, ACCESS_LOG), lines(5, 7));
      await counted(12);
      // Its sync's record keeps them.
      const deadline = Date.now() + 30_000;
      while (!(await readStatus(h.mirrorDir))?.lastRun && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const ran = await counted(12);
      expect(ran.lastRun?.result).to.equal('success');
      stop.abort();
      expect(await running).to.equal(0);
    });
  });

  describe('the rotation script', () => {
    let root: string;
    beforeEach(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-rotate-'));
    });
    afterEach(async () => {
      await fs.rm(root, { recursive: true, force: true });
    });

    it('waits for the worker to take access.json.1, and drops it only past ACCESS_LOG_MAX_BYTES', async () => {
      const logDir = path.join(root, 'log');
      const nginx = await startNginx({ mirrorRoot: path.join(root, 'mirror'), accessLogDir: logDir }).catch(
        async () => {
          await fs.mkdir(logDir);
          return startNginx({ mirrorRoot: path.join(root, 'mirror'), accessLogDir: logDir });
        },
      );
      try {
        for (let i = 0; i < 5; i++) await request(`${nginx.url}/nothing-${i}`);
        rotateAccessLog(logDir, nginx);
        const first = await fs.readFile(path.join(logDir, ROTATED_LOG), 'utf8');
        expect(first.trim().split('\n')).to.have.length(5);
        for (let i = 0; i < 3; i++) await request(`${nginx.url}/more-${i}`);
        // Not yet taken: it stays, and the current log keeps growing.
        rotateAccessLog(logDir, nginx, { ACCESS_LOG_MAX_BYTES: '1000000' });
        expect(await fs.readFile(path.join(logDir, ROTATED_LOG), 'utf8')).to.equal(first);
        // Past the bound: the old one goes, with a message saying so.
        const said = rotateAccessLog(logDir, nginx, { ACCESS_LOG_MAX_BYTES: '0' });
        expect(said).to.include('has not read');
        const second = await fs.readFile(path.join(logDir, ROTATED_LOG), 'utf8');
        expect(second).to.include('/more-0').and.not.include('/nothing-0');
      } finally {
        await nginx.stop();
      }
    });

    it('drops nothing without nginx to reopen the log, and moves an access.json.1 that is no file aside', async () => {
      const logDir = path.join(root, 'log');
      await fs.mkdir(logDir);
      const nginx = await startNginx({ mirrorRoot: path.join(root, 'mirror'), accessLogDir: logDir });
      try {
        await request(`${nginx.url}/x`);
        rotateAccessLog(logDir, nginx);
        const taken = await fs.readFile(path.join(logDir, ROTATED_LOG), 'utf8');
        await request(`${nginx.url}/y`);
        rotateAccessLog(logDir, nginx, { ACCESS_LOG_ROTATE_BYTES: '1000000' }); // flushes nothing, rotates nothing
        const said = rotateAccessLog(logDir, nginx, {
          NGINX_PID_FILE: path.join(root, 'no-such.pid'),
          ACCESS_LOG_MAX_BYTES: '0',
        });
        expect(said).to.include('no nginx pid');
        expect(await fs.readFile(path.join(logDir, ROTATED_LOG), 'utf8')).to.equal(taken);
        // A directory where access.json.1 should be: moved aside, and the rotation goes on.
        await fs.rm(path.join(logDir, ROTATED_LOG));
        await fs.mkdir(path.join(logDir, ROTATED_LOG));
        expect(rotateAccessLog(logDir, nginx)).to.include('is not a file');
        expect((await fs.stat(path.join(logDir, ROTATED_LOG))).isFile()).to.be.true;
      } finally {
        await nginx.stop();
      }
    });

    it('rotates nothing below ACCESS_LOG_ROTATE_BYTES', async () => {
      const logDir = path.join(root, 'log');
      await fs.mkdir(logDir);
      const nginx = await startNginx({ mirrorRoot: path.join(root, 'mirror'), accessLogDir: logDir });
      try {
        await request(`${nginx.url}/x`);
        await nginx.stop();
        rotateAccessLog(logDir, nginx, { ACCESS_LOG_ROTATE_BYTES: '100000' });
        expect(await fs.readdir(logDir)).to.deep.equal([ACCESS_LOG]);
      } finally {
        await nginx.stop();
      }
    });
  });

  describe('what a log line may say', () => {
    it('reads nginx lines and refuses what is not one (not JSON, not a GET, wrong types, a bad time)', () => {
      expect(parseLogLine(log({ u: '/releases/x?y=1' }))).to.deep.include({
        path: '/releases/x',
        status: 200,
        bytes: 100,
        client: '10.0.0.2',
      });
      // As nginx serves it: slashes merged, dots resolved, %-escapes decoded, no fragment.
      for (const [uri, served] of [
        ['/releases/24.10.4/packages/x/base//a_1_x.ipk', '/releases/24.10.4/packages/x/base/a_1_x.ipk'],
        ['/releases/./24.10.4/packages/x/y/../base/a_1_x.ipk', '/releases/24.10.4/packages/x/base/a_1_x.ipk'],
        [
          '/releases/24.10.4/packages/x/base/a_1%7e2_x.ipk#frag',
          '/releases/24.10.4/packages/x/base/a_1~2_x.ipk',
        ],
        ['/%FF/../status.json', '/status.json'],
      ]) {
        expect(parseLogLine(log({ u: uri }))?.path, uri).to.equal(served);
      }
      expect(parseLogLine('not json')).to.equal(undefined);
      expect(parseLogLine('null')).to.equal(undefined);
      expect(parseLogLine(log({ u: '/x', m: 'HEAD' }))).to.equal(undefined);
      expect(parseLogLine(log({ u: '/x', s: '200' }))).to.equal(undefined);
      expect(parseLogLine(log({ u: '/x', b: -1 }))).to.equal(undefined);
      expect(parseLogLine(log({ u: '/x', t: 'yesterday' }))).to.equal(undefined);
      expect(parseLogLine(log({ u: 'x' }))).to.equal(undefined);
      expect(parseLogLine(log({ u: `/${'a'.repeat(2000)}` }))).to.equal(undefined);
    });

    it('tells packages, indexes and images apart by the served layout, and names packages of both formats', () => {
      expect(
        classify('/releases/24.10.4/packages/mipsel_24kc/packages/tcpdump_4.99.5-r1_mipsel_24kc.ipk'),
      ).to.deep.equal({
        kind: 'package',
        feed: 'releases/24.10.4/packages/mipsel_24kc/packages',
        name: 'tcpdump',
        format: 'opkg',
      });
      expect(classify('/releases/25.12.0/targets/x86/64/packages/kmod-usb-net-6.12.57-r1.apk')).to.deep.equal(
        {
          kind: 'package',
          feed: 'releases/25.12.0/targets/x86/64/packages',
          name: 'kmod-usb-net',
          format: 'apk',
        },
      );
      expect(
        classify('/releases/24.10.4/targets/ramips/mt7621/kmods/6.6.93-1-abc/Packages.gz'),
      ).to.deep.equal({
        kind: 'index',
        feed: 'releases/24.10.4/targets/ramips/mt7621/kmods/6.6.93-1-abc',
        update: 'opkg',
      });
      expect(classify('/releases/25.12.0/packages/x86_64/base/packages.adb')).to.deep.include({
        update: 'apk',
      });
      expect(classify('/releases/24.10.4/packages/mipsel_24kc/base/Packages.sig')).to.deep.equal({
        kind: 'index',
        feed: 'releases/24.10.4/packages/mipsel_24kc/base',
      });
      expect(
        classify('/releases/24.10.4/targets/x86/64/openwrt-24.10.4-x86-64-generic-squashfs-combined.img.gz'),
      ).to.deep.equal({
        kind: 'image',
        target: 'releases/24.10.4/targets/x86/64',
      });
      for (const other of [
        '/releases/24.10.4/targets/x86/64/profiles.json',
        '/status.json',
        '/releases/../etc/passwd',
        '/releases/24.10.4/packages/x/y/..ipk',
        '/releases/24.10.4/packages/x/y/README',
      ]) {
        expect(classify(other), other).to.deep.equal({ kind: 'other' });
      }
      expect(apkFormat.packageOfFile('libstdcpp6-14.3.0-r1.apk')).to.equal('libstdcpp6');
      expect(apkFormat.packageOfFile('ca-certificates-20250419-r1.apk')).to.equal('ca-certificates');
      expect(apkFormat.packageOfFile('luci-app-firewall-25.300.12345~abcdef0-r1.apk')).to.equal(
        'luci-app-firewall',
      );
      expect(apkFormat.packageOfFile('no-version.apk')).to.equal(undefined);
      expect(opkgFormat.packageOfFile('luci-app-firewall_25.1~1-r1_all.ipk')).to.equal('luci-app-firewall');
      expect(opkgFormat.packageOfFile('noversion.ipk')).to.equal(undefined);
    });

    it("reads every real package's name from its file name alone (OpenWrt 24.10's and 25.12's own indexes)", async () => {
      const fixtures = path.join(REPO_ROOT, 'test/fixtures');
      const packages = await fs.readFile(path.join(fixtures, 'x86_64-core-kmods-24.10.Packages'), 'utf8');
      const opkg = packages
        .split('\n\n')
        .map((stanza) => [/^Package: (.*)$/m.exec(stanza)?.[1], /^Filename: (.*)$/m.exec(stanza)?.[1]])
        .filter((pair): pair is [string, string] => pair[0] !== undefined && pair[1] !== undefined);
      expect(opkg.length).to.be.greaterThan(1000);
      for (const [name, file] of opkg) expect(opkgFormat.packageOfFile(file), file).to.equal(name);
      const index = JSON.parse(
        await fs.readFile(path.join(fixtures, 'apk/aarch64-25.12.2-kmods.index.json'), 'utf8'),
      );
      const apk = Object.entries(index.packages as Record<string, string>);
      expect(apk.length).to.be.greaterThan(50);
      for (const [name, version] of apk)
        expect(apkFormat.packageOfFile(`${name}-${version}.apk`), name).to.equal(name);
      for (const file of await fs.readdir(path.join(fixtures, 'apk/signed-feed'))) {
        if (file.endsWith('.apk')) expect(apkFormat.packageOfFile(file), file).to.be.a('string');
      }
    });

    it('caps what hostile clients can make it remember: missing names per day', () => {
      const tally = new DownloadTally('UTC');
      for (let i = 0; i < 5000; i++)
        tally.add({
          time: Date.parse('2026-12-06T10:00:00Z'),
          client: '10.0.0.9',
          status: 404,
          bytes: 0,
          path: `/releases/24.10.4/packages/x/y/junk${i}_1_x.ipk`,
        });
      const json = tally.toJSON();
      expect(json.days[0]?.missing?.length).to.equal(2000);
      expect(json.days[0]?.notFound).to.equal(5000);
      expect(tally.summary(new Date('2026-12-06T12:00:00Z')).week.missing).to.have.length(20);
    });

    it('counts days in TZ, updates once per burst, and keeps only the days it should', () => {
      const tally = new DownloadTally('Europe/Berlin');
      const index = '/releases/24.10.4/packages/x/base/Packages.gz';
      const at = (iso: string, client = '10.0.0.3') =>
        tally.add({ time: Date.parse(iso), client, status: 200, bytes: 10, path: index });
      // 23:30 UTC is the next day in Berlin.
      at('2026-12-05T22:30:00Z');
      at('2026-12-05T22:30:20Z');
      at('2026-12-05T23:30:00Z');
      at('2026-12-05T23:30:00Z', '10.0.0.4');
      const summary = tally.summary(new Date('2026-12-06T10:00:00Z'));
      expect(summary.days.map((day) => [day.day, day.updates.opkg, day.clients])).to.deep.equal([
        ['2026-12-05', 1, 1],
        ['2026-12-06', 2, 2],
      ]);
      // 40 days later: the chart keeps 30 days, the details 7.
      for (let d = 0; d < 40; d++)
        at(new Date(Date.parse('2026-12-07T10:00:00Z') + d * 86_400_000).toISOString());
      const later = tally.summary(new Date('2027-01-15T12:00:00Z'));
      expect(later.days).to.have.length(30);
      expect(later.week.from).to.equal('2027-01-09');
      expect(later.totals.updates.opkg).to.equal(43);
      const restored = new DownloadTally('Europe/Berlin', JSON.parse(JSON.stringify(tally.toJSON())));
      expect(restored.summary(new Date('2027-01-15T12:00:00Z'))).to.deep.equal({
        ...later,
        updatedAt: '2027-01-15T12:00:00.000Z',
      });
    });
  });

  describe('reading the log file', () => {
    let root: string;
    beforeEach(async () => {
      root = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-log-'));
    });
    afterEach(async () => {
      await fs.rm(root, { recursive: true, force: true });
    });

    it('waits for a line nginx has not finished, and skips one too long to be ours', async () => {
      const file = path.join(root, ACCESS_LOG);
      await fs.writeFile(file, `${log({ u: '/a' })}\n${'x'.repeat(100_000)}\n${log({ u: '/b' })}\n{"t":`);
      const lines: string[] = [];
      const first = await readNewLines(root, START_CURSOR, (line) => lines.push(line));
      expect(lines.map((line) => parseLogLine(line)?.path)).to.deep.equal(['/a', '/b']);
      expect(first.overlong).to.equal(1);
      await fs.appendFile(file, `"2026-12-06T10:00:00+00:00","a":"1","m":"GET","u":"/c","s":200,"b":1}\n`);
      const second = await readNewLines(root, first.cursor, (line) => lines.push(line));
      expect(lines.map((line) => parseLogLine(line)?.path)).to.deep.equal(['/a', '/b', '/c']);
      expect(second.cursor.files).to.have.length(1);
    });

    it('counts a file once when a rotation finishes while it is being read', async () => {
      const file = path.join(root, ACCESS_LOG);
      const rotating = path.join(root, `${ACCESS_LOG}.rotating`);
      await fs.writeFile(file, Array.from({ length: 10 }, (_, i) => `${log({ u: `/a${i}` })}\n`).join(''));
      const lines: string[] = [];
      const first = await readNewLines(root, START_CURSOR, (line) => lines.push(line));
      // A rotation under way: the file read is .rotating, nginx writes a new access.json …
      renameSync(file, rotating);
      writeFileSync(file, `${log({ u: '/b0' })}\n`);
      // … and it finishes while the worker reads the new one.
      let finished = false;
      const second = await readNewLines(root, first.cursor, (line) => {
        lines.push(line);
        if (!finished) renameSync(rotating, path.join(root, ROTATED_LOG));
        finished = true;
      });
      await readNewLines(root, second.cursor, (line) => lines.push(line));
      const paths = lines.map((line) => parseLogLine(line)?.path);
      expect(paths).to.have.length(11);
      expect(new Set(paths).size).to.equal(11);
    });

    it('reads no log that is a link: a file outside the log directory is not read', async () => {
      const secret = path.join(root, 'secret');
      await fs.writeFile(secret, `${log({ u: '/secret' })}\n`);
      const logDir = path.join(root, 'log');
      await fs.mkdir(logDir);
      await fs.symlink(secret, path.join(logDir, ACCESS_LOG));
      await fs.symlink(secret, path.join(logDir, ROTATED_LOG));
      const lines: string[] = [];
      const read = await readNewLines(logDir, START_CURSOR, (line) => lines.push(line));
      expect(lines).to.deep.equal([]);
      expect(read.rotatedDone).to.equal(false);
    });

    it('starts a log that was emptied over again from its top', async () => {
      const file = path.join(root, ACCESS_LOG);
      await fs.writeFile(file, `${log({ u: '/a' })}\n${log({ u: '/b' })}\n`);
      const first = await readNewLines(root, START_CURSOR, () => {});
      await fs.writeFile(file, `${log({ u: '/c' })}\n`);
      const lines: string[] = [];
      await readNewLines(root, first.cursor, (line) => lines.push(line));
      expect(lines.map((line) => parseLogLine(line)?.path)).to.deep.equal(['/c']);
    });

    it('a rotated file already read to its end (a worker killed before deleting it) is deleted, not read again', async () => {
      const rotated = path.join(root, ROTATED_LOG);
      await fs.writeFile(rotated, `${log({ u: '/a' })}\n`);
      const { ino, size } = await fs.stat(rotated);
      const lines: string[] = [];
      const read = await readNewLines(root, { files: [{ inode: ino, offset: size }] }, (line) =>
        lines.push(line),
      );
      expect(lines).to.deep.equal([]);
      expect(read.rotatedDone).to.equal(true);
    });

    it('does not count a line from the future (a clock that was ahead)', async () => {
      const mirror = path.join(root, 'mirror');
      await fs.writeFile(
        path.join(root, ACCESS_LOG),
        `${log({ u: '/a', t: '2026-12-06T10:00:00+00:00' })}\n${log({ u: '/b', t: '2027-03-01T10:00:00+00:00' })}\n`,
      );
      const result = await ingestAccessLog(new MirrorDir(mirror), {
        logDir: root,
        timeZone: 'UTC',
        upstream: 'http://up',
        now: () => new Date('2026-12-06T12:00:00Z'),
      });
      expect(result.summary.days.map((day) => day.day)).to.deep.equal(['2026-12-06']);
      expect(result.summary.unreadableLines).to.equal(1);
    });

    it('sets aside a state file it cannot read, says so, and counts on', async () => {
      const mirror = path.join(root, 'mirror');
      const dir = new MirrorDir(mirror);
      await dir.prepareRoot();
      await fs.writeFile(path.join(dir.internal, DOWNLOADS_STATE), '{ not json');
      await fs.writeFile(path.join(root, ACCESS_LOG), `${log({ u: '/a' })}\n`);
      const result = await ingestAccessLog(dir, { logDir: root, timeZone: 'UTC', upstream: 'http://up' });
      expect(result.warning).to.include('downloads.json.unreadable');
      expect(result.summary.totals.requests).to.equal(1);
      await fs.access(path.join(dir.internal, `${DOWNLOADS_STATE}.unreadable`));
    });
  });
});
