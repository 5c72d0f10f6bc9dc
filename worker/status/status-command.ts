/** `openwrt-mirror status` and `openwrt-mirror distfeeds`: read what the last sync wrote. */
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { formatBytes } from '../sync/download.js';
import { renderDistfeeds } from './distfeeds.js';
import { readStatus, type StatusFile } from './status-file.js';

export async function statusCommand(
  config: Config,
  options: { json: boolean; stdout: NodeJS.WritableStream },
): Promise<number> {
  const status = await readStatus(config.mirrorDir);
  if (options.json) {
    options.stdout.write(`${JSON.stringify(status ?? null, null, 2)}\n`);
    return 0;
  }
  options.stdout.write(renderStatus(config, status));
  return 0;
}

export function renderStatus(config: Config, status: StatusFile | undefined): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(14)}${value}`);
  row('location', config.mirrorDir);
  if (!status) {
    row('state', 'nothing mirrored yet: run `openwrt-mirror sync` or start the worker');
    return `${lines.join('\n')}\n`;
  }
  const { mirror, served, lastRun } = status;
  row(
    'release',
    `${mirror.release} ${mirror.target}${mirror.arch ? ` (${mirror.arch})` : ''}, ${mirror.mode} mode`,
  );
  row('upstream', mirror.upstream);
  row('total size', `${formatBytes(served.bytes)} in ${served.files} files`);
  row('packages', `${served.packages} cached in ${status.feeds.length} feeds`);
  row('images', `${served.images} cached`);
  if (status.feeds.length > 0) {
    lines.push('feeds');
    for (const feed of status.feeds) {
      lines.push(
        `  ${feed.distName.padEnd(20)}${String(feed.packages).padStart(6)} packages ${formatBytes(feed.bytes).padStart(9)}  ${feed.state}`,
      );
    }
  }
  for (const image of status.images) lines.push(`  ${image.path} (${formatBytes(image.bytes)})`);
  const duration = lastRun.durationMs === undefined ? '' : ` (${(lastRun.durationMs / 1000).toFixed(1)} s)`;
  row(
    'last sync',
    `${lastRun.startedAt} → ${lastRun.finishedAt ?? 'running'}${duration}: ${lastRun.result ?? 'running'}`,
  );
  row(
    '',
    `${lastRun.planned} planned, ${lastRun.downloaded} downloaded (${formatBytes(lastRun.bytes)}), ${lastRun.skipped} already there, ${lastRun.failed} failed`,
  );
  row('last success', status.lastSuccessAt ?? 'never');
  for (const failure of lastRun.failures) {
    row(
      'failed',
      `${[failure.feed, failure.package, failure.file].filter(Boolean).join(' ')}: ${failure.reason}`,
    );
  }
  for (const warning of lastRun.warnings.slice(0, 20)) row('warning', warning);
  if (lastRun.warnings.length > 20)
    row('', `… and ${lastRun.warnings.length - 20} more warnings (status --json)`);
  row('next run', status.nextRunAt ?? 'not scheduled (no worker running)');
  return `${lines.join('\n')}\n`;
}

export async function distfeedsCommand(
  config: Config,
  options: { url?: string; stdout: NodeJS.WritableStream },
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
  if (!status || status.feeds.length === 0) {
    options.stdout.write(`# nothing mirrored yet in ${config.mirrorDir}: run openwrt-mirror sync first\n`);
    return 1;
  }
  const feeds = status.feeds.map((feed) => ({
    distName: feed.distName,
    dir: feed.path.replace(`releases/${status.mirror.release}/`, ''),
  }));
  options.stdout.write(renderDistfeeds(feeds, status.mirror.release, base.href));
  return 0;
}
