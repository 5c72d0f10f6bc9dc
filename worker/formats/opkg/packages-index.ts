/**
 * The opkg `Packages` index: stanzas of `Field: value` lines separated by blank lines; a line
 * starting with a space continues the previous field (multi-line descriptions). The index is
 * untrusted: a stanza that cannot be mirrored safely is skipped and described, never a crash.
 */
import { UntrustedInputError } from '../../errors.js';
import { encodeDepends } from '../../feeds/depends.js';
import { descriptionLine } from '../../feeds/description.js';
import { detach } from '../../feeds/detach.js';
import { assertSafeFileName, FEED_INDEX_NAMES, quoteForMessage } from '../../feeds/filename.js';
import type { Dependency, PackageRecord, RecordFields } from '../../feeds/types.js';
import { parseVersionOp } from './version.js';

/** Largest uncompressed index we accept; the biggest real feed (packages) is a few MiB. */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
/** Most stanzas we accept by default; the biggest real feed has about 10k. */
export const DEFAULT_MAX_ENTRIES = 100_000;

export interface ParsedPackagesIndex {
  packages: PackageRecord[];
  /** One line per skipped stanza: which package, where, and why. */
  problems: string[];
}

/** The fields a stanza must have for its file to be fetched and checked. */
const REQUIRED_FIELDS = ['Package', 'Version', 'Filename', 'Size', 'SHA256sum'] as const;
/** Fields whose repetition would make the stanza ambiguous (which file? which hash?). */
const SINGLE_FIELDS = new Set<string>([...REQUIRED_FIELDS, 'Architecture', 'Provides']);
/** Fields listing dependencies that opkg must install first; repeated lines add up, as in opkg. */
const DEPENDS_FIELDS = new Set(['Depends', 'Pre-Depends']);

// Characters that would change the meaning of a Depends/Provides list, or of a log line.
const PACKAGE_NAME = /^[^\s,|()<>=*]+$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const DECIMAL = /^\d+$/;

/** A stanza's field that cannot be used; the stanza is skipped. */
class StanzaError extends UntrustedInputError {}

/**
 * `name`, `name (>= 1.2)`, `name (=1.2)`, opkg's greedy marker `name *` after it. Read by hand, in
 * one pass: a regular expression with optional parts between runs of spaces backtracks
 * quadratically on a hostile value.
 */
