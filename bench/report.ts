/**
 * Turns the samples into the tables the script prints and keeps in docs/benchmarks.md: medians per
 * workload, each figure also as a ratio against the bound and the baseline, and the targets.
 */
import fs from 'node:fs/promises';
import type { LoadGenerator, LoadResult } from './serving.js';
import type { VerifyMeasure } from './verify.js';
import type { WorkloadSample } from './workloads.js';

export interface ServingSummary {
  runs: number;
  connections: number;
  seconds: number;
  urls: number;
  tree: string;
  generator: LoadGenerator;
  /** The project's template, without and with the stack's JSON access log. */
  nginx: LoadResult;
  nginxLogged: LoadResult;
  /** nginx with `location / { root …; }` and nothing else. */
  bare: LoadResult;
  python: LoadResult;
}

export interface VerifySample {
  /** The tree's label. */
  label: string;
  measure: VerifyMeasure;
}

export interface BenchReport {
  samples: WorkloadSample[];
  verify: VerifySample[];
  serving?: ServingSummary;
}

const MB = 1e6;
const GB = 1e9;

/** Median of the values that are there. */
export function median(values: (number | undefined)[]): number | undefined {
  const sorted = values
    .filter((v): v is number => v !== undefined && Number.isFinite(v))
    .sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface Group {
  label: string;
  politeness: WorkloadSample['politeness'];
  samples: WorkloadSample[];
}

function groups(samples: WorkloadSample[], workloads: WorkloadSample['workload'][]): Group[] {
  const byKey = new Map<string, Group>();
  for (const sample of samples) {
    if (!workloads.includes(sample.workload)) continue;
    const label = `${sample.workload} ${sample.label}`;
    const key = `${label}@${sample.politeness.name}`;
    const group = byKey.get(key) ?? { label, politeness: sample.politeness, samples: [] };
    group.samples.push(sample);
    byKey.set(key, group);
  }
  return [...byKey.values()];
}

const politenessLabel = (p: WorkloadSample['politeness']) => `${p.name} (${p.rateLimit}/s, ${p.concurrency})`;

interface SyncFigures {
  ours?: number;
  baseline?: number;
  bound?: number;
  boundWithLatency?: number;
  limitedBy: string;
}

function syncFigures(group: Group): SyncFigures {
  const s = group.samples;
  return {
    ours: median(s.map((x) => x.ours.measure.wallSeconds)),
    baseline: median(s.map((x) => x.baseline?.wallSeconds)),
    bound: median(s.map((x) => x.ours.bound.seconds)),
    boundWithLatency: median(s.map((x) => x.ours.bound.withLatencySeconds)),
    limitedBy: s[0]?.ours.bound.limitedBy ?? '',
  };
}

export function syncTable(report: BenchReport): string {
  const rows = groups(report.samples, ['cold', 'changed 15%']).map((group) => {
    const f = syncFigures(group);
    const s = group.samples;
    return [
      group.label,
      politenessLabel(group.politeness),
      `${s.length}/${s.filter((x) => x.baseline).length}`,
      num(median(s.map((x) => x.ours.requests.requests)), 0),
      num(mb(median(s.map((x) => x.ours.requests.bytes))), 1),
      num(f.ours, 1),
      num(f.baseline, 1),
      `${num(f.bound, 1)} (${f.limitedBy})`,
      ratio(f.ours, f.bound),
      ratio(f.baseline, f.ours),
      ratio(f.baseline, f.bound),
    ];
  });
  return markdownTable(
    [
      'workload',
      'politeness (RATE_LIMIT, CONCURRENCY)',
      'runs ours/baseline',
      'requests',
      'MB',
      'ours s',
      'baseline s',
      'bound s (limit)',
      'ours/bound',
      'baseline/ours',
      'baseline/bound',
    ],
    rows,
  );
}

export function noopTable(report: BenchReport): string {
  const rows = groups(report.samples, ['no-op']).map((group) => {
    const s = group.samples;
    return [
      s[0]?.label ?? '',
      politenessLabel(group.politeness),
      String(s.length),
      num(Math.max(...s.map((x) => x.ours.requests.payloadRequests)), 0),
      num(median(s.map((x) => x.ours.requests.requests)), 0),
      num(median(s.map((x) => x.ours.measure.wallSeconds)), 2),
      num(median(s.map((x) => x.ours.bound.seconds)), 2),
    ];
  });
  return markdownTable(
    [
      'tree',
      'politeness',
      'runs',
      'package/image requests (max)',
      'requests',
      'wall s',
      'requests / RATE_LIMIT s',
    ],
    rows,
  );
}

export function resourceTable(report: BenchReport): string {
  const rows = groups(report.samples, ['cold', 'no-op', 'changed 15%']).map((group) => {
    const s = group.samples;
    const cpu = median(s.map((x) => x.ours.measure.cpuSeconds));
    const bytes = median(s.map((x) => x.ours.requests.bytes));
    return [
      group.label,
      politenessLabel(group.politeness),
      num(mb(median(s.map((x) => x.ours.measure.peakRssBytes))), 0),
      num(cpu, 2),
      num(mb(bytes), 1),
      cpu !== undefined && bytes ? num(cpu / (bytes / GB), 0) : '–',
    ];
  });
  return markdownTable(['workload', 'politeness', 'peak RSS MB', 'CPU s', 'MB downloaded', 'CPU s/GB'], rows);
}

/**
 * Where the time goes: the wall time cut into start-up, index phase, planning, downloads, tail
 * (from the first connection idle for good to the last byte) and publish (workloads.ts, `phases`),
 * against the tight bound; and the politeness as the upstream saw it.
 */
export function timeTable(report: BenchReport): string {
  const rows = groups(report.samples, ['cold', 'no-op', 'changed 15%']).map((group) => {
    const s = group.samples;
    const m = (pick: (x: WorkloadSample) => number | undefined, digits: number) =>
      num(median(s.map(pick)), digits);
    const phase = (name: keyof WorkloadSample['ours']['requests']['phases']) =>
      m((x) => x.ours.requests.phases[name], 2);
    const wall = median(s.map((x) => x.ours.measure.wallSeconds));
    const tight = median(s.map((x) => x.ours.bound.tightSeconds));
    return [
      group.label,
      politenessLabel(group.politeness),
      phase('startup'),
      phase('indexes'),
      phase('planning'),
      phase('downloads'),
      phase('tail'),
      phase('publish'),
      num(wall, 1),
      `${num(tight, 1)} (${s[0]?.ours.bound.tightLimitedBy ?? '?'})`,
      ratio(wall, tight),
      ratio(wall, median(s.map((x) => x.ours.bound.seconds))),
      String(Math.max(...s.map((x) => x.ours.requests.maxStartsPerSecond))),
      String(Math.max(...s.map((x) => x.ours.requests.maxInFlight))),
      m((x) => x.ours.requests.duplicateDownloads, 0),
    ];
  });
  return markdownTable(
    [
      'workload',
      'politeness',
      'start-up s',
      'indexes s',
      'planning s',
      'downloads s',
      'tail s',
      'publish s',
      'wall s',
      'tight bound s',
      'wall / tight',
      'wall / loose',
      'max starts in 1 s',
      'max in flight',
      'duplicate downloads',
    ],
    rows,
  );
}

/**
 * Several sets of one arch (what each extra target costs beyond the first: its core, kmods and target
 * files, the arch feeds being shared) and the mixed full mirror: requests, time and memory.
 */
export function setsTable(report: BenchReport): string {
  const sets = report.samples.filter((x) => x.tree === 'sets');
  const one = median(
    sets.filter((x) => x.workload === 'cold' && x.sets === 1).map((x) => x.ours.requests.requests),
  );
  const rows = groups(sets, ['cold']).map((group) => {
    const s = group.samples;
    const count = s[0]?.sets ?? 1;
    const requests = median(s.map((x) => x.ours.requests.requests));
    const noop = report.samples.filter(
      (x) => x.workload === 'no-op' && x.label === s[0]?.label && x.politeness.name === group.politeness.name,
    );
    const beyond =
      requests !== undefined && one !== undefined && count > 1 ? (requests - one) / (count - 1) : undefined;
    return [
      group.label.replace(/^cold /, ''),
      politenessLabel(group.politeness),
      num(requests, 0),
      s[0]?.label.includes('one arch') ? num(beyond, 0) : '–',
      num(median(s.map((x) => x.ours.requests.payloadRequests)), 0),
      num(median(s.map((x) => x.ours.requests.duplicateDownloads)), 0),
      num(median(s.map((x) => x.ours.measure.wallSeconds)), 1),
      ratio(
        median(s.map((x) => x.ours.measure.wallSeconds)),
        median(s.map((x) => x.ours.bound.withLatencySeconds)),
      ),
      num(mb(median(s.map((x) => x.ours.measure.peakRssBytes))), 0),
      noop.length > 0
        ? `${num(median(noop.map((x) => x.ours.requests.requests)), 0)} (${Math.max(...noop.map((x) => x.ours.requests.payloadRequests))} packages)`
        : '–',
    ];
  });
  return markdownTable(
    [
      'sets',
      'politeness',
      'requests',
      'per extra set',
      'package/image requests',
      'duplicate downloads',
      'wall s',
      'wall / bound with latency',
      'peak RSS MB',
      're-run requests',
    ],
    rows,
  );
}

export function servingTable(serving: ServingSummary): string {
  const row = (name: string, r: LoadResult) => [
    name,
    num(r.requestsPerSecond, 0),
    num(r.bytesPerSecond / MB, 1),
    num(r.latencyP99Ms, 0),
    String(r.errors),
  ];
  const ratioRow = (name: string, a: LoadResult, b: LoadResult) => [
    name,
    ratio(a.requestsPerSecond, b.requestsPerSecond),
    ratio(a.bytesPerSecond, b.bytesPerSecond),
    '',
    '',
  ];
  return markdownTable(
    ['server', 'requests/s', 'MB/s', 'p99 latency ms', 'errors + non-2xx'],
    [
      row('nginx, bare (location / { root …; })', serving.bare),
      row('nginx, project template', serving.nginx),
      row('nginx, project template + access log', serving.nginxLogged),
      row('python3 -m http.server', serving.python),
      ratioRow('template + access log / bare', serving.nginxLogged, serving.bare),
      ratioRow('template + access log / python', serving.nginxLogged, serving.python),
    ],
  );
}

/** verify and sha256sum over the same files: the pool of the tree, each content once. */
export function verifyTable(report: BenchReport): string {
  const rows = report.verify.map(({ label, measure }) => {
    const verify = median(measure.verify.map((m) => m.wallSeconds));
    const sums = median(measure.sha256sum);
    const rate = (seconds: number | undefined) => (seconds ? measure.bytes / MB / seconds : undefined);
    return [
      label,
      String(measure.files),
      num(measure.bytes / MB, 0),
      num(verify, 2),
      num(rate(verify), 0),
      num(median(measure.verify.map((m) => m.cpuSeconds)), 2),
      num(mb(median(measure.verify.map((m) => m.peakRssBytes))), 0),
      num(sums, 2),
      num(rate(sums), 0),
      ratio(rate(verify), rate(sums)),
    ];
  });
  return markdownTable(
    [
      'tree',
      'files',
      'MB',
      'verify s',
      'verify MB/s',
      'verify CPU s',
      'verify peak RSS MB',
      'sha256sum s',
      'sha256sum MB/s',
      'verify / sha256sum',
    ],
    rows,
  );
}

export function targetsTable(report: BenchReport): string {
  const rows: string[][] = [];
  for (const group of groups(report.samples, ['cold'])) {
    const f = syncFigures(group);
    const tight = median(group.samples.map((x) => x.ours.bound.tightSeconds));
    const value = f.ours !== undefined && tight ? f.ours / tight : undefined;
    const goal = group.politeness.tightGoal;
    rows.push([
      `${group.label} @ ${group.politeness.name}: wall within ${goal.toFixed(2)}× of the tight bound`,
      `${ratio(f.ours, tight)} (loose bound: ${ratio(f.ours, f.bound)})`,
      verdict(value !== undefined && value <= goal, value, goal),
    ]);
  }
  for (const group of groups(report.samples, ['no-op'])) {
    const s = group.samples;
    const payload = Math.max(...s.map((x) => x.ours.requests.payloadRequests));
    const wall = median(s.map((x) => x.ours.measure.wallSeconds));
    const requests = median(s.map((x) => x.ours.requests.requests)) ?? 0;
    // The product's promise: no package, and no longer than its requests at RATE_LIMIT allow, plus half a second.
    const allowed = requests / group.politeness.rateLimit + 0.5;
    rows.push([
      `no-op ${s[0]?.label ?? ''} @ ${group.politeness.name}: no package request, within requests / RATE_LIMIT + 0.5 s`,
      `${payload} package requests, ${num(wall, 2)} s of ${num(allowed, 2)} s`,
      payload > 0
        ? 'missed: packages requested'
        : wall !== undefined && wall <= allowed
          ? 'met'
          : `missed by ${num((wall ?? 0) - allowed, 2)} s`,
    ]);
  }
  for (const [label, tree, sets] of [
    ['full mirror', 'full', false],
    ['2 releases × 3 targets, full', 'sets', true],
  ] as const) {
    const rss = report.samples
      .filter((x) => x.tree === tree && (!sets || x.sets === 6))
      .map((x) => x.ours.measure.peakRssBytes ?? 0);
    if (rss.length === 0) continue;
    const peak = Math.max(...rss);
    rows.push([
      `${label}: worker peak RSS under 150 MB`,
      `${num(mb(peak), 0)} MB`,
      peak < 150 * MB ? 'met' : `missed by ${num(mb(peak - 150 * MB), 0)} MB`,
    ]);
  }
  rows.push(...scaleTargets(report));
  for (const { label, measure } of report.verify) {
    const verify = median(measure.verify.map((m) => m.wallSeconds));
    const sums = median(measure.sha256sum);
    // Throughput over the same bytes: the inverse ratio of the times.
    const value = verify && sums ? sums / verify : undefined;
    rows.push([
      `${label}: verify ≥ 0.8× the MB/s of sha256sum over the same files`,
      value === undefined ? '–' : `${value.toFixed(2)}×`,
      atLeast(value, 0.8),
    ]);
  }
  if (report.serving) {
    const { bare, nginxLogged, python } = report.serving;
    const ofBare = nginxLogged.requestsPerSecond / bare.requestsPerSecond;
    const ofPython = nginxLogged.requestsPerSecond / python.requestsPerSecond;
    rows.push(
      [
        'serving: the template with the access log ≥ 0.9× the requests/s of a bare nginx',
        ratio(nginxLogged.requestsPerSecond, bare.requestsPerSecond),
        atLeast(ofBare, 0.9),
      ],
      [
        'serving: the template with the access log ≥ 10× the requests/s of python3 -m http.server',
        ratio(nginxLogged.requestsPerSecond, python.requestsPerSecond),
        atLeast(ofPython, 10),
      ],
    );
  }
  return markdownTable(['target', 'measured', 'verdict'], rows);
}

/**
 * The real-size mirrors' memory: the biggest under 120 MB of peak RSS, and no more than 10% above
 * the smallest (it must not grow with the number of packages); the peak of its cold and no-op runs.
 */
function scaleTargets(report: BenchReport): string[][] {
  const scale = report.samples.filter((x) => x.tree === 'scale');
  const peaks = new Map<string, number>();
  for (const x of scale)
    peaks.set(x.label, Math.max(peaks.get(x.label) ?? 0, x.ours.measure.peakRssBytes ?? 0));
  const sizes = [...peaks.keys()];
  const [smallest, biggest] = [sizes.at(0), sizes.at(-1)];
  if (biggest === undefined || smallest === undefined) return [];
  const peak = peaks.get(biggest) ?? 0;
  const rows = [
    [
      `${biggest}: worker peak RSS under 120 MB`,
      `${num(mb(peak), 0)} MB`,
      peak < 120 * MB ? 'met' : `missed by ${num(mb(peak - 120 * MB), 0)} MB`,
    ],
  ];
  if (smallest !== biggest) {
    const base = peaks.get(smallest) ?? 0;
    rows.push([
      `${biggest}: peak RSS at most 10% above ${smallest}'s`,
      `${num(mb(peak), 0)} MB of ${num(mb(base * 1.1), 0)} MB (${ratio(peak, base)})`,
      peak <= base * 1.1 ? 'met' : `missed by ${num(mb(peak - base * 1.1), 0)} MB`,
    ]);
  }
  return rows;
}

function atLeast(value: number | undefined, goal: number): string {
  if (value === undefined || !Number.isFinite(value)) return 'not measured';
  return value >= goal ? 'met' : `missed (${value.toFixed(2)}× of ${goal}×)`;
}

function verdict(ok: boolean, value: number | undefined, target: number): string {
  if (ok) return 'met';
  if (value === undefined) return 'not measured';
  return `missed by ${num((value / target - 1) * 100, 0)}%`;
}

const mb = (bytes: number | undefined) => (bytes === undefined ? undefined : bytes / MB);

function num(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits);
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;
}

/** A Markdown table whose columns line up when printed, too. */
export function markdownTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(Math.max(w - 1, 1))}:`)).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

export const RESULTS_START = '<!-- bench:results:start (written by `npm run bench`; edit above or below) -->';
export const RESULTS_END = '<!-- bench:results:end -->';

/** Replaces the results between the markers, keeping the hand-written method around them. */
export async function writeResults(file: string, results: string): Promise<void> {
  const block = `${RESULTS_START}\n\n${results.trim()}\n\n${RESULTS_END}`;
  const existing = await fs.readFile(file, 'utf8').catch(() => undefined);
  const start = existing?.indexOf(RESULTS_START) ?? -1;
  const end = existing?.indexOf(RESULTS_END) ?? -1;
  const next =
    existing !== undefined && start >= 0 && end > start
      ? `${existing.slice(0, start)}${block}${existing.slice(end + RESULTS_END.length)}`
      : `${existing ?? '# Benchmarks\n'}\n${block}\n`;
  await fs.writeFile(file, next);
}
