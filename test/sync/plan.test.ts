/** planRelease on plain data: each set's closure over its own feeds, the union for a shared feed. */
import { expect } from 'chai';
import { encodeDepends } from '../../worker/feeds/depends.js';
import type { PackageRecord } from '../../worker/feeds/types.js';
import { opkgAccepts } from '../../worker/formats/opkg/version.js';
import { type PlanInput, planRelease } from '../../worker/sync/plan.js';

function pkg(name: string, depends: string[] = [], provides: string[] = []): PackageRecord {
  return {
    name,
    version: '1.0-r1',
    filename: `${name}_1.0-r1_all.ipk`,
    size: 10,
    sha256: name
      .padEnd(64, '0')
      .slice(0, 64)
      .replace(/[^0-9a-f]/g, 'a'),
    depends: encodeDepends(depends.map((d) => [{ name: d }])),
    provides,
  };
}

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    release: '24.10.4',
    sets: [],
    feeds: new Map(),
    unavailable: new Map(),
    accepts: opkgAccepts,
    expect: (p) => ({ sha256: p.sha256, size: p.size }),
    previousFiles: new Map(),
    ...overrides,
  };
}

describe('plan', () => {
  const feeds = new Map([
    ['targets/a/core', { name: 'core', packages: [pkg('kmod-x', ['kmod-y']), pkg('kmod-y')] }],
    ['targets/b/core', { name: 'core', packages: [pkg('kmod-x'), pkg('kmod-z')] }],
    [
      'packages/mips/base',
      { name: 'base', packages: [pkg('app', ['kmod-x', 'lib']), pkg('lib'), pkg('tool')] },
    ],
  ]);
  const setA = {
    label: 'r a',
    mode: 'selective' as const,
    required: ['app'],
    optional: [],
    feedDirs: ['targets/a/core', 'packages/mips/base'],
  };
  const setB = {
    label: 'r b',
    mode: 'selective' as const,
    required: ['app', 'tool'],
    optional: [],
    feedDirs: ['targets/b/core', 'packages/mips/base'],
  };

  it('closes each set over its own core and the shared feed; the shared feed serves the union', () => {
    const plan = planRelease(input({ sets: [setA, setB], feeds }));
    const rels = plan.tasks.map((t) => t.rel).sort();
    expect(rels).to.deep.equal(
      [
        'packages/mips/base/app_1.0-r1_all.ipk',
        'packages/mips/base/lib_1.0-r1_all.ipk',
        'packages/mips/base/tool_1.0-r1_all.ipk',
        'targets/a/core/kmod-x_1.0-r1_all.ipk',
        'targets/a/core/kmod-y_1.0-r1_all.ipk',
        'targets/b/core/kmod-x_1.0-r1_all.ipk',
      ].sort(),
    );
    // One task per path, naming every set that wants it.
    const app = plan.tasks.find((t) => t.rel.endsWith('/app_1.0-r1_all.ipk'));
    expect(app?.sets).to.deep.equal(['r a', 'r b']);
    expect(plan.tasks.find((t) => t.rel.endsWith('/tool_1.0-r1_all.ipk'))?.sets).to.deep.equal(['r b']);
    expect(app?.unit).to.equal('packages/mips/base');
    expect(app?.key).to.equal(app?.sha256);
    expect(plan.failures).to.deep.equal([]);
  });

  it('names the set of a failure, and folds what refused feeds may hold into one line', () => {
    const missing = planRelease(input({ sets: [{ ...setA, required: ['app', 'nothing'] }], feeds }));
    expect(missing.failures).to.deep.equal([
      {
        set: 'r a',
        package: 'nothing',
        reason: 'required package nothing is in no feed (REQUIRED_PACKAGES)',
      },
    ]);
    const refused = planRelease(
      input({
        sets: [{ ...setA, required: ['app', 'nothing'] }],
        feeds: new Map([...feeds].filter(([dir]) => dir !== 'targets/a/core')),
        unavailable: new Map([['targets/a/core', 'core']]),
      }),
    );
    expect(refused.failures).to.have.length(1);
    expect(refused.failures[0]?.reason).to.match(
      /^2 packages the required list needs are in no usable feed \(nothing, kmod-x \(for app\)\); the feed core/,
    );
  });

  it('takes every package of every feed of the set in full mode, and says nothing of sets when there is one', () => {
    const plan = planRelease(input({ sets: [{ ...setA, label: undefined, mode: 'full' }], feeds }));
    expect(plan.tasks).to.have.length(5);
    expect(plan.tasks.every((t) => t.sets.length === 0)).to.be.true;
  });
});
