import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import { deflateRawSync, gunzipSync, inflateRawSync } from 'node:zlib';
import { expect } from 'chai';
import { type ApkSigner, createApkSigner } from './adb-writer.js';
import {
  buildRelease,
  LAB_CLOSURE_APK_PACKAGES,
  LAB_CLOSURE_PACKAGES,
  LAB_NOT_UPSTREAM,
  LAB_OPTIONAL,
  LAB_REQUIRED,
  labClosure,
  labClosurePackages,
  type ReleaseTree,
  type TreeFeed,
  type TreePackage,
} from './openwrt-tree.js';
import { createUsignSigner, type UsignSigner } from './usign-signer.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

function file(tree: ReleaseTree, path: string): Buffer {
  const bytes = tree.files.get(path);
  if (!bytes) throw new Error(`missing ${path}`);
  return bytes;
}

/** usign blob: "Ed" + 8-byte key number + payload. */
function decodeUsign(
  text: string,
  payloadBytes: number,
): { comment: string; fingerprint: string; payload: Buffer } {
  const [commentLine, base64, rest] = text.split('\n');
  expect(rest, 'exactly two lines and a final newline').to.equal('');
  expect(commentLine).to.match(/^untrusted comment: /);
  const blob = Buffer.from(base64 ?? '', 'base64');
  expect(blob.length).to.equal(10 + payloadBytes);
  expect(blob.subarray(0, 2).toString('latin1')).to.equal('Ed');
  return {
    comment: (commentLine ?? '').slice('untrusted comment: '.length),
    fingerprint: blob.subarray(2, 10).toString('hex'),
    payload: blob.subarray(10),
  };
}

function publicKeyOf(signer: UsignSigner): KeyObject {
  const { fingerprint, payload } = decodeUsign(signer.publicKeyFile, 32);
  expect(fingerprint).to.equal(signer.fingerprint);
  return createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: payload.toString('base64url') },
    format: 'jwk',
  });
}

function signatureValid(data: Buffer, sigFile: Buffer, signer: UsignSigner): boolean {
  const { fingerprint, payload } = decodeUsign(sigFile.toString('utf8'), 64);
  return fingerprint === signer.fingerprint && verify(null, data, publicKeyOf(signer), payload);
}

type Stanza = Map<string, string>;

/** A deliberately small parser, independent of the worker's. */
function parsePackages(text: string): Stanza[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const fields: Stanza = new Map();
      let last = '';
      for (const line of block.split('\n')) {
        if (line.startsWith(' ')) {
          fields.set(last, `${fields.get(last)}\n${line.slice(1)}`);
          continue;
        }
        const colon = line.indexOf(':');
        last = line.slice(0, colon);
        fields.set(last, line.slice(colon + 1).trim());
      }
      return fields;
    });
}

/** `a (>= 1), b | c` → [['a'], ['b', 'c']] (names only). */
function dependencyNames(depends: string): string[][] {
  if (depends === '') return [];
  return depends.split(',').map((item) => item.split('|').map((alt) => alt.trim().replace(/\s*\(.*\)$/, '')));
}

const FIRMWARE = new Set(['libc', 'kernel']);

/** name → every package that satisfies it: a package of that name, or one that provides it. */
function satisfiers(tree: ReleaseTree): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  const add = (key: string, name: string) => {
    const set = map.get(key) ?? new Set<string>();
    set.add(name);
    map.set(key, set);
  };
  for (const feed of tree.feeds) {
    for (const pkg of feed.packages) {
      add(pkg.name, pkg.name);
      for (const virtual of pkg.provides) add(virtual, pkg.name);
    }
  }
  return map;
}

function dependsByName(tree: ReleaseTree): Map<string, string> {
  const map = new Map<string, string>();
  for (const feed of tree.feeds) for (const pkg of feed.packages) map.set(pkg.name, pkg.depends);
  return map;
}

