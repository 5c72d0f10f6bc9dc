/**
 * Assembling a release's next generation, pure: maps and records in, a manifest and decisions out.
 *
 * Every directory of the tree — a feed, or a target's own files (profiles.json, the signed sums, the
 * images) — is a unit decided one way: take-new when its index (or its target files) and every file
 * the plan wants of it are had; keep-old, whole, as the last generation served it, when not; fail
 * when there is no old. An index is never served without every file it lists that the mirror serves.
 * Then the target sums are held to the files served beside them, withdrawn sets stay for the grace
 * period, and files an index dropped stay for it too.
 */
import path from 'node:path';
import { FEED_INDEX_NAMES, TARGET_DIR_NAMES } from '../feeds/filename.js';
import type { DroppedFile, ReleaseState, Validators } from '../publish/state.js';
import type { Manifest, ServedFile } from '../publish/types.js';
import type { Failure, FeedOutcome, FileTask } from './types.js';

/** One directory of the tree and what this run would serve there. */
export interface Unit {
  /** Release-relative directory. */
  dir: string;
  /** For failures: the feed's name (undefined for a target directory). */
  feed?: string;
  /** The set it concerns, for failures (undefined: the mirror has one set, or the unit is shared). */
  set?: string;
  /**
   * What this run would serve: the index files by name, and the tasks of the files the plan wants.
   * Undefined when nothing for it could be had (an index refused without a last good one, a target's
   * sums refused).
   */
  fresh?: { indexFiles: Record<string, ServedFile>; tasks: FileTask[]; blocker?: string };
  /** Whether `fresh` was verified in this run (false: it is the last good index, kept). */
  verifiedThisRun: boolean;
  /** Served when neither new nor old can be (a target's own profiles.json). */
  fallback?: Record<string, ServedFile>;
  /** Validator keys (release-relative paths) that belong to the unit. */
  validatorKeys: string[];
}

export interface UnitDecision {
  dir: string;
  /** new: this run's files; kept: the last generation's; failed: nothing (or only the fallback). */
  taken: 'new' | 'kept' | 'failed';
  failures: Failure[];
}

export interface AssembleInput {
  units: Unit[];
  /** What the last generation served. */
  previousFiles: Map<string, ServedFile>;
  /** Target directories whose sha256sums must agree with what is served beside them. */
  targetDirs: string[];
  readSums(file: ServedFile): Promise<Map<string, string>>;
  /** Directories of sets no longer configured → since when; served whole for the grace period. */
  withdrawn: Map<string, string>;
  /** The grace list of the last state. */
  dropped: Record<string, DroppedFile>;
  now: Date;
  graceHours: number;
}

export interface Assembly {
  manifest: Manifest;
  decisions: Map<string, UnitDecision>;
  failures: Failure[];
  /** Validator keys of what is served new, and of what is kept as it was. */
  fresh: Set<string>;
  kept: Set<string>;
  /** The next grace list, and withdrawn directories still served. */
  dropped: Record<string, DroppedFile>;
  withdrawn: Map<string, string>;
}

/** Index files of a feed or the target directory: never kept for the grace period on their own. */
const INDEX_NAMES = new Set([...FEED_INDEX_NAMES, ...TARGET_DIR_NAMES]);

export async function assembleRelease(input: AssembleInput): Promise<Assembly> {
  const result: Assembly = {
    manifest: new Map(),
    decisions: new Map(),
    failures: [],
    fresh: new Set(),
    kept: new Set(),
    dropped: {},
    withdrawn: new Map(),
  };
  const fragments = new Map<string, Map<string, ServedFile>>();
  for (const unit of input.units) {
    const { decision, files } = decide(unit, input.previousFiles);
    result.decisions.set(unit.dir, decision);
    result.failures.push(...decision.failures);
    fragments.set(unit.dir, files);
    const keys = decision.taken === 'new' && unit.verifiedThisRun ? result.fresh : result.kept;
    if (decision.taken !== 'failed') for (const key of unit.validatorKeys) keys.add(key);
  }
  for (const files of fragments.values())
    for (const [file, served] of files) result.manifest.set(file, served);

  for (const targetDir of input.targetDirs) {
    const unit = input.units.find((u) => u.dir === targetDir);
    if (unit) await holdSumsToTheTree(result, unit, fragments, input);
  }
  keepWithdrawn(result, input);
  keepForGrace(result, input);
  await dropGraceFilesAgainstSums(result, input.targetDirs, input.readSums);
  return result;
}

