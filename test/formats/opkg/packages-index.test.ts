import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { UntrustedInputError } from '../../../worker/errors.js';
import { dependsOf, encodeDepends, NO_DEPENDS } from '../../../worker/feeds/depends.js';
import { packagesIndexRecords, parsePackagesIndex } from '../../../worker/formats/opkg/packages-index.js';

/** No record: reads as no dependencies, so that a missing record fails on what is asserted of it. */
const NONE = { depends: NO_DEPENDS };

const FIXTURE = new URL('../../fixtures/x86_64-core-kmods-24.10.Packages', import.meta.url);
const KERNEL = '6.6.100~920976cd6ca28e97365457529b466125-r1';
const HASH = 'ab'.repeat(32);

/** One stanza with sane defaults; `fields` override or (with undefined) remove a field. */
function stanza(name: string, fields: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = {
    Package: name,
    Version: '1.0-r1',
    Depends: 'libc',
    Architecture: 'x86_64',
    Filename: `${name}_1.0-r1_x86_64.ipk`,
    Size: '1234',
    SHA256sum: HASH,
    Description: ` ${name} does things`,
    ...fields,
  };
  return Object.entries(all)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}: ${value}`)
    .join('\n');
}

const index = (...stanzas: string[]): string => `${stanzas.join('\n\n')}\n`;

describe('feeds/packages-index', () => {
  describe('the real 24.10 x86_64 core+kmods index', () => {
    const text = readFileSync(FIXTURE, 'utf8');
    const { packages, problems } = parsePackagesIndex(text);
    const byName = new Map(packages.map((p) => [p.name, p]));

    it('parses all 1174 stanzas with no problem', () => {
      expect(problems).to.deep.equal([]);
      expect(packages).to.have.length(1174);
      expect(byName.size).to.equal(1174);
    });

    it('reads the same records from the bytes, a line at a time, as from the text', () => {
      // The worker parses the bytes (no 4 MB text of the biggest index): a UTF-8 description and
      // CRLF lines must come out the same.
      const withCrlf = `${text}\r\nPackage: caf\u00e9\r\nVersion: 1\r\nFilename: cafe_1.ipk\r\nSize: 1\r\nSHA256sum: ${HASH}\r\nDescription: caf\u00e9 \u2014 \u00fcber\r\n`;
      const fromBytes = parsePackagesIndex(Buffer.from(withCrlf, 'utf8'));
      const fromText = parsePackagesIndex(withCrlf);
      expect(fromBytes).to.deep.equal(fromText);
      expect(fromBytes.problems).to.deep.equal([]);
      expect(fromBytes.packages).to.have.length(1175);
      expect(fromBytes.packages.at(-1)).to.include({
        name: 'caf\u00e9',
        description: 'caf\u00e9 \u2014 \u00fcber',
      });
    });

    it('reads the same records from the bytes as they stream in, whatever the chunks', async () => {
      // The publish reads an index back from the pool a chunk at a time: a chunk may end inside a
      // line, inside a UTF-8 character, or right after a newline.
      const bytes = Buffer.from(
        `${text}Package: caf\u00e9\nVersion: 1\nFilename: cafe_1.ipk\nSize: 1\nSHA256sum: ${HASH}\nDescription: \u00fcber`,
        'utf8',
      );
      const whole = parsePackagesIndex(bytes);
      expect(whole.packages).to.have.length(1175);
      for (const size of [1, 7, 4096, bytes.length]) {
        async function* chunks() {
          for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
        }
        const streamed = [];
        for await (const record of packagesIndexRecords(chunks())) streamed.push(record);
        expect(streamed, `chunks of ${size}`).to.deep.equal(whole.packages);
      }
    });

    it('leaves out only what people read when the records are to plan with', () => {
      // A run holds the records it plans with through its index phase: without architecture and
      // description, and the same packages skipped, so the plan and the package lists agree.
      const plan = parsePackagesIndex(text, { fields: 'plan' });
      expect(plan.problems).to.deep.equal(problems);
      expect(plan.packages).to.deep.equal(
        packages.map(({ architecture: _a, description: _d, ...planned }) => planned),
      );
      expect(packages.filter((p) => p.description && p.architecture)).to.have.length(1174);
    });

    it('reads every field of a known package', () => {
      expect(byName.get('arptables-nft')).to.deep.equal({
        name: 'arptables-nft',
        version: '1.8.10-r1',
        architecture: 'x86_64',
        filename: 'arptables-nft_1.8.10-r1_x86_64.ipk',
        size: 3493,
        sha256: 'c3133be714d9a4fac7726e4676040d11c82ecadab40b81d7a3b67706f94f738a',
        depends: encodeDepends([
          [{ name: 'libc' }],
          [{ name: 'kmod-nft-arp' }],
          [{ name: 'xtables-nft' }],
          [{ name: 'kmod-arptables' }],
        ]),
        provides: ['arptables'],
        description: 'ARP firewall administration tool nft',
      });
    });

    it('reads kernel dependencies pinned with (=…)', () => {
      const core = byName.get('kmod-nft-core');
      expect(dependsOf(core ?? NONE)[0]).to.deep.equal([{ name: 'kernel', op: '=', version: KERNEL }]);
      expect(
        dependsOf(core ?? NONE)
          .slice(1)
          .map((item) => item.map((d) => d.name)),
      ).to.deep.equal([
        ['kmod-nfnetlink'],
        ['kmod-nf-reject'],
        ['kmod-nf-reject6'],
        ['kmod-nf-conntrack6'],
        ['kmod-nf-nat'],
        ['kmod-nf-log'],
        ['kmod-nf-log6'],
        ['kmod-lib-crc32c'],
      ]);
      const kmods = packages.filter((p) => p.name.startsWith('kmod-'));
      const pinned = kmods.filter((p) =>
        dependsOf(p).some(([d]) => d?.name === 'kernel' && d.version === KERNEL),
      );
      expect(pinned).to.have.length(kmods.length);
    });

    it('reads Provides, including a virtual name nine drivers provide', () => {
      expect(byName.get('libgcc1')?.provides).to.deep.equal(['libgcc']);
      expect(byName.get('libgcc1')?.depends).to.equal(NO_DEPENDS);
      const r8169 = packages.filter((p) => p.provides.includes('kmod-r8169')).map((p) => p.name);
      expect(r8169).to.deep.equal([
        'kmod-r8101',
        'kmod-r8125-rss',
        'kmod-r8125',
        'kmod-r8126-rss',
        'kmod-r8126',
        'kmod-r8127-rss',
        'kmod-r8127',
        'kmod-r8168-rss',
        'kmod-r8168',
      ]);
    });

    it('keeps multi-line descriptions out of the fields', () => {
      // iptables-mod-conntrack-extra's description has lines like " Matches:" and " - connbytes".
      expect(packages.every((p) => /\.ipk$/.test(p.filename) && p.size > 0)).to.equal(true);
      expect(byName.has('Matches')).to.equal(false);
    });

    it('gives the same result with CRLF line endings', () => {
      const crlf = parsePackagesIndex(text.replaceAll('\n', '\r\n'));
      expect(crlf.problems).to.deep.equal([]);
      expect(crlf.packages).to.deep.equal(packages);
    });

    it("keeps each package's dependencies as text that reads back as they were parsed", () => {
      for (const p of packages) expect(encodeDepends(dependsOf(p)), p.name).to.equal(p.depends);
      const first = (p: (typeof packages)[number]) => dependsOf(p).find((item) => item[0]?.name === 'kernel');
      const dependers = packages.filter((p) => first(p) !== undefined);
      expect(dependers.length).to.be.greaterThan(100);
      // Every kmod's `kernel (= …)`, read back whole.
      for (const p of dependers)
        expect(first(p), p.name).to.deep.equal([{ name: 'kernel', op: '=', version: KERNEL }]);
    });
  });

  describe('dependency syntax', () => {
    const parseOne = (fields: Record<string, string | undefined>) => {
      const { packages, problems } = parsePackagesIndex(index(stanza('p', fields)));
      expect(problems).to.deep.equal([]);
      expect(packages).to.have.length(1);
      return packages[0];
    };

    it('reads alternatives, spaced and unspaced constraints, and legacy < >', () => {
      const p = parseOne({
        Depends: 'libc, a | b (>= 1.2), c (=6.6.110~abc-r1), d (<2), e(>3) , f (<< 4) | g',
      });
      expect(dependsOf(p ?? NONE)).to.deep.equal([
        [{ name: 'libc' }],
        [{ name: 'a' }, { name: 'b', op: '>=', version: '1.2' }],
        [{ name: 'c', op: '=', version: '6.6.110~abc-r1' }],
        [{ name: 'd', op: '<=', version: '2' }],
        [{ name: 'e', op: '>=', version: '3' }],
        [{ name: 'f', op: '<<', version: '4' }, { name: 'g' }],
      ]);
    });

    it("folds Pre-Depends into depends and drops opkg's greedy marker", () => {
      const p = parseOne({ Depends: 'a *, b (>= 1) *', 'Pre-Depends': 'c' });
      expect(
        dependsOf(p ?? NONE)
          .flat()
          .map((d) => d.name),
      ).to.deep.equal(['a', 'b', 'c']);
    });

    it('joins Depends and Provides continued on the next line, and no other field', () => {
      const p = parseOne({ Depends: 'libc, a,\n b | c', Provides: 'x,\n y', Filename: 'p.ipk\n evil.ipk' });
      expect(dependsOf(p ?? NONE).map((item) => item.map((d) => d.name))).to.deep.equal([
        ['libc'],
        ['a'],
        ['b', 'c'],
      ]);
      expect(p?.provides).to.deep.equal(['x', 'y']);
      expect(p?.filename).to.equal('p.ipk'); // what opkg on a node would fetch
    });

    it('keeps names only from Provides, even with versions', () => {
      const p = parseOne({ Provides: 'libfoo (= 1.0), foo-any, libfoo' });
      expect(p?.provides).to.deep.equal(['libfoo', 'foo-any']);
    });

    it('reads a stanza without Depends or Architecture', () => {
      const p = parseOne({ Depends: undefined, Architecture: undefined });
      expect(p?.depends).to.equal(NO_DEPENDS);
      expect(p).to.not.have.property('architecture');
    });
  });

  describe('hostile or broken stanzas', () => {
    it('reads a hostile Provides or Depends in time linear in its length', function () {
      // A hang guard: backtracking regular expressions took minutes on these.
      this.timeout(20_000);
      const base = `Package: x\nVersion: 1\nFilename: x.ipk\nSize: 1\nSHA256sum: ${'a'.repeat(64)}`;
      const provides = parsePackagesIndex(`${base}\nProvides: ${'('.repeat(400_000)}\n\n`);
      expect(provides.packages.map((p) => p.name)).to.deep.equal(['x']);
      const depends = parsePackagesIndex(`${base}\nDepends: a${' '.repeat(400_000)}x\n\n`);
      expect(depends.packages).to.deep.equal([]);
      expect(depends.problems[0]).to.match(/dependency .* is not "name" or "name \(op version\)"/);
    });

    const cases: [string, Record<string, string | undefined>, RegExp][] = [
      ['climbs out with ../', { Filename: '../../etc/passwd' }, /Filename "\.\.\/\.\.\/etc\/passwd".*'\/'/],
      ['is absolute', { Filename: '/abs' }, /Filename "\/abs"/],
      ['is in a subdirectory', { Filename: 'a/b.ipk' }, /Filename "a\/b\.ipk"/],
      ['is hidden', { Filename: '.x.ipk' }, /starts with '\.'/],
      ['lacks SHA256sum', { SHA256sum: undefined }, /missing SHA256sum/],
      ['has a short SHA256sum', { SHA256sum: 'abc123' }, /SHA256sum "abc123" is not 64 hex/],
      ['lacks Size', { Size: undefined }, /missing Size/],
      ['has Size 12x', { Size: '12x' }, /Size "12x" is not a byte count/],
      ['has a negative Size', { Size: '-1' }, /Size "-1"/],
      ['has a huge Size', { Size: '99999999999999999999' }, /Size/],
      ['lacks Version', { Version: undefined }, /missing Version/],
      ['lacks Filename', { Filename: undefined }, /missing Filename/],
      ['has a garbled Depends', { Depends: 'a (>= )' }, /dependency "a \(>= \)"/],
      ['has two Filename lines', { Filename: 'a.ipk\nFilename: b.ipk' }, /duplicate Filename/],
      ['has a line that is not a field', { Size: '1\nnonsense here' }, /not "Field: value"/],
    ];
    for (const [what, fields, reason] of cases) {
      it(`skips a stanza that ${what}, naming the package and the reason`, () => {
        const { packages, problems } = parsePackagesIndex(
          index(stanza('good1'), stanza('evil', fields), stanza('good2')),
        );
        expect(packages.map((p) => p.name)).to.deep.equal(['good1', 'good2']);
        expect(problems).to.have.length(1);
        expect(problems[0]).to.match(/^package "evil" at line \d+ skipped: /);
        expect(problems[0]).to.match(reason);
      });
    }

    it('names a stanza without Package by its line', () => {
      const { packages, problems } = parsePackagesIndex(
        index(stanza('good1'), stanza('x', { Package: undefined })),
      );
      expect(packages).to.have.length(1);
      expect(problems).to.deep.equal([`stanza at line 10 skipped: missing Package`]);
    });

    it('refuses an index with more entries than allowed', () => {
      const text = index(stanza('a'), stanza('b'), stanza('c'));
      expect(parsePackagesIndex(text, { maxEntries: 3 }).packages).to.have.length(3);
      expect(() => parsePackagesIndex(text, { maxEntries: 2 })).to.throw(
        UntrustedInputError,
        /more than 2 entries/,
      );
    });

    it('survives binary garbage without throwing', () => {
      const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString(
        'latin1',
      );
      const { packages } = parsePackagesIndex(garbage);
      expect(packages).to.deep.equal([]);
    });

    it('reads an empty index as no packages', () => {
      expect(parsePackagesIndex('')).to.deep.equal({ packages: [], problems: [] });
      expect(parsePackagesIndex('\n\n')).to.deep.equal({ packages: [], problems: [] });
    });
  });

  it('parses 10k stanzas quickly', () => {
    const text = index(
      ...Array.from({ length: 10_000 }, (_, i) =>
        stanza(`pkg${i}`, { Depends: `libc, pkg${i + 1} (>= 1.0), a${i} | b${i}`, Provides: `v${i % 10}` }),
      ),
    );
    const started = performance.now();
    const { packages } = parsePackagesIndex(text);
    expect(packages).to.have.length(10_000);
    expect(performance.now() - started).to.be.below(1000);
  });
});
