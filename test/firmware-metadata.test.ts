/**
 * What firmware-selector and attended-sysupgrade clients read, mirrored from the fake upstream and
 * served by the real nginx: `/.versions.json` and `releases/<version>/.targets.json`, byte for byte,
 * a hostile or broken one refused with the last good one kept; and `OPENWRT_DEVICES=all`, every
 * device's images.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { readStatus } from '../worker/status/status-file.js';
import { sha256 } from './helpers/files.js';
import { type RunningNginx, request, startNginx } from './helpers/nginx.js';
import { createHarness, type Harness } from './helpers/sync-harness.js';

describe('firmware metadata and images', function () {
  this.timeout(120_000);
  let h: Harness | undefined;
  let nginx: RunningNginx | undefined;

  afterEach(async () => {
    await nginx?.stop();
    nginx = undefined;
    await h?.close();
    h = undefined;
  });

  it('OPENWRT_DEVICES=all mirrors every image of every device profile of the target', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: 'all' } });
    const { exitCode, report } = await h.sync();
    expect(report.failures, JSON.stringify(report.failures)).to.deep.equal([]);
    expect(exitCode).to.equal(0);
    const devices = [...new Set(h.tree.images.map((image) => image.device))].sort();
    expect(devices).to.deep.equal(['dlink_dir-1960-a1', 'xiaomi_mi-router-4a-gigabit']);
    for (const image of h.tree.images) {
      const served = await fs.readFile(path.join(h.mirrorDir, image.path)).catch(() => undefined);
      expect(served && sha256(served), image.path).to.equal(image.sha256);
    }
    expect([...(report.sets[0]?.images?.devices ?? [])].sort()).to.deep.equal(devices);
    const status = await readStatus(h.mirrorDir);
    expect(status?.served.images).to.equal(h.tree.images.length);
  });

  it('serves the upstream’s .versions.json and the release’s .targets.json byte for byte, revalidated', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    expect((await h.sync()).exitCode).to.equal(0);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    const versions = await request(`${nginx.url}/.versions.json`);
    expect(versions.body.equals(h.tree.files.get('.versions.json') as Buffer)).to.equal(true);
    const targetsPath = `${h.tree.releaseDir}/.targets.json`;
    const targets = await request(`${nginx.url}/${targetsPath}`);
    expect(targets.body.equals(h.tree.files.get(targetsPath) as Buffer)).to.equal(true);
    // Inside the release's generation, like every file of the release.
    const link = await fs.readlink(path.join(h.mirrorDir, h.tree.releaseDir));
    expect(link).to.match(/^\.\.\/\.mirror\/generations\//);

    // The upstream moves on: both follow it.
    const next = Buffer.from(
      JSON.stringify({ stable_version: '24.10.5', versions_list: ['24.10.5', '24.10.4'] }),
    );
    h.upstream.files.set('.versions.json', next);
    expect((await h.sync()).exitCode).to.equal(0);
    expect((await request(`${nginx.url}/.versions.json`)).body.equals(next)).to.equal(true);
  });

  describe('a broken or hostile file is refused, and the last good one stays served', () => {
    const targetsCases: [string, string, RegExp][] = [
      ['not JSON', '<html>Please log in</html>', /is not JSON/],
      ['a list', '["ramips/mt7621"]', /top level is not an object/],
      ['no targets', '{}', /lists 0 targets/],
      ['a target that climbs', '{"../../etc":"mipsel_24kc"}', /"\.\.\/\.\.\/etc" is not a target\/subtarget/],
      [
        'an architecture that is shell',
        '{"ramips/mt7621":"mipsel_24kc$(reboot)"}',
        /ramips\/mt7621: "mipsel_24kc\$\(reboot\)" is not a package architecture/,
      ],
      [
        'a number for an architecture',
        '{"ramips/mt7621":7}',
        /ramips\/mt7621: 7 is not a package architecture/,
      ],
      ['too large', `{"ramips/mt7621":"mipsel_24kc","x":"${'y'.repeat(300_000)}"}`, /262144/],
    ];
    for (const [what, body, says] of targetsCases) {
      it(`.targets.json: ${what}`, async () => {
        h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
        expect((await h.sync()).exitCode).to.equal(0);
        const rel = `${h.tree.releaseDir}/.targets.json`;
        const good = h.tree.files.get(rel) as Buffer;
        h.upstream.files.set(rel, Buffer.from(body));
        const { exitCode, report } = await h.sync();
        expect(exitCode).to.equal(1);
        const failure = report.failures.find((f) => f.reason.includes('.targets.json'));
        expect(failure?.reason, JSON.stringify(report.failures)).to.match(says);
        expect(failure?.reason).to.contain(rel).and.contain('the last good one stays served');
        // Nothing else failed: the feeds were published, with the last good list of targets.
        expect(report.failures).to.have.length(1);
        expect(report.result).to.equal('partial');
        expect((await fs.readFile(path.join(h.mirrorDir, rel))).equals(good)).to.equal(true);

        h.upstream.files.set(rel, good);
        const again = await h.sync();
        expect(again.report.failures).to.deep.equal([]);
      });
    }

    const versionsCases: [string, string, RegExp][] = [
      ['not JSON', 'Service Unavailable', /is not JSON/],
      ['no list', '{"stable_version":"24.10.4","versions_list":"24.10.4"}', /versions_list is missing/],
      [
        'a release that is shell',
        '{"stable_version":"24.10.4","versions_list":["24.10.4","$(reboot)"]}',
        /versions_list\[1\] "\$\(reboot\)" is not a release name/,
      ],
      [
        'a release that climbs',
        '{"stable_version":"../../etc","versions_list":["24.10.4"]}',
        /stable_version "\.\.\/\.\.\/etc" is not a release name/,
      ],
      [
        'images from elsewhere',
        '{"stable_version":"24.10.4","versions_list":["24.10.4"],"image_url_override":"https://evil.example"}',
        /image_url_override would send firmware-selector past this mirror/,
      ],
      ['too large', `{"stable_version":"24.10.4","versions_list":["${'9'.repeat(300_000)}"]}`, /262144/],
    ];
    for (const [what, body, says] of versionsCases) {
      it(`.versions.json: ${what}`, async () => {
        h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
        expect((await h.sync()).exitCode).to.equal(0);
        const good = h.tree.files.get('.versions.json') as Buffer;
        h.upstream.files.set('.versions.json', Buffer.from(body));
        const { exitCode, report } = await h.sync();
        expect(exitCode).to.equal(1);
        expect(report.failures).to.have.length(1);
        expect(report.failures[0]?.reason).to.match(says).and.contain('the last good one stays served');
        nginx = await startNginx({ mirrorRoot: h.mirrorDir });
        expect((await request(`${nginx.url}/.versions.json`)).body.equals(good)).to.equal(true);
      });
    }
  });

  it('an upstream without them (a test server, an older mirror) is no failure, and none is served', async () => {
    h = await createHarness({ env: { OPENWRT_DEVICES: '' } });
    expect((await h.sync()).exitCode).to.equal(0);
    const rel = `${h.tree.releaseDir}/.targets.json`;
    h.upstream.files.delete('.versions.json');
    h.upstream.files.delete(rel);
    const { exitCode, report } = await h.sync();
    expect(report.failures).to.deep.equal([]);
    expect(report.warnings.filter((w) => /\.(versions|targets)\.json/.test(w))).to.deep.equal([]);
    expect(exitCode).to.equal(0);
    nginx = await startNginx({ mirrorRoot: h.mirrorDir });
    expect((await request(`${nginx.url}/.versions.json`)).status).to.equal(404);
    expect((await request(`${nginx.url}/${rel}`)).status).to.equal(404);
  });
});
