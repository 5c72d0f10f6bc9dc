/**
 * A realistic OpenWrt upstream, built in memory, for the fake upstream to serve: 24.10 (opkg:
 * `Packages*` and `.ipk`) or 25.12 (apk v3: `packages.adb`, `index.json` and `.apk`), one set
 * (`buildRelease`) or several releases × targets (`buildUpstream`).
 * It is the independent truth the mirror is checked against: it imports nothing from `worker/`,
 * signs and hashes with node:crypto itself (through `../adb-writer.ts` for apk), and its lab
 * closure is a hand-written list.
 */
export {
  LAB_CLOSURE_APK_PACKAGES,
  LAB_CLOSURE_PACKAGES,
  LAB_NOT_UPSTREAM,
  LAB_OPTIONAL,
  LAB_REQUIRED,
  labClosure,
  labClosurePackages,
  NODE_FEEDS,
} from './lab.js';
export { buildRelease } from './release.js';
export type { FillerShares } from './tables/filler.js';
export { type DeviceSpec, type ImageSpec, KNOWN_TARGETS, LAB_TARGET, type TargetSpec } from './targets.js';
export type {
  ArchFeeds,
  Kernel,
  ReleaseTree,
  SetTree,
  TreeFeed,
  TreeFormat,
  TreeImage,
  TreeOptions,
  TreePackage,
  UpstreamOptions,
  UpstreamRelease,
  UpstreamTree,
} from './types.js';
export { buildUpstream, findSet } from './upstream.js';
