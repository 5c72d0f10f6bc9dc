/**
 * Where in a sync the memory goes: one cold sync of a real-size tree (then, with --noop, a re-run
 * with nothing new) in a child run as the benchmark runs it, with a preloaded sampler that reads
 * VmRSS and process.memoryUsage() every few milliseconds. Prints the peak, what the heap and the
 * memory outside it held then, and the log line the run had reached, plus a coarse timeline.
 *
 *   npm run build && tsx bench/memory-timeline.ts --packages 11000 [--rate 50 --concurrency 16]
 *     [--node-flags="--max-semi-space-size=1"] [--noop] [--env NAME=VALUE]…
 *
 * `--node-flags` replaces the node flags of Dockerfile.worker (default: those, as the worker ships);
 * `--env GLIBC_TUNABLES=` replaces its malloc settings.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { workerRuntime } from './measure.js';
import { mirrorEnv, TREES, World } from './workloads.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

/** Samples kept in the child's memory (a few hundred KB for minutes) and written on exit. */
const SAMPLER = (every: number) => `
import { readFileSync, writeFileSync } from 'node:fs';
const samples = [];
const kb = (status, key) => {
  const at = status.indexOf(key + ':');
  return at < 0 ? 0 : Number.parseInt(status.slice(at + key.length + 1).trimStart(), 10);
};
const take = () => {
  const m = process.memoryUsage();
  const status = readFileSync('/proc/self/status', 'utf8');
  samples.push([Date.now(), kb(status, 'VmRSS'), kb(status, 'RssAnon'), kb(status, 'RssFile'),
    m.heapTotal, m.heapUsed, m.external, m.arrayBuffers, kb(status, 'VmHWM')]);
};
take();
setInterval(take, ${every}).unref();
process.on('exit', () => { take(); const u = process.resourceUsage(); samples.at(-1).push((u.userCPUTime + u.systemCPUTime) / 1e6); writeFileSync(process.env.TIMELINE_FILE, JSON.stringify(samples)); });
`;

const { values } = parseArgs({
  options: {
    packages: { type: 'string', default: '11000' },
    rate: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '16' },
    'node-flags': { type: 'string' },
    'sample-ms': { type: 'string', default: '20' },
    noop: { type: 'boolean', default: false },
    /** Every sample from this second of the run to the next, not only each twentieth's highest. */
    detail: { type: 'string' },
    env: { type: 'string', multiple: true, default: [] },
    /** Another build of the CLI (a copy of dist/ inside the repository, so that it finds node_modules). */
    cli: { type: 'string' },
  },
});

const MB = 1024 * 1024;
const packages = Number(values.packages);
const CLI = values.cli === undefined ? DEFAULT_CLI : path.resolve(values.cli);
const politeness = {
  name: 'probe',
  rateLimit: Number(values.rate),
  concurrency: Number(values.concurrency),
  tightGoal: 1.1,
};
const runtime = workerRuntime();
const flags = values['node-flags'] === undefined ? runtime.flags : values['node-flags'].split(/\s+/);
const extraEnv = Object.fromEntries(
  values.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);

const world = await World.open(TREES.scale(packages), { latencyMs: 80, bytesPerSecond: 2_000_000 });
try {
  const mirrorDir = await world.freshDir('mirror');
  await probe('cold', mirrorDir);
  if (values.noop) await probe('no-op', mirrorDir);
} finally {
  await world.close();
}

async function probe(label: string, mirrorDir: string): Promise<void> {
  const file = path.join(world.root, `timeline-${label}.json`);
  const sampler = path.join(world.root, 'sampler.mjs');
  await fs.writeFile(sampler, SAMPLER(Number(values['sample-ms'])));
  const started = Date.now();
  const child = spawn(process.execPath, [...flags, '--import', sampler, CLI, 'sync'], {
    cwd: REPO_ROOT,
    env: { ...runtime.env, ...mirrorEnv(world, mirrorDir, politeness), ...extraEnv, TIMELINE_FILE: file },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: { at: number; text: string }[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const text of parts) lines.push({ at: Date.now(), text: message(text) });
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  const samples = JSON.parse(await fs.readFile(file, 'utf8')) as number[][];
  const peak = samples.reduce((a, b) => ((b[1] ?? 0) > (a[1] ?? 0) ? b : a));
  const at = (t: number) => lines.filter((l) => l.at <= t).at(-1)?.text ?? '(start-up)';
  const row = (s: number[]) => {
    const [t = 0, rss = 0, anon = 0, file = 0, heapTotal = 0, heapUsed = 0, external = 0, buffers = 0] = s;
    return (
      `${((t - started) / 1000).toFixed(2).padStart(7)} s  RSS ${(rss / 1024).toFixed(1).padStart(6)} MB ` +
      `(anon ${(anon / 1024).toFixed(1)}, file ${(file / 1024).toFixed(1)})  heap ${(heapUsed / MB).toFixed(1)}/${(heapTotal / MB).toFixed(1)} MB  ` +
      `external ${(external / MB).toFixed(1)} MB (buffers ${(buffers / MB).toFixed(1)})  ${at(t).slice(0, 90)}`
    );
  };
  console.log(
    `\n${label}: exit ${code}, ${((Date.now() - started) / 1000).toFixed(1)} s, flags ${flags.join(' ')}`,
  );
  console.log(`peak  ${row(peak)}`);
  console.log(
    `      VmHWM at exit ${((samples.at(-1)?.[8] ?? 0) / 1024).toFixed(1)} MB (the benchmark's figure), CPU ${(samples.at(-1)?.[9] ?? 0).toFixed(2)} s`,
  );
  if (values.detail !== undefined) {
    const [from = 0, to = from + 1] = values.detail.split('-').map(Number);
    for (const s of samples) {
      const t = ((s[0] ?? 0) - started) / 1000;
      if (t >= from && t <= to) console.log(`      ${row(s)}`);
    }
    return;
  }
  // Coarse timeline: the highest sample of each twentieth of the run.
  const slices = 20;
  const span = (samples.at(-1)?.[0] ?? 0) - (samples[0]?.[0] ?? 0);
  for (let i = 0; i < slices; i++) {
    const from = (samples[0]?.[0] ?? 0) + (span * i) / slices;
    const inSlice = samples.filter((s) => (s[0] ?? 0) >= from && (s[0] ?? 0) < from + span / slices);
    if (inSlice.length > 0)
      console.log(`      ${row(inSlice.reduce((a, b) => ((b[1] ?? 0) > (a[1] ?? 0) ? b : a)))}`);
  }
}

/** A JSON log line's message, or the line. */
function message(line: string): string {
  try {
    return String((JSON.parse(line) as { message?: unknown }).message);
  } catch {
    return line;
  }
}
