/**
 * Where the statistics become visible: the worker reads what nginx logged since last time
 * (access-log.ts), counts it (tally.ts), keeps the counts and the place it reached together in
 * `.mirror/downloads.json` (one atomic write: a worker killed at any point counts each line once),
 * takes a rotated log once it is counted, and puts the summary into status.json (`downloads`) and
 * so into /metrics. The worker runs this on each heartbeat.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MirrorDir } from '../publish/mirror-dir.js';
import { emptyStatus } from '../status/status-file.js';
import { updateStatus } from '../status/status-store.js';
import {
  type LogCursor,
  ROTATED_LOG,
  readNewLines,
  START_CURSOR,
  statFile,
  withoutFile,
} from './access-log.js';
import { parseLogLine } from './requests.js';
import { type DownloadsSummary, DownloadTally, type TallyJson } from './tally.js';

export const DOWNLOADS_STATE = 'downloads.json';
/** How far ahead of the worker's clock a log line may be (nginx's and the worker's clocks differ a little). */
const FUTURE_TOLERANCE_MS = 5 * 60_000;

interface State {
  cursor: LogCursor;
  tally: TallyJson;
}

export interface IngestResult {
  lines: number;
  /** The state file was unreadable: set aside, counting started afresh. */
  warning?: string;
  summary: DownloadsSummary;
  /** More is logged than one call reads: call again soon. */
  more: boolean;
}

export interface IngestOptions {
  /** ACCESS_LOG_DIR: where nginx's access.json is. */
  logDir: string;
  timeZone: string;
  upstream: string;
  now?: () => Date;
  /** Most bytes of log one call reads (default 64 MiB). */
  maxBytes?: number;
}

/** Counts what was logged since the last call and records the summary in status.json. */
export async function ingestAccessLog(dir: MirrorDir, options: IngestOptions): Promise<IngestResult> {
  const now = options.now ?? (() => new Date());
  // Before the first sync the mirror directory may hold nothing yet.
  await dir.prepareRoot();
  const { state, warning } = await readState(dir);
  const tally = new DownloadTally(options.timeZone, state?.tally);
  // A line from the future (a clock that was ahead) would stay the "last day" for good: not counted.
  const latest = now().getTime() + FUTURE_TOLERANCE_MS;
  let lines = 0;
  const read = await readNewLines(
    options.logDir,
    state?.cursor ?? START_CURSOR,
    (line) => {
      lines++;
      const request = parseLogLine(line);
      if (request && request.time <= latest) tally.add(request);
      else tally.unreadableLine();
    },
    options.maxBytes,
  );
  if (read.overlong > 0) tally.unreadableLine(read.overlong);
  const summary = tally.summary(now());
  const counts = tally.toJSON();
  await writeState(dir, { cursor: read.cursor, tally: counts });
  if (read.rotatedDone) {
    // Counted and stored: the rotated file may go, and its inode out of the cursor (it may come back
    // as another file). A worker killed in between finds it again read to its end.
    const rotated = path.join(options.logDir, ROTATED_LOG);
    const stat = await statFile(rotated);
    await fs.rm(rotated, { force: true });
    if (stat) await writeState(dir, { cursor: withoutFile(read.cursor, stat.ino), tally: counts });
  }
  await updateStatus(dir, (current) => ({
    ...(current ?? emptyStatus(options.upstream)),
    downloads: summary,
  }));
  return { lines, summary, more: read.more, ...(warning && { warning }) };
}

async function readState(dir: MirrorDir): Promise<{ state?: State; warning?: string }> {
  const file = path.join(dir.internal, DOWNLOADS_STATE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  try {
    const state = JSON.parse(text) as State;
    if (Array.isArray(state?.cursor?.files) && state.tally?.schema === 1) return { state };
  } catch {
    // Set aside below.
  }
  await fs.rename(file, `${file}.unreadable`);
  return {
    warning: `${file} was not a download statistics state: kept as ${DOWNLOADS_STATE}.unreadable, counting again from the logs still there`,
  };
}

async function writeState(dir: MirrorDir, state: State): Promise<void> {
  await dir.writeAtomic(
    path.relative(dir.root, path.join(dir.internal, DOWNLOADS_STATE)),
    JSON.stringify(state),
  );
}
