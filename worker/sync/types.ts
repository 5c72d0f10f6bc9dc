/**
 * The sync's contracts: the record that travels from plan to publish, the report of a run, and the
 * sets. Type-only, so that status, commands and tests read them without running any of the sync.
 */
import type { MirrorMode } from '../config.js';
import type { PackageRecord, StreamCheck } from '../feeds/types.js';
import type { FeedFormat, FormatName } from '../formats/format.js';
import type { ServedSummary } from '../publish/served.js';
import type { ServedFile } from '../publish/types.js';
import type { SetStatusInput } from '../status/status-file.js';

/** What the last run did with a directory of the served tree (a feed, or a target's own files). */
export type FeedOutcome = 'updated' | 'unchanged' | 'kept' | 'failed' | 'withdrawn';

export interface Counters {
  planned: number;
  downloaded: number;
  skipped: number;
  failed: number;
  bytes: number;
}

/**
 * One file the run wants served: made by plan, filled in by fetch, read by assemble and commit. One
 * record from start to end — set, directory, path, what it must be, where its bytes are.
 */
export interface FileTask {
  release: string;
  /** Release-relative path where it is served. */
  rel: string;
  /** The directory whose index lists it: a feed directory, or the target directory for images. */
  unit: string;
  /** For messages: the sets it is wanted for, the feed and package it is. */
  sets: string[];
  feed?: string;
  package?: string;
  /** What its bytes must be. */
  size?: number;
  sha256?: string;
  identity?: string;
  maxBytes?: number;
  check?: () => StreamCheck;
  /** What was served at this path before, when it is known to be this very file (apk). */
  reuse?: ServedFile;
  /** Content key: tasks with one key (the same bytes at several paths or releases) are fetched once. */
  key: string;
  /** Set by fetch. */
  outcome?: TaskOutcome;
}

/** `fetched`: its bytes came in this run (else the pool already held them). */
export type TaskOutcome = { ok: true; served: ServedFile; fetched: boolean } | { ok: false; reason: string };

/** A package selected for a set's feeds, before it becomes a task. */
export interface PlannedPackage {
  feedDir: string;
  pkg: PackageRecord;
}

export interface FeedReport extends Counters {
  release: string;
  name: string;
  distName: string;
  dir: string;
  state: FeedOutcome;
  packagesInIndex: number;
  durationMs: number;
  error?: string;
}

export interface Failure {
  /** The set, `24.10.4 ramips/mt7621`, when the failure concerns one (or the release, for a shared feed). */
  set?: string;
  feed?: string;
  file?: string;
  package?: string;
  reason: string;
}

/** What one run did for one set (release × target). */
export interface SetReport {
  /** `24.10.4 ramips/mt7621`. */
  label: string;
  release: string;
  target: string;
  arch?: string;
  format: FormatName;
  mode: MirrorMode;
  /** The release directories of its feeds, release-relative, in a node's order. */
  feedDirs: string[];
  images?: Counters & { devices: string[] };
  /** `withdrawn`: no longer configured; served until `withdrawnUntil`. */
  state?: 'withdrawn';
  withdrawnUntil?: string;
}

/** A package a run made servable, or took away: `feed` is the feed's name (`packages`, `core`, …). */
export interface PackageChange {
  release: string;
  feed: string;
  name: string;
  version: string;
}

export interface PackageUpdate {
  release: string;
  feed: string;
  name: string;
  from: string;
  to: string;
}

export interface ImageChange {
  release: string;
  /** Release-relative path. */
  path: string;
  change: 'added' | 'updated' | 'removed';
}

/** What a run changed in what routers can install. */
export interface ReleaseChanges {
  added: PackageChange[];
  updated: PackageUpdate[];
  removed: PackageChange[];
  images: ImageChange[];
}

export interface SyncReport extends Counters {
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  result?: 'success' | 'partial' | 'failed';
  sets: SetReport[];
  feeds: FeedReport[];
  failures: Failure[];
  warnings: string[];
  /** Release → the generation served after the run. */
  generations: Record<string, string>;
  /** Whether this run switched (or found unchanged and confirmed) a generation of some release. */
  published: boolean;
  /** Set once status.json describes this run. */
  statusWritten?: boolean;
  upstream?: { requests: number; retries: number; errors: Record<string, number> };
  /** What the releases this run published changed, all of them together. */
  changes: ReleaseChanges;
}

/** What a set's feed lines are made from. */
export interface SetLines {
  release: string;
  target: string;
  arch?: string;
  format: FeedFormat;
  /** The feeds its release serves for it, in a node's order. */
  feeds: { distName: string; dir: string }[];
}

/** What a release contributes to the run's feed lines and status. */
export interface ReleaseOutcome {
  release: string;
  /** What its served generation holds, counted (the last one, when this run published nothing). */
  served: ServedSummary;
  generation?: string;
  lines: SetLines[];
  status: SetStatusInput[];
  /** Kept as it was on a quiet night (quiet.ts): nothing entered the pool, no generation left it. */
  quiet?: true;
  /** When the release last synced without a failure, as its state now says. */
  lastSuccessAt?: string;
  /** The generation `rollback` pinned it to, as its state now says. */
  pinned?: string;
}
