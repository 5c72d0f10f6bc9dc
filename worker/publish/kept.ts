/**
 * Generations kept for going back: each published generation leaves a record in
 * `.mirror/kept/<id>.json` (its release, when, what it serves) and beside it the release's state as
 * it was published (`<id>.state.json`, what a rollback restores), and the newest KEEP_GENERATIONS of
 * each release stay on disk (hard links into the pool: a generation costs only the files no other
 * one shares). `rollback` switches a release back to one of them with the publish's own rename and
 * pins it there; `unpin` lets the syncs move on. The states are apart because they are big (2 MB at
 * 11,000 packages) and only `rollback` and `generations` read them; every run and every status.json
 * reads the records.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { RELEASE } from '../config/rules.js';
import { byCodeUnits } from '../order.js';
import { generationDir, generationOfLink } from './generation.js';
import type { MirrorDir } from './mirror-dir.js';
import { countedInside, type ReleaseState, stateText } from './state.js';
import type { Manifest, ServedFile } from './types.js';

export interface KeptSummary {
  schema: 1;
  id: string;
  release: string;
  publishedAt: string;
  files: number;
  bytes: number;
  /** Package files (`.ipk`, `.apk`) it serves. */
  packages: number;
  /** Made by `rollback`: the generation it serves again. */
  rollbackOf?: string;
}

/** A state as a generation was published, with its files inside: what a rollback restores. */
export type WholeState = ReleaseState & { files: Record<string, ServedFile> };

export interface KeptGeneration extends KeptSummary {
  /** The release's state as this generation was published: what a rollback restores. */
  state: WholeState;
}

const KEPT = 'kept';

/** Written before the switch, the state first: a record is whole once its summary is there. */
export async function recordGeneration(
  dir: MirrorDir,
  record: KeptSummary & {
    state: Omit<ReleaseState, 'files'> & { files: Manifest | Record<string, ServedFile> };
  },
): Promise<void> {
  const { state, ...summary } = record;
  await dir.writeAtomic(path.join('.mirror', KEPT, `${record.id}${STATE}`), () => stateText(state));
  await dir.writeAtomic(path.join('.mirror', KEPT, `${record.id}.json`), `${JSON.stringify(summary)}\n`);
}

const STATE = '.state.json';

/** The kept generations of `release` (every release when undefined) still on disk, newest first. */
export async function keptGenerations(dir: MirrorDir, release?: string): Promise<KeptSummary[]> {
  const names = await fs.readdir(path.join(dir.internal, KEPT)).catch(() => [] as string[]);
  const records: KeptSummary[] = [];
  for (const name of names) {
    if (!/^[A-Za-z0-9-]+\.json$/.test(name)) continue;
    try {
      const record = JSON.parse(
        await fs.readFile(path.join(dir.internal, KEPT, name), 'utf8'),
      ) as KeptSummary;
      if (record.schema !== 1 || `${record.id}.json` !== name || !namesItsRelease(record)) continue;
      if (release !== undefined && record.release !== release) continue;
      const stat = await fs.lstat(generationDir(dir, record.id)).catch(() => undefined);
      if (stat?.isDirectory()) records.push(record);
    } catch {
      // A record cut short by a crash describes nothing: its generation goes with the next clean-up.
    }
  }
  return records.sort((a, b) => byCodeUnits(b.publishedAt, a.publishedAt) || byCodeUnits(b.id, a.id));
}

/**
 * The kept generations with the states they restore, newest first: only those whose state is whole
 * and about their own release (records of before the split hold it inside).
 */
export async function keptWithStates(dir: MirrorDir, release?: string): Promise<KeptGeneration[]> {
  const kept: KeptGeneration[] = [];
  for (const record of await keptGenerations(dir, release)) {
    const inside = (record as Partial<KeptGeneration>).state;
    const state =
      inside ??
      (await fs
        .readFile(path.join(dir.internal, KEPT, `${record.id}${STATE}`), 'utf8')
        .then((text) => JSON.parse(text) as WholeState)
        .catch(() => undefined));
    if (state === undefined || !describesItself(record, state)) continue;
    // Kept before states counted their files: counted now.
    kept.push({ ...record, state: { ...state, served: countedInside(state) } });
  }
  return kept;
}

function namesItsRelease(record: KeptSummary): boolean {
  return typeof record.release === 'string' && RELEASE.pattern.test(record.release);
}

/**
 * Whether a state is whole and about the record's release: rollback writes the state, under the
 * name of the release that state names. A state edited or damaged into naming another release
 * would overwrite and pin that one's state while switching this one.
 */
function describesItself(record: KeptSummary, state: Partial<ReleaseState>): state is WholeState {
  return (
    state?.schema === 1 &&
    state.release === record.release &&
    typeof state.files === 'object' &&
    state.files !== null &&
    typeof state.dropped === 'object' &&
    state.dropped !== null
  );
}

/**
 * Removes every generation that is neither served by a release link nor among the newest `keep`
 * kept ones of its release (half-built ones from killed runs have no record: they go), and the
 * records of generations gone. A release no longer served keeps none. Returns how many
 * generations were removed.
 */
export async function removeUnkeptGenerations(dir: MirrorDir, keep: number): Promise<number> {
  const wanted = new Set<string>();
  const served = new Set<string>();
  for (const entry of await fs.readdir(dir.releasesDir).catch(() => [] as string[])) {
    const id = generationOfLink(await fs.readlink(path.join(dir.releasesDir, entry)).catch(() => ''));
    if (id) {
      wanted.add(id);
      served.add(entry);
    }
  }
  const byRelease = new Map<string, number>();
  for (const record of await keptGenerations(dir)) {
    // A release no longer served (withdrawn) keeps nothing to go back to.
    if (!served.has(record.release)) continue;
    const seen = byRelease.get(record.release) ?? 0;
    if (seen < keep) wanted.add(record.id);
    byRelease.set(record.release, seen + 1);
  }
  let removed = 0;
  for (const name of await fs.readdir(dir.generations).catch(() => [] as string[])) {
    if (wanted.has(name)) continue;
    // The on-demand listener may link a file into a tree just switched away from while it goes:
    // rmdir then meets a directory not empty, which a retry empties (Node retries ENOTEMPTY).
    await fs.rm(path.join(dir.generations, name), { recursive: true, force: true, maxRetries: 5 });
    removed++;
  }
  for (const name of await fs.readdir(path.join(dir.internal, KEPT)).catch(() => [] as string[])) {
    if (!wanted.has(name.replace(/(\.state)?\.json$/, '')))
      await fs.rm(path.join(dir.internal, KEPT, name), { force: true });
  }
  return removed;
}
