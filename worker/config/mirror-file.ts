/**
 * The MIRROR_CONFIG file: YAML for what the environment's lists cannot say — per-set package lists,
 * devices and mode. Its shape (README "Configuring several sets"):
 *
 *   sets:
 *     - release: [24.10.4, 25.12.0]   # one or a list; default OPENWRT_VERSION
 *       target: ramips/mt7621          # one or a list; default OPENWRT_TARGET
 *       mode: selective                # default MIRROR_MODE
 *       feeds: [base, luci, packages]  # default OPENWRT_FEEDS
 *       required: [...]                # default REQUIRED_PACKAGES
 *       optional: [...]                # default OPTIONAL_PACKAGES
 *       extra_required: [...]          # added to required (the default or this entry's)
 *       extra_optional: [...]          # added to optional
 *       devices: [...]                 # default OPENWRT_DEVICES; `all`: every device of the target
 *
 * Every release × target of an entry is a set. Every error names the file, the line and the key;
 * a key the shape does not have is an error. All scalars are read as strings (`24.10` stays 24.10).
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import type { Node, Pair } from 'yaml';
import { ConfigError, ConfigFileError } from '../errors.js';
import {
  badItem,
  DEVICE,
  deviceListProblem,
  FEED,
  feedListProblem,
  type ItemRule,
  MIRROR_MODES,
  PACKAGE,
  RELEASE,
  splitList,
  TARGET,
} from './rules.js';
import type { MirrorMode, SetConfig } from './types.js';

/**
 * The YAML parser, loaded on the first MIRROR_CONFIG file read: without one (most mirrors) every
 * start-up would load it for nothing (a tenth of a second and 9 MB of a worker's memory).
 */
let yamlModule: typeof import('yaml') | undefined;
function yaml(): typeof import('yaml') {
  yamlModule ??= createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return yamlModule;
}

/** What a set takes from the environment where the file is silent. */
export interface SetDefaults {
  releases: string[];
  targets: string[];
  feeds: string[];
  mode: MirrorMode;
  required: string[];
  optional: string[];
  devices: string[];
}

const SET_KEYS = [
  'release',
  'target',
  'mode',
  'feeds',
  'required',
  'optional',
  'extra_required',
  'extra_optional',
  'devices',
] as const;
type SetKey = (typeof SET_KEYS)[number];

/** A configuration file is a page of text; anything near this size is a mistake. */
const MAX_FILE_BYTES = 1024 * 1024;

