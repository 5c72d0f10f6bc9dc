/**
 * The sync workloads: a generated release behind a fake upstream with latency and a per-connection
 * bandwidth cap; the mirror's built CLI syncing it in a child process; the sequential baseline
 * fetching the same files; and the bound both are held against.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { apkTestSigner } from '../test/helpers/adb-writer.js';
import { type FakeUpstream, type RequestRecord, startFakeUpstream } from '../test/helpers/fake-upstream.js';
import { defaultPackageBytes, hash32 } from '../test/helpers/tree/bytes.js';
import { buildRelease, buildUpstream, type FillerShares } from '../test/helpers/tree/index.js';
import { createUsignSigner, type UsignSigner } from '../test/helpers/usign-signer.js';
import { type BaselineFetcher, type BaselineResult, runSequentialBaseline } from './baseline.js';
import { type ProcessMeasure, runNodeMeasured } from './measure.js';

export interface Network {
  /** Before the status line of every response. */
  latencyMs: number;
  /** Per connection. */
  bytesPerSecond: number;
}

export interface Politeness {
  name: string;
  rateLimit: number;
  concurrency: number;
  /**
   * The goal for a cold sync's wall time against the tight bound (issue #13): 1.05× where the rate
   * binds (the product's default and 5/s), 1.10× at the generous settings, where the link and the
   * latency each request holds its slot for bind as well.
   */
  tightGoal: number;
}

export const POLITENESS = {
  default: { name: 'default', rateLimit: 2, concurrency: 3, tightGoal: 1.05 },
  brisk: { name: 'brisk', rateLimit: 5, concurrency: 3, tightGoal: 1.05 },
  generous: { name: 'generous', rateLimit: 20, concurrency: 8, tightGoal: 1.1 },
  /**
   * For the real-size mirrors only: 11,000 requests take 9 minutes at 20/s, under 4 at 50/s. The
   * requests bind: their latency and transfer (about 1,400 s at 11,000 packages and 1 GB) over 16
   * connections is 90 s.
   */
  bulk: { name: 'bulk', rateLimit: 50, concurrency: 16, tightGoal: 1.1 },
} satisfies Record<string, Politeness>;

export type PolitenessName = keyof typeof POLITENESS;

export type TreeName = 'selective' | 'full' | 'link' | 'sets' | 'scale';

/** Several releases × targets from one upstream (`buildUpstream`), each pair a set. */
export interface SetsSpec {
  releases: string[];
  targets: string[];
}

export interface TreeSpec {
  name: TreeName;
  /** How the tables name it. */
  label: string;
  mode: 'selective' | 'full';
  fillerPackages: number;
  /** Size of each filler ipk by its name; unset: the tree's own 1–40 KiB. */
  fillerBytes?: (name: string) => number;
  /** How the fillers are shared among the feeds; unset: evenly. */
  fillerShares?: FillerShares;
  /** Unset: the lab's one release × target (`buildRelease`). */
  sets?: SetsSpec;
  /** Configuration besides the defaults (the lab's lists, the lab's device). */
  env?: (tree: BenchTree) => Record<string, string>;
}

/** What a workload needs of a generated tree: the files the upstream serves. */
export interface BenchTree {
  files: Map<string, Buffer>;
}

/** The device whose images are mirrored, as in the lab. */
const DEVICE = 'dlink_dir-1960-a1';

/** Four targets of the lab's package architecture (mipsel_24kc): the arch feeds are theirs to share. */
export const ONE_ARCH_TARGETS = ['ramips/mt7621', 'ramips/mt76x8', 'ramips/mt7620', 'ramips/rt305x'];

/** An opkg and an apk release; two targets of one arch and one of another. */
const MIXED_RELEASES = ['24.10.4', '25.12.0'];
const MIXED_TARGETS = ['ramips/mt7621', 'ramips/mt76x8', 'x86/64'];

