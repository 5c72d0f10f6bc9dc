/**
 * The real command line in a child process (`node --import tsx worker/cli.ts …`, or a built
 * `cli.js`), with an environment of only what the test gives it, its output collected and its end
 * awaitable.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited, with when that was (Date.now()). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** `built`: the path of a built dist/cli.js to run instead of the sources. */
export function spawnCli(args: string[], env: Record<string, string>, built?: string): CliRun {
  const entry = built === undefined ? ['--import', 'tsx', 'worker/cli.ts'] : [built];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: REPO_ROOT,
    // Nothing from the test runner's environment leaks into the configuration.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => {
      child.once('exit', (code, signal) => {
        const at = Date.now();
        // 'close' follows once the pipes are drained.
        child.once('close', () => resolve({ code, signal, at }));
      });
    },
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs a command to its end. */
export async function runCli(
  args: string[],
  env: Record<string, string>,
  built?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = spawnCli(args, env, built);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** Polls `check` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
