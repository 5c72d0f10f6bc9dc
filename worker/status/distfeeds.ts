/** The feed list a node should use, for the feeds this mirror serves, in the lines of its format. */
import type { FeedFormat } from '../formats/format.js';

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
  format: FeedFormat,
): string {
  const base = baseUrl.replace(/\/+$/, '');
  return feeds
    .map((feed) =>
      format.feedLine({ distName: feed.distName, url: `${base}/releases/${release}/${feed.dir}` }),
    )
    .join('');
}
