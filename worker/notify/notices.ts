/**
 * What a run tells people, pure: from its result, the result before it, what it changed and the new
 * releases found upstream, the notices of the events NOTIFY_ON asks for — each a subject line and a
 * text that says plainly what happened ("failed", "recovered").
 */
import type { NotifyEvent } from '../config.js';
import type { StatusChanges } from '../status/status-file.js';
import { count } from '../status/units.js';

export interface RunForNotice {
  /** How the mirror names itself: its sets, `24.10.4 ramips/mt7621, 25.12.0 x86/64`. */
  mirror: string;
  result: 'success' | 'partial' | 'failed';
  previousResult?: string;
  startedAt: string;
  durationMs?: number;
  downloaded: number;
  bytes: string;
  /** As `status` words them. */
  failures: string[];
  changes?: StatusChanges;
}

export interface Notice {
  event: NotifyEvent;
  subject: string;
  text: string;
}

/** Lines of failures or changes a notice lists before it says how many more there are. */
const LISTED = 10;

export function noticesFor(
  on: readonly NotifyEvent[],
  run: RunForNotice,
  newReleases: { version: string; why: string }[],
): Notice[] {
  const notices: Notice[] = [];
  const wants = (event: NotifyEvent) => on.includes(event);
  const took = run.durationMs === undefined ? '' : ` in ${Math.round(run.durationMs / 1000)} s`;
  const wasBad = run.previousResult === 'failed' || run.previousResult === 'partial';
  if (run.result !== 'success') {
    if (wants('failure')) {
      const what = run.result === 'partial' ? 'failed in part (the rest is published)' : 'failed';
      notices.push({
        event: 'failure',
        subject: `openwrt-mirror: sync ${what}: ${run.failures[0] ?? 'see the log'}`,
        text: [
          `The sync of ${run.mirror} that started ${run.startedAt} ${what}${took}, with ${count(run.failures.length, 'failure')}:`,
          ...listed(run.failures),
          'What was served before stays served. `openwrt-mirror status` and the page say more.',
        ].join('\n'),
      });
    }
  } else if (wasBad && wants('recovery')) {
    notices.push({
      event: 'recovery',
      subject: 'openwrt-mirror: sync recovered',
      text: `The sync of ${run.mirror} that started ${run.startedAt} recovered: it succeeded${took} after a run that ${run.previousResult === 'partial' ? 'failed in part' : 'failed'}; ${run.downloaded} files downloaded (${run.bytes}).`,
    });
  } else if (wants('success')) {
    notices.push({
      event: 'success',
      subject: 'openwrt-mirror: sync succeeded',
      text: `The sync of ${run.mirror} that started ${run.startedAt} succeeded${took}: ${run.downloaded} files downloaded (${run.bytes}).`,
    });
  }
  const counts = run.changes?.counts;
  if (
    wants('change') &&
    run.changes &&
    counts &&
    counts.added + counts.updated + counts.removed + counts.images > 0
  ) {
    const { added, updated, removed, images } = run.changes;
    const lines = [
      ...updated.map((c) => `${c.name} ${c.from} → ${c.to} (${c.feed}, ${c.release})`),
      ...added.map((c) => `+ ${c.name} ${c.version} (${c.feed}, ${c.release})`),
      ...removed.map((c) => `- ${c.name} ${c.version} (${c.feed}, ${c.release})`),
      ...images.map((c) => `image ${c.change}: ${c.path} (${c.release})`),
    ];
    const total = counts.added + counts.updated + counts.removed + counts.images;
    notices.push({
      event: 'change',
      subject: `openwrt-mirror: ${counts.added} added, ${counts.updated} updated, ${counts.removed} removed, ${count(counts.images, 'image')} changed`,
      text: [
        `The sync of ${run.mirror} that started ${run.startedAt} changed what routers can install:`,
        ...listed(lines, total),
      ].join('\n'),
    });
  }
  if (wants('new-release')) {
    for (const release of newReleases) {
      notices.push({
        event: 'new-release',
        subject: `openwrt-mirror: OpenWrt ${release.version} is out`,
        text: `OpenWrt ${release.version} is out upstream (${release.why}); this mirror serves ${run.mirror}. Add it to OPENWRT_VERSION (or MIRROR_CONFIG) to mirror it.`,
      });
    }
  }
  return notices;
}

function listed(lines: string[], total = lines.length): string[] {
  const shown = lines.slice(0, LISTED).map((line) => `  ${line}`);
  return total > shown.length ? [...shown, `  … and ${total - shown.length} more`] : shown;
}
