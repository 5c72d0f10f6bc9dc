/**
 * A generation's files counted once at publish (worker/publish/served.ts): what status, the feed
 * lines and a quiet night read instead of the 11,000 files.
 */
import { expect } from 'chai';
import { looseIn, servedTotals, servesUnder, summarize, tallyIn } from '../../worker/publish/served.js';
import type { ServedFile } from '../../worker/publish/types.js';

const file = (size: number): ServedFile => ({ sha256: String(size).padStart(64, '0'), size });

const FILES: [string, ServedFile][] = [
  ['.targets.json', file(5)],
  ['packages/x86_64/base/Packages', file(100)],
  ['packages/x86_64/base/busybox_1.36_x86_64.ipk', file(300)],
  ['packages/x86_64/base/dnsmasq_2.90_x86_64.ipk', file(200)],
  ['targets/x86/64/profiles.json', file(7)],
  ['targets/x86/64/openwrt-x86-64-generic-squashfs-combined.img.gz', file(4000)],
  ['targets/x86/64/packages/Packages', file(50)],
  ['targets/x86/64/packages/kernel_6.6_x86_64.ipk', file(600)],
  ['targets/x86/64/kmods/6.6-1-abc/kmod-e1000_6.6_x86_64.ipk', file(70)],
  ['packages/x86_64/__proto__/constructor_1_x86_64.ipk', file(9)],
];

describe('served summary', () => {
  const served = summarize(FILES, '.ipk');

  it('counts each directory once: files, bytes, and the package files among them', () => {
    expect(tallyIn(served, 'packages/x86_64/base')).to.deep.equal({
      files: 3,
      bytes: 600,
      packages: 2,
      packageBytes: 500,
    });
    expect(tallyIn(served, 'targets/x86/64/packages')).to.deep.equal({
      files: 2,
      bytes: 650,
      packages: 1,
      packageBytes: 600,
    });
    expect(servedTotals(served)).to.deep.equal({
      files: FILES.length,
      bytes: FILES.reduce((sum, [, f]) => sum + f.size, 0),
      packages: FILES.filter(([name]) => name.endsWith('.ipk')).length,
    });
  });

  it('keeps whole only the files directly in the top or a target directory', () => {
    expect(Object.keys(served.loose).sort()).to.deep.equal([
      '.targets.json',
      'targets/x86/64/openwrt-x86-64-generic-squashfs-combined.img.gz',
      'targets/x86/64/profiles.json',
    ]);
    expect(looseIn(served, 'targets/x86/64').map(([rel]) => rel)).to.have.members([
      'targets/x86/64/profiles.json',
      'targets/x86/64/openwrt-x86-64-generic-squashfs-combined.img.gz',
    ]);
    expect(looseIn(served, '.').map(([rel]) => rel)).to.deep.equal(['.targets.json']);
  });

  it('says whether anything is served at or under a directory, not beside it', () => {
    expect(servesUnder(served, 'targets/x86/64/kmods')).to.equal(true);
    expect(servesUnder(served, 'packages/x86_64/base')).to.equal(true);
    expect(servesUnder(served, 'packages/x86_64/bas')).to.equal(false);
    expect(servesUnder(served, 'packages/x86_64/luci')).to.equal(false);
  });

  it('names no directory after what an object inherits, parsed back from JSON too', () => {
    const parsed = JSON.parse(JSON.stringify(served));
    for (const summary of [served, parsed]) {
      expect(tallyIn(summary, 'packages/x86_64/__proto__')?.packages).to.equal(1);
      expect(tallyIn(summary, 'constructor')).to.equal(undefined);
      expect(tallyIn(summary, 'toString')).to.equal(undefined);
    }
  });
});
