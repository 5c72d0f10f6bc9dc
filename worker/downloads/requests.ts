/**
 * Where a log line is checked: one line of nginx's JSON access log becomes a request the statistics
 * count, or nothing. Everything in it came from a client (the path, the address nginx saw), so each
 * field is checked for its type and shape, and a path is classified by the served tree's layout
 * only: a feed directory of releases/, a package file, an index, an image.
 */
import { posix } from 'node:path';
import { FEED_INDEX_NAMES } from '../feeds/filename.js';
import { allFormats, type FeedFormat, type FormatName } from '../formats/index.js';
import { isImageFile } from '../status/status-file.js';

export interface ServedRequest {
  /** Milliseconds since the epoch. */
  time: number;
  /** The client's address as nginx saw it. */
  client: string;
  status: number;
  bytes: number;
  /** The path asked for, decoded, without its query. */
  path: string;
}

/** What a request was for, as far as the statistics tell requests apart. */
export type RequestKind =
  | { kind: 'package'; feed: string; name: string; format: FormatName }
  | { kind: 'index'; feed: string; update?: FormatName }
  | { kind: 'image'; target: string }
  | { kind: 'other' };

const MAX_PATH_LENGTH = 1024;
const MAX_CLIENT_LENGTH = 64;

/** A log line as the worker counts it; undefined for a line that is not one of ours. */
export function parseLogLine(line: string): ServedRequest | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof entry !== 'object' || entry === null) return undefined;
  const { t, a, m, u, s, b } = entry as Record<string, unknown>;
  if (typeof t !== 'string' || typeof a !== 'string' || typeof u !== 'string') return undefined;
  if (typeof s !== 'number' || typeof b !== 'number' || !Number.isInteger(s) || !(b >= 0)) return undefined;
  // Only what fetches a file counts: a HEAD fetches nothing, nothing else is served.
  if (m !== 'GET') return undefined;
  const time = Date.parse(t);
  if (Number.isNaN(time) || a.length === 0 || a.length > MAX_CLIENT_LENGTH) return undefined;
  const decoded = decodedPath(u);
  if (decoded === undefined) return undefined;
  return { time, client: a, status: s, bytes: b, path: decoded };
}

/**
 * The path as nginx served it: without query and fragment, %-decoded byte by byte, slashes merged,
 * `.` and `..` resolved (`…/packages//x.ipk`, which a feed line ending in `/` makes, is the package).
 */
function decodedPath(uri: string): string | undefined {
  const raw = uri.split(/[?#]/, 1)[0] as string;
  if (!raw.startsWith('/') || raw.length > MAX_PATH_LENGTH) return undefined;
  const bytes = Buffer.from(
    raw.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    'latin1',
  );
  return posix.normalize(bytes.toString('utf8'));
}

// The served layout (docs/design.md), below releases/<release>/: packages/<arch>/<feed>/<file>,
// targets/<target>/<subtarget>/packages/<file> (core), targets/<target>/<subtarget>/kmods/<version>/<file>,
// and the images beside profiles.json in the target directory.
const SEGMENT = '[A-Za-z0-9_.+~-]+';
const IN_RELEASE = new RegExp(`^/releases/(${SEGMENT})/(.+)$`);
const FEED_FILE = new RegExp(
  `^((?:packages/${SEGMENT}/${SEGMENT}|targets/${SEGMENT}/${SEGMENT}/(?:packages|kmods/${SEGMENT})))/(${SEGMENT})$`,
);
const INDEX_FILES = new Set(FEED_INDEX_NAMES);
const FORMATS: FeedFormat[] = allFormats();

export function classify(path: string): RequestKind {
  const inRelease = IN_RELEASE.exec(path);
  if (!inRelease) return { kind: 'other' };
  const releaseDir = `releases/${inRelease[1]}`;
  const rest = inRelease[2] as string;
  const feedFile = FEED_FILE.exec(rest);
  if (feedFile) {
    const feed = `${releaseDir}/${feedFile[1]}`;
    const file = feedFile[2] as string;
    if (INDEX_FILES.has(file)) {
      const update = FORMATS.find((format) => format.updateFile === file);
      return { kind: 'index', feed, ...(update && { update: update.name }) };
    }
    const format = FORMATS.find((candidate) => file.endsWith(candidate.packageExtension));
    const name = format?.packageOfFile(file);
    if (format && name) return { kind: 'package', feed, name, format: format.name };
    return { kind: 'other' };
  }
  if (isImageFile(rest)) return { kind: 'image', target: `${releaseDir}/${posix.dirname(rest)}` };
  return { kind: 'other' };
}
