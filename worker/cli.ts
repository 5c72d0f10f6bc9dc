#!/usr/bin/env node
/**
 * `openwrt-mirror <command>`: parse the arguments, run one command, and map what went wrong to an
 * exit code — 0 all good, 1 something failed (named in the output), 2 bad configuration or usage.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MIRROR_DIR, loadConfig } from './config.js';
import { AbortedError, ConfigError, UsageError, VerifyIncompleteError } from './errors.js';
import { createLogger, loggerOptions } from './log.js';
import { MirrorBusyError } from './publish/lock.js';

const USAGE = `usage: openwrt-mirror <command>

commands:
  sync                  one sync from the upstream; exit 0 all good, 1 something failed, 2 bad configuration
  worker                sync on start (SYNC_ON_START), then on SYNC_SCHEDULE, until SIGTERM
  status [--json]       what is mirrored, sizes, counts, last sync and its result, next run
  status --changes      the packages and images the last sync added, updated and removed
  verify                re-hash every served file against the published indexes; exit 1 on any mismatch,
                        3 when the check could not be completed
  distfeeds --url URL [--release R] [--target T]
                        print the feed lines a node of that set should use
  forget NAME [--release R]
                        drop a package that on demand added to the selection
  generations [--release R]
                        the kept generations of each release (KEEP_GENERATIONS), * the one served
  rollback [ID] [--release R]
                        serve a kept generation again (no ID: the one before the served one), pinned
  unpin [--release R]   let the syncs move a rolled-back release on again

Configuration comes from the environment; see README.md for every variable.`;

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  cwd: string;
}

export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    }
    const config = loadConfig(io.env, io.cwd);
    switch (command) {
      case 'sync': {
        const { syncCommand } = await import('./commands/sync.js');
        return await syncCommand(config);
      }
      case 'worker': {
        const { runWorker } = await import('./schedule/worker.js');
        return await runWorker(config, { logger: createLogger(loggerOptions(config)) });
      }
      case 'status': {
        const { statusCommand } = await import('./commands/status.js');
        return await statusCommand(config, {
          json: rest.includes('--json'),
          changes: rest.includes('--changes'),
          stdout: io.stdout,
        });
      }
      case 'verify': {
        const { verifyCommand } = await import('./commands/verify.js');
        return await verifyCommand(config, {
          stdout: io.stdout,
          logger: createLogger(loggerOptions(config)),
        });
      }
      case 'distfeeds': {
        const { distfeedsCommand } = await import('./commands/distfeeds.js');
        return await distfeedsCommand(config, {
          url: option(rest, '--url'),
          release: option(rest, '--release'),
          target: option(rest, '--target'),
          stdout: io.stdout,
        });
      }
      case 'generations':
      case 'rollback':
      case 'unpin': {
        const commands = await import('./commands/generations.js');
        const release = option(rest, '--release');
        const args = { stdout: io.stdout, release };
        if (command === 'generations') return await commands.generationsCommand(config, args);
        if (command === 'unpin') return await commands.unpinCommand(config, args);
        return await commands.rollbackCommand(config, { ...args, id: positional(rest, ['--release']) });
      }
      case 'forget': {
        const { forgetCommand } = await import('./commands/forget.js');
        return await forgetCommand(config, {
          name: positional(rest, ['--release']),
          release: option(rest, '--release'),
          stdout: io.stdout,
        });
      }
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (error) {
    if (command === 'worker' && error instanceof ConfigError) await recordConfigError(error, io);
    return reportError(error, io);
  }
}

/**
 * A worker that refuses its configuration exits 2 and is restarted, again and again: the line goes
 * into status.json too (`worker.configError`), where the page and /metrics show it, whenever
 * MIRROR_DIR can be written. Never throws: the line on stderr is said either way.
 */
async function recordConfigError(error: ConfigError, io: CliIo): Promise<void> {
  if (error.variable === 'MIRROR_DIR') return;
  try {
    const { MirrorDir } = await import('./publish/mirror-dir.js');
    const { recordWorker } = await import('./status/status-store.js');
    const dir = new MirrorDir(path.resolve(io.cwd, io.env.MIRROR_DIR?.trim() || DEFAULT_MIRROR_DIR));
    await dir.prepareRoot();
    await recordWorker(dir, io.env.UPSTREAM_URL?.trim() || 'https://downloads.openwrt.org', {
      configError: error.message,
      configErrorAt: new Date().toISOString(),
    });
  } catch {
    // MIRROR_DIR is not writable (or not a directory): stderr has the line.
  }
}

/** The first argument that is neither a flag nor the value of one of `flags`. */
function positional(args: string[], flags: string[]): string | undefined {
  return args.find((arg, i) => !arg.startsWith('--') && !flags.includes(args[i - 1] ?? ''));
}

function option(args: string[], name: string): string | undefined {
  const index = args.indexOf(name);
  if (index >= 0) {
    const value = args[index + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${name} needs a value`);
    return value;
  }
  const inline = args.find((arg) => arg.startsWith(`${name}=`));
  return inline?.slice(name.length + 1);
}

/** The one place errors become exit codes: 0 all good, 1 failed, 2 bad configuration or usage, 3 verify incomplete. */
function reportError(error: unknown, io: CliIo): number {
  if (error instanceof VerifyIncompleteError) {
    io.stderr.write(`openwrt-mirror: verify could not complete: ${error.message}\n`);
    return 3;
  }
  if (error instanceof ConfigError) {
    io.stderr.write(`openwrt-mirror: configuration error: ${error.message}\n`);
    return 2;
  }
  if (error instanceof UsageError) {
    io.stderr.write(`openwrt-mirror: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (error instanceof MirrorBusyError || error instanceof AbortedError) {
    io.stderr.write(`openwrt-mirror: ${error.message}\n`);
    return 1;
  }
  io.stderr.write(
    `openwrt-mirror: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  return 1;
}

function defaultIo(): CliIo {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() };
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`openwrt-mirror: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
