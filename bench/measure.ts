/**
 * Runs a Node program in a child process and measures it on its own: wall time, peak RSS and CPU
 * seconds. The child reports its own peak RSS and CPU time on exit (a preloaded hook); should it die
 * before that, the /proc samples taken while it ran stand in.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

export interface ProcessMeasure {
  exitCode: number | null;
  /**
   * performance.now() of the spawn and of the exit, in this process's clock (the fake upstream's too).
   * The start is taken once spawn() has returned: the child exists and has exec'd node (SPAWN_NOTE).
   */
  startedAt: number;
  /** How long spawn() took: the fork of this process, the harness's cost, not the run's (SPAWN_NOTE). */
  spawnSeconds: number;
  endedAt: number;
  wallSeconds: number;
  peakRssBytes: number | undefined;
  cpuSeconds: number | undefined;
  /** How the figures were taken: by the child on exit (exact) or `/proc` (sampled every SAMPLE_MS). */
  source: 'exit hook' | '/proc' | 'none';
  /** The last lines of stdout and stderr, for a failure message. */
  outputTail: string;
}

/**
 * Why a run's time starts after spawn() returns, not before it. spawn() forks this process, and
 * this process holds the upstream's trees: 1.4 GB at real size. Copying its page tables, and
 * dropping them again at exec, took 62 ms a spawn there, against 1.6 ms for a parent of 45 MB
 * (`node -e 0` spawned seven times, medians; docs/benchmarks.md). The worker runs its scheduled
 * syncs in its own process (worker/schedule/worker.ts), and `openwrt-mirror sync` by hand starts
 * from a shell, so that cost is the benchmark's. What comes after exec (node's start-up, the
 * configuration, the state read) is the run's, and counted.
 */
export const SPAWN_NOTE =
  "a run's time starts once spawn() returns: the fork of the benchmark's own process, which holds the upstream's trees, is not the mirror's";

const SAMPLE_MS = 100;
const TAIL_LINES = 15;
/**
 * Written by the child itself on exit: getrusage for CPU, and the kernel's VmHWM for the peak RSS.
 * Not getrusage's maxRSS: Linux carries it across execve from the forked copy of the parent, so it
 * would report this process's own (tree-holding) RSS whenever that is the larger.
 */
const USAGE_HOOK =
  "data:text/javascript,import{readFileSync,writeFileSync}from'node:fs';" +
  "process.on('exit',()=>{try{const u=process.resourceUsage();let h;" +
  "try{h=Number(/^VmHWM:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status','utf8'))[1])}catch{}" +
  'writeFileSync(process.env.BENCH_USAGE_FILE,JSON.stringify({...u,vmHWM:h}))}catch{}})';

/**
 * How the worker image runs node, from Dockerfile.worker, the one place it is set: the flags of
 * `ENV NODE_OPTIONS`, the V8 flags node refuses there (on the command line of the `openwrt-mirror`
 * launcher the entrypoint runs), and glibc's malloc settings (`ENV GLIBC_TUNABLES`). The benchmark
 * measures the worker as it is shipped.
 */
export function workerRuntime(): { flags: string[]; env: Record<string, string> } {
  const dockerfile = readFileSync(new URL('../Dockerfile.worker', import.meta.url), 'utf8');
  const options = /NODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1];
  if (options === undefined) throw new Error('Dockerfile.worker sets no NODE_OPTIONS="…"');
  const launcher = /exec node ((?:--\S+ )*)\/app\/dist\/cli\.js/.exec(dockerfile);
  if (!launcher) throw new Error('Dockerfile.worker has no launcher `exec node … /app/dist/cli.js`');
  const tunables = /GLIBC_TUNABLES="([^"]*)"/.exec(dockerfile)?.[1];
  return {
    flags: `${options} ${launcher[1]}`.split(/\s+/).filter(Boolean),
    env: tunables === undefined ? {} : { GLIBC_TUNABLES: tunables },
  };
}

export async function runNodeMeasured(
  script: string,
  args: string[],
  /** `scratchDir`: where the child leaves its figures; once it is gone, so is anything written late. */
  options: { env: Record<string, string>; cwd: string; scratchDir: string },
): Promise<ProcessMeasure> {
  const usageFile = path.join(options.scratchDir, `usage-${Math.random().toString(36).slice(2)}.json`);
  const runtime = workerRuntime();
  const forkedAt = performance.now();
  const child = spawn(process.execPath, [...runtime.flags, '--import', USAGE_HOOK, script, ...args], {
    cwd: options.cwd,
    env: { ...runtime.env, ...options.env, BENCH_USAGE_FILE: usageFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const startedAt = performance.now();
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const tail = new OutputTail(TAIL_LINES);
  child.stdout.on('data', (chunk: Buffer) => tail.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => tail.push(chunk));

  const sampled = { peakRssBytes: 0, cpuSeconds: 0 };
  const sampler = setInterval(() => {
    if (child.pid !== undefined) void sampleProc(child.pid, sampled);
  }, SAMPLE_MS);
  const [exitCode] = await exited;
  const endedAt = performance.now();
  clearInterval(sampler);

  const usage = await readUsage(usageFile);
  const measure = {
    exitCode,
    startedAt,
    spawnSeconds: (startedAt - forkedAt) / 1000,
    endedAt,
    wallSeconds: (endedAt - startedAt) / 1000,
    outputTail: tail.text(),
  };
  if (usage) {
    return {
      ...measure,
      peakRssBytes: (usage.vmHWM ?? usage.maxRSS) * 1024,
      cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      source: 'exit hook',
    };
  }
  return sampled.peakRssBytes > 0
    ? { ...measure, ...sampled, source: '/proc' }
    : { ...measure, peakRssBytes: undefined, cpuSeconds: undefined, source: 'none' };
}

async function readUsage(file: string): Promise<(NodeJS.ResourceUsage & { vmHWM?: number }) | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as NodeJS.ResourceUsage & { vmHWM?: number };
  } catch {
    return undefined;
  } finally {
    await fs.rm(file, { force: true });
  }
}

/** VmHWM is the kernel's own peak RSS; utime + stime are fields 14 and 15 of stat, in clock ticks. */
async function sampleProc(pid: number, into: { peakRssBytes: number; cpuSeconds: number }): Promise<void> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (hwm?.[1]) into.peakRssBytes = Math.max(into.peakRssBytes, Number(hwm[1]) * 1024);
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; the fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    if (Number.isFinite(ticks)) into.cpuSeconds = Math.max(into.cpuSeconds, ticks / CLOCK_TICKS);
  } catch {
    // Gone between two samples: the last one stands.
  }
}

/** USER_HZ is 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

class OutputTail {
  #lines: string[] = [];
  #partial = '';
  constructor(private readonly keep: number) {}

  push(chunk: Buffer): void {
    const lines = (this.#partial + chunk.toString('utf8')).split('\n');
    this.#partial = lines.pop() ?? '';
    this.#lines.push(...lines);
    if (this.#lines.length > this.keep) this.#lines.splice(0, this.#lines.length - this.keep);
  }

  text(): string {
    return [...this.#lines, this.#partial].filter(Boolean).join('\n');
  }
}
