import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { type ApkSigner, createApkSigner } from '../adb-writer.js';
import { createUsignSigner } from '../usign-signer.js';
import {
  buildRelease,
  LAB_CLOSURE_APK_PACKAGES,
  LAB_NOT_UPSTREAM,
  LAB_OPTIONAL,
  LAB_REQUIRED,
  labClosure,
  labClosurePackages,
  type ReleaseTree,
  type TreeFeed,
} from './index.js';
import {
  APK_VERSION,
  adbSignatureValid,
  apkByName,
  apkDepName,
  apkFileInfo,
  apkReachable,
  apkSatisfiers,
  depList,
  expectSumsMatch,
  FIRMWARE,
  file,
  filesDigest,
  indexPackages,
  packagesByName,
  readAdb,
  sha256,
  signatureValid,
} from './readers.js';

describe('generated OpenWrt 25.12 (apk) release tree', () => {
  const signer = createUsignSigner();
  let tree: ReleaseTree;
  let next: ReleaseTree;

  before(function () {
    this.timeout(20_000);
    tree = buildRelease({ signer, version: '25.12.0' });
    next = buildRelease({ signer, version: '25.12.0', revision: 1 });
  });

  it('is chosen by the version (25.12 on), or by `format`, and leaves the opkg form as it was', function () {
    this.timeout(20_000);
    expect(tree.format).to.equal('apk');
    expect(buildRelease({ signer }).format).to.equal('opkg');
    expect(buildRelease({ signer, version: '25.10.0', devices: [] }).format).to.equal('opkg');
    expect(buildRelease({ signer, version: '26.1.0', devices: [] }).format).to.equal('apk');
    const opkg = buildRelease({ signer, version: '25.12.0', format: 'opkg', devices: [] });
    expect(opkg.format).to.equal('opkg');
    expect(opkg.files.has(`${opkg.feeds[0]?.dir}/Packages`)).to.equal(true);
    expect(opkg.apkSigner).to.equal(undefined);
    const apk = buildRelease({ signer, format: 'apk', devices: [] });
    expect(apk.releaseDir).to.equal('releases/24.10.4');
    expect(apk.files.has(`${apk.feeds[0]?.dir}/packages.adb`)).to.equal(true);
    // Every file but the (randomly keyed) signatures of the 24.10.4 opkg form, as before apk existed.
    // Only an intended change to the opkg tree may update these.
    expect(filesDigest(buildRelease({ signer }))).to.equal(
      'f4817a7b9fbcc7f298953a75144e6bf69e4333a7f6d59c5632c24c07c6e50299',
    );
    expect(filesDigest(buildRelease({ signer, revision: 1 }))).to.equal(
      '8298959b5aff40e7bf7d0f458e5dc7fb7990fbbed64de6e7a63171ab538c7f7c',
    );
  });

  it('has the upstream layout, with packages.adb, index.json and .apk files and no Packages*', () => {
    expect(tree.releaseDir).to.equal('releases/25.12.0');
    expect(tree.feeds.map((f) => [f.name, f.dir])).to.deep.equal([
      ['core', 'releases/25.12.0/targets/ramips/mt7621/packages'],
      ['base', 'releases/25.12.0/packages/mipsel_24kc/base'],
      ['kmods', `releases/25.12.0/targets/ramips/mt7621/kmods/${tree.kmodsDir}`],
      ['luci', 'releases/25.12.0/packages/mipsel_24kc/luci'],
      ['packages', 'releases/25.12.0/packages/mipsel_24kc/packages'],
      ['routing', 'releases/25.12.0/packages/mipsel_24kc/routing'],
      ['telephony', 'releases/25.12.0/packages/mipsel_24kc/telephony'],
    ]);
    const feedDirs = new Set(tree.feeds.map((f) => f.dir));
    for (const path of tree.files.keys()) {
      if (path === '.versions.json') continue;
      expect(path).to.match(/^releases\/25\.12\.0\/[^/]/);
      expect(path).to.not.match(/\/Packages(\.gz|\.sig|\.manifest)?$|\.ipk$/);
      const dir = path.slice(0, path.lastIndexOf('/'));
      if (feedDirs.has(dir)) expect(path, path).to.match(/\/(packages\.adb|index\.json|[^/]+\.apk)$/);
    }
    for (const dir of feedDirs) {
      expect(tree.files.has(`${dir}/packages.adb`), dir).to.equal(true);
      expect(tree.files.has(`${dir}/index.json`), dir).to.equal(true);
    }
    // 25.12's core feed does not repeat the kmods; kmodsInCore puts them back, byte-identical.
    expect(tree.feeds[0]?.packages.some((p) => p.name.startsWith('kmod-'))).to.equal(false);
    const both = buildRelease({ signer, version: '25.12.0', kmodsInCore: true, devices: [] });
    const kmods = both.feeds.find((f) => f.name === 'kmods');
    const core = both.feeds.find((f) => f.name === 'core');
    for (const kmod of kmods?.packages ?? []) {
      const copy = core?.packages.find((p) => p.name === kmod.name);
      expect(copy?.identity, kmod.name).to.equal(kmod.identity);
      expect(
        both.files.get(`${core?.dir}/${kmod.filename}`)?.equals(file(both, `${kmods?.dir}/${kmod.filename}`)),
      ).to.equal(true);
    }
  });

  it('signs every packages.adb with the apk signer (ECDSA P-256 over SHA-512, apk key id)', () => {
    const apkSigner = tree.apkSigner;
    if (!apkSigner) throw new Error('no apk signer');
    expect(apkSigner.publicKeyPem).to.match(/^-----BEGIN PUBLIC KEY-----\n/);
    for (const feed of tree.feeds) {
      const adb = file(tree, `${feed.dir}/packages.adb`);
      expect(adbSignatureValid(adb, apkSigner), feed.dir).to.equal(true);
      expect(adbSignatureValid(adb, createApkSigner()), 'another key').to.equal(false);
      // One bit of the ADB block changed (recompressed, as a CDN might): the signature no longer holds.
      const container = inflateRawSync(adb.subarray(4));
      container[20] = (container[20] ?? 0) ^ 1;
      const tampered = Buffer.concat([Buffer.from('ADBd'), deflateRawSync(container)]);
      expect(adbSignatureValid(tampered, apkSigner), 'tampered').to.equal(false);
      const { blocks } = readAdb(adb);
      expect(blocks.map((b) => b.type)).to.deep.equal([0, 1]);
      expect(blocks[1]?.payload.subarray(2, 18).toString('hex')).to.equal(apkSigner.keyId);
    }
    const own = createApkSigner();
    const signed = buildRelease({ signer, version: '25.12.0', apkSigner: own, devices: [] });
    expect(signed.apkSigner).to.equal(own);
    expect(adbSignatureValid(file(signed, `${signed.feeds[1]?.dir}/packages.adb`), own)).to.equal(true);
    // 25.12 keeps usign for the target's sha256sums.
    const sums = file(tree, `${tree.targetDir}/sha256sums`);
    expect(signatureValid(sums, file(tree, `${tree.targetDir}/sha256sums.sig`), signer)).to.equal(true);
  });

  it('lists in each index exactly the .apk files of its directory, with their size and identity', () => {
    let listed = 0;
    for (const feed of tree.feeds) {
      const packages = indexPackages(file(tree, `${feed.dir}/packages.adb`));
      const names = packages.map((p) => p.name);
      expect(names, 'sorted by name').to.deep.equal([...names].sort());
      expect(names).to.have.members(feed.packages.map((p) => p.name));
      const records = packagesByName(feed);
      for (const pkg of packages) {
        const path = `${feed.dir}/${pkg.name}-${pkg.version}.apk`;
        const bytes = file(tree, path);
        expect(bytes.length, path).to.equal(pkg.fileSize);
        const own = apkFileInfo(bytes);
        expect(own.identity, path).to.equal(pkg.identity);
        expect([own.name, own.version]).to.deep.equal([pkg.name, pkg.version]);
        expect(own.dataBlocks).to.be.greaterThan(0);
        expect(pkg.arch === 'mipsel_24kc' || pkg.arch === 'noarch', pkg.arch).to.equal(true);
        const record = records.get(pkg.name);
        expect(record).to.deep.include({
          version: pkg.version,
          architecture: pkg.arch,
          filename: `${pkg.name}-${pkg.version}.apk`,
          size: pkg.fileSize,
          identity: pkg.identity,
          sha256: sha256(bytes),
          depends: pkg.depends.join(', '),
        });
        expect(record?.provides).to.deep.equal(pkg.provides.map((p) => apkDepName(p)));
        expect(record?.installIf ?? []).to.deep.equal(pkg.installIf);
        expect(record?.providerPriority).to.equal(pkg.priority);
        listed++;
      }
      const inDir = [...tree.files.keys()].filter(
        (p) => p.endsWith('.apk') && p.slice(0, p.lastIndexOf('/')) === feed.dir,
      );
      expect(inDir.length, feed.dir).to.equal(packages.length);
    }
    expect(listed).to.equal(tree.feeds.reduce((sum, feed) => sum + feed.packages.length, 0));
  });

  it("writes OpenWrt's index.json v2: the same names (less their ABI suffix) and versions", () => {
    for (const feed of tree.feeds) {
      const text = file(tree, `${feed.dir}/index.json`).toString('utf8');
      const index = JSON.parse(text);
      expect(Object.keys(index)).to.deep.equal(['version', 'architecture', 'packages']);
      expect(index.version).to.equal(2);
      expect(index.architecture).to.equal('mipsel_24kc');
      expect(text).to.equal(`${JSON.stringify(index, null, 2)}\n`);
      const expected: Record<string, string> = {};
      for (const pkg of indexPackages(file(tree, `${feed.dir}/packages.adb`))) {
        const abi = pkg.tags.find((t) => t.startsWith('openwrt:abiversion='))?.slice(19);
        expected[abi ? pkg.name.slice(0, -abi.length) : pkg.name] = pkg.version;
      }
      expect(index.packages).to.deep.equal(expected);
      expect(Object.keys(index.packages)).to.deep.equal(Object.keys(index.packages).sort());
    }
    const base = JSON.parse(file(tree, `${tree.feeds[1]?.dir}/index.json`).toString('utf8')).packages;
    expect(base).to.include({ libubox: '2024.03.29~eb9bcb64-r1', libncurses: '6.4-r2' });
    const packages = JSON.parse(file(tree, `${tree.feeds[4]?.dir}/index.json`).toString('utf8')).packages;
    expect(packages).to.include({
      libbz2: '1.0.8-r1',
      libsqlite3: '3490200-r1',
      'openssh-server': '9.9_p2-r1',
    });
  });

  it('writes versions and dependencies as apk does: ~ in versions and file names, kernel=, >=, !conflict', () => {
    const vermagic = tree.kmodsDir.split('-')[2];
    const kernelDep = `kernel=6.6.110~${vermagic}-r1`;
    for (const feed of tree.feeds) {
      for (const pkg of feed.packages) {
        expect(pkg.version, pkg.name).to.match(APK_VERSION);
        expect(pkg.depends).to.not.include('|');
        expect(pkg.depends).to.not.match(/[ (]\(|\)/);
        if (feed.name === 'kmods') expect(depList(pkg), pkg.name).to.include(kernelDep);
        const names = depList(pkg).map((d) => d.replace(/^!/, '').replace(/[<>=~].*$/, ''));
        expect(names, `${pkg.name} sorted`).to.deep.equal([...names].sort());
      }
    }
    const byName = apkByName(tree);
    expect(byName.get('kmod-mt76-core')?.filename).to.equal(
      'kmod-mt76-core-6.6.110.2025.07.24~9c2d4f6b-r1.apk',
    );
    expect(depList(byName.get('python3'))).to.include('python3-light>=3.11.14');
    expect(depList(byName.get('openssh-server'))).to.include('openssh-keygen>=9.9_p2');
    expect(depList(byName.get('tcpdump-mini'))).to.include('!tcpdump');
    expect(depList(byName.get('wpad-mesh-mbedtls'))).to.include.members([
      '!wpad-basic-mbedtls',
      '!wpad-openssl',
    ]);
    expect(depList(byName.get('luci-base'))).to.include('libustream');
    const tilde = [...labClosure(tree)].filter((p) => p.slice(p.lastIndexOf('/')).includes('~'));
    expect(tilde.length).to.be.greaterThan(10);
    expect(tilde).to.include(`${tree.feeds[1]?.dir}/libubox20240329-2024.03.29~eb9bcb64-r1.apk`);
  });

  it('has ABI libraries provide their unversioned name, and virtual names in place of alternatives', () => {
    const base = indexPackages(file(tree, `${tree.feeds[1]?.dir}/packages.adb`));
    const libubox = base.find((p) => p.name === 'libubox20240329');
    expect(libubox).to.deep.include({
      provides: ['libubox', 'libubox-any'],
      tags: ['openwrt:abiversion=20240329'],
      priority: 10,
    });
    const packages = indexPackages(file(tree, `${tree.feeds[4]?.dir}/packages.adb`));
    expect(packages.find((p) => p.name === 'libbz2-1.0')?.tags).to.deep.equal(['openwrt:abiversion=-1.0']);
    // Provides of one source package's variants are versioned; virtual ones are not.
    expect(base.find((p) => p.name === 'ip-full')?.provides).to.deep.equal(['ip=6.11.0-r1', 'ip-full-any']);
    const by = apkSatisfiers(tree);
    expect([...(by.get('libustream') ?? [])].sort()).to.deep.equal([
      'libustream-mbedtls20201210',
      'libustream-openssl20201210',
    ]);
    expect(base.find((p) => p.name === 'libustream-mbedtls20201210')?.priority).to.equal(100);
    expect([...(by.get('batctl') ?? [])].sort()).to.deep.equal([
      'batctl-default',
      'batctl-full',
      'batctl-tiny',
    ]);
    expect([...(by.get('wget-any') ?? [])].sort()).to.deep.equal(['uclient-fetch', 'wget-ssl']);
    expect(by.has('opkg')).to.equal(false);
    expect(by.has('apk')).to.equal(true);
  });

  it('resolves every dependency inside the tree, except libc and kernel', () => {
    const by = apkSatisfiers(tree);
    for (const feed of tree.feeds) {
      for (const pkg of feed.packages) {
        for (const dep of [...depList(pkg), ...(pkg.installIf ?? [])]) {
          const name = apkDepName(dep);
          if (name !== undefined && !FIRMWARE.has(name))
            expect(by.has(name), `${pkg.name} needs ${name}`).to.equal(true);
        }
      }
    }
    expect(by.has('libc') || by.has('kernel')).to.equal(false);
  });

  it('keeps the target directory of the opkg form: images, profiles.json, usign-signed sha256sums', function () {
    this.timeout(10_000);
    const opkg = buildRelease({ signer, version: '25.12.0', format: 'opkg' });
    const targetFiles = (t: ReleaseTree) =>
      [...t.files.keys()]
        .filter((p) => p.startsWith(`${t.targetDir}/`) && !/\/(packages|kmods)\//.test(p))
        .sort();
    expect(targetFiles(tree)).to.deep.equal(targetFiles(opkg));
    expect(tree.images).to.deep.equal(opkg.images);
    const profiles = JSON.parse(file(tree, `${tree.targetDir}/profiles.json`).toString('utf8'));
    expect(profiles.version_number).to.equal('25.12.0');
    const kernel = profiles.linux_kernel;
    expect(`${kernel.version}-${kernel.release}-${kernel.vermagic}`).to.equal(tree.kmodsDir);
    expect(profiles.default_packages).to.include('apk-mbedtls').and.not.include('opkg');
    for (const line of file(tree, `${tree.targetDir}/sha256sums`).toString('utf8').trimEnd().split('\n')) {
      const [hex, name] = line.split(' *');
      expect(sha256(file(tree, `${tree.targetDir}/${name}`)), line).to.equal(hex);
    }
  });

  it('builds the same files from the same options (only the ECDSA signatures differ)', () => {
    const again = buildRelease({ signer, version: '25.12.0' });
    expect([...again.files.keys()]).to.deep.equal([...tree.files.keys()]);
    for (const [path, bytes] of tree.files) {
      if (path.endsWith('/packages.adb')) {
        expect(
          readAdb(file(again, path)).blocks[0]?.payload.equals(
            readAdb(bytes).blocks[0]?.payload ?? Buffer.alloc(0),
          ),
        ).to.equal(true);
      } else if (!path.endsWith('.sig') && !path.endsWith('/sha256sums')) {
        // sha256sums lists the packages.adb files, whose ECDSA signatures differ.
        expect(again.files.get(path)?.equals(bytes), path).to.equal(true);
      }
    }
  });

  describe('lab closure (hand-written)', () => {
    it('is exactly what apk could install for the lab lists: every provider, install-if, no conflicts', () => {
      const roots = [...LAB_REQUIRED, ...LAB_OPTIONAL];
      expect(new Set(LAB_CLOSURE_APK_PACKAGES).size).to.equal(LAB_CLOSURE_APK_PACKAGES.length);
      expect([...apkReachable(tree, roots)].sort()).to.deep.equal([...LAB_CLOSURE_APK_PACKAGES].sort());
      expect(labClosurePackages(tree)).to.equal(LAB_CLOSURE_APK_PACKAGES);
    });

    it('is closed: every dependency of a member is a member, and every install-if that fires is in', () => {
      const members = new Set(LAB_CLOSURE_APK_PACKAGES);
      const by = apkSatisfiers(tree);
      const packages = apkByName(tree);
      for (const name of members) {
        const pkg = packages.get(name);
        expect(pkg, name).to.not.equal(undefined);
        for (const dep of depList(pkg)) {
          const wanted = apkDepName(dep);
          if (wanted === undefined || FIRMWARE.has(wanted)) continue;
          for (const satisfier of by.get(wanted) ?? [])
            expect(members.has(satisfier), `${name} → ${satisfier}`).to.equal(true);
        }
      }
      for (const pkg of packages.values()) {
        if (!pkg.installIf) continue;
        // A node may hold the other items already: one item met by the closure is enough.
        const fires = pkg.installIf.some((cond) =>
          [...(by.get(apkDepName(cond) ?? '') ?? [])].some((n) => members.has(n)),
        );
        expect(members.has(pkg.name), `${pkg.name} install-if ${pkg.installIf.join(' ')}`).to.equal(fires);
      }
    });

    it("exercises install-if (chained, and one that the node's own packages may complete) and leaves conflicts out", () => {
      const members = new Set(LAB_CLOSURE_APK_PACKAGES);
      const packages = apkByName(tree);
      expect(packages.get('luci-i18n-base-en')?.installIf).to.deep.equal(['luci-base']);
      expect(packages.get('luci-i18n-statistics-en')?.installIf).to.deep.equal([
        'luci-app-statistics',
        'luci-i18n-base-en',
      ]);
      expect(packages.get('luci-i18n-statistics-de')?.installIf).to.deep.equal([
        'luci-app-statistics',
        'luci-i18n-base-de',
      ]);
      for (const name of ['luci-i18n-base-en', 'luci-i18n-statistics-en', 'luci-i18n-statistics-de'])
        expect(members.has(name), name).to.equal(true);
      for (const name of ['luci-i18n-base-de', 'tcpdump', 'wpad-openssl', 'apk-mbedtls'])
        expect(members.has(name), name).to.equal(false);
      for (const name of [...LAB_REQUIRED, ...LAB_OPTIONAL])
        expect(members.has(name), name).to.equal(!LAB_NOT_UPSTREAM.includes(name));
      const luci = indexPackages(file(tree, `${tree.feeds[3]?.dir}/packages.adb`));
      expect(luci.find((p) => p.name === 'luci-i18n-statistics-en')?.installIf).to.deep.equal([
        'luci-app-statistics',
        'luci-i18n-base-en',
      ]);
    });

    it('maps to the .apk paths of every feed that has the package', () => {
      const paths = labClosure(tree);
      expect(paths.size).to.equal(LAB_CLOSURE_APK_PACKAGES.length); // no kmods in core on 25.12
      for (const path of paths) {
        expect(tree.files.has(path), path).to.equal(true);
        expect(path).to.match(/\.apk$/);
      }
      const kmod = [...paths].filter((p) => p.includes('/kmod-batman-adv-'));
      expect(kmod).to.deep.equal([`${tree.feeds[2]?.dir}/kmod-batman-adv-6.6.110.2024.3-r6.apk`]);
      const all = tree.feeds.reduce((sum, feed) => sum + feed.packages.length, 0);
      expect(paths.size).to.be.lessThan(all * 0.6);
      expect(new Set([...paths].map((p) => p.slice(0, p.lastIndexOf('/')))).size).to.equal(6);
    });
  });

  describe('revision', () => {
    it('gives 10–20% of packages a new version, new bytes and identity, leaving the rest byte-identical', () => {
      const changed = new Set<string>();
      for (const [i, feed] of tree.feeds.entries()) {
        const after = packagesByName(next.feeds[i] as TreeFeed);
        for (const pkg of feed.packages) {
          const moved = after.get(pkg.name);
          if (!moved) throw new Error(`${pkg.name} vanished`);
          const oldPath = `${feed.dir}/${pkg.filename}`;
          if (moved.version === pkg.version) {
            expect(moved.filename).to.equal(pkg.filename);
            expect(next.files.get(oldPath)?.equals(file(tree, oldPath)), oldPath).to.equal(true);
          } else {
            changed.add(pkg.name);
            expect(moved.filename).to.equal(`${pkg.name}-${moved.version}.apk`);
            expect(moved.identity).to.not.equal(pkg.identity);
            expect(moved.sha256).to.not.equal(pkg.sha256);
            expect(next.files.has(oldPath)).to.equal(false);
          }
        }
      }
      const unique = new Set(tree.feeds.flatMap((f) => f.packages.map((p) => p.name))).size;
      expect(changed.size / unique).to.be.within(0.1, 0.2);
      expect(LAB_CLOSURE_APK_PACKAGES.some((name) => changed.has(name))).to.equal(true);
      expect(LAB_CLOSURE_APK_PACKAGES.some((name) => !changed.has(name))).to.equal(true);
    });

    it('changes only the feed indexes and package files, and signs the new indexes', () => {
      for (const [path, bytes] of tree.files) {
        if (/\/(packages\.adb|index\.json|[^/]+\.apk|sha256sums)$/.test(path) || path.endsWith('.sig'))
          continue;
        expect(next.files.get(path)?.equals(bytes), path).to.equal(true);
      }
      expectSumsMatch(next);
      for (const feed of next.feeds) {
        const adb = file(next, `${feed.dir}/packages.adb`);
        expect(adbSignatureValid(adb, tree.apkSigner as ApkSigner), feed.dir).to.equal(true);
        for (const pkg of indexPackages(adb)) {
          const bytes = file(next, `${feed.dir}/${pkg.name}-${pkg.version}.apk`);
          expect(apkFileInfo(bytes).identity).to.equal(pkg.identity);
        }
      }
      expect([...apkReachable(next, [...LAB_REQUIRED, ...LAB_OPTIONAL])].sort()).to.deep.equal(
        [...LAB_CLOSURE_APK_PACKAGES].sort(),
      );
    });
  });

  describe('filler packages', () => {
    it('builds 3000 of them as .apk files in reasonable time, outside the lab closure', function () {
      this.timeout(30_000);
      const started = Date.now();
      const big = buildRelease({ signer, version: '25.12.0', fillerPackages: 3000 });
      expect(Date.now() - started).to.be.lessThan(15_000);
      const fillers = big.feeds.flatMap((f) => f.packages.filter((p) => p.name.startsWith('filler-')));
      expect(fillers.length).to.equal(3000);
      for (const filler of fillers) {
        expect(filler.filename).to.equal(`${filler.name}-${filler.version}.apk`);
        for (const dep of depList(filler)) {
          const name = apkDepName(dep) ?? '';
          expect(FIRMWARE.has(name) || name.startsWith('filler-'), dep).to.equal(true);
        }
      }
      const kmods = big.feeds.find((f) => f.name === 'kmods');
      expect(indexPackages(file(big, `${kmods?.dir}/packages.adb`)).length).to.equal(kmods?.packages.length);
      expect([...labClosure(big)].sort()).to.deep.equal([...labClosure(tree)].sort());
    });
  });
});