/** The lab's set, a full mirror, a few big files where the link is the limit, and several sets. */
export const TREES = {
  selective: (): TreeSpec => ({
    name: 'selective',
    label: 'selective (lab)',
    mode: 'selective',
    fillerPackages: 0,
  }),
  full: (fillerPackages: number): TreeSpec => ({
    name: 'full',
    label: 'full mirror',
    mode: 'full',
    fillerPackages,
  }),
  /** Only the fillers are asked for (they depend on nothing but libc, kernel and each other), no images. */
  link: (fillerPackages: number, fillerBytes: number): TreeSpec => ({
    name: 'link',
    label: 'big files (link-bound)',
    mode: 'selective',
    fillerPackages,
    fillerBytes: () => fillerBytes,
    env: (tree) => ({
      REQUIRED_PACKAGES: [...new Set([...tree.files.keys()].flatMap(fillerName))].join(','),
      OPTIONAL_PACKAGES: '',
      OPENWRT_DEVICES: '',
    }),
  }),
  /** The lab's lists on the first `count` of ONE_ARCH_TARGETS, one release: what each extra target costs. */
  oneArch: (count: number): TreeSpec => {
    const sets = { releases: ['24.10.4'], targets: ONE_ARCH_TARGETS.slice(0, count) };
    return {
      name: 'sets',
      label: `${count} set${count === 1 ? '' : 's'} of one arch (lab lists)`,
      mode: 'selective',
      fillerPackages: 0,
      sets,
      env: () => setsEnv(sets),
    };
  },
  /**
   * A full mirror at the upstream's own scale: `packages` index entries over the seven feeds (the
   * release's own and fillers), most of them in `packages` as upstream, of 2–512 KiB each: about
   * 1 GB at 11,000 packages.
   */
  scale: (packages: number): TreeSpec => ({
    name: 'scale',
    label: `real size (${packages} packages)`,
    mode: 'full',
    fillerPackages: Math.max(0, packages - ownPackages()),
    fillerBytes: realSize,
    fillerShares: UPSTREAM_SHARES,
  }),
  /** 2 releases × 3 targets in full mode, the fillers in every arch feed of both releases. */
  mixedFull: (fillerPackages: number): TreeSpec => {
    const sets = { releases: MIXED_RELEASES, targets: MIXED_TARGETS };
    return {
      name: 'sets',
      label: `${MIXED_RELEASES.length * MIXED_TARGETS.length} sets, full (2 releases × 3 targets)`,
      mode: 'full',
      fillerPackages,
      sets,
      env: () => setsEnv(sets),
    };
  },
};

/**
 * How 24.10.4's mipsel_24kc feeds share their ~11,600 packages: packages ~8,000, luci ~1,400 (its
 * translations), base ~800, the kmods ~700, routing ~280, telephony ~170, the core's own few.
 */
const UPSTREAM_SHARES: FillerShares = {
  core: 0.01,
  base: 0.07,
  kmods: 0.06,
  luci: 0.12,
  packages: 0.7,
  routing: 0.025,
  telephony: 0.015,
};

/** 2 KiB to 512 KiB, evenly on a log scale (many small packages, a few large): 94 KiB on average. */
function realSize(name: string): number {
  return Math.round(2048 * 256 ** (hash32(`real size ${name}`) / 2 ** 32));
}

let ownCount: number | undefined;
/** Index entries of the generated release without fillers (core repeats the kmods, as 24.10's does). */
function ownPackages(): number {
  ownCount ??= buildRelease({ signer: createUsignSigner('count'), fillerPackages: 0 }).feeds.reduce(
    (sum, feed) => sum + feed.packages.length,
    0,
  );
  return ownCount;
}

/** Every release × every target, as a user lists them. */
function setsEnv(sets: SetsSpec): Record<string, string> {
  return { OPENWRT_VERSION: sets.releases.join(','), OPENWRT_TARGET: sets.targets.join(',') };
}

/** `filler-base-12` of `…/filler-base-12_1.0-r1_mipsel_24kc.ipk`, nothing of any other path. */
function fillerName(rel: string): string[] {
  const file = rel.slice(rel.lastIndexOf('/') + 1);
  return file.startsWith('filler-') && file.endsWith('.ipk') ? [file.slice(0, file.indexOf('_'))] : [];
}

/** A generated release (revision 0, and revision 1 with ~15% of packages changed) behind a fake upstream. */
export class World {
  readonly #revisions = new Map<number, BenchTree>();
  private constructor(
    readonly spec: TreeSpec,
    readonly signer: UsignSigner,
    readonly upstream: FakeUpstream,
    readonly root: string,
    readonly keysDir: string,
  ) {}

