/** The opkg feed lines a node should use, for the feeds this mirror serves. */

export interface ServedFeed {
  distName: string;
  /** Release-relative directory. */
  dir: string;
}

/** Placeholder the worker writes into MIRROR_DIR/distfeeds.conf; nginx replaces it with the URL a request used. */
export const MIRROR_URL_PLACEHOLDER = '@MIRROR_URL@';

export function renderDistfeeds(feeds: ServedFeed[], release: string, baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return feeds.map((feed) => `src/gz ${feed.distName} ${base}/releases/${release}/${feed.dir}\n`).join('');
}
