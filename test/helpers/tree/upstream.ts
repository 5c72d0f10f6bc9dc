/**
 * `buildUpstream`: several releases × several known targets, one served tree. Arch feeds are built
 * once per release and arch and shared by every target of that arch; core, kmods and the target
 * directory (with its own sums) are per target; a revision moves every set alike.
 */
import { buildSet, newRelease, type ReleaseBuild } from './set.js';
import { KNOWN_TARGETS, knownTarget, targetKernel } from './targets.js';
import type { SetTree, UpstreamOptions, UpstreamTree } from './types.js';
import { defaultFormat, targetsFile, versionsFile } from './versions.js';

export function buildUpstream(opts: UpstreamOptions): UpstreamTree {
  checkOptions(opts);
  const files = new Map<string, Buffer>();
  const sets: SetTree[] = [];
  const releases: ReleaseBuild[] = [];
  for (const { version, format } of opts.releases) {
    const release = newRelease({
      version,
      format: format ?? defaultFormat(version),
      revision: opts.revision,
      fillerPackages: opts.fillerPackages,
      packageBytes: opts.packageBytes,
      signer: opts.signer,
      apkSigner: opts.apkSigner,
      distinctBuilds: true,
    });
    releases.push(release);
    for (const target of opts.targets) {
      const spec = knownTarget(target);
      const devices = Object.entries(spec.devices).filter(([name]) => opts.devices?.includes(name) ?? true);
      const set = buildSet(release, {
        target,
        arch: spec.arch,
        kernel: targetKernel(target, version),
        devices,
        defaultPackages: spec.defaultPackages,
        extraKmods: spec.extraKmods,
        kmodsInCore: release.format === 'opkg',
      });
      for (const [path, bytes] of set.files) files.set(path, bytes);
      sets.push(set);
    }
    // As downloads.openwrt.org lists a release's targets: target → package architecture.
    const targets = Object.fromEntries(opts.targets.map((t) => [t, knownTarget(t).arch]));
    files.set(`${release.releaseDir}/.targets.json`, targetsFile(targets));
  }
  files.set('.versions.json', versionsFile(opts.releases.map((r) => r.version)));
  const apk = releases.find((r) => r.format === 'apk');
  return {
    files,
    sets,
    archFeeds: releases.flatMap((r) => [...r.archBuilds.values()].map((b) => b.archFeeds)),
    ...(apk ? { apkSigner: apk.apkSigner } : {}),
  };
}

/** The set of `upstream` for `version` and `target`, or an Error naming what it has. */
export function findSet(upstream: UpstreamTree, version: string, target: string): SetTree {
  const set = upstream.sets.find((s) => s.version === version && s.target === target);
  if (!set) {
    const have = upstream.sets.map((s) => `${s.version} ${s.target}`).join(', ');
    throw new Error(`no set ${version} ${target}: the upstream has ${have}`);
  }
  return set;
}

function checkOptions(opts: UpstreamOptions): void {
  const versions = opts.releases.map((r) => r.version);
  if (versions.length === 0) throw new TypeError('releases must list at least one release');
  if (new Set(versions).size !== versions.length)
    throw new TypeError(`releases repeat a version: ${versions}`);
  if (opts.targets.length === 0) throw new TypeError('targets must list at least one target');
  if (new Set(opts.targets).size !== opts.targets.length) {
    throw new TypeError(`targets repeat a target: ${opts.targets}`);
  }
  for (const target of opts.targets) {
    for (const version of versions) targetKernel(target, version);
  }
  const devices = new Set(opts.targets.flatMap((t) => Object.keys(knownTarget(t).devices)));
  for (const device of opts.devices ?? []) {
    if (!devices.has(device)) {
      const owner = Object.entries(KNOWN_TARGETS).find(([, spec]) => device in spec.devices)?.[0];
      throw new TypeError(
        owner
          ? `device ${device} belongs to ${owner}, which targets does not list`
          : `unknown device ${device}: the targets have ${[...devices].sort().join(', ')}`,
      );
    }
  }
}