  static async open(spec: TreeSpec, network: Network): Promise<World> {
    const signer = createUsignSigner('benchmark release key');
    const root = await fs.mkdtemp(path.join(os.tmpdir(), `openwrt-mirror-bench-${spec.name}-`));
    const keysDir = path.join(root, 'keys');
    await fs.mkdir(keysDir);
    await fs.writeFile(path.join(keysDir, signer.fingerprint), signer.publicKeyFile);
    // The apk releases' packages.adb are signed with the tree's default apk key.
    await fs.writeFile(path.join(keysDir, 'benchmark-apk.pem'), apkTestSigner.publicKeyPem);
    const upstream = await startFakeUpstream({
      latencyMs: network.latencyMs,
      bytesPerSecond: network.bytesPerSecond,
    });
    const world = new World(spec, signer, upstream, root, keysDir);
    world.serve(0);
    return world;
  }

  tree(revision: number): BenchTree {
    let tree = this.#revisions.get(revision);
    if (!tree) {
      const { fillerPackages, fillerBytes, fillerShares, sets } = this.spec;
      const packageBytes =
        fillerBytes === undefined
          ? undefined
          : (name: string) => (name.startsWith('filler-') ? fillerBytes(name) : defaultPackageBytes(name));
      tree = sets
        ? buildUpstream({
            releases: sets.releases.map((version) => ({ version })),
            targets: sets.targets,
            signer: this.signer,
            revision,
            fillerPackages,
            ...(packageBytes && { packageBytes }),
          })
        : buildRelease({
            signer: this.signer,
            revision,
            fillerPackages,
            ...(fillerShares && { fillerShares }),
            ...(packageBytes && { packageBytes }),
          });
      this.#revisions.set(revision, tree);
    }
    return tree;
  }

  serve(revision: number): void {
    this.upstream.setFiles(new Map(this.tree(revision).files));
  }

  async freshDir(name: string): Promise<string> {
    const dir = path.join(this.root, name);
    await fs.rm(dir, { recursive: true, force: true });
    return dir;
  }

  async close(): Promise<void> {
    await this.upstream.close();
    await fs.rm(this.root, { recursive: true, force: true });
  }
}

export interface Bound {
  /** max(requests / RATE_LIMIT, bytes / (per-connection bandwidth × CONCURRENCY)), the bound. */
  seconds: number;
  limitedBy: 'requests' | 'bytes';
  /** Also counting the latency each request holds its slot for: max(requests / RATE_LIMIT, (requests × latency + bytes / bandwidth) / CONCURRENCY). */
  withLatencySeconds: number;
  /**
   * The tight bound (issue #13): max((requests − 1) / RATE_LIMIT, Σ each request's service time as
   * the upstream measured it / CONCURRENCY). Every request counts, whatever its answer.
   */
  tightSeconds: number;
  tightLimitedBy: 'requests' | 'service';
}

/**
 * Where a run's wall time goes, in seconds, from the upstream's request log and the process's spawn
 * and exit; consecutive, so they add up to the wall time (a phase that overlaps the one before it
 * counts as 0 there).
 */
export interface Phases {
  /** Spawn (once spawn() returned: SPAWN_NOTE) → first request: node's start-up, the configuration, the state read. */
  startup: number;
  /** First request → the end of the last index, marker or sums request started before the first package. */
  indexes: number;
  /** → the first package or image request: planning. */
  planning: number;
  /** → the moment the first connection goes idle for good (the first end after the last start). */
  downloads: number;
  /** → the last byte. */
  tail: number;
  /** → exit: assembling, publishing, status. */
  publish: number;
}

export interface RequestSummary {
  requests: number;
  bytes: number;
  /** Requests for ipk/apk files and firmware images. */
  payloadRequests: number;
  /** Upstream paths answered 200 to a GET, in the order they started: what the baseline fetches. */
  fetched: string[];
  /** Package or image downloads whose bytes another download of the same run already brought. */
  duplicateDownloads: number;
  maxStartsPerSecond: number;
  maxInFlight: number;
  firstStart: number;
  /** When the first package or image request started: the indexes, the plan and the images' sums come before. */
  firstPayloadStart: number | undefined;
  lastEnd: number;
  /** Σ (end − start) over every request: the service time the upstream gave. */
  serviceSeconds: number;
  phases: Phases;
}

