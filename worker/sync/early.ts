/**
 * Downloads that need no finished plan, started while the index phase still runs: each target's
 * images once its signed sums verify, and a feed's packages once its index verifies — all of them
 * for a full-mode set, and for a selective set the closure of its lists over the feeds verified so
 * far. The closure only grows as feeds come in (every candidate opkg or apk might pick is taken,
 * whatever the other feeds hold: feeds/closure.ts), so what it names now the final plan names too.
 * They go to the gate as `background` requests, every other start while indexes wait. The plan,
 * made later from the same indexes, names the same files, and takes the early task of each path
 * instead of making its own (one task per package in memory, not two); a file of the same bytes at
 * another path takes the outcome of the task that fetched them.
 */
import type { PackageRecord } from '../feeds/types.js';
import type { FeedFormat } from '../formats/index.js';
import type { ServedFile } from '../publish/types.js';
import type { SyncContext } from './context.js';
import type { DiscoveredSet, FeedRef } from './discover.js';
import type { FeedIndex } from './feed-index.js';
import { fetchTasks } from './fetch.js';
import { type PlanSet, planRelease, planSetOf } from './plan.js';
import type { FileTask } from './types.js';

/** What the early plan of a feed needs: the same as the release's plan. */
export interface EarlyInput {
  release: string;
  format: FeedFormat;
  discovered: DiscoveredSet[];
  /** The last generation's files: read when a feed's index is new (a quiet night has none). */
  previousFiles: () => Promise<Map<string, ServedFile>>;
  /** Whether the mirror has several sets (the plan's tasks then name theirs). */
  many: boolean;
}

export class EarlyDownloads {
  readonly #ctx: SyncContext;
  readonly #input: EarlyInput;
  readonly #running: Promise<void>[] = [];
  /** The closures taken as feeds verified, each once the last generation's files are read. */
  readonly #planning: Promise<void>[] = [];
  /**
   * The early task that fetches each content key (the same bytes may sit in two feeds). The plan
   * takes these tasks (`startedAt`), so keeping them here costs nothing more.
   */
  readonly #byKey = new Map<string, FileTask>();
  /** Early tasks whose content another early task fetches, by path (rare: the same bytes in two feeds). */
  readonly #twins = new Map<string, FileTask>();
  /** The feeds verified so far, by directory: what the selective sets' closures are taken over. */
  readonly #verified = new Map<string, { name: string; packages: PackageRecord[] }>();

  constructor(ctx: SyncContext, input: EarlyInput) {
    this.#ctx = ctx;
    this.#input = input;
  }

  /** Starts `tasks` now, in the background; each content key once, whichever call brought it first. */
  fetch(tasks: FileTask[]): void {
    const fresh: FileTask[] = [];
    for (const task of tasks) {
      if (this.#byKey.has(task.key)) this.#twins.set(task.rel, task);
      else {
        this.#byKey.set(task.key, task);
        fresh.push(task);
      }
    }
    if (fresh.length === 0) return;
    const fetching = fetchTasks(this.#ctx, fresh, { background: true });
    // Awaited by together() or settled(); until then a stop's rejection must not count as unhandled.
    fetching.catch(() => {});
    this.#running.push(fetching);
  }

  /**
   * A feed's index verified: a full-mode set that uses it takes all of its packages, a selective one
   * its closure over the feeds verified so far, which this feed may have grown in other feeds too.
   */
  feed(ref: FeedRef, index: FeedIndex): void {
    const { release, format, discovered, previousFiles, many } = this.#input;
    const users = discovered.filter((set) => set.feeds.some((feed) => feed.dir === ref.dir));
    if (users.length === 0) return;
    this.#verified.set(ref.dir, { name: ref.name, packages: index.records.list });
    const sets = users.map((set): PlanSet => {
      const planned = planSetOf(set, { release, many, learned: this.#ctx.learned });
      // Full mode: this feed's packages, the others' came with their own index.
      if (planned.mode === 'full') return { ...planned, feedDirs: [ref.dir] };
      return { ...planned, feedDirs: planned.feedDirs.filter((dir) => this.#verified.has(dir)) };
    });
    const planning = previousFiles().then((files) => {
      const { tasks } = planRelease({
        release,
        sets,
        feeds: this.#verified,
        unavailable: new Map(),
        accepts: format.accepts,
        expect: (pkg, rel, previous) => format.expect(pkg, rel, previous),
        previousFiles: files,
      });
      // A closure taken again names the paths it named before: those have their task.
      this.fetch(tasks.filter((task) => this.startedAt(task.rel, task.key) === undefined));
    });
    // A manifest that does not read fails the release where its plan reads it too.
    planning.catch(() => {});
    this.#planning.push(planning);
  }

  /** Every feed verified so far has its early tasks started: what the release's plan takes. */
  async planned(): Promise<void> {
    await Promise.allSettled(this.#planning);
  }

  /**
   * The task started early at `rel` (its content key `key`), for the release's plan to take
   * (`PlanInput.startedAt`): one task per package, not two. Found by its content key, so that no
   * map of every path is kept beside the one of every key (11,000 at real size).
   */
  readonly startedAt = (rel: string, key: string): FileTask | undefined => {
    const task = this.#byKey.get(key);
    return task !== undefined && task.rel === rel ? task : this.#twins.get(rel);
  };

  /**
   * The plan's package tasks fetched with those started early: the plan took the early tasks of
   * their paths (`startedAt`), the rest go through `fetch`, and a task whose bytes an early task at
   * another path fetches (a twin, or a planned task of the same content) takes that one's outcome.
   */
  async together(planned: FileTask[], fetch: (rest: FileTask[]) => Promise<void>): Promise<void> {
    // The plan has taken its tasks: the feeds are of no more use.
    this.#verified.clear();
    const rest = planned.filter((task) => !this.#byKey.has(task.key));
    // Each task whose bytes an early task at another path fetches, paired with that task now, so
    // that the map of every content key does not outlive the index phase (11,000 keys at real size).
    const borrowers = [...planned, ...this.#twins.values()].flatMap((task): [FileTask, FileTask][] => {
      const early = this.#byKey.get(task.key);
      return early && early !== task ? [[task, early]] : [];
    });
    this.#byKey.clear();
    this.#twins.clear();
    await Promise.all([fetch(rest), ...this.#running]);
    for (const [task, early] of borrowers) {
      if (!early.outcome) continue;
      // The early task's path, another one, fetched the bytes; this one found them in the pool.
      task.outcome = early.outcome.ok ? { ...early.outcome, fetched: false } : early.outcome;
    }
  }

  /** Every early download ended (a release that publishes nothing still waits for its own). */
  async settled(): Promise<void> {
    await this.planned();
    await Promise.allSettled(this.#running);
  }
}
