/** What a package table is made of: the feeds, a package's spec as the index writes it, `pkg()`. */

export type FeedName = 'core' | 'kmods' | 'base' | 'luci' | 'packages' | 'routing' | 'telephony';

/** distfeeds.conf order. */
export const FEED_ORDER: FeedName[] = ['core', 'base', 'kmods', 'luci', 'packages', 'routing', 'telephony'];

/** The feeds below `releases/<v>/packages/<arch>/`, built once per release and arch. */
export const ARCH_FEEDS: ReadonlySet<FeedName> = new Set([
  'base',
  'luci',
  'packages',
  'routing',
  'telephony',
]);

export interface PackageSpec {
  name: string;
  version: string;
  /** Exactly as in the index; '' = no Depends field. */
  depends: string;
  provides?: string[];
  alternatives?: string;
  /** ABIVersion; the package then also provides its name without that suffix, like the real build. */
  abi?: string;
  license?: string;
  section?: string;
  url?: string;
  cpe?: string;
  /** Toolchain libraries carry `Status: unknown hold not-installed` and `Essential: yes`. */
  essential?: boolean;
  /** `Architecture: all` and a `_all.ipk` file name. */
  archAll?: boolean;
  description?: string;
}

export function pkg(
  name: string,
  version: string,
  depends: string,
  extra: Omit<PackageSpec, 'name' | 'version' | 'depends'> = {},
): PackageSpec {
  return { name, version, depends, ...extra };
}
