/**
 * The sets of a release, pure: which the last state says were served, which directories a removed
 * set leaves to withdraw, what the next state records, and each set's feed lines and status — for a
 * release this run published and for one it could not (then the last state speaks).
 */
import type { SetConfig } from '../config.js';
import type { FeedFormat } from '../formats/format.js';
import { type ServedSummary, servesUnder } from '../publish/served.js';
import type { ReleaseState, SetState } from '../publish/state.js';
import type { SetStatusInput } from '../status/status-file.js';
import type { DiscoveredSet, FeedRef } from './discover.js';
import { imageInfo } from './images.js';
import type { ReleaseOutcome, SetLines } from './types.js';

type LastState = Pick<
  ReleaseState,
  'release' | 'served' | 'feeds' | 'sets' | 'withdrawn' | 'generation' | 'lastSuccessAt' | 'pinned'
>;

/** The sets the last run served, by target: from the state, or, for a state of before sets, from its files. */
export function previousSets(previous: LastState): Record<string, SetState> {
  if (previous.sets) return previous.sets;
  const sets: Record<string, SetState> = {};
  for (const dir of Object.keys(previous.served.dirs)) {
    const match = /^targets\/([^/]+\/[^/]+)(?:\/|$)/.exec(dir);
    if (!match?.[1] || sets[match[1]]) continue;
    const target = match[1];
    const feedDirs = Object.keys(previous.feeds);
    const arch = feedDirs.map((dir) => /^packages\/([^/]+)\//.exec(dir)?.[1]).find(Boolean) ?? '';
    sets[target] = { arch, feedDirs, targetDir: `targets/${target}` };
  }
  return sets;
}

/**
 * The directories of sets no longer configured, with when they were withdrawn: a removed target's
 * own directory, and arch feeds that no set configured now uses.
 */
export function withdrawnDirs(
  previous: LastState,
  configured: SetConfig[],
  discovered: DiscoveredSet[],
  now: Date,
): Map<string, string> {
  const last = previousSets(previous);
  const inUse = new Set<string>();
  for (const set of configured) {
    const found = discovered.find((d) => d.config.target === set.target);
    for (const dir of found ? found.feeds.map((f) => f.dir) : (last[set.target]?.feedDirs ?? []))
      inUse.add(dir);
    inUse.add(`targets/${set.target}`);
  }
  const withdrawn = new Map<string, string>();
  for (const set of Object.values(last)) {
    for (const dir of [set.targetDir, ...set.feedDirs]) {
      if (inUse.has(dir) || dir.startsWith(`${set.targetDir}/`)) continue;
      withdrawn.set(dir, previous.withdrawn?.[dir] ?? now.toISOString());
    }
  }
  return withdrawn;
}

/**
 * The sets the next state records: each set discovered now as this run saw it; a configured set not
 * discovered this run, and a withdrawn one still in its grace period, as the last state had it.
 */
export function nextSetStates(
  previous: LastState,
  configured: SetConfig[],
  discovered: DiscoveredSet[],
  withdrawn: Map<string, string>,
): Record<string, SetState> {
  const sets: Record<string, SetState> = {};
  for (const [target, last] of Object.entries(previousSets(previous))) {
    if (configured.some((set) => set.target === target) || withdrawn.has(last.targetDir)) sets[target] = last;
  }
  for (const set of discovered) {
    sets[set.config.target] = {
      arch: set.arch,
      feedDirs: set.feeds.map((f) => f.dir),
      targetDir: set.targetDir,
    };
  }
  return sets;
}

/** The feed lines and status of a published release: the sets discovered, then the withdrawn ones. */
export function publishedOutcome(input: {
  release: string;
  format: FeedFormat;
  configured: SetConfig[];
  discovered: DiscoveredSet[];
  sets: Record<string, SetState>;
  served: ServedSummary;
  generation: string;
  /** Directories the run could not serve at all. */
  failed: Set<string>;
  withdrawn: Map<string, string>;
  graceHours: number;
}): ReleaseOutcome {
  const { release, format, served } = input;
  const lines: SetLines[] = input.discovered.map((set) => ({
    release,
    target: set.config.target,
    arch: set.arch,
    format,
    feeds: set.feeds.filter((ref) => !input.failed.has(ref.dir) && servesUnder(served, ref.dir)),
  }));
  const status: SetStatusInput[] = input.discovered.map((set) => ({
    release,
    target: set.config.target,
    arch: set.arch,
    format: format.name,
    mode: set.config.mode,
    feeds: set.feeds,
    targetDir: set.targetDir,
    imageInfo: imageInfo(set),
  }));
  for (const [target, last] of Object.entries(input.sets)) {
    if (input.configured.some((set) => set.target === target)) continue;
    const since = input.withdrawn.get(last.targetDir);
    lines.push(recordedLines(release, target, last, format, served));
    status.push({
      ...withdrawnStatus(release, target, last, format),
      ...(since !== undefined && { withdrawnUntil: graceEnd(since, input.graceHours) }),
    });
  }
  return { release, served, generation: input.generation, lines, status };
}

/** A set's feed lines as a state recorded the set: those of its feeds the generation serves. */
export function recordedLines(
  release: string,
  target: string,
  set: SetState,
  format: FeedFormat,
  served: ServedSummary,
): SetLines {
  const feeds = set.feedDirs.map((dir) => feedRefOf(dir, set.arch));
  return {
    release,
    target,
    arch: set.arch,
    format,
    feeds: feeds.filter((ref) => servesUnder(served, ref.dir)),
  };
}

/** A release this run could not publish: its sets as the last state served them. */
export function lastOutcome(
  previous: LastState,
  format: FeedFormat,
  configured: SetConfig[],
): ReleaseOutcome {
  const { served } = previous;
  const sets = Object.entries(previousSets(previous));
  return {
    ...(previous.lastSuccessAt !== undefined && { lastSuccessAt: previous.lastSuccessAt }),
    ...(previous.pinned !== undefined && { pinned: previous.pinned }),
    release: previous.release,
    served,
    generation: previous.generation,
    lines: sets.map(([target, set]) => recordedLines(previous.release, target, set, format, served)),
    status: sets.map(([target, set]) => ({
      release: previous.release,
      target,
      arch: set.arch,
      format: format.name,
      mode: configured.find((c) => c.target === target)?.mode ?? 'selective',
      feeds: set.feedDirs.map((dir) => feedRefOf(dir, set.arch)),
      targetDir: set.targetDir,
    })),
  };
}

/** A withdrawn set in status: its feeds in a node's order, from what its state recorded. */
export function withdrawnStatus(
  release: string,
  target: string,
  set: SetState,
  format: FeedFormat,
): SetStatusInput {
  return {
    release,
    target,
    arch: set.arch,
    format: format.name,
    mode: 'selective',
    feeds: set.feedDirs.map((dir) => feedRefOf(dir, set.arch)),
    targetDir: set.targetDir,
  };
}

export function graceEnd(since: string, graceHours: number): string {
  return new Date(new Date(since).getTime() + graceHours * 3_600_000).toISOString();
}

/** A feed directory as a node's feed line names it: core, kmods, or the arch feed's own name. */
export function feedRefOf(dir: string, arch: string): FeedRef {
  const name = /^targets\/[^/]+\/[^/]+\/packages$/.test(dir)
    ? 'core'
    : /\/kmods\//.test(dir)
      ? 'kmods'
      : dir.slice(dir.lastIndexOf('/') + 1);
  return { name, distName: `openwrt_${name}`, dir, arch };
}
