/**
 * MIRROR_DIR/history.json: the last runs, newest last — start, duration, result, files, bytes,
 * requests and what failed — for the page's chart and for whoever asks "since when has it failed?".
 * Appended at the end of every recorded run, under the sync's own lock (one run at a time), so it
 * needs no lock of its own.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MirrorDir } from '../publish/mirror-dir.js';
import type { SyncReport } from '../sync/types.js';
import { failureLine } from './lines.js';
import { listedChanges, type StatusChanges } from './status-file.js';

export const HISTORY_FILE = 'history.json';
/** How many runs are kept: a month of nightly syncs. */
export const HISTORY_RUNS = 30;
/** Failures kept per run: enough to tell what went wrong; status.json has the last run's all. */
const FAILURES_KEPT = 20;
/** Changes kept per list and run: the page shows them; status.json has more of the last run's. */
const CHANGES_KEPT = 50;

export interface HistoryRun {
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  result?: string;
  planned: number;
  downloaded: number;
  skipped: number;
  failed: number;
  bytes: number;
  /** Requests the upstream saw, retries included. */
  requests: number;
  /** The first failures, as `status` words them, and how many there were in all. */
  failures: string[];
  failureCount: number;
  /** What the run changed: the first few of each list, and the counts. */
  changes?: StatusChanges;
}

export interface History {
  schema: 1;
  runs: HistoryRun[];
}

export function historyRun(report: SyncReport): HistoryRun {
  return {
    startedAt: report.startedAt,
    ...(report.finishedAt !== undefined && { finishedAt: report.finishedAt }),
    ...(report.durationMs !== undefined && { durationMs: report.durationMs }),
    ...(report.result !== undefined && { result: report.result }),
    planned: report.planned,
    downloaded: report.downloaded,
    skipped: report.skipped,
    failed: report.failed,
    bytes: report.bytes,
    requests: report.upstream?.requests ?? 0,
    failures: report.failures.slice(0, FAILURES_KEPT).map(failureLine),
    failureCount: report.failures.length,
    changes: listedChanges(report.changes, CHANGES_KEPT),
  };
}

export async function readHistory(root: string): Promise<History> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(root, HISTORY_FILE), 'utf8')) as History;
    if (parsed.schema === 1 && Array.isArray(parsed.runs)) return parsed;
  } catch {
    // None yet, or unreadable: a history starts afresh.
  }
  return { schema: 1, runs: [] };
}

/** Adds a run, keeping the last HISTORY_RUNS. */
export async function appendHistory(dir: MirrorDir, run: HistoryRun): Promise<void> {
  const history = await readHistory(dir.root);
  const runs = [...history.runs, run].slice(-HISTORY_RUNS);
  await dir.writeAtomic(HISTORY_FILE, `${JSON.stringify({ schema: 1, runs }, null, 1)}\n`);
}