export interface SyncRun {
  measure: ProcessMeasure;
  requests: RequestSummary;
  bound: Bound;
  /** status.json's lastRun, as the mirror reported it. */
  result?: string;
}

export interface WorkloadSample {
  workload: 'cold' | 'no-op' | 'changed 15%';
  tree: TreeName;
  /** How the tables name the tree (TreeSpec.label). */
  label: string;
  /** Sets the workload mirrors (1 for the lab's trees). */
  sets: number;
  politeness: Politeness;
  run: number;
  ours: SyncRun;
  baseline?: BaselineResult;
}

const PAYLOAD = /\.(ipk|apk|bin|img|itb)$/;

export interface SequenceOptions {
  run: number;
  cliPath: string;
  cwd: string;
  network: Network;
  baseline: BaselineFetcher | false;
  /** Re-runs with nothing new after the cold sync, each a sample. */
  noopRuns: number;
  change: boolean;
  /** The mirror directory is left for the caller (to serve it) instead of removed. */
  keep: boolean;
}

/** Cold sync (+ baseline), then re-runs with nothing new, then a re-run after revision 1 (+ baseline). */
export async function runSequence(
  world: World,
  politeness: Politeness,
  options: SequenceOptions,
): Promise<{ samples: WorkloadSample[]; mirrorDir: string }> {
  const mirrorDir = await world.freshDir(`mirror-${politeness.name}-${options.run}`);
  const samples: WorkloadSample[] = [];
  const sample = (workload: WorkloadSample['workload'], ours: SyncRun, baseline?: BaselineResult) =>
    samples.push({
      workload,
      tree: world.spec.name,
      label: world.spec.label,
      sets: world.spec.sets ? world.spec.sets.releases.length * world.spec.sets.targets.length : 1,
      politeness,
      run: options.run,
      ours,
      baseline,
    });
  const baseline = async (ours: SyncRun) =>
    options.baseline === false
      ? undefined
      : runSequentialBaseline({
          baseUrl: world.upstream.url,
          paths: ours.requests.fetched,
          rateLimit: politeness.rateLimit,
          destDir: await world.freshDir('baseline'),
          fetcher: options.baseline,
        });

  world.serve(0);
  const cold = await syncOnce(world, mirrorDir, politeness, options);
  sample('cold', cold, await baseline(cold));
  for (let i = 0; i < options.noopRuns; i++)
    sample('no-op', await syncOnce(world, mirrorDir, politeness, options));
  if (options.change) {
    world.serve(1);
    const changed = await syncOnce(world, mirrorDir, politeness, options);
    sample('changed 15%', changed, await baseline(changed));
    world.serve(0);
  }
  await fs.rm(path.join(world.root, 'baseline'), { recursive: true, force: true });
  if (!options.keep) await fs.rm(mirrorDir, { recursive: true, force: true });
  return { samples, mirrorDir };
}

/** The mirror's environment for `world` at `politeness`, as the container would have it. */
export function mirrorEnv(world: World, mirrorDir: string, politeness: Politeness): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    TZ: 'UTC',
    UPSTREAM_URL: world.upstream.url,
    MIRROR_DIR: mirrorDir,
    OPENWRT_KEYS_DIR: world.keysDir,
    MIRROR_MODE: world.spec.mode,
    OPENWRT_DEVICES: DEVICE,
    RATE_LIMIT: String(politeness.rateLimit),
    CONCURRENCY: String(politeness.concurrency),
    LOG_LEVEL: 'info',
    ...world.spec.env?.(world.tree(0)),
  };
}

async function syncOnce(
  world: World,
  mirrorDir: string,
  politeness: Politeness,
  options: SequenceOptions,
): Promise<SyncRun> {
  const env = mirrorEnv(world, mirrorDir, politeness);
  world.upstream.resetLog();
  const measure = await runNodeMeasured(options.cliPath, ['sync'], {
    env,
    cwd: options.cwd,
    scratchDir: world.root,
  });
  const records = world.upstream.requests.slice();
  const requests = summarize(records, world, measure);
  const run: SyncRun = {
    measure,
    requests,
    bound: bound(requests, politeness, options.network),
    result: await lastRunResult(mirrorDir),
  };
  if (measure.exitCode !== 0) {
    throw new Error(
      `openwrt-mirror sync exited ${measure.exitCode} (${world.spec.name}, ${politeness.name}):\n${measure.outputTail}`,
    );
  }
  return run;
}

