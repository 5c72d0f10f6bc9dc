import { expect } from 'chai';
import { compareVersions, parseVersionOp, satisfies } from '../../../worker/formats/opkg/version.js';

/** Asserts that each version is strictly older than the next, in both argument orders. */
function expectAscending(versions: string[]): void {
  for (let i = 0; i + 1 < versions.length; i++) {
    const [older, newer] = [versions[i] ?? '', versions[i + 1] ?? ''];
    expect(compareVersions(older, newer), `${older} < ${newer}`).to.equal(-1);
    expect(compareVersions(newer, older), `${newer} > ${older}`).to.equal(1);
  }
}

describe('feeds/version', () => {
  it('sorts ~ before anything, even the end of the version', () => {
    expectAscending(['1.0~~', '1.0~rc1', '1.0~rc2', '1.0', '1.0a', '1.0+b', '1.0.1']);
  });

  it('compares digit runs numerically, ignoring leading zeros', () => {
    expectAscending(['1.2', '1.9', '1.10', '1.100', '2']);
    expect(compareVersions('1.01', '1.1')).to.equal(0);
    expect(compareVersions('2024.07.14', '2024.7.14')).to.equal(0);
  });

  it('orders letters before other punctuation, as dpkg does', () => {
    // a letter ranks before any other character, which rank by their code: '+' before '.'
    expectAscending(['1z', '1+', '1.']);
  });

  it('compares the epoch first', () => {
    expectAscending(['9.9-r9', '1:0.1', '2:0.0.1']);
    expect(compareVersions('0:1.0-r1', '1.0-r1')).to.equal(0);
  });

  it('splits the revision at the last dash and compares it after the upstream version', () => {
    expectAscending(['1.0-r1', '1.0-r2', '1.0-r10', '1.1-r0']);
    expectAscending(['1.0', '1.0-r0']); // no revision sorts before any revision
    expectAscending(['1.0-beta-r2', '1.0-beta-r3']);
    // Only the last dash starts the revision: upstream '1-a' is newer than upstream '1'.
    expectAscending(['1-r2', '1-a-r1']);
  });

  it('orders OpenWrt snapshot and kernel versions as opkg does', () => {
    expectAscending([
      '6.6.109-r1',
      '6.6.110~0aa1bb-r1',
      '6.6.110~abc-r1',
      '6.6.110-r1',
      '6.6.110.2024.07.30~ac71b14d-r2',
      '6.6.110.2024.07.30-r1',
    ]);
    expect(compareVersions('6.6.110~abc-r1', '6.6.110~abc-r1')).to.equal(0);
    expectAscending(['2024.07.14~408c2cc4-r1', '2024.07.14-r1', '2024.07.15~0-r1']);
    expectAscending(['1~d9340319c6', '1']);
  });

  it('evaluates every operator', () => {
    const table: [string, '<<' | '<=' | '=' | '>=' | '>>', string, boolean][] = [
      ['1.0-r1', '<<', '1.0-r2', true],
      ['1.0-r2', '<<', '1.0-r2', false],
      ['1.0-r2', '<=', '1.0-r2', true],
      ['1.0-r3', '<=', '1.0-r2', false],
      ['6.6.110~abc-r1', '=', '6.6.110~abc-r1', true],
      ['6.6.110-r1', '=', '6.6.110~abc-r1', false],
      ['1.2', '>=', '1.2', true],
      ['1.2~rc1', '>=', '1.2', false],
      ['1.3', '>>', '1.2', true],
      ['1.2', '>>', '1.2', false],
    ];
    for (const [version, op, wanted, expected] of table) {
      expect(satisfies(version, op, wanted), `${version} ${op} ${wanted}`).to.equal(expected);
    }
  });

  it('reads operators, turning the legacy < and > into <= and >=', () => {
    expect(parseVersionOp('>=1.2')).to.deep.equal({ op: '>=', length: 2 });
    expect(parseVersionOp('<< 1')).to.deep.equal({ op: '<<', length: 2 });
    expect(parseVersionOp('=6.6.110~abc-r1')).to.deep.equal({ op: '=', length: 1 });
    expect(parseVersionOp('< 2')).to.deep.equal({ op: '<=', length: 1 });
    expect(parseVersionOp('>2')).to.deep.equal({ op: '>=', length: 1 });
    expect(parseVersionOp('1.2')).to.equal(undefined);
  });
});
