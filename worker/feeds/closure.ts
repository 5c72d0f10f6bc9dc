/**
 * Selective mode: which packages the mirror must hold so that opkg on a node can install the
 * listed ones. opkg picks one satisfier per dependency depending on what is installed, on feed
 * order and on versions; the mirror cannot know which, so it holds every candidate opkg might pick:
 * every alternative of `a | b`, every provider of a virtual name, in every feed.
 */
import { dependsOf } from './depends.js';
import type { Dependency, PackageRecord } from './types.js';

export interface FeedIndex {
  feed: string;
  packages: PackageRecord[];
}

export interface ClosureRequest {
  feeds: FeedIndex[];
  required: string[];
  optional: string[];
  /** Names the firmware provides, never looked up in a feed. Default `['libc', 'kernel']`. */
  provided?: string[];
  /**
   * Whether `pkg`, found by name or as a provider, meets `dep`'s version constraint (only asked
   * for versioned deps): the package manager's own rules, from its format (opkgAccepts, apkAccepts).
   */
  accepts: (pkg: PackageRecord, dep: Dependency) => boolean;
}

export interface SelectedPackage {
  feed: string;
  pkg: PackageRecord;
}

export interface UnresolvedDependency {
  name: string;
  /** `>= 1.2` when the name exists but no version satisfies this. */
  constraint?: string;
  neededBy: string;
  /** Feed of the package that needs it. */
  feed: string;
  /** Whether the needing package is reachable from a required root (an error, not a warning). */
  fromRequired: boolean;
}

export interface ClosureResult {
  /** In feed order, then index order within each feed. */
  selected: SelectedPackage[];
  /** Roots found neither by name nor as a provided name. */
  missingRequired: string[];
  missingOptional: string[];
  unresolved: UnresolvedDependency[];
}

export const DEFAULT_PROVIDED = ['libc', 'kernel'];

interface Candidate {
  /** Position in feed order then index order: identity and sort key. */
  rank: number;
  feed: string;
  pkg: PackageRecord;
}

/** Every feed's packages indexed once by name and by provided name. */
class Universe {
  readonly all: Candidate[] = [];
  private readonly byName = new Map<string, Candidate[]>();

  constructor(feeds: FeedIndex[]) {
    for (const { feed, packages } of feeds) {
      for (const pkg of packages) {
        const candidate: Candidate = { rank: this.all.length, feed, pkg };
        this.all.push(candidate);
        this.add(pkg.name, candidate);
        for (const name of pkg.provides) if (name !== pkg.name) this.add(name, candidate);
      }
    }
  }

  private add(name: string, candidate: Candidate): void {
    const list = this.byName.get(name);
    if (list === undefined) this.byName.set(name, [candidate]);
    else list.push(candidate);
  }

  /** Every package called `name` plus every package that provides it. */
  lookup(name: string): Candidate[] {
    return this.byName.get(name) ?? [];
  }
}

const formatConstraint = (dep: Dependency): string | undefined =>
  dep.op !== undefined && dep.version !== undefined ? `${dep.op} ${dep.version}` : undefined;

/**
 * The dependency closure of the required and optional roots over the union of all feeds. apk's
 * install-if is honoured: once the dependencies reach a fixpoint, every package whose every
 * install-if item is met by the selection joins it (apk would add it on its own), and its
 * dependencies are closed over in turn, until nothing changes.
 *
 * The work is linear in the size of the indexes: each distinct dependency is resolved once (a name
 * that thousands of packages depend on and hundreds provide is not matched again per dependent),
 * and an install-if package is looked at when a package that can meet one of its items joins.
 */
