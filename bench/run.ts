/**
 * `npm run bench [-- flags]`: the mirror against the seed's sequential algorithm and against the
 * bound its politeness implies, plus nginx against python3 -m http.server. Prints the tables and
 * keeps them in docs/benchmarks.md with the command that produced them. Nothing here asserts.
 */
import { existsSync, rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type BaselineFetcher, defaultFetcher } from './baseline.js';
import { SPAWN_NOTE } from './measure.js';
import {
  type BenchReport,
  markdownTable,
  median,
  noopTable,
  resourceTable,
  type ServingSummary,
  servingTable,
  setsTable,
  syncTable,
  targetsTable,
  timeTable,
  verifyTable,
  writeResults,
} from './report.js';
import {
  chooseGenerator,
  type LoadGenerator,
  type LoadResult,
  loadNginx,
  loadPython,
  packageUrls,
} from './serving.js';
import { benchVerify, type VerifyMeasure } from './verify.js';
import {
  mirrorEnv,
  type Network,
  ONE_ARCH_TARGETS,
  POLITENESS,
  type Politeness,
  type PolitenessName,
  runSequence,
  TREES,
  type TreeSpec,
  type WorkloadSample,
  World,
} from './workloads.js';

const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLI = path.join(REPO_ROOT, 'dist/cli.js');

const USAGE = `usage: npm run bench [-- flags]     (each flag also reads BENCH_<NAME>, e.g. BENCH_RUNS=5)

  --quick                 small trees, one run each, generous politeness only: a smoke test
  --runs N                runs of the selective workloads and of serving (default 3; quick 1)
  --expensive-runs N      runs of the full-mirror and real-size workloads (default 1)
  --link-runs N           runs of the big-file (link-bound) workload (default 3; quick 1): 15 s each,
                          and its goal sits close enough that one run's noise would decide it
  --baseline-runs N       of those runs, how many also run the sequential baseline (default 1)
  --noop-runs N           re-runs with nothing new after each cold sync (default 3; quick 1): cheap,
                          and short enough that one run's noise would decide its goal
  --baseline wget|node    how the baseline downloads (default wget when installed)
  --filler N              generated packages added for the full mirror (default 2000; quick 150)
  --link-packages N       big packages in the link-bound workload, 0 to skip (default 48; quick 16)
  --link-kib N            size of each of those (default 4096)
  --latency MS            upstream latency before the first byte (default 80)
  --bandwidth BYTES       upstream bytes/s per connection (default 2000000)
  --politeness LIST       for the selective tree: default (2/s, 3), brisk (5/s, 3), generous (20/s, 8)
                          (default all three; quick generous)
  --full-politeness LIST  for the full mirror (default generous; default politeness takes N/2 s)
  --scale-packages LIST   real-size full mirrors, by index entries (default 3000,11000: ~1 GB at 11,000;
                          quick 1000,3000)
  --scale-politeness LIST for them (default bulk: 50/s, 16; at 20/s 11,000 requests take 9 minutes)
  --verify-runs N         timed runs of verify and of sha256sum over the biggest real-size tree (default 3; quick 1)
  --serve-seconds N       length of each serving measurement (default 10; quick 3)
  --connections N         concurrent serving clients (default 50)
  --load wrk|node         serving load generator (default wrk, installed with apt-get when missing
                          and root; node: Node's http client, saturates before nginx does)
  --only LIST             selective,full,link,sets,scale,serving (default all; serving uses the biggest
                          tree synced, verify runs with scale)
  --sets-filler N         generated packages per release in the 2 releases × 3 targets full mirror
                          (default 1000; quick 100)
  --out FILE              where the results go (default docs/benchmarks.md)
  --no-write              print only`;

interface BenchOptions {
  quick: boolean;
  runs: number;
  expensiveRuns: number;
  linkRuns: number;
  noopRuns: number;
  baselineRuns: number;
  baseline: BaselineFetcher;
  filler: number;
  setsFiller: number;
  linkPackages: number;
  linkKib: number;
  network: Network;
  politeness: Politeness[];
  fullPoliteness: Politeness[];
  scalePackages: number[];
  scalePoliteness: Politeness[];
  verifyRuns: number;
  serveSeconds: number;
  connections: number;
  load: LoadGenerator | 'auto';
  only: Set<string>;
  out: string;
  write: boolean;
}

