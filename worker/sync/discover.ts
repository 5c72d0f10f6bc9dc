/**
 * Discovery: the target's profiles.json names the package architecture and the kernel, hence the
 * kmods directory; from those and OPENWRT_FEEDS come the feeds, in distfeeds.conf order.
 */
import { type Profiles, parseProfiles } from '../feeds/profiles.js';
import { fetchRevalidated, type SyncContext } from './context.js';

export interface FeedRef {
  /** `core`, `kmods`, `base`, ... */
  name: string;
  /** The name in distfeeds.conf: `openwrt_core`, ... */
  distName: string;
  /** Release-relative directory. */
  dir: string;
}

export interface Release {
  arch: string;
  kmodsDir: string;
  profiles: Profiles;
  profilesRel: string;
  /** False when profiles.json revalidated as unchanged: the images it lists are unchanged too. */
  profilesChanged: boolean;
  feeds: FeedRef[];
}

/** The largest real profiles.json (ath79/generic) is about 1.5 MB. */
const PROFILES_MAX_BYTES = 16 * 1024 * 1024;

export async function discoverRelease(ctx: SyncContext): Promise<Release> {
  const { config } = ctx;
  const profilesRel = `targets/${config.target}/profiles.json`;
  const { body, changed } = await fetchRevalidated(ctx, profilesRel, PROFILES_MAX_BYTES);
  const profiles = parseProfiles(body.toString('utf8'));
  const arch = config.arch ?? profiles.arch;
  if (config.arch && config.arch !== profiles.arch) {
    ctx.report.warnings.push(`OPENWRT_ARCH=${config.arch} differs from ${profilesRel}'s ${profiles.arch}`);
  }
  return {
    arch,
    kmodsDir: profiles.kmodsDir,
    profiles,
    profilesRel,
    profilesChanged: changed,
    feeds: feedRefs(config.target, arch, profiles.kmodsDir, config.feeds),
  };
}

/** The feeds of a release in the order a device's distfeeds.conf lists them. */
export function feedRefs(target: string, arch: string, kmodsDir: string, archFeeds: string[]): FeedRef[] {
  const feed = (name: string, dir: string): FeedRef => ({ name, distName: `openwrt_${name}`, dir });
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
