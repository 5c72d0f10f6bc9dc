/** `openwrt-mirror distfeeds --url URL [--release R] [--target T]`: a set's feed lines for a node. */
import type { Config } from '../config.js';
import { ConfigError, UsageError } from '../errors.js';
import { formatNamed } from '../formats/index.js';
import { renderDistfeeds } from '../status/distfeeds.js';
import { readStatus, type StatusFile } from '../status/status-file.js';

export async function distfeedsCommand(
  config: Config,
  options: { url?: string; release?: string; target?: string; stdout: NodeJS.WritableStream },
): Promise<number> {
  if (!options.url)
    throw new ConfigError('--url', '', 'the URL nodes reach this mirror at, e.g. http://192.168.1.10:8080');
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new ConfigError('--url', options.url, 'an http:// or https:// URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new ConfigError('--url', options.url, 'an http:// or https:// URL');
  }
  const status = await readStatus(config.mirrorDir);
  const served = (status?.sets ?? []).filter((set) => set.feeds.length > 0);
  if (served.length === 0) {
    options.stdout.write(`# nothing mirrored yet in ${config.mirrorDir}: run openwrt-mirror sync first\n`);
    return 1;
  }
  const matching = served.filter(
    (set) =>
      (options.release === undefined || set.release === options.release) &&
      (options.target === undefined || set.target === options.target),
  );
  const names = served.map((set) => `${set.release} ${set.target}`).join(', ');
  if (matching.length === 0) {
    const asked = [options.release, options.target].filter(Boolean).join(' ');
    throw new UsageError(`distfeeds: this mirror serves no set ${asked}; it serves ${names}`);
  }
  if (matching.length > 1) {
    const which = matching.map((set) => `--release ${set.release} --target ${set.target}`).join(', or ');
    throw new UsageError(`distfeeds: ${matching.length} sets match; say which: ${which}`);
  }
  const [set] = matching as [NonNullable<StatusFile['sets']>[number]];
  const feeds = set.feeds.map((feed) => ({
    distName: feed.distName,
    dir: feed.path.replace(`releases/${set.release}/`, ''),
  }));
  options.stdout.write(renderDistfeeds(feeds, set.release, base.href, formatNamed(set.format)));
  return 0;
}
