/**
 * Making a run's result visible. Per release: its generation is built, its state written, and its
 * link switched, on its own. For the mirror as a whole: each set's feed lines for a node, the lines
 * at the top where exactly one set of a format is mirrored (or the list of the sets' where several
 * are), the list of sets, and status.json.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { FeedFormat } from '../formats/format.js';
import { allFormats } from '../formats/index.js';
import { buildGeneration, currentGeneration, switchGeneration } from '../publish/generation.js';
import { recordGeneration, removeUnkeptGenerations } from '../publish/kept.js';
import type { MirrorDir } from '../publish/mirror-dir.js';
import { servedTotals } from '../publish/served.js';
import { type FeedState, type ReleaseState, writeState } from '../publish/state.js';
import type { Manifest } from '../publish/types.js';
import { MIRROR_URL_PLACEHOLDER, renderDistfeeds } from '../status/distfeeds.js';
import { type ListSource, packageListPath, packageListText, SEARCH_DIR } from '../status/package-list.js';
import { count } from '../status/units.js';
import type { Assembly, Unit } from './assemble.js';
import type { SyncContext } from './context.js';
import type { UsableFeed } from './indexes.js';
import type { SetLines } from './types.js';

/**
 * What the next state records of each directory's index: the new one for a feed taken new, the last
 * one for a feed kept (and for a withdrawn one in its grace period). Undefined when no feed can be
 * served whole: then nothing is published.
 */
export function feedStatesOf(input: {
  units: Unit[];
  decisions: Assembly['decisions'];
  usable: UsableFeed[];
  previous: ReleaseState;
  withdrawn: Map<string, string>;
}): Record<string, FeedState> | undefined {
  const usableByDir = new Map(input.usable.map((feed) => [feed.ref.dir, feed]));
  const states: Record<string, FeedState> = {};
  for (const unit of input.units) {
    const taken = input.decisions.get(unit.dir)?.taken;
    if (
      taken === undefined ||
      taken === 'failed' ||
      (unit.feed === undefined && !input.previous.feeds[unit.dir])
    )
      continue;
    const feed = usableByDir.get(unit.dir);
    const state =
      taken === 'new' && feed?.index
        ? {
            name: feed.ref.name,
            dir: unit.dir,
            indexFiles: feed.index.indexFiles,
            packages: feed.index.count,
          }
        : (input.previous.feeds[unit.dir] ?? feed?.lastGood);
    if (state) states[unit.dir] = state;
  }
  if (Object.keys(states).length === 0) return undefined;
  for (const dir of input.withdrawn.keys()) {
    const last = input.previous.feeds[dir];
    if (last) states[dir] = last;
  }
  return states;
}

/**
 * Builds the generation (unless the tree would be the one served), records the state, switches.
 * The state first: a full disk after the switch must not leave a served tree the state does not
 * describe; a state ahead of the link (the switch failed) only makes the next run switch again.
 * Returns the generation served.
 */
export async function publishRelease(
  ctx: SyncContext,
  /** The generation's files: asked for when it is built or its manifest is not on disk (state.ts). */
  files: () => Promise<Manifest>,
  state: Omit<ReleaseState, 'files' | 'generation'>,
  unchanged: boolean,
): Promise<string> {
  const current = await currentGeneration(ctx.dir, ctx.release);
  // A tree built anew: its files, which the kept record holds whole.
  let manifest: Manifest | undefined;
  let generation = unchanged ? current : undefined;
  if (generation === undefined) {
    manifest = await files();
    generation = await buildGeneration(ctx.dir, manifest, ctx.now());
  }
  // A run whose lock was taken over (it ran for too long, seen from another host) must not switch.
  await ctx.lock.assertHeld();
  const published = { ...state, generation };
  await writeState(ctx.dir, { ...published, files: manifest ?? files });
  if (manifest === undefined) {
    ctx.logger.info(`${ctx.release}: nothing changed, the served tree stays as it is`, { phase: 'publish' });
  } else {
    await recordGeneration(ctx.dir, {
      schema: 1,
      id: generation,
      release: ctx.release,
      publishedAt: ctx.now().toISOString(),
      ...servedTotals(state.served),
      state: { ...published, files: manifest },
    });
    await switchGeneration(ctx.dir, ctx.release, generation);
    await removeUnkeptGenerations(ctx.dir, ctx.config.keepGenerations);
    ctx.logger.info(
      `${ctx.release}: published generation ${generation}: ${count(servedTotals(state.served).files, 'file')}`,
      { phase: 'publish' },
    );
  }
  return generation;
}

export const DISTFEEDS_DIR = 'distfeeds';

/**
 * MIRROR_DIR/distfeeds/<release>/<target>/distfeeds.conf|list per set; distfeeds.conf|list at the
 * top where exactly one set of that format is mirrored, else distfeeds/choices.conf|list listing the
 * sets' (nginx answers 300 with it); distfeeds/sets, what the mirror carries (setup.sh reads it).
 * Lines of sets no longer served are removed.
 */
