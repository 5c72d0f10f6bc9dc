/**
 * MIRROR_DIR/status.json: what is served and how the last run went. Written atomically at the end of
 * every sync; read by `openwrt-mirror status`, the landing page and monitoring. Shape: docs/status.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FormatName } from '../formats/format.js';
import { formatNamed } from '../formats/index.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import type { Manifest } from '../publish/types.js';
import type { Failure, FeedOutcome, SyncReport } from '../sync/types.js';
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
  };
  sets: StatusSet[];
  /** Every feed served, each once (an arch feed two sets share too). */
  feeds: StatusFeed[];
  images: StatusImage[];
  served: { packages: number; images: number; bytes: number; files: number };
  lastRun: {
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
  };
  lastSuccessAt?: string;
  nextRunAt?: string;
}

export const STATUS_FILE = 'status.json';

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
  releases: Map<string, { manifest: Manifest; generation?: string }>;
  lastSuccessAt?: string;
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
  for (const { manifest } of input.releases.values()) {
    files += manifest.size;
    for (const served of manifest.values()) bytes += served.size;
  }
  const only = sets.length === 1 ? sets[0] : undefined;
  return {
    schema: 1,
    mirror: {
      upstream: input.upstream,
      sets: sets.length,
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
    },
    lastSuccessAt: input.lastSuccessAt,
    nextRunAt: input.nextRunAt?.toISOString(),
  };
}

function statusOfSet(
  set: SetStatusInput,
  release: { manifest: Manifest; generation?: string } | undefined,
  states: Map<string, FeedOutcome>,
): StatusSet {
  const manifest = release?.manifest ?? new Map();
  const format = formatNamed(set.format);
  const releaseDir = `releases/${set.release}`;
  const feeds: StatusFeed[] = [];
  let bytes = 0;
  let files = 0;
  for (const ref of set.feeds) {
    let packages = 0;
    let packageBytes = 0;
    let any = false;
    for (const [file, served] of manifest) {
      if (path.posix.dirname(file) !== ref.dir) continue;
      any = true;
      files++;
      bytes += served.size;
      if (file.endsWith(format.packageExtension)) {
        packages++;
        packageBytes += served.size;
      }
    }
    if (!any) continue;
    feeds.push({
      name: ref.name,
      distName: ref.distName,
      path: `${releaseDir}/${ref.dir}`,
      state: set.withdrawnUntil ? 'withdrawn' : (states.get(`${set.release}\0${ref.dir}`) ?? 'kept'),
      packages,
      bytes: packageBytes,
    });
  }
  const images: StatusImage[] = [];
  for (const [file, served] of manifest) {
    if (!file.startsWith(`${set.targetDir}/`) || file.slice(set.targetDir.length + 1).includes('/')) continue;
    files++;
    bytes += served.size;
    if (isImageFile(file))
      images.push({ path: `${releaseDir}/${file}`, bytes: served.size, ...set.imageInfo?.get(file) });
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

/**
 * Records a run that ended without writing status.json itself (it failed or was stopped before it
 * could): what is served stays described, `lastRun` is this run. Never throws — with a full disk it
 * logs that the run could not be recorded, and the caller still releases the lock.
 */
export async function recordUnpublishedRun(
  dir: MirrorDir,
  input: { report: SyncReport; upstream: string; nextRunAt?: Date },
  onError: (error: Error) => void,
): Promise<void> {
  try {
    const fresh = buildStatus({ ...input, sets: [], releases: new Map() });
    const existing = await readStatus(dir.root);
    const status = existing
      ? { ...existing, lastRun: fresh.lastRun, ...(input.nextRunAt && { nextRunAt: fresh.nextRunAt }) }
      : fresh;
    await writeStatus(dir, status);
  } catch (error) {
    onError(error as Error);
  }
}

export async function readStatus(root: string): Promise<StatusFile | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(root, STATUS_FILE), 'utf8')) as StatusFile;
  } catch {
    return undefined;
  }
}
