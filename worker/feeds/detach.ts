/**
 * A copy of `text` that keeps nothing else alive. V8 cuts a substring of 13 characters or more out
 * of its parent without copying it (a sliced string), so a field read out of an index's text would
 * keep the whole text alive for as long as the record lives: 7 MB at 11,000 packages. A JSON round
 * trip makes a flat string of its own, exact for any string; a slice of a concatenation would too,
 * but as a second, sliced string on top (105 bytes a file name where the flat copy takes 73).
 */
export function detach(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}
