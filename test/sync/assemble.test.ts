/** assembleRelease on plain data: every directory taken new, kept whole, or failed, one way for all. */
import { expect } from 'chai';
import type { ServedFile } from '../../worker/publish/types.js';
import { type AssembleInput, assembleRelease, type Unit } from '../../worker/sync/assemble.js';
import type { FileTask } from '../../worker/sync/types.js';

const file = (sha: string, size = 1): ServedFile => ({ sha256: sha.repeat(64).slice(0, 64), size });

function task(rel: string, ok: boolean, sha = 'b'): FileTask {
  return {
    release: 'r',
    rel,
    unit: rel.slice(0, rel.lastIndexOf('/')),
    sets: [],
    package: rel.split('/').pop(),
    key: rel,
    outcome: ok ? { ok: true, served: file(sha), fetched: true } : { ok: false, reason: 'HTTP 404' },
  };
}

function input(
  units: Unit[],
  previous: [string, ServedFile][] = [],
  extra: Partial<AssembleInput> = {},
): AssembleInput {
  return {
    units,
    previousFiles: new Map(previous),
    targetDirs: [],
    readSums: async () => new Map(),
    withdrawn: new Map(),
    dropped: {},
    now: new Date('2026-12-05T00:00:00Z'),
    graceHours: 24,
    ...extra,
  };
}

describe('assemble', () => {
  const feed = (tasks: FileTask[], blocker?: string): Unit => ({
    dir: 'f',
    feed: 'base',
    fresh: { indexFiles: { Packages: file('1') }, tasks, ...(blocker && { blocker }) },
    verifiedThisRun: true,
    validatorKeys: ['f/Packages.sig'],
  });

  it('takes a directory new when its index and every file it wants are had', async () => {
    const result = await assembleRelease(input([feed([task('f/a.ipk', true)])]));
    expect(result.decisions.get('f')?.taken).to.equal('new');
    expect([...result.manifest.keys()].sort()).to.deep.equal(['f/Packages', 'f/a.ipk']);
    expect([...result.fresh]).to.deep.equal(['f/Packages.sig']);
  });

  it('keeps a directory whole as it was when one of its files failed, naming the file', async () => {
    const previous: [string, ServedFile][] = [
      ['f/Packages', file('0')],
      ['f/old.ipk', file('9')],
    ];
    const result = await assembleRelease(
      input([feed([task('f/a.ipk', true), task('f/b.ipk', false)])], previous),
    );
    expect(result.decisions.get('f')?.taken).to.equal('kept');
    expect([...result.manifest]).to.deep.equal(previous);
    expect(result.failures).to.deep.equal([
      { feed: 'base', file: 'f/b.ipk', package: 'b.ipk', reason: 'HTTP 404' },
    ]);
    expect([...result.kept]).to.deep.equal(['f/Packages.sig']);
  });

  it('fails a directory with no old state, and serves only its fallback', async () => {
    const target: Unit = {
      dir: 't',
      verifiedThisRun: true,
      fallback: { 'profiles.json': file('p') },
      validatorKeys: [],
    };
    const result = await assembleRelease(input([feed([], 'index.json: HTTP 500'), target]));
    expect(result.decisions.get('f')?.taken).to.equal('failed');
    expect(result.decisions.get('t')?.taken).to.equal('failed');
    expect([...result.manifest.keys()]).to.deep.equal(['t/profiles.json']);
    expect(result.failures).to.deep.equal([{ feed: 'base', reason: 'index.json: HTTP 500' }]);
  });

  it('does not serve target sums that disagree with the files beside them, and says so', async () => {
    const sums = file('s');
    const unit: Unit = {
      dir: 't',
      fresh: {
        indexFiles: { 'profiles.json': file('p'), sha256sums: sums, 'sha256sums.sig': file('g') },
        tasks: [],
      },
      verifiedThisRun: true,
      validatorKeys: ['t/sha256sums.sig'],
    };
    const core: Unit = {
      dir: 't/packages',
      fresh: { indexFiles: { Packages: file('c') }, tasks: [] },
      verifiedThisRun: true,
      validatorKeys: [],
    };
    const result = await assembleRelease(
      input([unit, core], [], {
        targetDirs: ['t'],
        readSums: async () => new Map([['packages/Packages', 'd'.repeat(64)]]),
      }),
    );
    expect(result.manifest.has('t/sha256sums')).to.be.false;
    expect(result.manifest.has('t/packages/Packages')).to.be.true;
    expect(result.failures[0]?.reason).to.match(
      /^lists packages\/Packages with another sha256 .*not served until it agrees again$/,
    );
  });

  it('keeps a withdrawn directory whole for the grace period, and files an index dropped too', async () => {
    const previous: [string, ServedFile][] = [
      ['gone/Packages', file('0')],
      ['gone/x.ipk', file('1')],
      ['f/Packages', file('0')],
      ['f/replaced.ipk', file('2')],
    ];
    const kept = await assembleRelease(
      input([feed([task('f/a.ipk', true)])], previous, {
        withdrawn: new Map([['gone', '2026-12-04T12:00:00Z']]),
      }),
    );
    expect([...kept.manifest.keys()].sort()).to.deep.equal([
      'f/Packages',
      'f/a.ipk',
      'f/replaced.ipk',
      'gone/Packages',
      'gone/x.ipk',
    ]);
    expect(Object.keys(kept.dropped)).to.deep.equal(['f/replaced.ipk']);
    const later = await assembleRelease(
      input([feed([task('f/a.ipk', true)])], previous, {
        withdrawn: new Map([['gone', '2026-12-01T00:00:00Z']]),
        dropped: { 'f/replaced.ipk': { ...file('2'), since: '2026-12-01T00:00:00Z' } },
      }),
    );
    expect([...later.manifest.keys()].sort()).to.deep.equal(['f/Packages', 'f/a.ipk']);
  });
});
