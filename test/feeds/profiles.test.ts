import { expect } from 'chai';
import { UntrustedInputError } from '../../worker/errors.js';
import { closestIds, parseProfiles, parseSha256Sums } from '../../worker/feeds/profiles.js';

const SYSUPGRADE = 'openwrt-24.10.4-ramips-mt7621-dlink_dir-1960-a1-squashfs-sysupgrade.bin';
const RECOVERY = 'openwrt-24.10.4-ramips-mt7621-dlink_dir-1960-a1-squashfs-recovery.bin';
const HASH_A = 'A1'.repeat(32);
const HASH_B = 'b2'.repeat(32);

/** A profiles.json shaped like the real 24.10 ramips/mt7621 one (fields trimmed). */
function profilesJson(patch: (doc: Record<string, unknown>) => void = () => {}): string {
  const doc: Record<string, unknown> = {
    arch_packages: 'mipsel_24kc',
    default_packages: ['base-files', 'busybox'],
    linux_kernel: { release: '1', vermagic: '2974fbe1fa59be88f13eb8abeac8c10b', version: '6.6.110' },
    metadata_version: 1,
    profiles: {
      'dlink_dir-1960-a1': {
        device_packages: ['kmod-mt7615-firmware'],
        image_prefix: 'openwrt-24.10.4-ramips-mt7621-dlink_dir-1960-a1',
        images: [
          {
            filesystem: 'squashfs',
            name: SYSUPGRADE,
            sha256: HASH_A,
            sha256_unsigned: HASH_A,
            type: 'sysupgrade',
          },
          {
            filesystem: 'squashfs',
            name: RECOVERY,
            sha256: HASH_B,
            sha256_unsigned: HASH_B,
            type: 'recovery',
          },
        ],
        supported_devices: ['dlink,dir-1960-a1'],
        titles: [{ model: 'DIR-1960', variant: 'A1', vendor: 'D-Link' }],
      },
      'xiaomi_redmi-router-ac2100': {
        images: [{ name: 'redmi-sysupgrade.bin', sha256: HASH_B, type: 'sysupgrade' }],
        titles: [{ model: 'Redmi Router AC2100', vendor: 'Xiaomi' }, { title: 'Redmi AC2100 (alias)' }],
      },
    },
    source_date_epoch: 1_760_000_000,
    target: 'ramips/mt7621',
    version_code: 'r28959-29397011cc',
    version_number: '24.10.4',
  };
  patch(doc);
  return JSON.stringify(doc);
}