/** Breadth-first over every alternative and every provider: what the hand-written list must equal. */
function reachable(tree: ReleaseTree, roots: string[]): Set<string> {
  const by = satisfiers(tree);
  const depends = dependsByName(tree);
  const seen = new Set<string>();
  const queue = roots.flatMap((root) => [...(by.get(root) ?? [])]);
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    if (seen.has(name)) continue;
    seen.add(name);
    for (const item of dependencyNames(depends.get(name) ?? '')) {
      for (const alt of item) if (!FIRMWARE.has(alt)) queue.push(...(by.get(alt) ?? []));
    }
  }
  return seen;
}

function packagesByName(feed: TreeFeed) {
  return new Map(feed.packages.map((p) => [p.name, p]));
}

const FIELD_ORDER = [
  'Package',
  'Version',
  'Depends',
  'Provides',
  'Alternatives',
  'License',
  'Section',
  'URL',
  'ABIVersion',
  'CPE-ID',
  'Status',
  'Essential',
  'Architecture',
  'Installed-Size',
  'Filename',
  'Size',
  'SHA256sum',
  'Description',
];

describe('usign signer', () => {
  it('writes usign public keys and signatures that node:crypto verifies', () => {
    const signer = createUsignSigner('Test key for the lab');
    expect(signer.fingerprint).to.match(/^[0-9a-f]{16}$/);
    expect(signer.publicKeyFile.startsWith('untrusted comment: Test key for the lab\n')).to.equal(true);
    const data = Buffer.from('Package: x\n\n');
    const sig = Buffer.from(signer.sign(data));
    expect(sig.toString().startsWith(`untrusted comment: signed by key ${signer.fingerprint}\n`)).to.equal(
      true,
    );
    expect(signatureValid(data, sig, signer)).to.equal(true);
    expect(signatureValid(Buffer.from('Package: y\n\n'), sig, signer)).to.equal(false);
    expect(signatureValid(data, sig, createUsignSigner())).to.equal(false);
  });
});

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
    for (const path of tree.files.keys()) expect(path).to.match(/^releases\/24\.10\.4\/[^/]/);
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

// ---------------------------------------------------------------------------------------------
// The apk (OpenWrt 25.12) form

/** An apk v3 file's container, read back here (not with worker/ code, not with the writer). */
function readAdb(file: Buffer): { schema: string; blocks: { type: number; payload: Buffer }[] } {
  const wrapper = file.subarray(0, 4).toString('latin1');
  expect(wrapper, 'OpenWrt writes ADBd (raw deflate)').to.equal('ADBd');
  const data = inflateRawSync(file.subarray(4));
  expect(data.readUInt32LE(0), 'ADB. magic').to.equal(0x2e424441);
  const blocks: { type: number; payload: Buffer }[] = [];
  for (let at = 8; at < data.length; ) {
    const head = data.readUInt32LE(at);
    const size = head & 0x3fffffff;
    expect(size).to.be.within(4, data.length - at);
    blocks.push({ type: head >>> 30, payload: data.subarray(at + 4, at + size) });
    at += Math.ceil(size / 8) * 8;
  }
  return { schema: data.subarray(4, 8).toString('latin1'), blocks };
}

