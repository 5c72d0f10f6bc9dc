/**
 * The units assemble decides, pure: one per directory of the release — each feed directory once,
 * each set's target directory, and the directories of a configured set this run could not discover
 * (kept as they were) — each with what this run would serve there.
 */
import type { SetConfig } from '../config.js';
import type { SetState } from '../publish/state.js';
import type { ServedFile } from '../publish/types.js';
import type { Unit } from './assemble.js';
import type { DiscoveredSet, FeedRef } from './discover.js';
import type { SetImages, UsableFeed } from './indexes.js';
import type { FileTask } from './types.js';

export function releaseUnits(input: {
  refs: FeedRef[];
  usable: UsableFeed[];
  tasks: FileTask[];
  /** Feed directory → why its index.json or Packages.manifest could not be had. */
  extras: Map<string, string>;
  /** The format's index marker (`Packages.sig`, `packages.adb`): its validators are the feed's. */
  marker: string;
  discovered: DiscoveredSet[];
  images: Map<string, SetImages>;
  /** Each discovered set's profiles.json, as fetched this run. */
  profiles: (set: DiscoveredSet) => ServedFile;
  configured: SetConfig[];
  /** The sets of the last state, by target. */
  servedSets: Record<string, SetState>;
  many: boolean;
}): Unit[] {
  const usableByDir = new Map(input.usable.map((feed) => [feed.ref.dir, feed]));
  const tasksOf = new Map<string, FileTask[]>();
  // Pushed, not copied: a copy per task was quadratic, 575 MB of garbage for the 7,700 tasks of one
  // feed at real size, just as the publish began.
  for (const task of input.tasks) {
    const same = tasksOf.get(task.unit);
    if (same) same.push(task);
    else tasksOf.set(task.unit, [task]);
  }

  const units: Unit[] = input.refs.map((ref) => {
    const feed = usableByDir.get(ref.dir);
    const indexFiles = feed?.index?.indexFiles ?? feed?.lastGood?.indexFiles;
    const blocker = input.extras.get(ref.dir);
    return {
      dir: ref.dir,
      feed: ref.name,
      ...(indexFiles && {
        fresh: { indexFiles, tasks: tasksOf.get(ref.dir) ?? [], ...(blocker !== undefined && { blocker }) },
      }),
      verifiedThisRun: feed?.index !== undefined,
      validatorKeys: [`${ref.dir}/${input.marker}`],
    };
  });
  for (const set of input.discovered) {
    const images = input.images.get(set.label);
    const profiles = { 'profiles.json': input.profiles(set) };
    const withImages = (images?.devices.length ?? 0) > 0;
    units.push({
      dir: set.targetDir,
      ...(input.many && { set: set.label }),
      // Without images the directory serves profiles.json alone; with them, also the signed sums,
      // and nothing new when those were refused.
      fresh: !withImages
        ? { indexFiles: profiles, tasks: [] }
        : images?.plan && {
            indexFiles: { ...profiles, ...images.plan.indexFiles },
            tasks: images.plan.tasks,
          },
      verifiedThisRun: true,
      fallback: profiles,
      validatorKeys: [set.profilesRel, `${set.targetDir}/sha256sums`, `${set.targetDir}/sha256sums.sig`],
    });
  }
  const discoveredTargets = new Set(input.discovered.map((set) => set.config.target));
  const unitDirs = new Set(units.map((unit) => unit.dir));
  for (const set of input.configured) {
    if (discoveredTargets.has(set.target)) continue;
    const last = input.servedSets[set.target];
    for (const dir of last ? [last.targetDir, ...last.feedDirs] : []) {
      if (unitDirs.has(dir)) continue;
      units.push({ dir, verifiedThisRun: false, validatorKeys: [] });
      unitDirs.add(dir);
    }
  }
  return units;
}
