/**
 * Firmware images of the configured devices: each image that profiles.json lists for a device,
 * whose sha256 must agree with the target's sha256sums, itself signed (sha256sums.sig).
 */
import { ALL_DEVICES } from '../config/rules.js';
import type { SetConfig } from '../config.js';
import { IntegrityError, UntrustedInputError } from '../errors.js';
import { closestIds, parseSha256Sums } from '../feeds/profiles.js';
import { verifyUsign } from '../feeds/usign.js';
import type { ServedFile } from '../publish/types.js';
import {
  askRevalidatedAhead,
  fetchRevalidated,
  lastGoodCopy,
  learntFile,
  type SyncContext,
} from './context.js';
import type { DiscoveredSet } from './discover.js';
import type { Failure, FileTask } from './types.js';

export interface ImagePlan {
  /** Target-directory files served beside the images (sha256sums, sha256sums.sig). */
  indexFiles: Record<string, ServedFile>;
  /** What the signed sha256sums lists: path below the target directory → sha256. */
  sums: Map<string, string>;
  tasks: FileTask[];
  images: { device: string; type: string; rel: string }[];
}

const MAX_IMAGE_BYTES = 512 * 1024 * 1024;
const MAX_SUMS_BYTES = 8 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 64 * 1024;

/** The images of `devices`, each of which the set's profiles.json lists (devicesListed). */
export async function planImages(
  ctx: SyncContext,
  set: DiscoveredSet,
  devices: string[],
): Promise<ImagePlan> {
  const { targetDir } = set;
  const sumsRel = `${targetDir}/sha256sums`;
  // The signature is the marker, as for a feed: ed25519 signatures are deterministic, so an unchanged
  // one means unchanged sums. The sums list the core and kmods feeds too, so they change far more
  // often than profiles.json does.
  const sig = await fetchRevalidated(ctx, `${sumsRel}.sig`, MAX_SIGNATURE_BYTES);
  const kept = sig.changed ? undefined : await lastGoodCopy(ctx, sumsRel);
  const sums = kept ?? (await fetchRevalidated(ctx, sumsRel, MAX_SUMS_BYTES)).body;
  verifyUsign(sums, sig.body.toString('utf8'), ctx.keys);
  const listed = parseSha256Sums(sums.toString('utf8'));
  const plan: ImagePlan = {
    indexFiles: {
      sha256sums: learntFile(ctx, sumsRel),
      'sha256sums.sig': learntFile(ctx, `${sumsRel}.sig`),
    },
    sums: listed,
    tasks: [],
    images: [],
  };
  for (const device of devices) {
    const profile = set.profiles.profiles.get(device);
    if (profile === undefined) continue;
    for (const image of profile.images) {
      const rel = `${targetDir}/${image.name}`;
      const signed = listed.get(image.name);
      if (signed === undefined) {
        throw new UntrustedInputError(`${rel}: listed in profiles.json but not in the signed sha256sums`);
      }
      if (signed !== image.sha256)
        throw new IntegrityError(rel, signed, image.sha256, 'sha256 in profiles.json vs sha256sums');
      if (plan.images.some((other) => other.rel === rel)) continue;
      plan.images.push({ device, type: image.type, rel });
      plan.tasks.push({
        release: ctx.release,
        rel,
        unit: targetDir,
        sets: [set.label],
        sha256: image.sha256,
        maxBytes: MAX_IMAGE_BYTES,
        key: image.sha256,
      });
    }
  }
  return plan;
}

/**
 * Asks for the signature planImages asks first, when the last run asked for it too (ahead.ts): a
 * target that lists none of the configured devices has no images to plan.
 */
export function askImagesAhead(ctx: SyncContext, set: SetConfig): void {
  const sigRel = `targets/${set.target}/sha256sums.sig`;
  if (set.devices.length > 0 && ctx.previous.validators[sigRel] !== undefined) {
    askRevalidatedAhead(ctx, sigRel, MAX_SIGNATURE_BYTES);
  }
}

/**
 * The configured devices a set's profiles.json lists: its images are mirrored, the others are not its.
 * `all`: every profile it lists.
 */
export function devicesListed(set: DiscoveredSet): string[] {
  if (wantsAllDevices(set)) return [...set.profiles.profiles.keys()];
  return set.config.devices.filter((device) => set.profiles.profiles.has(device));
}

function wantsAllDevices(set: DiscoveredSet): boolean {
  return set.config.devices.includes(ALL_DEVICES);
}

/**
 * Devices that no target configured with them lists (gone upstream, or mistyped; the mirror cannot
 * tell): each a failure of the images, named with the closest ids of those targets' profiles. A
 * device listed by one target is not missing from the others: OPENWRT_DEVICES applies to each
 * target that has it.
 */
export function missingDevices(sets: DiscoveredSet[]): Failure[] {
  const failures: Failure[] = [];
  const devices = [
    ...new Set(sets.filter((set) => !wantsAllDevices(set)).flatMap((set) => set.config.devices)),
  ];
  for (const device of devices) {
    const configured = sets.filter((set) => set.config.devices.includes(device));
    if (configured.some((set) => set.profiles.profiles.has(device))) continue;
    const known = configured.flatMap((set) => [...set.profiles.profiles.keys()]);
    const closest = closestIds(device, [...new Set(known)]);
    const targets = configured.map((set) => set.config.target);
    const [first] = configured as [DiscoveredSet];
    const sources = [...new Set(configured.map((set) => set.config.sources.devices))].join(', ');
    const listing = targets.length === 1 ? 'its profiles.json' : 'their profiles.json';
    failures.push({
      ...(configured.length === 1 && { file: first.profilesRel }),
      reason:
        `${sources}: ${device} is not a device profile of ${targets.join(' or ')} in ${listing}` +
        (closest.length > 0 ? `; closest profile ids: ${closest.join(', ')}` : ''),
    });
  }
  return failures;
}

/** Which device and image type each image of the target's profiles.json is, for status and the page. */
export function imageInfo(set: DiscoveredSet): Map<string, { device: string; type: string }> {
  const info = new Map<string, { device: string; type: string }>();
  for (const [device, profile] of set.profiles.profiles) {
    for (const image of profile.images)
      info.set(`${set.targetDir}/${image.name}`, { device, type: image.type });
  }
  return info;
}