/** Values of one ADB block payload (offsets relative to it), per apk-format.md. */
class AdbValues {
  constructor(readonly payload: Buffer) {
    expect(payload[0], 'compat version').to.equal(0);
  }
  get root(): number {
    return this.payload.readUInt32LE(4);
  }
  /** An object's or array's slots 1…count-1 (raw values); null is an empty list. */
  slots(value: number): number[] {
    if (value === 0) return [];
    const type = value >>> 28;
    expect(type === 0xd || type === 0xe, `0x${value.toString(16)} is an object`).to.equal(true);
    const at = value & 0x0fffffff;
    const count = this.payload.readUInt32LE(at);
    return Array.from({ length: count - 1 }, (_, i) => this.payload.readUInt32LE(at + 4 * (i + 1)));
  }
  slot(value: number, field: number): number {
    return this.slots(value)[field - 1] ?? 0;
  }
  blob(value: number): Buffer | undefined {
    if (value === 0) return undefined;
    const at = value & 0x0fffffff;
    const width = { 8: 1, 9: 2, 10: 4 }[value >>> 28];
    if (width === undefined) throw new Error(`0x${value.toString(16)} is not a blob`);
    const length = this.payload.readUIntLE(at, width);
    return this.payload.subarray(at + width, at + width + length);
  }
  string(value: number): string | undefined {
    return this.blob(value)?.toString('utf8');
  }
  int(value: number): number | undefined {
    if (value === 0) return undefined;
    const at = value & 0x0fffffff;
    switch (value >>> 28) {
      case 0x1:
        return at;
      case 0x2:
        return this.payload.readUInt32LE(at);
      case 0x3:
        return Number(this.payload.readBigUInt64LE(at));
      default:
        throw new Error(`0x${value.toString(16)} is not an int`);
    }
  }
  /** A dependency object as apk prints it: `!name`, `name`, `name>=1.2`, `kernel=6.6.110~x-r1`. */
  dependency(value: number): string {
    const name = this.string(this.slot(value, 1)) ?? '';
    const version = this.string(this.slot(value, 2));
    const match = this.int(this.slot(value, 3)) ?? 0;
    const prefix = match & 16 ? '!' : '';
    if (version === undefined) return `${prefix}${name}`;
    const bits = match & 15 || 1;
    const op = `${bits & 2 ? '<' : ''}${bits & 4 ? '>' : ''}${bits & 1 ? '=' : ''}${bits & 8 ? '~' : ''}`;
    return `${prefix}${name}${op}${version}`;
  }
  dependencies(value: number): string[] {
    return this.slots(value).map((dep) => this.dependency(dep));
  }
}

interface IndexedApk {
  name: string;
  version: string;
  identity: string;
  arch: string;
  fileSize: number;
  priority: number | undefined;
  depends: string[];
  provides: string[];
  installIf: string[];
  tags: string[];
}

function packageInfo(adb: AdbValues, info: number): IndexedApk {
  return {
    name: adb.string(adb.slot(info, 1)) ?? '',
    version: adb.string(adb.slot(info, 2)) ?? '',
    identity: adb.blob(adb.slot(info, 3))?.toString('hex') ?? '',
    arch: adb.string(adb.slot(info, 5)) ?? '',
    fileSize: adb.int(adb.slot(info, 13)) ?? 0,
    priority: adb.int(adb.slot(info, 14)),
    depends: adb.dependencies(adb.slot(info, 15)),
    provides: adb.dependencies(adb.slot(info, 16)),
    installIf: adb.dependencies(adb.slot(info, 18)),
    tags: adb.slots(adb.slot(info, 21)).map((tag) => adb.string(tag) ?? ''),
  };
}

/** The packages a `packages.adb` lists. */
function indexPackages(file: Buffer): IndexedApk[] {
  const { schema, blocks } = readAdb(file);
  expect(schema).to.equal('indx');
  const adb = new AdbValues(blocks[0]?.payload ?? Buffer.alloc(0));
  return adb.slots(adb.slot(adb.root, 2)).map((info) => packageInfo(adb, info));
}

/** Whether the index carries a SIG block by `signer` over its ADB block (apk-format.md, "Signatures"). */
function adbSignatureValid(file: Buffer, signer: ApkSigner): boolean {
  const { blocks } = readAdb(file);
  const [adb, ...rest] = blocks;
  if (adb?.type !== 0) return false;
  const jwk = createPublicKey(signer.publicKeyPem).export({ format: 'jwk' });
  const point = Buffer.concat([
    Buffer.from([4]),
    Buffer.from(String(jwk.x), 'base64url'),
    Buffer.from(String(jwk.y), 'base64url'),
  ]);
  const keyId = createHash('sha512').update(point).digest().subarray(0, 16);
  const schema = Buffer.alloc(4);
  schema.writeUInt32LE(0x78646e69);
  return rest.some((block) => {
    const sig = block.payload;
    if (block.type !== 1 || sig[0] !== 0 || sig[1] !== 4 || !sig.subarray(2, 18).equals(keyId)) return false;
    const digest = createHash('sha512').update(adb.payload).digest();
    const message = Buffer.concat([schema, sig.subarray(0, 18), digest]);
    return verify('sha512', message, createPublicKey(signer.publicKeyPem), sig.subarray(18));
  });
}

