/** The outcome of one sync, per feed and in total: what status.json, the log and the exit code say. */
import path from 'node:path';
import type { DiscoveredSet } from './discover.js';
import type { SetImages, UsableFeed } from './indexes.js';
import type { Counters, Failure, FileTask, SyncReport } from './types.js';

export function emptyCounters(): Counters {
  return { planned: 0, downloaded: 0, skipped: 0, failed: 0, bytes: 0 };
}

/** The report of a run that has done nothing yet. */
export function emptyReport(startedAt: string): SyncReport {
  return {
    startedAt,
    ...emptyCounters(),
    sets: [],
    feeds: [],
    failures: [],
    warnings: [],
    generations: {},
    published: false,
    changes: { added: [], updated: [], removed: [], images: [] },
  };
}

export function addCounters(into: Counters, from: Counters): void {
  into.planned += from.planned;
  into.downloaded += from.downloaded;
  into.skipped += from.skipped;
  into.failed += from.failed;
  into.bytes += from.bytes;
}

/**
 * Stamps the end of a run and its result: failures decide it, whether this run published softens
 * it. Each failure's reason is made to say its file once (errors often start with the path they
 * are about, which the failure names already).
 */
export function finishReport(report: SyncReport, finished: Date): void {
  report.finishedAt = finished.toISOString();
  report.durationMs = finished.getTime() - new Date(report.startedAt).getTime();
  report.failures = report.failures.map(withoutRepeatedFile);
  report.result = report.failures.length === 0 ? 'success' : report.published ? 'partial' : 'failed';
}

function withoutRepeatedFile(failure: Failure): Failure {
  if (failure.file === undefined) return failure;
  let reason = failure.reason;
  for (const prefix of [`${failure.file}: `, `${path.posix.basename(failure.file)}: `]) {
    if (reason.startsWith(prefix)) reason = reason.slice(prefix.length);
  }
  return reason === failure.reason ? failure : { ...failure, reason };
}

/** 0 when everything that was asked for is served and verified, 1 otherwise. */
export function exitCodeOf(report: SyncReport): 0 | 1 {
  return report.failures.length === 0 ? 0 : 1;
}

/** Counters per feed, per set's images and in total, from the outcomes of a release's tasks. */
export function countTasks(
  report: SyncReport,
  release: string,
  tasks: FileTask[],
  usable: UsableFeed[],
  discovered: DiscoveredSet[],
  images: Map<string, SetImages>,
): void {
  const of = (list: FileTask[]): Counters => {
    const counters = emptyCounters();
    for (const task of list) {
      counters.planned++;
      if (!task.outcome?.ok) counters.failed++;
      else if (task.outcome.fetched) {
        counters.downloaded++;
        counters.bytes += task.outcome.served.size;
      } else counters.skipped++;
    }
    return counters;
  };
  for (const feed of usable) addCounters(feed.report, of(tasks.filter((task) => task.unit === feed.ref.dir)));
  for (const set of discovered) {
    const setReport = report.sets.find((s) => s.release === release && s.target === set.config.target);
    const setImages = images.get(set.label);
    if (setReport && set.config.devices.length > 0)
      setReport.images = { devices: setImages?.devices ?? [], ...of(setImages?.plan?.tasks ?? []) };
  }
  addCounters(report, of(tasks));
}
