/**
 * Where a router's request enters the worker: nginx's JSON access log, read incrementally from the
 * access-log volume (nginx/openwrt-mirror.d/access-log.conf writes it, the entrypoint script
 * nginx/docker-entrypoint.d/40-openwrt-mirror-access-log.sh rotates it).
 *
 * The files of that directory:
 *   access.json            nginx writes into it; read up to its last complete line
 *   access.json.rotating   being rotated: nginx may still write into it; not read until it is .1
 *   access.json.1          rotated and complete: read to its end, then deleted by the caller
 *
 * Where reading stopped is a cursor: the offset reached in each file, by inode, so a file keeps its
 * place when it is renamed (access.json becomes access.json.1 with the offset reached in it). The
 * caller keeps the cursor with what it counted, in one atomic write, so a worker killed at any
 * point counts each line once: lines read but not committed are read again.
 */
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export const ACCESS_LOG = 'access.json';
export const ROTATED_LOG = `${ACCESS_LOG}.1`;
export const ROTATING_LOG = `${ACCESS_LOG}.rotating`;

/** The offset reached in each file still there, by inode. */
export interface LogCursor {
  files: { inode: number; offset: number }[];
}

export const START_CURSOR: LogCursor = { files: [] };

/** A line longer than this is no line nginx's log_format writes: skipped whole. */
export const MAX_LINE_BYTES = 64 * 1024;
const CHUNK_BYTES = 1024 * 1024;

export interface LogRead {
  cursor: LogCursor;
  /** access.json.1 was read to its end: delete it once the cursor and the counts are stored. */
  rotatedDone: boolean;
  /** Stopped at `maxBytes`: more is waiting. */
  more: boolean;
  /** Lines skipped for their length. */
  overlong: number;
}

/**
 * Feeds every complete line not read before to `onLine`, oldest first (the rotated file before the
 * current one), reading at most `maxBytes`. A directory without a log yet reads nothing.
 */
export async function readNewLines(
  dir: string,
  cursor: LogCursor,
  onLine: (line: string) => void,
  maxBytes = 64 * 1024 * 1024,
): Promise<LogRead> {
  const offsets = new Map(cursor.files.map((file) => [file.inode, file.offset]));
  const result: LogRead = { cursor, rotatedDone: false, more: false, overlong: 0 };
  let budget = maxBytes;

  const rotated = await statFile(path.join(dir, ROTATED_LOG));
  if (rotated) {
    const read = await readFile(path.join(dir, ROTATED_LOG), offsets.get(rotated.ino) ?? 0, rotated.size, {
      budget,
      complete: true,
      inode: rotated.ino,
      onLine,
    });
    offsets.set(rotated.ino, read.offset);
    result.overlong += read.overlong;
    budget -= read.bytes;
    result.rotatedDone = read.offset >= rotated.size;
    if (!result.rotatedDone) result.more = true;
  }

  const current = await statFile(path.join(dir, ACCESS_LOG));
  if (current && !result.more) {
    // Smaller than where we were: the same inode was emptied or reused; start again from its top.
    let from = offsets.get(current.ino) ?? 0;
    if (from > current.size) from = 0;
    const read = await readFile(path.join(dir, ACCESS_LOG), from, current.size, {
      budget,
      complete: false,
      inode: current.ino,
      onLine,
    });
    offsets.set(current.ino, read.offset);
    result.overlong += read.overlong;
    result.more = read.stoppedAtBudget;
  }

  // Keep the offsets of the files still there. A rotation may have moved a file while we read, so
  // look again, in the order a file moves (access.json → .rotating → .1): a file renamed meanwhile
  // is seen under one name or the next, never under none, and keeps its offset.
  const after: (Stats | undefined)[] = [];
  for (const name of [ACCESS_LOG, ROTATING_LOG, ROTATED_LOG])
    after.push(await statFile(path.join(dir, name)));
  const present = new Set(
    [rotated?.ino, current?.ino, ...after.map((stat) => stat?.ino)].filter((ino) => ino !== undefined),
  );
  result.cursor = {
    files: [...offsets].filter(([inode]) => present.has(inode)).map(([inode, offset]) => ({ inode, offset })),
  };
  return result;
}

/** The cursor once access.json.1 is deleted: its inode may come back as another file. */
export function withoutFile(cursor: LogCursor, inode: number): LogCursor {
  return { files: cursor.files.filter((file) => file.inode !== inode) };
}

/** The file's stat when it is a regular file; a link (planted or not) is no log of ours. */
export async function statFile(file: string): Promise<Stats | undefined> {
  try {
    const stat = await fs.lstat(file);
    return stat.isFile() ? stat : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

interface FileRead {
  /** Where the next read starts: after the last line handed over. */
  offset: number;
  bytes: number;
  overlong: number;
  stoppedAtBudget: boolean;
}

/**
 * Reads `file` from `from` to `size` in chunks. `complete`: the file is finished, so a last line
 * without its newline (a crash) is a line too; otherwise it waits for the rest.
 */
async function readFile(
  file: string,
  from: number,
  size: number,
  options: { budget: number; complete: boolean; inode: number; onLine: (line: string) => void },
): Promise<FileRead> {
  const result: FileRead = { offset: from, bytes: 0, overlong: 0, stoppedAtBudget: false };
  if (from >= size) return result;
  const handle = await fs.open(file, 'r');
  try {
    // Renamed between the look and the open: another file is under this name now; next time.
    if ((await handle.stat()).ino !== options.inode) return result;
    const buffer = Buffer.alloc(CHUNK_BYTES);
    let position = from;
    // Bytes of a line begun in an earlier chunk; `skipping` once it is too long to keep.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let skipping = false;
    while (position < size) {
      if (result.bytes >= options.budget) {
        result.stoppedAtBudget = true;
        break;
      }
      // Never less than a whole line's worth, so that a small budget still moves on.
      const want = Math.min(
        CHUNK_BYTES,
        size - position,
        Math.max(options.budget - result.bytes, MAX_LINE_BYTES + 1),
      );
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      if (bytesRead === 0) break;
      let start = 0;
      for (let newline = buffer.indexOf(10, start); newline >= 0 && newline < bytesRead; ) {
        if (skipping) {
          result.overlong++;
          skipping = false;
        } else {
          const tail = buffer.subarray(start, newline);
          const line = pendingBytes > 0 ? Buffer.concat([...pending, tail]) : tail;
          if (line.length > MAX_LINE_BYTES) result.overlong++;
          else if (line.length > 0) options.onLine(line.toString('utf8'));
        }
        pending = [];
        pendingBytes = 0;
        start = newline + 1;
        result.offset = position + start;
        newline = buffer.indexOf(10, start);
      }
      if (start < bytesRead && !skipping) {
        pending.push(Buffer.from(buffer.subarray(start, bytesRead)));
        pendingBytes += bytesRead - start;
        if (pendingBytes > MAX_LINE_BYTES) {
          skipping = true;
          pending = [];
          pendingBytes = 0;
        }
      }
      position += bytesRead;
      result.bytes += bytesRead;
    }
    if (options.complete && position >= size && result.offset < size) {
      if (skipping) result.overlong++;
      else if (pendingBytes > 0) options.onLine(Buffer.concat(pending).toString('utf8'));
      result.offset = size;
    }
  } finally {
    await handle.close();
  }
  return result;
}
