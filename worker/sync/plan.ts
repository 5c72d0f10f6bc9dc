/**
 * Planning, pure: which package files each feed must serve. Selective mode takes the dependency
 * closure of the configured lists over all feeds at once; full mode takes everything.
 */
import {
  type FeedIndex as ClosureFeed,
  type ClosureRequest,
  resolveClosure,
  selectAll,
} from '../feeds/closure.js';
import type { PackageRecord } from '../feeds/types.js';
import type { Failure } from './report.js';

export interface PlanInput {
  mode: 'selective' | 'full';
  required: string[];
  optional: string[];
  feeds: { dir: string; name: string; packages: PackageRecord[] }[];
  /** Feeds whose index could not be used this run: what they hold is unknown, not absent. */
  unavailable?: string[];
  /** The package manager's version rules, from its format. */
  accepts: ClosureRequest['accepts'];
}

export interface PlannedFile {
  /** Release-relative path. */
  rel: string;
  feedDir: string;
  pkg: PackageRecord;
}

export interface Plan {
  files: PlannedFile[];
  failures: Failure[];
  warnings: string[];
}

export function planPackages(input: PlanInput): Plan {
  const closureFeeds: ClosureFeed[] = input.feeds.map((feed) => ({
    feed: feed.dir,
    packages: feed.packages,
  }));
  const failures: Failure[] = [];
  const warnings: string[] = [];
  let selected: { feed: string; pkg: PackageRecord }[];
  if (input.mode === 'full') {
    selected = selectAll(closureFeeds);
  } else {
    const closure = resolveClosure({
      accepts: input.accepts,
      feeds: closureFeeds,
      required: input.required,
      optional: input.optional,
    });
    selected = closure.selected;
    const unavailable = input.unavailable ?? [];
    // With feeds whose index could not be used, what is missing may be there: a consequence of the
    // refused indexes, said in one line rather than once per package.
    // A Set: the same need reached through two feeds (a kmod in core and in kmods) is one.
    const folded = new Set<string>();
    for (const name of closure.missingRequired) {
      if (unavailable.length > 0) folded.add(name);
      else
        failures.push({
          package: name,
          reason: `required package ${name} is in no feed (REQUIRED_PACKAGES)`,
        });
    }
    for (const name of closure.missingOptional) {
      warnings.push(`optional package ${name} is in no feed (OPTIONAL_PACKAGES): skipped`);
    }
    for (const item of closure.unresolved) {
      const wanted = item.constraint ? `${item.name} (${item.constraint})` : item.name;
      const reason = `${item.neededBy} depends on ${wanted}, which no feed provides`;
      if (!item.fromRequired) warnings.push(reason);
      else if (unavailable.length > 0) folded.add(`${wanted} (for ${item.neededBy})`);
      else failures.push({ package: item.neededBy, feed: nameOf(input, item.feed), reason });
    }
    if (folded.size > 0) {
      const feeds = `${unavailable.length === 1 ? 'feed' : 'feeds'} ${unavailable.join(', ')}`;
      const needs =
        folded.size === 1
          ? 'a package the required list needs is'
          : `${folded.size} packages the required list needs are`;
      failures.push({
        reason: `${needs} in no usable feed (${[...folded].join(', ')}); the ${feeds} without a usable index may hold them`,
      });
    }
  }
  const seen = new Set<string>();
  const files: PlannedFile[] = [];
  for (const { feed, pkg } of selected) {
    const rel = `${feed}/${pkg.filename}`;
    if (seen.has(rel)) continue;
    seen.add(rel);
    files.push({ rel, feedDir: feed, pkg });
  }
  return { files, failures, warnings };
}

function nameOf(input: PlanInput, dir: string): string {
  return input.feeds.find((feed) => feed.dir === dir)?.name ?? dir;
}