function summarize(records: RequestRecord[], world: World, measure: ProcessMeasure): RequestSummary {
  const ordered = [...records].sort((a, b) => a.start - b.start);
  const fetched = ordered.filter((r) => r.method === 'GET' && r.status === 200).map((r) => r.path);
  const seen = new Set<string>();
  let duplicateDownloads = 0;
  for (const rel of fetched.filter((path) => PAYLOAD.test(path))) {
    const bytes = world.upstream.files.get(rel);
    const key = bytes ? createHash('sha256').update(bytes).digest('hex') : rel;
    if (seen.has(key)) duplicateDownloads++;
    seen.add(key);
  }
  const firstStart = ordered[0]?.start ?? measure.startedAt;
  const firstPayloadStart = ordered.find((r) => PAYLOAD.test(r.path))?.start;
  const lastEnd = records.reduce(
    (last, r) => Math.max(last, Number.isNaN(r.end) ? 0 : r.end),
    measure.startedAt,
  );
  return {
    requests: records.length,
    bytes: records.reduce((sum, r) => sum + r.bytes, 0),
    payloadRequests: records.filter((r) => PAYLOAD.test(r.path)).length,
    fetched,
    duplicateDownloads,
    maxStartsPerSecond: world.upstream.maxStartsInWindow(1000),
    maxInFlight: world.upstream.maxInFlight(),
    firstStart,
    firstPayloadStart,
    lastEnd,
    serviceSeconds: records.reduce((sum, r) => sum + (Number.isNaN(r.end) ? 0 : r.end - r.start), 0) / 1000,
    phases: phases(ordered, measure, firstStart, firstPayloadStart, lastEnd),
  };
}

function phases(
  ordered: RequestRecord[],
  measure: ProcessMeasure,
  firstStart: number,
  firstPayloadStart: number | undefined,
  lastEnd: number,
): Phases {
  const ends = (list: RequestRecord[]) => list.map((r) => r.end).filter((end) => !Number.isNaN(end));
  const beforePayload =
    firstPayloadStart === undefined ? ordered : ordered.filter((r) => r.start < firstPayloadStart);
  const indexesEnd = Math.max(firstStart, ...ends(beforePayload));
  const lastStart = ordered.at(-1)?.start ?? firstStart;
  const tailStart = Math.min(lastEnd, ...ends(ordered.filter((r) => r.end >= lastStart)));
  // Each boundary at or after the one before, so that the phases add up to the wall time.
  const marks = [
    measure.startedAt,
    firstStart,
    indexesEnd,
    firstPayloadStart ?? indexesEnd,
    tailStart,
    lastEnd,
    measure.endedAt,
  ];
  for (let i = 1; i < marks.length; i++) marks[i] = Math.max(marks[i] as number, marks[i - 1] as number);
  const span = (i: number) => ((marks[i + 1] as number) - (marks[i] as number)) / 1000;
  return {
    startup: span(0),
    indexes: span(1),
    planning: span(2),
    downloads: span(3),
    tail: span(4),
    publish: span(5),
  };
}

export function bound(requests: RequestSummary, politeness: Politeness, network: Network): Bound {
  const byRequests = requests.requests / politeness.rateLimit;
  const byBytes = requests.bytes / (network.bytesPerSecond * politeness.concurrency);
  const slotSeconds =
    (requests.requests * network.latencyMs) / 1000 + requests.bytes / network.bytesPerSecond;
  const byStarts = Math.max(0, requests.requests - 1) / politeness.rateLimit;
  const byService = requests.serviceSeconds / politeness.concurrency;
  return {
    seconds: Math.max(byRequests, byBytes),
    limitedBy: byBytes > byRequests ? 'bytes' : 'requests',
    withLatencySeconds: Math.max(byRequests, slotSeconds / politeness.concurrency),
    tightSeconds: Math.max(byStarts, byService),
    tightLimitedBy: byService > byStarts ? 'service' : 'requests',
  };
}

async function lastRunResult(mirrorDir: string): Promise<string | undefined> {
  try {
    const status = JSON.parse(await fs.readFile(path.join(mirrorDir, 'status.json'), 'utf8')) as {
      lastRun?: { result?: string };
    };
    return status.lastRun?.result;
  } catch {
    return undefined;
  }
}
