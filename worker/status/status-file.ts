/**
 * MIRROR_DIR/status.json: what is served and how the last run went. Written atomically at the end of
 * every sync; read by `openwrt-mirror status`, the landing page and monitoring. Shape: docs/status.md.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { formatNamed } from '../formats/index.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import type { Manifest } from '../publish/types.js';
import type { Failure, FeedOutcome, SyncReport } from '../sync/report.js';
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

export interface StatusFile {
  schema: 1;
  mirror: {
    release: string;
    target: string;
    arch?: string;
    format: 'opkg' | 'apk';
    mode: string;
    upstream: string;
    generation?: string;
  };
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

export function buildStatus(input: {
  report: SyncReport;
  upstream: string;
  manifest: Manifest;
  generation?: string;
  lastSuccessAt?: string;
  nextRunAt?: Date;
  /** Release-relative image path → the device and image type it is for. */
  imageInfo?: Map<string, { device: string; type: string }>;
}): StatusFile {
  const { report, manifest } = input;
  const format = formatNamed(report.format);
  const releaseDir = `releases/${report.release}`;
  const feeds: StatusFeed[] = report.feeds
    .filter((feed) => [...manifest.keys()].some((file) => file.startsWith(`${feed.dir}/`)))
    .map((feed) => {
      let packages = 0;
      let bytes = 0;
      for (const [file, served] of manifest) {
        if (path.posix.dirname(file) === feed.dir && file.endsWith(format.packageExtension)) {
          packages++;
          bytes += served.size;
        }
      }
      return {
        name: feed.name,
        distName: feed.distName,
        path: `${releaseDir}/${feed.dir}`,
        state: feed.state,
        packages,
        bytes,
      };
    });
  const images: StatusFile['images'] = [];
  let bytes = 0;
  for (const [file, served] of manifest) {
    bytes += served.size;
    if (isImageFile(file)) {
      const info = input.imageInfo?.get(file);
      images.push({ path: `${releaseDir}/${file}`, bytes: served.size, ...info });
    }
  }
  return {
    schema: 1,
    mirror: {
      release: report.release,
      target: report.target,
      arch: report.arch,
      format: report.format ?? 'opkg',
      mode: report.mode,
      upstream: input.upstream,
      generation: input.generation,
    },
    feeds,
    images,
    served: {
      packages: feeds.reduce((sum, feed) => sum + feed.packages, 0),
      images: images.length,
      bytes,
      files: manifest.size,
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
    const fresh = buildStatus({ ...input, manifest: new Map() });
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
