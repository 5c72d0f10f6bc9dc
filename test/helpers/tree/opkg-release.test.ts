import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { createUsignSigner } from '../usign-signer.js';
import {
  buildRelease,
  LAB_CLOSURE_PACKAGES,
  LAB_NOT_UPSTREAM,
  LAB_OPTIONAL,
  LAB_REQUIRED,
  labClosure,
  type ReleaseTree,
  type TreeFeed,
} from './index.js';
import {
  dependencyNames,
  dependsByName,
  expectSumsMatch,
  FIELD_ORDER,
  FIRMWARE,
  file,
  packagesByName,
  parsePackages,
  reachable,
  satisfiers,
  sha256,
  signatureValid,
} from './readers.js';

describe('generated OpenWrt release tree', () => {
  const signer = createUsignSigner();
  let tree: ReleaseTree;
  let next: ReleaseTree;

  before(() => {
    tree = buildRelease({ signer });
    next = buildRelease({ signer, revision: 1 });
  });

  it('has the upstream layout and the seven distfeeds', () => {
    expect(tree.releaseDir).to.equal('releases/24.10.4');
    expect(tree.kmodsDir).to.match(/^6\.6\.110-1-[0-9a-f]{32}$/);
    expect(tree.feeds.map((f) => [f.distName, f.dir])).to.deep.equal([
      ['openwrt_core', 'releases/24.10.4/targets/ramips/mt7621/packages'],
      ['openwrt_base', 'releases/24.10.4/packages/mipsel_24kc/base'],
      ['openwrt_kmods', `releases/24.10.4/targets/ramips/mt7621/kmods/${tree.kmodsDir}`],
      ['openwrt_luci', 'releases/24.10.4/packages/mipsel_24kc/luci'],
      ['openwrt_packages', 'releases/24.10.4/packages/mipsel_24kc/packages'],
      ['openwrt_routing', 'releases/24.10.4/packages/mipsel_24kc/routing'],
      ['openwrt_telephony', 'releases/24.10.4/packages/mipsel_24kc/telephony'],
    ]);
    for (const feed of tree.feeds) {
      for (const name of ['Packages', 'Packages.gz', 'Packages.sig', 'Packages.manifest', 'index.json']) {
        expect(tree.files.has(`${feed.dir}/${name}`), `${feed.dir}/${name}`).to.equal(true);
      }
    }
    for (const path of tree.files.keys()) {
      if (path !== '.versions.json') expect(path).to.match(/^releases\/24\.10\.4\/[^/]/);
    }
    expect(JSON.parse(file(tree, 'releases/24.10.4/.targets.json').toString())).to.deep.equal({
      'ramips/mt7621': 'mipsel_24kc',
    });
    expect(JSON.parse(file(tree, '.versions.json').toString())).to.deep.equal({
      stable_version: '24.10.4',
      versions_list: ['24.10.4'],
    });
  });

  it('signs every Packages (uncompressed) and sha256sums with the signer', () => {
    for (const feed of tree.feeds) {
      const packages = file(tree, `${feed.dir}/Packages`);
      expect(signatureValid(packages, file(tree, `${feed.dir}/Packages.sig`), signer), feed.dir).to.equal(
        true,
      );
      const tampered = Buffer.from(packages);
      tampered[0] = (tampered[0] ?? 0) ^ 1;
      expect(signatureValid(tampered, file(tree, `${feed.dir}/Packages.sig`), signer)).to.equal(false);
    }
    const sums = file(tree, `${tree.targetDir}/sha256sums`);
    expect(signatureValid(sums, file(tree, `${tree.targetDir}/sha256sums.sig`), signer)).to.equal(true);
  });

  it('gzips Packages into Packages.gz and agrees with Packages.manifest and index.json', () => {
    for (const feed of tree.feeds) {
      const packages = file(tree, `${feed.dir}/Packages`);
      expect(gunzipSync(file(tree, `${feed.dir}/Packages.gz`)).equals(packages), feed.dir).to.equal(true);
      expect(file(tree, `${feed.dir}/Packages.manifest`).equals(packages)).to.equal(true);
      const index = JSON.parse(file(tree, `${feed.dir}/index.json`).toString('utf8'));
      expect(index.version).to.equal(2);
      expect(index.architecture).to.equal('mipsel_24kc');
      const expected: Record<string, string> = {};
      for (const stanza of parsePackages(packages.toString('utf8'))) {
        const name = stanza.get('Package') ?? '';
        const abi = stanza.get('ABIVersion');
        const key = abi && name.endsWith(abi) ? name.slice(0, -abi.length).replace(/-$/, '') : name;
        expected[key] = stanza.get('Version') ?? '';
      }
      expect(index.packages).to.deep.equal(expected);
    }
  });

  it('writes stanzas in the real field order, and each listed ipk exists with its size and SHA-256', () => {
    for (const feed of tree.feeds) {
      const text = file(tree, `${feed.dir}/Packages`).toString('utf8');
      expect(text.endsWith('\n\n')).to.equal(true);
      const stanzas = parsePackages(text);
      expect(stanzas.map((s) => s.get('Package'))).to.deep.equal(feed.packages.map((p) => p.name));
      const byName = packagesByName(feed);
      for (const stanza of stanzas) {
        const keys = [...stanza.keys()];
        const positions = keys.map((key) => FIELD_ORDER.indexOf(key));
        expect(positions, keys.join(',')).to.not.include(-1);
        expect(positions).to.deep.equal([...positions].sort((a, b) => a - b));
        const filename = stanza.get('Filename') ?? '';
        const arch = stanza.get('Architecture');
        expect(filename).to.equal(`${stanza.get('Package')}_${stanza.get('Version')}_${arch}.ipk`);
        expect(arch === 'mipsel_24kc' || arch === 'all').to.equal(true);
        const bytes = file(tree, `${feed.dir}/${filename}`);
        expect(bytes.length).to.equal(Number(stanza.get('Size')));
        expect(sha256(bytes)).to.equal(stanza.get('SHA256sum'));
        const record = byName.get(stanza.get('Package') ?? '');
        expect(record?.filename).to.equal(filename);
        expect(record?.sha256).to.equal(stanza.get('SHA256sum'));
        expect(record?.depends).to.equal(stanza.get('Depends') ?? '');
      }
    }
    const ipks = [...tree.files.keys()].filter((path) => path.endsWith('.ipk')).length;
    expect(ipks).to.equal(tree.feeds.reduce((sum, feed) => sum + feed.packages.length, 0));
  });

  it('keeps kmods in the kmods feed (pinned to the kernel) and byte-identical copies in core', () => {
    const kmods = tree.feeds.find((f) => f.name === 'kmods');
    const core = tree.feeds.find((f) => f.name === 'core');
    if (!kmods || !core) throw new Error('feeds missing');
    const vermagic = tree.kmodsDir.split('-')[2];
    const coreByName = packagesByName(core);
    for (const kmod of kmods.packages) {
      expect(kmod.depends.startsWith(`kernel (=6.6.110~${vermagic}-r1)`), kmod.name).to.equal(true);
      const copy = coreByName.get(kmod.name);
      expect(copy?.sha256, kmod.name).to.equal(kmod.sha256);
    }
    expect(core.packages.length).to.be.greaterThan(kmods.packages.length);
    const separate = buildRelease({ signer, kmodsInCore: false }).feeds.find((f) => f.name === 'core');
    expect(separate?.packages.some((p) => p.name.startsWith('kmod-'))).to.equal(false);
  });

  it('resolves every dependency inside the tree, except libc and kernel', () => {
    const by = satisfiers(tree);
    for (const feed of tree.feeds) {
      for (const pkg of feed.packages) {
        for (const item of dependencyNames(pkg.depends)) {
          for (const alt of item) {
            if (!FIRMWARE.has(alt)) expect(by.has(alt), `${pkg.name} needs ${alt}`).to.equal(true);
          }
        }
      }
    }
    expect(by.has('libc') || by.has('kernel')).to.equal(false);
  });

  it('describes the images in profiles.json and sha256sums, matching the files', () => {
    const profiles = JSON.parse(file(tree, `${tree.targetDir}/profiles.json`).toString('utf8'));
    expect(profiles.arch_packages).to.equal('mipsel_24kc');
    expect(profiles.target).to.equal('ramips/mt7621');
    expect(profiles.version_number).to.equal('24.10.4');
    const kernel = profiles.linux_kernel;
    expect(`${kernel.version}-${kernel.release}-${kernel.vermagic}`).to.equal(tree.kmodsDir);

    const sums = new Map<string, string>();
    for (const line of file(tree, `${tree.targetDir}/sha256sums`).toString('utf8').trimEnd().split('\n')) {
      const match = /^([0-9a-f]{64}) \*(.+)$/.exec(line);
      if (!match?.[1] || !match[2]) throw new Error(`bad sha256sums line ${line}`);
      sums.set(match[2], match[1]);
      expect(sha256(file(tree, `${tree.targetDir}/${match[2]}`)), match[2]).to.equal(match[1]);
    }
    expect(sums.has('profiles.json')).to.equal(true);

    const dir1960 = profiles.profiles['dlink_dir-1960-a1'];
    expect(dir1960.titles).to.deep.equal([{ model: 'DIR-1960', variant: 'A1', vendor: 'D-Link' }]);
    expect(dir1960.images.map((i: { type: string }) => i.type)).to.include.members([
      'sysupgrade',
      'recovery',
    ]);
    expect(Object.keys(profiles.profiles).length).to.be.greaterThan(1);

    const listed: string[] = [];
    for (const [device, profile] of Object.entries<{
      images: { name: string; sha256: string; type: string }[];
    }>(profiles.profiles)) {
      for (const image of profile.images) {
        const path = `${tree.targetDir}/${image.name}`;
        expect(sha256(file(tree, path))).to.equal(image.sha256);
        expect(sums.get(image.name)).to.equal(image.sha256);
        const record = tree.images.find((i) => i.path === path);
        expect(record).to.deep.include({
          device,
          type: image.type,
          sha256: image.sha256,
          size: file(tree, path).length,
        });
        listed.push(path);
      }
    }
    expect(listed.sort()).to.deep.equal(tree.images.map((i) => i.path).sort());
    const size = tree.images.find((i) => i.type === 'sysupgrade')?.size ?? 0;
    expect(size).to.be.within(100 * 1024, 1024 * 1024);
  });

  it('honours devices, version, target, arch, kernel and packageBytes', () => {
    const custom = buildRelease({
      signer,
      version: '24.10.3',
      target: 'x86/64',
      arch: 'x86_64',
      kernel: { version: '6.6.93', release: '1', vermagic: '0123456789abcdef0123456789abcdef' },
      devices: ['dlink_dir-1960-a1'],
      packageBytes: (name) => name.length,
    });
    expect(custom.kmodsDir).to.equal('6.6.93-1-0123456789abcdef0123456789abcdef');
    expect(custom.feeds.map((f) => f.dir)).to.include('releases/24.10.3/packages/x86_64/routing');
    expect(custom.feeds[0]?.dir).to.equal('releases/24.10.3/targets/x86/64/packages');
    expect(new Set(custom.images.map((i) => i.device))).to.deep.equal(new Set(['dlink_dir-1960-a1']));
    expect(custom.images.every((i) => i.path.includes('openwrt-24.10.3-x86-64-dlink_dir-1960-a1-'))).to.equal(
      true,
    );
    for (const feed of custom.feeds)
      for (const pkg of feed.packages) expect(pkg.size).to.equal(pkg.name.length);
    expect(buildRelease({ signer, devices: [] }).images).to.deep.equal([]);
  });

  it('builds byte-identical trees from the same options', () => {
    const again = buildRelease({ signer });
    expect([...again.files.keys()]).to.deep.equal([...tree.files.keys()]);
    for (const [path, bytes] of tree.files) expect(again.files.get(path)?.equals(bytes), path).to.equal(true);
  });

  describe('lab closure (hand-written)', () => {
    it('is exactly what the lab lists can pull in: every alternative, every provider, across feeds', () => {
      const roots = [...LAB_REQUIRED, ...LAB_OPTIONAL];
      expect(new Set(LAB_CLOSURE_PACKAGES).size).to.equal(LAB_CLOSURE_PACKAGES.length);
      expect([...reachable(tree, roots)].sort()).to.deep.equal([...LAB_CLOSURE_PACKAGES].sort());
    });

    it('is closed: every dependency of a member is a member (or libc/kernel)', () => {
      const members = new Set(LAB_CLOSURE_PACKAGES);
      const by = satisfiers(tree);
      const depends = dependsByName(tree);
      for (const name of members) {
        for (const item of dependencyNames(depends.get(name) ?? '')) {
          for (const alt of item) {
            if (FIRMWARE.has(alt)) continue;
            for (const satisfier of by.get(alt) ?? [])
              expect(members.has(satisfier), `${name} → ${satisfier}`).to.equal(true);
          }
        }
      }
    });

    it('contains every listed package upstream has, and exercises the hard cases', () => {
      const members = new Set(LAB_CLOSURE_PACKAGES);
      for (const name of [...LAB_REQUIRED, ...LAB_OPTIONAL]) {
        expect(members.has(name), name).to.equal(!LAB_NOT_UPSTREAM.includes(name));
      }
      expect(satisfiers(tree).has('vnstat2-json')).to.equal(false);

      const depends = dependsByName(tree);
      expect(depends.get('luci-base')).to.include('libustream-mbedtls | libustream-openssl');
      expect(depends.get('kmod-batman-adv')).to.match(/(^|, )batctl(,|$)/);
      expect([...(satisfiers(tree).get('batctl') ?? [])].sort()).to.deep.equal([
        'batctl-default',
        'batctl-full',
        'batctl-tiny',
      ]);
      expect(depends.get('collectd')).to.include('collectd-mod-logfile');
      expect(depends.get('collectd-mod-logfile')).to.include('collectd');
      expect(depends.get('openssh-server')).to.include('openssh-keygen (>= 9.9p2)');
      expect(depends.get('python3')).to.include('python3-light (>= 3.11.14)');
      expect(depends.get('batctl-full')).to.include('kmod-batman-adv');
      expect(depends.get('luci-app-statistics')).to.include('collectd-mod-rrdtool');
    });

    it('maps to paths in every feed that has the package, and leaves most of the tree out', () => {
      const paths = labClosure(tree);
      for (const path of paths) expect(tree.files.has(path), path).to.equal(true);
      const kmod = [...paths].filter((p) => p.includes('/kmod-batman-adv_'));
      expect(kmod.map((p) => p.split('/').slice(-2, -1)[0])).to.have.members(['packages', tree.kmodsDir]);
      const all = tree.feeds.reduce((sum, feed) => sum + feed.packages.length, 0);
      expect(paths.size).to.be.lessThan(all * 0.6);
      const feedsUsed = new Set([...paths].map((p) => p.slice(0, p.lastIndexOf('/'))));
      expect(feedsUsed.size).to.equal(6); // all but telephony
    });
  });

  describe('revision', () => {
    it('gives 10–20% of packages a new version and new bytes, leaving the rest byte-identical', () => {
      let total = 0;
      const changed = new Set<string>();
      for (const [i, feed] of tree.feeds.entries()) {
        const after = packagesByName(next.feeds[i] as TreeFeed);
        for (const pkg of feed.packages) {
          total++;
          const moved = after.get(pkg.name);
          if (!moved) throw new Error(`${pkg.name} vanished`);
          const oldPath = `${feed.dir}/${pkg.filename}`;
          if (moved.version === pkg.version) {
            expect(moved.filename).to.equal(pkg.filename);
            expect(next.files.get(oldPath)?.equals(file(tree, oldPath)), oldPath).to.equal(true);
          } else {
            changed.add(pkg.name);
            expect(moved.filename).to.not.equal(pkg.filename);
            expect(moved.sha256).to.not.equal(pkg.sha256);
            expect(next.files.has(oldPath)).to.equal(false);
          }
        }
      }
      const unique = new Set(tree.feeds.flatMap((f) => f.packages.map((p) => p.name))).size;
      expect(changed.size / unique).to.be.within(0.1, 0.2);
      expect(total).to.be.greaterThan(unique);
      expect(LAB_CLOSURE_PACKAGES.some((name) => changed.has(name))).to.equal(true);
      expect(LAB_CLOSURE_PACKAGES.some((name) => !changed.has(name))).to.equal(true);
    });

    it('changes only the feeds and the target sums that list core and kmods, and signs them anew', () => {
      const sums = `${tree.targetDir}/sha256sums`;
      for (const [path, bytes] of tree.files) {
        if (path.endsWith('.ipk') || /\/(Packages(\.gz|\.sig|\.manifest)?|index\.json)$/.test(path)) continue;
        if (path === sums || path === `${sums}.sig`) continue;
        expect(next.files.get(path)?.equals(bytes), path).to.equal(true);
      }
      for (const feed of tree.feeds) {
        const sig = next.files.get(`${feed.dir}/Packages.sig`) ?? Buffer.alloc(0);
        expect(signatureValid(file(next, `${feed.dir}/Packages`), sig, signer)).to.equal(true);
      }
      // Real sums cover the core and kmods feeds, so a revision that moves them moves the sums too.
      expect(next.files.get(sums)?.equals(file(tree, sums))).to.equal(false);
      expect(signatureValid(file(next, sums), file(next, `${sums}.sig`), signer)).to.equal(true);
      expectSumsMatch(next);
    });

    it('moves on again at every increment and is deterministic', () => {
      const second = buildRelease({ signer, revision: 2 });
      const versions = (t: ReleaseTree) =>
        t.feeds.flatMap((f) => f.packages.map((p) => `${f.name}/${p.name}=${p.version}`));
      const v1 = new Set(versions(next));
      const differing = versions(second).filter((v) => !v1.has(v));
      expect(differing.length).to.be.greaterThan(0);
      const again = buildRelease({ signer, revision: 1 });
      expect(versions(again)).to.deep.equal(versions(next));
    });
  });

  describe('filler packages', () => {
    it('builds 3000 of them, spread over the feeds, in reasonable time and outside the lab closure', function () {
      this.timeout(30_000);
      const started = Date.now();
      const big = buildRelease({ signer, fillerPackages: 3000 });
      expect(Date.now() - started).to.be.lessThan(15_000);
      const fillers = big.feeds.flatMap((f) => f.packages.filter((p) => p.name.startsWith('filler-')));
      expect(fillers.length).to.equal(3000);
      for (const feed of big.feeds) {
        expect(
          feed.packages.some((p) => p.name.startsWith(`filler-${feed.name}-`)),
          feed.name,
        ).to.equal(true);
      }
      for (const filler of fillers) {
        for (const item of dependencyNames(filler.depends)) {
          for (const alt of item) expect(FIRMWARE.has(alt) || alt.startsWith('filler-'), alt).to.equal(true);
        }
      }
      expect([...labClosure(big)].sort()).to.deep.equal([...labClosure(tree)].sort());
    });
  });
});