const FLAGS = {
  quick: { type: 'boolean' },
  runs: { type: 'string' },
  'expensive-runs': { type: 'string' },
  'link-runs': { type: 'string' },
  'baseline-runs': { type: 'string' },
  'noop-runs': { type: 'string' },
  baseline: { type: 'string' },
  filler: { type: 'string' },
  'sets-filler': { type: 'string' },
  'link-packages': { type: 'string' },
  'link-kib': { type: 'string' },
  latency: { type: 'string' },
  bandwidth: { type: 'string' },
  politeness: { type: 'string' },
  'full-politeness': { type: 'string' },
  'scale-packages': { type: 'string' },
  'scale-politeness': { type: 'string' },
  'verify-runs': { type: 'string' },
  'serve-seconds': { type: 'string' },
  connections: { type: 'string' },
  load: { type: 'string' },
  only: { type: 'string' },
  out: { type: 'string' },
  'no-write': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | undefined {
  const { values } = parseArgs({ args: argv, options: FLAGS, strict: true });
  if (values.help) return undefined;
  const raw = (name: keyof typeof FLAGS): string | undefined => {
    const flag = values[name];
    if (typeof flag === 'string') return flag;
    return env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`] || undefined;
  };
  const flagOn = (name: 'quick' | 'no-write') =>
    values[name] === true || ['1', 'true'].includes(raw(name) ?? '');
  const quick = flagOn('quick');
  const int = (name: keyof typeof FLAGS, normal: number, quickValue = normal, min = 0): number => {
    const text = raw(name);
    if (text === undefined) return quick ? quickValue : normal;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name}: expected a whole number >= ${min}, got ${text}`);
    return value;
  };
  const politeness = (
    name: 'politeness' | 'full-politeness' | 'scale-politeness',
    normal: string,
    quickValue = normal,
  ): Politeness[] =>
    (raw(name) ?? (quick ? quickValue : normal)).split(',').map((item) => {
      const found: Politeness | undefined = POLITENESS[item.trim() as PolitenessName];
      if (!found)
        throw new Error(`--${name}: expected some of ${Object.keys(POLITENESS).join(', ')}, got ${item}`);
      return found;
    });
  // Smallest first: the tables compare the biggest with the smallest, and the biggest is served.
  const counts = (name: 'scale-packages', normal: string, quickValue: string): number[] =>
    (raw(name) ?? (quick ? quickValue : normal))
      .split(',')
      .map((item) => {
        const value = Number(item.trim());
        if (!Number.isInteger(value) || value < 1)
          throw new Error(`--${name}: expected whole numbers, got ${item}`);
        return value;
      })
      .sort((a, b) => a - b);
  const baseline = raw('baseline') ?? defaultFetcher();
  if (baseline !== 'wget' && baseline !== 'node') throw new Error(`--baseline: expected wget or node`);
  const load = raw('load') ?? 'auto';
  if (load !== 'wrk' && load !== 'node' && load !== 'auto') throw new Error(`--load: expected wrk or node`);
  const only = new Set(
    (raw('only') ?? 'selective,full,link,sets,scale,serving').split(',').map((s) => s.trim()),
  );
  for (const part of only) {
    if (!['selective', 'full', 'link', 'sets', 'scale', 'serving'].includes(part))
      throw new Error(`--only: unknown part ${part}`);
  }
  return {
    quick,
    runs: int('runs', 3, 1, 1),
    expensiveRuns: int('expensive-runs', 1, 1, 1),
    linkRuns: int('link-runs', 3, 1, 1),
    baselineRuns: int('baseline-runs', 1),
    noopRuns: int('noop-runs', 3, 1, 1),
    baseline,
    filler: int('filler', 2000, 150),
    setsFiller: int('sets-filler', 1000, 100),
    linkPackages: int('link-packages', 48, 16),
    linkKib: int('link-kib', 4096, 4096, 1),
    network: { latencyMs: int('latency', 80), bytesPerSecond: int('bandwidth', 2_000_000, 2_000_000, 1) },
    politeness: politeness('politeness', 'default,brisk,generous', 'generous'),
    fullPoliteness: politeness('full-politeness', 'generous'),
    scalePackages: counts('scale-packages', '3000,11000', '1000,3000'),
    scalePoliteness: politeness('scale-politeness', 'bulk'),
    verifyRuns: int('verify-runs', 3, 1, 1),
    serveSeconds: int('serve-seconds', 10, 3, 1),
    connections: int('connections', 50, 50, 1),
    load,
    only,
    out: path.resolve(REPO_ROOT, raw('out') ?? 'docs/benchmarks.md'),
    write: !flagOn('no-write'),
  };
}

