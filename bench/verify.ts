/**
 * `openwrt-mirror verify` over a synced tree beside `sha256sum` over the same files: the pool's, each
 * content once, which is what verify hashes (every served path is a hard link into the pool, and it
 * hashes each inode once). Both read from a warm page cache: one untimed run of each first, then
 * they alternate, `runs` times each. Verify's time is from spawn to exit, Node's start-up included.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { type ProcessMeasure, runNodeMeasured } from './measure.js';

export interface VerifyMeasure {
  /** Files and bytes in the pool: what both hash. */
  files: number;
  bytes: number;
  verify: ProcessMeasure[];
  /** Wall seconds of each timed `sha256sum` run. */
  sha256sum: number[];
}

export async function benchVerify(options: {
  cliPath: string;
  cwd: string;
  /** The mirror's configuration, as its sync had it. */
  env: Record<string, string>;
  mirrorDir: string;
  scratchDir: string;
  runs: number;
}): Promise<VerifyMeasure> {
  const pool = path.join(options.mirrorDir, '.mirror/pool');
  const files: string[] = [];
  let bytes = 0;
  for (const name of await fs.readdir(pool)) {
    const stat = await fs.lstat(path.join(pool, name));
    if (!stat.isFile()) continue;
    files.push(path.join(pool, name));
    bytes += stat.size;
  }
  const verify = () =>
    runNodeMeasured(options.cliPath, ['verify'], {
      env: options.env,
      cwd: options.cwd,
      scratchDir: options.scratchDir,
    });
  const result: VerifyMeasure = { files: files.length, bytes, verify: [], sha256sum: [] };
  // The warm-up: every file (and the generation's directories) read once by each.
  await sha256sum(files);
  const first = await verify();
  if (first.exitCode !== 0)
    throw new Error(`openwrt-mirror verify exited ${first.exitCode}:\n${first.outputTail}`);
  for (let run = 0; run < options.runs; run++) {
    result.sha256sum.push(await sha256sum(files));
    result.verify.push(await verify());
  }
  return result;
}

/** `sha256sum` over `files` (through xargs, as a command line would not hold them all), in seconds. */
async function sha256sum(files: string[]): Promise<number> {
  // Timed from the spawn's return, as verify is (SPAWN_NOTE in measure.ts).
  const child = spawn('xargs', ['-0', 'sha256sum'], { stdio: ['pipe', 'ignore', 'inherit'] });
  const started = performance.now();
  const exited = once(child, 'exit') as Promise<[number | null]>;
  child.stdin.end(files.join('\0'));
  const [code] = await exited;
  if (code !== 0) throw new Error(`xargs -0 sha256sum exited ${code}`);
  return (performance.now() - started) / 1000;
}