function decide(
  unit: Unit,
  previousFiles: Map<string, ServedFile>,
): { decision: UnitDecision; files: Manifest } {
  const failures: Failure[] = [];
  const label = (failure: Failure): Failure => ({
    ...(unit.set && { set: unit.set }),
    ...(unit.feed && { feed: unit.feed }),
    ...failure,
  });
  const fresh = unit.fresh;
  if (fresh) {
    for (const task of fresh.tasks) {
      if (task.outcome?.ok) continue;
      failures.push(
        label({
          file: task.rel,
          ...(task.package && { package: task.package }),
          reason: task.outcome?.reason ?? 'not fetched',
        }),
      );
    }
    if (fresh.blocker) failures.push(label({ reason: fresh.blocker }));
    if (failures.length === 0) {
      const files: Manifest = new Map();
      for (const [name, served] of Object.entries(fresh.indexFiles)) files.set(`${unit.dir}/${name}`, served);
      for (const task of fresh.tasks) if (task.outcome?.ok) files.set(task.rel, task.outcome.served);
      return { decision: { dir: unit.dir, taken: 'new', failures }, files };
    }
  }
  const kept = directoryFiles(previousFiles, unit.dir);
  if (kept.size > 0) {
    for (const [name, served] of Object.entries(unit.fallback ?? {})) {
      if (!kept.has(`${unit.dir}/${name}`)) kept.set(`${unit.dir}/${name}`, served);
    }
    return { decision: { dir: unit.dir, taken: 'kept', failures }, files: kept };
  }
  const fallback: Manifest = new Map(
    Object.entries(unit.fallback ?? {}).map(([name, served]) => [`${unit.dir}/${name}`, served]),
  );
  return { decision: { dir: unit.dir, taken: 'failed', failures }, files: fallback };
}

/** The files directly in `dir` as the last generation served them. */
export function directoryFiles(from: Map<string, ServedFile>, dir: string): Manifest {
  const files: Manifest = new Map();
  for (const [file, served] of from) {
    if (file.startsWith(`${dir}/`) && !file.slice(dir.length + 1).includes('/')) files.set(file, served);
  }
  return files;
}

/**
 * OpenWrt's sha256sums lists the target's core (`packages/`) and `kmods/` files and profiles.json
 * too, so sums that disagree with the files served beside them (a feed kept as it was) are not
 * served with them: the directory stays as the last generation had it if that agrees, and goes
 * without sums (a failure, until they agree again) if nothing does.
 */
async function holdSumsToTheTree(
  result: Assembly,
  unit: Unit,
  fragments: Map<string, Manifest>,
  input: AssembleInput,
): Promise<void> {
  const dir = unit.dir;
  const sumsRel = `${dir}/sha256sums`;
  const disagreeing = async (candidate: Manifest): Promise<string[]> => {
    const sums = candidate.get(sumsRel);
    if (sums === undefined) return [];
    const out: string[] = [];
    for (const [name, sha256] of await input.readSums(sums)) {
      const served = candidate.get(`${dir}/${name}`) ?? result.manifest.get(`${dir}/${name}`);
      if (served !== undefined && served.sha256 !== sha256) out.push(name);
    }
    return out;
  };
  const chosen = fragments.get(dir) ?? new Map();
  const found = await disagreeing(chosen);
  if (found.length === 0) return;
  const decision = result.decisions.get(dir) as UnitDecision;
  const example = found.slice(0, 3).join(', ');
  const also = found.length > 3 ? ` and ${found.length - 3} more` : '';
  const list = `lists ${example}${also} with another sha256 than the files served beside it`;
  const previous = directoryFiles(input.previousFiles, dir);
  let replacement: Manifest;
  if (decision.taken === 'new' && previous.size > 0 && (await disagreeing(previous)).length === 0) {
    replacement = previous;
    decision.taken = 'kept';
    for (const key of unit.validatorKeys) {
      result.fresh.delete(key);
      result.kept.add(key);
    }
    result.failures.push(
      named(unit, { file: sumsRel, reason: `${list}: the target directory stays as it was` }),
    );
  } else {
    replacement = new Map([...chosen].filter(([file]) => !/\/sha256sums(\.sig)?$/.test(file)));
    for (const key of [sumsRel, `${sumsRel}.sig`]) {
      result.fresh.delete(key);
      result.kept.delete(key);
    }
    result.failures.push(named(unit, { file: sumsRel, reason: `${list}: not served until it agrees again` }));
  }
  for (const file of chosen.keys()) result.manifest.delete(file);
  for (const [file, served] of replacement) result.manifest.set(file, served);
}

