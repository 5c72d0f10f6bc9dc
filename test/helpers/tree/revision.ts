/** Revisions: which packages a revision moves on, and how their versions move. */
import { hash32 } from './bytes.js';

/** The share of packages each revision step moves on. */
const REVISION_SHARE = 0.15;

/** `1.2-r3` moved on `steps` times: `1.2-r(3+steps)`; a version without `-rN` gains one. */
export function bumpVersion(version: string, steps: number): string {
  if (steps === 0) return version;
  const release = /-r(\d+)$/.exec(version);
  if (!release?.[1]) return `${version}-r${steps}`;
  return `${version.slice(0, release.index)}-r${Number(release[1]) + steps}`;
}

/**
 * How many times each name moved on by `revision`: per step the ~15% with the lowest step hash,
 * at least one of `labPackages` (when any of them is among `names`).
 */
export function revisionBumps(
  names: string[],
  revision: number,
  labPackages: readonly string[],
): Map<string, number> {
  const bumps = new Map<string, number>();
  const quota = Math.max(1, Math.round(names.length * REVISION_SHARE));
  const lab = new Set(labPackages);
  for (let step = 1; step <= revision; step++) {
    const ranked = names
      .map((name) => ({ name, rank: hash32(`revision ${step} ${name}`) }))
      .sort((a, b) => a.rank - b.rank || (a.name < b.name ? -1 : 1));
    const chosen = ranked.slice(0, quota).map((r) => r.name);
    if (!chosen.some((name) => lab.has(name))) {
      const firstLab = ranked.find((r) => lab.has(r.name));
      if (firstLab) chosen[chosen.length - 1] = firstLab.name;
    }
    for (const name of chosen) bumps.set(name, (bumps.get(name) ?? 0) + 1);
  }
  return bumps;
}