export async function writeFeedLines(dir: MirrorDir, sets: SetLines[]): Promise<void> {
  const wanted = new Set<string>();
  const write = async (rel: string, text: string) => {
    wanted.add(rel);
    await writeChanged(dir, rel, text);
  };
  const served = sets.filter((set) => set.feeds.length > 0);
  for (const set of served) {
    await write(
      setLinesPath(set),
      renderDistfeeds(set.feeds, set.release, MIRROR_URL_PLACEHOLDER, set.format),
    );
  }
  await write(
    `${DISTFEEDS_DIR}/sets`,
    served.map((set) => `${set.release} ${set.target} ${set.arch ?? ''} ${set.format.name}\n`).join(''),
  );
  for (const format of allFormats()) {
    const ofFormat = served.filter((set) => set.format.name === format.name);
    const top = format.distfeedsFile;
    const choices = `${DISTFEEDS_DIR}/choices.${top.split('.').pop()}`;
    if (ofFormat.length === 1) {
      const [only] = ofFormat as [SetLines];
      await writeChanged(dir, top, renderDistfeeds(only.feeds, only.release, MIRROR_URL_PLACEHOLDER, format));
      await fs.rm(path.join(dir.root, choices), { force: true });
    } else {
      await fs.rm(path.join(dir.root, top), { force: true });
      if (ofFormat.length > 1) {
        // A comment first: whoever saved this as a router's feed list must learn why it has no feeds.
        const header =
          `# ${ofFormat.length} ${format.name} sets are mirrored here; a router needs the lines of its own set. ` +
          `setup.sh picks it (wget -qO- ${MIRROR_URL_PLACEHOLDER}/setup.sh | sh), or take its file:\n`;
        await write(
          choices,
          header +
            ofFormat
              .map(
                (set) =>
                  `${MIRROR_URL_PLACEHOLDER}/${setLinesPath(set)}\t${set.release} ${set.target} ${set.arch ?? ''}\n`,
              )
              .join(''),
        );
      } else {
        await fs.rm(path.join(dir.root, choices), { force: true });
      }
    }
  }
  await removeOtherFiles(dir, DISTFEEDS_DIR, wanted);
}

export function setLinesPath(set: { release: string; target: string; format: FeedFormat }): string {
  return `${DISTFEEDS_DIR}/${set.release}/${set.target}/${set.format.distfeedsFile}`;
}

/** Removes every file below `rel` but the wanted ones, and directories left empty. */
async function removeOtherFiles(dir: MirrorDir, rel: string, wanted: Set<string>): Promise<boolean> {
  const entries = await fs.readdir(path.join(dir.root, rel), { withFileTypes: true }).catch(() => []);
  let kept = false;
  for (const entry of entries) {
    const child = `${rel}/${entry.name}`;
    if (entry.isDirectory() && !entry.isSymbolicLink()) {
      if (await removeOtherFiles(dir, child, wanted)) kept = true;
      else await fs.rmdir(path.join(dir.root, child)).catch(() => {});
    } else if (wanted.has(child)) {
      kept = true;
    } else {
      await fs.rm(path.join(dir.root, child), { force: true });
    }
  }
  return kept;
}

/**
 * A set's package list for people, written as its release is published when it differs from the
 * last (its `at` then says when it last changed). A set still served but not published this run
 * keeps its last one.
 */
export async function writePackageList(dir: MirrorDir, list: ListSource): Promise<void> {
  const rel = packageListPath(list.head);
  const last = await readOwnFile(dir, rel);
  const lastAt = last === undefined ? undefined : writtenAt(last);
  // The same packages as last time: the list stays as it is, `at` included.
  if (
    last !== undefined &&
    lastAt !== undefined &&
    (await sameText(packageListText({ ...list, head: { ...list.head, at: lastAt } }), last))
  )
    return;
  await dir.writeAtomic(rel, () => packageListText(list));
}

/** The package list of a set no longer served goes, with the run's feed lines. */
export async function removeOtherPackageLists(dir: MirrorDir, served: SetLines[]): Promise<void> {
  const wanted = new Set(served.filter((set) => set.feeds.length > 0).map((set) => packageListPath(set)));
  await removeOtherFiles(dir, SEARCH_DIR, wanted);
}

/** Whether `pieces` joined are `text`, without joining them. */
async function sameText(pieces: AsyncIterable<string>, text: string): Promise<boolean> {
  let at = 0;
  for await (const piece of pieces) {
    if (!text.startsWith(piece, at)) return false;
    at += piece.length;
  }
  return at === text.length;
}

/** A package list's `at`, from its first line (packageListText writes the head there). */
function writtenAt(text: string): string | undefined {
  const head = text.slice(0, text.indexOf('\n'));
  return /"at":"([^"\\]*)"/.exec(head)?.[1];
}

/**
 * Writes `text` unless the file holds it already: a re-run with nothing new rewrites (and syncs to
 * disk) none of the files that say the same as before.
 */
async function writeChanged(dir: MirrorDir, rel: string, text: string): Promise<void> {
  if ((await readOwnFile(dir, rel)) === text) return;
  await dir.writeAtomic(rel, text);
}

/**
 * A file the mirror wrote, as text; undefined when it is not there or not a regular file (a
 * symlink is not followed, a fifo not waited on: writeAtomic then replaces it).
 */
async function readOwnFile(dir: MirrorDir, rel: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path.join(dir.root, rel), {
      encoding: 'utf8',
      flag: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    });
  } catch {
    return undefined;
  }
}