function named(unit: Unit, failure: Failure): Failure {
  return unit.set ? { set: unit.set, ...failure } : failure;
}

/** A set no longer configured: its directories stay, whole, for the grace period, then go. */
function keepWithdrawn(result: Assembly, input: AssembleInput): void {
  for (const [dir, since] of input.withdrawn) {
    if (input.now.getTime() - new Date(since).getTime() >= input.graceHours * 3_600_000) continue;
    const files = [...input.previousFiles].filter(([file]) => file.startsWith(`${dir}/`));
    if (files.length === 0) continue;
    for (const [file, served] of files) if (!result.manifest.has(file)) result.manifest.set(file, served);
    result.withdrawn.set(dir, since);
  }
}

/**
 * Files the previous generation served and this one does not stay for the grace period, so a node
 * holding a slightly older index still finds them. Only what an index lists (packages, images) is
 * kept so: an index or signature of its own would be served beside the new ones it contradicts.
 * One the target sums list with another hash is dropped: the directory's files must agree.
 */
function keepForGrace(result: Assembly, input: AssembleInput): void {
  const withdrawn = [...input.withdrawn.keys()];
  for (const [file, served] of input.previousFiles) {
    if (result.manifest.has(file) || INDEX_NAMES.has(path.posix.basename(file))) continue;
    // A withdrawn set's files had their grace as a whole.
    if (withdrawn.some((dir) => file.startsWith(`${dir}/`))) continue;
    const since = input.dropped[file]?.since ?? input.now.toISOString();
    if (input.now.getTime() - new Date(since).getTime() >= input.graceHours * 3_600_000) continue;
    result.manifest.set(file, served);
    result.dropped[file] = { ...served, since };
  }
}

/** After grace: grace files under a target directory that its served sums list with another hash. */
async function dropGraceFilesAgainstSums(
  result: Assembly,
  targetDirs: string[],
  readSums: AssembleInput['readSums'],
): Promise<void> {
  for (const dir of targetDirs) {
    const sumsFile = result.manifest.get(`${dir}/sha256sums`);
    if (sumsFile === undefined) continue;
    const sums = await readSums(sumsFile);
    for (const file of Object.keys(result.dropped)) {
      if (!file.startsWith(`${dir}/`)) continue;
      const listed = sums.get(file.slice(dir.length + 1));
      if (listed !== undefined && listed !== result.manifest.get(file)?.sha256) {
        result.manifest.delete(file);
        delete result.dropped[file];
      }
    }
  }
}

/** The validators that go with what is served: this run's for what is new, the last run's for what is kept. */
export function committedValidators(
  previous: ReleaseState,
  learnt: Record<string, Validators>,
  fresh: Set<string>,
  kept: Set<string>,
): ReleaseState['validators'] {
  const result: ReleaseState['validators'] = {};
  for (const key of fresh) {
    const value = learnt[key] ?? previous.validators[key];
    if (value) result[key] = value;
  }
  // A kept directory must be fetched again next run even if the upstream does not change any more.
  for (const key of kept) {
    const value = previous.validators[key];
    if (value) result[key] = value;
  }
  return result;
}

/** How a unit's decision reads in a feed report. */
export function feedOutcome(decision: UnitDecision, unit: Unit, changed: boolean): FeedOutcome {
  if (decision.taken === 'failed') return 'failed';
  if (decision.taken === 'kept' || !unit.verifiedThisRun) return 'kept';
  return changed ? 'updated' : 'unchanged';
}