export function resolveClosure(req: ClosureRequest): ClosureResult {
  const universe = new Universe(req.feeds);
  const acceptsVersion = req.accepts;
  const accepts = (pkg: PackageRecord, dep: Dependency): boolean =>
    dep.op === undefined || dep.version === undefined || acceptsVersion(pkg, dep);
  const provided = new Set(req.provided ?? DEFAULT_PROVIDED);
  const selected = new Set<Candidate>();
  const missingRequired: string[] = [];
  const missingOptional: string[] = [];
  const unresolved: UnresolvedDependency[] = [];
  const reported = new Set<string>();

  // Every dependency, resolved once: its satisfiers, and whether they have all been taken.
  const resolved = new Map<string, Candidate[]>();
  const taken = new Set<string>();
  const keyOf = (dep: Dependency) =>
    `${dep.name}\0${dep.op ?? ''}\0${dep.version ?? ''}\0${dep.fuzzy ? 1 : 0}`;
  const satisfiers = (dep: Dependency): Candidate[] => {
    const key = keyOf(dep);
    let list = resolved.get(key);
    if (list === undefined) {
      list = universe.lookup(dep.name).filter((c) => accepts(c.pkg, dep));
      resolved.set(key, list);
    }
    return list;
  };

  // apk installs a package by itself once a node has every item of its install-if. A node may
  // already hold the other items (a LuCI language from its image, say), so the mirror takes every
  // install-if package that the selection meets in at least one item — or that the firmware alone
  // triggers. Indexed by item name, so that a package joining looks only at the rules it can meet.
  const rulesByItem = new Map<string, { candidate: Candidate; dep: Dependency }[]>();
  const triggered: Candidate[] = [];
  for (const candidate of universe.all) {
    const items = candidate.pkg.installIf ?? [];
    if (items.length === 0) continue;
    if (items.every((dep) => provided.has(dep.name))) triggered.push(candidate);
    for (const dep of items) {
      const rules = rulesByItem.get(dep.name);
      if (rules === undefined) rulesByItem.set(dep.name, [{ candidate, dep }]);
      else rules.push({ candidate, dep });
    }
  }
  const meetRules = (candidate: Candidate): void => {
    const { pkg } = candidate;
    for (const name of new Set([pkg.name, ...pkg.provides])) {
      for (const rule of rulesByItem.get(name) ?? []) {
        if (!selected.has(rule.candidate) && accepts(pkg, rule.dep)) triggered.push(rule.candidate);
      }
    }
  };

  // Required roots first: everything they reach is complete before the optional walk starts,
  // so whatever the optional walk adds is, correctly, not reachable from a required root.
  const walk = (roots: string[], fromRequired: boolean, missing: string[]): void => {
    const queue: Candidate[] = [];
    const take = (candidate: Candidate): void => {
      if (selected.has(candidate)) return;
      selected.add(candidate);
      queue.push(candidate);
      meetRules(candidate);
    };
    for (const root of new Set(roots)) {
      const found = universe.lookup(root);
      if (found.length > 0) found.forEach(take);
      else if (!provided.has(root)) missing.push(root);
    }
    /** When the queue runs dry, install-if may add more: apk installs those on its own. True when it did. */
    const takeInstallIf = (): boolean => {
      const before = queue.length;
      for (const candidate of triggered.splice(0)) take(candidate);
      return queue.length > before;
    };
    for (let head = 0; head < queue.length || takeInstallIf(); head++) {
      const next = queue[head] as Candidate;
      const { pkg, feed } = next;
      for (const item of dependsOf(pkg)) {
        const failed: Dependency[] = [];
        let satisfied = false;
        for (const dep of item) {
          if (provided.has(dep.name)) {
            satisfied = true;
            continue;
          }
          const matching = satisfiers(dep);
          if (matching.length === 0) {
            failed.push(dep);
            continue;
          }
          satisfied = true;
          const key = keyOf(dep);
          if (taken.has(key)) continue;
          taken.add(key);
          matching.forEach(take);
        }
        // An alternative that cannot be had is fine as long as another one can.
        if (satisfied) continue;
        for (const dep of failed) {
          const constraint = universe.lookup(dep.name).length > 0 ? formatConstraint(dep) : undefined;
          const key = `${next.rank}\0${dep.name}\0${constraint ?? ''}`;
          if (reported.has(key)) continue;
          reported.add(key);
          const entry: UnresolvedDependency = { name: dep.name, neededBy: pkg.name, feed, fromRequired };
          if (constraint !== undefined) entry.constraint = constraint;
          unresolved.push(entry);
        }
      }
    }
  };
  walk(req.required, true, missingRequired);
  walk(req.optional, false, missingOptional);

  return {
    selected: [...selected].sort((a, b) => a.rank - b.rank).map(({ feed, pkg }) => ({ feed, pkg })),
    missingRequired,
    missingOptional,
    unresolved,
  };
}

/** Full mode: every package of every feed, in the same order as `resolveClosure`'s selection. */
export function* selectAll(feeds: FeedIndex[]): Generator<SelectedPackage> {
  // One at a time: a full mirror's plan would otherwise make a list of 11,000 pairs first.
  for (const { feed, packages } of feeds) for (const pkg of packages) yield { feed, pkg };
}
