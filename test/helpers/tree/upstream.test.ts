import { expect } from 'chai';
import { createUsignSigner } from '../usign-signer.js';
import {
  buildRelease,
  buildUpstream,
  findSet,
  KNOWN_TARGETS,
  LAB_OPTIONAL,
  LAB_REQUIRED,
  LAB_TARGET,
  labClosure,
  labClosurePackages,
  type SetTree,
  type TreeFeed,
  type UpstreamTree,
} from './index.js';
import {
  adbSignatureValid,
  apkDepName,
  apkReachable,
  apkSatisfiers,
  dependencyNames,
  dependsByName,
  depList,
  FIRMWARE,
  file,
  parsePackages,
  reachable,
  readAdb,
  satisfiers,
  sha256,
  signatureValid,
} from './readers.js';

const TARGETS = ['ramips/mt7621', 'ramips/mt76x8', 'x86/64'];
const RELEASES = [{ version: '24.10.4' }, { version: '25.12.0' }];
const ROOTS = [...LAB_REQUIRED, ...LAB_OPTIONAL];

const feedOf = (set: SetTree, name: string): TreeFeed => {
  const feed = set.feeds.find((f) => f.name === name);
  if (!feed) throw new Error(`${set.version} ${set.target} has no ${name} feed`);
  return feed;
};
const profilesOf = (set: SetTree) => JSON.parse(file(set, `${set.targetDir}/profiles.json`).toString('utf8'));
const under = (files: Map<string, Buffer>, dir: string) =>
  [...files.keys()].filter((p) => p.startsWith(`${dir}/`));
const isPackageFile = (path: string) => /\.(ipk|apk)$/.test(path);
const isIndex = (path: string) =>
  /\/(Packages(\.gz|\.sig|\.manifest)?|packages\.adb|index\.json)$/.test(path);
const isSums = (path: string) => /\/sha256sums(\.sig)?$/.test(path);

