/**
 * Firmware images of the configured devices: each image that profiles.json lists for a device,
 * whose sha256 must agree with the target's sha256sums, itself signed (sha256sums.sig).
 */
import { ConfigError, IntegrityError, UntrustedInputError } from '../errors.js';
import { closestIds, parseSha256Sums } from '../feeds/profiles.js';
import { verifyUsign } from '../feeds/usign.js';
import type { ServedFile } from '../publish/generation.js';
import { fetchRevalidated, lastGoodCopy, learntFile, type SyncContext } from './context.js';
import type { Release } from './discover.js';
import type { WantedFile } from './download.js';

export interface ImagePlan {
  /** Target-directory files served beside the images (sha256sums, sha256sums.sig). */
  indexFiles: Record<string, ServedFile>;
  wanted: WantedFile[];
  images: { device: string; type: string; rel: string }[];
}

const MAX_IMAGE_BYTES = 512 * 1024 * 1024;

/** Throws ConfigError for an unknown device (a configuration mistake, exit 2). */
export function checkDevices(release: Release, devices: string[], target: string): void {
  const known = [...release.profiles.profiles.keys()];
  for (const device of devices) {
    if (!release.profiles.profiles.has(device)) {
      const close = closestIds(device, known);
      throw new ConfigError(
        'OPENWRT_DEVICES',
        device,
        `a device profile of ${target}${close.length > 0 ? ` (closest: ${close.join(', ')})` : ''}`,
      );
    }
  }
}

export async function planImages(ctx: SyncContext, release: Release): Promise<ImagePlan> {
  const targetDir = `targets/${ctx.config.target}`;
  // profiles.json carries the same image hashes: while it is unchanged, so are the images and their sums.
  const unchanged = release.profilesChanged
    ? undefined
    : await Promise.all([
        lastGoodCopy(ctx, `${targetDir}/sha256sums`),
        lastGoodCopy(ctx, `${targetDir}/sha256sums.sig`),
      ]);
  const sums =
    unchanged?.[0] ?? (await fetchRevalidated(ctx, `${targetDir}/sha256sums`, 8 * 1024 * 1024)).body;
  const sig = unchanged?.[1] ?? (await fetchRevalidated(ctx, `${targetDir}/sha256sums.sig`, 64 * 1024)).body;
  try {
    verifyUsign(sums, sig.toString('utf8'), ctx.keys);
  } catch (error) {
    throw new UntrustedInputError(`${targetDir}/sha256sums: ${(error as Error).message}`, { cause: error });
  }
  const listed = parseSha256Sums(sums.toString('utf8'));
  const plan: ImagePlan = {
    indexFiles: {
      sha256sums: learntFile(ctx, `${targetDir}/sha256sums`),
      'sha256sums.sig': learntFile(ctx, `${targetDir}/sha256sums.sig`),
    },
    wanted: [],
    images: [],
  };
  for (const device of ctx.config.devices) {
    const profile = release.profiles.profiles.get(device);
    for (const image of profile?.images ?? []) {
      const rel = `${targetDir}/${image.name}`;
      const signed = listed.get(image.name);
      if (signed === undefined) {
        throw new UntrustedInputError(`${rel}: listed in profiles.json but not in the signed sha256sums`);
      }
      if (signed !== image.sha256)
        throw new IntegrityError(rel, signed, image.sha256, 'sha256 in profiles.json vs sha256sums');
      if (plan.images.some((known) => known.rel === rel)) continue;
      plan.images.push({ device, type: image.type, rel });
      plan.wanted.push({ rel, group: 'images', sha256: image.sha256, maxBytes: MAX_IMAGE_BYTES });
    }
  }
  return plan;
}
