/**
 * Numbers for people, the same everywhere: binary units (KiB, MiB, …) as the landing page shows them,
 * and counts with the right plural.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `3.6 MiB`: one decimal above bytes, 1024 to a step. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${UNITS[unit]}`;
}

/** `1 package`, `2 packages`; `plural` for words that do not just take an s. */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** `21.0 s`, `3 min 5 s`, `1 h 2 min`: how long something took or will take. */
export function formatDuration(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
