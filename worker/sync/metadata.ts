/**
 * What firmware-selector and attended-sysupgrade clients read besides the targets, served
 * upstream-identical: each release's `.targets.json`, inside the release's generation (it switches
 * with the publish), and the upstream's `/.versions.json`, at the top of MIRROR_DIR. Both are
 * unsigned: checked for what those clients read (feeds/metadata.ts). A refused one is a failure and
 * leaves the last good one served; one the upstream cannot give now is a warning, with the same
 * outcome; an upstream that has none (a test server, an older mirror) serves none.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { AbortedError, UntrustedInputError, UpstreamError } from '../errors.js';
import {
  checkTargetsFile,
  checkVersionsFile,
  MAX_METADATA_BYTES,
  TARGETS_FILE,
  VERSIONS_FILE,
  type VersionsFile,
} from '../feeds/metadata.js';
import type { ServedFile } from '../publish/types.js';
import type { Assembly } from './assemble.js';
import { fetchRevalidated, learntFile, type SyncContext } from './context.js';

/** What this run can serve of a release's `.targets.json`. */
export type TargetsListOutcome =
  | { taken: 'new'; file: ServedFile }
  | { taken: 'absent' }
  | { taken: 'refused'; reason: string }
  | { taken: 'unreachable'; reason: string };

/** The release's `.targets.json`, fetched (conditionally) and checked. Throws only on a stop. */
export async function fetchTargetsList(ctx: SyncContext): Promise<TargetsListOutcome> {
  try {
    const { body } = await fetchRevalidated(ctx, TARGETS_FILE, MAX_METADATA_BYTES, { side: true });
    checkTargetsFile(body, `releases/${ctx.release}/${TARGETS_FILE}`);
    return { taken: 'new', file: learntFile(ctx, TARGETS_FILE) };
  } catch (error) {
    if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
    if (isMissing(error)) return { taken: 'absent' };
    if (error instanceof UntrustedInputError) return { taken: 'refused', reason: error.message };
    if (error instanceof UpstreamError) return { taken: 'unreachable', reason: error.message };
    throw error;
  }
}

/**
 * Puts the release's `.targets.json` into its next generation: the new one, or the last good one
 * when this run's was refused or could not be had. Never kept for the grace period on its own: it
 * is an index of the release, not a file one lists.
 */
export function placeTargetsList(
  ctx: SyncContext,
  outcome: TargetsListOutcome,
  assembly: Assembly,
  previousFiles: Map<string, ServedFile>,
): void {
  assembly.manifest.delete(TARGETS_FILE);
  delete assembly.dropped[TARGETS_FILE];
  if (outcome.taken === 'new') {
    assembly.manifest.set(TARGETS_FILE, outcome.file);
    assembly.fresh.add(TARGETS_FILE);
    return;
  }
  if (outcome.taken === 'absent') {
    ctx.logger.debug(`${ctx.release}: the upstream has no ${TARGETS_FILE}`, { phase: 'publish' });
    return;
  }
  const last = previousFiles.get(TARGETS_FILE);
  if (last) {
    assembly.manifest.set(TARGETS_FILE, last);
    assembly.kept.add(TARGETS_FILE);
  }
  const reason = `${outcome.reason}: ${last ? 'the last good one stays served' : 'none is served'}`;
  if (outcome.taken === 'refused') {
    ctx.report.failures.push({ reason });
    ctx.logger.error(reason, { phase: 'publish' });
  } else {
    ctx.report.warnings.push(reason);
    ctx.logger.warn(reason, { phase: 'publish' });
  }
}

/** Where the validators of the served `.versions.json` are kept, for a conditional request. */
const VERSIONS_VALIDATORS = '.mirror/versions-file.json';

interface VersionsValidators {
  etag?: string;
  lastModified?: string;
  sha256: string;
}

/**
 * The upstream's `/.versions.json`, fetched (conditionally), checked and written atomically to
 * MIRROR_DIR/.versions.json when it changed. Returns what is served afterwards, for the
 * new-release notices; undefined when nothing is. Throws only on a stop.
 */
export async function syncVersionsFile(
  ctx: Pick<SyncContext, 'upstream' | 'dir' | 'report' | 'logger' | 'signal'>,
): Promise<VersionsFile | undefined> {
  const { dir, upstream, report, logger } = ctx;
  const servedPath = path.join(dir.root, VERSIONS_FILE);
  const served = await fs.readFile(servedPath).catch(() => undefined);
  const known = served && (await readValidators(dir.root, served));
  const stillServed = () => {
    try {
      return served && checkVersionsFile(served);
    } catch {
      return undefined;
    }
  };
  try {
    const result = await upstream.fetch(VERSIONS_FILE, {
      maxBytes: MAX_METADATA_BYTES,
      side: true,
      ...(known?.etag !== undefined && { etag: known.etag }),
      ...(known?.lastModified !== undefined && { lastModified: known.lastModified }),
    });
    if (result.notModified && served) return stillServed();
    const body = result.body ?? Buffer.alloc(0);
    const versions = checkVersionsFile(body, `${VERSIONS_FILE} from the upstream`);
    if (!served?.equals(body)) await dir.writeAtomic(VERSIONS_FILE, body);
    const validators: VersionsValidators = {
      ...(result.etag !== undefined && { etag: result.etag }),
      ...(result.lastModified !== undefined && { lastModified: result.lastModified }),
      sha256: sha256(body),
    };
    await dir.writeAtomic(VERSIONS_VALIDATORS, `${JSON.stringify(validators)}\n`);
    return versions;
  } catch (error) {
    if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
    if (isMissing(error)) {
      // As the upstream: it has none (a test server, an older mirror), so none is served.
      await fs.rm(servedPath, { force: true });
      await fs.rm(path.join(dir.root, VERSIONS_VALIDATORS), { force: true });
      logger.debug(`the upstream has no ${VERSIONS_FILE}`, { phase: 'publish' });
      return undefined;
    }
    if (!(error instanceof UntrustedInputError) && !(error instanceof UpstreamError)) throw error;
    const reason = `${error.message}: ${served ? 'the last good one stays served' : 'none is served'}`;
    if (error instanceof UpstreamError) {
      report.warnings.push(reason);
      logger.warn(reason, { phase: 'publish' });
    } else {
      report.failures.push({ reason });
      logger.error(reason, { phase: 'publish' });
    }
    return stillServed();
  }
}

/** The validators of the served file, when they belong to its bytes. */
async function readValidators(root: string, served: Buffer): Promise<VersionsValidators | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(path.join(root, VERSIONS_VALIDATORS), 'utf8')) as unknown;
    const validators = parsed as Partial<VersionsValidators> | null;
    if (validators?.sha256 !== sha256(served)) return undefined;
    return {
      sha256: validators.sha256,
      ...(typeof validators.etag === 'string' && { etag: validators.etag }),
      ...(typeof validators.lastModified === 'string' && { lastModified: validators.lastModified }),
    };
  } catch {
    return undefined;
  }
}

/** A 404 (or 410): the upstream has no such file. */
function isMissing(error: unknown): boolean {
  const status = error instanceof UpstreamError ? error.details.status : undefined;
  return status === 404 || status === 410;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