describe('generated OpenWrt upstream: several releases × targets', () => {
  const signer = createUsignSigner();
  let upstream: UpstreamTree;
  let next: UpstreamTree;
  let buildMs: number;

  before(function () {
    this.timeout(30_000);
    const started = Date.now();
    upstream = buildUpstream({ releases: RELEASES, targets: TARGETS, signer });
    buildMs = Date.now() - started;
    next = buildUpstream({ releases: RELEASES, targets: TARGETS, signer, revision: 1 });
  });

  it('builds every release × target quickly, arch feeds once per release and arch', () => {
    expect(buildMs).to.be.lessThan(5_000);
    expect(upstream.sets.map((s) => `${s.version} ${s.target}`)).to.deep.equal(
      RELEASES.flatMap(({ version }) => TARGETS.map((t) => `${version} ${t}`)),
    );
    expect(upstream.archFeeds.map((a) => a.dir)).to.deep.equal([
      'releases/24.10.4/packages/mipsel_24kc',
      'releases/24.10.4/packages/x86_64',
      'releases/25.12.0/packages/mipsel_24kc',
      'releases/25.12.0/packages/x86_64',
    ]);
    for (const set of upstream.sets) {
      expect(upstream.archFeeds).to.include(set.archFeeds);
      expect(set.feeds.map((f) => f.name)).to.deep.equal([
        'core',
        'base',
        'kmods',
        'luci',
        'packages',
        'routing',
        'telephony',
      ]);
      for (const [path, bytes] of set.files) expect(upstream.files.get(path), path).to.equal(bytes);
    }
    const union = new Set(upstream.sets.flatMap((s) => [...s.files.keys()]));
    const extra = [...upstream.files.keys()].filter((p) => !union.has(p));
    expect(extra).to.deep.equal([
      'releases/24.10.4/.targets.json',
      'releases/25.12.0/.targets.json',
      '.versions.json',
    ]);
    expect(JSON.parse(file(upstream, '.versions.json').toString())).to.deep.equal({
      stable_version: '25.12.0',
      versions_list: ['25.12.0', '24.10.4'],
    });
    expect(JSON.parse(file(upstream, 'releases/25.12.0/.targets.json').toString())).to.deep.equal({
      'ramips/mt7621': 'mipsel_24kc',
      'ramips/mt76x8': 'mipsel_24kc',
      'x86/64': 'x86_64',
    });
  });

  it("gives the lab's 24.10 set exactly buildRelease's default tree", () => {
    const lab = findSet(upstream, '24.10.4', LAB_TARGET);
    const tree = buildRelease({ signer });
    // Beside the set's own files, a release tree holds what the upstream holds once: its metadata.
    const own = [...tree.files].filter(([path]) => !/(^|\/)\.(versions|targets)\.json$/.test(path));
    expect([...lab.files.keys()].sort()).to.deep.equal(own.map(([path]) => path).sort());
    for (const [path, bytes] of own) expect(lab.files.get(path)?.equals(bytes), path).to.equal(true);
    expect(lab.feeds).to.deep.equal(tree.feeds);
    expect(lab.images).to.deep.equal(tree.images);
    expect(lab.kmodsDir).to.equal(tree.kmodsDir);
  });

  it('lets two targets of one arch share their arch feeds byte for byte, each with its own core, kmods and target directory', () => {
    for (const { version } of RELEASES) {
      const a = findSet(upstream, version, 'ramips/mt7621');
      const b = findSet(upstream, version, 'ramips/mt76x8');
      expect(a.arch).to.equal(b.arch);
      expect(a.archFeeds).to.equal(b.archFeeds);
      const shared = under(a.files, a.archFeeds.dir);
      expect(shared.length).to.be.greaterThan(200);
      expect(shared.sort()).to.deep.equal(under(b.files, b.archFeeds.dir).sort());
      for (const path of shared) expect(b.files.get(path)?.equals(file(a, path)), path).to.equal(true);
      for (const feed of a.archFeeds.feeds) {
        expect(a.feeds).to.include(feed);
        expect(b.feeds).to.include(feed);
      }

      // Their own: the target directory, and below it core and kmods named by their own kernel.
      expect(a.targetDir).to.not.equal(b.targetDir);
      expect(under(b.files, a.targetDir)).to.deep.equal([]);
      expect(under(a.files, b.targetDir)).to.deep.equal([]);
      for (const set of [a, b]) {
        const kernel = profilesOf(set).linux_kernel;
        expect(set.kmodsDir).to.equal(`${kernel.version}-${kernel.release}-${kernel.vermagic}`);
        expect(set.kernel).to.deep.equal(kernel);
        expect(feedOf(set, 'kmods').dir).to.equal(`${set.targetDir}/kmods/${set.kmodsDir}`);
        expect(feedOf(set, 'core').dir).to.equal(`${set.targetDir}/packages`);
        expect(profilesOf(set).arch_packages).to.equal(set.arch);
      }
      expect(a.kernel.version).to.equal(b.kernel.version);
      expect(a.kernel.vermagic).to.not.equal(b.kernel.vermagic);
      const index = a.format === 'apk' ? 'packages.adb' : 'Packages';
      for (const name of ['core', 'kmods']) {
        expect(
          file(a, `${feedOf(a, name).dir}/${index}`).equals(file(b, `${feedOf(b, name).dir}/${index}`)),
        ).to.equal(false);
      }
      // The same kmod, built for another vermagic, is another binary.
      const kmodA = feedOf(a, 'kmods').packages.find((p) => p.name === 'kmod-batman-adv');
      const kmodB = feedOf(b, 'kmods').packages.find((p) => p.name === 'kmod-batman-adv');
      expect(kmodA?.filename).to.equal(kmodB?.filename);
      expect(kmodA?.sha256).to.not.equal(kmodB?.sha256);
      expect(Object.keys(profilesOf(a).profiles)).to.not.include.members(Object.keys(profilesOf(b).profiles));
    }
  });

  it('gives a target of another arch its own arch feeds: same names, its arch in file names and fields', () => {
    const mips = findSet(upstream, '24.10.4', 'ramips/mt7621');
    const x86 = findSet(upstream, '24.10.4', 'x86/64');
    expect(x86.arch).to.equal('x86_64');
    expect(x86.archFeeds).to.not.equal(mips.archFeeds);
    expect(x86.archFeeds.dir).to.equal('releases/24.10.4/packages/x86_64');
    let all = 0;
    for (const feed of x86.archFeeds.feeds) {
      const other = feedOf(mips, feed.name);
      expect(feed.dir).to.equal(`releases/24.10.4/packages/x86_64/${feed.name}`);
      expect(feed.packages.map((p) => p.name)).to.deep.equal(other.packages.map((p) => p.name));
      const index = JSON.parse(file(x86, `${feed.dir}/index.json`).toString('utf8'));
      expect(index.architecture).to.equal('x86_64');
      for (const stanza of parsePackages(file(x86, `${feed.dir}/Packages`).toString('utf8'))) {
        const arch = stanza.get('Architecture');
        expect(arch === 'x86_64' || arch === 'all', `${stanza.get('Package')} ${arch}`).to.equal(true);
        expect(stanza.get('Filename')).to.equal(
          `${stanza.get('Package')}_${stanza.get('Version')}_${arch}.ipk`,
        );
      }
      const mipsByName = new Map(other.packages.map((p) => [p.name, p]));
      for (const pkg of feed.packages) {
        const twin = mipsByName.get(pkg.name);
        expect(twin?.version, pkg.name).to.equal(pkg.version);
        if (pkg.architecture === 'all') {
          // One arch-independent package, served in every arch feed under one name, identical bytes.
          all++;
          expect(twin?.filename).to.equal(pkg.filename);
          expect(twin?.sha256).to.equal(pkg.sha256);
        } else {
          expect(twin?.filename).to.equal(pkg.filename.replace(/_x86_64\.ipk$/, '_mipsel_24kc.ipk'));
          expect(twin?.sha256, pkg.name).to.not.equal(pkg.sha256);
        }
      }
    }
    expect(all).to.be.greaterThan(10);
    // The same holds for apk: noarch packages identical, the others built for their arch.
    const apkX86 = findSet(upstream, '25.12.0', 'x86/64');
    const apkMips = findSet(upstream, '25.12.0', 'ramips/mt7621');
    const luci = feedOf(apkX86, 'luci').packages;
    const luciMips = new Map(feedOf(apkMips, 'luci').packages.map((p) => [p.name, p]));
    for (const pkg of luci) {
      const twin = luciMips.get(pkg.name);
      expect(twin?.filename).to.equal(pkg.filename);
      expect(twin?.identity === pkg.identity, pkg.name).to.equal(pkg.architecture === 'noarch');
    }
    expect(luci.some((p) => p.architecture === 'x86_64')).to.equal(true);
  });

  it("gives every target the kmods with its own vermagic, and x86 its own drivers on the device's list", () => {
    for (const set of upstream.sets) {
      const kmods = feedOf(set, 'kmods');
      const vermagic = set.kernel.vermagic;
      const pin =
        set.format === 'apk'
          ? `kernel=${set.kernel.version}~${vermagic}-r${set.kernel.release}`
          : `kernel (=${set.kernel.version}~${vermagic}-r${set.kernel.release})`;
      expect(kmods.packages.length).to.be.greaterThan(30);
      for (const kmod of kmods.packages) {
        if (set.format === 'apk') expect(depList(kmod), kmod.name).to.include(pin);
        else expect(kmod.depends.startsWith(pin), kmod.name).to.equal(true);
      }
      expect(kmods.packages.map((p) => p.name)).to.include('kmod-batman-adv');
      // Every device package a profile names is in the set (a `-name` removes one from the defaults).
      const names = new Set(set.feeds.flatMap((f) => f.packages.map((p) => p.name)));
      for (const profile of Object.values<{ device_packages: string[] }>(profilesOf(set).profiles)) {
        for (const name of profile.device_packages) {
          if (!name.startsWith('-')) expect(names.has(name), `${set.target} ${name}`).to.equal(true);
        }
      }
    }
    const x86 = findSet(upstream, '24.10.4', 'x86/64');
    expect(feedOf(x86, 'kmods').packages.map((p) => p.name)).to.include.members(['kmod-e1000e', 'kmod-igb']);
    const mips = findSet(upstream, '24.10.4', 'ramips/mt7621');
    expect(feedOf(mips, 'kmods').packages.map((p) => p.name)).to.not.include('kmod-e1000e');
  });

  it("resolves every set's lab closure inside its own feeds: every dependency of a member is a member, or libc/kernel", () => {
    for (const set of upstream.sets) {
      const label = `${set.version} ${set.target}`;
      const members = new Set(labClosurePackages(set));
      const closure = set.format === 'apk' ? apkReachable(set, ROOTS) : reachable(set, ROOTS);
      expect([...closure].sort(), label).to.deep.equal([...members].sort());
      if (set.format === 'apk') {
        const by = apkSatisfiers(set);
        for (const pkg of set.feeds.flatMap((f) => f.packages).filter((p) => members.has(p.name))) {
          for (const dep of depList(pkg)) {
            const wanted = apkDepName(dep);
            if (wanted === undefined || FIRMWARE.has(wanted)) continue;
            expect(by.has(wanted), `${label}: ${pkg.name} → ${wanted}`).to.equal(true);
            for (const satisfier of by.get(wanted) ?? [])
              expect(members.has(satisfier), satisfier).to.equal(true);
          }
        }
      } else {
        const by = satisfiers(set);
        const depends = dependsByName(set);
        for (const name of members) {
          for (const alt of dependencyNames(depends.get(name) ?? '').flat()) {
            if (FIRMWARE.has(alt)) continue;
            expect(by.has(alt), `${label}: ${name} → ${alt}`).to.equal(true);
            for (const satisfier of by.get(alt) ?? [])
              expect(members.has(satisfier), satisfier).to.equal(true);
          }
        }
      }
      const feedDirs = new Set(set.feeds.map((f) => f.dir));
      const paths = labClosure(set);
      expect(paths.size).to.be.at.least(members.size);
      for (const path of paths) {
        expect(set.files.has(path), path).to.equal(true);
        expect(feedDirs.has(path.slice(0, path.lastIndexOf('/'))), path).to.equal(true);
      }
      expect(
        [...paths].filter((p) => p.startsWith(`${set.targetDir}/kmods/${set.kmodsDir}/kmod-batman-adv`)),
      ).to.have.length(1);
    }
  });

  it("lists in each set's signed sha256sums exactly its target directory's files, with their hashes", () => {
    for (const set of upstream.sets) {
      const sums = file(set, `${set.targetDir}/sha256sums`);
      expect(signatureValid(sums, file(set, `${set.targetDir}/sha256sums.sig`), signer)).to.equal(true);
      const listed = new Map<string, string>();
      for (const line of sums.toString('utf8').trimEnd().split('\n')) {
        const match = /^([0-9a-f]{64}) \*(.+)$/.exec(line);
        if (!match?.[1] || !match[2]) throw new Error(`bad sha256sums line ${line}`);
        listed.set(`${set.targetDir}/${match[2]}`, match[1]);
      }
      const inDir = under(upstream.files, set.targetDir).filter((p) => !isSums(p));
      expect([...listed.keys()].sort()).to.deep.equal(inDir.sort());
      for (const [path, hex] of listed) expect(sha256(file(upstream, path)), path).to.equal(hex);
      for (const image of set.images) expect(listed.get(image.path)).to.equal(image.sha256);
      expect(
        [...listed.keys()].some((p) => p.startsWith(`${set.targetDir}/kmods/${set.kmodsDir}/`)),
      ).to.equal(true);
    }
  });

  it('names images openwrt-<ver>-<target>-<subtarget>-<device>-<suffix>, as profiles.json lists them', () => {
    for (const set of upstream.sets) {
      const prefix = `openwrt-${set.version}-${set.target.replace('/', '-')}-`;
      const profiles = profilesOf(set).profiles;
      expect(Object.keys(profiles).sort()).to.deep.equal(set.devices);
      expect(set.devices).to.deep.equal(Object.keys(KNOWN_TARGETS[set.target]?.devices ?? {}).sort());
      for (const image of set.images) {
        const name = image.path.slice(set.targetDir.length + 1);
        expect(name.startsWith(`${prefix}${image.device}-`), name).to.equal(true);
        const listed = profiles[image.device].images.find((i: { name: string }) => i.name === name);
        expect(listed).to.deep.include({ type: image.type, sha256: image.sha256 });
      }
    }
    const x86 = findSet(upstream, '24.10.4', 'x86/64');
    const generic = profilesOf(x86).profiles.generic;
    expect(generic.images.map((i: { name: string }) => i.name)).to.include.members([
      'openwrt-24.10.4-x86-64-generic-ext4-combined-efi.img.gz',
      'openwrt-24.10.4-x86-64-generic-squashfs-combined.img.gz',
      'openwrt-24.10.4-x86-64-generic-squashfs-rootfs.img.gz',
      'openwrt-24.10.4-x86-64-generic-kernel.bin',
    ]);
    const hashes = x86.images.map((i) => i.sha256);
    expect(new Set(hashes).size).to.equal(hashes.length);
    const c50 = findSet(upstream, '25.12.0', 'ramips/mt76x8').images.filter(
      (i) => i.device === 'tplink_archer-c50-v4',
    );
    expect(c50.map((i) => i.path)).to.deep.equal([
      'releases/25.12.0/targets/ramips/mt76x8/openwrt-25.12.0-ramips-mt76x8-tplink_archer-c50-v4-squashfs-sysupgrade.bin',
    ]);
  });

  it('serves a 24.10 opkg and a 25.12 apk release side by side, each in its own form and kernel series', () => {
    const opkgPaths = under(upstream.files, 'releases/24.10.4');
    const apkPaths = under(upstream.files, 'releases/25.12.0');
    expect(opkgPaths.some((p) => p.endsWith('.ipk'))).to.equal(true);
    expect(opkgPaths.some((p) => /\.apk$|\/packages\.adb$/.test(p))).to.equal(false);
    expect(apkPaths.some((p) => p.endsWith('.apk'))).to.equal(true);
    expect(apkPaths.some((p) => /\.ipk$|\/Packages(\.gz|\.sig)?$/.test(p))).to.equal(false);
    const apkSigner = upstream.apkSigner;
    if (!apkSigner) throw new Error('no apk signer');
    for (const set of upstream.sets) {
      const apk = set.version === '25.12.0';
      expect(set.format).to.equal(apk ? 'apk' : 'opkg');
      expect(set.kernel.version).to.equal(apk ? '6.12.74' : '6.6.110');
      expect(profilesOf(set).default_packages).to.include(apk ? 'apk-mbedtls' : 'opkg');
      for (const feed of set.feeds) {
        if (apk)
          expect(adbSignatureValid(file(set, `${feed.dir}/packages.adb`), apkSigner), feed.dir).to.equal(
            true,
          );
        else {
          const packages = file(set, `${feed.dir}/Packages`);
          expect(signatureValid(packages, file(set, `${feed.dir}/Packages.sig`), signer), feed.dir).to.equal(
            true,
          );
        }
      }
      // 24.10's core feed repeats the kmods, 25.12's does not.
      expect(feedOf(set, 'core').packages.some((p) => p.name === 'kmod-batman-adv')).to.equal(!apk);
    }
    const vermagics = upstream.sets.map((s) => s.kernel.vermagic);
    expect(new Set(vermagics).size).to.equal(vermagics.length);
  });

  it('moves packages on in every set with a revision, and leaves everything else byte-identical', () => {
    for (const [i, set] of upstream.sets.entries()) {
      const moved = next.sets[i] as SetTree;
      const label = `${set.version} ${set.target}`;
      for (const name of ['core', 'kmods', 'base', 'packages']) {
        const before = new Map(feedOf(set, name).packages.map((p) => [p.name, p.version]));
        const changed = feedOf(moved, name).packages.filter((p) => before.get(p.name) !== p.version);
        expect(changed.length, `${label} ${name}`).to.be.greaterThan(0);
      }
      for (const [path, bytes] of set.files) {
        const after = moved.files.get(path);
        if (isPackageFile(path)) {
          if (after) expect(after.equals(bytes), path).to.equal(true);
        } else if (!isIndex(path) && !isSums(path)) {
          expect(after?.equals(bytes), path).to.equal(true);
        }
      }
      expect(
        moved.files.get(`${set.targetDir}/sha256sums`)?.equals(file(set, `${set.targetDir}/sha256sums`)),
      ).to.equal(false);
      const members = labClosurePackages(moved);
      const closure = moved.format === 'apk' ? apkReachable(moved, ROOTS) : reachable(moved, ROOTS);
      expect([...closure].sort(), label).to.deep.equal([...members].sort());
    }
    // A package moves alike in every set of a release: one version across targets and arches.
    for (const { version } of RELEASES) {
      const versions = TARGETS.map((t) =>
        feedOf(findSet(next, version, t), 'base')
          .packages.map((p) => `${p.name}=${p.version}`)
          .join(' '),
      );
      expect(new Set(versions).size).to.equal(1);
    }
  });

  it('builds the same files from the same options (only the ECDSA signatures differ)', function () {
    this.timeout(30_000);
    const again = buildUpstream({ releases: RELEASES, targets: TARGETS, signer });
    expect([...again.files.keys()]).to.deep.equal([...upstream.files.keys()]);
    for (const [path, bytes] of upstream.files) {
      const other = file(again, path);
      if (path.endsWith('/packages.adb')) {
        const payload = (b: Buffer) => readAdb(b).blocks[0]?.payload ?? Buffer.alloc(0);
        expect(payload(other).equals(payload(bytes)), path).to.equal(true);
      } else if (!(path.startsWith('releases/25.12.0/') && isSums(path))) {
        // 25.12's sha256sums list the packages.adb files, whose ECDSA signatures differ.
        expect(other.equals(bytes), path).to.equal(true);
      }
    }
  });

  it('honours devices, and refuses unknown targets, devices and release series by name', () => {
    const few = buildUpstream({
      releases: [{ version: '24.10.4' }],
      targets: ['ramips/mt7621', 'x86/64'],
      signer,
      devices: ['dlink_dir-1960-a1'],
    });
    expect(findSet(few, '24.10.4', 'ramips/mt7621').devices).to.deep.equal(['dlink_dir-1960-a1']);
    expect(findSet(few, '24.10.4', 'x86/64').images).to.deep.equal([]);
    expect(Object.keys(profilesOf(findSet(few, '24.10.4', 'x86/64')).profiles)).to.deep.equal([]);
    const base = { releases: [{ version: '24.10.4' }], targets: ['ramips/mt7621'], signer };
    expect(() => buildUpstream({ ...base, targets: ['ath79/generic'] })).to.throw(
      TypeError,
      /ath79\/generic.*ramips\/mt7621/,
    );
    expect(() => buildUpstream({ ...base, devices: ['generic'] })).to.throw(
      TypeError,
      /generic belongs to x86\/64/,
    );
    expect(() => buildUpstream({ ...base, devices: ['netgear_r7800'] })).to.throw(TypeError, /netgear_r7800/);
    expect(() => buildUpstream({ ...base, releases: [{ version: '22.03.7' }] })).to.throw(
      TypeError,
      /22\.03\.7.*24\.10/,
    );
    expect(() => buildUpstream({ ...base, targets: [] })).to.throw(TypeError, /targets/);
    expect(() =>
      buildUpstream({ ...base, releases: [{ version: '24.10.4' }, { version: '24.10.4' }] }),
    ).to.throw(TypeError, /repeat/);
    expect(() => findSet(few, '25.12.0', 'x86/64')).to.throw(/24\.10\.4 x86\/64/);
    // An apk release can also be asked for in opkg form, as buildRelease allows.
    const opkg = buildUpstream({ ...base, releases: [{ version: '25.12.0', format: 'opkg' }], devices: [] });
    expect(opkg.sets[0]?.format).to.equal('opkg');
    expect(opkg.apkSigner).to.equal(undefined);
  });
});