/** A `.apk`'s identity (SHA-256 of its ADB block payload) and its own name and version. */
function apkFileInfo(file: Buffer): { identity: string; name: string; version: string; dataBlocks: number } {
  const { schema, blocks } = readAdb(file);
  expect(schema).to.equal('pckg');
  const [adbBlock, ...rest] = blocks;
  if (adbBlock?.type !== 0) throw new Error('a package starts with its ADB block');
  const adb = new AdbValues(adbBlock.payload);
  const info = adb.slot(adb.root, 1);
  return {
    identity: sha256(adbBlock.payload),
    name: adb.string(adb.slot(info, 1)) ?? '',
    version: adb.string(adb.slot(info, 2)) ?? '',
    dataBlocks: rest.filter((b) => b.type === 2).length,
  };
}

/** `name>=1.2` → `name`; undefined for a conflict (`!name`), which pulls nothing in. */
function apkDepName(dep: string): string | undefined {
  if (dep.startsWith('!')) return undefined;
  return /^[^<>=~]+/.exec(dep)?.[0];
}

/** name → every package that satisfies it: one of that name, or one that provides it (any version). */
function apkSatisfiers(tree: ReleaseTree): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const feed of tree.feeds) {
    for (const pkg of feed.packages) {
      for (const key of [pkg.name, ...pkg.provides]) map.set(key, (map.get(key) ?? new Set()).add(pkg.name));
    }
  }
  return map;
}

function apkByName(tree: ReleaseTree): Map<string, TreePackage> {
  return new Map(tree.feeds.flatMap((feed) => feed.packages.map((p): [string, TreePackage] => [p.name, p])));
}

const depList = (pkg: TreePackage | undefined): string[] => (pkg?.depends ? pkg.depends.split(', ') : []);

/**
 * What apk could install for `roots`: every provider of every dependency (conflicts pull nothing
 * in), then every install-if package whose conditions are all met, until nothing changes.
 */
function apkReachable(tree: ReleaseTree, roots: string[]): Set<string> {
  const by = apkSatisfiers(tree);
  const packages = apkByName(tree);
  const seen = new Set<string>();
  const queue = roots.flatMap((root) => [...(by.get(root) ?? [])]);
  for (;;) {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      if (seen.has(name)) continue;
      seen.add(name);
      for (const dep of depList(packages.get(name))) {
        const wanted = apkDepName(dep);
        if (wanted !== undefined && !FIRMWARE.has(wanted)) queue.push(...(by.get(wanted) ?? []));
      }
    }
    for (const pkg of packages.values()) {
      if (seen.has(pkg.name) || !pkg.installIf?.length) continue;
      const met = pkg.installIf.some((cond) => {
        const wanted = apkDepName(cond);
        return wanted !== undefined && [...(by.get(wanted) ?? [])].some((n) => seen.has(n));
      });
      if (met) queue.push(pkg.name);
    }
    if (queue.length === 0) return seen;
  }
}

/** Digest of every file but the signatures (their keys are random per run). */
/** Every line of the target's sha256sums names a file of the tree with that hash, and every file below the target directory is listed. */
function expectSumsMatch(tree: ReleaseTree): void {
  const listed = new Set<string>();
  for (const line of file(tree, `${tree.targetDir}/sha256sums`).toString('utf8').trimEnd().split('\n')) {
    const [hex, name] = line.split(' *');
    expect(sha256(file(tree, `${tree.targetDir}/${name}`)), line).to.equal(hex);
    listed.add(`${tree.targetDir}/${name}`);
  }
  for (const path of tree.files.keys()) {
    if (path.startsWith(`${tree.targetDir}/`) && !/\/sha256sums(\.sig)?$/.test(path)) {
      expect(listed.has(path), path).to.equal(true);
    }
  }
}

function filesDigest(tree: ReleaseTree): string {
  const hash = createHash('sha256');
  for (const [path, bytes] of [...tree.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // The signatures are made with a key of this run, and sha256sums lists the core feed's.
    if (path.endsWith('.sig') || path.endsWith('/sha256sums')) continue;
    hash.update(path).update('\0').update(createHash('sha256').update(bytes).digest()).update('\0');
  }
  return hash.digest('hex');
}

const APK_VERSION = /^\d+(\.\d+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*(~[0-9a-f]+)?(-r\d+)?$/;

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
