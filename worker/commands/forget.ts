/** `openwrt-mirror forget NAME [--release R]`: drop a package that on demand added to the selection. */
import type { Config } from '../config.js';
import { UsageError } from '../errors.js';
import { forgetPackage, readLearned } from '../publish/learned.js';
import { MirrorDir } from '../publish/mirror-dir.js';
import { recordLearned } from '../status/status-store.js';

export async function forgetCommand(
  config: Config,
  options: { name?: string; release?: string; stdout: NodeJS.WritableStream },
): Promise<number> {
  const { name, release } = options;
  if (!name) throw new UsageError('forget needs the name of a package, e.g. openwrt-mirror forget tcpdump');
  const dir = new MirrorDir(config.mirrorDir);
  const removed = await forgetPackage(dir, name, release);
  if (removed.length === 0) {
    const learned = await readLearned(dir);
    const names = [...new Set(learned.map((p) => p.name))].sort();
    throw new UsageError(
      `${name}${release ? ` (${release})` : ''} is not in the learned selection; ` +
        (names.length > 0 ? `it holds ${names.join(', ')}` : 'it is empty (nothing was fetched on demand)'),
    );
  }
  await recordLearned(dir);
  const releases = [...new Set(removed.map((p) => p.release))].join(', ');
  options.stdout.write(
    `forgot ${name} (${releases}): the next sync no longer keeps it, unless a list names it or a node asks for it again; ` +
      `its file stays served for PRUNE_GRACE_HOURS (${config.pruneGraceHours} h) after that sync\n`,
  );
  return 0;
}
