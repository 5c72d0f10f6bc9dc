/** `openwrt-mirror status` and `openwrt-mirror distfeeds`: read what the last sync wrote. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import { failureLine } from '../status/lines.js';
import { STATUS_FILE, type StatusFile } from '../status/status-file.js';
import { STALE_UPSTREAM_MS } from '../status/trace.js';
import { count, formatBytes, formatDuration } from '../status/units.js';

/** Failures and warnings beyond this many are counted, not listed; `--json` has them all. */
const LISTED = 20;

export async function statusCommand(
  config: Config,
  options: { json: boolean; changes?: boolean; stdout: NodeJS.WritableStream },
): Promise<number> {
  const file = path.join(config.mirrorDir, STATUS_FILE);
  const raw = await fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (options.json) {
    // The file's own bytes, so a script sees exactly what nginx serves; `null` before the first sync.
    options.stdout.write(raw ?? 'null\n');
    return 0;
  }
  let status: StatusFile | undefined;
  try {
    status = raw === undefined ? undefined : (JSON.parse(raw) as StatusFile);
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message})`);
  }
  options.stdout.write(options.changes ? renderChanges(status) : renderStatus(config, status));
  return 0;
}

/** `status --changes`: what the last sync changed in what routers can install, a line each. */
export function renderChanges(status: StatusFile | undefined): string {
  const run = status?.lastRun;
  if (!run) return 'no sync has finished yet\n';
  const changes = run.changes;
  if (!changes) return `the last sync (${run.startedAt}) recorded no changes\n`;
  const { counts } = changes;
  const lines = [
    `changes of the last sync (${run.startedAt}, ${run.result ?? 'unknown'}): ${count(counts.added, 'package')} added, ${counts.updated} updated, ${counts.removed} removed, ${count(counts.images, 'image')} changed`,
  ];
  const width = Math.max(
    0,
    ...[...changes.added, ...changes.updated, ...changes.removed].map((c) => c.feed.length),
  );
  const where = (c: { release: string; feed: string }) => `${c.release} ${c.feed.padEnd(width)}`;
  for (const c of changes.added) lines.push(`  added    ${where(c)}  ${c.name} ${c.version}`);
  for (const c of changes.updated) lines.push(`  updated  ${where(c)}  ${c.name} ${c.from} → ${c.to}`);
  for (const c of changes.removed) lines.push(`  removed  ${where(c)}  ${c.name} ${c.version}`);
  for (const c of changes.images) lines.push(`  image    ${c.release} ${c.path} ${c.change}`);
  const listed =
    changes.added.length + changes.updated.length + changes.removed.length + changes.images.length;
  const all = counts.added + counts.updated + counts.removed + counts.images;
  if (all > listed) lines.push(`  … and ${all - listed} more (the first ${listed} are kept in status.json)`);
  return `${lines.join('\n')}\n`;
}

/** What `status` prints for people: the seed's repo-status lines first, then feeds, last and next run. */
export function renderStatus(config: Config, status: StatusFile | undefined): string {
  const lines: string[] = [];
  const row = (label: string, value: string) => lines.push(`${label.padEnd(17)}${value}`.trimEnd());
  row('location', config.mirrorDir);
  if (!status) {
    row('state', 'nothing mirrored yet: run `openwrt-mirror sync` or start the worker');
    return `${lines.join('\n')}\n`;
  }
  const { mirror, served, lastRun } = status;
  const sets = status.sets ?? [];
  row('total size', `${formatBytes(served.bytes)} in ${count(served.files, 'file')}`);
  row('packages cached', `${served.packages} in ${count(status.feeds.length, 'feed')}`);
  row('images cached', String(served.images));
  if (mirror.release !== undefined) {
    row(
      'release',
      `${mirror.release} ${mirror.target}${mirror.arch ? ` (${mirror.arch})` : ''}, ${mirror.format}, ${mirror.mode} mode`,
    );
  }
  if (mirror.upstream) row('upstream', mirror.upstream);
  if (mirror.upstreamLastSync) {
    const age = Date.now() - Date.parse(mirror.upstreamLastSync);
    const stale = age > STALE_UPSTREAM_MS ? ' — more than a day ago: this mirror can be no fresher' : '';
    row('upstream synced', `${mirror.upstreamLastSync} (${formatDuration(age)} ago)${stale}`);
  }
  if (mirror.generation) row('generation', mirror.generation);
  if (served.files === 0)
    row('state', lastRun ? 'nothing served yet: the last sync did not publish' : 'nothing served yet');
  const worker = workerLine(status, new Date());
  if (worker) row('worker', worker);
  if (status.worker?.configError) row('config error', status.worker.configError);
  if (status.running) row('sync running', runningLine(status.running, new Date()));

  const feedLine = (feed: StatusFile['feeds'][number]) => {
    const run = lastRun?.feeds.find(
      (f) =>
        feed.path === `releases/${f.release}/${f.dir}` || (f.release === undefined && f.name === feed.name),
    );
    const fetched =
      run && (run.downloaded > 0 || run.failed > 0)
        ? `, last sync: ${run.downloaded} downloaded, ${run.failed} failed`
        : '';
    return `  ${feed.distName.padEnd(20)}${count(feed.packages, 'package ', 'packages').padStart(14)} ${formatBytes(feed.bytes).padStart(10)}  ${feed.state}${fetched}`;
  };
  if (sets.length > 1) {
    for (const set of sets) {
      const what = `${set.arch ? `${set.arch}, ` : ''}${set.format}, ${set.mode} mode`;
      const state = set.state === 'withdrawn' ? `withdrawn: served until ${set.withdrawnUntil}` : set.state;
      lines.push('', `set ${set.release} ${set.target} (${what}): ${state}`);
      lines.push(
        `  ${count(set.served.packages, 'package')}, ${count(set.served.images, 'image')}, ${formatBytes(set.served.bytes)}; feed lines at /${set.distfeeds}`,
      );
      for (const feed of set.feeds) lines.push(feedLine(feed));
    }
  } else if (status.feeds.length > 0) {
    lines.push('', 'feeds');
    for (const feed of status.feeds) lines.push(feedLine(feed));
  }
  if (status.images.length > 0) {
    lines.push('', 'images');
    for (const image of status.images) {
      const what = [image.device, image.type].filter(Boolean).join(' ');
      lines.push(`  ${image.path} (${what ? `${what}, ` : ''}${formatBytes(image.bytes)})`);
    }
  }

  const downloads = status.downloads;
  if (downloads) {
    lines.push('');
    for (const [label, value] of downloadsRows(downloads)) row(label, value);
  }
  for (const [release, g] of Object.entries(status.generations ?? {})) {
    if (g.pinned) {
      lines.push(
        '',
        `${release} is PINNED to generation ${g.pinned} by rollback: syncs leave it alone (openwrt-mirror unpin)`,
      );
    }
    if (g.kept.length > 1)
      row(
        `${release} kept`,
        `${count(g.kept.length, 'generation')} to go back to (openwrt-mirror generations)`,
      );
  }
  if (status.learned && status.learned.length > 0) {
    lines.push(
      '',
      `learned on demand (${count(status.learned.length, 'package')}; openwrt-mirror forget NAME drops one)`,
    );
    for (const p of status.learned.slice(0, LISTED)) {
      lines.push(`  ${p.name.padEnd(24)} ${p.release} ${p.dir}, since ${p.addedAt}`);
    }
    if (status.learned.length > LISTED)
      lines.push(`  … and ${status.learned.length - LISTED} more (status --json)`);
  }

  lines.push('');
  if (!lastRun) {
    row('last sync', 'none has finished yet');
    row('next run', status.nextRunAt ?? 'none scheduled (the worker is not running)');
    return `${lines.join('\n')}\n`;
  }
  row('last sync', `${lastRun.startedAt} → ${lastRun.finishedAt ?? 'not finished'}`);
  row('result', lastRun.result ?? 'unknown (the sync did not finish)');
  if (lastRun.durationMs !== undefined) row('duration', formatDuration(lastRun.durationMs));
  row(
    'files',
    `${lastRun.planned} planned: ${lastRun.downloaded} downloaded (${formatBytes(lastRun.bytes)}), ${lastRun.skipped} already there, ${lastRun.failed} failed`,
  );
  if (lastRun.upstream) {
    const errors = Object.entries(lastRun.upstream.errors)
      .filter(([, count]) => count > 0)
      .map(([kind, count]) => `${count} ${kind}`);
    row(
      'upstream',
      `${count(lastRun.upstream.requests, 'request')}, ${count(lastRun.upstream.retries, 'retry', 'retries')}${errors.length > 0 ? `, errors: ${errors.join(', ')}` : ''}`,
    );
  }
  listed('failures', lastRun.failures.map(failureLine));
  listed('warnings', lastRun.warnings);
  row('last success', status.lastSuccessAt ?? 'never');
  row('next run', status.nextRunAt ?? 'none scheduled (the worker is not running)');
  return `${lines.join('\n')}\n`;

  function listed(label: string, items: string[]): void {
    if (items.length === 0) return;
    row(label, String(items.length));
    for (const item of items.slice(0, LISTED)) lines.push(`  ${item}`);
    if (items.length > LISTED) lines.push(`  … and ${items.length - LISTED} more (status --json)`);
  }
}

/** What the routers fetched this week, from status.json's `downloads`. */
export function downloadsRows(downloads: NonNullable<StatusFile['downloads']>): [string, string][] {
  const { week } = downloads;
  const last = downloads.days.at(-1);
  const updates = last ? last.updates.opkg + last.updates.apk : 0;
  const rows: [string, string][] = [
    [
      'downloads',
      week.from === undefined
        ? 'nothing logged yet'
        : `since ${week.from}: ${count(week.packages, 'package')} fetched, ${formatBytes(week.bytes)} in ${count(week.requests, 'request')}`,
    ],
  ];
  if (last)
    rows.push([
      `on ${last.day}`,
      `${count(last.clients, 'client')}, ${count(updates, 'update')}, ${last.notFound} not found`,
    ]);
  if (week.top.length > 0)
    rows.push([
      'most fetched',
      week.top
        .slice(0, 5)
        .map((p) => `${p.name} (${p.requests})`)
        .join(', '),
    ]);
  if (week.missing.length > 0)
    rows.push([
      'asked, not here',
      `${week.missing
        .slice(0, 5)
        .map((p) => `${p.name} (${p.requests})`)
        .join(', ')}: OPTIONAL_PACKAGES adds one`,
    ]);
  return rows;
}

/** `indexes, 24.10.4 (1 of 2): 120/340 files, 1.2 MiB of 9.8 MiB, 420.0 KiB/s, about 21 s left`. */
export function runningLine(running: NonNullable<StatusFile['running']>, now: Date): string {
  const where = running.release
    ? `, ${running.release}${running.releases && running.releases > 1 ? ` (${running.releaseIndex} of ${running.releases})` : ''}`
    : '';
  const files =
    running.filesTotal > 0
      ? `: ${running.filesDone}/${running.filesTotal} files, ${formatBytes(running.bytesDone)} of ${formatBytes(running.bytesTotal)}, ${formatBytes(running.bytesPerSecond)}/s`
      : '';
  const eta =
    running.etaSeconds !== undefined ? `, about ${formatDuration(running.etaSeconds * 1000)} left` : '';
  const age = now.getTime() - Date.parse(running.updatedAt);
  const stale =
    age > STALE_RUNNING_MS
      ? ` — no word from it for ${formatDuration(age)}: the sync may have been killed`
      : '';
  return `${running.phase}${where}${files}${eta} (${running.by} pid ${running.pid}, since ${running.startedAt})${stale}`;
}

/** A `running` not rewritten for this long belongs to a sync that is gone (written every 2 s). */
export const STALE_RUNNING_MS = 60_000;

/** The worker's heartbeat, and whether it is late: more than twice its interval old. */
export function workerLine(status: StatusFile, now: Date): string | undefined {
  const worker = status.worker;
  if (!worker?.heartbeatAt) return undefined;
  const age = now.getTime() - Date.parse(worker.heartbeatAt);
  const interval = (worker.heartbeatSeconds ?? 30) * 1000;
  return age > 2 * interval
    ? `not running: its last heartbeat is ${formatDuration(age)} old (${worker.heartbeatAt})`
    : `running (heartbeat ${worker.heartbeatAt})`;
}