function splitAlternative(text: string): { name: string; constraint?: string } | undefined {
  let end = 0;
  while (end < text.length && !/[\s(]/.test(text.charAt(end))) end++;
  const name = text.slice(0, end);
  let rest = text.slice(end).trimStart();
  let constraint: string | undefined;
  if (rest.startsWith('(')) {
    const close = rest.indexOf(')');
    if (close < 0) return undefined;
    constraint = rest.slice(1, close);
    rest = rest.slice(close + 1).trimStart();
  }
  if (rest !== '' && rest !== '*') return undefined;
  return constraint === undefined ? { name } : { name, constraint };
}

function parseAlternative(text: string): Dependency {
  const parts = splitAlternative(text);
  const name = parts?.name;
  if (parts === undefined || name === undefined || !PACKAGE_NAME.test(name)) {
    throw new StanzaError(`dependency ${quoteForMessage(text)} is not "name" or "name (op version)"`);
  }
  const constraint = parts.constraint?.trim();
  if (constraint === undefined) return { name };
  const op = parseVersionOp(constraint);
  // opkg ignores a version without an operator; so do we, rather than invent a meaning.
  if (op === undefined) return { name };
  const version = constraint.slice(op.length).trim();
  if (version === '' || /\s/.test(version)) {
    throw new StanzaError(`dependency ${quoteForMessage(text)} has no usable version after ${op.op}`);
  }
  return { name, op: op.op, version };
}

/**
 * Parses a `Depends:` value: comma-separated items, each a `|`-separated list of alternatives.
 * Empty items and alternatives are dropped, as opkg's tokenizer does. `shared`: the items already
 * parsed from other stanzas of the index, by their text, handed out again rather than parsed anew
 * (`libc` is an item of most packages). The record keeps them as text (feeds/depends.ts).
 */
export function parseDependsList(value: string, shared = new Map<string, Dependency[]>()): Dependency[][] {
  const items: Dependency[][] = [];
  for (const item of value.split(',')) {
    const key = item.trim();
    const known = shared.get(key);
    if (known) {
      items.push(known);
      continue;
    }
    const alternatives: Dependency[] = [];
    for (const alt of key.split('|')) {
      const text = alt.trim();
      if (text !== '') alternatives.push(parseAlternative(text));
    }
    if (alternatives.length > 0) {
      shared.set(key, alternatives);
      items.push(alternatives);
    }
  }
  return items;
}

/** Parses a `Provides:` value into names; a `(= version)` after a name is dropped. */
export function parseProvidesList(value: string): string[] {
  // A Set: a list scan per name would make a hostile Provides of many names quadratic.
  const names = new Set<string>();
  for (const token of withoutParentheses(value).split(/[\s,]+/)) {
    if (token === '') continue;
    if (!PACKAGE_NAME.test(token))
      throw new StanzaError(`Provides entry ${quoteForMessage(token)} is not a name`);
    names.add(token);
  }
  return names.size === 0 ? NO_NAMES : [...names];
}

/** `text` detached from the index, the same string for every record that has it. */
function interned(known: Map<string, string>, text: string): string {
  let kept = known.get(text);
  if (kept === undefined) {
    kept = detach(text);
    known.set(kept, kept);
  }
  return kept;
}

/** The `provides` of every record without a Provides field (most): one frozen empty list for all. */
const NO_NAMES: string[] = Object.freeze([]) as unknown as string[];

/**
 * `value` with every `( … )` replaced by a space, an unclosed one up to the end: in one pass (a
 * regular expression rescans to the end from every unclosed parenthesis).
 */
function withoutParentheses(value: string): string {
  const [first = '', ...rest] = value.split('(');
  return (
    first +
    rest
      .map((part) => {
        const close = part.indexOf(')');
        return close < 0 ? ' ' : ` ${part.slice(close + 1)}`;
      })
      .join('')
  );
}

function toRecord(
  fields: Map<string, string>,
  depends: string[],
  shared: Map<string, Dependency[]>,
  architectures: Map<string, string>,
  people: boolean,
): PackageRecord {
  for (const field of REQUIRED_FIELDS) {
    if (!fields.get(field)) throw new StanzaError(`missing ${field}`);
  }
  // The checks above guarantee these; `?? ''` only satisfies the type checker.
  const name = fields.get('Package') ?? '';
  const version = fields.get('Version') ?? '';
  const size = fields.get('Size') ?? '';
  const sha256 = fields.get('SHA256sum') ?? '';
  if (!PACKAGE_NAME.test(name))
    throw new StanzaError(`Package ${quoteForMessage(name)} is not a package name`);
  if (/\s/.test(version)) throw new StanzaError(`Version ${quoteForMessage(version)} contains white space`);
  if (!DECIMAL.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new StanzaError(`Size ${quoteForMessage(size)} is not a byte count`);
  }
  if (!SHA256_HEX.test(sha256))
    throw new StanzaError(`SHA256sum ${quoteForMessage(sha256)} is not 64 hex digits`);
  let filename: string;
  try {
    filename = assertSafeFileName(fields.get('Filename') ?? '', 'Filename', FEED_INDEX_NAMES);
  } catch (err) {
    throw new StanzaError((err as Error).message);
  }
  // Every string kept is detached from the index's text, which can then go (feeds/detach.ts).
  const record: PackageRecord = {
    name: detach(name),
    version: detach(version),
    filename: detach(filename),
    size: Number(size),
    sha256: detach(sha256.toLowerCase()),
    depends: encodeDepends(
      depends.length === 1
        ? parseDependsList(depends[0] as string, shared)
        : depends.flatMap((value) => parseDependsList(value, shared)),
    ),
    provides: parseProvidesList(detach(fields.get('Provides') ?? '')),
  };
  if (!people) return record;
  const architecture = fields.get('Architecture');
  if (architecture) record.architecture = interned(architectures, architecture);
  const description = fields.get('Description');
  if (description) record.description = detach(descriptionLine(description));
  return record;
}

/**
 * Parses an opkg `Packages` index. Stanzas that lack a required field or carry an unusable value
 * (unsafe Filename, bad Size, bad SHA256sum, garbled Depends) are left out and listed in
 * `problems`. Throws `UntrustedInputError` only when the index as a whole is too large.
 */
export function parsePackagesIndex(
  index: string | Buffer,
  options: PackagesIndexOptions = {},
): ParsedPackagesIndex {
  // String length never exceeds the byte length, so this bound is conservative and cheap.
  if (index.length > MAX_INDEX_BYTES) {
    throw new UntrustedInputError(`index is larger than ${MAX_INDEX_BYTES} bytes`);
  }
  const parser = new PackagesIndexParser(options);
  const packages: PackageRecord[] = [];
  for (const line of linesOf(index)) {
    const record = parser.line(line);
    if (record) packages.push(record);
  }
  const last = parser.end();
  if (last) packages.push(last);
  return { packages, problems: parser.problems };
}

/**
 * The records of a stored `Packages` index, one at a time as its bytes stream in (the pool's copy,
 * read back when a run publishes): neither the index nor its records are ever whole in memory.
 */
export async function* packagesIndexRecords(
  chunks: AsyncIterable<Buffer>,
  options: PackagesIndexOptions = {},
): AsyncGenerator<PackageRecord> {
  const parser = new PackagesIndexParser(options);
  const lines = new ByteLines();
  let bytes = 0;
  for await (const chunk of chunks) {
    bytes += chunk.length;
    if (bytes > MAX_INDEX_BYTES)
      throw new UntrustedInputError(`index is larger than ${MAX_INDEX_BYTES} bytes`);
    for (const line of lines.push(chunk)) {
      const record = parser.line(line);
      if (record) yield record;
    }
  }
  const record = parser.line(lines.end()) ?? parser.end();
  if (record) yield record;
}

export interface PackagesIndexOptions {
  maxEntries?: number;
  /** Which fields the records carry (default all). */
  fields?: RecordFields;
}

/** The parse, fed a line at a time (without its newline), in order. */
class PackagesIndexParser {
  readonly #maxEntries: number;
  readonly #people: boolean;
  /** One line per skipped stanza: which package, where, and why. */
  readonly problems: string[] = [];
  /** File name → the stanza that named it first. */
  readonly #files = new Map<string, string>();
  /** Dependency items by their text, shared by the records (parseDependsList). */
  readonly #shared = new Map<string, Dependency[]>();
  /** Architecture values by their text: two in a feed (its own and `all`), one string each for every record. */
  readonly #architectures = new Map<string, string>();

  #fields = new Map<string, string>();
  #depends: string[] = [];
  #fault: string | undefined;
  #lastField: string | undefined;
  #inStanza = false;
  #startLine = 0;
  #stanzas = 0;
  #lines = 0;

  constructor(options: PackagesIndexOptions) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.#people = (options.fields ?? 'all') === 'all';
  }

  /** Reads the next line; returns the record of the stanza it ends, if it ends one and that is usable. */
  line(text: string): PackageRecord | undefined {
    const number = ++this.#lines;
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (line === '') return this.#finish();
    if (!this.#inStanza) {
      this.#inStanza = true;
      this.#startLine = number;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // opkg reads continuations of Description and Conffiles only. A continued Depends or
      // Provides is joined anyway: that can only make the mirror hold more, never less.
      const last = this.#lastField;
      if (last !== undefined && DEPENDS_FIELDS.has(last)) this.#depends.push(line);
      else if (last === 'Provides') this.#fields.set(last, `${this.#fields.get(last) ?? ''} ${line}`);
      return undefined;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      this.#fault ??= `line ${number} ${quoteForMessage(line)} is not "Field: value"`;
      return undefined;
    }
    const field = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    this.#lastField = field;
    if (DEPENDS_FIELDS.has(field)) {
      this.#depends.push(value);
    } else if (SINGLE_FIELDS.has(field) && this.#fields.has(field)) {
      this.#fault ??= `duplicate ${field} field`;
    } else if (!this.#fields.has(field)) {
      this.#fields.set(field, value);
    }
    return undefined;
  }

  /** The end of the index: the record of a last stanza without a blank line after it. */
  end(): PackageRecord | undefined {
    return this.#finish();
  }

  #finish(): PackageRecord | undefined {
    let record: PackageRecord | undefined;
    if (this.#inStanza) {
      this.#stanzas++;
      if (this.#stanzas > this.#maxEntries)
        throw new UntrustedInputError(`index has more than ${this.#maxEntries} entries`);
      const name = this.#fields.get('Package');
      const where = `${name ? `package ${quoteForMessage(name)}` : 'stanza'} at line ${this.#startLine}`;
      try {
        if (this.#fault !== undefined) throw new StanzaError(this.#fault);
        const parsed = toRecord(this.#fields, this.#depends, this.#shared, this.#architectures, this.#people);
        // Two stanzas for one file would make it ambiguous which hash the file must have.
        const earlier = this.#files.get(parsed.filename);
        if (earlier !== undefined)
          throw new StanzaError(`Filename ${quoteForMessage(parsed.filename)} is also that of ${earlier}`);
        this.#files.set(parsed.filename, where);
        record = parsed;
      } catch (err) {
        if (!(err instanceof StanzaError)) throw err;
        this.problems.push(`${where} skipped: ${err.message}`);
      }
    }
    this.#fields = new Map();
    this.#depends = [];
    this.#fault = undefined;
    this.#lastField = undefined;
    this.#inStanza = false;
    return record;
  }
}

/**
 * The index's lines, one at a time. Not split('\n') first: the lines of an 8,000-stanza index, all
 * alive at once until the parse ends, were 4 MB of heap. Nor the bytes made one text first: that
 * was 4 MB more, beside them, at the start of a full mirror's run.
 */
function* linesOf(index: string | Buffer): Generator<string> {
  if (typeof index !== 'string') {
    const lines = new ByteLines();
    yield* lines.push(index);
    yield lines.end();
    return;
  }
  for (let start = 0; start <= index.length; ) {
    const newline = index.indexOf('\n', start);
    const end = newline < 0 ? index.length : newline;
    yield index.slice(start, end);
    start = end + 1;
  }
}

/**
 * Bytes that arrive in chunks, cut into lines (without their newline), each decoded whole. A newline
 * byte is never part of a UTF-8 sequence, so a line decodes on its own; a line cut by a chunk's edge
 * is joined with its start first, so a character cut there decodes whole too.
 */
class ByteLines {
  #rest: Buffer | undefined;

  /** The lines the chunk ends. */
  *push(chunk: Buffer): Generator<string> {
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline >= 0; newline = chunk.indexOf(0x0a, start)) {
      const rest = this.#rest;
      yield rest
        ? Buffer.concat([rest, chunk.subarray(0, newline)]).toString('utf8')
        : chunk.toString('utf8', start, newline);
      this.#rest = undefined;
      start = newline + 1;
    }
    if (start < chunk.length) {
      const tail = chunk.subarray(start);
      this.#rest = this.#rest ? Buffer.concat([this.#rest, tail]) : tail;
    }
  }

  /** The text after the last newline: '' when the bytes ended with one. */
  end(): string {
    const last = this.#rest?.toString('utf8') ?? '';
    this.#rest = undefined;
    return last;
  }
}
