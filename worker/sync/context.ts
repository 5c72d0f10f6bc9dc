/**
 * What every step of one sync shares, as seen from one release: the run's upstream, pool, keys,
 * report and budgets, and that release's last state and the validators learnt for it.
 */
import type { Config } from '../config.js';
import type { TrustedKeys } from '../feeds/trusted-keys.js';
import type { Logger } from '../log.js';
import type { LearnedPackage } from '../publish/learned.js';
import type { MirrorLock } from '../publish/lock.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import type { Pool } from '../publish/pool.js';
import type { ReleaseState, Validators } from '../publish/state.js';
import type { ServedFile } from '../publish/types.js';
import type { Upstream } from '../upstream/client.js';
import type { Asked, AskedAhead } from './ahead.js';
import type { IndexMemory } from './index-memory.js';
import type { Progress } from './progress.js';
import type { SideRequests } from './side.js';
import type { SyncReport } from './types.js';

export interface SyncContext {
  config: Config;
  /** The release this context reads and writes: `releases/<release>/…`, `state-<release>.json`. */
  release: string;
  dir: MirrorDir;
  pool: Pool;
  upstream: Upstream;
  keys: TrustedKeys;
  /** The release's state after the last run; read-only during the run. */
  previous: ReleaseState;
  /** Validators learnt in this run, committed to the state only for what was published. */
  validators: Record<string, Validators>;
  logger: Logger;
  report: SyncReport;
  now: () => Date;
  /** Held for the whole run; checked again before the switch. */
  lock: MirrorLock;
  /** What the indexes this run keeps may unpack to, together. */
  indexMemory: IndexMemory;
  /** What the run is doing, for status.json's `running`. */
  progress: Progress;
  /** The small requests nothing plans with, beside the downloads (side.ts). */
  side: SideRequests;
  /** The release's requests asked before its sets were discovered (ahead.ts). */
  ahead: AskedAhead;
  /** Packages nodes fetched on demand, read once at the start: each set's plan keeps its own. */
  learned: LearnedPackage[];
  signal?: AbortSignal;
}

/** The upstream path of a release-relative path. */
export function upstreamPath(ctx: SyncContext, rel: string): string {
  return `releases/${ctx.release}/${rel}`;
}

/**
 * Fetches a small file, revalidating it with the validators of the last good copy. Returns the
 * body (from the pool when unchanged) and whether it changed. The body is unverified. `side`: a
 * side request (side.ts).
 */
export async function fetchRevalidated(
  ctx: SyncContext,
  rel: string,
  maxBytes: number,
  { side = false }: { side?: boolean } = {},
): Promise<{ body: Buffer; changed: boolean }> {
  // Asked ahead, it was asked the same way: with the validators it comes back with.
  const { known, result } = ctx.ahead.take(rel) ?? askRevalidated(ctx, rel, maxBytes, side);
  // Together: a failed request is never left unhandled while the pool is asked.
  const [validators, answer] = await Promise.all([known, result]);
  if (validators && answer.notModified) {
    ctx.validators[rel] = validators;
    return { body: await ctx.pool.read(validators.sha256), changed: false };
  }
  return remember(ctx, rel, answer, validators?.sha256);
}

/** Asks for `rel` as fetchRevalidated will, before it does (ahead.ts). */
export function askRevalidatedAhead(ctx: SyncContext, rel: string, maxBytes: number): void {
  ctx.ahead.ask(rel, () => askRevalidated(ctx, rel, maxBytes, false));
}

/**
 * The request for `rel`, conditional on the last good copy's validators when the pool still has
 * it to answer a 304 with. Without validators it is made at once, so that requests go to the gate
 * in the order they are asked (a feed's marker before its companions).
 */
function askRevalidated(ctx: SyncContext, rel: string, maxBytes: number, side: boolean): Asked {
  const request = (validators?: Validators) =>
    ctx.upstream.fetch(upstreamPath(ctx, rel), {
      maxBytes,
      ...(validators && { etag: validators.etag, lastModified: validators.lastModified }),
      side,
    });
  const last = ctx.previous.validators[rel];
  if (last === undefined) return { result: request() };
  const known = ctx.pool.has(last.sha256).then((held) => (held ? last : undefined));
  return { known, result: known.then(request) };
}

/**
 * The last good copy of a file, without asking the upstream, when the caller knows it cannot have
 * changed (sha256sums while profiles.json, which lists the same image hashes, is unchanged).
 */
export async function lastGoodCopy(ctx: SyncContext, rel: string): Promise<Buffer | undefined> {
  const known = ctx.previous.validators[rel];
  if (!known || !(await ctx.pool.has(known.sha256, known.size))) return undefined;
  ctx.validators[rel] = known;
  return ctx.pool.read(known.sha256);
}

/** A file fetched (or revalidated) in this run, as it will be served. */
export function learntFile(ctx: SyncContext, rel: string): ServedFile {
  const validators = ctx.validators[rel];
  if (!validators) throw new Error(`internal: ${rel} was not fetched in this run`);
  return { sha256: validators.sha256, size: validators.size };
}

async function remember(
  ctx: SyncContext,
  rel: string,
  result: { body?: Buffer; etag?: string; lastModified?: string },
  previousSha: string | undefined,
): Promise<{ body: Buffer; changed: boolean }> {
  const body = result.body ?? Buffer.alloc(0);
  const sha256 = await ctx.pool.admitBuffer(body);
  ctx.validators[rel] = { etag: result.etag, lastModified: result.lastModified, sha256, size: body.length };
  return { body, changed: sha256 !== previousSha };
}
