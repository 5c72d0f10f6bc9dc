/**
 * A target directory's own files: the device images, `profiles.json` (arch, kernel, devices and
 * their images), the buildinfo files and the manifest; and, once the core and kmods feeds are in,
 * the signed `sha256sums` over all of it.
 */
import type { UsignSigner } from '../usign-signer.js';
import { hash32, pseudoRandomBytes, sha256 } from './bytes.js';
import type { DeviceSpec } from './targets.js';
import type { Kernel, TreeFormat, TreeImage } from './types.js';

export interface TargetDirInput {
  version: string;
  /** target/subtarget */
  target: string;
  /** `releases/<version>/targets/<target>` */
  targetDir: string;
  arch: string;
  kernel: Kernel;
  devices: [name: string, spec: DeviceSpec][];
  /** The opkg form's; the apk form swaps opkg for apk-mbedtls. */
  defaultPackages: string[];
  format: TreeFormat;
}

/** Writes the target directory's files into `files` and describes its images. */
export function buildTargetDir(files: Map<string, Buffer>, input: TargetDirInput): TreeImage[] {
  const { version, target, targetDir } = input;
  const prefix = `openwrt-${version}-${target.replace('/', '-')}`;
  const artifacts = new Map<string, Buffer>();
  const images: TreeImage[] = [];
  const profiles: Record<string, unknown> = {};

  for (const [device, info] of [...input.devices].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const imagePrefix = `${prefix}-${device}`;
    const profileImages = info.images.map((image) => {
      const { type, filesystem, suffix } = image;
      // x86 has an ext4 and a squashfs image of each type: the filesystem tells their bytes apart.
      const alike = info.images.filter((other) => other.type === type).length > 1;
      const key = alike ? `${type} ${filesystem ?? ''}` : type;
      const name = `${imagePrefix}-${suffix}`;
      const size = (192 + (hash32(`image size ${device} ${key}`) % 257)) * 1024;
      const bytes = pseudoRandomBytes(`image ${version} ${target} ${device} ${key}`, size);
      const digest = sha256(bytes);
      artifacts.set(name, bytes);
      images.push({ device, type, path: `${targetDir}/${name}`, sha256: digest, size });
      // Images that sysupgrade takes end in a metadata trailer that sha256_unsigned leaves out.
      const unsigned = image.metadata ? sha256(bytes.subarray(0, size - 1024)) : digest;
      return {
        ...(filesystem === undefined ? {} : { filesystem }),
        name,
        sha256: digest,
        sha256_unsigned: unsigned,
        type,
      };
    });
    const title: Record<string, string> = { model: info.model };
    if (info.variant) title.variant = info.variant;
    title.vendor = info.vendor;
    profiles[device] = {
      device_packages: info.devicePackages,
      image_prefix: imagePrefix,
      images: profileImages,
      supported_devices: info.supported,
      titles: [title],
    };
  }

  // 25.12 images carry apk instead of opkg.
  const defaultPackages =
    input.format === 'apk'
      ? input.defaultPackages.map((p) => (p === 'opkg' ? 'apk-mbedtls' : p)).sort()
      : input.defaultPackages;
  const profilesJson = {
    arch_packages: input.arch,
    default_packages: defaultPackages,
    linux_kernel: {
      release: input.kernel.release,
      vermagic: input.kernel.vermagic,
      version: input.kernel.version,
    },
    metadata_version: 1,
    profiles,
    source_date_epoch: 1759339553,
    target,
    version_code: 'r29087-d9c5716d1d',
    version_number: version,
  };
  artifacts.set('profiles.json', Buffer.from(JSON.stringify(profilesJson), 'utf8'));
  artifacts.set('version.buildinfo', Buffer.from('r29087-d9c5716d1d\n', 'utf8'));
  artifacts.set(
    'feeds.buildinfo',
    Buffer.from(
      [
        'src-git packages https://git.openwrt.org/feed/packages.git^c4d3f1e2b0a9',
        'src-git luci https://git.openwrt.org/project/luci.git^1ab6a58c2d4e',
        'src-git routing https://git.openwrt.org/feed/routing.git^7d0a3c1f9e2b',
        'src-git telephony https://git.openwrt.org/feed/telephony.git^e29b4f7a0c31',
        '',
      ].join('\n'),
      'utf8',
    ),
  );
  artifacts.set(
    'config.buildinfo',
    Buffer.from(
      `CONFIG_TARGET_${target.replace('/', '_')}=y\nCONFIG_ALL_KMODS=y\nCONFIG_ALL_NONSHARED=y\n`,
      'utf8',
    ),
  );
  artifacts.set(
    `${prefix}.manifest`,
    Buffer.from(
      defaultPackages
        .filter((p) => p !== 'libc')
        .map((p) => `${p} - ${version}`)
        .join('\n')
        .concat('\n'),
      'utf8',
    ),
  );

  for (const [name, bytes] of artifacts) files.set(`${targetDir}/${name}`, bytes);
  return images;
}

/**
 * The target's `sha256sums`, signed: as OpenWrt's build writes it, over every file below the target
 * directory — images and profiles.json, and the core (`packages/`) and `kmods/` feeds too.
 */
export function signTargetSums(files: Map<string, Buffer>, targetDir: string, signer: UsignSigner): void {
  const names = [...files.keys()]
    .filter((p) => p.startsWith(`${targetDir}/`))
    .map((p) => p.slice(targetDir.length + 1))
    .filter((name) => name !== 'sha256sums' && name !== 'sha256sums.sig')
    .sort();
  const sums = Buffer.from(
    names.map((name) => `${sha256(files.get(`${targetDir}/${name}`) as Buffer)} *${name}\n`).join(''),
    'utf8',
  );
  files.set(`${targetDir}/sha256sums`, sums);
  files.set(`${targetDir}/sha256sums.sig`, Buffer.from(signer.sign(sums), 'utf8'));
}
