/**
 * Planning, pure: which package files each feed of a release must serve. Each set's selection is the
 * closure of its lists over its own feeds (its target's core and kmods, its architecture's feeds), or
 * everything in full mode; what a shared feed serves is the union of the selections of the sets that
 * use it. Out comes one task per file, carrying what its bytes must be.
 */
import type { MirrorMode } from '../config.js';
import {
  type FeedIndex as ClosureFeed,
  type ClosureRequest,
  resolveClosure,
  selectAll,
} from '../feeds/closure.js';
import type { PackageRecord, StreamCheck } from '../feeds/types.js';
import type { FeedFormat, PackageExpectation } from '../formats/format.js';
import { type LearnedPackage, learnedFor } from '../publish/learned.js';
import type { ServedFile } from '../publish/types.js';
import type { DiscoveredSet } from './discover.js';
import type { Refusal, UsableFeed } from './indexes.js';
import type { Failure, FileTask, TaskOutcome } from './types.js';

export interface PlanSet {
  /** Names the set in failures and tasks; undefined when the mirror has only this set. */
  label?: string;
  mode: MirrorMode;
  required: string[];
  optional: string[];
  /** The set's feed directories, in a node's order. */
  feedDirs: string[];
  /** Where its lists came from, for messages (default REQUIRED_PACKAGES and OPTIONAL_PACKAGES). */
  sources?: { required: string; optional: string };
  /** Packages nodes fetched on demand from its feeds: kept like optional ones (publish/learned.ts). */
  learned?: string[];
}

export interface PlanInput {
  release: string;
  sets: PlanSet[];
  /** Feed directory → its usable index (new, or its last good one). */
  feeds: Map<string, { name: string; packages: PackageRecord[] }>;
  /** Feed directory → name, for feeds without a usable index this run: what they hold is unknown, not absent. */
  unavailable: Map<string, string>;
  /** The package manager's version rules, from its format. */
  accepts: ClosureRequest['accepts'];
  /** How a package file of the format is checked, from its format. */
  expect(pkg: PackageRecord, rel: string, previous: ServedFile | undefined): PackageExpectation;
  /** What the last generation served, by path (apk reuses a file by its identity). */
  previousFiles: Map<string, ServedFile>;
  /** The task already started at a path, if any (early.ts): the plan takes it, not a second one. */
  startedAt?: (rel: string, key: string) => FileTask | undefined;
}

export interface Plan {
  tasks: FileTask[];
  failures: Failure[];
  warnings: string[];
}

/**
 * The plan of a release's sets from what the index phase left: each set's closure over its own
 * feeds (those without a usable index named as unavailable), with the format's version rules and
 * package checks.
 */
export function planSets(input: {
  release: string;
  sets: DiscoveredSet[];
  usable: UsableFeed[];
  refused: Refusal[];
  format: FeedFormat;
  previousFiles: Map<string, ServedFile>;
  /** Whether the mirror has several sets: then failures and tasks name theirs. */
  many: boolean;
  /** The learned selection: each set takes the names learned from its own feeds. */
  learned?: LearnedPackage[];
  startedAt?: PlanInput['startedAt'];
}): Plan {
  const usableDirs = new Set(input.usable.map((feed) => feed.ref.dir));
  const dirOf = (refusal: Refusal) => refusal.file.slice(0, refusal.file.lastIndexOf('/'));
  return planRelease({
    release: input.release,
    sets: input.sets.map((set) => planSetOf(set, input)),
    feeds: new Map(
      input.usable.map((feed) => [feed.ref.dir, { name: feed.ref.name, packages: feed.records.list }]),
    ),
    unavailable: new Map(
      input.refused.filter((r) => !usableDirs.has(dirOf(r))).map((r) => [dirOf(r), r.feed ?? '']),
    ),
    accepts: input.format.accepts,
    expect: (pkg, rel, previousFile) => input.format.expect(pkg, rel, previousFile),
    previousFiles: input.previousFiles,
    startedAt: input.startedAt,
  });
}

/** What the plan needs of a discovered set: its lists, its feeds in a node's order, what it learned. */
export function planSetOf(
  set: DiscoveredSet,
  input: { release: string; many: boolean; learned?: LearnedPackage[] },
): PlanSet {
  const feedDirs = set.feeds.map((feed) => feed.dir);
  return {
    ...(input.many && { label: set.label }),
    mode: set.config.mode,
    required: set.config.required,
    optional: set.config.optional,
    feedDirs,
    sources: set.config.sources,
    learned: learnedFor(input.learned ?? [], input.release, feedDirs),
  };
}