describe('feeds/profiles', () => {
  describe('parseProfiles', () => {
    it('reads the architecture, the kernel and the kmods directory', () => {
      const p = parseProfiles(profilesJson());
      expect(p.arch).to.equal('mipsel_24kc');
      expect(p.kernel).to.deep.equal({
        version: '6.6.110',
        release: '1',
        vermagic: '2974fbe1fa59be88f13eb8abeac8c10b',
      });
      expect(p.kmodsDir).to.equal('6.6.110-1-2974fbe1fa59be88f13eb8abeac8c10b');
      expect(p.target).to.equal('ramips/mt7621');
      expect(p.versionNumber).to.equal('24.10.4');
      expect(p.problems).to.deep.equal([]);
    });

    it("reads each device's images and titles", () => {
      const p = parseProfiles(profilesJson());
      expect([...p.profiles.keys()]).to.deep.equal(['dlink_dir-1960-a1', 'xiaomi_redmi-router-ac2100']);
      expect(p.profiles.get('dlink_dir-1960-a1')).to.deep.equal({
        titles: ['D-Link DIR-1960 A1'],
        images: [
          { type: 'sysupgrade', name: SYSUPGRADE, sha256: HASH_A.toLowerCase() },
          { type: 'recovery', name: RECOVERY, sha256: HASH_B },
        ],
      });
      expect(p.profiles.get('xiaomi_redmi-router-ac2100')?.titles).to.deep.equal([
        'Xiaomi Redmi Router AC2100',
        'Redmi AC2100 (alias)',
      ]);
    });

    it('accepts a numeric kernel release', () => {
      const p = parseProfiles(profilesJson((d) => ((d.linux_kernel as Record<string, unknown>).release = 2)));
      expect(p.kmodsDir).to.equal('6.6.110-2-2974fbe1fa59be88f13eb8abeac8c10b');
    });

    it('leaves out a device whose image name climbs out of the directory, keeping the others', () => {
      const p = parseProfiles(
        profilesJson((d) => {
          const profiles = d.profiles as Record<string, { images: { name: string }[] }>;
          const image = profiles['xiaomi_redmi-router-ac2100']?.images[0];
          if (image) image.name = '../../../etc/shadow';
        }),
      );
      expect([...p.profiles.keys()]).to.deep.equal(['dlink_dir-1960-a1']);
      expect(p.problems).to.have.length(1);
      expect(p.problems[0]).to.match(
        /profile xiaomi_redmi-router-ac2100 image 0: name "\.\.\/\.\.\/\.\.\/etc\/shadow"/,
      );
    });

    it('leaves out a device whose image has a bad sha256 or is not an object', () => {
      const p = parseProfiles(
        profilesJson((d) => {
          const profiles = d.profiles as Record<string, { images: unknown[] }>;
          profiles['dlink_dir-1960-a1']?.images.push({ name: 'x.bin', type: 'factory', sha256: 'nothex' });
          profiles['xiaomi_redmi-router-ac2100'] = { images: 'oops' } as never;
        }),
      );
      expect([...p.profiles.keys()]).to.deep.equal([]);
      expect(p.problems.join('\n')).to.match(/sha256 "nothex" is not 64 hex digits/);
      expect(p.problems.join('\n')).to.match(/xiaomi_redmi-router-ac2100: images is not a list/);
    });

    const fatal: [string, (doc: Record<string, unknown>) => void, RegExp][] = [
      ['arch_packages is missing', (d) => delete d.arch_packages, /arch_packages is missing/],
      ['arch_packages is a path', (d) => (d.arch_packages = '../x'), /arch_packages "\.\.\/x"/],
      ['linux_kernel is missing', (d) => delete d.linux_kernel, /linux_kernel is missing/],
      [
        'vermagic is not text',
        (d) => ((d.linux_kernel as Record<string, unknown>).vermagic = {}),
        /vermagic/,
      ],
      [
        'the kernel version makes a path',
        (d) => ((d.linux_kernel as Record<string, unknown>).version = '../../6.6'),
        /kmods directory/,
      ],
      ['profiles is a list', (d) => (d.profiles = []), /profiles is not an object/],
    ];
    for (const [what, patch, reason] of fatal) {
      it(`refuses the file when ${what}`, () => {
        expect(() => parseProfiles(profilesJson(patch))).to.throw(UntrustedInputError, reason);
      });
    }

    it('refuses text that is not JSON or not an object', () => {
      expect(() => parseProfiles('<html>503</html>')).to.throw(UntrustedInputError, /not JSON/);
      expect(() => parseProfiles('[]')).to.throw(UntrustedInputError, /not an object/);
    });
  });

  describe('parseSha256Sums', () => {
    it('reads binary-mode and text-mode lines, with or without ./', () => {
      const sums = parseSha256Sums(
        [
          `${HASH_A} *${SYSUPGRADE}`,
          `${HASH_B}  packages/Packages.gz`,
          `${HASH_B} *./profiles.json`,
          '',
          `${HASH_A} *kmods/6.6.110-1-2974fbe1fa59be88f13eb8abeac8c10b/kmod-batman-adv.ipk\r`,
        ].join('\n'),
      );
      expect([...sums]).to.deep.equal([
        [SYSUPGRADE, HASH_A.toLowerCase()],
        ['packages/Packages.gz', HASH_B],
        ['profiles.json', HASH_B],
        ['kmods/6.6.110-1-2974fbe1fa59be88f13eb8abeac8c10b/kmod-batman-adv.ipk', HASH_A.toLowerCase()],
      ]);
    });

    const bad: [string, string, RegExp][] = [
      ['a short hash', `abc *x.bin`, /line 1 "abc \*x\.bin" is not/],
      ['no path', `${HASH_A} *`, /is not "<sha256> \*<path>"/],
      ['a path that climbs out', `${HASH_A} *../../etc/passwd`, /segment "\.\."/],
      ['an absolute path', `${HASH_A} */etc/passwd`, /absolute/],
      ['two sums for one file', `${HASH_A} *a.bin\n${HASH_B} *a.bin`, /"a\.bin" twice/],
    ];
    for (const [what, text, reason] of bad) {
      it(`refuses ${what}`, () => {
        expect(() => parseSha256Sums(text)).to.throw(UntrustedInputError, reason);
      });
    }
  });

  describe('closestIds', () => {
    const known = [
      'dlink_dir-1960-a1',
      'dlink_dir-2640-a1',
      'dlink_dir-878-a1',
      'xiaomi_redmi-router-ac2100',
      'ubnt_edgerouter-x',
    ];

    it('suggests the nearest ids for a typo', () => {
      expect(closestIds('dlink_dir-1906-a1', known)).to.deep.equal([
        'dlink_dir-1960-a1',
        'dlink_dir-878-a1',
        'dlink_dir-2640-a1',
      ]);
      expect(closestIds('dlink_dir-1960-a1', known, 1)).to.deep.equal(['dlink_dir-1960-a1']);
    });

    it('suggests ids that contain what was typed', () => {
      expect(closestIds('dir-1960', known)[0]).to.equal('dlink_dir-1960-a1');
      expect(closestIds('AC2100', known)).to.deep.equal(['xiaomi_redmi-router-ac2100']);
    });

    it('suggests nothing far off', () => {
      expect(closestIds('tplink_archer-c7-v2', known)).to.deep.equal([]);
      expect(closestIds('x', [])).to.deep.equal([]);
    });
  });
});