async function main(): Promise<number> {
  let options: BenchOptions | undefined;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!existsSync(CLI)) {
    process.stderr.write(`bench: ${CLI} is missing: run \`npm run build\` first (\`npm run bench\` does)\n`);
    return 2;
  }
  const started = new Date();
  const loadBefore = os.loadavg();
  const report: BenchReport = { samples: [], verify: [] };
  let servedDir: { dir: string; tree: string; world: World } | undefined;
  const worlds: World[] = [];
  // Ctrl-C reaches the running sync too, which writes its last figures as it stops: remove the
  // generated trees, and again once it has had a moment to finish.
  process.once('SIGINT', () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      for (const world of worlds) {
        try {
          rmSync(world.root, { recursive: true, force: true });
        } catch {
          // Written into while being removed: the next round gets it.
        }
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
    process.exit(130);
  });
  try {
    const plan: {
      spec: TreeSpec;
      politeness: Politeness[];
      runs: number;
      noop: boolean;
      change: boolean;
      baseline: boolean;
      /** verify beside sha256sum over the synced tree (the biggest real-size one). */
      verify?: boolean;
    }[] = [];
    if (options.only.has('selective'))
      plan.push({
        spec: TREES.selective(),
        politeness: options.politeness,
        runs: options.runs,
        noop: true,
        change: true,
        baseline: true,
      });
    if (options.only.has('full'))
      plan.push({
        spec: TREES.full(options.filler),
        politeness: options.fullPoliteness,
        runs: options.expensiveRuns,
        noop: true,
        change: true,
        baseline: true,
      });
    if (options.only.has('link') && options.linkPackages > 0)
      plan.push({
        spec: TREES.link(options.linkPackages, options.linkKib * 1024),
        politeness: [POLITENESS.generous],
        runs: options.linkRuns,
        noop: false,
        change: false,
        baseline: true,
      });
    if (options.only.has('sets')) {
      // What each extra target of one arch costs, at the product's default politeness, where the
      // requests are what takes the time; then the mixed full mirror for memory.
      for (const count of [1, 2, 4])
        plan.push({
          spec: TREES.oneArch(count),
          politeness: [POLITENESS.default],
          runs: 1,
          noop: true,
          change: false,
          baseline: false,
        });
      plan.push({
        spec: TREES.mixedFull(options.setsFiller),
        politeness: [POLITENESS.generous],
        runs: 1,
        noop: true,
        change: false,
        baseline: false,
      });
    }
    if (options.only.has('scale')) {
      // Cold and a re-run with nothing new: the change run would hold a second gigabyte here.
      const biggest = Math.max(...options.scalePackages);
      for (const packages of options.scalePackages)
        plan.push({
          spec: TREES.scale(packages),
          politeness: options.scalePoliteness,
          runs: options.expensiveRuns,
          noop: true,
          change: false,
          baseline: false,
          verify: packages === biggest,
        });
    }

    for (const { spec, politeness, runs, noop, change, baseline, verify } of plan) {
      const world = await World.open(spec, options.network);
      worlds.push(world);
      for (const p of politeness) {
        for (let run = 1; run <= runs; run++) {
          log(`${spec.name} @ ${p.name} (${p.rateLimit}/s, ${p.concurrency}), run ${run}/${runs}`);
          const serve =
            options.only.has('serving') &&
            ['selective', 'full', 'scale'].includes(spec.name) &&
            run === runs &&
            p === politeness.at(-1);
          const measureVerify = verify === true && run === runs && p === politeness.at(-1);
          const { samples, mirrorDir } = await runSequence(world, p, {
            run,
            cliPath: CLI,
            cwd: REPO_ROOT,
            network: options.network,
            baseline: baseline && run <= options.baselineRuns ? options.baseline : false,
            noopRuns: noop ? options.noopRuns : 0,
            change,
            keep: serve || measureVerify,
          });
          for (const sample of samples) log(`  ${describe(sample)}`);
          report.samples.push(...samples);
          if (measureVerify) {
            log(`verify beside sha256sum over ${spec.label}, ${options.verifyRuns} runs each`);
            const measure = await benchVerify({
              cliPath: CLI,
              cwd: REPO_ROOT,
              env: mirrorEnv(world, mirrorDir, p),
              mirrorDir,
              scratchDir: world.root,
              runs: options.verifyRuns,
            });
            report.verify.push({ label: spec.label, measure });
            log(`  ${describeVerify(measure)}`);
            if (!serve) await fs.rm(mirrorDir, { recursive: true, force: true });
          }
          // The last synced tree of the biggest kind (the plan goes from small to big) is the one served.
          if (serve) {
            if (servedDir) {
              await fs.rm(servedDir.dir, { recursive: true, force: true });
              // Its generated tree too, unless it is this one.
              if (servedDir.world !== world) {
                await servedDir.world.close();
                worlds.splice(worlds.indexOf(servedDir.world), 1);
              }
            }
            servedDir = { dir: mirrorDir, tree: spec.label, world };
          }
        }
      }
      if (servedDir?.world !== world) {
        await world.close();
        worlds.splice(worlds.indexOf(world), 1);
      }
    }

    if (options.only.has('serving')) {
      if (!servedDir) throw new Error('serving needs a synced tree: add selective or full to --only');
      report.serving = await benchServing(options, servedDir.dir, servedDir.tree);
    }
  } finally {
    for (const world of worlds) await world.close();
  }

  const text = render(report, options, started, loadBefore);
  process.stdout.write(`\n${text}\n`);
  if (options.write) {
    await writeResults(options.out, text);
    process.stdout.write(`\nwritten to ${path.relative(REPO_ROOT, options.out)}\n`);
  }
  return 0;
}

