/** The feed list a node should use, for the feeds this mirror serves: opkg's distfeeds.conf or apk's distfeeds.list. */

export interface ServedFeed {
  distName: string;
  /** Release-relative directory. */
  dir: string;
}

/** Placeholder the worker writes into MIRROR_DIR/distfeeds.conf; nginx replaces it with the URL a request used. */
export const MIRROR_URL_PLACEHOLDER = '@MIRROR_URL@';

export function renderDistfeeds(
  feeds: ServedFeed[],
  release: string,
  baseUrl: string,
  format: 'opkg' | 'apk' = 'opkg',
): string {
  const base = baseUrl.replace(/\/+$/, '');
  return feeds
    .map((feed) => {
      const url = `${base}/releases/${release}/${feed.dir}`;
      return format === 'apk' ? `${url}/packages.adb\n` : `src/gz ${feed.distName} ${url}\n`;
    })
    .join('');
}
