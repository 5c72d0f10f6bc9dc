import { expect } from 'chai';
import { type FeedIndex, resolveClosure } from '../../../worker/feeds/closure.js';
import type { PackageRecord } from '../../../worker/feeds/types.js';
import { parseApkIndex } from '../../../worker/formats/apk/apk-index.js';
import { apkAccepts } from '../../../worker/formats/apk/version.js';
import { opkgAccepts } from '../../../worker/formats/opkg/version.js';
import { buildApkFeed, type FakeApk } from '../../helpers/adb-writer.js';

/** Records as the apk index parser makes them, from packages written by the test writer. */
function feed(name: string, ...packages: FakeApk[]): FeedIndex {
  const index = parseApkIndex(buildApkFeed(packages, { signers: [] }).index);
  expect(index.problems).to.deep.equal([]);
  return { feed: name, packages: index.packages };
}

const names = (result: ReturnType<typeof resolveClosure>): string[] => result.selected.map((s) => s.pkg.name);

describe('apk/closure', () => {
  it('follows apk dependencies across feeds, with kernel= and libc from the firmware, ignoring conflicts', () => {
    const result = resolveClosure({
      feeds: [
        feed(
          'kmods',
          {
            name: 'kmod-batman-adv',
            version: '6.12.74.2025.4-r1',
            depends: ['kernel=6.12.74~ea63eca8-r1', 'kmod-crc16', 'kmod-lib-crc32c'],
          },
          { name: 'kmod-crc16', version: '6.12.74-r1', depends: ['kernel=6.12.74~ea63eca8-r1'] },
          {
            name: 'kmod-lib-crc32c',
            version: '6.12.74-r1',
            depends: ['kernel=6.12.74~ea63eca8-r1', '!kmod-old'],
          },
          { name: 'kmod-old', version: '1-r1' },
        ),
        feed('routing', {
          name: 'batctl-full',
          version: '2025.4-r1',
          depends: ['libc', 'kmod-batman-adv', 'libnl-tiny1'],
        }),
        feed('base', {
          name: 'libnl-tiny1',
          version: '2025.03.19~c0df580a-r1',
          provides: ['libnl-tiny'],
          abiVersion: '1',
        }),
      ],
      required: ['batctl-full'],
      optional: [],
      accepts: apkAccepts,
    });
    expect(names(result)).to.deep.equal([
      'kmod-batman-adv',
      'kmod-crc16',
      'kmod-lib-crc32c',
      'batctl-full',
      'libnl-tiny1',
    ]);
    expect(result.unresolved).to.deep.equal([]);
  });

  it("uses apk's version order when it is passed, opkg's otherwise", () => {
    // apk: 1.0_rc1 is older than 1.0, so `>=1.0` rules it out; opkg reads `_rc1` as newer.
    const feeds = [
      feed(
        'base',
        { name: 'app', version: '1-r1', depends: ['lib>=1.0'] },
        { name: 'lib', version: '1.0_rc1' },
      ),
    ];
    const apk = resolveClosure({ feeds, required: ['app'], optional: [], accepts: apkAccepts });
    expect(names(apk)).to.deep.equal(['app']);
    expect(apk.unresolved).to.deep.equal([
      { name: 'lib', constraint: '>= 1.0', neededBy: 'app', feed: 'base', fromRequired: true },
    ]);
    const opkg = resolveClosure({ feeds, required: ['app'], optional: [], accepts: opkgAccepts });
    expect(names(opkg)).to.deep.equal(['app', 'lib']);
  });

  it('holds what a fuzzy ~ dependency matches', () => {
    const feeds = [
      feed(
        'base',
        { name: 'app', version: '1-r1', depends: ['lib~1.2'] },
        { name: 'lib', version: '1.2.7-r3' },
      ),
    ];
    const result = resolveClosure({ feeds, required: ['app'], optional: [], accepts: apkAccepts });
    expect(names(result)).to.deep.equal(['app', 'lib']);
  });

  it('adds every install-if package the selection meets in one item (a node may hold the others), then closes over their dependencies', () => {
    const feeds = [
      feed(
        'luci',
        { name: 'luci-app-statistics', version: '1-r1', depends: ['collectd'] },
        {
          name: 'luci-i18n-statistics-de',
          version: '1-r1',
          installIf: ['luci-app-statistics', 'luci-i18n-base-de'],
        },
        { name: 'luci-i18n-base-de', version: '1-r1' },
        {
          name: 'luci-app-statistics-extra',
          version: '1-r1',
          installIf: ['collectd-mod-rrdtool', 'luci-i18n-base-de'],
          depends: ['rrdtool1'],
        },
        { name: 'rrdtool1', version: '1.2-r1', installIf: [] },
        { name: 'not-triggered', version: '1-r1', installIf: ['luci-i18n-base-de', 'missing-package'] },
        { name: 'version-mismatch', version: '1-r1', installIf: ['collectd>=6'] },
      ),
      feed(
        'packages',
        { name: 'collectd', version: '5.12.0-r1' },
        { name: 'collectd-mod-rrdtool', version: '5.12.0-r1' },
      ),
    ];
    const result = resolveClosure({
      feeds,
      required: ['luci-app-statistics'],
      optional: ['collectd-mod-rrdtool'],
      accepts: apkAccepts,
    });
    // The German translation: a node with German LuCI installs it with luci-app-statistics. The extra
    // only once the optional walk brings collectd-mod-rrdtool; it pulls rrdtool1. Nothing selected meets
    // not-triggered, and collectd 5 does not meet collectd>=6; luci-i18n-base-de is a trigger, not a need.
    expect(names(result)).to.deep.equal([
      'luci-app-statistics',
      'luci-i18n-statistics-de',
      'luci-app-statistics-extra',
      'rrdtool1',
      'collectd',
      'collectd-mod-rrdtool',
    ]);
  });

  it('chains install-if: a package it adds can trigger the next, and provided names count as installed', () => {
    const records: PackageRecord[] = feed(
      'base',
      { name: 'a', version: '1' },
      { name: 'b', version: '1', installIf: ['a', 'kernel'] },
      { name: 'c', version: '1', installIf: ['b'], depends: ['d'] },
      { name: 'd', version: '1' },
    ).packages;
    const result = resolveClosure({
      feeds: [{ feed: 'base', packages: records }],
      required: ['a'],
      optional: [],
      accepts: apkAccepts,
    });
    expect(names(result)).to.deep.equal(['a', 'b', 'c', 'd']);
  });
});
