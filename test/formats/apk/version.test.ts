import { expect } from 'chai';
import { NO_DEPENDS } from '../../../worker/feeds/depends.js';
import type { PackageRecord } from '../../../worker/feeds/types.js';
import {
  apkAccepts,
  compareApkVersions,
  isValidApkVersion,
  satisfiesApk,
} from '../../../worker/formats/apk/version.js';

/** Asserts that each version is strictly older than the next, in both argument orders. */
function expectAscending(versions: string[]): void {
  for (let i = 0; i + 1 < versions.length; i++) {
    const [older, newer] = [versions[i] ?? '', versions[i + 1] ?? ''];
    expect(compareApkVersions(older, newer), `${older} < ${newer}`).to.equal(-1);
    expect(compareApkVersions(newer, older), `${newer} > ${older}`).to.equal(1);
  }
}

describe('apk/version', () => {
  it('compares dotted numbers numerically, the first one too', () => {
    expectAscending(['1', '1.2', '1.9', '1.10', '1.100', '2', '10', '2024.1']);
    expect(compareApkVersions('1.2.3', '1.2.3')).to.equal(0);
  });

  it('compares a later part with a leading zero as text, as Gentoo does', () => {
    expectAscending(['1.001', '1.01', '1.1']);
    expectAscending(['2025.07.01', '2025.10.03']);
    expect(compareApkVersions('1.05', '1.5')).to.equal(-1);
  });

  it('ranks pre-release suffixes below the release and the others above it', () => {
    expectAscending([
      '1.0_alpha',
      '1.0_alpha2',
      '1.0_beta',
      '1.0_pre1',
      '1.0_rc1',
      '1.0_rc2',
      '1.0',
      '1.0_cvs',
      '1.0_svn',
      '1.0_git',
      '1.0_hg',
      '1.0_p1',
      '1.0_p2',
    ]);
  });

  it('orders a letter after the number it follows, below a further dotted part', () => {
    expectAscending(['1.0', '1.0a', '1.0b', '1.0.1']);
  });

  it('compares the revision last, a missing one being -r0 or lower', () => {
    expectAscending(['1.0', '1.0-r0', '1.0-r1', '1.0-r2', '1.0-r10', '1.0.1-r0']);
  });

  it('orders OpenWrt snapshot and kernel versions with their ~hash parts', () => {
    // The date decides first; the hash is only compared (as text) when everything before it is equal.
    expectAscending(['2025.10.03~04cd252e-r1', '2025.10.03~04cd252e-r2', '2026.02.15~8d377aa6-r1']);
    expectAscending(['2025.10.03~04cd252e-r1', '2025.10.03~ffffffff-r1']);
    // A hash part ranks above nothing and above a revision alone.
    expectAscending(['6.12.74', '6.12.74~ea63eca8', '6.12.74~ea63eca8-r1', '6.12.75']);
    expect(
      compareApkVersions(
        '6.12.74~ea63eca8388c3b20e2a7a5d5cbdbc7e1-r1',
        '6.12.74~ea63eca8388c3b20e2a7a5d5cbdbc7e1-r1',
      ),
    ).to.equal(0);
  });

  it('compares digit runs longer than 15 digits exactly', () => {
    expectAscending(['1.99999999999999998', '1.99999999999999999', '1.100000000000000000']);
  });

  it('sorts an invalid version below every valid one where they part', () => {
    expect(isValidApkVersion('1.0-r1')).to.equal(true);
    expect(isValidApkVersion('2025.10.03~04cd252e-r1')).to.equal(true);
    for (const bad of [
      '',
      'abc',
      '1.',
      '1..2',
      '1.0-1',
      '1.0_foo',
      '1.0~',
      '1.0~XYZ',
      '1.0-r1-r2',
      '1.0ab',
    ]) {
      expect(isValidApkVersion(bad), bad).to.equal(false);
    }
    expectAscending(['1.0_foo', '1.0']);
    expectAscending(['1.0-1', '1.0']);
  });

  it('evaluates every operator, and ~ as a token-wise prefix match', () => {
    expect(satisfiesApk('1.2', '=', '1.2')).to.equal(true);
    expect(satisfiesApk('1.2-r1', '=', '1.2')).to.equal(false);
    expect(satisfiesApk('1.1', '<<', '1.2')).to.equal(true);
    expect(satisfiesApk('1.2', '<<', '1.2')).to.equal(false);
    expect(satisfiesApk('1.2', '<=', '1.2')).to.equal(true);
    expect(satisfiesApk('1.3', '>>', '1.2')).to.equal(true);
    expect(satisfiesApk('1.2', '>=', '1.2')).to.equal(true);
    expect(satisfiesApk('1.1', '>=', '1.2')).to.equal(false);
    for (const v of ['1.2', '1.2.3', '1.2-r1', '1.2_rc1', '1.2a']) {
      expect(satisfiesApk(v, '=', '1.2', true), `${v} ~ 1.2`).to.equal(true);
    }
    for (const v of ['1.20', '1.3', '1.1.9'])
      expect(satisfiesApk(v, '=', '1.2', true), `${v} !~ 1.2`).to.equal(false);
    expect(satisfiesApk('1.3', '>=', '1.2', true)).to.equal(true);
    expect(satisfiesApk('1.2.9', '<=', '1.2', true)).to.equal(true);
  });

  it('judges a package by its own version and accepts any provider for the closure', () => {
    const record = (name: string, version: string): PackageRecord => ({
      name,
      version,
      filename: `${name}-${version}.apk`,
      size: 1,
      sha256: '0'.repeat(64),
      depends: NO_DEPENDS,
      provides: ['virtual'],
    });
    expect(apkAccepts(record('foo', '2.0-r1'), { name: 'foo', op: '>=', version: '2.0' })).to.equal(true);
    expect(apkAccepts(record('foo', '1.9-r1'), { name: 'foo', op: '>=', version: '2.0' })).to.equal(false);
    expect(
      apkAccepts(record('foo', '1.2.5'), { name: 'foo', op: '=', version: '1.2', fuzzy: true }),
    ).to.equal(true);
    expect(apkAccepts(record('foo', '1.0'), { name: 'foo' })).to.equal(true);
    expect(apkAccepts(record('foo', '1.0'), { name: 'virtual', op: '>=', version: '9' })).to.equal(true);
  });
});
