/**
 * MIRROR_DIR/status.json: what is served and how the last run went. Written atomically at the end of
 * every sync; read by `openwrt-mirror status`, the landing page and monitoring. Shape: docs/status.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DownloadsSummary } from '../downloads/tally.js';
import type { FormatName } from '../formats/format.js';
import { formatNamed } from '../formats/index.js';
import type { LearnedPackage } from '../publish/learned.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import { looseIn, nothingServed, type ServedSummary, servedTotals, tallyIn } from '../publish/served.js';
import type { Failure, FeedOutcome, ReleaseChanges, SyncReport } from '../sync/types.js';
import { writeMetrics } from './metrics.js';

export interface StatusFeed {
  name: string;
  distName: string;
  path: string;
  state: FeedOutcome;
  packages: number;
  bytes: number;
}

export interface StatusImage {
  path: string;
  bytes: number;
  /** The device profile and image type profiles.json gives it, when it does. */
  device?: string;
  type?: string;
}

/** What is served for one set (release × target). */
export interface StatusSet {
  release: string;
  target: string;
  arch?: string;
  format: FormatName;
  mode: string;
  /** The generation of its release that is served. */
  generation?: string;
  /** `withdrawn`: no longer configured, served until `withdrawnUntil`. */
  state: 'served' | 'not served' | 'withdrawn';
  withdrawnUntil?: string;
  /** Where a node of this set finds its feed lines: `distfeeds/<release>/<target>/distfeeds.conf`. */
  distfeeds: string;
  /** Its feeds, shared arch feeds included, in a node's order. */
  feeds: StatusFeed[];
  images: StatusImage[];
  served: { packages: number; images: number; bytes: number; files: number };
}

export interface StatusFile {
  schema: 1;
  /**
   * The mirror as a whole. With exactly one set, `release` … `generation` are that set's (as
   * before several sets could be mirrored); with more, `sets` says them.
   */
  mirror: {
    upstream: string;
    sets: number;
    release?: string;
    target?: string;
    arch?: string;
    format?: FormatName;
    mode?: string;
    generation?: string;
    /** The upstream's last successful sync, from its /lastsync, when it has one (a mirror a tier above). */
    upstreamLastSync?: string;
  };
  sets: StatusSet[];
  /** Every feed served, each once (an arch feed two sets share too). */
  feeds: StatusFeed[];
  images: StatusImage[];
  served: { packages: number; images: number; bytes: number; files: number };
  /** The last run that finished; absent while the first sync runs. */
  lastRun?: {
    startedAt: string;
    finishedAt?: string;
    durationMs?: number;
    result?: string;
    planned: number;
    downloaded: number;
    skipped: number;
    failed: number;
    bytes: number;
    failures: Failure[];
    warnings: string[];
    feeds: SyncReport['feeds'];
    /** What the upstream saw of this run; absent when it ended before the first request. */
    upstream?: { requests: number; retries: number; errors: Record<string, number> };
    /** What the run changed in what routers can install; each list cut at CHANGES_LISTED, `counts` says all. */
    changes?: StatusChanges;
  };
  lastSuccessAt?: string;
  nextRunAt?: string;
  /** While a sync runs: what it is doing, rewritten every few seconds, removed when it ends. */
  running?: RunningStatus;
  /** The worker's own health: written by `openwrt-mirror worker`. */
  worker?: WorkerStatus;
  /** What the routers fetched, from nginx's access log: written by the worker (ACCESS_LOG_DIR). */
  downloads?: DownloadsSummary;
  /**
   * The learned selection: packages fetched on demand for a node, kept by every sync until
   * `openwrt-mirror forget NAME` (absent when there are none).
   */
  learned?: LearnedPackage[];
  /** Per release: the generations kept for `rollback` (newest first), which one is served, a pin. */
  generations?: Record<string, ReleaseGenerations>;
}

export interface ReleaseGenerations {
  served?: string;
  /** Set by `rollback`: syncs leave the release alone until `unpin`. */
  pinned?: string;
  kept: { id: string; publishedAt: string; packages: number; files: number; bytes: number }[];
}

