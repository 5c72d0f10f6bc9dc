/**
 * New releases upstream, from its `/.versions.json` (`stable_version`, `versions_list`): a newer
 * point release of a series the mirror serves (24.10.5 beside 24.10.4), or a stable series newer
 * than any it serves. Each is announced once: `.mirror/announced.json` remembers them. An upstream
 * without the file (a test server, another mirror) announces nothing; that is never a failure.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MirrorDir } from '../publish/mirror-dir.js';

interface VersionsFile {
  stable_version?: unknown;
  versions_list?: unknown;
}

export interface NewRelease {
  version: string;
  why: string;
}

/** Pure: the releases worth announcing, given the upstream's list and the mirrored releases. */
export function newReleasesIn(versions: VersionsFile, mirrored: string[]): NewRelease[] {
  const listed = [
    ...(Array.isArray(versions.versions_list) ? versions.versions_list : []),
    versions.stable_version,
  ].filter((v): v is string => typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v));
  const found = new Map<string, string>();
  const parsed = mirrored.flatMap((release) => {
    const m = /^(\d+)\.(\d+)\.(\d+)/.exec(release);
    return m ? [{ release, series: `${m[1]}.${m[2]}`, key: [Number(m[1]), Number(m[2]), Number(m[3])] }] : [];
  });
  if (parsed.length === 0) return [];
  const newestSeries = parsed
    .map((p) => p.key)
    .sort(compare)
    .at(-1) as number[];
  for (const version of new Set(listed)) {
    const key = version.split('.').map(Number);
    const series = `${key[0]}.${key[1]}`;
    const ofSeries = parsed.filter((p) => p.series === series);
    if (ofSeries.length > 0) {
      const newest = ofSeries
        .map((p) => p.key)
        .sort(compare)
        .at(-1) as number[];
      if (compare(key, newest) > 0) found.set(version, `a newer ${series} release than ${newest.join('.')}`);
    } else if (
      version === versions.stable_version &&
      compare([key[0] ?? 0, key[1] ?? 0, 0], [newestSeries[0] ?? 0, newestSeries[1] ?? 0, 0]) > 0
    ) {
      found.set(version, `a new stable series; the newest mirrored is ${newestSeries.join('.')}`);
    }
  }
  return [...found]
    .map(([version, why]) => ({ version, why }))
    .sort((a, b) => compare(a.version.split('.').map(Number), b.version.split('.').map(Number)));
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Those of `found` not announced before; remembers them as announced. */
export async function notYetAnnounced(dir: MirrorDir, found: NewRelease[]): Promise<NewRelease[]> {
  if (found.length === 0) return [];
  const file = path.join(dir.internal, 'announced.json');
  let announced: string[] = [];
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
    if (Array.isArray(parsed)) announced = parsed.filter((v): v is string => typeof v === 'string');
  } catch {
    // Nothing announced yet.
  }
  const fresh = found.filter((release) => !announced.includes(release.version));
  if (fresh.length > 0) {
    await dir.writeAtomic(
      path.relative(dir.root, file),
      `${JSON.stringify([...announced, ...fresh.map((r) => r.version)])}\n`,
    );
  }
  return fresh;
}
