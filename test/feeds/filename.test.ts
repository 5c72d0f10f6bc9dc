import { expect } from 'chai';
import { UntrustedInputError } from '../../worker/errors.js';
import { assertSafeFileName, assertSafeRelativePath } from '../../worker/feeds/filename.js';

describe('feeds/filename', () => {
  describe('assertSafeFileName', () => {
    it('returns real package and image names unchanged', () => {
      for (const name of [
        'kmod-nft-core_6.6.100-r1_x86_64.ipk',
        'block-mount_2024.07.14~408c2cc4-r1_x86_64.ipk',
        'openwrt-24.10.4-ramips-mt7621-dlink_dir-1960-a1-squashfs-sysupgrade.bin',
      ]) {
        expect(assertSafeFileName(name, 'Filename')).to.equal(name);
      }
    });

    const hostile: [string, RegExp][] = [
      ['', /empty/],
      ['../../etc/passwd', /'\/'/],
      ['/abs', /'\/'/],
      ['a/b.ipk', /'\/'/],
      ['a\\b.ipk', /'\\'/],
      ['.', /directory/],
      ['..', /directory/],
      ['.hidden.ipk', /starts with '\.'/],
      ['a\u0000b.ipk', /control character/],
      ['a\nb.ipk', /control character/],
      ['x'.repeat(256), /255 bytes/],
      ['é'.repeat(128), /255 bytes/], // 256 bytes in UTF-8 though only 128 characters
    ];
    for (const [name, reason] of hostile) {
      it(`refuses ${JSON.stringify(name.slice(0, 20))} naming the value and why`, () => {
        expect(() => assertSafeFileName(name, 'Filename'))
          .to.throw(UntrustedInputError, reason)
          .with.property('message')
          .that.matches(/^Filename /);
      });
    }

    it('accepts exactly 255 bytes', () => {
      expect(assertSafeFileName('x'.repeat(255), 'name')).to.have.length(255);
    });

    it('quotes a huge hostile value only in part', () => {
      expect(() => assertSafeFileName(`${'a/'.repeat(100_000)}`, 'Filename'))
        .to.throw(UntrustedInputError)
        .with.property('message')
        .that.has.length.below(300);
    });
  });

  describe('assertSafeRelativePath', () => {
    it('accepts multi-segment upstream paths', () => {
      const path =
        'targets/ramips/mt7621/openwrt-24.10.4-ramips-mt7621-dlink_dir-1960-a1-squashfs-sysupgrade.bin';
      expect(assertSafeRelativePath(path)).to.equal(path);
      expect(assertSafeRelativePath('kmods/6.6.110-1-abc/kmod-x.ipk')).to.equal(
        'kmods/6.6.110-1-abc/kmod-x.ipk',
      );
    });

    const hostile: [string, RegExp][] = [
      ['', /empty/],
      ['/etc/passwd', /absolute/],
      ['a//b', /empty segment/],
      ['a/b/', /empty segment/],
      ['a/../../b', /segment "\.\."/],
      ['./a', /segment "\."/],
      ['a/.git/config', /segment "\.git"/],
      ['a\\..\\b', /'\\'/],
      ['a/b\u0000c', /control character/],
    ];
    for (const [path, reason] of hostile) {
      it(`refuses ${JSON.stringify(path)}`, () => {
        expect(() => assertSafeRelativePath(path, 'sha256sums path')).to.throw(UntrustedInputError, reason);
      });
    }
  });
});
