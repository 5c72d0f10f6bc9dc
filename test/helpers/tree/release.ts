/**
 * `buildRelease`: one release, one target, as the tests have always had it. Its target, arch,
 * kernel and devices are independent options defaulting to the lab's 24.10 set whatever the
 * version, and its package bytes follow from name and version alone: the same bytes for every
 * option combination as before there were several targets.
 */
import { buildSet, newRelease } from './set.js';
import { type DeviceSpec, KNOWN_TARGETS, LAB_TARGET, type TargetSpec } from './targets.js';
import type { Kernel, ReleaseTree, TreeOptions } from './types.js';
import { defaultFormat, targetsFile, versionsFile } from './versions.js';

const LAB = KNOWN_TARGETS[LAB_TARGET] as TargetSpec;

export function buildRelease(opts: TreeOptions): ReleaseTree {
  const version = opts.version ?? '24.10.4';
  const format = opts.format ?? defaultFormat(version);
  const release = newRelease({
    version,
    format,
    revision: opts.revision,
    fillerPackages: opts.fillerPackages,
    fillerShares: opts.fillerShares,
    packageBytes: opts.packageBytes,
    signer: opts.signer,
    apkSigner: opts.apkSigner,
    distinctBuilds: false,
  });
  const set = buildSet(release, {
    target: opts.target ?? LAB_TARGET,
    arch: opts.arch ?? LAB.arch,
    kernel: opts.kernel ?? (LAB.kernels['24.10'] as Kernel),
    devices: (opts.devices ?? Object.keys(LAB.devices)).map((name) => [
      name,
      LAB.devices[name] ?? generic(name),
    ]),
    defaultPackages: LAB.defaultPackages,
    kmodsInCore: opts.kmodsInCore ?? format === 'opkg',
  });
  const { files, feeds, images, kmodsDir, releaseDir, targetDir, target, arch } = set;
  // What firmware-selector and ASU clients read: the upstream's releases, the release's targets.
  files.set(`${releaseDir}/.targets.json`, targetsFile({ [target]: arch }));
  files.set('.versions.json', versionsFile([version]));
  return {
    format,
    ...(set.apkSigner ? { apkSigner: set.apkSigner } : {}),
    files,
    feeds,
    images,
    kmodsDir,
    releaseDir,
    targetDir,
    version,
    target,
    arch,
  };
}

/** A device the lab's target does not know: a sysupgrade image and nothing else. */
function generic(device: string): DeviceSpec {
  return {
    vendor: 'Generic',
    model: device,
    supported: [device.replace('_', ',')],
    devicePackages: [],
    images: [
      { type: 'sysupgrade', filesystem: 'squashfs', suffix: 'squashfs-sysupgrade.bin', metadata: true },
    ],
  };
}
