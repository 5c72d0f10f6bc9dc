/**
 * A quiet night: the upstream changed nothing (every index and every profiles.json answered "not
 * modified"), the configuration and the learned names are what the last publish planned with, and
 * that publish had no failure and left nothing on its grace period. Then the plan would name the
 * same files, all in the pool already, and assembling them would give the tree served now: the
 * release keeps its generation without parsing an index, planning or assembling. That work is most
 * of a re-run at real size (0.2–0.75 s for 11,000 packages, docs/benchmarks.md); a re-run is what
 * most nights of a stable release are.
 */
import { createHash } from 'node:crypto';
import type { SetConfig } from '../config.js';
import { TARGETS_FILE } from '../feeds/metadata.js';
import type { FeedFormat } from '../formats/index.js';
import type { LearnedPackage } from '../publish/learned.js';
import { type ServedSummary, tallyIn } from '../publish/served.js';
import type { ReleaseState } from '../publish/state.js';
import { packageVersion } from '../version.js';
import type { DiscoveredSet } from './discover.js';
import type { IndexStage } from './indexes.js';
import type { TargetsListOutcome } from './metadata.js';
import { planSetOf } from './plan.js';
import { addCounters, emptyCounters } from './report.js';
import type { SyncReport } from './types.js';

/**
 * Everything besides the upstream's files that the plan and the images of a release follow: each
 * set's lists, mode, devices and feeds, the names learned on demand, the format, and this
 * program's version (a new version may plan differently).
 */
export function planFingerprint(input: {
  release: string;
  format: FeedFormat;
  discovered: DiscoveredSet[];
  many: boolean;
  learned: LearnedPackage[];
}): string {
  const { release, format, discovered, many, learned } = input;
  const sets = discovered.map((set) => ({
    plan: planSetOf(set, { release, many, learned }),
    target: set.config.target,
    devices: set.config.devices,
    targetDir: set.targetDir,
  }));
  return createHash('sha256')
    .update(JSON.stringify({ version: packageVersion(), format: format.name, sets }))
    .digest('hex');
}

/** Whether nothing this release plans from has changed since a publish without failures. */
export function isQuiet(input: {
  previous: ReleaseState;
  fingerprint: string;
  configured: SetConfig[];
  discovered: DiscoveredSet[];
  indexes: IndexStage;
}): boolean {
  const { previous, fingerprint, configured, discovered, indexes } = input;
  return (
    previous.generation !== undefined &&
    previous.plannedWith === fingerprint &&
    Object.keys(previous.dropped).length === 0 &&
    Object.keys(previous.withdrawn ?? {}).length === 0 &&
    discovered.length === configured.length &&
    discovered.every((set) => !set.profilesChanged && !indexes.images.get(set.label)?.error) &&
    indexes.refused.length === 0 &&
    indexes.usable.length === indexes.refs.length &&
    indexes.usable.every((feed) => feed.index !== undefined && !feed.index.changed)
  );
}

/** Whether the release's .targets.json is the one served (or, as before, there is none). */
export function sameTargetsList(outcome: TargetsListOutcome, previous: ServedSummary): boolean {
  const served = Object.hasOwn(previous.loose, TARGETS_FILE) ? previous.loose[TARGETS_FILE] : undefined;
  if (outcome.taken === 'new') return served?.sha256 === outcome.file.sha256;
  return outcome.taken === 'absent' && served === undefined;
}

/**
 * The counts a quiet run reports: every package file the generation serves was planned and found
 * in the pool, by feed and for each set's images, as a run that planned would have counted them.
 */
export function countKept(
  report: SyncReport,
  release: string,
  served: ServedSummary,
  discovered: DiscoveredSet[],
  indexes: IndexStage,
): void {
  const kept = (files: number) => ({ ...emptyCounters(), planned: files, skipped: files });
  for (const feed of indexes.usable) {
    const counters = kept(tallyIn(served, feed.ref.dir)?.packages ?? 0);
    addCounters(feed.report, counters);
    addCounters(report, counters);
  }
  for (const set of discovered) {
    const setReport = report.sets.find((s) => s.release === release && s.target === set.config.target);
    const images = indexes.images.get(set.label);
    if (setReport && set.config.devices.length > 0) {
      const counters = kept(images?.plan?.tasks.length ?? 0);
      setReport.images = { devices: images?.devices ?? [], ...counters };
      addCounters(report, counters);
    }
  }
}
