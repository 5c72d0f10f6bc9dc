/**
 * Discovery: each set's target `profiles.json` names the package architecture and the kernel, hence
 * the kmods directory; from those and the set's feeds come its feed directories, in a node's order.
 * Sets of one architecture in one release name the same arch feed directories: the feeds are shared.
 */

import { type SetConfig, setLabel } from '../config.js';
import { AbortedError } from '../errors.js';
import { type Profiles, parseProfiles } from '../feeds/profiles.js';
import type { FormatName } from '../formats/format.js';
import { fetchRevalidated, type SyncContext } from './context.js';

export interface FeedRef {
  /** `core`, `kmods`, `base`, ... */
  name: string;
  /** The name in distfeeds.conf: `openwrt_core`, ... */
  distName: string;
  /** Release-relative directory. */
  dir: string;
  /** The package architecture its packages are built for. */
  arch: string;
}

/** One configured set, as its target's profiles.json describes it. */
export interface DiscoveredSet {
  config: SetConfig;
  /** `24.10.4 ramips/mt7621`: how messages and status name the set. */
  label: string;
  arch: string;
  kmodsDir: string;
  profiles: Profiles;
  /** `targets/<target>`, release-relative. */
  targetDir: string;
  profilesRel: string;
  /** False when profiles.json revalidated as unchanged. */
  profilesChanged: boolean;
  /** In the order of a node's feed list. */
  feeds: FeedRef[];
}

/** The largest real profiles.json (ath79/generic) is about 1.5 MB. */
const PROFILES_MAX_BYTES = 16 * 1024 * 1024;

/**
 * Every configured set of the context's release, each from its target's profiles.json. A set whose
 * profiles.json cannot be had or read is a failure of that set; the others go on.
 */
export async function discoverSets(
  ctx: SyncContext,
  configured: SetConfig[],
  format: FormatName,
  /** Whether the mirror has several sets: then failures name theirs. */
  many: boolean,
): Promise<DiscoveredSet[]> {
  // All at once: one round trip for the release's sets, not one per set.
  const outcomes = await Promise.allSettled(configured.map((set) => discoverSet(ctx, set)));
  const discovered: DiscoveredSet[] = [];
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.status === 'fulfilled') {
      discovered.push(outcome.value);
      continue;
    }
    const error: unknown = outcome.reason;
    if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
    const set = configured[i] as SetConfig;
    ctx.report.failures.push({ ...(many && { set: setLabel(set) }), reason: (error as Error).message });
  }
  for (const set of discovered) {
    ctx.report.sets.push({
      label: set.label,
      release: ctx.release,
      target: set.config.target,
      arch: set.arch,
      format,
      mode: set.config.mode,
      feedDirs: set.feeds.map((feed) => feed.dir),
    });
    ctx.logger.info(`${set.label}: arch ${set.arch}, kernel modules in ${set.kmodsDir}`, {
      phase: 'discover',
    });
  }
  return discovered;
}

export async function discoverSet(ctx: SyncContext, set: SetConfig): Promise<DiscoveredSet> {
  const targetDir = `targets/${set.target}`;
  const profilesRel = `${targetDir}/profiles.json`;
  const label = setLabel(set);
  const { body, changed } = await fetchRevalidated(ctx, profilesRel, PROFILES_MAX_BYTES);
  const profiles = parseProfiles(body.toString('utf8'));
  const arch = set.arch ?? profiles.arch;
  if (set.arch && set.arch !== profiles.arch) {
    ctx.report.warnings.push(
      `${label}: OPENWRT_ARCH=${set.arch} differs from ${profilesRel}'s ${profiles.arch}`,
    );
  }
  for (const problem of profiles.problems) ctx.report.warnings.push(`${label}: ${profilesRel}: ${problem}`);
  return {
    config: set,
    label,
    arch,
    kmodsDir: profiles.kmodsDir,
    profiles,
    targetDir,
    profilesRel,
    profilesChanged: changed,
    feeds: feedRefs(set.target, arch, profiles.kmodsDir, set.feeds),
  };
}

/** The feeds of a set in the order a device's distfeeds.conf lists them. */
export function feedRefs(target: string, arch: string, kmodsDir: string, archFeeds: string[]): FeedRef[] {
  const feed = (name: string, dir: string): FeedRef => ({ name, distName: `openwrt_${name}`, dir, arch });
  const arches = archFeeds.map((name) => feed(name, `packages/${arch}/${name}`));
  const base = arches.filter((f) => f.name === 'base');
  const rest = arches.filter((f) => f.name !== 'base');
  return [
    feed('core', `targets/${target}/packages`),
    ...base,
    feed('kmods', `targets/${target}/kmods/${kmodsDir}`),
    ...rest,
  ];
}
