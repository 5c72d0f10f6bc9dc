/**
 * The target directory of the next generation: profiles.json, and with devices the images and the
 * signed sha256sums that vouch for them. Its files must agree with each other and with the feeds
 * served beside them — OpenWrt's sha256sums lists the core (`packages/`) and `kmods/` files too —
 * so sums that list a served file with another hash are never served with it: the directory stays
 * as the last generation had it when that agrees, and goes without sums when nothing does.
 */
import type { Manifest, ServedFile } from '../publish/types.js';
import { copyDirectoryFiles } from './assemble.js';
import type { FetchOutcome } from './download.js';
import type { ImagePlan } from './images.js';
import type { Failure } from './report.js';

export interface TargetDirInput {
  /** `targets/<target>/<subtarget>` */
  targetDir: string;
  /** profiles.json as fetched in this run. */
  profiles: ServedFile;
  /** Undefined when no devices are configured. */
  images?: { plan?: ImagePlan; outcomes: Map<string, FetchOutcome> };
  previousFiles: Map<string, ServedFile>;
  /** The listing of a sha256sums file already in the pool. */
  readSums(file: ServedFile): Promise<Map<string, string>>;
}

export interface TargetDirResult {
  failures: Failure[];
  /** 'new': this run's files are served; 'kept': the last generation's; 'unsigned': no sums served. */
  served: 'new' | 'kept' | 'unsigned';
}

/** Adds the target directory's own files to `manifest`, which already holds every feed. */
export async function assembleTargetDir(manifest: Manifest, input: TargetDirInput): Promise<TargetDirResult> {
  const { targetDir, images } = input;
  const failures: Failure[] = [];
  const plan = images?.plan;
  const failed = plan ? plan.wanted.filter((file) => !images?.outcomes.get(file.rel)?.ok) : [];
  for (const file of failed) {
    const outcome = images?.outcomes.get(file.rel) as Extract<FetchOutcome, { ok: false }>;
    failures.push({ file: file.rel, reason: outcome.reason });
  }

  const fresh: Manifest = new Map([[`${targetDir}/profiles.json`, input.profiles]]);
  if (plan) {
    for (const [name, file] of Object.entries(plan.indexFiles)) fresh.set(`${targetDir}/${name}`, file);
    for (const file of plan.wanted) {
      const outcome = images?.outcomes.get(file.rel);
      if (outcome?.ok) fresh.set(file.rel, outcome.served);
    }
  }
  // The images stay as they were, with the profiles.json and sums that describe them.
  const kept: Manifest = new Map();
  copyDirectoryFiles(input.previousFiles, kept, targetDir);
  if (!kept.has(`${targetDir}/profiles.json`)) kept.set(`${targetDir}/profiles.json`, input.profiles);

  const freshUsable = images === undefined || (plan !== undefined && failed.length === 0);
  let served: TargetDirResult['served'] = freshUsable ? 'new' : 'kept';
  let chosen = freshUsable ? fresh : kept;
  const freshSums = plan?.sums;
  const disagreeing = await disagreements(
    manifest,
    chosen,
    targetDir,
    freshUsable ? freshSums : undefined,
    input,
  );
  if (disagreeing.length > 0) {
    const example = disagreeing.slice(0, 3).join(', ');
    const also = disagreeing.length > 3 ? ` and ${disagreeing.length - 3} more` : '';
    const list = `lists ${example}${also} with another sha256 than the files served beside it`;
    if (served === 'new' && (await disagreements(manifest, kept, targetDir, undefined, input)).length === 0) {
      chosen = kept;
      served = 'kept';
      failures.push({
        file: `${targetDir}/sha256sums`,
        reason: `${list}: the target directory stays as it was`,
      });
    } else {
      chosen = new Map([...chosen].filter(([file]) => !/\/sha256sums(\.sig)?$/.test(file)));
      served = 'unsigned';
      failures.push({
        file: `${targetDir}/sha256sums`,
        reason: `${list}: not served until it agrees again`,
      });
    }
  }
  for (const [file, servedFile] of chosen) manifest.set(file, servedFile);
  return { failures, served };
}

/**
 * Paths (below the target directory) that the sums of `target` list with another hash than
 * `manifest` plus `target` serve. `listing` is those sums' contents when the caller has them.
 */
async function disagreements(
  manifest: Manifest,
  target: Manifest,
  targetDir: string,
  listing: Map<string, string> | undefined,
  input: TargetDirInput,
): Promise<string[]> {
  const sumsFile = target.get(`${targetDir}/sha256sums`);
  if (sumsFile === undefined) return [];
  const sums = listing ?? (await input.readSums(sumsFile));
  const out: string[] = [];
  for (const [name, sha256] of sums) {
    const rel = `${targetDir}/${name}`;
    const served = target.get(rel) ?? manifest.get(rel);
    if (served !== undefined && served.sha256 !== sha256) out.push(name);
  }
  return out;
}

/**
 * Files kept for the grace period that the served sums list with another hash: dropped, since the
 * directory's files must agree (a grace file is a courtesy, the signed sums are not).
 */
export async function dropGraceFilesAgainstSums(
  manifest: Manifest,
  grace: Iterable<string>,
  targetDir: string,
  readSums: TargetDirInput['readSums'],
): Promise<string[]> {
  const sumsFile = manifest.get(`${targetDir}/sha256sums`);
  if (sumsFile === undefined) return [];
  const sums = await readSums(sumsFile);
  const dropped: string[] = [];
  for (const file of grace) {
    if (!file.startsWith(`${targetDir}/`)) continue;
    const listed = sums.get(file.slice(targetDir.length + 1));
    if (listed !== undefined && listed !== manifest.get(file)?.sha256) {
      manifest.delete(file);
      dropped.push(file);
    }
  }
  return dropped;
}
