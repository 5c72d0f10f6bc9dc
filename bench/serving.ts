/**
 * Serving: the same synced tree behind nginx (the project's template, test/helpers/nginx.ts) and
 * behind `python3 -m http.server` (what the seed served with), N clients fetching package files.
 *
 * The load comes from wrk (Debian) when it is there: a generator in Node is the bottleneck long
 * before nginx is (autocannon's JS parser tops out near 70 MB/s on incompressible bodies, Node's own
 * http client near 12k requests/s on 2 cores), which would understate the ratio.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, request, startNginx } from '../test/helpers/nginx.js';

export type LoadGenerator = 'wrk' | 'node';

export interface LoadResult {
  requestsPerSecond: number;
  bytesPerSecond: number;
  /** Socket errors, timeouts and non-2xx answers: a server that fails fast is not fast. */
  errors: number;
  latencyP99Ms: number;
}

export interface ServingOptions {
  mirrorDir: string;
  connections: number;
  seconds: number;
  generator: LoadGenerator;
}

const hasWrk = () => spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;

/**
 * wrk when it is installed; as root on Debian, installed with apt-get first (said so on stderr);
 * otherwise Node's http client, with a warning that nginx's figure is then a floor.
 */
export function chooseGenerator(log: (line: string) => void, install: boolean): LoadGenerator {
  if (hasWrk()) return 'wrk';
  if (install && process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0) {
    log('wrk (the serving load generator) is not installed: running apt-get install -y wrk');
    for (const args of [
      ['install', '-y', '-qq', 'wrk'],
      ['update', '-qq'],
      ['install', '-y', '-qq', 'wrk'],
    ]) {
      spawnSync('apt-get', args, {
        stdio: 'ignore',
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      });
      if (hasWrk()) return 'wrk';
    }
  }
  log(
    'wrk not available: serving is loaded by Node http clients instead, which saturate before nginx ' +
      'does, so the nginx figure is a floor (apt-get install wrk for the real one)',
  );
  return 'node';
}

/** Every ipk under releases/, as URL paths: what the nodes running `opkg install` ask for. */
export async function packageUrls(mirrorDir: string): Promise<string[]> {
  const urls: string[] = [];
  async function walk(rel: string): Promise<void> {
    for (const entry of await fs.readdir(path.join(mirrorDir, rel), { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      // releases/<version> is a symlink into the generation: follow it like the servers do.
      const stat = await fs.stat(path.join(mirrorDir, child));
      if (stat.isDirectory()) await walk(child);
      else if (entry.name.endsWith('.ipk') || entry.name.endsWith('.apk')) urls.push(`/${child}`);
    }
  }
  await walk('releases');
  if (urls.length === 0) throw new Error(`no package files under ${mirrorDir}/releases to serve`);
  return urls.sort();
}

/**
 * The servers compared: nginx with the project's template, bare or as the stack runs it (the JSON
 * access log of nginx/openwrt-mirror.d/ on); nginx with nothing but `location / { root …; }`.
 */
export type NginxVariant = 'template' | 'template + access log' | 'bare';

export async function loadNginx(
  options: ServingOptions,
  urls: string[],
  variant: NginxVariant = 'template',
): Promise<LoadResult> {
  const logDir =
    variant === 'template + access log'
      ? await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-bench-log-'))
      : undefined;
  const nginx = await startNginx({
    mirrorRoot: options.mirrorDir,
    ...(logDir && { accessLogDir: logDir }),
    ...(variant === 'bare' && { server: (listen: string) => bareServer(listen, options.mirrorDir) }),
  });
  try {
    return await load(nginx.url, urls, options);
  } finally {
    await nginx.stop();
    if (logDir) await fs.rm(logDir, { recursive: true, force: true });
  }
}

/** The least nginx can be told to serve a tree with: what the template is held against. */
function bareServer(listen: string, root: string): string {
  return `server {\n  listen ${listen};\n  location / {\n    root ${root};\n  }\n}\n`;
}

export async function loadPython(options: ServingOptions, urls: string[]): Promise<LoadResult> {
  const port = await freePort();
  const child = spawn(
    'python3',
    ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', options.mirrorDir],
    // It logs every request to stderr, as it did for the seed; to /dev/null here.
    { stdio: 'ignore' },
  );
  const exited = once(child, 'exit');
  try {
    await waitForHttp(`http://127.0.0.1:${port}${urls[0]}`, child);
    return await load(`http://127.0.0.1:${port}`, urls, options);
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  }
}

async function waitForHttp(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`python3 -m http.server exited with ${child.exitCode}`);
    const reply = await request(url).catch(() => undefined);
    if (reply?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`python3 -m http.server did not answer ${url} within 10 s`);
}

/** A one-second warm-up, then the measured run. */
async function load(baseUrl: string, urls: string[], options: ServingOptions): Promise<LoadResult> {
  const run = options.generator === 'wrk' ? wrk : nodeClients;
  await run(baseUrl, urls, options.connections, 1);
  return run(baseUrl, urls, options.connections, options.seconds);
}

/** Each wrk thread walks the URL list from its own offset; done() prints the totals as JSON. */
const WRK_SCRIPT = `
local paths = {}
local i = 0
local threads = 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = offset % #paths
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH {"requests":%d,"bytes":%d,"micros":%d,"errors":%d,"p99":%d}\\n',
    summary.requests, summary.bytes, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(99)))
end
`;

async function wrk(
  baseUrl: string,
  urls: string[],
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'openwrt-mirror-bench-wrk-'));
  try {
    const script = path.join(dir, 'urls.lua');
    const list = path.join(dir, 'urls.txt');
    await fs.writeFile(script, WRK_SCRIPT);
    await fs.writeFile(list, `${urls.join('\n')}\n`);
    const threads = Math.max(1, Math.min(os.availableParallelism(), connections));
    const child = spawn(
      'wrk',
      [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '-s', script, baseUrl, '--', list],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    const line = /^BENCH (.*)$/m.exec(output)?.[1];
    if (code !== 0 || !line) throw new Error(`wrk exited ${code}:\n${output}`);
    const r = JSON.parse(line) as {
      requests: number;
      bytes: number;
      micros: number;
      errors: number;
      p99: number;
    };
    const elapsed = r.micros / 1e6;
    return {
      requestsPerSecond: r.requests / elapsed,
      bytesPerSecond: r.bytes / elapsed,
      errors: r.errors,
      latencyP99Ms: r.p99 / 1000,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The fallback: `connections` keep-alive loops of Node's own http client over one shared URL round. */
async function nodeClients(
  baseUrl: string,
  urls: string[],
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  let next = 0;
  let bytes = 0;
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      const req = http.get(`${baseUrl}${urls[next++ % urls.length]}`, { agent }, (res) => {
        if (res.statusCode !== 200) errors++;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.once('end', () => {
          latencies.push(performance.now() - sent);
          resolve();
        });
        res.once('error', () => {
          errors++;
          resolve();
        });
      });
      req.once('error', () => {
        errors++;
        resolve();
      });
    });
  const client = async () => {
    while (performance.now() < deadline) await one();
  };
  await Promise.all(Array.from({ length: connections }, client));
  agent.destroy();
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    requestsPerSecond: latencies.length / elapsed,
    bytesPerSecond: bytes / elapsed,
    errors,
    latencyP99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}
