/**
 * A record's dependencies, kept as one short string and read back as lists where they are used (the
 * closure, the package lists). As objects (a list per item, an object and a name per alternative)
 * they were 2 MB of a full mirror's 11,000 packages, alive from the index phase to the publish; as
 * text, about 60 bytes a package. Names and versions hold no white space (both index parsers refuse
 * it), so the text is an item a line, its alternatives a tab apart, each `name` or
 * `name op version`, and ` ~` after a fuzzy one (apk's `~`).
 */
import type { Dependency, VersionOp } from './types.js';

/** Made only by `encodeDepends`; read with `dependsOf`. */
export type EncodedDepends = string & { readonly encodedDepends: unique symbol };

/** No dependencies: most of a feed's kmods and libraries have only one or two, none is common too. */
export const NO_DEPENDS = '' as EncodedDepends;

export function encodeDepends(items: readonly (readonly Dependency[])[]): EncodedDepends {
  if (items.length === 0) return NO_DEPENDS;
  // join makes one flat string of its own: nothing of the index or of the parsed lists stays alive.
  return items.map((item) => item.map(encodeAlternative).join('\t')).join('\n') as EncodedDepends;
}

function encodeAlternative(dep: Dependency): string {
  for (const token of [dep.name, dep.version ?? '']) {
    if (/\s/.test(token)) throw new TypeError(`dependency ${JSON.stringify(token)} holds white space`);
  }
  if (dep.op === undefined || dep.version === undefined) return dep.name;
  return [dep.name, dep.op, dep.version, ...(dep.fuzzy ? ['~'] : [])].join(' ');
}

/** A record's dependencies as lists: each item lists alternatives, any one of which satisfies it. */
export function dependsOf(record: { depends: EncodedDepends }): Dependency[][] {
  if (record.depends === NO_DEPENDS) return [];
  return record.depends.split('\n').map((item) => item.split('\t').map(decodeAlternative));
}

function decodeAlternative(text: string): Dependency {
  const [name = '', op, version, fuzzy] = text.split(' ');
  if (op === undefined || version === undefined) return { name };
  return fuzzy === '~'
    ? { name, op: op as VersionOp, version, fuzzy: true }
    : { name, op: op as VersionOp, version };
}