export type SyncPhase = 'indexes' | 'planning' | 'downloading' | 'publishing';

export interface RunningStatus {
  phase: SyncPhase;
  startedAt: string;
  /** When this object was last written: a run killed outright leaves it behind, growing old. */
  updatedAt: string;
  /** The release being synced, its sets, and where it stands among the run's releases. */
  release?: string;
  sets?: string[];
  releaseIndex?: number;
  releases?: number;
  /** Files to download in this release, and how many have ended (fetched or failed). */
  filesDone: number;
  filesTotal: number;
  /** Bytes of those files: received so far, and in all as far as the indexes say. */
  bytesDone: number;
  bytesTotal: number;
  /** Over the last few seconds; 0 before the first byte. */
  bytesPerSecond: number;
  /** Until the downloads of this release end, at that rate; absent when it cannot be told. */
  etaSeconds?: number;
  /** The process that runs the sync: `worker`, or `sync` for a one-off. */
  by: 'worker' | 'sync';
  pid: number;
}

export interface WorkerStatus {
  /** Rewritten every `heartbeatSeconds` while the worker runs. */
  heartbeatAt?: string;
  heartbeatSeconds?: number;
  startedAt?: string;
  /** The one-line error of a configuration the worker refused (it then exits 2); gone once one is accepted. */
  configError?: string;
  configErrorAt?: string;
}

export const STATUS_FILE = 'status.json';

/** Entries kept per list of changes: a first sync of a full mirror adds thousands. */
export const CHANGES_LISTED = 500;

export type StatusChanges = ReleaseChanges & {
  counts: { added: number; updated: number; removed: number; images: number };
};

/** A run's changes as status.json and history.json keep them: each list cut at `limit`, the counts whole. */
export function listedChanges(changes: ReleaseChanges, limit = CHANGES_LISTED): StatusChanges {
  return {
    added: changes.added.slice(0, limit),
    updated: changes.updated.slice(0, limit),
    removed: changes.removed.slice(0, limit),
    images: changes.images.slice(0, limit),
    counts: {
      added: changes.added.length,
      updated: changes.updated.length,
      removed: changes.removed.length,
      images: changes.images.length,
    },
  };
}

/** A set as the run knows it, for status. */
export interface SetStatusInput {
  release: string;
  target: string;
  arch?: string;
  format: FormatName;
  mode: string;
  /** Its feeds in a node's order: release-relative directories. */
  feeds: { name: string; distName: string; dir: string }[];
  targetDir: string;
  withdrawnUntil?: string;
  /** Release-relative image path → the device and image type it is for. */
  imageInfo?: Map<string, { device: string; type: string }>;
}

export function buildStatus(input: {
  report: SyncReport;
  upstream: string;
  sets: SetStatusInput[];
  /** Release → what its served generation holds. */
  releases: Map<string, { served: ServedSummary; generation?: string }>;
  lastSuccessAt?: string;
  /** The upstream's own last sync, when it says (another openwrt-mirror). */
  upstreamLastSync?: string;
  nextRunAt?: Date;
}): StatusFile {
  const { report } = input;
  const states = new Map(report.feeds.map((feed) => [`${feed.release}\0${feed.dir}`, feed.state]));
  const sets = input.sets.map((set) => statusOfSet(set, input.releases.get(set.release), states));
  const feeds = new Map<string, StatusFeed>();
  const images = new Map<string, StatusImage>();
  for (const set of sets) {
    for (const feed of set.feeds) feeds.set(feed.path, feed);
    for (const image of set.images) images.set(image.path, image);
  }
  let bytes = 0;
  let files = 0;
  for (const { served } of input.releases.values()) {
    const totals = servedTotals(served);
    files += totals.files;
    bytes += totals.bytes;
  }
  const only = sets.length === 1 ? sets[0] : undefined;
  return {
    schema: 1,
    mirror: {
      upstream: input.upstream,
      sets: sets.length,
      ...(input.upstreamLastSync && { upstreamLastSync: input.upstreamLastSync }),
      ...(only && {
        release: only.release,
        target: only.target,
        arch: only.arch,
        format: only.format,
        mode: only.mode,
        generation: only.generation,
      }),
    },
    sets,
    feeds: [...feeds.values()],
    images: [...images.values()],
    served: {
      packages: [...feeds.values()].reduce((sum, feed) => sum + feed.packages, 0),
      images: images.size,
      bytes,
      files,
    },
    lastRun: {
      startedAt: report.startedAt,
      finishedAt: report.finishedAt,
      durationMs: report.durationMs,
      result: report.result,
      planned: report.planned,
      downloaded: report.downloaded,
      skipped: report.skipped,
      failed: report.failed,
      bytes: report.bytes,
      failures: report.failures,
      warnings: report.warnings,
      feeds: report.feeds,
      upstream: report.upstream && {
        requests: report.upstream.requests,
        retries: report.upstream.retries,
        errors: { ...report.upstream.errors },
      },
      changes: listedChanges(report.changes),
    },
    lastSuccessAt: input.lastSuccessAt,
    nextRunAt: input.nextRunAt?.toISOString(),
  };
}

