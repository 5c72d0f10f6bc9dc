/** A package's description as a search result shows it: its first line, cut to a line's length. */

/** Longer first lines are cut: a hostile index's 10 MB description stays a line. */
export const DESCRIPTION_CHARS = 300;

export function descriptionLine(text: string): string {
  const line = (text.split('\n')[0] ?? '').trim();
  return line.length > DESCRIPTION_CHARS ? `${line.slice(0, DESCRIPTION_CHARS - 1)}…` : line;
}
