/**
 * The freshness signals OpenWrt's and Debian's mirror networks ask of a mirror, so that a mirror
 * of this mirror (a site under a central one) and people can tell how fresh it is:
 * `MIRROR_DIR/lastsync`, the epoch seconds of the last successful sync, and `MIRROR_DIR/trace.json`,
 * what it mirrors from, when, which generations it serves and which software does it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MirrorDir } from '../publish/mirror-dir.js';
import { packageVersion } from '../version.js';

export const LASTSYNC_FILE = 'lastsync';
export const TRACE_FILE = 'trace.json';
/** Older than this, an upstream's last sync is worth a warning: a site can be no fresher than its upstream. */
export const STALE_UPSTREAM_MS = 24 * 60 * 60 * 1000;

export interface Trace {
  software: 'openwrt-mirror';
  version: string;
  upstream: string;
  /** The last successful sync (every release succeeded), ISO and epoch seconds as in lastsync. */
  lastSync?: string;
  lastSyncEpoch?: number;
  /** The last run, whatever its result. */
  lastRun: { startedAt: string; finishedAt?: string; result?: string };
  /** Generation served per release. */
  generations: Record<string, string>;
  /** The upstream's own /lastsync when it has one (another openwrt-mirror, a tier above). */
  upstreamLastSync?: string;
}

export async function writeTrace(dir: MirrorDir, trace: Omit<Trace, 'software' | 'version'>): Promise<void> {
  const full: Trace = { software: 'openwrt-mirror', version: packageVersion(), ...trace };
  if (trace.lastSync !== undefined) {
    const epoch = Math.floor(Date.parse(trace.lastSync) / 1000);
    full.lastSyncEpoch = epoch;
    await dir.writeAtomic(LASTSYNC_FILE, `${epoch}\n`);
  }
  await dir.writeAtomic(TRACE_FILE, `${JSON.stringify(full, null, 1)}\n`);
}

/** An upstream's lastsync body as a date; undefined when it is not one (a 404 page, garbage). */
export function parseLastsync(body: Buffer, now: Date): Date | undefined {
  const match = /^\s*(\d{9,11})\s*$/.exec(body.toString('latin1'));
  if (!match) return undefined;
  const date = new Date(Number(match[1]) * 1000);
  // A clock far ahead is no freshness either.
  return date.getTime() > now.getTime() + 5 * 60 * 1000 ? undefined : date;
}

/** Where the mirror remembers that its upstream has no /lastsync, and since when. */
const MISSING_FILE = 'upstream-lastsync.json';
const ASK_AGAIN_MS = 24 * 60 * 60 * 1000;

export async function lastsyncKnownMissing(dir: MirrorDir, upstream: string, now: Date): Promise<boolean> {
  try {
    const known = JSON.parse(await fs.readFile(path.join(dir.internal, MISSING_FILE), 'utf8'));
    return known.upstream === upstream && now.getTime() - Date.parse(known.since) < ASK_AGAIN_MS;
  } catch {
    return false;
  }
}

export async function rememberLastsyncMissing(dir: MirrorDir, upstream: string, now: Date): Promise<void> {
  await dir.writeAtomic(
    path.join('.mirror', MISSING_FILE),
    `${JSON.stringify({ upstream, since: now.toISOString() })}\n`,
  );
}