function statusOfSet(
  set: SetStatusInput,
  release: { served: ServedSummary; generation?: string } | undefined,
  states: Map<string, FeedOutcome>,
): StatusSet {
  const served = release?.served ?? nothingServed();
  const format = formatNamed(set.format);
  const releaseDir = `releases/${set.release}`;
  const feeds: StatusFeed[] = [];
  let bytes = 0;
  let files = 0;
  for (const ref of set.feeds) {
    const tally = tallyIn(served, ref.dir);
    if (!tally) continue;
    files += tally.files;
    bytes += tally.bytes;
    feeds.push({
      name: ref.name,
      distName: ref.distName,
      path: `${releaseDir}/${ref.dir}`,
      state: set.withdrawnUntil ? 'withdrawn' : (states.get(`${set.release}\0${ref.dir}`) ?? 'kept'),
      packages: tally.packages,
      bytes: tally.packageBytes,
    });
  }
  const images: StatusImage[] = [];
  for (const [file, { size }] of looseIn(served, set.targetDir)) {
    files++;
    bytes += size;
    if (isImageFile(file))
      images.push({ path: `${releaseDir}/${file}`, bytes: size, ...set.imageInfo?.get(file) });
  }
  return {
    release: set.release,
    target: set.target,
    ...(set.arch && { arch: set.arch }),
    format: set.format,
    mode: set.mode,
    ...(release?.generation && { generation: release.generation }),
    state: set.withdrawnUntil ? 'withdrawn' : feeds.length > 0 ? 'served' : 'not served',
    ...(set.withdrawnUntil && { withdrawnUntil: set.withdrawnUntil }),
    distfeeds: `distfeeds/${set.release}/${set.target}/${format.distfeedsFile}`,
    feeds,
    images,
    served: {
      packages: feeds.reduce((sum, feed) => sum + feed.packages, 0),
      images: images.length,
      bytes,
      files,
    },
  };
}

/** Images sit directly in the target directory, beside profiles.json. */
export function isImageFile(file: string): boolean {
  return /^targets\/[^/]+\/[^/]+\/[^/]+$/.test(file) && !/\/(profiles\.json|sha256sums(\.sig)?)$/.test(file);
}

export async function writeStatus(dir: MirrorDir, status: StatusFile): Promise<void> {
  await dir.writeAtomic(STATUS_FILE, `${JSON.stringify(status, null, 2)}\n`);
  // Both files always describe the same run.
  await writeMetrics(dir, status);
}

/** status.json before any run has finished: what a first sync's progress and the worker's heartbeat go into. */
export function emptyStatus(upstream: string): StatusFile {
  return {
    schema: 1,
    mirror: { upstream, sets: 0 },
    sets: [],
    feeds: [],
    images: [],
    served: { packages: 0, images: 0, bytes: 0, files: 0 },
  };
}

export async function readStatus(root: string): Promise<StatusFile | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(root, STATUS_FILE), 'utf8')) as StatusFile;
  } catch {
    return undefined;
  }
}