export function readMirrorConfigFile(file: string, defaults: SetDefaults): SetConfig[] {
  let text: string;
  try {
    const info = fs.statSync(file);
    if (!info.isFile())
      throw new ConfigError('MIRROR_CONFIG', file, 'a YAML file (this is not a regular file)');
    if (info.size > MAX_FILE_BYTES)
      throw new ConfigError('MIRROR_CONFIG', file, `a YAML file of at most ${MAX_FILE_BYTES} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const why = code === 'ENOENT' ? 'there is no such file' : `it cannot be read: ${code}`;
    throw new ConfigError('MIRROR_CONFIG', file, `a readable YAML file (${why})`);
  }
  return parseMirrorConfig(text, file, defaults);
}

/** The sets a file's text describes. `file` names it in errors. */
export function parseMirrorConfig(text: string, file: string, defaults: SetDefaults): SetConfig[] {
  const lines = new (yaml().LineCounter)();
  // failsafe: every scalar is a string, so `release: 24.10` is not the number 24.1.
  const doc = yaml().parseDocument(text, { schema: 'failsafe', lineCounter: lines, uniqueKeys: true });
  const lineOf = (node: Node | null | undefined): number | undefined =>
    node?.range ? lines.linePos(node.range[0]).line : undefined;
  const fail = (node: Node | null | undefined, key: string, value: string | undefined, expected: string) =>
    new ConfigFileError(file, lineOf(node), key, value, expected);

  const [syntax] = doc.errors;
  if (syntax) {
    const line = syntax.linePos?.[0]?.line;
    throw new ConfigFileError(file, line, '(YAML)', undefined, `valid YAML: ${firstLine(syntax.message)}`);
  }
  const root = doc.contents;
  if (!yaml().isMap(root)) {
    throw fail(root, '(top level)', undefined, 'a mapping with one key, sets: a list of sets');
  }
  let setsNode: Node | undefined;
  for (const pair of root.items as Pair<Node, Node>[]) {
    const key = keyOf(pair);
    if (key !== 'sets') throw fail(pair.key, key, undefined, 'only the key sets at the top level');
    setsNode = pair.value ?? undefined;
  }
  if (!yaml().isSeq(setsNode) || setsNode.items.length === 0) {
    throw fail(setsNode ?? root, 'sets', undefined, 'a list of at least one set (release, target, …)');
  }

  const sets: SetConfig[] = [];
  const seen = new Map<string, string>();
  setsNode.items.forEach((item, index) => {
    const where = `sets[${index}]`;
    if (!yaml().isMap(item))
      throw fail(item as Node, where, undefined, 'a mapping: release, target, mode, …');
    const values = new Map<SetKey, { node: Node | null; pairKey: Node }>();
    for (const pair of item.items as Pair<Node, Node>[]) {
      const key = keyOf(pair);
      if (!(SET_KEYS as readonly string[]).includes(key)) {
        throw fail(pair.key, `${where}.${key}`, undefined, `one of the keys ${SET_KEYS.join(', ')}`);
      }
      values.set(key as SetKey, { node: pair.value ?? null, pairKey: pair.key });
    }
    const source = (key: SetKey) => {
      const value = values.get(key);
      return value && `MIRROR_CONFIG ${file} line ${lineOf(value.pairKey)} (${where}.${key})`;
    };
    const list = (key: SetKey, rule: ItemRule, fallback: string[], nonEmpty = false): string[] => {
      const value = values.get(key);
      if (!value) return fallback;
      const items = listOf(value.node, (node, raw, expected) =>
        fail(node ?? value.pairKey, `${where}.${key}`, raw, expected),
      );
      const bad = badItem(items, rule);
      if (bad) throw fail(value.node ?? value.pairKey, `${where}.${key}`, items.join(','), bad);
      if (nonEmpty && items.length === 0)
        throw fail(value.node ?? value.pairKey, `${where}.${key}`, '', `at least one: ${rule.expected}`);
      return [...new Set(items)];
    };

    const releases = list('release', RELEASE, defaults.releases, true);
    const targets = list('target', TARGET, defaults.targets, true);
    const feeds = list('feeds', FEED, defaults.feeds);
    const feedProblem = feedListProblem(feeds);
    if (feedProblem) throw fail(values.get('feeds')?.node, `${where}.feeds`, feeds.join(','), feedProblem);
    let mode = defaults.mode;
    const modeValue = values.get('mode');
    if (modeValue) {
      const raw = scalarOf(modeValue.node);
      if (raw === undefined || !(MIRROR_MODES as readonly string[]).includes(raw)) {
        throw fail(
          modeValue.node ?? modeValue.pairKey,
          `${where}.mode`,
          raw ?? '',
          `one of ${MIRROR_MODES.join(', ')}`,
        );
      }
      mode = raw as MirrorMode;
    }
    const required = [
      ...new Set([...list('required', PACKAGE, defaults.required), ...list('extra_required', PACKAGE, [])]),
    ];
    const optional = [
      ...new Set([...list('optional', PACKAGE, defaults.optional), ...list('extra_optional', PACKAGE, [])]),
    ];
    const devices = list('devices', DEVICE, defaults.devices);
    const deviceProblem = deviceListProblem(devices);
    if (deviceProblem) {
      const value = values.get('devices');
      throw fail(value?.node ?? value?.pairKey ?? item, `${where}.devices`, devices.join(','), deviceProblem);
    }
    const sources = {
      required: source('required') ?? source('extra_required') ?? 'REQUIRED_PACKAGES',
      optional: source('optional') ?? source('extra_optional') ?? 'OPTIONAL_PACKAGES',
      devices: source('devices') ?? 'OPENWRT_DEVICES',
    };
    for (const release of releases) {
      for (const target of targets) {
        const name = `${release} ${target}`;
        const earlier = seen.get(name);
        if (earlier) {
          throw fail(item, where, name, `each release × target once; ${earlier} already has ${name}`);
        }
        seen.set(name, `${where} (line ${lineOf(item)})`);
        sets.push({ release, target, feeds, mode, required, optional, devices, sources });
      }
    }
  });
  return sets;
}

function keyOf(pair: Pair<Node, Node>): string {
  return yaml().isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function scalarOf(node: Node | null): string | undefined {
  return yaml().isScalar(node) ? String(node.value ?? '') : undefined;
}

/** A list is a YAML sequence of names, or one string of names separated by commas or spaces. */
function listOf(
  node: Node | null,
  fail: (node: Node | null, raw: string | undefined, expected: string) => Error,
): string[] {
  if (node === null || (yaml().isScalar(node) && (node.value === null || node.value === ''))) return [];
  if (yaml().isScalar(node)) return splitList(String(node.value));
  if (yaml().isSeq(node)) {
    return (node.items as Node[]).map((item) => {
      const value = scalarOf(item);
      if (value === undefined) throw fail(item, undefined, 'a list of names, not of lists or mappings');
      return value.trim();
    });
  }
  throw fail(node, undefined, 'a name, or a list of names');
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