export function planRelease(input: PlanInput): Plan {
  const plan: Plan = { tasks: [], failures: [], warnings: [] };
  // A path twice only through two sets (a set selects each package once): with one set, no map of
  // every path (11,000 at real size).
  const byPath = input.sets.length > 1 ? new Map<string, FileTask>() : undefined;
  for (const set of input.sets) {
    const feeds: ClosureFeed[] = set.feedDirs.flatMap((dir) => {
      const feed = input.feeds.get(dir);
      return feed ? [{ feed: dir, packages: feed.packages }] : [];
    });
    const unavailable = set.feedDirs.flatMap((dir) => {
      const name = input.unavailable.get(dir);
      return name === undefined ? [] : [name];
    });
    const selected = set.mode === 'full' ? selectAll(feeds) : closeOver(set, feeds, unavailable, input, plan);
    for (const { feed, pkg } of selected) {
      // One flat string (a template literal is a cons string, which a Map key flattens beside it);
      // a message or a map of several sets may need it, a task does not keep it (PackageTask).
      const rel = [feed, pkg.filename].join('/');
      // The content key is the index's hash of the package, whichever it is (PackageRecord.sha256:
      // the file's for opkg, the identity for apk); the expectation is made only for a new task.
      const key = pkg.sha256;
      const known = byPath?.get(rel) ?? input.startedAt?.(rel, key);
      if (known) {
        if (set.label && !known.sets.includes(set.label)) known.sets = [...known.sets, set.label];
        if (!byPath?.has(rel)) {
          byPath?.set(rel, known);
          plan.tasks.push(known);
        }
        continue;
      }
      const expectation = input.expect(pkg, rel, input.previousFiles.get(rel));
      const task = new PackageTask(input.release, feed, pkg.filename, set.label ? [set.label] : NO_SETS, key);
      task.feed = input.feeds.get(feed)?.name;
      task.package = pkg.name;
      task.size = expectation.size;
      task.sha256 = expectation.sha256;
      task.identity = expectation.identity;
      task.check = expectation.check;
      task.reuse = expectation.reuse;
      byPath?.set(rel, task);
      plan.tasks.push(task);
    }
  }
  return plan;
}

/**
 * A package file's task. Its path is made from its directory and file name when it is asked for, not
 * kept: the file name is the record's own string, the path would be a string more per task (11,000
 * at real size). Every field is declared, so that all tasks share one shape with their fields inside
 * the object.
 */
class PackageTask implements FileTask {
  feed: string | undefined = undefined;
  package: string | undefined = undefined;
  size: number | undefined = undefined;
  sha256: string | undefined = undefined;
  identity: string | undefined = undefined;
  check: (() => StreamCheck) | undefined = undefined;
  reuse: ServedFile | undefined = undefined;
  outcome: TaskOutcome | undefined = undefined;

  constructor(
    readonly release: string,
    readonly unit: string,
    /** The file's name in `unit`. */
    readonly file: string,
    public sets: string[],
    readonly key: string,
  ) {}

  get rel(): string {
    return `${this.unit}/${this.file}`;
  }
}

/** The sets of a task in a mirror of one set (none named): one frozen empty list for every task. */
const NO_SETS: string[] = Object.freeze([]) as unknown as string[];

/** Selective mode: the set's closure; what is missing becomes failures and warnings, named. */
function closeOver(
  set: PlanSet,
  feeds: ClosureFeed[],
  unavailable: string[],
  input: PlanInput,
  plan: Plan,
): { feed: string; pkg: PackageRecord }[] {
  const listed = new Set([...set.required, ...set.optional]);
  const learned = new Set((set.learned ?? []).filter((name) => !listed.has(name)));
  const closure = resolveClosure({
    accepts: input.accepts,
    feeds,
    required: set.required,
    optional: [...set.optional, ...learned],
  });
  const named = (failure: Failure): Failure => (set.label ? { set: set.label, ...failure } : failure);
  const prefix = set.label ? `${set.label}: ` : '';
  // With feeds whose index could not be used, what is missing may be there: a consequence of the
  // refused indexes, said in one line rather than once per package. A Set: the same need reached
  // through two feeds (a kmod in core and in kmods) is one.
  const folded = new Set<string>();
  for (const name of closure.missingRequired) {
    if (unavailable.length > 0) folded.add(name);
    else
      plan.failures.push(
        named({
          package: name,
          reason: `required package ${name} is in no feed (${set.sources?.required ?? 'REQUIRED_PACKAGES'})`,
        }),
      );
  }
  for (const name of closure.missingOptional) {
    const source = learned.has(name)
      ? `learned on demand; openwrt-mirror forget ${name} drops it`
      : (set.sources?.optional ?? 'OPTIONAL_PACKAGES');
    plan.warnings.push(`${prefix}optional package ${name} is in no feed (${source}): skipped`);
  }
  for (const item of closure.unresolved) {
    const wanted = item.constraint ? `${item.name} (${item.constraint})` : item.name;
    const reason = `${item.neededBy} depends on ${wanted}, which no feed provides`;
    if (!item.fromRequired) plan.warnings.push(`${prefix}${reason}`);
    else if (unavailable.length > 0) folded.add(`${wanted} (for ${item.neededBy})`);
    else
      plan.failures.push(
        named({ package: item.neededBy, feed: input.feeds.get(item.feed)?.name ?? item.feed, reason }),
      );
  }
  if (folded.size > 0) {
    const feedsNamed = `${unavailable.length === 1 ? 'feed' : 'feeds'} ${unavailable.join(', ')}`;
    const needs =
      folded.size === 1
        ? 'a package the required list needs is'
        : `${folded.size} packages the required list needs are`;
    plan.failures.push(
      named({
        reason: `${needs} in no usable feed (${[...folded].join(', ')}); the ${feedsNamed} without a usable index may hold them`,
      }),
    );
  }
  return closure.selected;
}