async function benchServing(options: BenchOptions, mirrorDir: string, tree: string): Promise<ServingSummary> {
  const urls = await packageUrls(mirrorDir);
  const generator = options.load === 'auto' ? chooseGenerator(log, true) : options.load;
  const load = { mirrorDir, connections: options.connections, seconds: options.serveSeconds, generator };
  const nginx: LoadResult[] = [];
  const logged: LoadResult[] = [];
  const bare: LoadResult[] = [];
  const python: LoadResult[] = [];
  for (let run = 1; run <= options.runs; run++) {
    log(`serving run ${run}/${options.runs}: ${urls.length} package URLs, ${options.connections} clients`);
    // Each in turn within a run, so that a change in the machine's load reaches all of them.
    bare.push(await loadNginx(load, urls, 'bare'));
    nginx.push(await loadNginx(load, urls, 'template'));
    logged.push(await loadNginx(load, urls, 'template + access log'));
    python.push(await loadPython(load, urls));
    const rate = (r: LoadResult[]) => r.at(-1)?.requestsPerSecond.toFixed(0);
    log(
      `  bare nginx ${rate(bare)} req/s, template ${rate(nginx)}, with the access log ${rate(logged)}, ` +
        `python ${rate(python)}`,
    );
  }
  const med = (results: LoadResult[]): LoadResult => ({
    requestsPerSecond: median(results.map((r) => r.requestsPerSecond)) ?? 0,
    bytesPerSecond: median(results.map((r) => r.bytesPerSecond)) ?? 0,
    latencyP99Ms: median(results.map((r) => r.latencyP99Ms)) ?? 0,
    errors: results.reduce((sum, r) => sum + r.errors, 0),
  });
  return {
    runs: options.runs,
    connections: options.connections,
    seconds: options.serveSeconds,
    urls: urls.length,
    tree,
    generator,
    nginx: med(nginx),
    nginxLogged: med(logged),
    bare: med(bare),
    python: med(python),
  };
}

function describeVerify(measure: VerifyMeasure): string {
  const verify = median(measure.verify.map((m) => m.wallSeconds)) ?? 0;
  const sums = median(measure.sha256sum) ?? 0;
  return (
    `${measure.files} files, ${(measure.bytes / 1e6).toFixed(0)} MB: verify ${verify.toFixed(2)} s, ` +
    `sha256sum ${sums.toFixed(2)} s`
  );
}

