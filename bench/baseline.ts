/**
 * The seed script's algorithm, re-created as the baseline: for each file, sleep
 * RATE_LIMIT_DELAY = 1 / RATE_LIMIT, then download it, one at a time. It fetches the files the
 * mirror fetched in the same run, at the same politeness, with real `wget` when there is one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

export type BaselineFetcher = 'wget' | 'node';

export interface BaselineResult {
  fetcher: BaselineFetcher;
  files: number;
  failed: number;
  wallSeconds: number;
}

/** `wget` when it is on the PATH, else a Node loop doing what it does (one streaming GET to disk). */
export function defaultFetcher(): BaselineFetcher {
  return spawnSync('wget', ['--version'], { stdio: 'ignore' }).status === 0 ? 'wget' : 'node';
}

export async function runSequentialBaseline(options: {
  baseUrl: string;
  /** Upstream paths without the leading slash, in the order the mirror requested them. */
  paths: string[];
  rateLimit: number;
  destDir: string;
  fetcher: BaselineFetcher;
}): Promise<BaselineResult> {
  const delayMs = 1000 / options.rateLimit;
  const download = options.fetcher === 'wget' ? wget : nodeGet;
  let failed = 0;
  const startedAt = performance.now();
  for (const rel of options.paths) {
    const dest = path.join(options.destDir, rel);
    await fs.mkdir(path.dirname(dest), { recursive: true });
    await sleep(delayMs);
    if (!(await download(`${options.baseUrl}/${rel}`, dest))) failed++;
  }
  return {
    fetcher: options.fetcher,
    files: options.paths.length,
    failed,
    wallSeconds: (performance.now() - startedAt) / 1000,
  };
}

async function wget(url: string, dest: string): Promise<boolean> {
  const child = spawn('wget', ['-q', '-O', dest, url], { stdio: 'ignore' });
  return new Promise((resolve) => {
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

async function nodeGet(url: string, dest: string): Promise<boolean> {
  return new Promise((resolve) => {
    // A fresh connection per file, as a new wget process would open.
    const req = http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(false);
        return;
      }
      pipeline(res, createWriteStream(dest)).then(
        () => resolve(true),
        () => resolve(false),
      );
    });
    req.once('error', () => resolve(false));
  });
}
