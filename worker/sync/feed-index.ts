/**
 * A feed's index, checked before it is trusted: Packages.sig verifies Packages against a trusted
 * key, Packages.gz unpacks to exactly Packages, the index parses, and it does not suddenly list far
 * fewer packages than the last good one. Packages.sig is revalidated first: an unchanged signature
 * means an unchanged feed, so a quiet night costs one conditional request per feed.
 */
import { gunzipSync } from 'node:zlib';
import { IntegrityError, UntrustedInputError, UpstreamError } from '../errors.js';
import { MAX_INDEX_BYTES, parsePackagesIndex } from '../feeds/packages-index.js';
import type { PackageRecord } from '../feeds/types.js';
import { verifyUsign } from '../feeds/usign.js';
import type { ServedFile } from '../publish/generation.js';
import { fetchRevalidated, type SyncContext, upstreamPath } from './context.js';
import type { FeedRef } from './discover.js';

export interface FeedIndex {
  ref: FeedRef;
  packages: PackageRecord[];
  /** Index files to serve, by file name. */
  indexFiles: Record<string, ServedFile>;
  changed: boolean;
  /** Entries of the index that were skipped, with the reason. */
  problems: string[];
}

/** Index files besides Packages.gz/Packages.sig that a feed directory carries; served when present. */
const OPTIONAL_INDEX_FILES = ['Packages.manifest', 'index.json'];

/** Below this many packages a shrinking index is not suspicious (small feeds change a lot). */
const SHRINK_FLOOR = 20;
/** An index that lists less than this share of the last good one's packages is refused. */
const SHRINK_RATIO = 0.5;

export async function fetchFeedIndex(ctx: SyncContext, ref: FeedRef): Promise<FeedIndex> {
  const last = ctx.previous.feeds[ref.dir];
  const sigRel = `${ref.dir}/Packages.sig`;
  const signature = await fetchRevalidated(ctx, sigRel, 64 * 1024);

  if (!signature.changed && last && (await allInPool(ctx, last.indexFiles))) {
    const packagesFile = last.indexFiles.Packages;
    if (packagesFile) {
      const text = (await ctx.pool.read(packagesFile.sha256)).toString('utf8');
      const parsed = parsePackagesIndex(text);
      return {
        ref,
        packages: parsed.packages,
        indexFiles: last.indexFiles,
        changed: false,
        problems: parsed.problems,
      };
    }
  }

  const packages = await fetchIndexFile(ctx, `${ref.dir}/Packages`);
  try {
    verifyUsign(packages, signature.body.toString('utf8'), ctx.keys);
  } catch (error) {
    throw new UntrustedInputError(`${ref.dir}/Packages: ${(error as Error).message}`, { cause: error });
  }

  const gz = await fetchIndexFile(ctx, `${ref.dir}/Packages.gz`);
  let unpacked: Buffer;
  try {
    unpacked = gunzipSync(gz, { maxOutputLength: MAX_INDEX_BYTES });
  } catch (error) {
    throw new IntegrityError(
      `${ref.dir}/Packages.gz`,
      'a gzip stream',
      `unreadable data (${(error as Error).message})`,
    );
  }
  if (!unpacked.equals(packages)) {
    throw new IntegrityError(
      `${ref.dir}/Packages.gz`,
      'the gzip of Packages',
      'different content',
      'content',
    );
  }

  const parsed = parsePackagesIndex(packages.toString('utf8'));
  if (last && last.packages >= SHRINK_FLOOR && parsed.packages.length < last.packages * SHRINK_RATIO) {
    throw new UntrustedInputError(
      `${ref.dir}/Packages lists ${parsed.packages.length} packages where the last good index listed ${last.packages}: ` +
        'the upstream looks broken, keeping the last good state',
    );
  }

  const indexFiles: Record<string, ServedFile> = {
    Packages: await admit(ctx, packages),
    'Packages.gz': await admit(ctx, gz),
    'Packages.sig': await admit(ctx, signature.body),
  };
  for (const name of OPTIONAL_INDEX_FILES) {
    const body = await fetchIndexFile(ctx, `${ref.dir}/${name}`, { optional: true });
    if (body) indexFiles[name] = await admit(ctx, body);
  }
  return { ref, packages: parsed.packages, indexFiles, changed: true, problems: parsed.problems };
}

async function fetchIndexFile(
  ctx: SyncContext,
  rel: string,
  options: { optional: true },
): Promise<Buffer | undefined>;
async function fetchIndexFile(ctx: SyncContext, rel: string): Promise<Buffer>;
async function fetchIndexFile(
  ctx: SyncContext,
  rel: string,
  options?: { optional: true },
): Promise<Buffer | undefined> {
  try {
    const result = await ctx.upstream.fetch(upstreamPath(ctx, rel), { maxBytes: MAX_INDEX_BYTES });
    return result.body ?? Buffer.alloc(0);
  } catch (error) {
    if (options?.optional && error instanceof UpstreamError && error.details.status === 404) return undefined;
    throw error;
  }
}

async function admit(ctx: SyncContext, body: Buffer): Promise<ServedFile> {
  return { sha256: await ctx.pool.admitBuffer(body), size: body.length };
}

async function allInPool(ctx: SyncContext, files: Record<string, ServedFile>): Promise<boolean> {
  for (const file of Object.values(files)) {
    if (!(await ctx.pool.has(file.sha256, file.size))) return false;
  }
  return true;
}
