import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { type FeedIndex, resolveClosure, selectAll } from '../../worker/feeds/closure.js';
import { encodeDepends } from '../../worker/feeds/depends.js';
import type { PackageRecord } from '../../worker/feeds/types.js';
import { parseDependsList, parsePackagesIndex } from '../../worker/formats/opkg/packages-index.js';
import { opkgAccepts } from '../../worker/formats/opkg/version.js';

/** A record with the given `Depends:` text; file fields are irrelevant to the closure. */
function pkg(
  name: string,
  depends = '',
  extra: { version?: string; provides?: string[] } = {},
): PackageRecord {
  const version = extra.version ?? '1.0-r1';
  return {
    name,
    version,
    filename: `${name}_${version}_all.ipk`,
    size: 1,
    sha256: '0'.repeat(64),
    depends: encodeDepends(parseDependsList(depends)),
    provides: extra.provides ?? [],
  };
}

const names = (result: ReturnType<typeof resolveClosure>): string[] => result.selected.map((s) => s.pkg.name);
const feed = (name: string, ...packages: PackageRecord[]): FeedIndex => ({ feed: name, packages });

describe('feeds/closure', () => {
  it('follows dependencies transitively and skips what is not needed', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [feed('base', pkg('a', 'libc, b'), pkg('b', 'c'), pkg('c'), pkg('unrelated', 'a'))],
      required: ['a'],
      optional: [],
    });
    expect(names(result)).to.deep.equal(['a', 'b', 'c']);
    expect(result.unresolved).to.deep.equal([]);
    expect(result.missingRequired).to.deep.equal([]);
  });

  it('holds every alternative of an a | b item', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [
        feed(
          'base',
          pkg('app', 'ssl-a | ssl-b | ssl-c'),
          pkg('ssl-a'),
          pkg('ssl-b', 'b-dep'),
          pkg('b-dep'),
          pkg('ssl-c'),
        ),
      ],
      required: ['app'],
      optional: [],
    });
    expect(names(result)).to.deep.equal(['app', 'ssl-a', 'ssl-b', 'b-dep', 'ssl-c']);
  });

  it('does not report an alternative that is missing when another one resolves', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [feed('base', pkg('app', 'gone | here'), pkg('here'))],
      required: ['app'],
      optional: [],
    });
    expect(names(result)).to.deep.equal(['app', 'here']);
    expect(result.unresolved).to.deep.equal([]);
  });

  it('reports every alternative when none resolves', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [feed('base', pkg('app', 'x | y'))],
      required: ['app'],
      optional: [],
    });
    expect(result.unresolved.map((u) => u.name)).to.deep.equal(['x', 'y']);
  });

  it('holds every provider of a virtual name, and the real package of that name', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [
        feed(
          'base',
          pkg('app', 'wpad'),
          pkg('wpad', '', { provides: ['wpad'] }),
          pkg('wpad-basic', 'hostapd-common', { provides: ['wpad'] }),
          pkg('wpad-mesh', '', { provides: ['wpad', 'wpad-mesh-any'] }),
          pkg('hostapd-common'),
          pkg('unrelated', '', { provides: ['other'] }),
        ),
      ],
      required: ['app'],
      optional: [],
    });
    expect(names(result)).to.deep.equal(['app', 'wpad', 'wpad-basic', 'wpad-mesh', 'hostapd-common']);
  });

  it('resolves a root by a provided name only', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [feed('base', pkg('libgcc1', '', { provides: ['libgcc'] }))],
      required: ['libgcc'],
      optional: [],
    });
    expect(names(result)).to.deep.equal(['libgcc1']);
    expect(result.missingRequired).to.deep.equal([]);
  });

  it('filters candidates by version constraints and shows the constraint when none fits', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [
        feed(
          'base',
          pkg('app', 'lib (>= 2.0), tool (<< 1.0)'),
          pkg('lib', '', { version: '1.5-r1' }),
          pkg('lib', '', { version: '2.1-r1' }),
          pkg('lib-compat', 'old-only', { version: '1.0', provides: ['lib'] }),
          pkg('tool', '', { version: '1.2' }),
        ),
      ],
      required: ['app'],
      optional: [],
    });
    expect(result.selected.map((s) => `${s.pkg.name} ${s.pkg.version}`)).to.deep.equal([
      'app 1.0-r1',
      'lib 2.1-r1',
    ]);
    expect(result.unresolved).to.deep.equal([
      { name: 'tool', constraint: '<< 1.0', neededBy: 'app', feed: 'base', fromRequired: true },
    ]);
  });

  it('matches kmods pinned to the kernel with (=…~…) and equal versions under every operator, as opkg does', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [
        feed(
          'kmods',
          pkg('kmod-a', 'kernel (=6.6.110~abc-r1), kmod-b (=6.6.110-r1), kmod-c (<< 2)'),
          pkg('kmod-b', 'kernel (=6.6.110~abc-r1)', { version: '6.6.110-r1' }),
          pkg('kmod-b', '', { version: '6.6.109-r1' }),
          pkg('kmod-c', '', { version: '2' }),
        ),
      ],
      required: ['kmod-a'],
      optional: [],
    });
    expect(result.selected.map((s) => `${s.pkg.name} ${s.pkg.version}`)).to.deep.equal([
      'kmod-a 1.0-r1',
      'kmod-b 6.6.110-r1',
      'kmod-c 2',
    ]);
    expect(result.unresolved).to.deep.equal([]);
  });

  it('terminates on cycles and holds each package once', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [feed('base', pkg('a', 'b'), pkg('b', 'c | a'), pkg('c', 'a, c'))],
      required: ['a', 'a', 'c'],
      optional: ['b'],
    });
    expect(names(result)).to.deep.equal(['a', 'b', 'c']);
  });

  it('crosses feeds, and holds a name present in two feeds from both', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [
        feed('core', pkg('kmod-batman-adv', 'kernel (=6.6-r1), kmod-lib-crc16'), pkg('kmod-lib-crc16')),
        feed('routing', pkg('batctl-full', 'libc, kmod-batman-adv, libnl-tiny')),
        feed('base', pkg('libnl-tiny')),
        feed('packages', pkg('libnl-tiny', '', { version: '2.0' })),
      ],
      required: ['batctl-full'],
      optional: [],
    });
    expect(result.selected.map((s) => `${s.feed}/${s.pkg.name}`)).to.deep.equal([
      'core/kmod-batman-adv',
      'core/kmod-lib-crc16',
      'routing/batctl-full',
      'base/libnl-tiny',
      'packages/libnl-tiny',
    ]);
  });

  it('treats libc and kernel as provided by the firmware, and honours a custom list', () => {
    const feeds = [feed('base', pkg('a', 'libc, kernel (=6.6.110~abc-r1) , libpthread'))];
    expect(
      resolveClosure({ accepts: opkgAccepts, feeds, required: ['a'], optional: [] }).unresolved.map(
        (u) => u.name,
      ),
    ).to.deep.equal(['libpthread']);
    const custom = resolveClosure({
      accepts: opkgAccepts,
      feeds,
      required: ['a'],
      optional: [],
      provided: ['libc', 'libpthread'],
    });
    expect(custom.unresolved).to.deep.equal([
      { name: 'kernel', neededBy: 'a', feed: 'base', fromRequired: true },
    ]);
  });

  it('tells missing required roots from missing optional ones', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [feed('base', pkg('here'))],
      required: ['here', 'gone-required', 'libc'],
      optional: ['gone-optional', 'here'],
    });
    expect(result.missingRequired).to.deep.equal(['gone-required']);
    expect(result.missingOptional).to.deep.equal(['gone-optional']);
    expect(names(result)).to.deep.equal(['here']);
  });

  it('names the needer of an unresolved dependency and whether a required root reaches it', () => {
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [
        feed('packages', pkg('python3', 'python3-base, shared'), pkg('python3-base', 'libpython-missing')),
        feed('packages', pkg('htop', 'libncurses-missing, shared'), pkg('shared', 'libshared-missing')),
      ],
      required: ['python3'],
      optional: ['htop'],
    });
    expect(result.unresolved).to.deep.equal([
      { name: 'libpython-missing', neededBy: 'python3-base', feed: 'packages', fromRequired: true },
      { name: 'libshared-missing', neededBy: 'shared', feed: 'packages', fromRequired: true },
      { name: 'libncurses-missing', neededBy: 'htop', feed: 'packages', fromRequired: false },
    ]);
  });

  it('selects every package of every feed in full mode', () => {
    const feeds = [feed('core', pkg('a'), pkg('b')), feed('base', pkg('c'))];
    expect([...selectAll(feeds)].map((s) => `${s.feed}/${s.pkg.name}`)).to.deep.equal([
      'core/a',
      'core/b',
      'base/c',
    ]);
  });

  it('resolves 10k packages with wide fan-in quickly', () => {
    const packages = Array.from({ length: 10_000 }, (_, i) =>
      pkg(`p${i}`, `libc, p${(i * 7 + 1) % 10_000} | v${i % 50}, p${(i + 13) % 10_000} (>= 1.0)`, {
        provides: [`v${i % 50}`],
      }),
    );
    const started = performance.now();
    const result = resolveClosure({
      accepts: opkgAccepts,
      feeds: [feed('big', ...packages)],
      required: ['p0'],
      optional: [],
    });
    expect(result.selected).to.have.length(10_000);
    expect(performance.now() - started).to.be.below(2000);
  });

  describe('on the real 24.10 x86_64 core+kmods index', () => {
    const { packages } = parsePackagesIndex(
      readFileSync(new URL('../fixtures/x86_64-core-kmods-24.10.Packages', import.meta.url), 'utf8'),
    );
    const feeds = [feed('kmods', ...packages)];

    it('kmod-nft-core pulls in exactly its netfilter and crc32c chain (checked by hand against the file)', () => {
      const result = resolveClosure({
        accepts: opkgAccepts,
        feeds,
        required: ['kmod-nft-core'],
        optional: [],
      });
      expect(names(result).sort()).to.deep.equal([
        'kmod-crypto-crc32c', // kmod-lib-crc32c → kmod-crypto-crc32c
        'kmod-crypto-hash', // kmod-crypto-crc32c → kmod-crypto-hash
        'kmod-lib-crc32c',
        'kmod-nf-conntrack', // kmod-nf-nat and kmod-nf-conntrack6 → kmod-nf-conntrack
        'kmod-nf-conntrack6',
        'kmod-nf-log',
        'kmod-nf-log6',
        'kmod-nf-nat',
        'kmod-nf-reject',
        'kmod-nf-reject6',
        'kmod-nfnetlink',
        'kmod-nft-core',
      ]);
      expect(result.unresolved).to.deep.equal([]); // kernel (=6.6.100~…-r1) is the firmware's
    });

    it('kmod-batman-adv reaches into other feeds: those names are unresolved here, needed by the right kmod', () => {
      const result = resolveClosure({
        accepts: opkgAccepts,
        feeds,
        required: ['kmod-batman-adv'],
        optional: [],
      });
      expect(names(result).sort()).to.deep.equal([
        'kmod-batman-adv',
        'kmod-cfg80211',
        'kmod-crypto-crc32c',
        'kmod-crypto-hash',
        'kmod-lib-crc16',
        'kmod-lib-crc32c',
      ]);
      expect(result.unresolved.map((u) => `${u.neededBy} → ${u.name}`)).to.deep.equal([
        'kmod-batman-adv → batctl',
        'kmod-cfg80211 → iw',
        'kmod-cfg80211 → iwinfo',
        'kmod-cfg80211 → wifi-scripts',
        'kmod-cfg80211 → wireless-regdb',
      ]);
    });

    it('kmod-r8169 brings the real driver and the nine out-of-tree drivers that provide its name', () => {
      const result = resolveClosure({ accepts: opkgAccepts, feeds, required: [], optional: ['kmod-r8169'] });
      expect(names(result).sort()).to.deep.equal([
        'kmod-hwmon-core', // kmod-phy-realtek → kmod-hwmon-core
        'kmod-libphy', // what every provider depends on
        'kmod-mdio-devres',
        'kmod-mii',
        'kmod-phy-realtek',
        'kmod-r8101',
        'kmod-r8125',
        'kmod-r8125-rss',
        'kmod-r8126',
        'kmod-r8126-rss',
        'kmod-r8127',
        'kmod-r8127-rss',
        'kmod-r8168',
        'kmod-r8168-rss',
        'kmod-r8169',
      ]);
      // The firmware lives in the base feed, not here; an optional root only warns about it.
      expect(result.unresolved).to.deep.equal([
        { name: 'r8169-firmware', neededBy: 'kmod-r8169', feed: 'kmods', fromRequired: false },
      ]);
      expect(result.missingOptional).to.deep.equal([]);
    });
  });

  // Hang guards, not benchmarks: each of these took seconds to minutes when the work was quadratic.
  describe('work linear in the size of the indexes', function () {
    this.timeout(15_000);

    it('resolves 40,000 providers of one name that each depend on it once per distinct dependency', () => {
      const providers = Array.from({ length: 40_000 }, (_, i) => pkg(`p${i}`, 'v', { provides: ['v'] }));
      const result = resolveClosure({
        accepts: opkgAccepts,
        feeds: [feed('f', ...providers)],
        required: ['v'],
        optional: [],
      });
      expect(result.selected).to.have.length(40_000);
    });

    it('follows an install-if chain of 20,000 packages', () => {
      const chain = Array.from({ length: 20_000 }, (_, i) => ({
        ...pkg(`c${i}`),
        installIf: [{ name: i === 0 ? 'root' : `c${i - 1}` }],
      }));
      const result = resolveClosure({
        accepts: opkgAccepts,
        feeds: [feed('f', pkg('root'), ...chain)],
        required: ['root'],
        optional: [],
      });
      expect(result.selected).to.have.length(20_001);
    });
  });
});