function describe(sample: WorkloadSample): string {
  const { ours, baseline } = sample;
  return (
    `${sample.workload}: ours ${ours.measure.wallSeconds.toFixed(1)} s, ${ours.requests.requests} requests, ` +
    `${(ours.requests.bytes / 1e6).toFixed(1)} MB, bound ${ours.bound.seconds.toFixed(1)} s` +
    (baseline ? `, baseline ${baseline.wallSeconds.toFixed(1)} s (${baseline.failed} failed)` : '') +
    `, peak RSS ${((ours.measure.peakRssBytes ?? 0) / 1e6).toFixed(0)} MB` +
    `, spawn ${(ours.measure.spawnSeconds * 1000).toFixed(0)} ms`
  );
}

/** How long the benchmark's own spawns took, which no run's time counts (SPAWN_NOTE). */
function spawnLine(report: BenchReport): string {
  const spawns = [
    ...report.samples.map((sample) => sample.ours.measure.spawnSeconds),
    ...report.verify.flatMap((sample) => sample.measure.verify.map((m) => m.spawnSeconds)),
  ];
  const most = Math.max(0, ...spawns) * 1000;
  return `Spawn: up to ${most.toFixed(0)} ms in spawn() before a run (median ${((median(spawns) ?? 0) * 1000).toFixed(0)} ms); ${SPAWN_NOTE} (bench/measure.ts).`;
}

function render(report: BenchReport, options: BenchOptions, started: Date, loadBefore: number[]): string {
  const args = process.argv.slice(2).join(' ');
  const cpus = os.cpus();
  const minutes = ((Date.now() - started.getTime()) / 60000).toFixed(1);
  const parts = [
    options.quick
      ? '## Results: QUICK RUN (`--quick`: small trees, one run each; a smoke test, not the reference numbers)'
      : '## Results',
    '',
    `Command: \`npm run bench${args ? ` -- ${args}` : ''}\` — ${started.toISOString()}, ${minutes} min.`,
    `Machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}, ` +
      `load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} at the start ` +
      `(${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end).`,
    `Upstream: ${options.network.latencyMs} ms before the first byte, ` +
      `${(options.network.bytesPerSecond / 1e6).toFixed(1)} MB/s per connection. ` +
      `Full mirror: ${options.filler} generated packages on top of the release's own. ` +
      `Big files: ${options.linkPackages} × ${options.linkKib} KiB. ` +
      `Real size: ${options.scalePackages.join(' and ')} packages. ` +
      `Runs: ${options.runs} (selective, serving), ${options.linkRuns} (big files), ${options.expensiveRuns} (full, real size); ` +
      `baseline (${options.baseline}) in the first ${options.baselineRuns}. Times are medians.`,
    spawnLine(report),
    '',
    '### Targets',
    '',
    targetsTable(report),
    '',
    '### Sync: ours, the sequential baseline, the bound',
    '',
    syncTable(report),
    '',
    '### Re-run with nothing new',
    '',
    noopTable(report),
    '',
    '### Worker resources',
    '',
    resourceTable(report),
    '',
    '### Where the time goes',
    '',
    timeTable(report),
  ];
  if (report.verify.length > 0) {
    parts.push(
      '',
      `### verify beside sha256sum (the same files, page cache warm; ${options.verifyRuns} runs each, medians)`,
      '',
      verifyTable(report),
    );
  }
  if (report.samples.some((x) => x.tree === 'sets')) {
    parts.push(
      '',
      `### Several sets (one arch: ${ONE_ARCH_TARGETS.join(', ')}; full: ${options.setsFiller} generated packages per release)`,
      '',
      setsTable(report),
    );
  }
  if (report.serving) {
    const s = report.serving;
    parts.push(
      '',
      `### Serving (${s.connections} clients, ${s.seconds} s × ${s.runs} runs, ${s.urls} package URLs of the ${s.tree} tree, load from ${s.generator})`,
      '',
      servingTable(s),
    );
  }
  if (report.samples.length === 0 && !report.serving) parts.push('', markdownTable(['nothing run'], []));
  return parts.join('\n');
}

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exitCode = 1;
  },
);
